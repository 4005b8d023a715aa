//! The file extractor on layers in each compression and any chunking, on a peer's zstd
//! layer, and on members of every kind.

mod engine_common;

use engine_common::{gzip, peers, LayerBuilder};
use layerscope_core::engine::extract::{extract_from_chunks, Extraction, FileExtractor, Pushed};
use layerscope_core::engine::tar::EntryKind;

fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

const LONG_NAME: &[u8] = b"a-directory-name-of-some-length-to-pass-one-hundred-bytes/";

/// A layer with a file of every size class, a link of each kind, a directory and a device.
fn sample_layer() -> (Vec<u8>, Vec<u8>) {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut layer = LayerBuilder::new();
    layer
        .dir("etc")
        .file("etc/empty", b"")
        .file("etc/os-release", b"NAME=test\n")
        .file("usr/lib/big.so", &big)
        .symlink("usr/lib/libbig.so", "big.so")
        .hardlink("usr/lib/big-again.so", "usr/lib/big.so")
        .file("etc/.wh.motd", b"")
        .pax_file(&[LONG_NAME.repeat(3).as_slice(), b"file"].concat(), b"long")
        .file_bytes(b"opt/caf\xe9", b"latin-1 name", 0o644);
    (layer.finish(), big)
}

#[test]
fn every_compression_and_chunking_gives_the_same_bytes() {
    let (tar, big) = sample_layer();
    for (name, blob) in [
        ("plain", tar.clone()),
        ("gzip", gzip(&tar)),
        ("zstd", zstd(&tar)),
    ] {
        for chunk in [1, 7, 512, 65_536, usize::MAX] {
            let chunks = blob.chunks(chunk.min(blob.len()));
            let (outcome, content) = extract_from_chunks(chunks, b"usr/lib/big.so", u64::MAX)
                .unwrap_or_else(|e| panic!("{name} {chunk}: {e}"));
            assert_eq!(content, big, "{name} {chunk}");
            assert!(!outcome.is_truncated());
            let (_, content) =
                extract_from_chunks(blob.chunks(chunk.min(blob.len())), b"etc/os-release", 5)
                    .unwrap();
            assert_eq!(content, b"NAME=", "{name} {chunk}");
        }
    }
}

#[test]
fn each_kind_of_member_is_reported_as_what_it_is() {
    let (tar, _) = sample_layer();
    let outcome = |path: &str| extract_from_chunks([&tar], path.as_bytes(), u64::MAX).unwrap();
    assert!(matches!(
        outcome("etc/empty"),
        (Extraction::File { delivered: 0, .. }, content) if content.is_empty()
    ));
    match outcome("usr/lib/libbig.so").0 {
        Extraction::Symlink { target, entry } => {
            assert_eq!(target, b"big.so");
            assert_eq!(entry.kind, EntryKind::Symlink);
        }
        other => panic!("{other:?}"),
    }
    match outcome("usr/lib/big-again.so").0 {
        Extraction::HardLink { source, .. } => assert_eq!(source, b"usr/lib/big.so"),
        other => panic!("{other:?}"),
    }
    match outcome("etc/").0 {
        Extraction::NotRegular { entry } => assert_eq!(entry.kind, EntryKind::Directory),
        other => panic!("{other:?}"),
    }
    // Names carried by PAX records, and names that are not UTF-8, are found by their bytes.
    let long = [b"./", LONG_NAME.repeat(3).as_slice(), b"file"].concat();
    let (_, content) = extract_from_chunks([&tar], &long, u64::MAX).unwrap();
    assert_eq!(content, b"long");
    let (_, content) = extract_from_chunks([&tar], b"/opt/caf\xe9", u64::MAX).unwrap();
    assert_eq!(content, b"latin-1 name");
    // The whiteout's name, and the name it deletes, are both absent.
    assert_eq!(outcome("etc/.wh.motd").0, Extraction::NotFound);
    assert_eq!(outcome("etc/motd").0, Extraction::NotFound);
}

#[test]
fn a_peers_zstd_layer_gives_the_files_of_its_plain_twin() {
    let dir = peers().join("go-containerregistry/pkg/crane/testdata");
    let plain = std::fs::read(dir.join("content.tar")).unwrap();
    let compressed = std::fs::read(dir.join("content.tar.zst")).unwrap();
    let mut archive = tar::Archive::new(&plain[..]);
    let mut files = 0;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path_bytes().into_owned();
        let mut expected = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut expected).unwrap();
        let (outcome, content) =
            extract_from_chunks(compressed.chunks(16), &path, u64::MAX).unwrap();
        assert!(matches!(outcome, Extraction::File { .. }), "{outcome:?}");
        assert_eq!(content, expected);
        files += 1;
    }
    assert_eq!(files, 2);
}

#[test]
fn content_is_handed_out_in_bounded_pieces_and_nothing_after_the_outcome() {
    let (tar, big) = sample_layer();
    let blob = gzip(&tar);
    let mut extractor = FileExtractor::new(b"usr/lib/big.so", u64::MAX);
    let mut largest = 0;
    let mut total = 0;
    let mut settled_at = None;
    for (i, chunk) in blob.chunks(4096).enumerate() {
        let pushed = extractor
            .push(chunk, &mut |piece: &[u8]| {
                largest = largest.max(piece.len());
                total += piece.len();
            })
            .unwrap();
        if let Pushed::Finished(_) = pushed {
            settled_at.get_or_insert(i);
            // Further pushes repeat the outcome and hand out nothing.
            let again = extractor
                .push(chunk, &mut |_: &[u8]| panic!("content after the outcome"))
                .unwrap();
            assert!(matches!(again, Pushed::Finished(Extraction::File { .. })));
            break;
        }
    }
    assert_eq!(total, big.len());
    assert!(largest <= 64 * 1024, "{largest}");
    assert!(settled_at.is_some());
}
