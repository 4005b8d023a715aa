//! The two passes a page runs side by side: a scan without hashing and a digest-only pass,
//! which together give what one full scan gives, on built layers and on every layer of
//! dive's test image.

mod engine_common;

use std::io::Read;

use engine_common::{gzip, peers, sha256, LayerBuilder};
use layerscope_core::engine::scan::{
    scan_chunks, DigestScanner, Digests, Hashing, LayerDigests, LayerError, ScanOptions,
};
use layerscope_core::model::digest::DigestRole;

fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

fn digest_pass(
    blob: &[u8],
    chunk: usize,
    options: ScanOptions,
) -> Result<LayerDigests, LayerError> {
    let mut scanner = DigestScanner::new(options);
    for piece in blob.chunks(chunk) {
        scanner.push(piece)?;
    }
    assert_eq!(scanner.bytes_in(), blob.len() as u64);
    scanner.finish()
}

fn sample_tar() -> Vec<u8> {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let mut layer = LayerBuilder::new();
    layer
        .dir("etc")
        .file("etc/hostname", b"box\n")
        .file("usr/lib/big", &big)
        .symlink("usr/lib/big.so", "big");
    layer.finish()
}

#[test]
fn both_passes_together_equal_one_full_scan() {
    let tar = sample_tar();
    for blob in [tar.clone(), gzip(&tar), zstd(&tar)] {
        let options = ScanOptions {
            expected_blob_digest: Some(sha256(&blob)),
            expected_diff_id: Some(sha256(&tar)),
            ..Default::default()
        };
        let full = scan_chunks(blob.chunks(4096), options.clone()).unwrap();
        let entries = scan_chunks(
            blob.chunks(4096),
            options.clone().with_hashing(Hashing::EntriesOnly),
        )
        .unwrap();
        assert_eq!(entries.digests, Digests::Skipped);
        for chunk in [1, 999, 1 << 20] {
            let digests = digest_pass(&blob, chunk, options.clone()).unwrap();
            assert!(digests.verified());
            assert_eq!(digests.verifications.len(), 2);
            assert_eq!(Digests::Computed(digests.clone()), full.digests);
            let mut joined = entries.clone();
            joined.digests = Digests::Computed(digests);
            assert_eq!(joined, full);
        }
    }
}

#[test]
fn an_entries_only_scan_does_not_check_wrong_digests() {
    let tar = sample_tar();
    let wrong = ScanOptions {
        expected_diff_id: Some(sha256(b"not this")),
        hashing: Hashing::EntriesOnly,
        ..Default::default()
    };
    // Nothing was hashed, so nothing can mismatch: the digest pass is where it shows.
    let entries = scan_chunks([&tar], wrong.clone()).unwrap();
    assert_eq!(entries.digests, Digests::Skipped);
    let digests = digest_pass(&tar, 512, wrong).unwrap();
    assert!(!digests.verified());
    let check = &digests.verifications[0];
    assert_eq!(check.kind, DigestRole::DiffId);
    assert_eq!(check.actual, sha256(&tar));
    assert!(!check.ok);
}

#[test]
fn the_digest_pass_refuses_a_cut_stream() {
    let blob = gzip(&sample_tar());
    let error = digest_pass(&blob[..blob.len() / 2], 4096, ScanOptions::default()).unwrap_err();
    assert!(matches!(error, LayerError::Decompression(_)), "{error}");
    assert!(error.to_string().contains("truncated"), "{error}");
}

#[test]
fn every_layer_of_dives_image_splits_into_the_two_passes() {
    let path = peers().join("dive/.data/test-docker-image.tar");
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    let mut layers = 0;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if !entry.path().unwrap().ends_with("layer.tar") {
            continue;
        }
        let mut blob = Vec::new();
        entry.read_to_end(&mut blob).unwrap();
        let options = ScanOptions {
            expected_diff_id: Some(sha256(&blob)),
            ..Default::default()
        };
        let full = scan_chunks(blob.chunks(65_536), options.clone()).unwrap();
        let mut split = scan_chunks(
            blob.chunks(65_536),
            options.clone().with_hashing(Hashing::EntriesOnly),
        )
        .unwrap();
        split.digests = Digests::Computed(digest_pass(&blob, 65_536, options).unwrap());
        assert_eq!(split, full);
        layers += 1;
    }
    assert_eq!(layers, 14);
}
