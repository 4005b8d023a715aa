//! A sample of issue 11's adversarial corpus dropped on the page in real Chromium: each is
//! shown, or refused in place with the message the CLI gives, and the page stays usable for
//! the next archive. The archives come from `tests/corpus/make-corpus.py` (also run by
//! `crates/cli/tests/corpus.rs`), written under cargo's test scratch directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use layerscope_e2e::{repo_root, Browser, LayerscopeServer};

const OPEN_TIMEOUT: Duration = Duration::from_secs(120);

/// The corpus directory, generated on first use.
fn corpus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus");
        let script = repo_root().join("tests/corpus/make-corpus.py");
        let cases = [
            "valid",
            "cut_in_layer",
            "zstd_window_2g",
            "outer_zstd_bomb",
            "pax_newline",
            "oci_layer_size_larger",
        ];
        let status = Command::new("python3")
            .arg(&script)
            .arg(&dir)
            .args(cases)
            .status()
            .expect("run make-corpus.py");
        assert!(status.success(), "make-corpus.py: {status}");
        dir
    })
}

fn case(name: &str) -> PathBuf {
    corpus().join(format!("{name}.tar"))
}

/// Waits until exactly `count` elements carry `testid`.
fn wait_for_count(browser: &Browser, testid: &str, count: usize) {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        let found = browser.find_testid(testid).len();
        if found == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{found} elements {testid:?}, not {count}, after {OPEN_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the analysis to finish: the progress line gone.
fn wait_until_done(browser: &Browser) {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    while !browser.find_testid("progress").is_empty() {
        assert!(
            Instant::now() < deadline,
            "still in progress after {OPEN_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Drops `name` and waits for the refusal; its text.
fn refused(browser: &Browser, name: &str) -> String {
    browser.set_file("drop-zone", &case(name));
    let error = browser.wait_for_testid("error", OPEN_TIMEOUT);
    let message = browser.webdriver().element_text(&error).unwrap();
    assert!(
        message.contains(name),
        "the error names the file: {message:?}"
    );
    assert!(
        browser.find_testid("progress").is_empty(),
        "no progress after a refusal"
    );
    message
}

/// Drops `name` and waits until its `layers` layer rows are shown and the analysis is done.
fn shown(browser: &Browser, name: &str, layers: usize) {
    browser.set_file("drop-zone", &case(name));
    wait_for_count(browser, "layer-row", layers);
    wait_until_done(browser);
    assert!(browser.find_testid("error").is_empty(), "{name}: no error");
    let summary = browser.testid_text("image-summary");
    assert!(
        summary.contains("corpus"),
        "{name}: the image row in {summary:?}"
    );
}

#[test]
fn corpus_archives_are_shown_or_refused_in_place_and_the_page_stays_usable() {
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);

    let message = refused(&browser, "cut_in_layer");
    assert!(
        message.contains("ends early") && message.contains("layer1/layer.tar"),
        "the cut is blamed on the archive, inside the layer: {message:?}"
    );
    assert!(
        browser.find_testid("layer-row").is_empty(),
        "nothing shown for an archive refused before its image was read"
    );
    browser.save_screenshot("corpus-cut-in-layer.png");

    // The core names the window and the limit; the page, which cannot raise it, says
    // what can: the CLI with its option.
    let message = refused(&browser, "zstd_window_2g");
    assert!(
        message
            .contains("zstd frame 1 has 2147483648 bytes of window, over the limit of 134217728"),
        "the window and its limit: {message:?}"
    );
    assert!(
        message.contains(
            "open it with the CLI: layerscope inspect --max-zstd-window 2147483648 ARCHIVE"
        ),
        "what to do instead: {message:?}"
    );
    assert_eq!(
        message.matches("--max-zstd-window").count(),
        1,
        "the option once, in the advice: {message:?}"
    );
    browser.save_screenshot("corpus-zstd-window.png");

    // A 1 GiB layer inside a 38 KB .tar.zst streams through the worker and is shown.
    shown(&browser, "outer_zstd_bomb", 1);
    browser.save_screenshot("corpus-outer-zstd-bomb.png");

    // A PAX name with a newline is kept: the layer's one file is listed.
    shown(&browser, "pax_newline", 1);

    // A layer descriptor 100 bytes larger than its blob: the layer is read and shown, and
    // the badge names the layer and both sizes.
    browser.set_file("drop-zone", &case("oci_layer_size_larger"));
    wait_for_count(&browser, "layer-row", 1);
    wait_until_done(&browser);
    assert!(browser.find_testid("error").is_empty(), "no error");
    let badge = browser.testid_text("verify-status");
    assert!(
        badge.starts_with("1 mismatch (4/5 verified)"),
        "one size row beside four matching digests: {badge:?}"
    );
    assert!(
        badge.contains("blob size of layer 0 (blobs/sha256/")
            && badge.contains("expected 2148 bytes")
            && badge.contains("actual 2048 bytes"),
        "the layer and both sizes: {badge:?}"
    );
    browser.save_screenshot("corpus-oci-layer-size-larger.png");

    // After all of that, an ordinary archive opens as usual.
    shown(&browser, "valid", 2);
    browser.save_screenshot("corpus-valid-after.png");
}
