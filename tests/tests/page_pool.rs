//! The layer worker's pool of scan workers in real Chromium (issue 10, item 1): a dropped
//! archive's layers are scanned in scan workers, entries and digests apart, and the page reads
//! the same as when the layer worker scans them itself (`?scan-workers=0`) and as
//! `layerscope inspect --json` says; a digest that does not match leaves the tree shown and is
//! named in the badge; Cancel in the middle of the layers keeps the rows read and nothing
//! after it is applied; no request leaves the page's origin, the workers' included, also when
//! the page is served from a sub-path.
//!
//! Dedicated workers' requests are not in Chromium's DevTools network log, so the request
//! test reads two more: Chromium's `devtools.timeline` trace, which has every request any
//! renderer thread sends, the workers' and nested workers' included
//! (`Browser::start_logging_worker_requests`), and a recording relay ([`Tap`]) in front of
//! the page's server, which sees what reaches the page's origin, the workers' own scripts
//! included (the browser process fetches those; they can only be same-origin). Worker threads
//! are counted with the DevTools `Target.getTargets` command, which lists dedicated workers,
//! nested ones included.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use layerscope_e2e::badge::{tree_came_before_the_digests, BADGE_LOG};
use layerscope_e2e::browser::describe_log;
use layerscope_e2e::tap::Tap;
use layerscope_e2e::{
    dist_dir, layerscope_binary, peer, repo_root, Browser, LayerscopeServer, TempDir,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const OPEN_TIMEOUT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(25);

fn dive_image() -> PathBuf {
    peer("dive/.data/test-docker-image.tar")
}

fn demo() -> PathBuf {
    repo_root().join("static/demo/layerscope-demo.tar")
}

/// `layerscope inspect --json ARCHIVE`, exactly as printed.
fn cli_json_text(archive: &Path) -> String {
    let output = Command::new(layerscope_binary())
        .args(["inspect", "--json"])
        .arg(archive)
        .output()
        .expect("run layerscope inspect --json");
    assert!(
        output.status.success(),
        "layerscope inspect --json {}: {}",
        archive.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the JSON is UTF-8")
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
            let shot = browser.save_screenshot("pool-failure.png");
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

/// The dedicated workers running in the browser now: the layer workers (the analysis's, and
/// the spare the page starts for the next one), and the scan workers, nested in a layer
/// worker (Chromium lists those without their script's URL).
fn worker_threads(browser: &Browser) -> Workers {
    let targets = browser
        .webdriver()
        .cdp("Target.getTargets", json!({}))
        .expect("Target.getTargets");
    let workers: Vec<&Value> = targets["targetInfos"]
        .as_array()
        .expect("a list of targets")
        .iter()
        .filter(|target| target["type"] == "worker")
        .collect();
    let layer_workers = workers
        .iter()
        .filter(|target| {
            target["url"]
                .as_str()
                .is_some_and(|url| url.ends_with("/layer-worker-loader.js"))
        })
        .count();
    Workers {
        layer_workers,
        scan_workers: workers.len() - layer_workers,
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Workers {
    layer_workers: usize,
    scan_workers: usize,
}

/// Drops `archive` on the page (through its file input) and waits until every layer is read
/// and the badge says verified; panics on an error shown instead.
fn open_and_verify(browser: &Browser, archive: &Path) {
    browser.set_file("drop-zone", archive);
    wait_for(browser, "every layer read and verified", || {
        let state = eval(
            browser,
            r#"{
                error: document.querySelector('[data-testid="error"]')?.textContent ?? null,
                busy: document.querySelector('[data-testid="progress"]') !== null,
                badge: document.querySelector('[data-testid="verify-status"]')?.textContent ?? '',
            }"#,
        );
        if let Some(error) = state["error"].as_str() {
            panic!("the page shows an error: {error}");
        }
        (state["busy"] == json!(false) && state["badge"].as_str()?.starts_with("verified"))
            .then_some(())
    });
}

/// Shows tab `key` by clicking it, and waits for its panel.
fn show_tab(browser: &Browser, key: &str) {
    browser.show_tab(key, OPEN_TIMEOUT);
}

/// What a user reads of the shown image: the header, the layer rows, the history rows and
/// the efficiency figures and rows, each as its text.
fn readings(browser: &Browser) -> Value {
    let texts = |testid: &str| {
        eval(
            browser,
            &format!(
                r#"[...document.querySelectorAll('[data-testid="{testid}"]')].map(e => e.textContent)"#
            ),
        )
    };
    show_tab(browser, "files");
    let layers = texts("layer-row");
    let summary = texts("image-summary");
    show_tab(browser, "history");
    let history = texts("history-row");
    show_tab(browser, "efficiency");
    let efficiency = json!({
        "score": texts("efficiency-score"),
        "wasted": texts("wasted-bytes"),
        "reclaimable": texts("reclaimable-bytes"),
        "rows": texts("wasted-row"),
    });
    show_tab(browser, "files");
    json!({ "summary": summary, "layers": layers, "history": history, "efficiency": efficiency })
}

/// "Download report": the document the page saves.
fn downloaded_report(browser: &Browser) -> String {
    browser
        .webdriver()
        .click(&browser.wait_for_testid("export", OPEN_TIMEOUT))
        .unwrap();
    let link = browser.wait_for_testid("export-link", OPEN_TIMEOUT);
    let url = browser
        .webdriver()
        .element_attribute(&link, "href")
        .unwrap()
        .expect("the link has an href");
    browser.execute(&format!(
        "window.__report = null; fetch({}).then(r => r.text()).then(t => {{ window.__report = t; }}); return null;",
        json!(url)
    ));
    wait_for(browser, "the report's text", || {
        eval(browser, "window.__report")
            .as_str()
            .map(str::to_string)
    })
}

#[test]
fn the_pool_reads_as_the_layer_worker_alone_and_the_cli_do_on_dives_image_and_the_demo() {
    let server = LayerscopeServer::start();
    for archive in [dive_image(), demo()] {
        let cli = cli_json_text(&archive);
        let checks = serde_json::from_str::<Value>(&cli).unwrap()["verification"]
            .as_array()
            .unwrap()
            .len();
        let browser = Browser::start();
        browser.open(&format!("{}?scan-workers=0", server.url));
        browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
        browser.execute(BADGE_LOG);
        open_and_verify(&browser, &archive);
        assert!(
            !tree_came_before_the_digests(&browser),
            "alone, the layer worker checks each layer's digests as it scans it: {}",
            eval(&browser, "window.__badges")
        );
        let alone = readings(&browser);
        let alone_report = downloaded_report(&browser);

        browser.open(&server.url);
        browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
        browser.console_errors();
        browser.execute(BADGE_LOG);
        open_and_verify(&browser, &archive);
        assert!(
            tree_came_before_the_digests(&browser),
            "with the pool, the layers are read before their digests are in: {}",
            eval(&browser, "window.__badges")
        );
        let pooled = readings(&browser);
        let pooled_report = downloaded_report(&browser);

        assert_eq!(pooled, alone, "{}", archive.display());
        let badge = browser.testid_text("verify-status");
        assert_eq!(badge, format!("verified ({checks}/{checks})"));
        assert!(
            pooled["layers"].as_array().unwrap().len() > 1,
            "{}",
            archive.display()
        );
        assert!(
            alone_report == cli,
            "the layer worker alone gives inspect --json's document for {}",
            archive.display()
        );
        assert!(
            pooled_report == cli,
            "the pool gives inspect --json's document for {}",
            archive.display()
        );
        let errors = browser.console_errors();
        assert!(
            errors.is_empty(),
            "console errors: {}",
            describe_log(&errors)
        );
    }
}

/// One uncompressed `docker save` layer holding `files` (name, content).
fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut layer = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        layer.append_data(&mut header, name, *content).unwrap();
    }
    layer.into_inner().unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Writes a legacy `docker save` archive of `layers` (stored as given), whose config names
/// `diff_ids` and `commands`; returns the layers' member names.
fn write_docker_save(
    path: &Path,
    tag: &str,
    layers: &[Vec<u8>],
    diff_ids: &[String],
    commands: &[String],
) -> Vec<String> {
    let history: Vec<Value> = commands
        .iter()
        .map(|command| json!({"created": "2024-01-02T03:04:05Z", "created_by": command}))
        .collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history,
    }))
    .unwrap();
    let config_name = format!("{:x}.json", Sha256::digest(&config));
    let names: Vec<String> = (0..layers.len())
        .map(|index| format!("{:x}/layer.tar", Sha256::digest(format!("{tag} {index}"))))
        .collect();
    let manifest = serde_json::to_vec(&json!([
        { "Config": config_name, "RepoTags": [tag], "Layers": names }
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
    for (name, layer) in names.iter().zip(layers) {
        add(name, layer);
    }
    add(&config_name, &config);
    add("manifest.json", &manifest);
    archive.into_inner().unwrap();
    names
}

#[test]
fn a_layer_whose_diff_id_does_not_match_keeps_its_tree_and_the_badge_names_it() {
    let dir = TempDir::new("page-pool-mismatch");
    let archive = dir.path().join("mismatch.tar");
    let layers = vec![
        layer_tar(&[("etc/hostname", b"box\n")]),
        layer_tar(&[("app/run.sh", b"#!/bin/sh\necho hi\n")]),
    ];
    let claimed = sha256(b"not the layer");
    let actual = sha256(&layers[1]);
    let names = write_docker_save(
        &archive,
        "bad/diff-id:1",
        &layers,
        &[sha256(&layers[0]), claimed.clone()],
        &["ADD hostname /etc/".into(), "COPY run.sh /app/".into()],
    );
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    browser.console_errors();
    browser.set_file("drop-zone", &archive);
    let badge = wait_for(&browser, "the badge to name a mismatch", || {
        let badge = eval(
            &browser,
            r#"document.querySelector('[data-testid="verify-status"]')?.textContent ?? ''"#,
        );
        badge
            .as_str()
            .filter(|badge| badge.contains("mismatch"))
            .map(str::to_string)
    });
    assert!(badge.starts_with("1 mismatch ("), "{badge}");
    assert!(
        badge.contains(&format!("diff_id of layer 1 ({})", names[1])),
        "{badge}"
    );
    assert!(badge.contains(&format!("expected {claimed}")), "{badge}");
    assert!(badge.contains(&format!("actual {actual}")), "{badge}");
    // The tree is there: the top layer's file, and no error instead of it.
    wait_for(&browser, "the top layer's tree", || {
        let paths = eval(
            &browser,
            r#"[...document.querySelectorAll('[data-testid="tree-row"]')].map(row => row.dataset.path)"#,
        );
        paths
            .as_array()
            .filter(|paths| paths.iter().any(|path| path == "/app/run.sh"))
            .map(drop)
    });
    assert!(browser.find_testid("error").is_empty());
    assert!(browser.find_testid("progress").is_empty());
    browser.save_screenshot("pool-mismatch.png");
    let errors = browser.console_errors();
    assert!(
        errors.is_empty(),
        "console errors: {}",
        describe_log(&errors)
    );

    // The layer worker alone, reading every layer itself, shows and marks it the same way,
    // as the CLI does.
    browser.open(&format!("{}?scan-workers=0", server.url));
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    browser.set_file("drop-zone", &archive);
    let alone = wait_for(
        &browser,
        "the layer worker's badge to name the mismatch",
        || {
            eval(
                &browser,
                r#"document.querySelector('[data-testid="verify-status"]')?.textContent ?? ''"#,
            )
            .as_str()
            .filter(|badge| badge.contains("mismatch"))
            .map(str::to_string)
        },
    );
    assert_eq!(alone, badge);
    wait_for(
        &browser,
        "the top layer's tree from the layer worker",
        || {
            let paths = eval(
                &browser,
                r#"[...document.querySelectorAll('[data-testid="tree-row"]')].map(row => row.dataset.path)"#,
            );
            paths
                .as_array()
                .filter(|paths| paths.iter().any(|path| path == "/app/run.sh"))
                .map(drop)
        },
    );
    assert!(browser.find_testid("error").is_empty());
}

/// Writes a `docker save` archive of `count` gzip layers, each one file of `bytes` bytes of
/// text that inflates at a real pace (a pseudo-random walk over 32 letters); returns the tag.
fn write_gzip_layers(path: &Path, count: usize, bytes: usize) -> String {
    let dir = path.parent().unwrap();
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for index in 0..count {
        let mut content = vec![0u8; bytes];
        for byte in content.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = b"abcdefghijklmnopqrstuvwxyz012345"[(state >> 59) as usize];
        }
        let tar = layer_tar(&[(&format!("data/part{index}.txt"), &content)]);
        diff_ids.push(sha256(&tar));
        let plain = dir.join(format!("layer{index}.tar"));
        std::fs::write(&plain, &tar).unwrap();
        let status = Command::new("gzip")
            .args(["-1", "-f", "-n"])
            .arg(&plain)
            .status()
            .expect("run gzip");
        assert!(status.success(), "gzip {}", plain.display());
        let zipped = dir.join(format!("layer{index}.tar.gz"));
        layers.push(std::fs::read(&zipped).unwrap());
        std::fs::remove_file(&zipped).unwrap();
    }
    let commands: Vec<String> = (0..count).map(|i| format!("make part{i}")).collect();
    let tag = "many/layers:1".to_string();
    write_docker_save(path, &tag, &layers, &diff_ids, &commands);
    tag
}

#[test]
fn cancel_between_layers_keeps_the_rows_read_and_nothing_after_it_is_applied() {
    const LAYERS: usize = 12;
    let dir = TempDir::new("page-pool-cancel");
    let archive = dir.path().join("layers.tar");
    write_gzip_layers(&archive, LAYERS, 12 * 1024 * 1024);
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    // One scan worker: the layers come one after another, so the cancel lands between them.
    browser.open(&format!("{}?scan-workers=1", server.url));
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    browser.console_errors();
    browser.set_file("drop-zone", &archive);
    // The check and the click in one script, so no layer can come in between; the rows are
    // read in the same turn, right after the click.
    let moment = wait_for(&browser, "a layer read while others are not", || {
        let moment = eval(
            &browser,
            r#"(() => {
                const rows = [...document.querySelectorAll('[data-testid="layer-row"]')];
                const cancel = document.querySelector('[data-testid="cancel"]');
                const progress = document.querySelector('[data-testid="progress"]');
                const read = rows.filter(row => !row.classList.contains('pending')).length;
                if (!cancel || !progress || !progress.querySelector('.layer')
                    || read === 0 || read === rows.length) return null;
                const text = progress.textContent;
                cancel.click();
                return { progress: text, read, layers: rows.length,
                         sizes: rows.map(row => row.querySelector('.size').textContent) };
            })()"#,
        );
        (!moment.is_null()).then_some(moment)
    });
    let read = moment["read"].as_u64().unwrap() as usize;
    assert_eq!(moment["layers"], json!(LAYERS));
    let progress = moment["progress"].as_str().unwrap();
    assert!(
        progress.contains(&format!(" of {LAYERS}")) && progress.contains(" read"),
        "the progress names the layer and the bytes: {progress}"
    );
    let message = wait_for(&browser, "the cancel message", || {
        eval(
            &browser,
            r#"document.querySelector('[data-testid="error"]')?.textContent ?? null"#,
        )
        .as_str()
        .map(str::to_string)
    });
    assert!(message.contains("Stopped reading layers.tar"), "{message}");
    // The layer worker and its pool are gone: nothing is left to post an event.
    wait_for(&browser, "every worker to end", || {
        let workers = worker_threads(&browser);
        (workers
            == Workers {
                layer_workers: 0,
                scan_workers: 0,
            })
        .then_some(())
    });
    let after = eval(
        &browser,
        r#"(() => {
            const rows = [...document.querySelectorAll('[data-testid="layer-row"]')];
            return { read: rows.filter(row => !row.classList.contains('pending')).length,
                     sizes: rows.map(row => row.querySelector('.size').textContent),
                     streaming: rows.filter(row => row.classList.contains('streaming')).length,
                     progress: document.querySelector('[data-testid="progress"]') !== null,
                     badge: document.querySelector('[data-testid="verify-status"]')?.textContent };
        })()"#,
    );
    assert_eq!(
        after["read"],
        json!(read),
        "no layer came in after the cancel"
    );
    assert_eq!(
        after["sizes"], moment["sizes"],
        "the rows read so far stay as they were"
    );
    assert_eq!(after["streaming"], json!(0));
    assert_eq!(after["progress"], json!(false));
    assert!(
        after["badge"].as_str().unwrap().starts_with("unverified"),
        "{after}"
    );
    assert!(read < LAYERS, "the cancel came before the last layer");
    // The tree pane says the open was cancelled and how to see the tree, not that it comes.
    let pane = eval(
        &browser,
        r#"(() => ({
            stopped: document.querySelector('[data-testid="tree-stopped"]')?.textContent ?? null,
            waiting: document.querySelector('[data-testid="tree-waiting"]') !== null,
        }))()"#,
    );
    assert_eq!(
        pane,
        json!({
            "stopped": "No tree: the open was cancelled before every layer was read; the layers \
                        read so far are listed on the left. Drop the archive again to see the tree.",
            "waiting": false,
        })
    );
    browser.save_screenshot("pool-cancelled.png");
    let errors = browser.console_errors();
    assert!(
        errors.is_empty(),
        "console errors: {}",
        describe_log(&errors)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn from_a_sub_path_no_request_of_the_page_or_its_workers_leaves_it() {
    let root = TempDir::new("page-pool-sub-path");
    copy_dir(&dist_dir(), &root.path().join("some/where/layerscope"));
    // `layerscope serve` wants an index page at the top of what it serves.
    std::fs::write(root.path().join("index.html"), "<!doctype html>").unwrap();
    let server = LayerscopeServer::start_with(&layerscope_binary(), root.path());
    // The browser reaches the server through a tap, which sees every request that comes to
    // the page's origin, the workers' own scripts included.
    let tap = Tap::start(server.port);
    let folder = "/some/where/layerscope/";
    let page = format!("http://{}{folder}", tap.host());
    let browser = Browser::start_logging_worker_requests();
    browser.open(&page);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    open_and_verify(&browser, &dive_image());

    let served: Vec<String> = tap.take().into_iter().map(|seen| seen.path).collect();
    for file in [
        "layer-worker-loader.js",
        "layer-worker_bg.wasm",
        "scan-worker-loader.js",
        "scan-worker.js",
        "scan-worker_bg.wasm",
    ] {
        assert!(
            served.contains(&format!("{folder}{file}")),
            "{file} served from the sub-path: {served:?}"
        );
    }
    let outside: Vec<&String> = served
        .iter()
        .filter(|path| !path.starts_with(folder))
        .collect();
    assert!(
        outside.is_empty(),
        "requests outside the page's folder: {outside:?}"
    );

    // Every request the page and its workers sent, to any host: the page's network log and
    // the renderer threads' trace.
    let sent: Vec<layerscope_e2e::NetworkRequest> = browser
        .network_requests()
        .into_iter()
        .filter(|request| {
            !["data:", "blob:", "chrome:", "about:"]
                .iter()
                .any(|scheme| request.url.starts_with(scheme))
        })
        .collect();
    assert!(
        sent.iter().any(|request| request.thread.is_some()
            && request.url == format!("{page}scan-worker_bg.wasm")),
        "the trace holds the scan workers' own requests: {sent:?}"
    );
    let foreign: Vec<&String> = sent
        .iter()
        .map(|request| &request.url)
        .filter(|url| !url.starts_with(&page))
        .collect();
    assert!(
        foreign.is_empty(),
        "requests off the page's folder: {foreign:?}"
    );
    // A missing file would be a console error (the page's) or a failed worker (an error).
    let errors = browser.console_errors();
    assert!(
        errors.is_empty(),
        "console errors: {}",
        describe_log(&errors)
    );
    assert!(browser.find_testid("error").is_empty());
}
