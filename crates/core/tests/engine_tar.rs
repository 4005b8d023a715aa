//! The push-based tar parser against archives written by the `tar` crate.

mod engine_common;

use engine_common::LayerBuilder;
use layerscope_core::engine::tar::{
    EntryKind, TarEntry, TarErrorKind, TarEvent, TarParser, MAX_EXTENSION_SIZE,
};

/// Everything the parser reports, with content gathered per entry.
#[derive(Debug, PartialEq)]
struct Parsed {
    entries: Vec<(TarEntry, Vec<u8>)>,
    end_marker: bool,
}

fn parse_in_chunks(
    data: &[u8],
    chunk: usize,
) -> Result<Parsed, layerscope_core::engine::tar::TarError> {
    let mut parser = TarParser::new();
    let mut entries: Vec<(TarEntry, Vec<u8>)> = Vec::new();
    let mut ended = 0;
    for piece in data.chunks(chunk.max(1)) {
        parser.push(piece, |event| match event {
            TarEvent::Entry(e) => entries.push((e, Vec::new())),
            TarEvent::Data(d) => entries.last_mut().unwrap().1.extend_from_slice(d),
            TarEvent::EntryEnd => ended += 1,
        })?;
    }
    let end = parser.finish()?;
    assert_eq!(ended, entries.len(), "one EntryEnd per entry");
    assert_eq!(end.entries as usize, entries.len());
    Ok(Parsed {
        entries,
        end_marker: end.end_marker_seen,
    })
}

fn sample_archive() -> Vec<u8> {
    let long_name = format!("deep/{}/file.txt", "d".repeat(300));
    let mut b = LayerBuilder::new();
    b.dir("etc/")
        .file("etc/hostname", b"layerscope\n")
        .file_mode("bin/tool", &vec![7u8; 5000], 0o4755)
        .symlink("bin/sh", "busybox")
        .hardlink("bin/tool2", "bin/tool")
        .fifo("run/pipe")
        .char_device("dev/null")
        .file_bytes(b"latin1-\xe9t\xe9.txt", b"caf\xe9", 0o600)
        .file(&long_name, b"gnu long name")
        .pax_file(
            format!("pax/{}", "p".repeat(280)).as_bytes(),
            b"pax long name",
        );
    b.finish()
}

#[test]
fn decodes_every_kind_and_extension() {
    let data = sample_archive();
    let parsed = parse_in_chunks(&data, 1 << 20).unwrap();
    assert!(parsed.end_marker);
    let kinds: Vec<(String, EntryKind)> = parsed
        .entries
        .iter()
        .map(|(e, _)| (e.path_lossy(), e.kind))
        .collect();
    let long_name = format!("deep/{}/file.txt", "d".repeat(300));
    let pax_name = format!("pax/{}", "p".repeat(280));
    assert_eq!(
        kinds,
        vec![
            ("etc/".to_string(), EntryKind::Directory),
            ("etc/hostname".into(), EntryKind::File),
            ("bin/tool".into(), EntryKind::File),
            ("bin/sh".into(), EntryKind::Symlink),
            ("bin/tool2".into(), EntryKind::HardLink),
            ("run/pipe".into(), EntryKind::Fifo),
            ("dev/null".into(), EntryKind::CharDevice),
            ("latin1-\u{fffd}t\u{fffd}.txt".into(), EntryKind::File),
            (long_name.clone(), EntryKind::File),
            (pax_name.clone(), EntryKind::File),
        ]
    );
    let by_path = |p: &[u8]| parsed.entries.iter().find(|(e, _)| e.path == p).unwrap();
    let (tool, content) = by_path(b"bin/tool");
    assert_eq!(
        (tool.mode, tool.size, tool.mtime),
        (0o4755, 5000, 1_700_000_000)
    );
    assert_eq!(content, &vec![7u8; 5000]);
    assert_eq!(
        by_path(b"bin/sh").0.link_target.as_deref(),
        Some(&b"busybox"[..])
    );
    assert_eq!(
        by_path(b"bin/tool2").0.link_target.as_deref(),
        Some(&b"bin/tool"[..])
    );
    // Non-UTF-8 names keep their exact bytes.
    let (latin, content) = by_path(b"latin1-\xe9t\xe9.txt");
    assert_eq!(content, b"caf\xe9");
    assert_eq!(latin.mode, 0o600);
    assert_eq!(by_path(long_name.as_bytes()).1, b"gnu long name");
    assert!(pax_name.len() > 255);
    assert_eq!(by_path(pax_name.as_bytes()).1, b"pax long name");
}

#[test]
fn chunk_size_does_not_matter() {
    let data = sample_archive();
    let whole = parse_in_chunks(&data, data.len()).unwrap();
    for chunk in [1, 7, 511, 512, 513, 4096] {
        assert_eq!(
            parse_in_chunks(&data, chunk).unwrap(),
            whole,
            "chunk size {chunk}"
        );
    }
}

#[test]
fn pax_records_override_header_fields() {
    let mut b = LayerBuilder::new();
    b.pax(&[
        ("uid", b"123456789"),
        ("gid", b"42"),
        ("mtime", b"1700000123.75"),
        ("linkpath", b"t".repeat(200).as_slice()),
    ]);
    b.symlink("link", "short");
    let data = b.finish();
    let parsed = parse_in_chunks(&data, 100).unwrap();
    let (e, _) = &parsed.entries[0];
    assert_eq!((e.uid, e.gid, e.mtime), (123_456_789, 42, 1_700_000_123));
    assert_eq!(e.link_target.as_deref(), Some("t".repeat(200).as_bytes()));
}

#[test]
fn global_pax_headers_are_skipped_as_docker_skips_them() {
    let mut data = Vec::new();
    // A 'g' header by hand: tar::Builder has no global-header helper.
    let record = b"12 uid=4242\n21 path=renamed-path\n";
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XGlobalHeader);
    h.set_size(record.len() as u64);
    h.set_path("pax_global_header").unwrap();
    h.set_mode(0o644);
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, &record[..]).unwrap();
    for name in ["a", "b"] {
        let mut f = tar::Header::new_ustar();
        f.set_size(1);
        f.set_mode(0o644);
        f.set_uid(1);
        f.set_path(name).unwrap();
        f.set_cksum();
        b.append(&f, &b"x"[..]).unwrap();
    }
    data.extend(b.into_inner().unwrap());
    let parsed = parse_in_chunks(&data, 3).unwrap();
    // Go's archive/tar, which docker extracts with, applies no global record.
    let uids: Vec<u64> = parsed.entries.iter().map(|(e, _)| e.uid).collect();
    assert_eq!(uids, vec![1, 1]);
    let names: Vec<String> = parsed.entries.iter().map(|(e, _)| e.path_lossy()).collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn bad_checksum_names_the_offset() {
    let mut data = sample_archive();
    // The second header starts at 512 (the directory has no content).
    data[512 + 10] ^= 0x55;
    let err = parse_in_chunks(&data, 64).unwrap_err();
    assert_eq!(err.offset, 512);
    assert!(
        matches!(err.kind, TarErrorKind::BadChecksum { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("offset 512"), "{err}");
}

#[test]
fn truncation_is_an_error_naming_the_offset() {
    let data = sample_archive();
    // Cut inside bin/tool's content (header at 1536, content from 2048).
    let cut = 2048 + 100;
    let err = parse_in_chunks(&data[..cut], 1000).unwrap_err();
    assert_eq!(err.offset, cut as u64);
    let msg = err.to_string();
    assert!(
        msg.contains("truncated") && msg.contains("bin/tool") && msg.contains("2148"),
        "{msg}"
    );
    // Cut inside a header block.
    let err = parse_in_chunks(&data[..1536 + 200], 1000).unwrap_err();
    assert!(matches!(err.kind, TarErrorKind::Truncated { .. }), "{err}");
    assert_eq!(err.offset, 1736);
    // Empty input.
    assert!(matches!(
        parse_in_chunks(&[], 1).unwrap_err().kind,
        TarErrorKind::Empty
    ));
}

#[test]
fn zero_padding_after_the_end_is_fine_but_garbage_is_not() {
    let mut data = sample_archive();
    let end = data.len();
    data.extend(std::iter::repeat_n(0, 10240));
    assert!(parse_in_chunks(&data, 999).unwrap().end_marker);
    data[end + 777] = b'x';
    let err = parse_in_chunks(&data, 999).unwrap_err();
    assert_eq!(err.kind, TarErrorKind::TrailingGarbage);
    assert_eq!(err.offset, (end + 777) as u64);
}

#[test]
fn a_missing_end_marker_is_reported_not_fatal() {
    let data = sample_archive();
    // Drop the two zero blocks and the record padding.
    let parsed_full = parse_in_chunks(&data, 4096).unwrap();
    let last = &parsed_full.entries.last().unwrap().0;
    let stop = last.header_offset as usize + 512 + 512;
    let parsed = parse_in_chunks(&data[..stop], 4096).unwrap();
    assert!(!parsed.end_marker);
    assert_eq!(parsed.entries.len(), parsed_full.entries.len());
}

#[test]
fn oversized_extension_records_are_refused() {
    let big = vec![b'a'; MAX_EXTENSION_SIZE as usize + 10];
    let mut b = LayerBuilder::new();
    b.pax(&[("comment", &big)]).file("x", b"");
    let err = parse_in_chunks(&b.finish(), 1 << 16).unwrap_err();
    assert!(
        matches!(err.kind, TarErrorKind::ExtensionTooLarge { .. }),
        "{err}"
    );
    assert_eq!(err.offset, 0);
}

#[test]
fn gnu_sparse_files_are_reported_as_such() {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_path("sparse.img").unwrap();
    h.set_mode(0o644);
    h.set_size(512);
    {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.set_real_size(1 << 20);
        gnu.sparse[0].offset.copy_from_slice(b"00000000000\0");
        gnu.sparse[0].numbytes.copy_from_slice(b"00000001000\0");
    }
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, &[9u8; 512][..]).unwrap();
    let mut after = tar::Header::new_gnu();
    after.set_size(1);
    after.set_mode(0o644);
    b.append_data(&mut after, "after", &b"z"[..]).unwrap();
    let parsed = parse_in_chunks(&b.into_inner().unwrap(), 77).unwrap();
    let (sparse, content) = &parsed.entries[0];
    assert_eq!(sparse.kind, EntryKind::GnuSparse);
    assert_eq!(sparse.size, 1 << 20);
    assert_eq!(content.len(), 512);
    assert_eq!(parsed.entries[1].0.path, b"after");
    assert_eq!(parsed.entries[1].1, b"z");
}

#[test]
fn garbage_instead_of_a_header_is_a_checksum_error() {
    let mut data = LayerBuilder::new().file("a", b"1").clone_finish();
    data.splice(1024..1024, std::iter::repeat_n(b'G', 512));
    let err = parse_in_chunks(&data, 512).unwrap_err();
    assert_eq!(err.offset, 1024);
    assert!(matches!(err.kind, TarErrorKind::BadChecksum { .. }));
}

trait CloneFinish {
    fn clone_finish(&mut self) -> Vec<u8>;
}

impl CloneFinish for LayerBuilder {
    fn clone_finish(&mut self) -> Vec<u8> {
        std::mem::take(self).finish()
    }
}

#[test]
fn pax_format_sparse_files_are_reported_as_sparse() {
    let mut b = LayerBuilder::new();
    b.pax(&[
        ("GNU.sparse.major", b"1"),
        ("GNU.sparse.minor", b"0"),
        ("GNU.sparse.name", b"var/lib/sparse.db"),
        ("GNU.sparse.realsize", b"10485760"),
    ]);
    b.file("GNUSparseFile.0/sparse.db", &[5u8; 1024]);
    b.file("next", b"n");
    let parsed = parse_in_chunks(&b.finish(), 300).unwrap();
    let (sparse, content) = &parsed.entries[0];
    assert_eq!(sparse.kind, EntryKind::GnuSparse);
    assert_eq!(sparse.path, b"var/lib/sparse.db");
    assert_eq!(sparse.size, 10_485_760);
    assert_eq!(
        content.len(),
        1024,
        "the stored map and data are the content"
    );
    assert_eq!(
        (
            parsed.entries[1].0.path.as_slice(),
            parsed.entries[1].1.as_slice()
        ),
        (&b"next"[..], &b"n"[..])
    );
}

/// A tar of one PAX header holding `records`, then a one-byte file `name` it applies to.
fn with_pax(records: &[u8], name: &str) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(records.len() as u64);
    h.set_path("PaxHeaders/x").unwrap();
    h.set_mode(0o644);
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, records).unwrap();
    let mut f = tar::Header::new_ustar();
    f.set_size(1);
    f.set_mode(0o644);
    f.set_path(name).unwrap();
    f.set_cksum();
    b.append(&f, &b"x"[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn a_pax_path_with_a_newline_is_kept_whole() {
    // Records are framed by their length, so the newline inside the value is the value's.
    let data = with_pax(b"22 path=line1\nline2/x\n", "line1");
    let parsed = parse_in_chunks(&data, 5).unwrap();
    assert_eq!(&parsed.entries[0].0.path[..], b"line1\nline2/x");
    // A record whose length runs past the header's data is refused, naming the offset.
    let err = parse_in_chunks(&with_pax(b"99 path=x\n", "a"), 512).unwrap_err();
    assert!(matches!(err.kind, TarErrorKind::BadPax { .. }), "{err}");
    assert!(err.to_string().contains("byte offset 0"), "{err}");
}

#[test]
fn names_past_the_path_limits_are_refused_naming_the_option() {
    use layerscope_core::limits::{Limit, Limits};
    let deep = format!("{}f", "d/".repeat(20));
    let record = format!(" path={deep}\n");
    // Two digits of length, then the record from its space on.
    let record = format!("{}{record}", record.len() + 2);
    let data = with_pax(record.as_bytes(), "short");
    let parse = |limits: Limits| {
        let mut parser = TarParser::new().with_limits(&limits);
        parser
            .push(&data, |_| {})
            .and_then(|()| parser.finish().map(|_| ()))
    };
    let shallow = Limits {
        max_path_depth: 10,
        ..Limits::DEFAULT
    };
    let err = parse(shallow).unwrap_err();
    let TarErrorKind::Limit(exceeded) = &err.kind else {
        panic!("{err}");
    };
    assert_eq!(
        (exceeded.limit, exceeded.value, exceeded.max),
        (Limit::PathDepth, 21, 10)
    );
    assert!(
        err.to_string()
            .contains("21 path components, over the limit of 10"),
        "{err}"
    );
    assert_eq!(layerscope_core::limits::exceeded_in(&err), Some(exceeded));
    let short = Limits {
        max_path_bytes: 16,
        ..Limits::DEFAULT
    };
    let err = parse(short).unwrap_err();
    assert!(
        err.to_string().contains("path bytes, over the limit of 16"),
        "{err}"
    );
    parse(Limits::DEFAULT).unwrap();
}
