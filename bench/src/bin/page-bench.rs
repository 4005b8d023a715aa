//! The page benchmark runner (`scripts/bench.sh page` calls it): the figures of the page
//! itself, each in headless Chromium against the built page (`dist/`, served by
//! `layerscope serve`), printed as `name: value unit` lines with their targets.
//!
//! ```text
//! page-bench --debian OCI_ARCHIVE --tree DOCKER_SAVE --million DOCKER_SAVE
//!            [--reps N] [--million-reps N] [--part start|open|tree|million]... [--profile] [--trace]
//! ```
//!
//! - `open`: the Debian-rootfs image (one gzip layer) pushed with skopeo to a loopback
//!   `docker-registry` that sends CORS headers, opened in the page until the merged tree is
//!   complete (the Files tab shows its first `tree-row` and its `tree-status`), against
//!   `skopeo copy docker://… dir:…` and `tar -tzf` of the copied layer, alternating in each
//!   round; and the main thread's long tasks during each open.
//! - `tree`: a dropped archive of 100,000 empty files: the first paint of its tree (from the
//!   page posting its first window request to the worker until the frame after the first
//!   `tree-row` is in the document) and a scripted scroll of `.tree-scroll`, in frames per
//!   second.
//! - `million`: a dropped archive of 1,000,000 empty files, analysed until the tree is shown
//!   and every digest is checked: the main thread's long tasks, and the peak memory of the
//!   page's renderer process (which runs the page's workers) against the same page idle.
//!
//! What the page does is read without changing it: a script installed through DevTools
//! (`Page.addScriptToEvaluateOnNewDocument`) runs before the page's own scripts, observes
//! `longtask` entries, notes the tree requests the page posts to its worker and the size and
//! kind of every message a worker posts to the page, and watches for the first tree row.
//! Memory is read from `/proc` (see [`MemorySampler`]). Timings are printed, never asserted:
//! the machine is shared.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use layerscope_bench::median;
use layerscope_e2e::{push_archive, Browser, LayerscopeServer, Registry, RegistryConfig, TempDir};
use serde_json::{json, Value};

const DEFAULT_REPS: usize = 5;
const DEFAULT_MILLION_REPS: usize = 1;
/// How long one open or drop may take before the runner gives up.
const OPEN_TIMEOUT: Duration = Duration::from_secs(600);
/// How often the runner reads the page. Times come from the page's own clock (the
/// instruments), so polling is only for knowing when to read them, and each poll is a script
/// on the main thread being measured: not too often.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How often the renderer's resident memory is read.
const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(20);
const REPOSITORY: &str = "bench/debian";
const TAG: &str = "1";
/// The issue's targets.
const TARGET_OPEN_RATIO: f64 = 0.8;
const LONG_TASK_MS: f64 = 50.0;
const TARGET_FPS: f64 = 60.0;
const MEMORY_BASE_BYTES: f64 = 64.0 * 1024.0 * 1024.0;
const TARGET_BYTES_PER_ENTRY: f64 = 200.0;
/// The scripted scroll: speed and length. 3,000 px/s is a brisk flick of a wheel, about
/// 136 rows a second.
const SCROLL_PX_PER_S: f64 = 3000.0;
const SCROLL_MS: f64 = 3000.0;
/// How long the idle frame clock is counted, for the ceiling of the frame rate.
const IDLE_FRAMES_MS: f64 = 1000.0;

/// Installed before the page's scripts: what the page does, noted without changing it.
///
/// - `longTasks`: `[startTime, duration]` of every `longtask` entry (main thread only);
/// - `treeRequests`: `[time, kind]` of every tree question posted to a worker;
/// - `messages`: `[time, length, kind]` of every message a worker posted to the page (a
///   string's length in UTF-16 units, -1 for a non-string; the `kind` tag of its JSON);
///   the listener is added when the worker is made, so it runs first in the message's task;
/// - `firstRow`: once the first window request is posted, when the first `tree-row` entered
///   the document, the next animation frame, and a task queued from that frame (after its
///   paint).
const INSTRUMENT: &str = r#"
(() => {
  if (window.__bench) return;
  const bench = { longTasks: [], treeRequests: [], messages: [], firstRow: null };
  window.__bench = bench;
  try {
    new PerformanceObserver(list => {
      for (const entry of list.getEntries()) bench.longTasks.push([entry.startTime, entry.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch (error) {
    bench.observerError = String(error);
  }
  const kindOf = text => (text.slice(0, 200).match(/"kind":"(\w+)"/) || [])[1] || '?';
  const watchFirstRow = requestedAt => {
    const drawn = () => {
      const inDocument = performance.now();
      requestAnimationFrame(frame => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => {
          bench.firstRow = { requestedAt, inDocument, frame, painted: performance.now() };
        };
        channel.port2.postMessage(null);
      });
    };
    const observer = new MutationObserver(() => {
      if (document.querySelector('[data-testid="tree-row"]')) {
        observer.disconnect();
        drawn();
      }
    });
    observer.observe(document.documentElement, { childList: true, subtree: true });
  };
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (message, ...rest) {
    if (message && typeof message === 'object' && typeof message.tree === 'string') {
      const now = performance.now();
      const kind = kindOf(message.tree);
      const first = kind === 'window' && !bench.treeRequests.some(request => request[1] === 'window');
      bench.treeRequests.push([now, kind]);
      if (first) watchFirstRow(now);
    }
    return post.call(this, message, ...rest);
  };
  window.Worker = new Proxy(window.Worker, {
    construct(target, args, newTarget) {
      const worker = Reflect.construct(target, args, newTarget);
      worker.addEventListener('message', event => {
        const data = event.data;
        const text = typeof data === 'string' ? data : null;
        bench.messages.push([performance.now(), text ? text.length : -1, text ? kindOf(text) : typeof data]);
      });
      return worker;
    },
  });
})();
"#;

/// The tree pane, read in one script per poll.
const TREE_STATE: &str = r#"
const error = document.querySelector('[data-testid="error"]');
const status = document.querySelector('[data-testid="tree-status"]');
const verify = document.querySelector('[data-testid="verify-status"]');
return {
  now: performance.now(),
  rows: document.querySelectorAll('[data-testid="tree-row"]').length,
  status: status ? status.textContent : null,
  busy: document.querySelector('[data-testid="progress"]') !== null,
  verify: verify ? verify.textContent : null,
  error: error ? error.textContent : null,
};"#;

/// One part of the run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    Start,
    Open,
    Tree,
    Million,
}

impl Part {
    fn parse(name: &str) -> Option<Part> {
        match name {
            "start" => Some(Part::Start),
            "open" => Some(Part::Open),
            "tree" => Some(Part::Tree),
            "million" => Some(Part::Million),
            _ => None,
        }
    }
}

struct Options {
    debian: PathBuf,
    tree: PathBuf,
    million: PathBuf,
    reps: usize,
    million_reps: usize,
    parts: Vec<Part>,
    /// After the measured runs, one more open of the Debian and the 1M image with the main
    /// thread's CPU profile, summarised on stderr (not counted: profiling slows the page).
    profile: bool,
    /// After the measured runs, one more open of the Debian image (and drop of the 1M image)
    /// with Chromium's trace of the page's main thread: each task over the long-task limit,
    /// with what ran in it.
    trace: bool,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("page-bench: {message}");
            return ExitCode::from(2);
        }
    };
    let mut result = Ok(());
    for part in &options.parts {
        result = match part {
            Part::Start => bench_start(&options),
            Part::Open => bench_open(&options),
            Part::Tree => bench_tree(&options),
            Part::Million => bench_million(&options),
        };
        if result.is_err() {
            break;
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("page-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let usage = "usage: page-bench --debian OCI_ARCHIVE --tree DOCKER_SAVE --million DOCKER_SAVE \
                 [--reps N] [--million-reps N] [--part start|open|tree|million]... [--profile] [--trace]";
    let (mut debian, mut tree, mut million) = (None, None, None);
    let mut reps = DEFAULT_REPS;
    let mut million_reps = DEFAULT_MILLION_REPS;
    let mut parts = Vec::new();
    let mut profile = false;
    let mut trace = false;
    let mut rest = args.into_iter();
    while let Some(flag) = rest.next() {
        let mut value = || rest.next().ok_or(format!("{flag} needs a value; {usage}"));
        let count = |text: String| match text.parse::<usize>() {
            Ok(count) if count > 0 => Ok(count),
            _ => Err(format!("{text:?} is not a positive number")),
        };
        match flag.as_str() {
            "--debian" => debian = Some(PathBuf::from(value()?)),
            "--tree" => tree = Some(PathBuf::from(value()?)),
            "--million" => million = Some(PathBuf::from(value()?)),
            "--reps" => reps = count(value()?)?,
            "--million-reps" => million_reps = count(value()?)?,
            "--profile" => profile = true,
            "--trace" => trace = true,
            "--part" => {
                let name = value()?;
                parts.push(Part::parse(&name).ok_or(format!("no part {name:?}; {usage}"))?);
            }
            _ => return Err(format!("unexpected argument {flag:?}; {usage}")),
        }
    }
    if parts.is_empty() {
        parts = vec![Part::Open, Part::Tree, Part::Million];
    }
    let file = |path: Option<PathBuf>, flag: &str, part: Part| -> Result<PathBuf, String> {
        let needed = parts.contains(&part);
        match path {
            Some(path) if needed && !path.is_file() => {
                Err(format!("{flag} {} is not a file", path.display()))
            }
            Some(path) => Ok(path),
            None if needed => Err(format!("{flag} is required for part {part:?}; {usage}")),
            None => Ok(PathBuf::new()),
        }
    };
    Ok(Options {
        debian: file(debian, "--debian", Part::Open)?,
        tree: file(tree, "--tree", Part::Tree)?,
        million: file(million, "--million", Part::Million)?,
        reps,
        million_reps,
        parts,
        profile,
        trace,
    })
}

// --- the instrumented browser --------------------------------------------------------

/// A fresh headless Chromium with [`INSTRUMENT`] installed for every document it loads.
fn instrumented_browser() -> Result<Browser, String> {
    instrument(Browser::start())
}

/// [`INSTRUMENT`] installed in `browser` for every document it loads.
fn instrument(browser: Browser) -> Result<Browser, String> {
    browser
        .webdriver()
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": INSTRUMENT }),
        )
        .map_err(|error| format!("installing the page instruments: {error}"))?;
    Ok(browser)
}

/// The page's clock (`performance.now()`, ms).
fn page_now(browser: &Browser) -> f64 {
    browser
        .execute("return performance.now();")
        .as_f64()
        .unwrap_or(0.0)
}

/// What the instruments noted, read once an analysis is over.
struct Noted {
    long_tasks: Vec<(f64, f64)>,
    messages: Vec<(f64, i64, String)>,
    tree_requests: Vec<(f64, String)>,
    first_row: Option<FirstRow>,
}

/// Times of the first tree row, page clock (ms).
struct FirstRow {
    requested_at: f64,
    in_document: f64,
    painted: f64,
}

/// Waits for the instruments to note the first tree row's frame (it ends a little after the
/// row is in the document) and returns what they noted.
fn noted_with_first_row(browser: &Browser) -> Result<(Noted, FirstRow), String> {
    let started = Instant::now();
    loop {
        let mut noted = read_noted(browser)?;
        if let Some(first_row) = noted.first_row.take() {
            return Ok((noted, first_row));
        }
        if started.elapsed() > OPEN_TIMEOUT {
            return Err("the page's first tree row was never noted".into());
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn read_noted(browser: &Browser) -> Result<Noted, String> {
    let bench = browser.execute("return window.__bench || null;");
    if bench.is_null() {
        return Err("the page instruments are missing (was the script installed?)".into());
    }
    if let Some(error) = bench["observerError"].as_str() {
        return Err(format!("the longtask observer could not start: {error}"));
    }
    let pairs = |value: &Value| -> Vec<Vec<Value>> {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_array().cloned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let long_tasks = pairs(&bench["longTasks"])
        .iter()
        .map(|task| {
            (
                task[0].as_f64().unwrap_or(0.0),
                task[1].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let messages = pairs(&bench["messages"])
        .iter()
        .map(|message| {
            (
                message[0].as_f64().unwrap_or(0.0),
                message[1].as_i64().unwrap_or(-1),
                message[2].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    let tree_requests = pairs(&bench["treeRequests"])
        .iter()
        .map(|request| {
            (
                request[0].as_f64().unwrap_or(0.0),
                request[1].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    let first_row = bench["firstRow"].as_object().map(|row| FirstRow {
        requested_at: row["requestedAt"].as_f64().unwrap_or(0.0),
        in_document: row["inDocument"].as_f64().unwrap_or(0.0),
        painted: row["painted"].as_f64().unwrap_or(0.0),
    });
    Ok(Noted {
        long_tasks,
        messages,
        tree_requests,
        first_row,
    })
}

/// The long tasks of one analysis (those starting at or after `since`, page clock), each
/// with what the page was doing: the worker message dispatched in it, else the last thing
/// that happened before it ended.
struct LongTasks {
    /// Tasks of the analysis, times from `since`.
    tasks: Vec<LongTask>,
    /// Long tasks before `since`: the page's own start.
    before: Vec<(f64, f64)>,
    /// `(count, largest length)` of the messages of each kind a worker posted in the
    /// analysis.
    messages: BTreeMap<String, (usize, i64)>,
}

struct LongTask {
    start_ms: f64,
    duration_ms: f64,
    cause: String,
}

impl LongTasks {
    fn of(noted: &Noted, since: f64) -> LongTasks {
        // What happened, page clock: worker messages (progress left out: there are many,
        // each small) and the page's tree requests.
        let mut events: Vec<(f64, String)> = noted
            .messages
            .iter()
            .filter(|(_, _, kind)| kind != "progress")
            .map(|(at, length, kind)| {
                (*at, format!("the worker message {kind:?} ({length} chars)"))
            })
            .chain(
                noted
                    .tree_requests
                    .iter()
                    .map(|(at, kind)| (*at, format!("the page's tree request {kind:?}"))),
            )
            .collect();
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut tasks = Vec::new();
        let mut before = Vec::new();
        for &(start, duration) in &noted.long_tasks {
            if start < since {
                before.push((start, duration));
                continue;
            }
            let end = start + duration;
            let inside = noted
                .messages
                .iter()
                .filter(|(at, _, _)| *at >= start && *at <= end)
                .max_by_key(|(_, length, _)| *length);
            let cause = match inside {
                Some((_, length, kind)) => {
                    format!("dispatching the worker message {kind:?} ({length} chars)")
                }
                None => match events.iter().rev().find(|(at, _)| *at <= end) {
                    Some((at, what)) => {
                        format!("no worker message in it; {:.0} ms after {what}", start - at)
                    }
                    None => "no worker message in it, nothing noted before it".to_string(),
                },
            };
            tasks.push(LongTask {
                start_ms: start - since,
                duration_ms: duration,
                cause,
            });
        }
        let mut messages: BTreeMap<String, (usize, i64)> = BTreeMap::new();
        for (at, length, kind) in &noted.messages {
            if *at >= since {
                let entry = messages.entry(kind.clone()).or_insert((0, 0));
                entry.0 += 1;
                entry.1 = entry.1.max(*length);
            }
        }
        LongTasks {
            tasks,
            before,
            messages,
        }
    }

    fn longest_ms(&self) -> f64 {
        self.tasks
            .iter()
            .map(|task| task.duration_ms)
            .fold(0.0, f64::max)
    }

    /// Prints the count, the longest and the total; the five longest with their causes go
    /// to stderr, with the worker's messages by kind.
    fn print(&self, prefix: &str) {
        println!(
            "{prefix}_long_tasks: {} tasks over {LONG_TASK_MS} ms on the main thread (target 0)",
            self.tasks.len()
        );
        println!(
            "{prefix}_long_task_longest: {:.0} ms (target <= {LONG_TASK_MS})",
            self.longest_ms()
        );
        println!(
            "{prefix}_long_task_total: {:.0} ms",
            self.tasks
                .iter()
                .map(|task| task.duration_ms)
                .fold(0.0, |sum, ms| sum + ms)
        );
        println!(
            "{prefix}_long_tasks_at_page_start: {} tasks, longest {:.0} ms (before the open: not counted above)",
            self.before.len(),
            self.before.iter().map(|task| task.1).fold(0.0, f64::max)
        );
        for (start, duration) in &self.before {
            eprintln!(
                "# {prefix} long task at page start: {duration:.0} ms at {:.3} s of the page clock",
                start / 1000.0
            );
        }
        let mut by_duration: Vec<&LongTask> = self.tasks.iter().collect();
        by_duration.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
        for (rank, task) in by_duration.iter().take(5).enumerate() {
            eprintln!(
                "# {prefix} long task {}: {:.0} ms at {:.3} s, {}",
                rank + 1,
                task.duration_ms,
                task.start_ms / 1000.0,
                task.cause
            );
        }
        let described: Vec<String> = self
            .messages
            .iter()
            .map(|(kind, (count, length))| format!("{kind} {count}x (largest {length} chars)"))
            .collect();
        eprintln!("# {prefix} worker messages: {}", described.join(", "));
    }
}

/// Prints the median over the runs of each run's longest long task, against the target, and
/// each run's.
fn print_longest_median(prefix: &str, longest: &[f64]) {
    let middle = median(longest.iter().copied());
    let runs: Vec<String> = longest.iter().map(|ms| format!("{ms:.0}")).collect();
    println!(
        "{prefix}_long_task_longest_median: {middle:.0} ms (median over {} runs of each run's longest: {} ms; target <= {LONG_TASK_MS}: {})",
        longest.len(),
        runs.join(", "),
        if middle <= LONG_TASK_MS { "met" } else { "not met" }
    );
}

/// The machine's load average (`/proc/loadavg`'s first three fields), the timings' context.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// Waits until `done` holds for the tree pane's state, failing on an error shown or the
/// timeout; returns the state that satisfied it.
fn wait_for(browser: &Browser, what: &str, done: impl Fn(&Value) -> bool) -> Result<Value, String> {
    let started = Instant::now();
    loop {
        let state = browser.execute(TREE_STATE);
        if let Some(error) = state["error"].as_str() {
            return Err(format!(
                "the page shows an error while waiting for {what}: {error}"
            ));
        }
        if done(&state) {
            return Ok(state);
        }
        if started.elapsed() > OPEN_TIMEOUT {
            return Err(format!(
                "{what} did not happen in {} s: {state}",
                OPEN_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// The tree is shown: its first row and its status line.
fn tree_shown(state: &Value) -> bool {
    state["rows"].as_u64().unwrap_or(0) > 0 && state["status"].is_string()
}

/// Every layer read and every digest checked.
fn analysis_done(state: &Value) -> bool {
    tree_shown(state)
        && state["busy"] == Value::Bool(false)
        && state["verify"]
            .as_str()
            .is_some_and(|text| text.starts_with("verified") || text.contains("mismatch"))
}

/// Entries in the view, from the status line (`N rows shown of M entries in this view`).
fn entries_in_status(state: &Value) -> Option<u64> {
    let status = state["status"].as_str()?;
    let (_, rest) = status.split_once(" of ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// A fresh instrumented browser on the page, `testid` shown.
fn open_page(server: &LayerscopeServer, testid: &str) -> Result<Browser, String> {
    let browser = instrumented_browser()?;
    browser.open(&server.url);
    browser.try_wait_for_testid(testid, OPEN_TIMEOUT)?;
    // The open starts once the page's warm-up (src/components/warm_up.rs) has run, as a
    // person's first drop or reference comes later than that: an open started during it
    // meets code the warm-up has not compiled yet. Its own tasks are the page start's.
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        let done = browser.execute(
            "const m = performance.getEntriesByName('layerscope warm-up: Done'); \
             return m.length ? m[0].startTime : null;",
        );
        if let Some(at) = done.as_f64() {
            eprintln!("# page warm-up done {at:.0} ms after the navigation");
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the page's warm-up did not end within {OPEN_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    Ok(browser)
}

// --- start: the page's own start, before anything is opened --------------------------

/// Loads the page `--reps` times, each in a fresh browser, and prints the main thread's
/// long tasks from the load to [`PAGE_START_TRACED`] after the reference box shows (the
/// warm-up's stages run in that time); with `--trace`, one more load traced.
fn bench_start(options: &Options) -> Result<(), String> {
    let server = LayerscopeServer::start();
    let load_before = load_average();
    let mut longest = Vec::new();
    let mut counts = Vec::new();
    for round in 0..options.reps {
        let browser = open_page(&server, "ref-input")?;
        std::thread::sleep(PAGE_START_TRACED);
        let noted = read_noted(&browser)?;
        // The page marks its start (`layerscope start: …`) and each stage of its warm-up
        // (`layerscope warm-up: STAGE`).
        let marks = browser.execute(
            "return performance.getEntriesByType('mark').map(m => [m.name, m.startTime]);",
        );
        let marks: Vec<(String, f64)> = marks
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|mark| Some((mark[0].as_str()?.to_string(), mark[1].as_f64()?)))
            .collect();
        let tasks: Vec<String> = noted
            .long_tasks
            .iter()
            .map(|(start, duration)| {
                let inside: Vec<&str> = marks
                    .iter()
                    .filter(|(_, at)| at >= start && *at <= start + duration)
                    .map(|(name, _)| name.as_str())
                    .collect();
                let what = if inside.is_empty() {
                    "no mark in it".to_string()
                } else {
                    inside.join(" + ")
                };
                format!("{duration:.0} ms at {:.3} s ({what})", start / 1000.0)
            })
            .collect();
        eprintln!("# start round {}: {}", round + 1, tasks.join(", "));
        let shown: Vec<String> = marks
            .iter()
            .map(|(name, at)| format!("{at:.0} {name}"))
            .collect();
        eprintln!("#   marks (ms): {}", shown.join("; "));
        counts.push(noted.long_tasks.len() as f64);
        longest.push(
            noted
                .long_tasks
                .iter()
                .map(|(_, duration)| *duration)
                .fold(0.0, f64::max),
        );
    }
    println!(
        "page_start_long_tasks: {:.0} tasks over {LONG_TASK_MS} ms (median of {} loads; target 0)",
        median(counts),
        options.reps
    );
    print_longest_median("page_start", &longest);
    println!(
        "page_start_load_average: {load_before} at the start, {} at the end (/proc/loadavg: 1, 5, 15 min)",
        load_average()
    );
    if options.trace {
        let browser = instrument(Browser::start_tracing(TRACE_CATEGORIES))?;
        browser.open(&server.url);
        browser.try_wait_for_testid("ref-input", OPEN_TIMEOUT)?;
        print_long_tasks_traced(&trace_page_start(&browser), "page start");
    }
    Ok(())
}

// --- open: the Debian image from the registry against skopeo + tar -------------------

fn bench_open(options: &Options) -> Result<(), String> {
    let server = LayerscopeServer::start();
    let registry = Registry::start(RegistryConfig::plain().with_cors(&server.origin()));
    let repo_tag = format!("{REPOSITORY}:{TAG}");
    eprintln!(
        "# open: pushing {} to the registry",
        options.debian.display()
    );
    push_archive(
        &format!("oci-archive:{}", options.debian.display()),
        &registry,
        &repo_tag,
    );
    let manifest = registry.get_with_headers(
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
    let [layer] = layers.as_slice() else {
        return Err(format!(
            "the Debian image should have one layer, it has {}",
            layers.len()
        ));
    };
    let layer_hex = layer["digest"]
        .as_str()
        .and_then(|digest| digest.strip_prefix("sha256:"))
        .ok_or("the layer has no sha256 digest")?
        .to_string();
    let layer_bytes = layer["size"].as_u64().unwrap_or(0);
    let reference = format!("{}/{repo_tag}", registry.host());

    let mut page_times = Vec::new();
    let mut overview_times = Vec::new();
    let mut native_times = Vec::new();
    let mut copy_times = Vec::new();
    let mut list_times = Vec::new();
    let mut long_task_counts = Vec::new();
    let mut longest_tasks = Vec::new();
    let load_before = load_average();
    let mut worst: Option<LongTasks> = None;
    let (mut page_entries, mut tar_entries) = (None, 0);
    for round in 0..options.reps {
        let page_first = round % 2 == 0;
        for page in [page_first, !page_first] {
            if page {
                let open = open_in_page(&server, &reference)?;
                eprintln!(
                    "# open round {}: page {:.3} s to the tree ({:.3} s to the overview), {} long tasks, longest {:.0} ms",
                    round + 1,
                    open.tree_seconds,
                    open.overview_seconds,
                    open.long_tasks.tasks.len(),
                    open.long_tasks.longest_ms()
                );
                page_times.push(open.tree_seconds);
                overview_times.push(open.overview_seconds);
                long_task_counts.push(open.long_tasks.tasks.len() as f64);
                longest_tasks.push(open.long_tasks.longest_ms());
                page_entries = open.entries;
                if worst
                    .as_ref()
                    .is_none_or(|held| open.long_tasks.longest_ms() > held.longest_ms())
                {
                    worst = Some(open.long_tasks);
                }
            } else {
                let native = skopeo_and_tar(&reference, &layer_hex)?;
                eprintln!(
                    "# open round {}: skopeo copy {:.3} s + tar -tzf {:.3} s",
                    round + 1,
                    native.copy_seconds,
                    native.list_seconds
                );
                native_times.push(native.copy_seconds + native.list_seconds);
                copy_times.push(native.copy_seconds);
                list_times.push(native.list_seconds);
                tar_entries = native.entries;
            }
        }
    }
    if options.profile {
        let browser = open_page(&server, "ref-input")?;
        let input = browser.wait_for_testid("ref-input", OPEN_TIMEOUT);
        let profiler = MainThreadProfile::start(&browser)?;
        browser
            .webdriver()
            .send_keys(&input, &format!("{reference}\u{E007}"))
            .map_err(|error| error.to_string())?;
        wait_for(
            &browser,
            "the Debian image's digests (profiled)",
            analysis_done,
        )?;
        profiler.finish(&browser, "debian")?;
    }
    if options.trace {
        let browser = instrument(Browser::start_tracing(TRACE_CATEGORIES))?;
        browser.open(&server.url);
        let input = browser.try_wait_for_testid("ref-input", OPEN_TIMEOUT)?;
        // The page's start, its warm-up included, as `*_long_tasks_at_page_start` counts it.
        let start = trace_page_start(&browser);
        print_long_tasks_traced(&start, "page start");
        browser
            .webdriver()
            .send_keys(&input, &reference)
            .map_err(|error| error.to_string())?;
        // From Enter on, as the measured opens count.
        browser.trace_events();
        browser
            .webdriver()
            .send_keys(&input, "\u{E007}")
            .map_err(|error| error.to_string())?;
        let events = trace_until_done(&browser)?;
        print_long_tasks_traced(&events, "debian");
    }
    let page = median(page_times.iter().copied());
    let native = median(native_times.iter().copied());
    let fastest = |runs: &[f64]| runs.iter().copied().fold(f64::INFINITY, f64::min);
    println!("page_open_layer_bytes: {layer_bytes} B (one gzip layer)");
    println!("page_open_repetitions: {} runs", options.reps);
    println!("page_open_tar_entries: {tar_entries} entries (tar -tzf lines)");
    if let Some(entries) = page_entries {
        println!("page_open_tree_entries: {entries} entries (the tree's status line)");
    }
    println!(
        "page_open_overview: {:.3} s (submit to the worker's overview message: image row, history, layers)",
        median(overview_times)
    );
    println!(
        "page_open_tree_seconds: {page:.3} s (Enter in the reference box to the end of the frame drawing the first tree-row and the tree-status, page clock)"
    );
    println!("page_open_tree_fastest: {:.3} s", fastest(&page_times));
    println!("skopeo_copy_seconds: {:.3} s", median(copy_times));
    println!("tar_tzf_seconds: {:.3} s", median(list_times));
    println!("skopeo_copy_tar_tzf_seconds: {native:.3} s");
    println!(
        "skopeo_copy_tar_tzf_fastest: {:.3} s",
        fastest(&native_times)
    );
    let ratio = page / native;
    println!(
        "page_open_vs_skopeo_tar: {ratio:.2} x (page time / native time; target <= {TARGET_OPEN_RATIO}: {})",
        if ratio <= TARGET_OPEN_RATIO { "met" } else { "not met" }
    );
    println!(
        "debian_long_tasks_per_open: {:.0} tasks over {LONG_TASK_MS} ms (median of the opens; target 0)",
        median(long_task_counts)
    );
    print_longest_median("debian", &longest_tasks);
    println!(
        "debian_load_average: {load_before} at the start, {} at the end (/proc/loadavg: 1, 5, 15 min)",
        load_average()
    );
    if let Some(worst) = worst {
        eprintln!("# the open with the longest long task:");
        worst.print("debian");
    }
    Ok(())
}

struct PageOpen {
    tree_seconds: f64,
    overview_seconds: f64,
    entries: Option<u64>,
    long_tasks: LongTasks,
}

/// One open in a fresh browser: the page loaded, the reference submitted (the clock starts),
/// until the tree is shown; the long tasks are read once the analysis is over.
fn open_in_page(server: &LayerscopeServer, reference: &str) -> Result<PageOpen, String> {
    let browser = open_page(server, "ref-input")?;
    let input = browser.wait_for_testid("ref-input", OPEN_TIMEOUT);
    browser
        .webdriver()
        .send_keys(&input, reference)
        .map_err(|error| error.to_string())?;
    let since = page_now(&browser);
    browser
        .webdriver()
        .send_keys(&input, "\u{E007}")
        .map_err(|error| error.to_string())?;
    let state = wait_for(&browser, "the Debian image's tree", tree_shown)?;
    let (_, first_row) = noted_with_first_row(&browser)?;
    let tree_seconds = (first_row.painted - since) / 1000.0;
    // The overview (image row, history, layer list) comes long before the tree; when it
    // arrived is read off the page's clock rather than polled.
    let overview_at = browser
        .execute(
            "const at = window.__bench.messages.find(m => m[2] === 'overview'); \
             return at ? at[0] : null;",
        )
        .as_f64();
    let overview_seconds = overview_at.map_or(f64::NAN, |at| (at - since) / 1000.0);
    wait_for(&browser, "the Debian image's digests", analysis_done)?;
    let noted = read_noted(&browser)?;
    Ok(PageOpen {
        tree_seconds,
        overview_seconds,
        entries: entries_in_status(&state),
        long_tasks: LongTasks::of(&noted, since),
    })
}

struct NativeOpen {
    copy_seconds: f64,
    list_seconds: f64,
    entries: usize,
}

/// `skopeo copy docker://REFERENCE dir:TMP`, then `tar -tzf` of the copied layer.
fn skopeo_and_tar(reference: &str, layer_hex: &str) -> Result<NativeOpen, String> {
    let work = TempDir::new("page-bench-skopeo");
    let dir = work.path().join("image");
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
    let copy_seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("skopeo copy docker://{reference} failed: {status}"));
    }
    let layer = dir.join(layer_hex);
    let started = Instant::now();
    let output = Command::new("tar")
        .arg("-tzf")
        .arg(&layer)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("running tar: {error}"))?;
    let list_seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        return Err(format!("tar -tzf {} failed", layer.display()));
    }
    let entries = output.stdout.iter().filter(|byte| **byte == b'\n').count();
    Ok(NativeOpen {
        copy_seconds,
        list_seconds,
        entries,
    })
}

// --- tree: first paint and scroll of a 100k-entry tree --------------------------------

fn bench_tree(options: &Options) -> Result<(), String> {
    let server = LayerscopeServer::start();
    let mut first_paints = Vec::new();
    let mut in_document = Vec::new();
    let mut to_request = Vec::new();
    let mut fps = Vec::new();
    let mut idle_fps = Vec::new();
    let mut blank = Vec::new();
    let mut longest_frame: f64 = 0.0;
    let mut slow_frames = Vec::new();
    let mut max_rows = 0;
    let mut entries = None;
    let mut round_trips = Vec::new();
    let mut windows_asked = Vec::new();
    for round in 0..options.reps {
        let browser = open_page(&server, "drop-zone")?;
        let since = page_now(&browser);
        browser.set_file("drop-zone", &options.tree);
        let state = wait_for(&browser, "the 100k tree", tree_shown)?;
        entries = entries_in_status(&state);
        let (_, first_row) = noted_with_first_row(&browser)?;
        let paint = first_row.painted - first_row.requested_at;
        first_paints.push(paint);
        in_document.push(first_row.in_document - first_row.requested_at);
        to_request.push((first_row.requested_at - since) / 1000.0);
        wait_for(&browser, "the 100k tree's digests", analysis_done)?;

        let idle = frames(&browser, 0.0, IDLE_FRAMES_MS)?;
        let scroll_since = page_now(&browser);
        let scroll = frames(&browser, SCROLL_PX_PER_S, SCROLL_MS)?;
        let noted = read_noted(&browser)?;
        round_trips.extend(window_round_trips(&noted, scroll_since));
        windows_asked.push(
            noted
                .tree_requests
                .iter()
                .filter(|(at, kind)| *at >= scroll_since && kind == "window")
                .count() as f64,
        );
        eprintln!(
            "# tree round {}: drop to request {:.3} s, first paint {paint:.0} ms, scroll {:.1} fps ({:.1} idle), {} of {} frames not covered by rows, longest frame {:.0} ms",
            round + 1,
            to_request.last().unwrap(),
            scroll.fps,
            idle.fps,
            scroll.blank,
            scroll.frames,
            scroll.longest_gap
        );
        fps.push(scroll.fps);
        idle_fps.push(idle.fps);
        blank.push(scroll.blank as f64 / scroll.frames.max(1) as f64 * 100.0);
        longest_frame = longest_frame.max(scroll.longest_gap);
        slow_frames.push(scroll.slow as f64);
        max_rows = max_rows.max(scroll.max_rows);
        if round == 0 {
            let path = browser.save_screenshot("bench-tree-100k-scrolled.png");
            eprintln!("# screenshot: {}", path.display());
        }
    }
    if let Some(entries) = entries {
        println!("tree_entries: {entries} entries (the tree's status line)");
    }
    println!("tree_repetitions: {} runs", options.reps);
    println!(
        "tree_drop_to_request: {:.3} s (the drop to the page's first window request)",
        median(to_request)
    );
    println!(
        "tree_first_rows_in_document: {:.0} ms (window request to the first tree-row in the document)",
        median(in_document)
    );
    println!(
        "tree_first_paint: {:.0} ms (window request to the end of the frame that draws the first tree-row)",
        median(first_paints)
    );
    println!(
        "tree_scroll_fps: {:.1} fps (requestAnimationFrame callbacks a second while .tree-scroll scrolls {SCROLL_PX_PER_S} px/s for {:.0} s; target {TARGET_FPS})",
        median(fps.iter().copied()),
        SCROLL_MS / 1000.0
    );
    println!(
        "tree_scroll_fps_slowest_run: {:.1} fps",
        fps.iter().copied().fold(f64::INFINITY, f64::min)
    );
    println!(
        "tree_idle_fps: {:.1} fps (the same count with no scroll: headless Chromium's frame clock)",
        median(idle_fps)
    );
    println!(
        "tree_scroll_frames_over_20ms: {:.0} frames (median of the runs)",
        median(slow_frames)
    );
    println!("tree_scroll_longest_frame: {longest_frame:.0} ms");
    println!(
        "tree_scroll_frames_not_covered: {:.1} % (frames whose visible box the drawn rows did not fill)",
        median(blank)
    );
    println!(
        "tree_scroll_most_rows: {max_rows} rows (in the document at once; the page's bound is 300)"
    );
    println!(
        "tree_scroll_windows_asked: {:.0} requests (window requests during one scroll, median of the runs)",
        median(windows_asked)
    );
    if !round_trips.is_empty() {
        let longest = round_trips.iter().copied().fold(0.0, f64::max);
        println!(
            "tree_scroll_window_round_trip: {:.1} ms (a window request posted to the answer's arrival, median; longest {longest:.1} ms)",
            median(round_trips)
        );
    }
    Ok(())
}

/// For each window request posted from `since` on, the time to the next tree answer the
/// worker posted (ms).
fn window_round_trips(noted: &Noted, since: f64) -> Vec<f64> {
    noted
        .tree_requests
        .iter()
        .filter(|(at, kind)| *at >= since && kind == "window")
        .filter_map(|(asked, _)| {
            noted
                .messages
                .iter()
                .find(|(at, _, kind)| at >= asked && kind == "tree")
                .map(|(at, _, _)| at - asked)
        })
        .collect()
}

/// What a counted run of frames saw.
struct Frames {
    fps: f64,
    frames: usize,
    blank: usize,
    slow: usize,
    longest_gap: f64,
    max_rows: usize,
}

/// Counts animation frames for `duration_ms` while scrolling `.tree-scroll` down from the
/// top at `px_per_s` (0: no scroll). Each frame sets the scroll position, then checks the
/// rows in the document cover the box (what that frame paints), so a window that arrives
/// late shows as a frame not covered.
fn frames(browser: &Browser, px_per_s: f64, duration_ms: f64) -> Result<Frames, String> {
    browser.execute(&format!(
        r#"
const scroller = document.querySelector('.tree-scroll');
scroller.scrollTop = 0;
const result = window.__bench.frames = {{ frames: 0, blank: 0, slow: 0, longest: 0, maxRows: 0, done: false }};
const covered = () => {{
  const rows = scroller.querySelectorAll('[data-testid="tree-row"]');
  result.maxRows = Math.max(result.maxRows, rows.length);
  if (rows.length === 0) return false;
  const box = scroller.getBoundingClientRect();
  return rows[0].getBoundingClientRect().top <= box.top + 1
    && rows[rows.length - 1].getBoundingClientRect().bottom >= box.top + scroller.clientHeight - 1;
}};
let start = null, last = null;
const frame = now => {{
  if (start === null) start = now;
  else {{
    const gap = now - last;
    result.longest = Math.max(result.longest, gap);
    if (gap > 20) result.slow++;
  }}
  last = now;
  result.frames++;
  const elapsed = now - start;
  if ({px_per_s} > 0) scroller.scrollTop = {px_per_s} * elapsed / 1000;
  if (!covered()) result.blank++;
  if (elapsed >= {duration_ms}) {{ result.elapsed = elapsed; result.done = true; return; }}
  requestAnimationFrame(frame);
}};
requestAnimationFrame(frame);
return true;"#
    ));
    let started = Instant::now();
    loop {
        let result = browser.execute("return window.__bench.frames;");
        if result["done"] == Value::Bool(true) {
            let frames = result["frames"].as_u64().unwrap_or(0) as usize;
            let elapsed = result["elapsed"].as_f64().unwrap_or(0.0);
            return Ok(Frames {
                // Frames after the first, over the time from the first to the last.
                fps: frames.saturating_sub(1) as f64 / (elapsed / 1000.0),
                frames,
                blank: result["blank"].as_u64().unwrap_or(0) as usize,
                slow: result["slow"].as_u64().unwrap_or(0) as usize,
                longest_gap: result["longest"].as_f64().unwrap_or(0.0),
                max_rows: result["maxRows"].as_u64().unwrap_or(0) as usize,
            });
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!("the counted frames never finished: {result}"));
        }
        std::thread::sleep(POLL_INTERVAL * 2);
    }
}

// --- where the main thread's time goes -----------------------------------------------

/// A sampling CPU profile of the page's main thread (DevTools `Profiler` on the page's
/// target: workers are not in it), from [`MainThreadProfile::start`] to `finish`.
struct MainThreadProfile;

/// How often the profiler samples, microseconds.
const PROFILE_INTERVAL_US: u64 = 250;
/// Functions listed per table.
const PROFILE_TOP: usize = 15;
/// Functions listed per table for each busy span over the long-task limit.
const PROFILE_SPAN_TOP: usize = 25;

impl MainThreadProfile {
    fn start(browser: &Browser) -> Result<MainThreadProfile, String> {
        let cdp = |command: &str, params: Value| {
            browser
                .webdriver()
                .cdp(command, params)
                .map_err(|error| format!("{command}: {error}"))
        };
        cdp("Profiler.enable", json!({}))?;
        cdp(
            "Profiler.setSamplingInterval",
            json!({ "interval": PROFILE_INTERVAL_US }),
        )?;
        cdp("Profiler.start", json!({}))?;
        Ok(MainThreadProfile)
    }

    /// Stops the profile and prints, to stderr, the functions with the most time of their
    /// own and the most time with their callees, with the main thread's busy and idle time.
    fn finish(self, browser: &Browser, prefix: &str) -> Result<(), String> {
        let value = browser
            .webdriver()
            .cdp("Profiler.stop", json!({}))
            .map_err(|error| format!("Profiler.stop: {error}"))?;
        let profile = &value["profile"];
        let nodes = profile["nodes"].as_array().cloned().unwrap_or_default();
        let mut names: HashMap<u64, String> = HashMap::new();
        let mut parents: HashMap<u64, u64> = HashMap::new();
        for node in &nodes {
            let id = node["id"].as_u64().unwrap_or(0);
            let frame = &node["callFrame"];
            let function = frame["functionName"].as_str().unwrap_or_default();
            let name = if function.is_empty() {
                let url = frame["url"].as_str().unwrap_or_default();
                format!("(anonymous {})", url.rsplit('/').next().unwrap_or_default())
            } else {
                function.to_string()
            };
            names.insert(id, name);
            for child in node["children"].as_array().into_iter().flatten() {
                if let Some(child) = child.as_u64() {
                    parents.insert(child, id);
                }
            }
        }
        let samples = profile["samples"].as_array().cloned().unwrap_or_default();
        let deltas = profile["timeDeltas"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        // Each sample's time is the gap to the next one.
        let timed: Vec<(u64, f64)> = samples
            .iter()
            .enumerate()
            .map(|(index, sample)| {
                let ms = deltas
                    .get(index + 1)
                    .and_then(Value::as_f64)
                    .unwrap_or(PROFILE_INTERVAL_US as f64)
                    / 1000.0;
                (sample.as_u64().unwrap_or(0), ms)
            })
            .collect();
        let tables = ProfileTables::of(&timed, &names, &parents);
        let total = tables.total;
        let own = &tables.own;
        let idle = own.get("(idle)").copied().unwrap_or(0.0);
        eprintln!(
            "# {prefix} main-thread profile: {total:.0} ms profiled, {idle:.0} ms idle, \
             {:.0} ms (program) (the browser's own work: style, layout, paint, messages), \
             {:.0} ms garbage collection",
            own.get("(program)").copied().unwrap_or(0.0),
            own.get("(garbage collector)").copied().unwrap_or(0.0)
        );
        tables.print(prefix, "", PROFILE_TOP);
        // The long tasks themselves: runs of samples with no idle one between them, as
        // `first..end` sample positions.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut begin = None;
        for (index, (id, _)) in timed.iter().enumerate() {
            let idle = names.get(id).is_some_and(|name| name == "(idle)");
            match (idle, begin) {
                (false, None) => begin = Some(index),
                (true, Some(first)) => {
                    spans.push((first, index));
                    begin = None;
                }
                _ => {}
            }
        }
        if let Some(first) = begin {
            spans.push((first, timed.len()));
        }
        for (first, end) in spans {
            let span = &timed[first..end];
            let ms: f64 = span.iter().map(|(_, ms)| ms).sum();
            if ms <= LONG_TASK_MS {
                continue;
            }
            let start: f64 = timed[..first].iter().map(|(_, ms)| ms).sum();
            let tables = ProfileTables::of(span, &names, &parents);
            eprintln!(
                "# {prefix} busy span of {ms:.0} ms at {:.3} s of the profile ({:.0} ms (program), {:.0} ms garbage collection):",
                start / 1000.0,
                tables.own.get("(program)").copied().unwrap_or(0.0),
                tables.own.get("(garbage collector)").copied().unwrap_or(0.0)
            );
            tables.print(prefix, "  ", PROFILE_SPAN_TOP);
        }
        Ok(())
    }
}

/// Time by function in some samples of a profile: of their own and with their callees.
struct ProfileTables<'a> {
    total: f64,
    own: HashMap<&'a str, f64>,
    with_callees: HashMap<&'a str, f64>,
}

impl<'a> ProfileTables<'a> {
    fn of(
        samples: &[(u64, f64)],
        names: &'a HashMap<u64, String>,
        parents: &HashMap<u64, u64>,
    ) -> ProfileTables<'a> {
        let mut tables = ProfileTables {
            total: 0.0,
            own: HashMap::new(),
            with_callees: HashMap::new(),
        };
        for &(sample, ms) in samples {
            tables.total += ms;
            let mut id = sample;
            let Some(name) = names.get(&id) else { continue };
            *tables.own.entry(name).or_insert(0.0) += ms;
            let mut seen: Vec<&str> = Vec::new();
            loop {
                if let Some(name) = names.get(&id) {
                    if !seen.contains(&name.as_str()) {
                        seen.push(name);
                        *tables.with_callees.entry(name).or_insert(0.0) += ms;
                    }
                }
                match parents.get(&id) {
                    Some(&parent) => id = parent,
                    None => break,
                }
            }
        }
        tables
    }

    /// The `top` functions by own time and by time with callees, to stderr.
    fn print(&self, prefix: &str, indent: &str, top: usize) {
        let skip = ["(root)", "(idle)", "(program)", "(garbage collector)"];
        for (title, table) in [
            ("own time", &self.own),
            ("time with callees", &self.with_callees),
        ] {
            let mut rows: Vec<(&str, f64)> = table
                .iter()
                .filter(|(name, _)| !skip.contains(name))
                .map(|(name, ms)| (*name, *ms))
                .collect();
            rows.sort_by(|a, b| b.1.total_cmp(&a.1));
            eprintln!("# {indent}{prefix} main-thread functions by {title}:");
            for (name, ms) in rows.into_iter().take(top) {
                let name: String = name.chars().take(160).collect();
                eprintln!("# {indent}  {ms:8.1} ms  {name}");
            }
        }
    }
}

/// What Chromium's trace records of the main thread: its tasks, script, style, layout and
/// paint, and V8's compilation of scripts and wasm functions.
const TRACE_CATEGORIES: &str =
    "toplevel,devtools.timeline,disabled-by-default-devtools.timeline,v8.wasm,disabled-by-default-v8.wasm.detailed,disabled-by-default-v8.compile,blink.user_timing";
/// Events inside a long task shorter than this are summed by name, not listed.
const TRACE_DETAIL_MS: f64 = 2.0;

/// The trace events of `browser` until the analysis is done (every digest checked). The log
/// is read as it fills: one read of all of it would be too large.
fn trace_until_done(browser: &Browser) -> Result<Vec<Value>, String> {
    let mut events = Vec::new();
    let started = Instant::now();
    while !analysis_done(&browser.execute(TREE_STATE)) {
        if started.elapsed() > OPEN_TIMEOUT {
            return Err("the traced analysis did not finish".into());
        }
        events.extend(browser.trace_events());
        std::thread::sleep(POLL_INTERVAL * 4);
    }
    events.extend(browser.trace_events());
    Ok(events)
}

/// How long after the reference box shows the page's start is traced: its warm-up (see
/// `src/components/warm_up.rs`) runs a stage a task, and all of it ends well within this.
const PAGE_START_TRACED: Duration = Duration::from_secs(3);

/// The trace events of the page's start, from its load to [`PAGE_START_TRACED`] after the
/// reference box shows.
fn trace_page_start(browser: &Browser) -> Vec<Value> {
    let mut events = Vec::new();
    let started = Instant::now();
    while started.elapsed() < PAGE_START_TRACED {
        events.extend(browser.trace_events());
        std::thread::sleep(POLL_INTERVAL * 4);
    }
    events.extend(browser.trace_events());
    events
}

/// Prints, to stderr, every task of the page's main thread (`CrRendererMain`, the renderer
/// whose events name the page's loopback URLs most) longer than the long-task limit, with the events in it by name.
fn print_long_tasks_traced(events: &[Value], prefix: &str) {
    let mut main_threads: HashMap<(u64, u64), usize> = HashMap::new();
    for event in events {
        if event["ph"] == "M"
            && event["name"] == "thread_name"
            && event["args"]["name"] == "CrRendererMain"
        {
            main_threads.insert(
                (
                    event["pid"].as_u64().unwrap_or(0),
                    event["tid"].as_u64().unwrap_or(0),
                ),
                0,
            );
        }
    }
    // Chromium's own pages (the new-tab page, the omnibox) have renderers too, often busier
    // than the page's: the page's is the one whose events name its loopback URLs.
    for event in events {
        let key = (
            event["pid"].as_u64().unwrap_or(0),
            event["tid"].as_u64().unwrap_or(0),
        );
        let names_the_page = event["args"]["data"]["url"]
            .as_str()
            .is_some_and(|url| url.starts_with("http://127.0.0.1:"));
        if let Some(count) = main_threads.get_mut(&key) {
            *count += usize::from(names_the_page);
        }
    }
    let Some((&main, _)) = main_threads.iter().max_by_key(|(_, count)| **count) else {
        eprintln!(
            "# {prefix} trace: no CrRendererMain thread in {} events",
            events.len()
        );
        return;
    };
    let on_main: Vec<&Value> = events
        .iter()
        .filter(|event| {
            (
                event["pid"].as_u64().unwrap_or(0),
                event["tid"].as_u64().unwrap_or(0),
            ) == main
                && event["ph"] == "X"
        })
        .collect();
    let ms = |event: &Value, key: &str| event[key].as_f64().unwrap_or(0.0) / 1000.0;
    let tasks: Vec<&&Value> = on_main
        .iter()
        .filter(|event| {
            event["name"] == "ThreadControllerImpl::RunTask" && ms(event, "dur") > LONG_TASK_MS
        })
        .collect();
    eprintln!(
        "# {prefix} trace: {} events, {} on the main thread, {} tasks over {LONG_TASK_MS} ms",
        events.len(),
        on_main.len(),
        tasks.len()
    );
    for task in tasks {
        let (start, end) = (ms(task, "ts"), ms(task, "ts") + ms(task, "dur"));
        eprintln!("# {prefix} traced task of {:.1} ms:", ms(task, "dur"));
        let mut summed: BTreeMap<String, (usize, f64)> = BTreeMap::new();
        for event in &on_main {
            let at = ms(event, "ts");
            if std::ptr::eq(*event, *task) || at < start || at > end {
                continue;
            }
            let name = event["name"].as_str().unwrap_or("?");
            let duration = ms(event, "dur");
            let entry = summed.entry(name.to_string()).or_insert((0, 0.0));
            entry.0 += 1;
            entry.1 += duration;
            if duration >= TRACE_DETAIL_MS {
                let data = &event["args"]["data"];
                let detail = [
                    &data["functionName"],
                    &data["url"],
                    &data["type"],
                    &event["args"]["func_index"],
                    &data["frame"],
                ]
                .iter()
                .filter_map(|value| {
                    value
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| value.as_u64().map(|n| n.to_string()))
                })
                .collect::<Vec<_>>()
                .join(" ");
                eprintln!(
                    "#   +{:7.1} ms {duration:7.1} ms  {name} {detail}",
                    at - start
                );
            }
        }
        let mut by_time: Vec<(String, (usize, f64))> = summed.into_iter().collect();
        by_time.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
        for (name, (count, total)) in by_time.into_iter().take(20) {
            eprintln!("#   sum {total:7.1} ms  {count:5}x {name}");
        }
    }
}

// --- million: long tasks and memory for a 1M-entry image ------------------------------

fn bench_million(options: &Options) -> Result<(), String> {
    let server = LayerscopeServer::start();
    let entries = tar_entries(&options.million)?;
    let mut longest_tasks = Vec::new();
    let load_before = load_average();
    for round in 0..options.million_reps {
        let browser = open_page(&server, "drop-zone")?;
        let sampler = MemorySampler::start();
        // The idle page, every worker it starts at load included: the baseline.
        let baseline = sampler.wait_for_first_sample()?;
        let since = page_now(&browser);
        browser.set_file("drop-zone", &options.million);
        let state = wait_for(&browser, "the 1M tree", tree_shown)?;
        let done = wait_for(&browser, "the 1M image's digests", analysis_done)?;
        let memory = sampler.stop();
        let (noted, first_row) = noted_with_first_row(&browser)?;
        let tree_seconds = (first_row.painted - since) / 1000.0;
        // Within a poll of when the badge turned.
        let done_seconds = (done["now"].as_f64().unwrap_or(since) - since) / 1000.0;
        let long_tasks = LongTasks::of(&noted, since);
        if round == 0 {
            let path = browser.save_screenshot("bench-tree-1m.png");
            eprintln!("# screenshot: {}", path.display());
        }
        // Beside the figures: the same scripted scroll as on the 100k tree.
        let scroll = frames(&browser, SCROLL_PX_PER_S, SCROLL_MS)?;
        eprintln!(
            "# million round {}: tree {tree_seconds:.1} s, done {done_seconds:.1} s",
            round + 1
        );
        println!("million_archive_entries: {entries} entries (tar headers in its layer)");
        if let Some(shown) = entries_in_status(&state) {
            println!("million_tree_entries: {shown} entries (the tree's status line)");
        }
        println!(
            "million_drop_to_tree: {tree_seconds:.1} s (to the end of the frame drawing the first tree-row)"
        );
        println!(
            "million_drop_to_verified: {done_seconds:.1} s (within a poll of {} ms)",
            POLL_INTERVAL.as_millis()
        );
        long_tasks.print("million");
        longest_tasks.push(long_tasks.longest_ms());
        memory.print(&baseline, entries);
        println!(
            "million_scroll_fps: {:.1} fps (the 100k tree's scripted scroll on this tree; {:.1} % of frames not covered)",
            scroll.fps,
            scroll.blank as f64 / scroll.frames.max(1) as f64 * 100.0
        );
    }
    print_longest_median("million", &longest_tasks);
    println!(
        "million_load_average: {load_before} at the start, {} at the end (/proc/loadavg: 1, 5, 15 min)",
        load_average()
    );
    if options.profile {
        let browser = open_page(&server, "drop-zone")?;
        let profiler = MainThreadProfile::start(&browser)?;
        browser.set_file("drop-zone", &options.million);
        wait_for(&browser, "the 1M image's digests (profiled)", analysis_done)?;
        profiler.finish(&browser, "million")?;
    }
    if options.trace {
        let browser = instrument(Browser::start_tracing(TRACE_CATEGORIES))?;
        browser.open(&server.url);
        browser.try_wait_for_testid("drop-zone", OPEN_TIMEOUT)?;
        browser.trace_events();
        browser.set_file("drop-zone", &options.million);
        let events = trace_until_done(&browser)?;
        print_long_tasks_traced(&events, "million");
    }
    Ok(())
}

/// Entries in the one layer of a `docker save` archive: `tar -xOf ARCHIVE layer/layer.tar |
/// tar -t`.
fn tar_entries(archive: &Path) -> Result<u64, String> {
    let output = Command::new("sh")
        .arg("-c")
        .arg("tar -xOf \"$1\" layer/layer.tar | tar -t | wc -l")
        .arg("sh")
        .arg(archive)
        .output()
        .map_err(|error| format!("counting the entries of {}: {error}", archive.display()))?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| format!("could not count the entries of {}", archive.display()))
}

/// Resident memory of this run's Chromium renderer processes, read from `/proc` every
/// [`MEMORY_SAMPLE_INTERVAL`] on a thread of its own.
///
/// Headless Chromium runs a page's dedicated workers as threads of the page's renderer
/// process, so the renderer's resident set holds every worker's heap and wasm memory, plus
/// the page's main thread. The renderers are the processes below this one (through
/// chromedriver and Chromium) started with `--type=renderer`; the page's is the one whose
/// threads include `DedicatedWorker` ones. The peak is the largest sampled resident set, or
/// the kernel's high-water mark (`VmHWM`) when that rose during the run: a peak between two
/// samples is not lost.
struct MemorySampler {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<Sampled>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the sampler has seen, per renderer process id.
#[derive(Default, Clone)]
struct Sampled {
    samples: usize,
    first: HashMap<u32, ProcessMemory>,
    peak_rss: HashMap<u32, u64>,
    last: HashMap<u32, ProcessMemory>,
    worker_threads: HashMap<u32, usize>,
}

/// One reading of a process's `/proc/PID/status`, bytes.
#[derive(Clone, Copy, Debug)]
struct ProcessMemory {
    rss: u64,
    high_water: u64,
}

/// Every renderer's first reading, the page idle (its renderer is known only once its
/// workers start, so all are kept).
struct Baseline {
    sampled: Sampled,
}

impl MemorySampler {
    fn start() -> MemorySampler {
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(Sampled::default()));
        let thread = {
            let (stop, state) = (stop.clone(), state.clone());
            std::thread::spawn(move || {
                let me = std::process::id();
                let mut renderers = Vec::new();
                let mut last_scan = None::<Instant>;
                while !stop.load(Ordering::SeqCst) {
                    if last_scan.is_none_or(|at| at.elapsed() > Duration::from_millis(250)) {
                        renderers = renderer_processes(me);
                        let mut held = state.lock().unwrap();
                        for &pid in &renderers {
                            let threads = worker_threads(pid);
                            let entry = held.worker_threads.entry(pid).or_insert(0);
                            *entry = (*entry).max(threads);
                        }
                        last_scan = Some(Instant::now());
                    }
                    let readings: Vec<(u32, ProcessMemory)> = renderers
                        .iter()
                        .filter_map(|&pid| process_memory(pid).map(|memory| (pid, memory)))
                        .collect();
                    let mut held = state.lock().unwrap();
                    held.samples += 1;
                    for (pid, memory) in readings {
                        held.first.entry(pid).or_insert(memory);
                        let peak = held.peak_rss.entry(pid).or_insert(0);
                        *peak = (*peak).max(memory.rss);
                        held.last.insert(pid, memory);
                    }
                    drop(held);
                    std::thread::sleep(MEMORY_SAMPLE_INTERVAL);
                }
            })
        };
        MemorySampler {
            stop,
            state,
            thread: Some(thread),
        }
    }

    /// The first full reading (every renderer scanned), as the baseline.
    fn wait_for_first_sample(&self) -> Result<Baseline, String> {
        let started = Instant::now();
        loop {
            let held = self.state.lock().unwrap().clone();
            if held.samples > 0 && !held.first.is_empty() {
                return Ok(Baseline { sampled: held });
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(
                    "no Chromium renderer process was found below this one in /proc".into(),
                );
            }
            std::thread::sleep(MEMORY_SAMPLE_INTERVAL);
        }
    }

    fn stop(mut self) -> Sampled {
        self.end();
        self.state.lock().unwrap().clone()
    }

    fn end(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MemorySampler {
    fn drop(&mut self) {
        self.end();
    }
}

impl Sampled {
    /// Prints the page renderer's peak against the baseline, and bytes per entry beyond the
    /// issue's 64 MiB base.
    fn print(&self, baseline: &Baseline, entries: u64) {
        let Some(pid) = page_renderer(self) else {
            println!("million_memory: unknown (no renderer process with worker threads was seen)");
            return;
        };
        let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
        let Some(idle) = baseline.sampled.first.get(&pid) else {
            println!(
                "million_memory: unknown (the renderer running the workers was not there when the idle page was read)"
            );
            return;
        };
        let (base, base_high_water) = (idle.rss, idle.high_water);
        let sampled_peak = self.peak_rss.get(&pid).copied().unwrap_or(0);
        let high_water = self.last.get(&pid).map_or(0, |memory| memory.high_water);
        // The kernel's mark is the true peak once it rose above what it was at the baseline
        // (before that it may be the page's own start).
        let peak = if high_water > base_high_water {
            sampled_peak.max(high_water)
        } else {
            sampled_peak
        };
        let grown = peak.saturating_sub(base) as f64;
        let per_entry = (grown - MEMORY_BASE_BYTES) / entries as f64;
        let others: u64 = self
            .peak_rss
            .iter()
            .filter(|(other, _)| **other != pid)
            .map(|(_, rss)| *rss)
            .sum();
        println!(
            "million_renderer_idle_rss: {:.1} MiB (the page's renderer, page loaded, before the drop)",
            mib(base as f64)
        );
        println!(
            "million_renderer_peak_rss: {:.1} MiB (sampled every {} ms, or VmHWM when it rose)",
            mib(peak as f64),
            MEMORY_SAMPLE_INTERVAL.as_millis()
        );
        println!(
            "million_renderer_growth: {:.1} MiB (peak - idle: every worker of the page, and the main thread's growth)",
            mib(grown)
        );
        println!(
            "million_worker_threads_seen: {} threads (DedicatedWorker threads in that renderer, most at once)",
            self.worker_threads.get(&pid).copied().unwrap_or(0)
        );
        println!(
            "million_other_renderers_peak_rss: {:.1} MiB (other renderer processes of the browser, not counted)",
            mib(others as f64)
        );
        println!(
            "million_bytes_per_entry: {per_entry:.0} B ((growth - 64 MiB) / entries; target <= {TARGET_BYTES_PER_ENTRY}: {})",
            if per_entry <= TARGET_BYTES_PER_ENTRY { "met" } else { "not met" }
        );
        println!("million_memory_samples: {} samples", self.samples);
    }
}

/// The renderer whose threads included dedicated workers, the largest such if several.
fn page_renderer(sampled: &Sampled) -> Option<u32> {
    sampled
        .worker_threads
        .iter()
        .filter(|(_, threads)| **threads > 0)
        .map(|(pid, _)| *pid)
        .max_by_key(|pid| sampled.peak_rss.get(pid).copied().unwrap_or(0))
}

/// Processes below `ancestor` whose command line says `--type=renderer`.
fn renderer_processes(ancestor: u32) -> Vec<u32> {
    let mut parents = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(ppid) = parent_in_stat(&stat) {
            parents.insert(pid, ppid);
        }
    }
    let below = |mut pid: u32| {
        for _ in 0..64 {
            match parents.get(&pid) {
                Some(&parent) if parent == ancestor => return true,
                Some(&parent) if parent > 1 => pid = parent,
                _ => return false,
            }
        }
        false
    };
    parents
        .keys()
        .copied()
        .filter(|&pid| below(pid))
        .filter(|pid| {
            // Chromium rewrites its process title: the arguments may be joined by spaces
            // rather than NULs.
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmdline| {
                    cmdline
                        .split(|byte| *byte == 0 || *byte == b' ')
                        .any(|arg| arg == b"--type=renderer")
                })
                .unwrap_or(false)
        })
        .collect()
}

/// The parent's id in a `/proc/PID/stat` line: `pid (comm) state ppid ...`, where comm may
/// hold spaces and parentheses (the last `)` ends it).
fn parent_in_stat(stat: &str) -> Option<u32> {
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|ppid| ppid.parse().ok())
}

/// Threads of `pid` named as Chromium names dedicated worker threads.
fn worker_threads(pid: u32) -> usize {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("DedicatedWorker"))
        })
        .count()
}

/// `VmRSS` and `VmHWM` of `/proc/PID/status`.
fn process_memory(pid: u32) -> Option<ProcessMemory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some(ProcessMemory {
        rss: field("VmRSS:")?,
        high_water: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noted(long_tasks: &[(f64, f64)], messages: &[(f64, i64, &str)]) -> Noted {
        Noted {
            long_tasks: long_tasks.to_vec(),
            messages: messages
                .iter()
                .map(|(at, length, kind)| (*at, *length, kind.to_string()))
                .collect(),
            tree_requests: vec![(1500.0, "window".to_string())],
            first_row: None,
        }
    }

    #[test]
    fn a_long_task_is_told_by_the_message_in_it_or_the_event_before_it() {
        let noted = noted(
            &[
                (100.0, 90.0),
                (1010.0, 60.0),
                (1600.0, 70.0),
                (2000.0, 55.0),
            ],
            &[
                (1020.0, 4000, "overview"),
                (1030.0, 150, "progress"),
                (1550.0, 26000, "tree"),
            ],
        );
        let tasks = LongTasks::of(&noted, 1000.0);
        assert_eq!(tasks.before, vec![(100.0, 90.0)], "before the open");
        let causes: Vec<&str> = tasks.tasks.iter().map(|task| task.cause.as_str()).collect();
        assert_eq!(
            causes,
            [
                "dispatching the worker message \"overview\" (4000 chars)",
                "no worker message in it; 50 ms after the worker message \"tree\" (26000 chars)",
                "no worker message in it; 450 ms after the worker message \"tree\" (26000 chars)",
            ]
        );
        assert_eq!(tasks.tasks[0].start_ms, 10.0, "times count from the open");
        assert_eq!(tasks.longest_ms(), 70.0);
        assert_eq!(tasks.messages["progress"], (1, 150));
    }

    #[test]
    fn window_round_trips_pair_each_request_with_the_next_answer() {
        let mut noted = noted(&[], &[(1501.5, 20000, "tree"), (1700.0, 20000, "tree")]);
        noted.tree_requests = vec![
            (1000.0, "window".to_string()),
            (1500.0, "window".to_string()),
            (1600.0, "search".to_string()),
            (1690.0, "window".to_string()),
        ];
        assert_eq!(window_round_trips(&noted, 1200.0), vec![1.5, 10.0]);
    }

    #[test]
    fn the_status_line_gives_the_entries() {
        let state =
            json!({ "status": "100101 rows shown of 100102 entries in this view · layer 0" });
        assert_eq!(entries_in_status(&state), Some(100102));
        assert_eq!(entries_in_status(&json!({ "status": null })), None);
    }

    #[test]
    fn the_parent_is_read_past_a_command_name_with_parentheses() {
        assert_eq!(parent_in_stat("4978 (chromium) S 4967 4967 0"), Some(4967));
        assert_eq!(parent_in_stat("77 (a) b (c)) R 12 77 0"), Some(12));
        assert_eq!(parent_in_stat("garbage"), None);
    }
}
