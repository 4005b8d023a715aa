//! The browser half of the harness, checked against a hand-made page served by the real
//! `layerscope serve`: waiting for test ids, setting files, reading the console, listing
//! loaded URLs, and streaming-compiling wasm (which needs the right MIME type).

use std::path::Path;
use std::time::Duration;

use layerscope_e2e::{layerscope_binary, Browser, LayerscopeServer, TempDir};

/// The page: markup only, its script a file, since `layerscope serve` sends the page's
/// Content-Security-Policy (no inline script, no inline event handlers) with every file.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>harness check</title><link rel="icon" href="data:,"></head>
<body>
<div data-testid="drop-zone"><input type="file"></div>
<p data-testid="file-report">none</p>
<p data-testid="wasm-report">pending</p>
<button data-testid="make-error">error</button>
<script src="harness.js"></script>
</body></html>"#;

const SCRIPT: &str = r#"
  document.querySelector('[data-testid=make-error]').addEventListener('click', () => {
    console.error('harness-check-error ' + 42);
  });
  document.querySelector('input[type=file]').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    const text = await file.text();
    document.querySelector('[data-testid=file-report]').textContent =
      file.name + ' ' + file.size + ' ' + text.trim();
  });
  setTimeout(() => {
    const late = document.createElement('p');
    late.dataset.testid = 'late';
    late.textContent = 'arrived';
    document.body.appendChild(late);
  }, 300);
  WebAssembly.instantiateStreaming(fetch('empty.wasm')).then(
    () => { document.querySelector('[data-testid=wasm-report]').textContent = 'compiled'; },
    (error) => { document.querySelector('[data-testid=wasm-report]').textContent = 'failed: ' + error; });
"#;

/// The smallest valid module: magic and version.
const EMPTY_WASM: &[u8] = b"\0asm\x01\0\0\0";

fn harness_site() -> TempDir {
    let site = TempDir::new("harness-site");
    std::fs::write(site.path().join("index.html"), PAGE).unwrap();
    std::fs::write(site.path().join("harness.js"), SCRIPT).unwrap();
    std::fs::write(site.path().join("empty.wasm"), EMPTY_WASM).unwrap();
    std::fs::write(site.path().join("external.html"),
        r#"<!doctype html><img src="http://layerscope-nowhere.example/pixel.png"><p data-testid="done">done</p>"#,
    ).unwrap();
    site
}

fn start(site: &Path) -> (LayerscopeServer, Browser) {
    let server = LayerscopeServer::start_with(&layerscope_binary(), site);
    let browser = Browser::start();
    browser.open(&server.url);
    (server, browser)
}

#[test]
fn waits_for_late_elements_and_times_out_clearly() {
    let site = harness_site();
    let (_server, browser) = start(site.path());
    let late = browser.wait_for_testid("late", Duration::from_secs(5));
    let png = browser.webdriver().screenshot_png().unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "a screenshot is a PNG"
    );
    assert_eq!(browser.webdriver().element_text(&late).unwrap(), "arrived");
    let missing = browser
        .try_wait_for_testid("never-there", Duration::from_millis(300))
        .unwrap_err();
    assert!(missing.contains("data-testid=never-there"), "{missing}");
}

#[test]
fn set_file_delivers_the_file_to_the_page() {
    let site = harness_site();
    let (_server, browser) = start(site.path());
    let upload = TempDir::new("upload");
    let file = upload.path().join("hello.txt");
    std::fs::write(&file, "hello from the harness\n").unwrap();
    browser.set_file("drop-zone", &file);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut report = String::new();
    while std::time::Instant::now() < deadline {
        report = browser.testid_text("file-report");
        if report != "none" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(report, "hello.txt 23 hello from the harness");
}

#[test]
fn console_errors_are_captured() {
    let site = harness_site();
    let (_server, browser) = start(site.path());
    browser.wait_for_testid("late", Duration::from_secs(5));
    let initial = browser.console_errors();
    assert!(
        initial.is_empty(),
        "the page starts without errors: {initial:?}"
    );
    let button = browser.wait_for_testid("make-error", Duration::from_secs(5));
    browser.webdriver().click(&button).unwrap();
    let errors = browser.console_errors();
    assert!(
        errors
            .iter()
            .any(|entry| entry.message.contains("harness-check-error 42")),
        "{errors:?}"
    );
}

#[test]
fn wasm_compiles_streaming_and_loads_stay_on_the_origin() {
    let site = harness_site();
    let (server, browser) = start(site.path());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut report = String::new();
    while std::time::Instant::now() < deadline {
        report = browser.testid_text("wasm-report");
        if report != "pending" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        report, "compiled",
        "application/wasm must allow streaming compilation"
    );
    let urls = browser.loaded_urls();
    assert!(
        urls.iter().any(|url| url.ends_with("/empty.wasm")),
        "{urls:?}"
    );
    assert!(
        urls.iter().all(|url| url.starts_with(&server.origin())),
        "{urls:?}"
    );
}

#[test]
fn external_loads_are_blocked_and_visible() {
    let site = harness_site();
    let (server, browser) = start(site.path());
    browser.open(&format!("{}external.html", server.url));
    browser.wait_for_testid("done", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(500));
    let requests: Vec<String> = browser
        .network_requests()
        .into_iter()
        .map(|request| request.url)
        .collect();
    assert!(
        requests.contains(&"http://layerscope-nowhere.example/pixel.png".to_string()),
        "the blocked request must show in the network log: {requests:?}"
    );
    assert!(
        requests.contains(&format!("{}external.html", server.url)),
        "the page itself is in the network log: {requests:?}"
    );
    let errors = browser.console_errors();
    assert!(
        errors
            .iter()
            .any(|entry| entry.message.contains("layerscope-nowhere.example")),
        "the failed load is a console error: {errors:?}"
    );
}
