//! A registry image's layers in the pool of scan workers in real Chromium against a real
//! `docker-registry` (issue 10, item 1): each layer's entries are fetched and scanned in a
//! scan worker, several layers at once, and its digests in another pass, so the tree is shown
//! before the digests are in; the page reads the same as when the layer worker streams every
//! layer itself (`?scan-workers=0`); a blob that does not hash to its digest, and is shorter
//! than its manifest says, leaves the tree shown and the badge names each mismatch (size,
//! blob digest, diff_id), expected and actual; Cancel while several layers stream
//! ends every worker and nothing more is fetched or applied; a blob the registry serves
//! longer than its manifest says is read no further than that size, in a scan worker and in
//! the layer worker alike.
//!
//! The blob that does not match is made by writing other bytes over the pushed blob's file in
//! the registry's storage: the registry checks digests when a blob is pushed, not when it is
//! served.

use std::io::Write;
use std::time::{Duration, Instant};

use layerscope_e2e::badge::{tree_came_before_the_digests, BADGE_LOG};
use layerscope_e2e::browser::describe_log;
use layerscope_e2e::tap::{Seen, Tap};
use layerscope_e2e::{
    one_file_tar, push_archive, repo_root, system_gzip, Browser, LayerscopeServer, Registry,
    RegistryConfig,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const OPEN_TIMEOUT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(20);
const REPOSITORY: &str = "demo/app";
const TAG: &str = "1.0";

fn demo_source() -> String {
    format!(
        "docker-archive:{}",
        repo_root()
            .join("static/demo/layerscope-demo.tar")
            .display()
    )
}

fn eval(browser: &Browser, expression: &str) -> Value {
    browser.execute(&format!("return {expression};"))
}

/// Waits until `check` gives a value, polling; panics naming `what`, with the page's error or
/// console, on timeout.
fn wait_for<T>(browser: &Browser, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            let shot = browser.save_screenshot("registry-pool-failure.png");
            panic!(
                "{what} never happened within {OPEN_TIMEOUT:?} (screenshot {}); page error: {}; console: {}",
                shot.display(),
                eval(browser, "document.querySelector('[data-testid=\"error\"]')?.textContent ?? null"),
                describe_log(&browser.console_log())
            );
        }
        std::thread::sleep(POLL);
    }
}

/// A `layerscope serve` for the page and a registry that lets its origin read, with the demo
/// pushed as REPOSITORY:TAG.
fn demo_in_a_cors_registry() -> (LayerscopeServer, Registry) {
    let server = LayerscopeServer::start();
    let registry = Registry::start(RegistryConfig::plain().with_cors(&server.origin()));
    push_archive(&demo_source(), &registry, &format!("{REPOSITORY}:{TAG}"));
    (server, registry)
}

/// The pushed image's manifest.
fn pushed_manifest(registry: &Registry) -> Value {
    let response = registry.get_with_headers(
        &format!("/v2/{REPOSITORY}/manifests/{TAG}"),
        false,
        &[(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )],
    );
    serde_json::from_str(&response.body).unwrap()
}

/// The layer digests of the pushed image's manifest, bottom first.
fn layer_digests(registry: &Registry) -> Vec<String> {
    pushed_manifest(registry)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["digest"].as_str().unwrap().to_string())
        .collect()
}

/// Opens the page with `query`, submits the image's reference, and waits until the progress
/// is gone and the badge says `badge_start`; panics on an error shown instead.
fn open_image(browser: &Browser, server: &LayerscopeServer, query: &str, reference: &str) {
    browser.open(&format!("{}{query}", server.url));
    let input = browser.wait_for_testid("ref-input", OPEN_TIMEOUT);
    browser.console_errors();
    browser.execute(BADGE_LOG);
    browser.webdriver().send_keys(&input, reference).unwrap();
    browser.webdriver().send_keys(&input, "\u{E007}").unwrap();
}

/// What the page shows once it is done: the badge, each layer row's text and the tree's
/// rows' paths; `None` while it works.
fn settled(browser: &Browser, badge_start: &str) -> Option<Value> {
    let state = eval(
        browser,
        r#"{
            error: document.querySelector('[data-testid="error"]')?.textContent ?? null,
            busy: document.querySelector('[data-testid="progress"]') !== null,
            badge: document.querySelector('[data-testid="verify-status"]')?.textContent ?? '',
            layers: [...document.querySelectorAll('[data-testid="layer-row"]')].map(row => row.textContent),
            paths: [...document.querySelectorAll('[data-testid="tree-row"]')].map(row => row.dataset.path),
        }"#,
    );
    if let Some(error) = state["error"].as_str() {
        panic!("the page shows an error: {error}");
    }
    let done = state["busy"] == json!(false)
        && state["badge"].as_str()?.starts_with(badge_start)
        && !state["paths"].as_array()?.is_empty();
    done.then_some(state)
}

/// [`settled`], once it has read the same for 250 ms: the tree's first window is drawn in
/// two frames (the rows in view, then the overscan), so one reading can fall between them.
fn steady(browser: &Browser, what: &str, badge_start: &str) -> Value {
    let mut last: Option<(Value, Instant)> = None;
    wait_for(browser, what, || {
        let now = settled(browser, badge_start)?;
        match &last {
            Some((seen, since)) if *seen == now => {
                (since.elapsed() >= Duration::from_millis(250)).then_some(now)
            }
            _ => {
                last = Some((now, Instant::now()));
                None
            }
        }
    })
}

fn assert_no_console_errors(browser: &Browser) {
    let errors = browser.console_errors();
    assert!(
        errors.is_empty(),
        "console errors: {}",
        describe_log(&errors)
    );
}

#[test]
fn a_multi_layer_registry_image_shows_its_tree_before_its_digests_and_verifies_in_the_pool() {
    let (server, registry) = demo_in_a_cors_registry();
    // Paced, so the digest passes after the tree take long enough for the page to draw
    // the tree first (the demo is 11 kB packed).
    let tap = Tap::start_slow(registry.port, Some((1024, Duration::from_millis(20))));
    let reference = format!("{}/{REPOSITORY}:{TAG}", tap.host());
    let layers = layer_digests(&registry);
    assert_eq!(layers.len(), 3, "the demo has three layers");
    let browser = Browser::start();

    // The layer worker alone: each layer's digests are checked as it streams.
    open_image(&browser, &server, "?scan-workers=0", &reference);
    let alone = steady(&browser, "the image verified (alone)", "verified");
    assert!(
        !tree_came_before_the_digests(&browser),
        "alone, the digests are checked with the entries: {}",
        eval(&browser, "window.__badges")
    );
    assert_no_console_errors(&browser);

    // Two scan workers: entries passes first, the digest passes after the tree.
    open_image(&browser, &server, "?scan-workers=2", &reference);
    let pooled = steady(&browser, "the image verified (pool)", "verified");
    assert!(
        tree_came_before_the_digests(&browser),
        "in the pool, the tree is shown before the digests are in: {}",
        eval(&browser, "window.__badges")
    );
    assert_eq!(pooled, alone, "the pool reads as the layer worker alone");
    // Every digest: the manifest, the config, and each layer's blob digest and diff_id.
    let checks = 2 + 2 * layers.len();
    assert_eq!(
        pooled["badge"],
        json!(format!("verified ({checks}/{checks})"))
    );
    for (row, digest) in pooled["layers"].as_array().unwrap().iter().zip(&layers) {
        assert!(
            row.as_str().unwrap().contains(digest.as_str()),
            "{row} names {digest}"
        );
    }
    browser.save_screenshot("registry-pool-verified.png");
    assert_no_console_errors(&browser);
}

#[test]
fn a_blob_that_does_not_match_its_digest_keeps_the_tree_and_the_badge_names_it() {
    let (server, registry) = demo_in_a_cors_registry();
    let layers = layer_digests(&registry);
    // The bottom layer: the Files tab shows it first.
    let bottom = 0;
    let declared = pushed_manifest(&registry)["layers"][bottom]["size"]
        .as_u64()
        .unwrap();
    let replaced = system_gzip(&one_file_tar(
        "replaced.txt",
        b"not what the manifest promised\n",
    ));
    assert!((replaced.len() as u64) < declared);
    let actual = format!("sha256:{:x}", Sha256::digest(&replaced));
    std::fs::write(registry.blob_data_path(&layers[bottom]), &replaced).unwrap();
    let tap = Tap::start_slow(registry.port, Some((1024, Duration::from_millis(20))));
    let reference = format!("{}/{REPOSITORY}:{TAG}", tap.host());

    let browser = Browser::start();
    open_image(&browser, &server, "?scan-workers=2", &reference);
    let shown = steady(&browser, "the badge to name the mismatch", "3 mismatches");
    // Other, shorter bytes than the digest: the blob's size, its digest and the diff_id
    // all differ, each marked.
    let badge = shown["badge"].as_str().unwrap();
    assert!(
        badge.contains(&format!(
            "blob size of layer {bottom} (blobs/{})expected {declared} bytesactual {} bytes",
            layers[bottom].replace(':', "/"),
            replaced.len()
        )),
        "{badge}"
    );
    assert!(
        badge.contains(&format!("blob digest of layer {bottom} (")),
        "{badge}"
    );
    assert!(
        badge.contains(&format!("diff_id of layer {bottom} (")),
        "{badge}"
    );
    assert!(
        badge.contains(&format!("expected {}", layers[bottom])),
        "{badge}"
    );
    assert!(badge.contains(&format!("actual {actual}")), "{badge}");
    // The tree is the bytes the registry served: the replaced layer's one file.
    let row = layer_row(&browser, bottom);
    assert!(
        row.contains("31B") && row.contains("+1") && !row.contains("+192"),
        "the layer's row counts the replaced layer's file: {row}"
    );
    let rows = browser.find_testid("layer-row");
    browser.webdriver().click(&rows[bottom]).unwrap();
    wait_for(&browser, "the replaced layer's tree", || {
        let paths = eval(
            &browser,
            r#"[...document.querySelectorAll('[data-testid="tree-row"]')].map(row => row.dataset.path)"#,
        );
        (paths == json!(["/replaced.txt"])).then_some(())
    });
    assert!(tree_came_before_the_digests(&browser));
    assert!(browser.find_testid("error").is_empty());
    browser.save_screenshot("registry-pool-mismatch.png");
    assert_no_console_errors(&browser);
}

/// The text of layer row `index`.
/// The Files tab's tree pane's text in place of a tree when the open ended early, once shown.
fn tree_stopped(browser: &Browser) -> String {
    wait_for(browser, "the tree pane's word on the ended open", || {
        eval(
            browser,
            r#"document.querySelector('[data-testid="tree-stopped"]')?.textContent ?? null"#,
        )
        .as_str()
        .map(String::from)
    })
}

/// True when the tree pane does not say the tree is coming.
fn no_tree_waiting(browser: &Browser) -> bool {
    eval(
        browser,
        r#"document.querySelector('[data-testid="tree-waiting"]') === null"#,
    ) == json!(true)
}

fn layer_row(browser: &Browser, index: usize) -> String {
    let rows = browser.find_testid("layer-row");
    browser.webdriver().element_text(&rows[index]).unwrap()
}

/// The scan workers running in the browser now: dedicated workers other than the layer
/// workers (Chromium lists nested workers without their script's URL).
fn scan_worker_count(browser: &Browser) -> usize {
    let targets = browser
        .webdriver()
        .cdp("Target.getTargets", json!({}))
        .expect("Target.getTargets");
    targets["targetInfos"]
        .as_array()
        .expect("a list of targets")
        .iter()
        .filter(|target| {
            target["type"] == "worker"
                && !target["url"]
                    .as_str()
                    .is_some_and(|url| url.ends_with("/layer-worker-loader.js"))
        })
        .count()
}

/// The dedicated workers running in the browser now (layer workers and scan workers).
fn worker_count(browser: &Browser) -> usize {
    let targets = browser
        .webdriver()
        .cdp("Target.getTargets", json!({}))
        .expect("Target.getTargets");
    targets["targetInfos"]
        .as_array()
        .expect("a list of targets")
        .iter()
        .filter(|target| target["type"] == "worker")
        .count()
}

#[test]
fn cancel_while_several_layers_stream_stops_the_pool_and_nothing_more_is_fetched() {
    let (server, registry) = demo_in_a_cors_registry();
    // 128 B every 20 ms a connection: the 8 kB packed bottom layer takes over a second.
    let tap = Tap::start_slow(registry.port, Some((128, Duration::from_millis(20))));
    let reference = format!("{}/{REPOSITORY}:{TAG}", tap.host());
    let browser = Browser::start();
    open_image(&browser, &server, "?scan-workers=4", &reference);
    // Several layers stream at once, each with its own progress; the check, the click and
    // the rows are read in one script, so nothing comes in between.
    let moment = wait_for(&browser, "two layers streaming at once", || {
        let moment = eval(
            &browser,
            r#"(() => {
                const rows = [...document.querySelectorAll('[data-testid="layer-row"]')];
                const streaming = rows.filter(row => row.classList.contains('streaming'));
                const cancel = document.querySelector('[data-testid="cancel"]');
                if (!cancel || streaming.length < 2) return null;
                const read = rows.filter(row => !row.classList.contains('pending')).length;
                const texts = rows.map(row => row.textContent);
                cancel.click();
                return { streaming: streaming.length, read, texts };
            })()"#,
        );
        (!moment.is_null()).then_some(moment)
    });
    let at_cancel = browser
        .webdriver()
        .cdp("Target.getTargets", json!({}))
        .expect("Target.getTargets");
    eprintln!("at cancel: {at_cancel}");
    let message = wait_for(&browser, "the cancel message", || {
        eval(
            &browser,
            r#"document.querySelector('[data-testid="error"]')?.textContent ?? null"#,
        )
        .as_str()
        .map(str::to_string)
    });
    assert!(message.starts_with("Stopped reading"), "{message}");
    // The scan workers end. (One layer worker may still be listed: in some runs one is,
    // while nothing more is fetched or applied; which worker it is is not known yet.)
    let deadline = Instant::now() + OPEN_TIMEOUT;
    while worker_count(&browser) > 1 || scan_worker_count(&browser) != 0 {
        assert!(
            Instant::now() < deadline,
            "workers still running after the cancel: {}",
            browser
                .webdriver()
                .cdp("Target.getTargets", json!({}))
                .expect("Target.getTargets")
        );
        std::thread::sleep(POLL);
    }
    let after_cancel = tap.relayed();
    tap.take();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        tap.relayed(),
        after_cancel,
        "nothing more is downloaded once cancelled"
    );
    let later: Vec<Seen> = tap.take();
    assert!(later.is_empty(), "no request after cancel: {later:?}");
    let after = eval(
        &browser,
        r#"(() => {
            const rows = [...document.querySelectorAll('[data-testid="layer-row"]')];
            return { read: rows.filter(row => !row.classList.contains('pending')).length,
                     streaming: rows.filter(row => row.classList.contains('streaming')).length,
                     texts: rows.map(row => row.textContent),
                     progress: document.querySelector('[data-testid="progress"]') !== null };
        })()"#,
    );
    assert_eq!(after["progress"], json!(false));
    assert_eq!(after["streaming"], json!(0));
    assert_eq!(
        after["read"], moment["read"],
        "no layer came in after the cancel"
    );
    let rows = moment["texts"].as_array().unwrap().len() as u64;
    assert!(
        moment["read"].as_u64().unwrap() < rows,
        "the cancel came before the last layer: {moment}"
    );
    assert_eq!(
        tree_stopped(&browser),
        "No tree: the open was cancelled before every layer was read; the layers read so far \
         are listed on the left. Open the reference again to see the tree."
    );
    assert!(no_tree_waiting(&browser));
    browser.save_screenshot("registry-pool-cancelled.png");
}

#[test]
fn a_registry_layer_longer_than_its_manifest_says_is_read_no_further_by_either_worker() {
    let (server, registry) = demo_in_a_cors_registry();
    let manifest = pushed_manifest(&registry);
    let bottom = &manifest["layers"][0];
    let digest = bottom["digest"].as_str().unwrap().to_string();
    let declared = bottom["size"].as_u64().unwrap();
    // The registry now serves the bottom layer with 64 MiB more after it.
    let mut stored = std::fs::OpenOptions::new()
        .append(true)
        .open(registry.blob_data_path(&digest))
        .unwrap();
    let junk = vec![0x5au8; 1 << 20];
    for _ in 0..64 {
        stored.write_all(&junk).unwrap();
    }
    drop(stored);

    let reference = format!("{}/{REPOSITORY}:{TAG}", registry.host());
    // In a scan worker of the pool, and in the layer worker streaming every layer itself.
    for query in ["?scan-workers=2", "?scan-workers=0"] {
        let browser = Browser::start();
        open_image(&browser, &server, query, &reference);
        let error = wait_for(&browser, "the oversized layer's error", || {
            eval(
                &browser,
                r#"document.querySelector('[data-testid="error"]')?.textContent ?? null"#,
            )
            .as_str()
            .map(String::from)
        });
        let declares = format!("more than the {declared} bytes its manifest declares");
        assert!(error.contains(&declares), "{query}: {error}");
        assert!(
            error.contains(&format!("layer 0 ({digest})")),
            "{query}: {error}"
        );
        // Reading stopped with the chunk that went past the declared size, not at the end.
        let stopped: u64 = error
            .split("reading stopped at ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{query}: no byte count in {error}"));
        assert!(
            stopped > declared + 1 && stopped < declared + (8 << 20),
            "{query}: stopped at {stopped} of {declared} declared + 64 MiB sent: {error}"
        );
        // The tree pane says the open failed and what to do, and promises no tree.
        assert_eq!(
            tree_stopped(&browser),
            "No tree: the open failed before every layer was read (the message above says \
             why). Drop another archive or type another reference to open something else.",
            "{query}"
        );
        assert!(no_tree_waiting(&browser), "{query}");
        if query == "?scan-workers=2" {
            browser.save_screenshot("registry-pool-oversized-layer.png");
        }
    }
}
