//! The scanner benchmark (run by `scripts/bench.sh`; `harness = false`).
//!
//! `scan_layer FILE [REPS] [CHUNK]` scans FILE (a layer blob) REPS times
//! through [`layerscope_core::engine::scan::scan_source`], reading and pushing CHUNK
//! bytes at a time (default 65536, as the wasm page pushes), and prints
//! `name: value unit` lines: the median wall time, throughput over the
//! uncompressed tar, and what was found (so the script can check the
//! digests against sha256sum). The timing is here, not in the core: the
//! core has no clock. A WebAssembly harness calls the same `scan_source`.

use std::io::Read;
use std::time::Instant;

use layerscope_core::engine::scan::{scan_source, ScanOptions};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(path) = args.first() else {
        eprintln!("usage: scan_layer FILE [REPS] [CHUNK]");
        std::process::exit(2);
    };
    let reps: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(1).max(1);
    let chunk: usize = args
        .get(2)
        .and_then(|c| c.parse().ok())
        .unwrap_or(64 * 1024)
        .max(1);
    let mut times = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps {
        let mut file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let start = Instant::now();
        let summary = scan_source(
            |buf| file.read(buf).expect("read layer"),
            chunk,
            ScanOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        times.push(start.elapsed().as_secs_f64());
        last = Some(summary);
    }
    let summary = last.expect("at least one run");
    times.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let median = times[times.len() / 2];
    let backend = if cfg!(feature = "soft-sha") {
        "soft"
    } else {
        "cpu"
    };
    println!("scan_seconds_{backend}: {median:.4} s");
    println!(
        "scan_throughput_{backend}: {:.1} MB/s",
        summary.uncompressed_size as f64 / 1e6 / median
    );
    println!("scan_uncompressed_bytes: {} B", summary.uncompressed_size);
    println!("scan_compressed_bytes: {} B", summary.compressed_size);
    println!("scan_entries: {} entries", summary.entries.len());
    println!("scan_compression: {} -", summary.compression.name());
    println!("scan_blob_digest: {} -", summary.blob_digest);
    println!("scan_diff_id: {} -", summary.diff_id);
}
