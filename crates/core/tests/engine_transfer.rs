//! Scan results as byte buffers on real layers: every layer of dive's image and of its
//! kaniko build round-trips, and the buffer is a fraction of the same entries as JSON.

mod engine_common;

use std::io::Read;

use engine_common::peers;
use layerscope_core::engine::scan::{scan_chunks, Hashing, LayerSummary, ScanOptions};
use layerscope_core::present::dive;

/// Every `layer.tar` / `.tar.gz` member of a docker-save archive, scanned.
fn scanned_layers(archive: &str) -> Vec<LayerSummary> {
    let file = std::fs::File::open(peers().join(archive)).unwrap();
    let mut layers = Vec::new();
    for entry in tar::Archive::new(file).entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".tar") || name.ends_with(".tar.gz")) {
            continue;
        }
        let mut blob = Vec::new();
        entry.read_to_end(&mut blob).unwrap();
        for hashing in [Hashing::Digests, Hashing::EntriesOnly] {
            let options = ScanOptions {
                hashing,
                ..Default::default()
            };
            layers.push(scan_chunks([&blob], options).unwrap());
        }
    }
    layers
}

#[test]
fn real_layers_round_trip_and_the_buffer_is_compact() {
    for archive in [
        "dive/.data/test-docker-image.tar",
        "dive/.data/test-kaniko-image.tar",
    ] {
        let layers = scanned_layers(archive);
        assert_eq!(layers.len(), 28, "{archive}");
        let (mut buffer_bytes, mut json_bytes, mut entries) = (0, 0, 0);
        for summary in &layers {
            let bytes = summary.to_bytes();
            assert_eq!(
                &LayerSummary::from_bytes(&bytes).unwrap(),
                summary,
                "{archive}"
            );
            let files: Vec<_> = summary
                .entries
                .iter()
                .filter_map(|entry| dive::layer_file(&entry))
                .collect();
            buffer_bytes += bytes.len();
            json_bytes += serde_json::to_vec(&files).unwrap().len();
            entries += summary.entries.len();
        }
        let per_entry = buffer_bytes as f64 / entries as f64;
        eprintln!(
            "{archive}: {per_entry:.1} B per entry in buffers, {:.1} B as dive's JSON",
            json_bytes as f64 / entries as f64
        );
        // The buffer carries more than dive's list (content hashes, mtimes, digests) and
        // still takes well under a third of its JSON.
        assert!(
            buffer_bytes * 3 < json_bytes,
            "{buffer_bytes} vs {json_bytes}"
        );
    }
}
