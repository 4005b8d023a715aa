//! The dropped-archive benchmark runner (`scripts/bench.sh drop` calls it): archives dropped
//! on the page (dist/, served by `layerscope serve`) in headless Chromium, side by side with
//! the native tools in one run.
//!
//! ```text
//! drop-bench --debian OCI_ARCHIVE --layer MEMBER --ten OCI_ARCHIVE [--reps N]
//! ```
//!
//! 1. The Debian root file system (one gzip layer) as an OCI archive, dropped on the page
//!    until its tree is complete (the first `tree-row` drawn and `tree-status` present): by
//!    the pool of scan workers (the page's default) and by the layer worker alone
//!    (`?scan-workers=0`, as before the pool), against `tar -xOf ARCHIVE MEMBER | tar -tzf -`.
//! 2. The same file system in ten gzip layers: the pool (several layers at once) against one
//!    scan worker (`?scan-workers=1`, one layer after another), to the tree and to every
//!    digest verified.
//!
//! Each open is a fresh browser with the page loaded and left idle for [`SETTLE`], as long
//! as a person takes to drop a file (the page loads its layer worker ahead of the drop, and
//! Chromium compiles the page's wasm in the background); the clock is the page's own:
//! `performance.now()` at the file input's `change` event, and when a `MutationObserver`
//! first sees the tree complete and the badge say verified, so polling adds nothing. The
//! commands alternate within each round, in a rotating order, and medians are printed as
//! `name: value unit` lines, with the fastest run of each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use layerscope_bench::median;
use layerscope_e2e::{Browser, LayerscopeServer};

const DEFAULT_REPS: usize = 5;
/// How long one open may take before the runner gives up.
const OPEN_TIMEOUT: Duration = Duration::from_secs(300);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long the loaded page is left alone before the drop.
const SETTLE: Duration = Duration::from_secs(1);
/// The page's tree must be complete in this fraction of the native listing's time.
const TREE_TARGET: f64 = 0.8;

/// Installed before the drop: the page's own clock at the drop and at each milestone.
const CLOCK: &str = r#"
window.__bench = { start: null, tree: null, verified: null, error: null };
document.addEventListener('change', () => {
  if (window.__bench.start === null) window.__bench.start = performance.now();
}, true);
const check = () => {
  const bench = window.__bench;
  if (bench.start === null) return;
  if (bench.tree === null && document.querySelector('[data-testid="tree-row"]')
      && document.querySelector('[data-testid="tree-status"]')) bench.tree = performance.now();
  const badge = document.querySelector('[data-testid="verify-status"]');
  if (bench.verified === null && badge && badge.textContent.startsWith('verified')) {
    bench.verified = performance.now();
  }
  const error = document.querySelector('[data-testid="error"]');
  if (error) bench.error = error.textContent;
};
new MutationObserver(check).observe(document.body,
  { childList: true, subtree: true, characterData: true, attributes: true });
return navigator.hardwareConcurrency;"#;

struct Options {
    debian: PathBuf,
    layer: String,
    ten: PathBuf,
    reps: usize,
}

/// What is timed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Run {
    /// `tar -xOf | tar -tzf -` of the Debian layer.
    TarList,
    /// The Debian archive in the page, with the pool.
    DebianPool,
    /// The Debian archive in the page, the layer worker alone.
    DebianAlone,
    /// The ten-layer archive, with the pool.
    TenPool,
    /// The ten-layer archive, one scan worker.
    TenOneWorker,
}

impl Run {
    const ALL: [Run; 5] = [
        Run::TarList,
        Run::DebianPool,
        Run::DebianAlone,
        Run::TenPool,
        Run::TenOneWorker,
    ];

    /// The page's query for this run.
    fn query(self) -> &'static str {
        match self {
            Run::DebianAlone => "?scan-workers=0",
            Run::TenOneWorker => "?scan-workers=1",
            _ => "",
        }
    }
}

/// One open's times from the drop, in seconds.
#[derive(Clone, Copy)]
struct Timing {
    tree: f64,
    verified: f64,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("drop-bench: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("drop-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let usage =
        "usage: drop-bench --debian OCI_ARCHIVE --layer MEMBER --ten OCI_ARCHIVE [--reps N]";
    let (mut debian, mut layer, mut ten) = (None, None, None);
    let mut reps = DEFAULT_REPS;
    let mut rest = args.into_iter();
    while let Some(flag) = rest.next() {
        let mut value = || rest.next().ok_or(format!("{flag} needs a value; {usage}"));
        match flag.as_str() {
            "--debian" => debian = Some(PathBuf::from(value()?)),
            "--layer" => layer = Some(value()?),
            "--ten" => ten = Some(PathBuf::from(value()?)),
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
    let debian = debian.ok_or(format!("--debian is required; {usage}"))?;
    let ten = ten.ok_or(format!("--ten is required; {usage}"))?;
    for archive in [&debian, &ten] {
        if !archive.is_file() {
            return Err(format!("{} is not a file", archive.display()));
        }
    }
    Ok(Options {
        debian,
        layer: layer.ok_or(format!("--layer is required; {usage}"))?,
        ten,
        reps,
    })
}

fn run(options: &Options) -> Result<(), String> {
    let server = LayerscopeServer::start();
    let mut times: BTreeMap<Run, Vec<Timing>> = BTreeMap::new();
    let mut cores = None;
    // One open first, untimed: the first Chromium start on a machine is slow.
    open_once(&server, &options.debian, Run::DebianPool)?;
    for round in 0..options.reps {
        for step in 0..Run::ALL.len() {
            let which = Run::ALL[(round + step) % Run::ALL.len()];
            let timing = match which {
                Run::TarList => {
                    let seconds = tar_list(&options.debian, &options.layer)?;
                    Timing {
                        tree: seconds,
                        verified: seconds,
                    }
                }
                Run::DebianPool | Run::DebianAlone => {
                    let (timing, page_cores) = open_once(&server, &options.debian, which)?;
                    cores = Some(page_cores);
                    timing
                }
                Run::TenPool | Run::TenOneWorker => open_once(&server, &options.ten, which)?.0,
            };
            eprintln!(
                "# round {} {which:?}: tree {:.3} s, verified {:.3} s",
                round + 1,
                timing.tree,
                timing.verified
            );
            times.entry(which).or_default().push(timing);
        }
    }
    let tree = |run: Run| median(times[&run].iter().map(|t| t.tree));
    let verified = |run: Run| median(times[&run].iter().map(|t| t.verified));
    let fastest = |run: Run| {
        times[&run]
            .iter()
            .map(|t| t.tree)
            .fold(f64::INFINITY, f64::min)
    };
    let cores = cores.unwrap_or_default();
    println!("drop_repetitions: {} runs", options.reps);
    println!("drop_hardware_concurrency: {cores} cores");
    println!(
        "drop_scan_workers: {} workers (min(hardwareConcurrency, 4))",
        cores.clamp(1, 4)
    );
    println!("drop_debian_archive_bytes: {} B", file_len(&options.debian));
    println!(
        "tar_list_debian_seconds: {:.3} s (tar -xOf ARCHIVE LAYER | tar -tzf -)",
        tree(Run::TarList)
    );
    println!(
        "drop_debian_tree_seconds: {:.3} s (drop to the tree drawn, pool)",
        tree(Run::DebianPool)
    );
    println!(
        "drop_debian_tree_fastest_seconds: {:.3} s",
        fastest(Run::DebianPool)
    );
    println!(
        "drop_debian_verified_seconds: {:.3} s (drop to every digest checked, pool)",
        verified(Run::DebianPool)
    );
    println!(
        "drop_debian_tree_alone_seconds: {:.3} s (?scan-workers=0: the layer worker alone, digests first, as before the pool)",
        tree(Run::DebianAlone)
    );
    println!(
        "drop_debian_tree_vs_tar_list: {:.2} x (page time / tar time; target <= {TREE_TARGET})",
        tree(Run::DebianPool) / tree(Run::TarList)
    );
    println!(
        "drop_debian_tree_alone_vs_tar_list: {:.2} x (page time / tar time)",
        tree(Run::DebianAlone) / tree(Run::TarList)
    );
    println!(
        "drop_ten_layers_archive_bytes: {} B",
        file_len(&options.ten)
    );
    for (run, label) in [(Run::TenPool, "pool"), (Run::TenOneWorker, "one_worker")] {
        println!(
            "drop_ten_layers_{label}_tree_seconds: {:.3} s{}",
            tree(run),
            if run == Run::TenOneWorker {
                " (?scan-workers=1: one layer after another)"
            } else {
                " (layers in parallel)"
            }
        );
        println!(
            "drop_ten_layers_{label}_verified_seconds: {:.3} s",
            verified(run)
        );
    }
    println!(
        "drop_ten_layers_parallel_speedup_tree: {:.2} x (one worker time / pool time; above 1: the pool is faster)",
        tree(Run::TenOneWorker) / tree(Run::TenPool)
    );
    println!(
        "drop_ten_layers_parallel_speedup_verified: {:.2} x (one worker time / pool time)",
        verified(Run::TenOneWorker) / verified(Run::TenPool)
    );
    Ok(())
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Seconds of `tar -xOf ARCHIVE MEMBER | tar -tzf -`, the listing discarded.
fn tar_list(archive: &Path, member: &str) -> Result<f64, String> {
    let started = Instant::now();
    let status = Command::new("sh")
        .args(["-c", r#"tar -xOf "$0" "$1" | tar -tzf - >/dev/null"#])
        .arg(archive)
        .arg(member)
        .stdout(Stdio::null())
        .status()
        .map_err(|error| format!("running tar: {error}"))?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!(
            "tar -xOf {} {member} | tar -tzf - failed",
            archive.display()
        ));
    }
    Ok(seconds)
}

/// One drop of `archive` on a freshly loaded page in a fresh browser: the page's times from
/// the drop to the tree and to verified, and the browser's core count.
fn open_once(server: &LayerscopeServer, archive: &Path, run: Run) -> Result<(Timing, u64), String> {
    let browser = Browser::start();
    browser.open(&format!("{}{}", server.url, run.query()));
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    std::thread::sleep(SETTLE);
    let cores = browser.execute(CLOCK).as_u64().unwrap_or(0);
    browser.set_file("drop-zone", archive);
    let started = Instant::now();
    loop {
        let bench = browser.execute("return window.__bench;");
        if let Some(error) = bench["error"].as_str() {
            return Err(format!("{run:?}: the page shows an error: {error}"));
        }
        let at = |key: &str| bench[key].as_f64();
        if let (Some(start), Some(tree), Some(verified)) = (at("start"), at("tree"), at("verified"))
        {
            return Ok((
                Timing {
                    tree: (tree - start) / 1000.0,
                    verified: (verified - start) / 1000.0,
                },
                cores,
            ));
        }
        if started.elapsed() > OPEN_TIMEOUT {
            return Err(format!(
                "{run:?}: {} not done in {} s: {bench}",
                archive.display(),
                OPEN_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arguments_name_both_archives_and_the_layer() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let error = parse_args(args(&["--debian", "/nonexistent"]))
            .err()
            .unwrap();
        assert!(error.contains("--ten is required"), "{error}");
        let error = parse_args(args(&["--reps", "0"])).err().unwrap();
        assert!(error.contains("not a positive number"), "{error}");
        assert_eq!(Run::DebianAlone.query(), "?scan-workers=0");
        assert_eq!(Run::TenOneWorker.query(), "?scan-workers=1");
    }
}
