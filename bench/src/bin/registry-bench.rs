//! The registry benchmark runner (`scripts/bench.sh registry` calls it): one image opened in
//! the page from a loopback `docker-registry`, directly and through `layerscope serve`'s
//! proxy, side by side in one run, in headless Chromium.
//!
//! ```text
//! registry-bench --image OCI_ARCHIVE [--reps N]
//! ```
//!
//! The image (an `oci-archive`, the Debian root file system of `scripts/bench.sh`) is pushed
//! with skopeo to two registries: one sending CORS headers for the page's origin (the page
//! reads it directly) and one sending none (the browser blocks the direct read and the page
//! goes through `/proxy/` of the server that served it). Each open is a fresh browser (no
//! cache, no remembered route) that loads the page, then submits the reference; the clock
//! starts at the submit. Opens alternate, the proxied one first in every other round, and
//! medians are printed as `name: value unit` lines: time to the first history row and to
//! every layer scanned (the progress bar gone, every layer row final), and the fastest run
//! of each. Beside them in every round, the native tools on the same image from the same
//! registry: `skopeo copy docker://… dir:…` and `tar -tzf` of each copied layer, and the
//! direct open's time to every layer scanned against theirs, with the issue's target
//! (<= 0.8x).
//!
//! Requests per open are counted by kind on the wire, by relays ([`Tap`]) in front of the
//! registries and of the page's server, because Chromium's DevTools log does not carry a
//! dedicated worker's requests: for the direct open, what the browser asked the registry;
//! for the proxied open, the blocked direct tries the browser sent the registry, what it
//! asked the proxy, and what the proxy asked the registry. Requests the browser answered from
//! its cache are not requests, and are not counted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use layerscope_bench::median;
use layerscope_e2e::tap::{count_by_kind, Seen, Tap};
use layerscope_e2e::{push_archive, Browser, LayerscopeServer, Registry, RegistryConfig, TempDir};
use serde_json::Value;

const DEFAULT_REPS: usize = 5;
/// How long one open may take before the runner gives up.
const OPEN_TIMEOUT: Duration = Duration::from_secs(300);
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// The issue's target for the direct open against `skopeo copy` + `tar -tzf`.
const TARGET_NATIVE_RATIO: f64 = 0.8;
const REPOSITORY: &str = "bench/debian";
const TAG: &str = "1";
/// The kinds reported for every open, zero or not (see [`count_by_kind`]).
const KINDS: &[&str] = &[
    "preflight OPTIONS",
    "ping GET",
    "token GET",
    "manifest HEAD",
    "manifest GET",
    "config GET",
    "layer HEAD",
    "layer GET",
    "tags GET",
];

/// What the page shows, read in one script per poll.
const PAGE_STATE: &str = r#"
const rows = [...document.querySelectorAll('[data-testid="layer-row"]')];
const error = document.querySelector('[data-testid="error"]');
return {
  history: document.querySelectorAll('[data-testid="history-row"]').length,
  busy: document.querySelector('[data-testid="progress"]') !== null,
  layers: rows.length,
  pending: rows.filter(row => row.textContent.includes('…')).length,
  error: error ? error.textContent : null,
  tagRows: document.querySelectorAll('[data-testid="tag-row"]').length,
  tagsUnresolved: [...document.querySelectorAll('[data-testid="tag-row"]')]
    .filter(row => !row.querySelector('[data-testid="tag-digest"]')).length,
};"#;

struct Options {
    image: PathBuf,
    reps: usize,
}

/// One open's times, from the submit.
struct Timing {
    first_history_row: f64,
    all_layers: f64,
}

/// The two ways, with what each needs to be opened and counted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Way {
    Direct,
    Proxied,
}

impl Way {
    fn label(self) -> &'static str {
        match self {
            Way::Direct => "direct",
            Way::Proxied => "proxied",
        }
    }
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("registry-bench: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("registry-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let usage = "usage: registry-bench --image OCI_ARCHIVE [--reps N]";
    let mut image = None;
    let mut reps = DEFAULT_REPS;
    let mut rest = args.into_iter();
    while let Some(flag) = rest.next() {
        let mut value = || rest.next().ok_or(format!("{flag} needs a value; {usage}"));
        match flag.as_str() {
            "--image" => image = Some(PathBuf::from(value()?)),
            "--reps" => {
                let text = value()?;
                reps = match text.parse::<usize>() {
                    Ok(count) if count > 0 => count,
                    _ => return Err(format!("--reps {text:?} is not a positive number")),
                };
            }
            _ => return Err(format!("unexpected argument {flag:?}; {usage}")),
        }
    }
    let image = image.ok_or(format!("--image is required; {usage}"))?;
    if !image.is_file() {
        return Err(format!("{} is not a file", image.display()));
    }
    Ok(Options { image, reps })
}

/// Everything one run holds: the registries, their taps, the page's server and its tap.
struct Setup {
    page_url: String,
    page_tap: Tap,
    cors_tap: Tap,
    plain_tap: Tap,
    config_digest: String,
    layer_count: usize,
    layer_bytes: u64,
    /// Each layer's digest, bottom first (`sha256:…`).
    layer_digests: Vec<String>,
    // Kept alive for the run.
    _server: LayerscopeServer,
    _cors: Registry,
    _plain: Registry,
}

impl Setup {
    fn start(image: &std::path::Path) -> Result<Setup, String> {
        let plain = Registry::start(RegistryConfig::plain());
        let plain_tap = Tap::start(plain.port);
        // The page's server proxies the plain registry (as the page names it: the tap).
        let server =
            LayerscopeServer::start_with_flags(&["--insecure-registry".into(), plain_tap.host()]);
        // The browser reaches the page's server through a tap, so its origin is the tap's.
        let page_tap = Tap::start(server.port);
        let page_url = format!("http://{}/", page_tap.host());
        let cors =
            Registry::start(RegistryConfig::plain().with_cors(page_url.trim_end_matches('/')));
        let cors_tap = Tap::start(cors.port);
        let source = format!("oci-archive:{}", image.display());
        let repo_tag = format!("{REPOSITORY}:{TAG}");
        eprintln!("# pushing {} to both registries", image.display());
        let pushed = push_archive(&source, &cors, &repo_tag);
        let again = push_archive(&source, &plain, &repo_tag);
        if pushed.digest != again.digest {
            return Err(format!(
                "the two registries hold different manifests ({} and {})",
                pushed.digest, again.digest
            ));
        }
        let manifest = cors.get_with_headers(
            &format!("/v2/{REPOSITORY}/manifests/{TAG}"),
            false,
            &[(
                "Accept",
                "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            )],
        );
        let manifest: Value = serde_json::from_str(&manifest.body)
            .map_err(|error| format!("the pushed manifest: {error}"))?;
        let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
        Ok(Setup {
            page_url,
            page_tap,
            cors_tap,
            plain_tap,
            config_digest: manifest["config"]["digest"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            layer_count: layers.len(),
            layer_bytes: layers
                .iter()
                .filter_map(|layer| layer["size"].as_u64())
                .sum(),
            layer_digests: layers
                .iter()
                .filter_map(|layer| layer["digest"].as_str().map(str::to_string))
                .collect(),
            _server: server,
            _cors: cors,
            _plain: plain,
        })
    }

    fn reference(&self, way: Way) -> String {
        let host = match way {
            Way::Direct => self.cors_tap.host(),
            Way::Proxied => self.plain_tap.host(),
        };
        format!("{host}/{REPOSITORY}:{TAG}")
    }

    fn clear_taps(&self) {
        self.page_tap.take();
        self.cors_tap.take();
        self.plain_tap.take();
    }

    /// The requests of one open by kind, labelled by where they went.
    fn counts(&self, way: Way) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        let mut add = |label: &str, seen: &[Seen]| {
            for (kind, n) in count_by_kind(seen, &self.config_digest) {
                *counts.entry(format!("{label} {kind}")).or_insert(0) += n;
            }
        };
        // The page's own files (the worker's script and wasm) are not the image's.
        let to_page_server: Vec<Seen> = self
            .page_tap
            .take()
            .into_iter()
            .filter(|seen| seen.path.starts_with("/proxy"))
            .collect();
        match way {
            Way::Direct => add("browser to registry", &self.cors_tap.take()),
            Way::Proxied => {
                let (from_browser, from_proxy): (Vec<Seen>, Vec<Seen>) = self
                    .plain_tap
                    .take()
                    .into_iter()
                    .partition(|seen| seen.from_browser);
                add("browser to registry (blocked)", &from_browser);
                add("browser to proxy", &to_page_server);
                add("proxy to registry", &from_proxy);
            }
        }
        counts
    }
}

fn run(options: &Options) -> Result<(), String> {
    let setup = Setup::start(&options.image)?;
    let mut times: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let mut first_counts: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    let mut native_times = Vec::new();
    for round in 0..options.reps {
        let native = skopeo_and_tar(&setup)?;
        eprintln!(
            "# round {} native: skopeo copy + tar -tzf {native:.3} s",
            round + 1
        );
        native_times.push(native);
        let ways = if round % 2 == 0 {
            [Way::Direct, Way::Proxied]
        } else {
            [Way::Proxied, Way::Direct]
        };
        for way in ways {
            let timing = open_once(&setup, way)?;
            let counts = setup.counts(way);
            eprintln!(
                "# round {} {}: first history row {:.3} s, all layers {:.3} s",
                round + 1,
                way.label(),
                timing.first_history_row,
                timing.all_layers
            );
            first_counts.entry(way.label()).or_insert(counts);
            let entry = times.entry(way.label()).or_default();
            entry.0.push(timing.first_history_row);
            entry.1.push(timing.all_layers);
        }
    }
    println!("registry_image_layers: {} layers", setup.layer_count);
    println!("registry_image_layer_bytes: {} B", setup.layer_bytes);
    println!("registry_repetitions: {} runs", options.reps);
    let mut medians = BTreeMap::new();
    for way in [Way::Direct, Way::Proxied] {
        let (first, all) = &times[way.label()];
        let (first, all) = (median(first.iter().copied()), median(all.iter().copied()));
        medians.insert(way.label(), (first, all));
        println!("registry_{}_first_history_row: {first:.3} s", way.label());
        println!("registry_{}_all_layers: {all:.3} s", way.label());
        // The fastest run, which other load on a shared machine disturbs less.
        let (first_runs, all_runs) = &times[way.label()];
        let fastest = |runs: &[f64]| runs.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "registry_{}_first_history_row_fastest: {:.3} s",
            way.label(),
            fastest(first_runs)
        );
        println!(
            "registry_{}_all_layers_fastest: {:.3} s",
            way.label(),
            fastest(all_runs)
        );
        println!(
            "registry_{}_throughput: {:.1} MB/s (compressed layer bytes to all layers)",
            way.label(),
            setup.layer_bytes as f64 / 1e6 / all
        );
    }
    let (direct, proxied) = (medians["direct"], medians["proxied"]);
    println!(
        "registry_proxied_vs_direct_first_history_row: {:.2} x (proxied time / direct time)",
        proxied.0 / direct.0
    );
    println!(
        "registry_proxied_vs_direct_all_layers: {:.2} x (proxied time / direct time)",
        proxied.1 / direct.1
    );
    let native = median(native_times.iter().copied());
    println!("registry_skopeo_copy_tar_tzf_seconds: {native:.3} s (skopeo copy to a directory, then tar -tzf of every layer)");
    let ratio = direct.1 / native;
    println!(
        "registry_direct_all_layers_vs_skopeo_tar: {ratio:.2} x (page time / native time; target <= {TARGET_NATIVE_RATIO}: {})",
        if ratio <= TARGET_NATIVE_RATIO { "met" } else { "not met" }
    );
    for way in [Way::Direct, Way::Proxied] {
        print_counts(way, &first_counts[way.label()]);
    }
    Ok(())
}

/// `skopeo copy` of the image from the CORS registry (through its tap, as the page reads
/// it) to a directory, then `tar -tzf` of each layer: seconds for both.
fn skopeo_and_tar(setup: &Setup) -> Result<f64, String> {
    let work = TempDir::new("registry-bench-skopeo");
    let dir = work.path().join("image");
    let reference = setup.reference(Way::Direct);
    let started = Instant::now();
    let status = Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--insecure-policy",
            "--src-tls-verify=false",
        ])
        .arg(format!("docker://{reference}"))
        .arg(format!("dir:{}", dir.display()))
        .stdout(Stdio::null())
        .status()
        .map_err(|error| format!("running skopeo: {error}"))?;
    if !status.success() {
        return Err(format!("skopeo copy docker://{reference} failed: {status}"));
    }
    for digest in &setup.layer_digests {
        let layer = dir.join(digest.trim_start_matches("sha256:"));
        let status = Command::new("tar")
            .arg("-tzf")
            .arg(&layer)
            .stdout(Stdio::null())
            .status()
            .map_err(|error| format!("running tar: {error}"))?;
        if !status.success() {
            return Err(format!("tar -tzf {} failed", layer.display()));
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Every kind of [`KINDS`] for each place the open's requests went, zeros included.
fn print_counts(way: Way, counts: &BTreeMap<String, usize>) {
    let places: Vec<&str> = match way {
        Way::Direct => vec!["browser to registry"],
        Way::Proxied => vec![
            "browser to registry (blocked)",
            "browser to proxy",
            "proxy to registry",
        ],
    };
    for place in places {
        let name = |kind: &str| {
            format!("registry_{}_requests_{place}_{kind}", way.label())
                .to_ascii_lowercase()
                .replace(['(', ')'], "")
                .replace(' ', "_")
        };
        for kind in KINDS {
            let n = counts.get(&format!("{place} {kind}")).copied().unwrap_or(0);
            println!("{}: {n} requests", name(kind));
        }
        // Anything outside the kinds is printed too rather than lost.
        for (key, n) in counts {
            let Some(kind) = key.strip_prefix(&format!("{place} ")) else {
                continue;
            };
            if !KINDS.contains(&kind) {
                println!("{}: {n} requests", name(kind));
            }
        }
    }
}

/// One open in a fresh browser: the page loaded, the reference submitted, the clock running
/// until every layer is final; it returns once the tag list is resolved too.
fn open_once(setup: &Setup, way: Way) -> Result<Timing, String> {
    let browser = Browser::start();
    browser.open(&setup.page_url);
    let input = browser.wait_for_testid("ref-input", OPEN_TIMEOUT);
    browser
        .webdriver()
        .send_keys(&input, &setup.reference(way))
        .map_err(|error| error.to_string())?;
    setup.clear_taps();
    let started = Instant::now();
    browser
        .webdriver()
        .send_keys(&input, "\u{E007}")
        .map_err(|error| error.to_string())?;
    let mut first_history_row = None;
    let mut all_layers = None;
    loop {
        let state = browser.execute(PAGE_STATE);
        let elapsed = started.elapsed().as_secs_f64();
        if let Some(error) = state["error"].as_str() {
            return Err(format!("the {} open failed: {error}", way.label()));
        }
        // The Files tab is shown first: its layer rows come with the overview (history and
        // layers), as the History tab's rows would.
        if first_history_row.is_none() && state["layers"].as_u64().unwrap_or(0) > 0 {
            first_history_row = Some(elapsed);
        }
        let finished = first_history_row.is_some()
            && state["busy"] == Value::Bool(false)
            && state["layers"].as_u64() == Some(setup.layer_count as u64)
            && state["pending"].as_u64() == Some(0);
        if finished && all_layers.is_none() {
            all_layers = Some(elapsed);
        }
        // The open's requests end with the tag list and its digests (after the layers): the
        // counts wait for them, the times do not.
        // The tag list is in the Tags tab, not shown here: the open counts as settled once
        // the progress is gone and no tag row is still unresolved.
        let settled = state["tagsUnresolved"].as_u64() == Some(0);
        if let (Some(first_history_row), Some(all_layers), true) =
            (first_history_row, all_layers, settled)
        {
            return Ok(Timing {
                first_history_row,
                all_layers,
            });
        }
        if started.elapsed() > OPEN_TIMEOUT {
            return Err(format!(
                "the {} open did not finish in {} s: {state}",
                way.label(),
                OPEN_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}
