//! The shipped demo image, opened in the real page both ways a user can: the "Open demo
//! image" button (fetched from the served dist) and choosing the archive in the drop zone's
//! file input. The page must show the image's tag, one row per layer carrying that layer's
//! diff ID, and one history row per history entry, as read here from the archive itself.
//!
//! Relies on the page's test ids `image-summary`, `layer-row` and `history-row`.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use layerscope_e2e::browser::describe_log;
use layerscope_e2e::{repo_root, Browser, LayerscopeServer};
use serde_json::Value;

const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

fn demo_archive() -> PathBuf {
    repo_root().join("static/demo/layerscope-demo.tar")
}

/// The archive's `manifest.json` and image config, read with the tar crate.
fn demo_manifest_and_config() -> (Value, Value) {
    let read_member = |wanted: &str| -> Vec<u8> {
        let mut archive = tar::Archive::new(File::open(demo_archive()).expect("demo archive"));
        for entry in archive.entries().expect("archive headers") {
            let mut entry = entry.expect("archive entry");
            if entry.path().expect("member path").to_string_lossy() == wanted {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).expect("read member");
                return bytes;
            }
        }
        panic!("{wanted} is not in {}", demo_archive().display());
    };
    let manifest: Value = serde_json::from_slice(&read_member("manifest.json")).unwrap();
    let config_name = manifest[0]["Config"].as_str().unwrap().to_string();
    let config: Value = serde_json::from_slice(&read_member(&config_name)).unwrap();
    (manifest, config)
}

/// Checks what the page shows against the archive.
fn assert_shows_the_demo(browser: &Browser) {
    let (_, config) = demo_manifest_and_config();
    let summary = browser.wait_for_testid("image-summary", OPEN_TIMEOUT);
    let summary_text = browser.webdriver().element_text(&summary).unwrap();
    assert!(
        summary_text.contains("layerscope/demo:1.0"),
        "summary {summary_text:?}"
    );

    let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    let rows = browser.find_testid("layer-row");
    assert_eq!(rows.len(), diff_ids.len(), "one layer-row per layer");
    for (row, diff_id) in rows.iter().zip(&diff_ids) {
        let text = browser.webdriver().element_text(row).unwrap();
        assert!(text.contains(diff_id), "layer row {text:?} lacks {diff_id}");
    }

    let history = config["history"].as_array().unwrap();
    assert_eq!(
        browser.find_testid("history-row").len(),
        history.len(),
        "one history-row per history entry"
    );
    let errors = browser.console_errors();
    assert!(
        errors.is_empty(),
        "console errors: {}",
        describe_log(&errors)
    );
}

#[test]
fn open_demo_button_shows_the_demo_image() {
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    let button = browser.wait_for_testid("open-demo", OPEN_TIMEOUT);
    browser.console_errors(); // start the error check from the click
    browser.webdriver().click(&button).unwrap();
    assert_shows_the_demo(&browser);
}

#[test]
fn choosing_the_demo_archive_in_the_drop_zone_shows_it() {
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    browser.console_errors();
    browser.set_file("drop-zone", &demo_archive());
    assert_shows_the_demo(&browser);
}
