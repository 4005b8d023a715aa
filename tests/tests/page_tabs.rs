//! The image's tabs in real Chromium: every tab on dive's test image and on the demo image,
//! checked against what `layerscope inspect --json` says for the same archive and against
//! dive's own figures for its image; "Download report" against the CLI's document; a real
//! drop (a `DragEvent` holding a `File`); archive and registry links in a fresh browser;
//! back and forward between tabs; the keys; untrusted text shown as text.
//!
//! Screenshots of each tab are saved under the target directory's `screenshots/` on every
//! run (see `layerscope_e2e::browser::screenshots_dir`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use layerscope_core::present::humanize;
use layerscope_e2e::browser::describe_log;
use layerscope_e2e::{
    cli_json, cli_json_text, peer, push_archive, push_multi_arch, repo_root, tar_member, Browser,
    LayerscopeServer, Registry, RegistryConfig, TempDir,
};
use serde_json::{json, Value};

const OPEN_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(30);

fn dive_image() -> PathBuf {
    peer("dive/.data/test-docker-image.tar")
}

fn demo() -> PathBuf {
    repo_root().join("static/demo/layerscope-demo.tar")
}

/// dive's layer sizes and commands for `.data/test-docker-image.tar`: wagoodman/dive @ d6c6919,
/// `Test_Export` in `cmd/dive/cli/internal/command/export/export_test.go` (its snapshot
/// `testdata/snapshots/export_test.snap`), as crates/cli/tests/inspect.rs has them in full.
/// Commands as dive prints them, without the `/bin/sh -c ` the history records.
const DIVE_LAYERS: [(u64, &str); 14] = [
    (1154361, "#(nop) ADD file:ce026b62356eec3ad1214f92be2c9dc063fe205bd5e600be3492c4dfb17148bd in /"),
    (6405, "#(nop) ADD file:139c3708fb6261126453e34483abd8bf7b26ed16d952fd976994d68e72d93be2 in /somefile.txt"),
    (0, "mkdir -p /root/example/really/nested"),
    (6405, "cp /somefile.txt /root/example/somefile1.txt"),
    (6405, "chmod 444 /root/example/somefile1.txt"),
    (6405, "cp /somefile.txt /root/example/somefile2.txt"),
    (6405, "cp /somefile.txt /root/example/somefile3.txt"),
    (6405, "mv /root/example/somefile3.txt /root/saved.txt"),
    (6405, "cp /root/saved.txt /root/.saved.txt"),
    (0, "rm -rf /root/example/"),
    (2187, "#(nop) ADD dir:7ec14b81316baa1a31c38c97686a8f030c98cba2035c968412749e33e0c4427e in /root/.data/"),
    (6405, "cp /root/saved.txt /tmp/saved.again1.txt"),
    (6405, "cp /root/saved.txt /root/.data/saved.again2.txt"),
    (6405, "chmod +x /root/saved.txt"),
];
/// dive's `image` figures for the same image (same source).
const DIVE_INEFFICIENT_BYTES: u64 = 32025;
const DIVE_EFFICIENCY_SCORE: f64 = 0.9844212134184309;
const DIVE_FILE_REFERENCE: [(&str, u64, u64); 3] = [
    ("/root/saved.txt", 2, 12810),
    ("/root/example/somefile1.txt", 2, 12810),
    ("/root/example/somefile3.txt", 2, 6405),
];

/// A browser at 1280x900 on the page, the console read (and so emptied).
fn open_page(server: &LayerscopeServer, fragment: &str) -> Browser {
    let browser = Browser::start();
    browser.webdriver().set_window_size(1280, 900).unwrap();
    browser.open(&format!("{}{fragment}", server.url));
    browser.wait_for_testid("ref-input", OPEN_TIMEOUT);
    browser
}

fn text_of(browser: &Browser, element: &layerscope_e2e::ElementId) -> String {
    browser
        .webdriver()
        .element_text(element)
        .unwrap_or_default()
}

/// The texts of every element with `data-testid`, in document order.
fn texts(browser: &Browser, testid: &str) -> Vec<String> {
    browser
        .find_testid(testid)
        .iter()
        .map(|element| text_of(browser, element))
        .collect()
}

/// Runs `script` (an expression) and returns its value.
fn eval(browser: &Browser, script: &str) -> Value {
    browser.execute(&format!("return {script};"))
}

/// Waits until `check` holds, polling; panics with `what` and the console on timeout.
fn wait_until(browser: &Browser, what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    while !check() {
        if let Some(error) = browser.find_testid("error").first() {
            let message = text_of(browser, error);
            if !message.is_empty() {
                panic!("waiting for {what}, the page shows an error: {message}");
            }
        }
        if Instant::now() > deadline {
            let shot = browser.save_screenshot("tabs-failure.png");
            panic!(
                "{what} never happened within {OPEN_TIMEOUT:?} (screenshot {}); console: {}",
                shot.display(),
                describe_log(&browser.console_log())
            );
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until the image named `tag` is shown and every layer is read.
fn wait_for_image(browser: &Browser, tag: &str, layers: usize) {
    wait_until(browser, &format!("{tag} with {layers} layers read"), || {
        browser.find_testid("progress").is_empty()
            && browser.find_testid("layer-row").len() == layers
            && browser
                .find_testid("image-summary")
                .first()
                .is_some_and(|summary| text_of(browser, summary).contains(tag))
            && texts(browser, "verify-status")
                .first()
                .is_some_and(|badge| badge.starts_with("verified"))
    });
}

/// `text` with every run of white space one space, as a line of HTML shows it.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hash(browser: &Browser) -> String {
    eval(browser, "location.hash")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_for_hash(browser: &Browser, wanted: &str) {
    wait_until(browser, &format!("the fragment {wanted}"), || {
        hash(browser) == wanted
    });
}

fn assert_no_console_errors(browser: &Browser) {
    let errors = browser.console_errors();
    assert!(
        errors.is_empty(),
        "console errors: {}",
        describe_log(&errors)
    );
}

/// The Files tab's selected layer, from the row marked current.
fn selected_layer(browser: &Browser) -> Option<usize> {
    eval(
        browser,
        r#"[...document.querySelectorAll('[data-testid="layer-row"]')].findIndex(row => row.getAttribute('aria-current') === 'true')"#,
    )
    .as_i64()
    .and_then(|index| usize::try_from(index).ok())
}

#[test]
fn every_tab_of_dives_image_reads_as_dive_and_the_cli_say() {
    let cli = cli_json(&dive_image());
    let server = LayerscopeServer::start();
    let browser = open_page(&server, "");
    browser.console_errors();
    browser.set_file("drop-zone", &dive_image());
    wait_for_image(&browser, "dive-test:latest", 14);

    // Header: the docker image ls row, the config digest with its copy button, verified.
    let summary = browser.testid_text("image-summary");
    let checks = cli["verification"].as_array().unwrap().len();
    assert_eq!(
        browser.testid_text("verify-status"),
        format!("verified ({checks}/{checks})")
    );
    assert!(summary.contains("1.22MB"), "{summary:?}");
    assert!(summary.contains("98.44 %"), "efficiency in {summary:?}");
    let config_digest = cli["inspect"]["Id"].as_str().unwrap();
    assert_eq!(browser.testid_text("config-digest"), config_digest);
    // "copy link" puts this view's link on the clipboard.
    browser
        .webdriver()
        .cdp(
            "Browser.grantPermissions",
            json!({ "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] }),
        )
        .unwrap();
    let copy = browser.wait_for_testid("copy-link", OPEN_TIMEOUT);
    browser.webdriver().click(&copy).unwrap();
    wait_until(&browser, "the link copied", || {
        text_of(&browser, &copy) == "copied"
    });
    browser.execute(
        "window.__clip = null; navigator.clipboard.readText().then(t => { window.__clip = t; }); return null;",
    );
    wait_until(&browser, "the clipboard read", || {
        eval(&browser, "window.__clip").is_string()
    });
    assert_eq!(
        eval(&browser, "window.__clip"),
        eval(&browser, "location.href"),
        "the link is this page's, fragment included"
    );
    assert!(hash(&browser).contains(&format!("digest={config_digest}")));

    // Files: one row per layer, dive's size (exact bytes on hover) and command, the change
    // counts the CLI's file lists imply.
    let rows = browser.find_testid("layer-row");
    for (index, (row, (size, command))) in rows.iter().zip(DIVE_LAYERS).enumerate() {
        let text = text_of(&browser, row);
        assert!(text.starts_with(&index.to_string()), "{text:?}");
        assert!(
            text.contains(&humanize::size(size)),
            "layer {index} size in {text:?}"
        );
        let title = eval(
            &browser,
            &format!(
                r#"document.querySelectorAll('[data-testid="layer-row"]')[{index}].querySelector('.size').title"#
            ),
        );
        assert!(
            title
                .as_str()
                .unwrap_or_default()
                .starts_with(&format!("{size} bytes of files")),
            "layer {index} exact size on hover: {title}"
        );
        assert!(
            text.contains(command),
            "layer {index} {text:?} lacks {command:?}"
        );
        assert_eq!(
            cli["layer"][index]["sizeBytes"].as_u64(),
            Some(size),
            "the CLI agrees with dive on layer {index}"
        );
    }
    let changes = texts(&browser, "layer-changes");
    assert_eq!(changes.len(), 14);
    assert!(
        changes[9].ends_with(" -5"),
        "rm -rf /root/example/ removes five paths: {}",
        changes[9]
    );
    // A layer's command is one line until the row is expanded.
    let command_cut = |row: usize| {
        eval(
            &browser,
            &format!(
                r#"(c => c.scrollWidth > c.clientWidth)(document.querySelectorAll('[data-testid="layer-command"]')[{row}])"#
            ),
        ) == json!(true)
    };
    assert!(command_cut(0));
    browser
        .webdriver()
        .click(&browser.find_testid("layer-expand")[0])
        .unwrap();
    wait_until(&browser, "layer 0's whole command", || !command_cut(0));
    // The top layer is selected (expanding selects nothing); a click selects another and
    // names it in the URL.
    assert_eq!(selected_layer(&browser), Some(13));
    // The tree's status line names the layer it shows.
    wait_until(&browser, "the tree of layer 13", || {
        browser
            .find_testid("tree-status")
            .first()
            .and_then(|status| browser.webdriver().element_text(status).ok())
            .is_some_and(|text| text.ends_with("layer 13"))
    });
    browser.webdriver().click(&rows[3]).unwrap();
    wait_until(&browser, "layer 3 selected", || {
        selected_layer(&browser) == Some(3)
    });
    assert!(hash(&browser).ends_with("&layer=3"), "{}", hash(&browser));
    wait_until(&browser, "the tree of layer 3", || {
        browser
            .find_testid("tree-status")
            .first()
            .and_then(|status| browser.webdriver().element_text(status).ok())
            .is_some_and(|text| text.ends_with("layer 3"))
    });
    browser.save_screenshot("tabs-dive-files.png");

    // History: docker history's rows and sizes, newest first, and the Dockerfile.
    browser.show_tab("history", OPEN_TIMEOUT);
    let history = cli["history"].as_array().unwrap();
    let rows = texts(&browser, "history-row");
    assert_eq!(rows.len(), history.len());
    let mut layer_sizes = DIVE_LAYERS.iter().rev().map(|(size, _)| *size);
    for (row, entry) in rows.iter().zip(history) {
        // One line per row: the browser collapses runs of spaces there.
        let created_by = squeeze(entry["createdBy"].as_str().unwrap());
        let shown_start: String = created_by.chars().take(30).collect();
        assert!(
            squeeze(row).contains(shown_start.trim()),
            "{row:?} shows {created_by:?}"
        );
        if !entry["emptyLayer"].as_bool().unwrap() {
            let size = layer_sizes.next().unwrap();
            assert!(
                row.contains(&humanize::size(size)),
                "{row:?} has dive's {size}"
            );
        }
    }
    // A row expands to its whole command (docker's --no-trunc); the box shows all of it.
    let truncated = |row: usize| {
        eval(
            &browser,
            &format!(
                r#"(c => c.scrollWidth > c.clientWidth)(document.querySelectorAll('[data-testid="history-row"]')[{row}].querySelector('.command'))"#
            ),
        ) == json!(true)
    };
    let last = history.len() - 1;
    assert!(
        truncated(last),
        "the bottom ADD's command is cut to one line"
    );
    let row = browser.find_testid("history-row")[last].clone();
    browser.webdriver().click(&row).unwrap();
    wait_until(&browser, "the row expanded", || !truncated(last));
    assert_eq!(
        browser
            .webdriver()
            .element_attribute(&row, "aria-expanded")
            .unwrap()
            .as_deref(),
        Some("true")
    );
    let dockerfile = browser.testid_text("dockerfile");
    let lines: Vec<&str> = dockerfile
        .lines()
        .filter(|line| !line.starts_with(' '))
        .collect();
    assert_eq!(lines.len(), history.len(), "{dockerfile}");
    assert!(
        dockerfile.contains("RUN cp /root/saved.txt /root/.saved.txt"),
        "{dockerfile}"
    );
    browser.save_screenshot("tabs-dive-history.png");

    // Config: the card names the config's Cmd and Env as the archive holds them.
    browser.show_tab("config", OPEN_TIMEOUT);
    let manifest: Value =
        serde_json::from_slice(&tar_member(&dive_image(), "manifest.json")).unwrap();
    let config_name = manifest[0]["Config"].as_str().unwrap();
    let config_bytes = tar_member(&dive_image(), config_name);
    let config: Value = serde_json::from_slice(&config_bytes).unwrap();
    let card = browser.testid_text("config-card");
    let cmd = config["config"]["Cmd"].as_array().unwrap();
    for word in cmd {
        assert!(
            card.contains(word.as_str().unwrap()),
            "{card:?} lacks {word}"
        );
    }
    for var in config["config"]["Env"].as_array().unwrap() {
        let (name, value) = var.as_str().unwrap().split_once('=').unwrap();
        assert!(
            card.contains(name) && card.contains(value),
            "{card:?} lacks {var}"
        );
    }
    assert!(card.contains("linux/amd64"), "{card:?}");
    browser.save_screenshot("tabs-dive-config.png");

    // Inspect: docker's inspect object (the CLI's, in docker's order), manifest.json and the
    // config as their exact bytes; the diff_ids link to their layers.
    browser.show_tab("inspect", OPEN_TIMEOUT);
    let blocks = browser.find_testid("inspect-json");
    assert_eq!(blocks.len(), 3);
    let block_text = |index: usize| {
        eval(
            &browser,
            &format!(
                r#"document.querySelectorAll('[data-testid="inspect-json"]')[{index}].textContent"#
            ),
        )
        .as_str()
        .unwrap()
        .to_string()
    };
    let inspect: Value = serde_json::from_str(&block_text(0)).unwrap();
    assert_eq!(inspect[0], cli["inspect"]);
    assert!(block_text(0).starts_with("[\n    {\n        \"Id\": "));
    assert_eq!(
        block_text(1).as_bytes(),
        tar_member(&dive_image(), "manifest.json").as_slice()
    );
    assert_eq!(block_text(2).as_bytes(), config_bytes.as_slice());
    let links = browser.find_testid("digest-link");
    // Each diff_id is in the inspect object and in the config: two links per layer.
    assert_eq!(links.len(), 28);
    browser.save_screenshot("tabs-dive-inspect.png");
    browser.webdriver().click(&links[5]).unwrap();
    wait_until(&browser, "the linked layer in Files", || {
        !browser.find_testid("tab-panel-files").is_empty() && selected_layer(&browser) == Some(5)
    });

    // Efficiency: dive's score and wasted bytes, and the CLI's reclaimable bytes.
    browser.show_tab("efficiency", OPEN_TIMEOUT);
    assert_eq!(
        browser.testid_text("efficiency-score"),
        humanize::percent(DIVE_EFFICIENCY_SCORE)
    );
    assert_eq!(browser.testid_text("efficiency-score"), "98.44 %");
    assert_eq!(
        cli["image"]["inefficientBytes"].as_u64(),
        Some(DIVE_INEFFICIENT_BYTES)
    );
    let wasted = browser.find_testid("wasted-bytes");
    assert_eq!(
        text_of(&browser, &wasted[0]),
        humanize::size(DIVE_INEFFICIENT_BYTES)
    );
    assert_eq!(
        browser
            .webdriver()
            .element_attribute(&wasted[0], "data-bytes")
            .unwrap(),
        Some(DIVE_INEFFICIENT_BYTES.to_string())
    );
    let reclaimable = cli["image"]["reclaimableBytes"].as_u64().unwrap();
    let shown = browser.find_testid("reclaimable-bytes");
    assert_eq!(
        browser
            .webdriver()
            .element_attribute(&shown[0], "data-bytes")
            .unwrap(),
        Some(reclaimable.to_string())
    );
    assert_eq!(text_of(&browser, &shown[0]), humanize::size(reclaimable));
    // The rows in the CLI's order (largest waste first); as a set, dive's list.
    let wasted_rows = texts(&browser, "wasted-row");
    let cli_rows: Vec<String> = cli["image"]["fileReference"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            format!(
                "{} {} {}",
                file["count"],
                humanize::size(file["sizeBytes"].as_u64().unwrap()),
                file["file"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(wasted_rows, cli_rows);
    let mut dives: Vec<String> = DIVE_FILE_REFERENCE
        .iter()
        .map(|(path, count, bytes)| format!("{count} {} {path}", humanize::size(*bytes)))
        .collect();
    let mut shown = wasted_rows.clone();
    dives.sort();
    shown.sort();
    assert_eq!(shown, dives);
    browser.save_screenshot("tabs-dive-efficiency.png");
    let first = browser
        .webdriver()
        .find_element(r#"[data-testid="wasted-row"] a"#)
        .unwrap();
    let path = cli["image"]["fileReference"][0]["file"].as_str().unwrap();
    browser.webdriver().click(&first).unwrap();
    // The tree opens at the path, its row selected.
    wait_until(&browser, "the wasted path in Files", || {
        eval(
            &browser,
            r#"document.querySelector('[data-testid="tree-row"][aria-selected="true"]')?.dataset.path ?? null"#,
        )
        .as_str()
            == Some(path)
    });
    assert!(
        hash(&browser).contains(&format!("path={path}")),
        "{}",
        hash(&browser)
    );
    // A dropped archive has no Tags tab.
    assert!(browser.find_testid("tab-tags").is_empty());
    assert_no_console_errors(&browser);
}

/// The document a `blob:` URL holds, read in the page.
fn blob_text(browser: &Browser, url: &str) -> String {
    browser.execute(&format!(
        "window.__blobText = null; fetch({}).then(r => r.text()).then(t => {{ window.__blobText = t; }}); return null;",
        json!(url)
    ));
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        if let Some(text) = eval(browser, "window.__blobText").as_str() {
            return text.to_string();
        }
        assert!(Instant::now() < deadline, "the blob {url} was never read");
        std::thread::sleep(POLL);
    }
}

/// Chromium's dark colour scheme, as `prefers-color-scheme: dark` reports it to the page.
fn emulate_dark(browser: &Browser) {
    browser
        .webdriver()
        .cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] }),
        )
        .unwrap();
    assert_eq!(
        eval(
            browser,
            "matchMedia('(prefers-color-scheme: dark)').matches"
        ),
        json!(true)
    );
}

#[test]
fn the_demo_image_has_every_tab_and_its_report_is_the_clis_json() {
    let cli_text = cli_json_text(&demo());
    let cli: Value = serde_json::from_str(&cli_text).unwrap();
    let server = LayerscopeServer::start();
    let browser = open_page(&server, "");
    // The home page offers the demo and a few well-known images.
    let offered: Vec<String> = browser
        .find_testid("try-image")
        .iter()
        .map(|link| {
            browser
                .webdriver()
                .element_attribute(link, "href")
                .unwrap()
                .unwrap_or_default()
        })
        .collect();
    for name in ["nginx", "alpine", "ubuntu", "postgres"] {
        assert!(
            offered
                .iter()
                .any(|href| href.ends_with(&format!("#/image/{name}"))),
            "{name} in {offered:?}"
        );
    }
    browser.save_screenshot("tabs-home.png");
    browser.console_errors();
    browser
        .webdriver()
        .click(&browser.wait_for_testid("open-demo", OPEN_TIMEOUT))
        .unwrap();
    let layers = cli["layer"].as_array().unwrap().len();
    wait_for_image(&browser, "layerscope/demo:1.0", layers);
    assert_eq!(hash(&browser), "#/demo");
    let checks = cli["verification"].as_array().unwrap().len();
    assert_eq!(
        browser.testid_text("verify-status"),
        format!("verified ({checks}/{checks})")
    );
    // Every tab renders, each in its own route, and says what a user reads.
    let tabs = [
        ("files", "layer-row"),
        ("history", "dockerfile"),
        ("config", "config-card"),
        ("inspect", "inspect-json"),
        ("efficiency", "efficiency-score"),
    ];
    for (key, testid) in tabs {
        browser.show_tab(key, OPEN_TIMEOUT);
        assert!(
            !browser.find_testid(testid).is_empty(),
            "{key} shows {testid}"
        );
        let wanted = if key == "files" {
            "#/demo".to_string()
        } else {
            format!("#/demo?tab={key}")
        };
        assert_eq!(hash(&browser), wanted);
        browser.save_screenshot(&format!("tabs-demo-{key}.png"));
    }
    let score = cli["image"]["efficiencyScore"].as_f64().unwrap();
    assert_eq!(
        browser.testid_text("efficiency-score"),
        humanize::percent(score)
    );
    browser.show_tab("config", OPEN_TIMEOUT);
    let card = browser.testid_text("config-card");
    let demo_config = &cli["inspect"]["Config"];
    for word in demo_config["Cmd"].as_array().into_iter().flatten() {
        assert!(
            card.contains(word.as_str().unwrap()),
            "{card:?} lacks Cmd {word}"
        );
    }
    for (name, value) in demo_config["Labels"].as_object().into_iter().flatten() {
        assert!(
            card.contains(name) && card.contains(value.as_str().unwrap()),
            "{card:?} lacks label {name}"
        );
    }
    if let Some(user) = demo_config["User"].as_str().filter(|u| !u.is_empty()) {
        assert!(card.contains(user), "{card:?} lacks User {user}");
    }

    // "Download report" is the CLI's --json document, byte for byte.
    browser
        .webdriver()
        .click(&browser.wait_for_testid("export", OPEN_TIMEOUT))
        .unwrap();
    let link = browser.wait_for_testid("export-link", OPEN_TIMEOUT);
    let url = browser
        .webdriver()
        .element_attribute(&link, "href")
        .unwrap()
        .unwrap();
    assert!(url.starts_with("blob:"), "{url}");
    assert_eq!(
        browser
            .webdriver()
            .element_attribute(&link, "download")
            .unwrap()
            .as_deref(),
        Some("layerscope_demo_1.0.layerscope.json")
    );
    let downloaded = blob_text(&browser, &url);
    assert_eq!(downloaded.len(), cli_text.len());
    assert!(
        downloaded == cli_text,
        "the downloaded report differs from inspect --json"
    );
    assert_no_console_errors(&browser);

    // Dark, and at 1024 px wide.
    emulate_dark(&browser);
    browser.show_tab("files", OPEN_TIMEOUT);
    browser.save_screenshot("tabs-demo-files-dark.png");
    browser.show_tab("efficiency", OPEN_TIMEOUT);
    browser.save_screenshot("tabs-demo-efficiency-dark.png");
    browser.webdriver().set_window_size(1024, 800).unwrap();
    browser.show_tab("files", OPEN_TIMEOUT);
    let overflow = eval(
        &browser,
        "document.documentElement.scrollWidth - document.documentElement.clientWidth",
    );
    assert_eq!(overflow, json!(0), "no sideways scrolling at 1024 px");
    browser.save_screenshot("tabs-demo-files-1024.png");
}

#[test]
fn a_real_drop_opens_the_image_and_its_link_asks_for_the_file_in_a_fresh_browser() {
    let server = LayerscopeServer::start();
    let browser = open_page(&server, "");
    browser.console_errors();
    browser.network_requests();
    // A File made in the page from the demo's bytes, handed over in a DragEvent's
    // DataTransfer, as a drag from the desktop does.
    browser.execute(
        r#"fetch('./demo/layerscope-demo.tar').then(r => r.blob()).then(blob => {
            const file = new File([blob], 'dropped demo.tar', { type: 'application/x-tar' });
            const transfer = new DataTransfer();
            transfer.items.add(file);
            const target = document.querySelector('main');
            for (const type of ['dragenter', 'dragover', 'drop']) {
                target.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
            }
        });
        return null;"#,
    );
    let cli = cli_json(&demo());
    let layers = cli["layer"].as_array().unwrap().len();
    wait_for_image(&browser, "layerscope/demo:1.0", layers);
    assert!(browser.find_testid("progress").is_empty());
    browser.show_tab("history", OPEN_TIMEOUT);
    let config_digest = cli["inspect"]["Id"].as_str().unwrap();
    let link = format!("#/archive/dropped%20demo.tar?digest={config_digest}&tab=history");
    wait_for_hash(&browser, &link);
    // Nothing left the page's origin after the drop (the demo fetch was the page's own).
    let foreign: Vec<String> = browser
        .network_requests()
        .into_iter()
        .map(|request| request.url)
        .filter(|url| !url.starts_with(&server.url) && !url.starts_with("blob:"))
        .collect();
    assert!(foreign.is_empty(), "requests off the origin: {foreign:?}");
    assert_no_console_errors(&browser);
    drop(browser);

    // The link in a fresh browser names the file; dropping it (chosen in the file input
    // here, under its own name) restores the History tab.
    let browser = open_page(&server, &link);
    let prompt = browser.wait_for_testid("restore-prompt", OPEN_TIMEOUT);
    assert!(
        text_of(&browser, &prompt).starts_with("Drop dropped demo.tar again to restore this view."),
        "{}",
        text_of(&browser, &prompt)
    );
    assert!(browser.find_testid("layer-row").is_empty());
    browser.save_screenshot("tabs-archive-link-waiting.png");
    browser.console_errors();
    browser.set_file("drop-zone", &demo());
    wait_until(&browser, "the History tab restored", || {
        !browser.find_testid("tab-panel-history").is_empty()
            && browser.find_testid("restore-prompt").is_empty()
            && browser.find_testid("progress").is_empty()
    });
    assert_eq!(
        browser.find_testid("history-row").len(),
        cli["history"].as_array().unwrap().len()
    );
    assert_eq!(
        hash(&browser),
        format!("#/archive/layerscope-demo.tar?digest={config_digest}&tab=history")
    );
    assert_no_console_errors(&browser);
}

/// The marker put on the header by [`mark_header`] is still there: the image was not opened
/// again (opening replaces the header).
fn header_marked(browser: &Browser) -> bool {
    eval(
        browser,
        r#"document.querySelector('[data-testid="image-summary"]')?.dataset.mark === 'kept'"#,
    ) == json!(true)
}

fn mark_header(browser: &Browser) {
    browser.execute(
        r#"document.querySelector('[data-testid="image-summary"]').dataset.mark = 'kept'; return null;"#,
    );
}

#[test]
fn a_registry_link_opens_on_its_tab_and_back_and_forward_only_change_the_view() {
    let server = LayerscopeServer::start();
    let registry = Registry::start(RegistryConfig::plain().with_cors(&server.origin()));
    let demo_source = format!("docker-archive:{}", demo().display());
    let pushed = push_archive(&demo_source, &registry, "demo/app:1.0");
    push_archive(&demo_source, &registry, "demo/app:latest");
    let reference = format!("{}/demo/app:1.0", registry.host());
    let cli = cli_json(&demo());

    // A fresh browser on a link to the History tab.
    let browser = open_page(&server, &format!("#/image/{reference}?tab=history"));
    wait_until(&browser, "the History tab of the pulled image", || {
        browser.find_testid("progress").is_empty()
            && browser.find_testid("history-row").len() == cli["history"].as_array().unwrap().len()
    });
    let selected = browser.find_testid("tab-history");
    assert_eq!(
        browser
            .webdriver()
            .element_attribute(&selected[0], "aria-selected")
            .unwrap()
            .as_deref(),
        Some("true")
    );
    assert_eq!(hash(&browser), format!("#/image/{reference}?tab=history"));
    assert_eq!(browser.testid_text("manifest-digest"), pushed.digest);
    // The other tag of the same digest, once the tag list resolves it.
    wait_until(&browser, "also: latest", || {
        texts(&browser, "also-tags").first().map(String::as_str) == Some("also: latest")
    });
    assert!(browser.find_testid("index-digest").is_empty());

    // Tabs are history entries; back and forward apply them without opening the image again.
    mark_header(&browser);
    browser.show_tab("config", OPEN_TIMEOUT);
    browser.show_tab("tags", OPEN_TIMEOUT);
    assert_eq!(hash(&browser), format!("#/image/{reference}?tab=tags"));
    assert_eq!(
        browser.find_testid("tag-row").len(),
        1,
        "1.0 and latest share a row"
    );
    browser.save_screenshot("tabs-registry-tags.png");
    browser.execute("history.back(); return null;");
    wait_until(&browser, "back to Config", || {
        !browser.find_testid("tab-panel-config").is_empty()
    });
    assert_eq!(hash(&browser), format!("#/image/{reference}?tab=config"));
    browser.execute("history.back(); return null;");
    wait_until(&browser, "back to History", || {
        !browser.find_testid("tab-panel-history").is_empty()
    });
    browser.execute("history.forward(); return null;");
    wait_until(&browser, "forward to Config", || {
        !browser.find_testid("tab-panel-config").is_empty()
    });
    assert!(
        header_marked(&browser),
        "back and forward opened the image again"
    );
    assert!(browser.find_testid("progress").is_empty());

    // Pin: the tag becomes the digest it names, and the image stays.
    browser
        .webdriver()
        .click(&browser.wait_for_testid("pin", OPEN_TIMEOUT))
        .unwrap();
    let pinned = format!("{}/demo/app@{}", registry.host(), pushed.digest);
    wait_for_hash(&browser, &format!("#/image/{pinned}?tab=config"));
    assert!(header_marked(&browser), "pinning opened the image again");
    assert!(
        browser.find_testid("pin").is_empty(),
        "a digest needs no pin"
    );
    assert_no_console_errors(&browser);
    drop(browser);

    // The pinned link opens the same image by digest in a fresh browser.
    let browser = open_page(&server, &format!("#/image/{pinned}?tab=config"));
    wait_until(&browser, "the pinned image's Config tab", || {
        !browser.find_testid("config-card").is_empty() && browser.find_testid("progress").is_empty()
    });
    assert_eq!(browser.testid_text("manifest-digest"), pushed.digest);
}

#[test]
fn a_multi_platform_image_names_its_index_and_the_picker_keeps_the_tab() {
    let server = LayerscopeServer::start();
    let registry = Registry::start(RegistryConfig::plain().with_cors(&server.origin()));
    push_multi_arch(&registry, "multi/app:1");
    let reference = format!("{}/multi/app:1", registry.host());
    let index = registry.get_with_headers(
        "/v2/multi/app/manifests/1",
        false,
        &[("Accept", "application/vnd.oci.image.index.v1+json")],
    );
    let index_digest = index.header("docker-content-digest").unwrap().to_string();
    let index: Value = serde_json::from_str(&index.body).unwrap();
    let browser = open_page(&server, &format!("#/image/{reference}?tab=inspect"));
    wait_until(&browser, "the index's amd64 image", || {
        browser.find_testid("progress").is_empty()
            && texts(&browser, "manifest-digest")
                .first()
                .map(String::as_str)
                == index["manifests"][0]["digest"].as_str()
    });
    assert_eq!(browser.testid_text("index-digest"), index_digest);
    let options = eval(
        &browser,
        r#"[...document.querySelectorAll('[data-testid="platform-picker"] option')].map(o => o.value)"#,
    );
    assert_eq!(options, json!(["linux/amd64", "linux/arm64/v8"]));
    // The raw manifest shown is the platform's, its bytes hashing to its digest.
    let manifest = eval(
        &browser,
        r#"document.querySelectorAll('[data-testid="inspect-json"]')[1].textContent"#,
    );
    let manifest = manifest.as_str().unwrap();
    assert_eq!(
        layerscope_core::model::digest::Digest::sha256_of(manifest.as_bytes()).to_string(),
        index["manifests"][0]["digest"].as_str().unwrap()
    );
    browser.execute(
        r#"const picker = document.querySelector('[data-testid="platform-picker"]');
        picker.value = 'linux/arm64/v8';
        picker.dispatchEvent(new Event('change', { bubbles: true }));
        return null;"#,
    );
    wait_for_hash(
        &browser,
        &format!("#/image/{reference}?platform=linux/arm64/v8&tab=inspect"),
    );
    wait_until(&browser, "the arm64 image", || {
        browser.find_testid("progress").is_empty()
            && texts(&browser, "manifest-digest")
                .first()
                .map(String::as_str)
                == index["manifests"][1]["digest"].as_str()
    });
    assert!(!browser.find_testid("tab-panel-inspect").is_empty());
    browser.show_tab("tags", OPEN_TIMEOUT);
    assert_eq!(browser.find_testid("platform-row").len(), 2);
    browser.save_screenshot("tabs-registry-platforms.png");
    assert_no_console_errors(&browser);
}

#[test]
fn keys_move_between_layers_and_tabs_and_list_themselves() {
    let server = LayerscopeServer::start();
    let browser = open_page(&server, "");
    browser
        .webdriver()
        .click(&browser.wait_for_testid("open-demo", OPEN_TIMEOUT))
        .unwrap();
    let layers = cli_json(&demo())["layer"].as_array().unwrap().len();
    wait_for_image(&browser, "layerscope/demo:1.0", layers);
    let top = layers - 1;
    assert_eq!(selected_layer(&browser), Some(top));
    let keys = |keys: &str| browser.webdriver().press_keys(keys).unwrap();
    keys("[");
    wait_until(&browser, "[ selects the layer below", || {
        selected_layer(&browser) == Some(top - 1)
    });
    assert_eq!(hash(&browser), format!("#/demo?layer={}", top - 1));
    keys("]");
    wait_until(&browser, "] selects the layer above", || {
        selected_layer(&browser) == Some(top)
    });
    keys("]");
    assert_eq!(
        selected_layer(&browser),
        Some(top),
        "no layer above the top"
    );
    keys("?");
    let help = browser.wait_for_testid("key-help", OPEN_TIMEOUT);
    assert!(text_of(&browser, &help).contains("previous / next layer"));
    browser.save_screenshot("tabs-keys.png");
    keys("\u{E00C}");
    wait_until(&browser, "Escape closes the key list", || {
        browser.find_testid("key-help").is_empty()
    });
    keys("2");
    browser.wait_for_testid("tab-panel-history", OPEN_TIMEOUT);
    keys("5");
    browser.wait_for_testid("tab-panel-efficiency", OPEN_TIMEOUT);
    // Typing in the reference box types; it moves nothing.
    let input = browser.wait_for_testid("ref-input", OPEN_TIMEOUT);
    browser.webdriver().click(&input).unwrap();
    keys("1[");
    assert_eq!(
        eval(
            &browser,
            r#"document.querySelector('[data-testid="ref-input"]').value"#
        ),
        json!("1[")
    );
    assert!(!browser.find_testid("tab-panel-efficiency").is_empty());
    assert_no_console_errors(&browser);
}

/// What the untrusted archive carries in a label, a command and an environment variable.
const HOSTILE: &str = r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"#;

/// A legacy `docker save` archive `hostile/image:1` whose config carries [`HOSTILE`].
fn write_hostile_archive(path: &Path) {
    use sha2::{Digest, Sha256};
    let mut layer = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    let content = b"hello\n";
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    layer
        .append_data(&mut header, "etc/motd", &content[..])
        .unwrap();
    let layer = layer.into_inner().unwrap();
    let diff_id = format!("sha256:{:x}", Sha256::digest(&layer));
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
        "config": { "Labels": { "title": HOSTILE }, "Env": [format!("NOTE={HOSTILE}")], "Cmd": ["sh", "-c", HOSTILE] },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created": "2024-01-02T03:04:05Z", "created_by": format!("/bin/sh -c echo '{HOSTILE}' > /etc/motd") }],
    }))
    .unwrap();
    let config_name = format!("{:x}.json", Sha256::digest(&config));
    let layer_name = format!("{}/layer.tar", &diff_id[7..]);
    let manifest = serde_json::to_vec(&json!([
        { "Config": config_name, "RepoTags": ["hostile/image:1"], "Layers": [layer_name] }
    ]))
    .unwrap();
    let mut archive = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in [
        (layer_name.as_str(), layer.as_slice()),
        (config_name.as_str(), config.as_slice()),
        ("manifest.json", manifest.as_slice()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(&mut header, name, bytes).unwrap();
    }
    archive.into_inner().unwrap();
}

#[test]
fn labels_and_commands_that_look_like_html_show_as_text() {
    let dir = TempDir::new("page-hostile");
    let archive = dir.path().join("hostile.tar");
    write_hostile_archive(&archive);
    let server = LayerscopeServer::start();
    let browser = open_page(&server, "");
    browser.console_errors();
    browser.set_file("drop-zone", &archive);
    wait_for_image(&browser, "hostile/image:1", 1);
    let command = texts(&browser, "layer-command");
    assert!(command[0].contains(HOSTILE), "{command:?}");
    browser.show_tab("history", OPEN_TIMEOUT);
    assert!(browser.testid_text("dockerfile").contains(HOSTILE));
    browser.show_tab("config", OPEN_TIMEOUT);
    let card = browser.testid_text("config-card");
    assert!(
        card.contains(HOSTILE),
        "label, env and cmd as text: {card:?}"
    );
    browser.show_tab("inspect", OPEN_TIMEOUT);
    let raw_config = eval(
        &browser,
        r#"document.querySelectorAll('[data-testid="inspect-json"]')[2].textContent"#,
    );
    assert!(raw_config.as_str().unwrap().contains("<img src=x"));
    assert_eq!(
        eval(
            &browser,
            "document.querySelectorAll('main img, main script').length"
        ),
        json!(0),
        "no element was made from the archive's text"
    );
    assert_eq!(eval(&browser, "window.__pwned === undefined"), json!(true));
    browser.save_screenshot("tabs-hostile-inspect.png");
    assert_no_console_errors(&browser);
}

#[test]
fn a_link_to_the_second_image_of_an_archive_reopens_that_image() {
    let bundle = peer("go-containerregistry/pkg/v1/tarball/testdata/test_bundle.tar");
    let manifest: Value = serde_json::from_slice(&tar_member(&bundle, "manifest.json")).unwrap();
    let second_tag = manifest[1]["RepoTags"][0].as_str().unwrap().to_string();
    let server = LayerscopeServer::start();
    let browser = open_page(&server, "");
    browser.set_file("drop-zone", &bundle);
    browser.wait_for_testid("image-choice", OPEN_TIMEOUT);
    wait_until(&browser, "the first image read", || {
        browser.find_testid("progress").is_empty() && !browser.find_testid("layer-row").is_empty()
    });
    browser
        .webdriver()
        .click(&browser.find_testid("image-choice")[1])
        .unwrap();
    let short = second_tag.trim_end_matches(":latest").to_string();
    wait_until(&browser, "the second image read", || {
        browser.find_testid("progress").is_empty()
            && texts(&browser, "image-summary")
                .first()
                .is_some_and(|summary| summary.contains(&short))
    });
    browser.show_tab("inspect", OPEN_TIMEOUT);
    let link = hash(&browser);
    assert!(link.contains("tab=inspect"), "{link}");
    drop(browser);

    let browser = open_page(&server, &link);
    browser.wait_for_testid("restore-prompt", OPEN_TIMEOUT);
    browser.set_file("drop-zone", &bundle);
    wait_until(&browser, "the second image on its Inspect tab", || {
        browser.find_testid("progress").is_empty()
            && !browser.find_testid("tab-panel-inspect").is_empty()
            && texts(&browser, "image-summary")
                .first()
                .is_some_and(|summary| summary.contains(&short))
    });
    assert_eq!(hash(&browser), link);
    assert_no_console_errors(&browser);

    // The demo's own link opens it, on the tab it names.
    let browser = open_page(&server, "#/demo?tab=efficiency");
    wait_until(&browser, "the demo's Efficiency tab", || {
        !browser.find_testid("efficiency-score").is_empty()
    });
}

/// A legacy `docker save` archive of `layers` uncompressed layers of one `bytes`-byte file
/// each: big enough to watch it stream.
fn write_slow_archive(path: &Path, layers: usize, bytes: u64) {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut blobs = Vec::new();
    for index in 0..layers {
        let mut layer = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes);
        header.set_mode(0o644);
        header.set_cksum();
        let content = std::io::repeat(index as u8 + 1).take(bytes);
        layer
            .append_data(&mut header, format!("data/part{index}.bin"), content)
            .unwrap();
        blobs.push(layer.into_inner().unwrap());
    }
    let diff_ids: Vec<String> = blobs
        .iter()
        .map(|blob| format!("sha256:{:x}", Sha256::digest(blob)))
        .collect();
    let history: Vec<Value> = (0..layers)
        .map(|index| json!({ "created_by": format!("/bin/sh -c make part{index}") }))
        .collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": { "type": "layers", "diff_ids": diff_ids }, "history": history,
    }))
    .unwrap();
    let config_name = format!("{:x}.json", Sha256::digest(&config));
    let names: Vec<String> = diff_ids
        .iter()
        .map(|id| format!("{}/layer.tar", &id[7..]))
        .collect();
    let manifest = serde_json::to_vec(&json!([
        { "Config": config_name, "RepoTags": ["slow/archive:1"], "Layers": names }
    ]))
    .unwrap();
    let mut archive = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(&mut header, name, bytes).unwrap();
    };
    for (name, blob) in names.iter().zip(&blobs) {
        add(name, blob);
    }
    add(&config_name, &config);
    add("manifest.json", &manifest);
    archive.into_inner().unwrap();
}

#[test]
fn while_layers_stream_the_row_shows_its_progress_and_the_badge_says_checking() {
    const LAYERS: usize = 4;
    let dir = TempDir::new("page-slow");
    let archive = dir.path().join("slow.tar");
    write_slow_archive(&archive, LAYERS, 24 * 1024 * 1024);
    let server = LayerscopeServer::start();
    let browser = open_page(&server, "");
    browser.console_errors();
    browser.set_file("drop-zone", &archive);
    // Read in one script, so the three are of one moment.
    let seen = Instant::now() + OPEN_TIMEOUT;
    let moment = loop {
        let moment = eval(
            &browser,
            r#"(() => {
                const progress = document.querySelector('[data-testid="progress"]');
                const badge = document.querySelector('[data-testid="verify-status"]');
                const row = document.querySelector('[data-testid="layer-row"].streaming');
                const bar = row && row.querySelector('progress.layer-progress');
                if (!progress || !badge || !bar || !progress.textContent.includes('layer ')) return null;
                // Several layers stream at once in the pool of scan workers.
                const streaming = [...row.parentNode.children]
                    .map((each, index) => each.classList.contains('streaming') ? index : -1)
                    .filter(index => index >= 0);
                return { progress: progress.textContent, badge: badge.textContent,
                         streaming, max: bar.max };
            })()"#,
        );
        if !moment.is_null() {
            break moment;
        }
        assert!(Instant::now() < seen, "never saw a layer streaming");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        moment["badge"].as_str().unwrap().starts_with("checking…"),
        "{moment}"
    );
    let streaming: Vec<u64> = moment["streaming"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(
        streaming.iter().any(|row| moment["progress"]
            .as_str()
            .unwrap()
            .contains(&format!("layer {} of {LAYERS}", row + 1))),
        "the layer the progress names is a streaming row: {moment}"
    );
    assert!(
        moment["max"].as_f64().unwrap() > 24.0 * 1024.0 * 1024.0,
        "{moment}"
    );
    browser.save_screenshot("tabs-streaming.png");
    wait_for_image(&browser, "slow/archive:1", LAYERS);
    let checks = 1 + LAYERS;
    assert_eq!(
        browser.testid_text("verify-status"),
        format!("verified ({checks}/{checks})")
    );
    assert!(eval(
        &browser,
        r#"document.querySelector('progress.layer-progress')"#
    )
    .is_null());
    assert_no_console_errors(&browser);
}
