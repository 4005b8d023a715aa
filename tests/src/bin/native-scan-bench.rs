//! One native run of the layer scanner over a file, for the wasm-vs-native comparison.
//!
//! `native-scan-bench FILE [--chunk BYTES]` reads FILE in `--chunk`-sized pieces (default
//! 65536, the same pieces the wasm page `src/bin/scanner-bench.rs` pushes), feeds each to
//! `layerscope_core::engine::scan::Scanner::push`, calls `finish`, and prints one JSON object: the
//! time from the first read to the end of `finish`, the time inside the scanner, and what the
//! scan found (sizes, digests, entry count) so the runner can check every build agrees.
//!
//! One run per process, so `/usr/bin/time -v` reports this run's peak memory. Built twice by
//! `scripts/bench-wasm.sh`: with default features (sha2 uses the CPU's SHA instructions when
//! present) and with `--features layerscope-core/soft-sha` (the portable code wasm runs).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use layerscope_core::engine::scan::{LayerSummary, ScanOptions, Scanner};
use serde_json::json;

const DEFAULT_CHUNK: usize = 64 * 1024;
const MAX_CHUNK: usize = 64 * 1024 * 1024;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("native-scan-bench: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<serde_json::Value, String> {
    let (path, chunk) = parse_args(&args)?;
    let mut file = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut buffer = vec![0u8; chunk].into_boxed_slice();
    let mut scanner = Scanner::new(ScanOptions::default());
    let mut scanner_time = Duration::ZERO;
    let start = Instant::now();
    loop {
        let filled = fill(&mut file, &mut buffer).map_err(|e| format!("reading {path}: {e}"))?;
        let before = Instant::now();
        scanner
            .push(&buffer[..filled])
            .map_err(|e| format!("{path}: {e}"))?;
        scanner_time += before.elapsed();
        if filled < buffer.len() {
            break;
        }
    }
    let before = Instant::now();
    let summary = scanner.finish().map_err(|e| format!("{path}: {e}"))?;
    scanner_time += before.elapsed();
    let elapsed = start.elapsed();
    Ok(json!({
        "file": path,
        "chunk": chunk,
        "seconds": elapsed.as_secs_f64(),
        "scannerSeconds": scanner_time.as_secs_f64(),
        "layer": describe_layer(&summary),
    }))
}

fn parse_args(args: &[String]) -> Result<(String, usize), String> {
    let usage = "usage: native-scan-bench FILE [--chunk BYTES]";
    let mut path = None;
    let mut chunk = DEFAULT_CHUNK;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--chunk" => {
                let text = rest
                    .next()
                    .ok_or(format!("--chunk needs a value; {usage}"))?;
                chunk = text
                    .parse()
                    .map_err(|_| format!("--chunk {text:?} is not a number"))?;
                if chunk == 0 || chunk > MAX_CHUNK {
                    return Err(format!("--chunk {chunk} is outside 1..={MAX_CHUNK}"));
                }
            }
            other if path.is_none() && !other.starts_with('-') => path = Some(other.to_string()),
            other => return Err(format!("unexpected argument {other:?}; {usage}")),
        }
    }
    Ok((path.ok_or(usage)?, chunk))
}

/// Reads until `buffer` is full or the file ends; returns how many bytes it holds.
fn fill(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The same fields the wasm page reports, so the runner can compare them.
fn describe_layer(summary: &LayerSummary) -> serde_json::Value {
    json!({
        "compressedBytes": summary.compressed_size,
        "uncompressedBytes": summary.uncompressed_size,
        "compression": summary.compression.name(),
        "blobDigest": summary.blob_digest.to_string(),
        "diffId": summary.diff_id.to_string(),
        "entries": summary.entries.len(),
    })
}
