//! The native layer scanner benchmark.
//!
//! `scan-layer FILE [--reps N] [--chunk BYTES] [--json]` reads FILE (a layer blob) in
//! `--chunk`-sized pieces (default 65536, the pieces the wasm page `bench/page` pushes),
//! feeds each to `layerscope_core::engine::scan::Scanner::push`, calls `finish`, REPS times
//! (default 1), and prints the median times:
//!
//! - as `name: value unit` lines (`scripts/bench.sh` checks the digests against
//!   `sha256sum` and times whole runs of this process);
//! - with `--json`, as one JSON object for the wasm-vs-native runner (`wasm-bench`): the time
//!   from the first read to the end of `finish`, the time inside the scanner, and what the
//!   scan found ([`layerscope_bench::describe_layer`]), so every build can be compared.
//!
//! Built twice by `scripts/bench.sh`: with default features (sha2 uses the CPU's SHA
//! instructions when present) and with `--features soft-sha` (the portable code wasm runs).
//! The timing is here, not in the core: the core has no clock.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use layerscope_bench::{describe_layer, median, DEFAULT_CHUNK, MAX_CHUNK};
use layerscope_core::engine::scan::{LayerSummary, ScanOptions, Scanner};
use serde_json::json;

const USAGE: &str = "usage: scan-layer FILE [--reps N] [--chunk BYTES] [--json]";

/// What the command line asked for.
struct Options {
    path: String,
    reps: usize,
    chunk: usize,
    json: bool,
}

/// One scan: first read to the end of `finish`, and the part of it inside the scanner.
struct Run {
    seconds: f64,
    scanner_seconds: f64,
    summary: LayerSummary,
}

fn main() -> ExitCode {
    let outcome = parse_args(std::env::args().skip(1).collect()).and_then(|options| {
        let runs = (0..options.reps)
            .map(|_| scan(&options))
            .collect::<Result<Vec<Run>, String>>()?;
        report(&options, &runs);
        Ok(())
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("scan-layer: {message}");
            ExitCode::from(2)
        }
    }
}

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let mut path = None;
    let mut reps = 1;
    let mut chunk = DEFAULT_CHUNK;
    let mut json = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut number = |flag: &str| -> Result<usize, String> {
            let text = rest
                .next()
                .ok_or(format!("{flag} needs a value; {USAGE}"))?;
            text.parse()
                .map_err(|_| format!("{flag} {text:?} is not a number"))
        };
        match arg.as_str() {
            "--json" => json = true,
            "--reps" => reps = number("--reps")?,
            "--chunk" => chunk = number("--chunk")?,
            other if path.is_none() && !other.starts_with('-') => path = Some(other.to_string()),
            other => return Err(format!("unexpected argument {other:?}; {USAGE}")),
        }
    }
    if chunk == 0 || chunk > MAX_CHUNK {
        return Err(format!("--chunk {chunk} is outside 1..={MAX_CHUNK}"));
    }
    if reps == 0 {
        return Err("--reps must be at least 1".into());
    }
    Ok(Options {
        path: path.ok_or(USAGE)?,
        reps,
        chunk,
        json,
    })
}

fn scan(options: &Options) -> Result<Run, String> {
    let path = &options.path;
    let mut file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut buffer = vec![0u8; options.chunk].into_boxed_slice();
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
    Ok(Run {
        seconds: start.elapsed().as_secs_f64(),
        scanner_seconds: scanner_time.as_secs_f64(),
        summary,
    })
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

/// Prints the medians of the runs' times and what the last run found.
fn report(options: &Options, runs: &[Run]) {
    let summary = &runs.last().expect("at least one run").summary;
    let seconds = median(runs.iter().map(|run| run.seconds));
    if options.json {
        let report = json!({
            "file": options.path,
            "chunk": options.chunk,
            "seconds": seconds,
            "scannerSeconds": median(runs.iter().map(|run| run.scanner_seconds)),
            "layer": describe_layer(summary),
        });
        println!("{report}");
        return;
    }
    let backend = if cfg!(feature = "soft-sha") {
        "soft"
    } else {
        "cpu"
    };
    println!("scan_seconds_{backend}: {seconds:.4} s");
    println!(
        "scan_throughput_{backend}: {:.1} MB/s",
        summary.uncompressed_size as f64 / 1e6 / seconds
    );
    println!("scan_uncompressed_bytes: {} B", summary.uncompressed_size);
    println!("scan_compressed_bytes: {} B", summary.compressed_size);
    println!("scan_entries: {} entries", summary.entries.len());
    println!("scan_compression: {} -", summary.compression.name());
    if let Some(digests) = summary.digests.computed() {
        println!("scan_blob_digest: {} -", digests.blob_digest);
        println!("scan_diff_id: {} -", digests.diff_id);
    }
    // What a scan worker hands the owner: the summary as one flat buffer.
    let transfer = summary.to_bytes();
    println!("scan_transfer_bytes: {} B", transfer.len());
    println!(
        "scan_transfer_bytes_per_entry: {:.1} B",
        transfer.len() as f64 / summary.entries.len().max(1) as f64
    );
}
