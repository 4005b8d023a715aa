//! The wasm-vs-native scanner benchmark runner (`scripts/bench.sh` calls it).
//!
//! ```text
//! wasm-bench --served DIR --file NAME [--reps N] [--chunk BYTES] [--native LABEL=BINARY]...
//!            [--page LABEL=PATH]... [--page-query QUERY]
//! ```
//!
//! DIR holds the layer file NAME and one or more builds of the benchmark page
//! (`bench/page/index.html` built by trunk; `--page` labels each and may add a query, default
//! `wasm=index.html`). The
//! runner serves DIR with `layerscope serve` on loopback, opens headless Chromium through the
//! harness in this crate, and then, N times in turn: runs each native binary
//! (`scan-layer --json`) under `/usr/bin/time -v`, loads each page to scan the file in wasm
//! (pages take turns going first), and loads the first page again in drain mode (fetch and
//! copy only). A warm-up round comes first and is not counted. Every run must find the same
//! sizes, digests and entry count. Medians are printed as `name: value unit` lines:
//! throughputs in MB/s (10^6 bytes of the uncompressed tar per second, first byte to
//! `finish`), ratios (native seconds / wasm seconds; also fastest run against fastest
//! run, which other load on a shared machine disturbs less), a breakdown (time inside the scanner,
//! time waiting for the body), and memory (native: maximum RSS; Chromium: the renderers'
//! peak RSS over the run (VmHWM), and per page the renderer's RSS when the page reports,
//! `performance.memory.usedJSHeapSize` and the module's linear memory).
//!
//! `BENCH_CHROMIUM_FLAGS` adds Chromium flags for profiling runs, e.g.
//! `--js-flags=--perf-basic-prof` so `perf report` names the wasm functions.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use layerscope_bench::{median, DEFAULT_CHUNK};
use layerscope_e2e::browser::{Browser, CHROMIUM_FLAGS};
use layerscope_e2e::webdriver::WebDriver;
use layerscope_e2e::{free_port, layerscope_binary, ChildGuard, LayerscopeServer, TempDir};
use serde_json::{json, Value};

const DEFAULT_REPS: usize = 5;
/// How long one page run may take before the runner gives up on it.
const PAGE_TIMEOUT: Duration = Duration::from_secs(300);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
const MB: f64 = 1e6;
/// Marks Chromium's renderer processes in their command lines.
const RENDERER_FLAG: &[u8] = b"--type=renderer";
/// Extra Chromium flags for profiling runs (e.g. `--js-flags=--perf-basic-prof`),
/// whitespace-separated.
const EXTRA_FLAGS_VARIABLE: &str = "BENCH_CHROMIUM_FLAGS";

/// What the command line asked for.
struct Options {
    served: PathBuf,
    file: String,
    reps: usize,
    chunk: usize,
    natives: Vec<(String, PathBuf)>,
    /// Benchmark pages by label, paths relative to the served directory.
    pages: Vec<(String, String)>,
    /// Extra `name=value&...` for the page (e.g. `reader=default`).
    page_query: String,
}

/// One timed run of one contender.
struct Sample {
    /// First byte to the end of `finish` (the throughput figure).
    seconds: f64,
    /// Including the fetch request (wasm only; native equals `seconds`).
    total_seconds: f64,
    /// Inside `push` and `finish` only.
    scanner_seconds: f64,
    /// Waiting for the body's next chunk after the first byte (wasm only).
    wait_seconds: f64,
    /// Body reads that delivered bytes (wasm only).
    reads: f64,
    /// The scan's findings, compared across contenders.
    layer: Value,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("wasm-bench: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wasm-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let usage = "usage: wasm-bench --served DIR --file NAME [--reps N] [--chunk BYTES] [--native LABEL=BINARY]... [--page LABEL=PATH]... [--page-query QUERY]";
    let mut served = None;
    let mut file = None;
    let mut reps = DEFAULT_REPS;
    let mut chunk = DEFAULT_CHUNK;
    let mut natives = Vec::new();
    let mut page_query = String::new();
    let mut pages = Vec::new();
    let mut rest = args.into_iter();
    while let Some(flag) = rest.next() {
        let mut value = || rest.next().ok_or(format!("{flag} needs a value; {usage}"));
        match flag.as_str() {
            "--served" => served = Some(PathBuf::from(value()?)),
            "--file" => file = Some(value()?),
            "--reps" => reps = parse_count("--reps", &value()?)?,
            "--chunk" => chunk = parse_count("--chunk", &value()?)?,
            "--page-query" => page_query = value()?,
            "--page" => {
                let text = value()?;
                let (label, path) = text
                    .split_once('=')
                    .ok_or(format!("--page {text:?} is not LABEL=PATH"))?;
                pages.push((label.to_string(), path.to_string()));
            }
            "--native" => {
                let text = value()?;
                let (label, binary) = text
                    .split_once('=')
                    .ok_or(format!("--native {text:?} is not LABEL=BINARY"))?;
                natives.push((label.to_string(), PathBuf::from(binary)));
            }
            _ => return Err(format!("unexpected argument {flag:?}; {usage}")),
        }
    }
    let served = served.ok_or(format!("--served is required; {usage}"))?;
    let file = file.ok_or(format!("--file is required; {usage}"))?;
    if !served.join(&file).is_file() {
        return Err(format!("{} is not a file", served.join(&file).display()));
    }
    if pages.is_empty() {
        pages.push(("wasm".to_string(), "index.html".to_string()));
    }
    for (label, page) in &pages {
        let page = page.split_once('?').map_or(page.as_str(), |(path, _)| path);
        if !served.join(page).is_file() {
            return Err(format!(
                "page {label}: {} is not a file: build bench/page/index.html with trunk into it first",
                served.join(page).display()
            ));
        }
    }
    for (label, binary) in &natives {
        if !binary.is_file() {
            return Err(format!(
                "native {label}: {} is not a file",
                binary.display()
            ));
        }
    }
    Ok(Options {
        served,
        file,
        reps,
        chunk,
        natives,
        pages,
        page_query,
    })
}

fn parse_count(flag: &str, text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(count) if count > 0 => Ok(count),
        _ => Err(format!("{flag} {text:?} is not a positive number")),
    }
}

fn run(options: &Options) -> Result<(), String> {
    let server = LayerscopeServer::start_with(&layerscope_binary(), &options.served);
    let browser = PageBrowser::start()?;
    let browser = browser.webdriver();
    let scratch = TempDir::new("wasm-bench");
    let mut results = Results::default();
    for round in 0..=options.reps {
        let counted = round > 0;
        eprintln!(
            "# round {round} of {}{}",
            options.reps,
            if counted { "" } else { " (warm-up)" }
        );
        for (label, binary) in &options.natives {
            let (sample, peak_kb) = run_native(binary, options, scratch.path())?;
            results.check_same_layer(&sample.layer, &format!("native {label}"))?;
            if counted {
                results.record(&format!("native_{label}"), sample, peak_kb as f64 * 1024.0);
            }
        }
        // Pages take turns going first: the first after the native runs fares differently.
        let mut pages: Vec<(usize, &(String, String))> = options.pages.iter().enumerate().collect();
        pages.rotate_left(round % options.pages.len());
        for (index, (label, page_path)) in pages {
            let page = run_page(browser, &server, options, page_path, "scan")?;
            if round == 0 {
                eprintln!("# {label} read the body with the {} reader", page["reader"]);
            }
            let scan = page_sample(&page, "scan")?;
            results.check_same_layer(&scan.layer, label)?;
            let memory = page["wasmMemoryBytes"].as_f64().unwrap_or(0.0);
            results.note_page_memory(
                label,
                renderer_memory_kb("VmRSS:"),
                page["jsHeapUsedBytes"].as_f64().unwrap_or(0.0),
            );
            if counted {
                results.record(label, scan, memory);
            }
            // Fetching alone costs the same whatever the build: measured with the first page.
            if index == 0 {
                let drain = run_page(browser, &server, options, page_path, "drain")?;
                if counted {
                    results.record("wasm_drain", page_sample(&drain, "drain")?, 0.0);
                }
            }
            results.renderer_peak_kb = results.renderer_peak_kb.max(renderer_memory_kb("VmHWM:"));
        }
    }
    results.print(options)
}

/// Everything measured, by contender label (`native_sha`, `wasm`, ...).
#[derive(Default)]
struct Results {
    samples: HashMap<String, Vec<Sample>>,
    /// Native: maximum RSS; wasm: the module's linear memory. Bytes.
    peak_memory: HashMap<String, f64>,
    /// The renderers' peak RSS (VmHWM) over the whole run, KiB.
    renderer_peak_kb: u64,
    /// By page: the renderer's RSS when the page reported its result (KiB; the body's
    /// chunks not yet collected count here) and `performance.memory.usedJSHeapSize`.
    renderer_rss_at_result_kb: HashMap<String, u64>,
    js_heap: HashMap<String, f64>,
    /// The first run's findings; every other run must match them.
    reference_layer: Option<Value>,
}

impl Results {
    fn note_page_memory(&mut self, label: &str, rss_kb: u64, js_heap: f64) {
        let rss = self
            .renderer_rss_at_result_kb
            .entry(label.to_string())
            .or_default();
        *rss = (*rss).max(rss_kb);
        let heap = self.js_heap.entry(label.to_string()).or_default();
        *heap = heap.max(js_heap);
    }

    fn record(&mut self, label: &str, sample: Sample, memory: f64) {
        self.samples
            .entry(label.to_string())
            .or_default()
            .push(sample);
        let peak = self.peak_memory.entry(label.to_string()).or_default();
        *peak = peak.max(memory);
    }

    /// Makes sure every contender found the same layer: the first report is the reference.
    fn check_same_layer(&mut self, layer: &Value, who: &str) -> Result<(), String> {
        if layer.get("diffId").is_none() {
            return Err(format!("{who} reported no layer: {layer}"));
        }
        match &self.reference_layer {
            None => {
                self.reference_layer = Some(layer.clone());
                Ok(())
            }
            Some(expected) if expected == layer => Ok(()),
            Some(expected) => Err(format!(
                "{who} found a different layer than the first run: {layer} vs {expected}"
            )),
        }
    }

    fn median_of(&self, label: &str, field: impl Fn(&Sample) -> f64) -> f64 {
        median(self.samples[label].iter().map(field))
    }

    /// The shortest first-byte-to-finish time among the label's runs.
    fn fastest_of(&self, label: &str) -> f64 {
        self.samples[label]
            .iter()
            .map(|sample| sample.seconds)
            .fold(f64::INFINITY, f64::min)
    }

    fn print(&self, options: &Options) -> Result<(), String> {
        let layer = self
            .reference_layer
            .as_ref()
            .ok_or("no run reported a layer")?;
        let uncompressed = layer["uncompressedBytes"]
            .as_f64()
            .ok_or("the layer report has no uncompressedBytes")?;
        let compressed = layer["compressedBytes"].as_f64().unwrap_or(0.0);
        print_line("wasm_bench_layer_compressed", compressed / MB, "MB");
        print_line("wasm_bench_layer_uncompressed", uncompressed / MB, "MB");
        print_count(
            "wasm_bench_layer_entries",
            layer["entries"].as_u64().unwrap_or(0),
            "entries",
        );
        print_count("wasm_bench_repetitions", options.reps as u64, "runs");
        print_count("wasm_bench_chunk", options.chunk as u64, "bytes");
        let natives: Vec<String> = options
            .natives
            .iter()
            .map(|(label, _)| format!("native_{label}"))
            .collect();
        // The median first-byte-to-finish time of a label, and its throughput.
        let print_speed = |label: &str| {
            let seconds = self.median_of(label, |s| s.seconds);
            print_line(&format!("{label}_scanner_seconds"), seconds, "s");
            print_line(
                &format!("{label}_scanner_throughput"),
                uncompressed / MB / seconds,
                "MB/s",
            );
            seconds
        };
        for label in &natives {
            print_speed(label);
        }
        for (label, _) in &options.pages {
            let seconds = print_speed(label);
            let total = self.median_of(label, |s| s.total_seconds);
            print_line(
                &format!("{label}_scanner_throughput_including_fetch_start"),
                uncompressed / MB / total,
                "MB/s",
            );
            for native in &natives {
                let native_seconds = self.median_of(native, |s| s.seconds);
                print_line(
                    &format!("{label}_vs_{native}_ratio"),
                    native_seconds / seconds,
                    "x",
                );
                // Fastest against fastest: less sensitive to other load on a shared machine.
                let best = self.fastest_of(label);
                print_line(
                    &format!("{label}_vs_{native}_best_of_runs_ratio"),
                    self.fastest_of(native) / best,
                    "x",
                );
            }
        }
        self.print_breakdown(options, &natives);
        self.print_memory(options, &natives);
        Ok(())
    }

    /// Where the time goes: inside the scanner, waiting for the body, fetching alone.
    fn print_breakdown(&self, options: &Options, natives: &[String]) {
        for label in natives {
            let compute = self.median_of(label, |s| s.scanner_seconds);
            print_line(&format!("{label}_scanner_compute_seconds"), compute, "s");
        }
        for (label, _) in &options.pages {
            let compute = self.median_of(label, |s| s.scanner_seconds);
            print_line(&format!("{label}_scanner_compute_seconds"), compute, "s");
            let wait = self.median_of(label, |s| s.wait_seconds);
            print_line(&format!("{label}_body_read_wait_seconds"), wait, "s");
            let reads = self.median_of(label, |s| s.reads);
            print_line(&format!("{label}_body_reads"), reads, "reads");
            for native in natives {
                let native_compute = self.median_of(native, |s| s.scanner_seconds);
                print_line(
                    &format!("{label}_vs_{native}_compute_ratio"),
                    native_compute / compute,
                    "x",
                );
            }
        }
        let drain = self.median_of("wasm_drain", |s| s.seconds);
        print_line("wasm_fetch_and_copy_only_seconds", drain, "s");
    }

    fn print_memory(&self, options: &Options, natives: &[String]) {
        for label in natives {
            print_line(
                &format!("{label}_peak_rss"),
                self.peak_memory[label] / MB,
                "MB",
            );
        }
        print_line(
            "wasm_chromium_renderer_peak_rss",
            self.renderer_peak_kb as f64 * 1024.0 / MB,
            "MB",
        );
        for (label, _) in &options.pages {
            print_line(
                &format!("{label}_linear_memory"),
                self.peak_memory[label] / MB,
                "MB",
            );
            print_line(
                &format!("{label}_renderer_rss_at_result"),
                self.renderer_rss_at_result_kb[label] as f64 * 1024.0 / MB,
                "MB",
            );
            print_line(
                &format!("{label}_js_heap_used"),
                self.js_heap[label] / MB,
                "MB",
            );
        }
    }
}

/// One run of a native binary under `/usr/bin/time -v`: its report and its peak RSS in KiB.
fn run_native(binary: &Path, options: &Options, scratch: &Path) -> Result<(Sample, u64), String> {
    let time_report = scratch.join("time-v.txt");
    let file = options.served.join(&options.file);
    let output = Command::new("/usr/bin/time")
        .arg("-v")
        .arg("-o")
        .arg(&time_report)
        .arg(binary)
        .arg(&file)
        .arg("--json")
        .arg("--chunk")
        .arg(options.chunk.to_string())
        .output()
        .map_err(|e| format!("running /usr/bin/time {}: {e}", binary.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} {} failed ({}): {}",
            binary.display(),
            file.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let report: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "{} printed no JSON report ({e}): {}",
            binary.display(),
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    let time_text = fs::read_to_string(&time_report)
        .map_err(|e| format!("reading {}: {e}", time_report.display()))?;
    let peak_kb = time_text
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("Maximum resident set size (kbytes):")
        })
        .and_then(|value| value.trim().parse().ok())
        .ok_or(format!(
            "/usr/bin/time -v wrote no maximum resident set size: {time_text}"
        ))?;
    let seconds = number(&report, "seconds", binary)?;
    let sample = Sample {
        seconds,
        total_seconds: seconds,
        scanner_seconds: number(&report, "scannerSeconds", binary)?,
        wait_seconds: 0.0,
        reads: 0.0,
        layer: report["layer"].clone(),
    };
    Ok((sample, peak_kb))
}

fn number(report: &Value, field: &str, binary: &Path) -> Result<f64, String> {
    report[field].as_f64().ok_or(format!(
        "{} reported no {field}: {report}",
        binary.display()
    ))
}

/// Loads the benchmark page for one run in `mode` and returns its JSON result.
fn run_page(
    browser: &WebDriver,
    server: &LayerscopeServer,
    options: &Options,
    page_path: &str,
    mode: &str,
) -> Result<Value, String> {
    // A page may carry its own query (`simd128/index.html?reader=worker`).
    let (page_path, page_query) = page_path.split_once('?').unwrap_or((page_path, ""));
    // The page fetches the file relative to itself.
    let up = "../".repeat(page_path.matches('/').count());
    let url = format!(
        "{}{page_path}?file={up}{}&reps=1&chunk={}&mode={mode}&{page_query}&{}",
        server.url, options.file, options.chunk, options.page_query
    );
    browser
        .navigate(&url)
        .map_err(|e| format!("opening {url}: {e}"))?;
    let script = "const done = document.querySelector('[data-testid=\"bench-result\"]'); \
                  const failed = document.querySelector('[data-testid=\"bench-error\"]'); \
                  return done ? {result: done.textContent} : failed ? {error: failed.textContent} : null;";
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let answer = browser
            .execute(script, Vec::new())
            .map_err(|e| format!("polling the benchmark page ({url}): {e}"))?;
        if let Some(error) = answer["error"].as_str() {
            return Err(format!("the benchmark page ({url}) failed: {error}"));
        }
        if let Some(result) = answer["result"].as_str() {
            return serde_json::from_str(result)
                .map_err(|e| format!("the benchmark page wrote bad JSON ({e}): {result}"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the benchmark page ({url}) reported nothing within {PAGE_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// The page's single run as a [`Sample`] (milliseconds become seconds).
fn page_sample(page: &Value, mode: &str) -> Result<Sample, String> {
    let run = &page["runs"][0];
    let seconds = |field: &str| {
        run[field]
            .as_f64()
            .map(|ms| ms / 1000.0)
            .ok_or(format!("the page's {mode} run has no {field}: {page}"))
    };
    Ok(Sample {
        seconds: seconds("firstByteToFinishMs")?,
        total_seconds: seconds("totalMs")?,
        scanner_seconds: seconds("scannerMs")?,
        wait_seconds: seconds("readWaitMs")?,
        reads: run["fetchChunks"].as_f64().unwrap_or(0.0),
        layer: page["layer"].clone(),
    })
}

fn print_line(name: &str, value: f64, unit: &str) {
    let precision = if value.abs() >= 100.0 { 1 } else { 3 };
    println!("{name}: {value:.precision$} {unit}");
}

fn print_count(name: &str, value: u64, unit: &str) {
    println!("{name}: {value} {unit}");
}

/// The largest value of a `/proc/PID/status` memory field (`VmHWM:` peak RSS, `VmRSS:`
/// current RSS; KiB) among this process's descendant Chromium renderers.
fn renderer_memory_kb(field: &str) -> u64 {
    descendants(std::process::id())
        .into_iter()
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                // Chromium rewrites its argv, so the arguments may not be NUL-separated.
                .map(|cmdline| {
                    cmdline
                        .windows(RENDERER_FLAG.len())
                        .any(|window| window == RENDERER_FLAG)
                })
                .unwrap_or(false)
        })
        .filter_map(|pid| {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .max()
        .unwrap_or(0)
}

/// Every live process below `root` in the process tree.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect();
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        index += 1;
    }
    found.remove(0);
    found
}

/// The parent pid from `/proc/PID/stat` (the field after the parenthesized command name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// The browser the pages run in: the harness's [`Browser`], or, when
/// `BENCH_CHROMIUM_FLAGS` asks for extra flags (profiling), the same setup with them added.
enum PageBrowser {
    Harness(Browser),
    WithFlags {
        driver: WebDriver,
        // Dropped after `driver`: the session ends before chromedriver is killed.
        _chromedriver: ChildGuard,
        _profile: TempDir,
    },
}

impl PageBrowser {
    fn start() -> Result<PageBrowser, String> {
        let extra = std::env::var(EXTRA_FLAGS_VARIABLE).unwrap_or_default();
        if extra.trim().is_empty() {
            return Ok(PageBrowser::Harness(Browser::start()));
        }
        eprintln!("# extra Chromium flags: {extra}");
        let port = free_port();
        let mut command = Command::new("/usr/bin/chromedriver");
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(std::process::Stdio::null());
        let mut chromedriver = ChildGuard::spawn("chromedriver", command);
        chromedriver.wait_for_port(port, Duration::from_secs(20));
        let profile = TempDir::new("wasm-bench-profile");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra.split_whitespace().map(str::to_string));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args },
        });
        let driver = WebDriver::new_session(&format!("http://127.0.0.1:{port}"), capabilities)
            .map_err(|e| format!("starting Chromium with {extra}: {e}"))?;
        Ok(PageBrowser::WithFlags {
            driver,
            _chromedriver: chromedriver,
            _profile: profile,
        })
    }

    fn webdriver(&self) -> &WebDriver {
        match self {
            PageBrowser::Harness(browser) => browser.webdriver(),
            PageBrowser::WithFlags { driver, .. } => driver,
        }
    }
}

impl Drop for PageBrowser {
    fn drop(&mut self) {
        if let PageBrowser::WithFlags { driver, .. } = self {
            let _ = driver.delete_session();
        }
    }
}
