//! Headless Chromium driven through chromedriver, with page-level helpers for the tests.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::webdriver::{ElementId, LogEntry, WebDriver};
use layerscope_test_support::{free_port, ChildGuard, TempDir};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The Chromium flags every test browser runs with (see docs/architecture.md): headless, no
/// background traffic, and a resolver that knows no host but loopback.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    // A laptop-sized window, so screenshots show the page as people see it.
    "--window-size=1280,900",
];

/// One request from the browser's network log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRequest {
    /// What was requested.
    pub url: String,
    /// The document it was requested for (the page's URL for its own loads; Chromium's start
    /// tab has `chrome://` documents); empty for a request from the trace.
    pub document_url: String,
    /// For a request from the trace ([`Browser::start_logging_worker_requests`]), the
    /// renderer thread that sent it: the page's, or one of its workers'.
    pub thread: Option<u64>,
}

/// A headless Chromium session; chromedriver and the browser end on drop.
pub struct Browser {
    driver: WebDriver,
    // Dropped after `driver` (field order): the session is deleted first, then the process.
    _chromedriver: ChildGuard,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a fresh Chromium session with console
    /// logging enabled. Panics naming the failing process and quoting its stderr.
    pub fn start() -> Browser {
        Browser::start_with(None)
    }

    /// Like [`Browser::start`], with Chromium's `devtools.timeline` trace in the performance
    /// log: every request a renderer thread sends, the page's dedicated workers' and their
    /// nested workers' included, is then in [`Browser::network_requests`] too (a
    /// `ResourceSendRequest` trace event, with the thread that sent it). Chromium's own
    /// background requests (updates, sign-in, its search engine) come from the browser
    /// process and are not; nor is a dedicated worker's own script, which the browser process
    /// fetches (`new Worker` takes same-origin scripts only).
    pub fn start_logging_worker_requests() -> Browser {
        Browser::start_with(Some("devtools.timeline"))
    }

    /// Like [`Browser::start`], with Chromium's trace of `categories` (comma-separated) in
    /// the performance log, read back with [`Browser::trace_events`].
    pub fn start_tracing(categories: &str) -> Browser {
        Browser::start_with(Some(categories))
    }

    /// The trace events (`Tracing.dataCollected` in the performance log, each the event's
    /// JSON: `name`, `ph`, `ts`, `dur`, `tid`, `args`...) since the last read of the log.
    pub fn trace_events(&self) -> Vec<Value> {
        let entries = self
            .driver
            .log("performance")
            .unwrap_or_else(|error| panic!("reading the performance log: {error}"));
        entries
            .iter()
            .filter_map(|entry| serde_json::from_str::<Value>(&entry.message).ok())
            .filter(|event| event["message"]["method"] == "Tracing.dataCollected")
            .map(|event| event["message"]["params"].clone())
            .collect()
    }

    fn start_with(trace_categories: Option<&str>) -> Browser {
        for binary in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: install Debian's chromium and chromium-driver"
            );
        }
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null());
        let mut chromedriver = ChildGuard::spawn("chromedriver", command);
        chromedriver.wait_for_port(port, DRIVER_START_TIMEOUT);

        let profile = TempDir::new("chromium-profile");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut options = json!({ "binary": CHROMIUM, "args": args });
        if let Some(categories) = trace_categories {
            options["perfLoggingPrefs"] = json!({ "traceCategories": categories });
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
            // `performance` carries DevTools network events: every request the page makes.
            "goog:loggingPrefs": { "browser": "ALL", "performance": "ALL" },
        });
        let driver = match WebDriver::new_session(&format!("http://127.0.0.1:{port}"), capabilities)
        {
            Ok(driver) => driver,
            // Chromium's own complaint follows the first line of the message: keep all of it.
            Err(error) => chromedriver.fail(&format!(
                "could not start Chromium ({}): {}",
                error.error, error.message
            )),
        };
        Browser {
            driver,
            _chromedriver: chromedriver,
            _profile: profile,
        }
    }

    /// The underlying WebDriver session, for commands without a helper here.
    pub fn webdriver(&self) -> &WebDriver {
        &self.driver
    }

    /// Loads `url` and waits for its load event.
    pub fn open(&self, url: &str) {
        if let Err(error) = self.driver.navigate(url) {
            panic!("opening {url}: {error}");
        }
    }

    /// Elements with `data-testid="testid"` right now (possibly none).
    pub fn find_testid(&self, testid: &str) -> Vec<ElementId> {
        self.driver
            .find_elements(&testid_selector(testid))
            .unwrap_or_else(|error| panic!("looking for data-testid={testid}: {error}"))
    }

    /// Waits until an element with `data-testid="testid"` exists and returns the first.
    pub fn try_wait_for_testid(
        &self,
        testid: &str,
        timeout: Duration,
    ) -> Result<ElementId, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(element) = self.find_testid(testid).into_iter().next() {
                return Ok(element);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no element with data-testid={testid} after {timeout:?} on {}; console: {}",
                    self.driver.current_url().unwrap_or_default(),
                    describe_log(&self.console_log()),
                ));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Like [`Browser::try_wait_for_testid`], panicking with the page URL and console on timeout.
    pub fn wait_for_testid(&self, testid: &str, timeout: Duration) -> ElementId {
        self.try_wait_for_testid(testid, timeout)
            .unwrap_or_else(|message| panic!("{message}"))
    }

    /// The text of the first element with `data-testid="testid"`, waiting up to 10 s for it.
    pub fn testid_text(&self, testid: &str) -> String {
        let element = self.wait_for_testid(testid, Duration::from_secs(10));
        self.driver
            .element_text(&element)
            .unwrap_or_else(|error| panic!("text of data-testid={testid}: {error}"))
    }

    /// Picks the image tab `key` (`files`, `history`, `config`, `inspect`, `efficiency`,
    /// `tags`) by clicking it, waiting up to `timeout` for the tab bar (it comes with the
    /// image's overview) and then for the tab's panel.
    pub fn show_tab(&self, key: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let panel = format!("tab-panel-{key}");
        loop {
            if !self.find_testid(&panel).is_empty() {
                return;
            }
            if let Some(tab) = self.find_testid(&format!("tab-{key}")).first() {
                // The bar may be re-rendered between finding and clicking: look again.
                let _ = self.driver.click(tab);
            }
            if Instant::now() > deadline {
                panic!(
                    "tab {key} never showed within {timeout:?} on {}; console: {}",
                    self.driver.current_url().unwrap_or_default(),
                    describe_log(&self.console_log())
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Puts a local file into the `<input type=file>` that is, or is inside, the element with
    /// `data-testid="testid"` (the drop zone), as if the user chose it; the page gets `change`.
    pub fn set_file(&self, testid: &str, path: &Path) {
        let absolute = path
            .canonicalize()
            .unwrap_or_else(|error| panic!("set_file: {}: {error}", path.display()));
        let selector = format!(
            "input[type=file]{id}, {id} input[type=file]",
            id = testid_selector(testid)
        );
        let input = self
            .driver
            .find_elements(&selector)
            .unwrap_or_else(|error| panic!("set_file: finding {selector}: {error}"))
            .into_iter()
            .next()
            .unwrap_or_else(|| {
                panic!("set_file: no <input type=file> at or inside data-testid={testid}")
            });
        self.driver
            .send_keys(&input, &absolute.display().to_string())
            .unwrap_or_else(|error| panic!("set_file: sending {}: {error}", absolute.display()));
    }

    /// Saves a PNG of the viewport as `name` in [`screenshots_dir`] and returns its path.
    pub fn save_screenshot(&self, name: &str) -> std::path::PathBuf {
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|error| panic!("creating {}: {error}", dir.display()));
        let png = self
            .driver
            .screenshot_png()
            .unwrap_or_else(|error| panic!("screenshot {name}: {error}"));
        let path = dir.join(name);
        std::fs::write(&path, png)
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        path
    }

    /// Runs `return ...;` JavaScript in the page.
    pub fn execute(&self, script: &str) -> Value {
        self.driver
            .execute(script, Vec::new())
            .unwrap_or_else(|error| panic!("script {script:?}: {error}"))
    }

    /// Console messages since the last call (each is reported once).
    pub fn console_log(&self) -> Vec<LogEntry> {
        self.driver
            .browser_log()
            .unwrap_or_else(|error| panic!("reading the browser console: {error}"))
    }

    /// The console errors (level SEVERE: `console.error`, uncaught exceptions, failed loads)
    /// since the last read.
    pub fn console_errors(&self) -> Vec<LogEntry> {
        self.console_log()
            .into_iter()
            .filter(|entry| entry.level == "SEVERE")
            .collect()
    }

    /// Every network request the browser started since the last call (DevTools
    /// `Network.requestWillBeSent` events from chromedriver's performance log), including ones
    /// that failed or were blocked, which resource timing may omit. Requests of dedicated
    /// workers are not among those; a browser started with
    /// [`Browser::start_logging_worker_requests`] adds every request its renderer threads
    /// sent, workers' included (`ResourceSendRequest` trace events).
    pub fn network_requests(&self) -> Vec<NetworkRequest> {
        let entries = self
            .driver
            .log("performance")
            .unwrap_or_else(|error| panic!("reading the performance log: {error}"));
        entries
            .iter()
            .filter_map(|entry| serde_json::from_str::<Value>(&entry.message).ok())
            .filter_map(|event| {
                let message = &event["message"];
                let params = &message["params"];
                if message["method"] == "Network.requestWillBeSent" {
                    return Some(NetworkRequest {
                        url: params["request"]["url"].as_str()?.to_string(),
                        document_url: params["documentURL"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        thread: None,
                    });
                }
                if message["method"] == "Tracing.dataCollected"
                    && params["name"] == "ResourceSendRequest"
                {
                    return Some(NetworkRequest {
                        url: params["args"]["data"]["url"].as_str()?.to_string(),
                        document_url: String::new(),
                        thread: params["tid"].as_u64(),
                    });
                }
                None
            })
            .collect()
    }

    /// Every URL the current page loaded: the document and each resource-timing entry.
    pub fn loaded_urls(&self) -> Vec<String> {
        let value = self.execute(
            "return [document.location.href].concat(\
             performance.getEntriesByType('resource').map(entry => entry.name));",
        );
        value
            .as_array()
            .expect("loaded_urls returns an array")
            .iter()
            .map(|url| url.as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session lets Chromium exit cleanly; the guard kills whatever remains.
        let _ = self.driver.delete_session();
    }
}

/// Where tests save screenshots: `$LAYERSCOPE_SCREENSHOTS`, else `screenshots/` in the
/// build's target directory (`$CARGO_TARGET_DIR`, else the workspace's `target/`).
pub fn screenshots_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("LAYERSCOPE_SCREENSHOTS") {
        return dir.into();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| layerscope_test_support::repo_root().join("target"))
        .join("screenshots")
}

/// `[data-testid="..."]` with the value quoted for CSS.
pub fn testid_selector(testid: &str) -> String {
    format!(
        "[data-testid=\"{}\"]",
        testid.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

/// One line per console entry, for assertion messages.
pub fn describe_log(entries: &[LogEntry]) -> String {
    if entries.is_empty() {
        return "(empty)".to_string();
    }
    entries
        .iter()
        .map(|entry| format!("\n  [{}] {}", entry.level, entry.message))
        .collect()
}
