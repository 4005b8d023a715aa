//! What the layerscope benchmarks share: the native scanner (`scan-layer`) and the wasm page
//! (`bench/page`) push the same pieces into the same scanner and report what it found in the
//! same shape, so the runner (`wasm-bench`) can check every build did the same work.
//!
//! This library builds for wasm32 as well; the binaries are native only.

use layerscope_core::engine::scan::LayerSummary;
use serde_json::{json, Value};

/// Bytes per `Scanner::push` unless told otherwise (the page's default too).
pub const DEFAULT_CHUNK: usize = 64 * 1024;
/// Largest chunk either side accepts: the chunk buffer is the only one they allocate.
pub const MAX_CHUNK: usize = 64 * 1024 * 1024;

/// What the scanner found: sizes, compression, digests and the entry count.
pub fn describe_layer(summary: &LayerSummary) -> Value {
    json!({
        "compressedBytes": summary.compressed_size,
        "uncompressedBytes": summary.uncompressed_size,
        "compression": summary.compression.name(),
        "blobDigest": summary.digests.computed().map(|d| d.blob_digest.to_string()),
        "diffId": summary.digests.computed().map(|d| d.diff_id.to_string()),
        "entries": summary.entries.len(),
    })
}

/// The median: the middle value, or the mean of the two middle values of an even count
/// (`scripts/lib.sh`'s `median` computes the same). Panics on an empty list.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.into_iter().collect();
    assert!(!values.is_empty(), "the median of no values");
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median([7.0]), 7.0);
    }
}
