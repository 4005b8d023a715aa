//! The page shell as built by scripts/build-web.sh and served by `layerscope serve`, in
//! headless Chromium: header, reference input, drop zone with a file input, demo button; no
//! console errors; nothing loaded from anywhere but the page's own origin.
//!
//! Needs the built page (dist/ or $LAYERSCOPE_DIST) and the layerscope binary
//! ($LAYERSCOPE_BIN or target/{release,debug}/layerscope); fails, never skips, without them.

use std::time::Duration;

use layerscope_e2e::browser::describe_log;
use layerscope_e2e::{Browser, LayerscopeServer};

/// The wasm app renders after downloading and compiling its module.
const RENDER_TIMEOUT: Duration = Duration::from_secs(30);

fn open_page() -> (LayerscopeServer, Browser) {
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for_testid("ref-input", RENDER_TIMEOUT);
    (server, browser)
}

#[test]
fn shell_shows_header_reference_input_drop_zone_and_demo_button() {
    let (_server, browser) = open_page();
    let driver = browser.webdriver();

    let headers = driver.find_elements("header").expect("find <header>");
    let header = headers.first().expect("the page has a <header>");
    let header_text = driver.element_text(header).unwrap();
    assert!(
        header_text.to_lowercase().contains("layerscope"),
        "header text {header_text:?} does not name layerscope"
    );

    let ref_input = browser.wait_for_testid("ref-input", RENDER_TIMEOUT);
    assert_eq!(driver.element_tag_name(&ref_input).unwrap(), "input");

    let drop_zone = browser.wait_for_testid("drop-zone", RENDER_TIMEOUT);
    let file_inputs = driver
        .find_elements_in(&drop_zone, "input[type=file]")
        .unwrap();
    assert_eq!(
        file_inputs.len(),
        1,
        "the drop zone holds one <input type=file>"
    );

    let demo = browser.wait_for_testid("open-demo", RENDER_TIMEOUT);
    let demo_text = driver.element_text(&demo).unwrap();
    assert!(
        demo_text.to_lowercase().contains("demo"),
        "open-demo button text {demo_text:?}"
    );
}

#[test]
fn page_loads_only_from_its_origin_and_logs_no_errors() {
    let (server, browser) = open_page();
    // Let late loads (worker scripts, styles, icons) settle before reading.
    std::thread::sleep(Duration::from_millis(500));

    let urls = browser.loaded_urls();
    assert!(
        urls.iter().any(|url| url.ends_with(".wasm")),
        "the page loaded no .wasm module: {urls:?}"
    );
    let own_origin = format!("{}/", server.origin());
    let foreign: Vec<&String> = urls
        .iter()
        .filter(|url| !url.starts_with(&own_origin))
        .collect();
    assert!(
        foreign.is_empty(),
        "requests outside {own_origin}: {foreign:?}"
    );

    // The network log also sees requests that failed or were blocked (resource timing may
    // not); `data:` and `blob:` URLs never leave the page.
    let requests = browser.network_requests();
    let page_requests: Vec<&String> = requests
        .iter()
        .filter(|request| request.document_url.starts_with(&own_origin))
        .map(|request| &request.url)
        .collect();
    assert!(
        page_requests.iter().any(|url| url.ends_with(".wasm")),
        "the network log shows no .wasm request of the page: {page_requests:?}"
    );
    let foreign_requests: Vec<&&String> = page_requests
        .iter()
        .filter(|url| !url.starts_with(&own_origin))
        .filter(|url| !url.starts_with("data:") && !url.starts_with("blob:"))
        .collect();
    assert!(
        foreign_requests.is_empty(),
        "network requests outside {own_origin}: {foreign_requests:?}"
    );

    let errors = browser.console_errors();
    assert!(
        errors.is_empty(),
        "browser console errors: {}",
        describe_log(&errors)
    );
}

/// Finds `name` anywhere below `dir` (the build may place static files under any prefix).
fn find_file(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|file| file == name) {
            return Some(path);
        }
    }
    None
}

#[test]
fn built_page_ships_the_demo_archive() {
    let dist = layerscope_e2e::dist_dir();
    let committed = layerscope_e2e::repo_root().join("static/demo/layerscope-demo.tar");
    let shipped = find_file(&dist, "layerscope-demo.tar").unwrap_or_else(|| {
        panic!(
            "{} has no layerscope-demo.tar: the build must copy static/ (see scripts/make-demo-image.sh)",
            dist.display()
        )
    });
    let relative = shipped
        .strip_prefix(&dist)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let server = LayerscopeServer::start();
    let url = format!("{}{relative}", server.url);
    let mut response = layerscope_e2e::http::loopback_agent(Duration::from_secs(30))
        .get(&url)
        .call()
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    assert_eq!(response.status().as_u16(), 200, "GET {url}");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/x-tar")
    );
    let served = response
        .body_mut()
        .with_config()
        .limit(4 * 1024 * 1024)
        .read_to_vec()
        .unwrap();
    let expected = std::fs::read(&committed).expect("committed demo archive");
    assert!(
        served == expected,
        "{url} differs from {}",
        committed.display()
    );
}
