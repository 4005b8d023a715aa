//! A file's bytes out of a layer of an analysed archive: every member of every layer of
//! dive's test image against the tar crate's reading of it, a few against `tar -xO`, plain
//! and gzip- or zstd-compressed outer archives, links, limits, and broken inputs.

mod archive_support;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::Command;

use archive_support::*;
use layerscope_core::archive::{
    ArchiveError, ArchiveReader, FetchError, FetchStep, FileFetch, LayerLocation, Step,
};
use layerscope_core::engine::extract::{symlink_destination, Extraction};
use layerscope_core::engine::tar::normalize_path;

/// Runs the reader over `path` to the end and keeps it, for its layer locations.
fn analysed(path: &Path) -> ArchiveReader {
    let mut file = File::open(path).unwrap();
    let mut reader = ArchiveReader::new(file.metadata().unwrap().len());
    loop {
        match reader.next_step() {
            Step::Read { offset, len } => {
                let bytes = read_at(&mut file, offset, len);
                reader.supply(offset, &bytes).unwrap();
            }
            Step::Done(_) => return reader,
            Step::Failed(error) => panic!("{}: {error}", path.display()),
            _ => {}
        }
    }
}

fn read_at(file: &mut File, offset: u64, len: u64) -> Vec<u8> {
    let mut buffer = vec![0; len as usize];
    file.seek(SeekFrom::Start(offset)).unwrap();
    let mut got = 0;
    while got < buffer.len() {
        let n = file.read(&mut buffer[got..]).unwrap();
        if n == 0 {
            break;
        }
        got += n;
    }
    buffer.truncate(got);
    buffer
}

/// What one fetch gave, and what it cost.
struct Fetched {
    outcome: Result<Extraction, FetchError>,
    content: Vec<u8>,
    archive_bytes_read: u64,
}

/// Drives a fetch over the archive file, answering each read with at most `chunk` bytes.
fn fetch(archive: &Path, location: &LayerLocation, path: &str, max: u64, chunk: u64) -> Fetched {
    let mut file = File::open(archive).unwrap();
    let mut fetch = FileFetch::new(location, path.as_bytes(), max);
    let mut content = Vec::new();
    let mut archive_bytes_read = 0;
    for _ in 0..1_000_000 {
        match fetch.next_step() {
            FetchStep::Read { offset, len } => {
                let bytes = read_at(&mut file, offset, len.min(chunk));
                archive_bytes_read += bytes.len() as u64;
                let _ = fetch.supply(offset, &bytes, &mut |piece| {
                    content.extend_from_slice(piece)
                });
            }
            FetchStep::Done(outcome) => {
                assert_eq!(fetch.progress().archive_bytes_read, archive_bytes_read);
                return Fetched {
                    outcome: Ok(outcome),
                    content,
                    archive_bytes_read,
                };
            }
            FetchStep::Failed(error) => {
                return Fetched {
                    outcome: Err(error),
                    content,
                    archive_bytes_read,
                }
            }
        }
    }
    panic!("the fetch never finished");
}

/// One member of a layer as the tar crate reads it.
#[derive(Debug)]
struct Member {
    path: String,
    kind: tar::EntryType,
    content: Vec<u8>,
    link: Option<String>,
}

fn members_of(layer: &[u8]) -> Vec<Member> {
    let mut archive = tar::Archive::new(layer);
    let mut members = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        let kind = entry.header().entry_type();
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8(l.into_owned()).unwrap());
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        members.push(Member {
            path,
            kind,
            content,
            link,
        });
    }
    members
}

fn range_bytes(archive: &Path, location: &LayerLocation) -> Vec<u8> {
    let LayerLocation::Range { offset, len, .. } = location else {
        panic!("{location:?} is not a range");
    };
    read_at(&mut File::open(archive).unwrap(), *offset, *len)
}

/// Checks one member's fetch against what the tar crate read.
fn check_member(archive: &Path, location: &LayerLocation, member: &Member) {
    let got = fetch(archive, location, &member.path, u64::MAX, 65_536);
    let outcome = got
        .outcome
        .unwrap_or_else(|e| panic!("{}: {e}", member.path));
    let clean = normalize_path(&member.path);
    let name = clean.rsplit('/').next().unwrap_or_default();
    match member.kind {
        // The root (`./`) is no file one opens, and a whiteout is a deletion marker.
        _ if clean.is_empty() || name.starts_with(".wh.") => {
            assert_eq!(outcome, Extraction::NotFound, "{}", member.path)
        }
        tar::EntryType::Regular => {
            assert!(
                matches!(&outcome, Extraction::File { delivered, .. } if *delivered == member.content.len() as u64),
                "{}: {outcome:?}",
                member.path
            );
            assert_eq!(got.content, member.content, "{}", member.path);
        }
        tar::EntryType::Link => {
            let source = normalize_path(member.link.as_deref().unwrap());
            assert!(
                matches!(&outcome, Extraction::HardLink { source: s, .. } if *s == source.as_bytes()),
                "{}: {outcome:?}",
                member.path
            );
            assert!(got.content.is_empty());
        }
        tar::EntryType::Directory => {
            assert!(
                matches!(&outcome, Extraction::NotRegular { entry } if entry.kind.ls_char() == 'd'),
                "{}: {outcome:?}",
                member.path
            );
        }
        other => panic!("{}: unexpected type {other:?} in the fixture", member.path),
    }
}

#[test]
fn every_member_of_every_layer_of_dives_image_comes_out_as_the_tar_crate_reads_it() {
    let archive = peer("dive/.data/test-docker-image.tar");
    let reader = analysed(&archive);
    let locations = reader.layer_locations().unwrap();
    assert_eq!(locations.len(), 14);
    let mut checked = 0;
    for location in &locations {
        assert!(location.member().ends_with("/layer.tar"), "{location:?}");
        let layer = range_bytes(&archive, location);
        assert_eq!(layer.len() as u64, location.len());
        for member in members_of(&layer) {
            check_member(&archive, location, &member);
            checked += 1;
        }
    }
    // 415 members in the busybox layer alone.
    assert!(checked > 430, "{checked} members checked");
}

#[test]
fn files_match_tar_x_o_on_the_extracted_layer() {
    let archive = peer("dive/.data/test-docker-image.tar");
    let reader = analysed(&archive);
    let scratch = TempDir::new("fetch-tar");
    let locations = reader.layer_locations().unwrap();
    let layers: Vec<Vec<Member>> = locations
        .iter()
        .map(|l| members_of(&range_bytes(&archive, l)))
        .collect();
    let cases = [
        "bin/getconf",
        "etc/passwd",
        "bin/[",
        "root/saved.txt",
        "root/.data/test.sh",
        "somefile.txt",
    ];
    for path in cases {
        // The topmost layer holding it, as the merged tree would point to.
        let layer = layers
            .iter()
            .rposition(|members| members.iter().any(|m| m.path == path))
            .unwrap_or_else(|| panic!("{path} is in no layer"));
        let location = &locations[layer];
        let layer_file = scratch.path().join(format!("layer{layer}.tar"));
        std::fs::write(&layer_file, range_bytes(&archive, location)).unwrap();
        let output = Command::new("tar")
            .arg("-xOf")
            .arg(&layer_file)
            .arg(path)
            .output()
            .unwrap();
        assert!(output.status.success(), "tar -xO {path} failed");
        assert!(!output.stdout.is_empty(), "{path}");
        let got = fetch(&archive, location, path, u64::MAX, 1 << 20);
        assert!(matches!(got.outcome, Ok(Extraction::File { .. })), "{path}");
        assert_eq!(got.content, output.stdout, "layer {layer} {path}");
    }
}

#[test]
fn a_preview_stops_reading_at_its_limit() {
    let archive = peer("dive/.data/test-docker-image.tar");
    let reader = analysed(&archive);
    let location = reader.layer_location(0).unwrap();
    let whole = fetch(&archive, &location, "bin/[", u64::MAX, 65_536);
    assert_eq!(whole.content.len(), 1_075_464);
    // The first 4 KiB of the busybox binary come from the first of the layer's 21 reads.
    let preview = fetch(&archive, &location, "bin/[", 4096, 65_536);
    let outcome = preview.outcome.unwrap();
    assert!(outcome.is_truncated(), "{outcome:?}");
    assert_eq!(preview.content, whole.content[..4096]);
    assert!(
        preview.archive_bytes_read <= 65_536,
        "{}",
        preview.archive_bytes_read
    );
    // A path the layer lacks costs the whole layer, and says so.
    let missing = fetch(&archive, &location, "etc/motd", u64::MAX, 65_536);
    assert_eq!(missing.outcome.unwrap(), Extraction::NotFound);
    assert_eq!(missing.archive_bytes_read, location.len());
}

#[test]
fn a_hard_link_names_its_source_which_then_comes_out() {
    let archive = peer("dive/.data/test-docker-image.tar");
    let reader = analysed(&archive);
    let location = reader.layer_location(0).unwrap();
    let link = fetch(&archive, &location, "/bin/ls", u64::MAX, 1 << 20);
    let Ok(Extraction::HardLink { source, entry }) = link.outcome else {
        panic!("bin/ls is a hard link in busybox's layer");
    };
    assert_eq!(entry.path, b"bin/ls");
    assert_eq!(source, b"bin/[");
    let target = fetch(
        &archive,
        &location,
        std::str::from_utf8(&source).unwrap(),
        u64::MAX,
        1 << 20,
    );
    assert_eq!(target.content.len(), 1_075_464);
}

fn compress(tool: &str, source: &Path, target: &Path) {
    let output = Command::new(tool).arg("-c").arg(source).output().unwrap();
    assert!(output.status.success(), "{tool} failed");
    std::fs::write(target, output.stdout).unwrap();
}

#[test]
fn compressed_outer_archives_give_the_same_bytes_by_decompressing_again() {
    let original = peer("dive/.data/test-docker-image.tar");
    let plain = analysed(&original).layer_locations().unwrap();
    let scratch = TempDir::new("fetch-outer");
    for (tool, name) in [("gzip", "image.tar.gz"), ("zstd", "image.tar.zst")] {
        let compressed = scratch.path().join(name);
        compress(tool, &original, &compressed);
        let total = std::fs::metadata(&compressed).unwrap().len();
        let locations = analysed(&compressed).layer_locations().unwrap();
        assert_eq!(locations.len(), plain.len());
        for (location, plain_location) in locations.iter().zip(&plain) {
            let LayerLocation::Compressed {
                member,
                compression,
                offset,
                len,
            } = location
            else {
                panic!("{tool}: {location:?}");
            };
            assert_eq!(compression.name(), tool);
            // The decompressed archive is the plain one: same members at the same offsets.
            assert_eq!(
                plain_location,
                &LayerLocation::Range {
                    member: member.clone(),
                    offset: *offset,
                    len: *len
                }
            );
        }
        for (layer, path) in [(0, "bin/getconf"), (13, "root/saved.txt"), (0, "bin/[[")] {
            let expected = fetch(&original, &plain[layer], path, u64::MAX, 1 << 20);
            let got = fetch(&compressed, &locations[layer], path, u64::MAX, 65_536);
            assert_eq!(got.content, expected.content, "{tool} {path}");
            assert_eq!(
                got.outcome.unwrap(),
                expected.outcome.unwrap(),
                "{tool} {path}"
            );
        }
        // The busybox layer is the archive's second member and its binary the layer's
        // first file: with gzip a preview of it needs the first compressed read only. (The
        // zstd decoder hands out bytes only once they leave the frame's window, which for
        // this small archive is all of it.)
        let early = fetch(&compressed, &locations[0], "bin/[", 4096, 65_536);
        assert_eq!(early.content.len(), 4096);
        if tool == "gzip" {
            assert!(
                early.archive_bytes_read <= 65_536 && early.archive_bytes_read < total,
                "{tool}: read {} of {total}",
                early.archive_bytes_read
            );
        }
    }
}

#[test]
fn layers_compressed_inside_a_compressed_archive_come_out() {
    let scratch = TempDir::new("fetch-double");
    for (fixture, layer_flag) in [
        ("dive/.data/test-oci-gzip-image.tar", "-z"),
        ("dive/.data/test-oci-zstd-image.tar", "--zstd"),
        ("dive/.data/test-oci-estargz-image.tar", "-z"),
    ] {
        let original = peer(fixture);
        let location = analysed(&original).layer_location(0).unwrap();
        let layer_file = scratch.path().join("layer");
        std::fs::write(&layer_file, range_bytes(&original, &location)).unwrap();
        let listing = Command::new("tar")
            .arg(layer_flag)
            .arg("-tf")
            .arg(&layer_file)
            .output()
            .unwrap();
        assert!(listing.status.success(), "{fixture}");
        let listing = String::from_utf8(listing.stdout).unwrap();
        let compressed = scratch.path().join("image.tar.zst");
        compress("zstd", &original, &compressed);
        let outer = analysed(&compressed).layer_location(0).unwrap();
        let mut files = 0;
        for path in listing.lines().filter(|p| !p.ends_with('/')) {
            let expected = Command::new("tar")
                .arg(layer_flag)
                .arg("-xOf")
                .arg(&layer_file)
                .arg(path)
                .output()
                .unwrap();
            let got = fetch(&compressed, &outer, path, u64::MAX, 4096);
            match got.outcome.unwrap() {
                Extraction::File { .. } => {
                    assert_eq!(got.content, expected.stdout, "{fixture} {path}");
                    files += 1;
                }
                other => assert!(expected.stdout.is_empty(), "{fixture} {path}: {other:?}"),
            }
        }
        assert!(files > 0, "{fixture}: no file checked");
    }
}

#[test]
fn a_symlinked_layer_member_is_read_at_its_target() {
    let archive = peer("go-containerregistry/pkg/v1/tarball/testdata/test_link.tar");
    let reader = analysed(&archive);
    let location = reader.layer_location(0).unwrap();
    // The manifest names a symlink; the location is the member holding the bytes.
    let layer = range_bytes(&archive, &location);
    let members = members_of(&layer);
    assert!(!members.is_empty());
    for member in &members {
        check_member(&archive, &location, member);
    }
}

#[test]
fn symlinks_are_reported_with_their_target() {
    let scratch = TempDir::new("fetch-symlink");
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    builder
        .append_link(&mut header, "usr/bin/sh", "../../bin/busybox")
        .unwrap();
    let layer = builder.into_inner().unwrap();
    let archive_path = scratch.path().join("layer.tar");
    std::fs::write(&archive_path, &layer).unwrap();
    let location = LayerLocation::Range {
        member: "layer.tar".into(),
        offset: 0,
        len: layer.len() as u64,
    };
    let got = fetch(&archive_path, &location, "usr/bin/sh", u64::MAX, 100);
    let Ok(Extraction::Symlink { target, entry }) = got.outcome else {
        panic!("not a symlink: {:?}", got.outcome);
    };
    assert_eq!(target, b"../../bin/busybox");
    assert_eq!(symlink_destination(&entry.path, &target), b"bin/busybox");
}

#[test]
fn a_cut_archive_and_misplaced_reads_are_errors_with_their_cause() {
    let original = peer("dive/.data/test-docker-image.tar");
    let location = analysed(&original).layer_location(0).unwrap();
    let LayerLocation::Range { offset, .. } = location else {
        panic!("{location:?}");
    };
    let scratch = TempDir::new("fetch-cut");
    let cut = scratch.path().join("cut.tar");
    let bytes = std::fs::read(&original).unwrap();
    std::fs::write(&cut, &bytes[..(offset + 600_000) as usize]).unwrap();
    let got = fetch(&cut, &location, "etc/passwd", u64::MAX, 65_536);
    let error = got.outcome.unwrap_err();
    assert!(
        matches!(error, FetchError::Archive(ArchiveError::Truncated { .. })),
        "{error}"
    );

    let mut fetch = FileFetch::new(&location, b"etc/passwd", u64::MAX);
    let FetchStep::Read { offset: asked, .. } = fetch.next_step() else {
        panic!("a fetch starts with a read");
    };
    let error = fetch.supply(asked + 1, b"x", &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("asked for offset"), "{error}");
    assert!(matches!(fetch.next_step(), FetchStep::Failed(_)));
}

#[test]
fn a_layer_that_is_not_a_tar_is_named_in_the_error() {
    let scratch = TempDir::new("fetch-garbage");
    let path = scratch.path().join("garbage");
    std::fs::write(&path, vec![0x55u8; 4096]).unwrap();
    let location = LayerLocation::Range {
        member: "blobs/sha256/feed".into(),
        offset: 0,
        len: 4096,
    };
    let error = fetch(&path, &location, "etc/passwd", u64::MAX, 4096)
        .outcome
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("blobs/sha256/feed: layer tar:"),
        "{message}"
    );
    assert!(message.contains("checksum"), "{message}");
}

#[test]
fn locations_are_refused_before_the_plan_and_past_the_last_layer() {
    let archive = peer("dive/.data/test-docker-image.tar");
    let fresh = ArchiveReader::new(std::fs::metadata(&archive).unwrap().len());
    let error = fresh.layer_location(0).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("before the image's layers were planned"),
        "{error}"
    );
    let reader = analysed(&archive);
    let error = reader.layer_location(14).unwrap_err();
    assert!(error.to_string().contains("has 14 layers"), "{error}");
}
