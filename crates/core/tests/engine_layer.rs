//! The layer scanner: compression detection, digests, chunking, peers' layers.

mod engine_common;

use engine_common::{gzip, peers, sha256, LayerBuilder};
use layerscope_core::engine::codec::CodecError;
use layerscope_core::engine::scan::{scan_chunks, LayerError, LayerSummary, ScanOptions, Scanner};
use layerscope_core::engine::tar::EntryKind;
use layerscope_core::model::digest::DigestRole;
use layerscope_core::model::media::Compression;

fn sample_tar() -> Vec<u8> {
    let mut b = LayerBuilder::new();
    b.dir("usr/")
        .file(
            "usr/big.bin",
            &(0..3_000_000u32)
                .map(|i| (i % 251) as u8)
                .collect::<Vec<_>>(),
        )
        .file("usr/small", b"hello")
        .symlink("usr/link", "small")
        .hardlink("usr/hard", "usr/small");
    b.finish()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

fn scan(blob: &[u8], chunk: usize, options: ScanOptions) -> Result<LayerSummary, LayerError> {
    scan_chunks(blob.chunks(chunk.max(1)), options)
}

fn assert_same_scan(a: &LayerSummary, b: &LayerSummary) {
    assert_eq!(
        a.digests.computed().unwrap().blob_digest,
        b.digests.computed().unwrap().blob_digest
    );
    assert_eq!(
        a.digests.computed().unwrap().diff_id,
        b.digests.computed().unwrap().diff_id
    );
    assert_eq!(a.entries, b.entries);
    assert_eq!(a.uncompressed_size, b.uncompressed_size);
}

#[test]
fn plain_gzip_and_zstd_give_the_same_tar() {
    let tar = sample_tar();
    for (blob, compression) in [
        (tar.clone(), Compression::None),
        (gzip(&tar), Compression::Gzip),
        (zstd(&tar), Compression::Zstd),
    ] {
        let s = scan(&blob, 1 << 20, ScanOptions::default()).unwrap();
        assert_eq!(s.compression, compression);
        assert_eq!(s.digests.computed().unwrap().blob_digest, sha256(&blob));
        assert_eq!(s.digests.computed().unwrap().diff_id, sha256(&tar));
        assert_eq!(s.compressed_size, blob.len() as u64);
        assert_eq!(s.uncompressed_size, tar.len() as u64);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let kinds: Vec<EntryKind> = s.entries.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EntryKind::Directory,
                EntryKind::File,
                EntryKind::File,
                EntryKind::Symlink,
                EntryKind::HardLink
            ]
        );
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            s.entries.to_vec()[1].content_hash,
            Some(xxhash_rust::xxh3::xxh3_64(&big))
        );
        assert_eq!(
            s.entries.to_vec()[2].content_hash,
            Some(xxhash_rust::xxh3::xxh3_64(b"hello"))
        );
        assert_eq!(s.entries.to_vec()[3].content_hash, None);
        assert_eq!(s.entries_size, 3_000_005);
    }
}

#[test]
fn small_and_megabyte_chunks_agree() {
    let tar = sample_tar();
    for blob in [tar.clone(), gzip(&tar), zstd(&tar)] {
        let big = scan(&blob, 4 << 20, ScanOptions::default()).unwrap();
        for chunk in [3usize, 4095, 65536] {
            assert_same_scan(&scan(&blob, chunk, ScanOptions::default()).unwrap(), &big);
        }
        assert_eq!(big.entries.len(), 5);
    }
}

#[test]
fn one_byte_chunks_over_every_format() {
    let mut b = LayerBuilder::new();
    b.file("a", &[1u8; 70_000])
        .file("b", b"bb")
        .symlink("c", "a");
    let tar = b.finish();
    for blob in [tar.clone(), gzip(&tar), zstd(&tar)] {
        let one = scan(&blob, 1, ScanOptions::default()).unwrap();
        let whole = scan(&blob, blob.len(), ScanOptions::default()).unwrap();
        assert_same_scan(&one, &whole);
        assert_eq!(one.digests.computed().unwrap().diff_id, sha256(&tar));
    }
}

#[test]
fn multi_member_gzip_and_multi_frame_zstd() {
    let tar = sample_tar();
    let cut = 700_001;
    let gz = [gzip(&tar[..cut]), gzip(&tar[cut..])].concat();
    let zs = [zstd(&tar[..cut]), zstd(&tar[cut..])].concat();
    for blob in [gz, zs] {
        for chunk in [1000, 1 << 20] {
            let s = scan(&blob, chunk, ScanOptions::default()).unwrap();
            assert_eq!(s.digests.computed().unwrap().diff_id, sha256(&tar));
            assert_eq!(s.entries.len(), 5);
        }
    }
}

#[test]
fn skippable_zstd_frames_are_skipped() {
    let tar = sample_tar();
    let mut blob = vec![0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0, 1, 2, 3, 4, 5];
    blob.extend(zstd(&tar));
    let s = scan(&blob, 4096, ScanOptions::default()).unwrap();
    assert_eq!(s.compression, Compression::Zstd);
    assert_eq!(s.digests.computed().unwrap().diff_id, sha256(&tar));
}

#[test]
fn digests_are_verified() {
    let tar = sample_tar();
    let blob = gzip(&tar);
    let good = ScanOptions {
        expected_blob_digest: Some(sha256(&blob)),
        expected_diff_id: Some(sha256(&tar)),
        declared_media_type: Some("application/vnd.oci.image.layer.v1.tar+gzip".into()),
        ..Default::default()
    };
    let s = scan(&blob, 65536, good.clone()).unwrap();
    assert_eq!(s.digests.computed().unwrap().verifications.len(), 2);
    assert!(s
        .digests
        .computed()
        .unwrap()
        .verifications
        .iter()
        .all(|v| v.ok));

    let wrong = sha256(b"something else");
    let bad = ScanOptions {
        expected_diff_id: Some(wrong.clone()),
        ..good
    };
    match scan(&blob, 65536, bad) {
        Err(LayerError::DigestMismatch {
            kind,
            mismatch,
            summary,
        }) => {
            assert_eq!(kind, DigestRole::DiffId);
            assert_eq!(mismatch.expected, wrong);
            assert_eq!(mismatch.actual, sha256(&tar));
            assert!(summary
                .digests
                .computed()
                .unwrap()
                .verifications
                .iter()
                .any(|v| !v.ok && v.kind == DigestRole::DiffId));
            let msg = LayerError::DigestMismatch {
                kind,
                mismatch,
                summary,
            }
            .to_string();
            assert!(
                msg.contains(&wrong.to_string()) && msg.contains(&sha256(&tar).to_string()),
                "{msg}"
            );
        }
        other => panic!("expected a diff_id mismatch, got {other:?}"),
    }
}

#[test]
fn media_type_disagreement_is_a_warning() {
    let tar = sample_tar();
    let options = ScanOptions {
        declared_media_type: Some("application/vnd.docker.image.rootfs.diff.tar.gzip".into()),
        ..Default::default()
    };
    let s = scan(&zstd(&tar), 65536, options).unwrap();
    assert_eq!(s.compression, Compression::Zstd);
    assert_eq!(s.warnings.len(), 1);
    assert!(
        s.warnings[0].contains("gzip") && s.warnings[0].contains("zstd"),
        "{:?}",
        s.warnings
    );
}

#[test]
fn broken_streams_name_the_offset() {
    let tar = sample_tar();
    let gz = gzip(&tar);
    // Truncated gzip.
    let err = scan(&gz[..gz.len() / 2], 4096, ScanOptions::default()).unwrap_err();
    assert!(
        matches!(err, LayerError::Decompression(CodecError::Gzip { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
    // Corrupt deflate data.
    let mut bad = gz.clone();
    for b in &mut bad[100..200] {
        *b ^= 0xa5;
    }
    let err = scan(&bad, 4096, ScanOptions::default()).unwrap_err();
    assert!(
        matches!(err, LayerError::Decompression(CodecError::Gzip { offset, .. }) if offset <= 200),
        "{err}"
    );
    // Garbage after the gzip member.
    let mut trailing = gz.clone();
    trailing.extend_from_slice(b"\0\0\0junk");
    let err = scan(&trailing, 4096, ScanOptions::default()).unwrap_err();
    assert!(err.to_string().contains("trailing garbage"), "{err}");
    // Truncated zstd.
    let zs = zstd(&tar);
    let err = scan(&zs[..zs.len() - 10], 4096, ScanOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::Decompression(CodecError::Zstd { .. }) | LayerError::Tar(_)
        ),
        "{err}"
    );
    // Truncated plain tar: the tar error names the uncompressed offset.
    let err = scan(&tar[..10_000], 4096, ScanOptions::default()).unwrap_err();
    assert!(err.to_string().contains("offset 10000"), "{err}");
    // Data inside the tar stream after the end marker is kept out of the
    // file list and reported with its offset (the tar parser alone refuses it).
    let mut tail = tar.clone();
    tail.extend_from_slice(&[0; 100]);
    tail.push(7);
    let s = scan(&gzip(&tail), 4096, ScanOptions::default()).unwrap();
    let at = format!("offset {}", tar.len() + 100);
    assert!(
        s.warnings.iter().any(|w| w.contains(&at)),
        "{:?}",
        s.warnings
    );
    // Nothing at all.
    assert!(scan(&[], 1, ScanOptions::default()).is_err());
}

#[test]
fn scanner_reports_progress() {
    let tar = sample_tar();
    let blob = gzip(&tar);
    let mut scanner = Scanner::new(ScanOptions::default());
    scanner.push(&blob[..blob.len() / 2]).unwrap();
    assert_eq!(scanner.bytes_in(), (blob.len() / 2) as u64);
    assert!(scanner.bytes_out() > 0);
    scanner.push(&blob[blob.len() / 2..]).unwrap();
    let s = scanner.finish().unwrap();
    assert_eq!(s.uncompressed_size, tar.len() as u64);
}

#[test]
fn crane_zstd_layer_matches_its_plain_twin() {
    let dir = peers().join("go-containerregistry/pkg/crane/testdata");
    let zst = std::fs::read(dir.join("content.tar.zst")).unwrap();
    let plain = std::fs::read(dir.join("content.tar")).unwrap();
    let z = scan(&zst, 7, ScanOptions::default()).unwrap();
    let p = scan(&plain, 7, ScanOptions::default()).unwrap();
    assert_eq!(z.compression, Compression::Zstd);
    assert_eq!(z.digests.computed().unwrap().diff_id, sha256(&plain));
    assert_eq!(z.entries, p.entries);
    assert!(!z.entries.is_empty());
}

#[test]
fn media_types_name_their_compression() {
    for (media_type, expected) in [
        (
            "application/vnd.oci.image.layer.v1.tar",
            Some(Compression::None),
        ),
        (
            "application/vnd.oci.image.layer.v1.tar+gzip",
            Some(Compression::Gzip),
        ),
        (
            "application/vnd.oci.image.layer.v1.tar+zstd",
            Some(Compression::Zstd),
        ),
        (
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            Some(Compression::Gzip),
        ),
        (
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            Some(Compression::Gzip),
        ),
        (
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            Some(Compression::Gzip),
        ),
        (
            "application/vnd.docker.image.rootfs.diff.tar.zstd",
            Some(Compression::Zstd),
        ),
        ("application/octet-stream", None),
    ] {
        assert_eq!(
            layerscope_core::model::media::layer_compression(media_type),
            expected,
            "{media_type}"
        );
    }
    let tar = sample_tar();
    let options = ScanOptions {
        declared_media_type: Some("application/octet-stream".into()),
        ..Default::default()
    };
    let s = scan(&tar, 1 << 16, options).unwrap();
    assert!(
        s.warnings[0].contains("not a known layer type"),
        "{:?}",
        s.warnings
    );
}

#[test]
fn zero_padding_after_compressed_streams_is_a_warning() {
    let tar = sample_tar();
    for blob in [gzip(&tar), zstd(&tar)] {
        let mut padded = blob.clone();
        padded.extend_from_slice(&[0; 4096]);
        let s = scan(&padded, 1000, ScanOptions::default()).unwrap();
        assert_eq!(s.digests.computed().unwrap().diff_id, sha256(&tar));
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(
            s.warnings[0].contains("zero bytes after"),
            "{:?}",
            s.warnings
        );
    }
}

#[test]
fn data_after_the_tar_end_marker_is_hashed_and_reported() {
    let tar = sample_tar();
    let plain = scan(&tar, 4096, ScanOptions::default()).unwrap();
    let mut with_toc = tar.clone();
    let toc_at = with_toc.len() as u64;
    with_toc.extend_from_slice(b"{\"toc\": []}");
    let s = scan(&gzip(&with_toc), 4096, ScanOptions::default()).unwrap();
    assert_eq!(s.entries.len(), plain.entries.len());
    assert_eq!(s.digests.computed().unwrap().diff_id, sha256(&with_toc));
    let warning = s
        .warnings
        .iter()
        .find(|w| w.contains("end-of-archive"))
        .unwrap_or_else(|| panic!("no warning about trailing data: {:?}", s.warnings));
    assert!(warning.contains(&toc_at.to_string()), "{warning}");
}
