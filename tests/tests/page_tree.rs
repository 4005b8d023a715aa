//! The Files tab's tree in real Chromium: rows asked of the worker a window at a time, dive's
//! two views, filters, sort, collapse, search across layers, keyboard, and a layer of 100,000
//! files that never puts more than 300 rows in the page.
//!
//! Expected values come from `layerscope inspect --json` on the same archive (the CLI shares
//! the core with the page, so this checks the page's windows against the whole list), from
//! the archive itself read with the tar crate, and from dive's own figures for its test image.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use layerscope_e2e::browser::describe_log;
use layerscope_e2e::{cli_json, peer, Browser, LayerscopeServer, TempDir};
use serde_json::Value;
use sha2::{Digest, Sha256};

const OPEN_TIMEOUT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(50);

fn dive_image() -> PathBuf {
    peer("dive/.data/test-docker-image.tar")
}

/// One drawn tree row: its path, its mark and the text a user reads.
#[derive(Debug, Clone)]
struct Row {
    path: String,
    mark: String,
    text: String,
    selected: bool,
}

fn rows(browser: &Browser) -> Vec<Row> {
    let value = browser.execute(
        "return [...document.querySelectorAll('[data-testid=tree-row]')].map(r => \
         [r.dataset.path, r.dataset.mark, r.innerText, r.classList.contains('selected')]);",
    );
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|row| Row {
            path: row[0].as_str().unwrap().to_string(),
            mark: row[1].as_str().unwrap().to_string(),
            text: row[2].as_str().unwrap().to_string(),
            selected: row[3].as_bool().unwrap(),
        })
        .collect()
}

/// Waits until `test` holds for the drawn rows, returning them.
fn wait_rows(browser: &Browser, what: &str, test: impl Fn(&[Row]) -> bool) -> Vec<Row> {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        let shown = rows(browser);
        if test(&shown) {
            return shown;
        }
        assert!(
            Instant::now() < deadline,
            "tree never showed {what}; {} rows: {:?}; status {:?}; problem {:?}; console: {}",
            shown.len(),
            shown.iter().take(8).map(|r| &r.path).collect::<Vec<_>>(),
            status(browser),
            browser
                .find_testid("tree-problem")
                .first()
                .map(|_| browser.testid_text("tree-problem")),
            describe_log(&browser.console_log())
        );
        std::thread::sleep(POLL);
    }
}

fn status(browser: &Browser) -> String {
    browser
        .execute(
            "const s = document.querySelector('[data-testid=tree-status]'); \
             return s ? s.innerText : '';",
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits for the status line to read `expected` rows shown.
fn wait_total(browser: &Browser, expected: usize) {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    let wanted = format!("{expected} rows shown");
    while !status(browser).starts_with(&wanted) {
        assert!(
            Instant::now() < deadline,
            "status never said {wanted:?}: {:?}",
            status(browser)
        );
        std::thread::sleep(POLL);
    }
}

fn click(browser: &Browser, testid: &str) {
    let element = browser.wait_for_testid(testid, OPEN_TIMEOUT);
    browser.webdriver().click(&element).unwrap();
}

fn fragment(browser: &Browser) -> String {
    browser
        .execute("return decodeURIComponent(location.hash);")
        .as_str()
        .unwrap()
        .to_string()
}

fn save_screenshot(browser: &Browser, name: &str) {
    let dir = layerscope_e2e::repo_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.webdriver().screenshot_png().unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Opens `archive` through the drop zone's file input and waits for the first tree rows.
fn open_archive(archive: &Path) -> (LayerscopeServer, Browser) {
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    browser.set_file("drop-zone", archive);
    browser.wait_for_testid("file-tree-pane", OPEN_TIMEOUT);
    wait_rows(&browser, "any row", |rows| !rows.is_empty());
    (server, browser)
}

fn scroll_tree_to(browser: &Browser, fraction: f64) {
    browser.execute(&format!(
        "const s = document.querySelector('.tree-scroll'); \
         s.scrollTop = (s.scrollHeight - s.clientHeight) * {fraction}; \
         s.dispatchEvent(new Event('scroll')); return true;"
    ));
}

#[test]
fn dive_image_tree_shows_the_final_file_system_as_the_cli_lists_it() {
    let json = cli_json(&dive_image());
    let files: Vec<String> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| format!("/{}", file["path"].as_str().unwrap()))
        .collect();
    assert_eq!(files.len(), 423, "dive's image holds 423 paths at the top");
    let (_server, browser) = open_archive(&dive_image());

    // The top layer, everything up to it: the final file system (the top layer removes
    // nothing), every directory open, in the CLI's order.
    wait_total(&browser, files.len());
    let first = rows(&browser);
    assert!(first.len() <= 300, "{} rows in the page", first.len());
    for (row, path) in first.iter().zip(&files) {
        assert_eq!(&row.path, path, "rows in the CLI's order");
    }
    let bin = first.iter().find(|row| row.path == "/bin").unwrap();
    assert!(
        bin.text.contains("drwxr-xr-x") && bin.text.contains("0:0"),
        "mode and owner of /bin: {:?}",
        bin.text
    );
    // dive shows /bin as 1.2 MB: busybox once, the rest hard links.
    assert!(bin.text.contains("1.15MB"), "size of /bin: {:?}", bin.text);
    let link = first.iter().find(|row| row.path == "/bin/[[").unwrap();
    assert!(
        link.text.contains("→ bin/["),
        "hard link target: {:?}",
        link.text
    );

    // Scrolling to the bottom draws the last rows, still a window.
    scroll_tree_to(&browser, 1.0);
    let last = files.last().unwrap().clone();
    let bottom = wait_rows(&browser, "the last path", |rows| {
        rows.iter().any(|row| row.path == last)
    });
    assert!(bottom.len() <= 300);
    save_screenshot(&browser, "files-tab-dive");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console: {}", describe_log(&errors));
}

#[test]
fn dive_image_views_filters_sort_collapse_search_and_keys() {
    let (_server, browser) = open_archive(&dive_image());
    wait_total(&browser, 423);

    // Layer 9 (`rm -rf /root/example/`): its changes are one removal under /root.
    browser
        .execute("document.querySelectorAll('[data-testid=layer-row]')[9].click(); return true;");
    click(&browser, "tree-mode-changes");
    let changes = wait_rows(&browser, "layer 9's removal", |rows| {
        rows.iter()
            .any(|row| row.path == "/root/example" && row.mark == "removed")
    });
    assert!(
        changes
            .iter()
            .all(|row| row.path == "/root" || row.path.starts_with("/root/")),
        "only /root changes in layer 9: {changes:?}"
    );
    let removed = changes
        .iter()
        .find(|row| row.path == "/root/example")
        .unwrap();
    assert!(
        removed.text.starts_with('-'),
        "a removal reads -: {:?}",
        removed.text
    );
    assert!(
        fragment(&browser).contains("mode=changes"),
        "{}",
        fragment(&browser)
    );

    // Back to everything up to the top layer; hide unchanged entries: what is left was
    // added or modified, or is a directory above such an entry.
    browser
        .execute("document.querySelectorAll('[data-testid=layer-row]')[13].click(); return true;");
    click(&browser, "tree-mode-all");
    wait_total(&browser, 423);
    click(&browser, "filter-unchanged");
    let changed = wait_rows(&browser, "the top layer's changes only", |rows| {
        !rows.is_empty() && rows.len() < 30
    });
    for row in &changed {
        assert!(
            row.mark != "unchanged"
                || changed
                    .iter()
                    .any(|below| below.path.starts_with(&format!("{}/", row.path))),
            "an unchanged row with nothing changed below it: {row:?}"
        );
    }
    assert!(
        changed
            .iter()
            .any(|row| row.path == "/root/saved.txt" && row.mark == "modified"),
        "chmod +x makes /root/saved.txt modified: {changed:?}"
    );
    assert!(
        fragment(&browser).contains("filter=amr"),
        "{}",
        fragment(&browser)
    );
    click(&browser, "filter-unchanged");
    wait_total(&browser, 423);

    // By size: the largest top-level directory first.
    click(&browser, "tree-sort");
    let by_size = wait_rows(&browser, "/bin first", |rows| {
        rows.first().is_some_and(|row| row.path == "/bin")
    });
    assert!(by_size[1].path.starts_with("/bin/"), "{:?}", &by_size[..3]);
    click(&browser, "tree-sort");

    // Collapse all: the top-level entries only; a click on a twisty opens one.
    click(&browser, "tree-collapse-all");
    let top = wait_rows(&browser, "top-level entries only", |rows| {
        !rows.is_empty() && rows.iter().all(|row| row.path.matches('/').count() == 1)
    });
    assert!(top.iter().any(|row| row.path == "/etc"), "{top:?}");
    browser.execute(
        "document.querySelector('[data-testid=tree-row][data-path=\"/etc\"] .twisty').click(); return true;",
    );
    wait_rows(&browser, "/etc opened", |rows| {
        rows.iter().any(|row| row.path.starts_with("/etc/"))
    });
    click(&browser, "tree-expand-all");
    wait_total(&browser, 423);

    // Search every layer; a hit opens its layer with the path selected and in view.
    let search = browser.wait_for_testid("tree-search", OPEN_TIMEOUT);
    browser
        .webdriver()
        .send_keys(&search, "somefile3\n")
        .unwrap();
    browser.wait_for_testid("search-hit", OPEN_TIMEOUT);
    let summary = browser.testid_text("search-summary");
    assert!(summary.contains("somefile3"), "{summary:?}");
    let hits = browser.execute(
        "return [...document.querySelectorAll('[data-testid=search-hit]')].map(h => h.innerText);",
    );
    let hits: Vec<String> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    assert!(
        hits.iter()
            .any(|hit| hit.contains("layer 6") && hit.contains("/root/example/somefile3.txt")),
        "layer 6 adds somefile3: {hits:?}"
    );
    browser.execute(
        "[...document.querySelectorAll('[data-testid=search-hit]')].find(h => h.innerText.includes('layer 6')).click(); return true;",
    );
    let revealed = wait_rows(&browser, "the hit selected", |rows| {
        rows.iter()
            .any(|row| row.selected && row.path == "/root/example/somefile3.txt")
    });
    assert!(!revealed.is_empty());
    let hash = fragment(&browser);
    assert!(
        hash.contains("layer=6") && hash.contains("path=/root/example/somefile3.txt"),
        "{hash}"
    );

    // Keys: j moves the selection down, k back up.
    browser.execute("document.querySelector('.tree-scroll').focus(); return true;");
    let scroller = browser.webdriver().find_element(".tree-scroll").unwrap();
    browser.webdriver().send_keys(&scroller, "k").unwrap();
    let moved = wait_rows(&browser, "the selection one row up", |rows| {
        rows.iter()
            .any(|row| row.selected && row.path != "/root/example/somefile3.txt")
    });
    let up = moved.iter().find(|row| row.selected).unwrap().path.clone();
    browser.webdriver().send_keys(&scroller, "j").unwrap();
    wait_rows(&browser, "the selection back down", |rows| {
        rows.iter()
            .any(|row| row.selected && row.path == "/root/example/somefile3.txt")
    });
    assert_ne!(up, "/root/example/somefile3.txt");
    // m switches to the layer's changes: layer 6 only adds somefile3 (and its directories).
    browser.webdriver().send_keys(&scroller, "m").unwrap();
    let changes = wait_rows(&browser, "layer 6's changes", |rows| {
        !rows.is_empty() && rows.len() <= 4
    });
    assert!(
        changes
            .iter()
            .any(|row| row.path == "/root/example/somefile3.txt" && row.mark == "added"),
        "{changes:?}"
    );
    assert!(
        fragment(&browser).contains("mode=changes"),
        "{}",
        fragment(&browser)
    );
    save_screenshot(&browser, "files-tab-search");

    // A bad regular expression says so, and the tree stays.
    browser.execute(
        "const s = document.querySelector('[data-testid=tree-search]'); s.value = ''; return true;",
    );
    browser
        .webdriver()
        .send_keys(&search, "/[unclosed/\n")
        .unwrap();
    let problem = browser.wait_for_testid("tree-problem", OPEN_TIMEOUT);
    let text = browser.webdriver().element_text(&problem).unwrap();
    assert!(text.contains("[unclosed"), "names the pattern: {text:?}");
    assert!(!rows(&browser).is_empty());
}

/// A `docker save` archive with one layer of `count` empty files in directories of 1,000.
fn many_files_archive(dir: &Path, count: usize) -> PathBuf {
    let mut layer = tar::Builder::new(Vec::new());
    for index in 0..count {
        let mut header = tar::Header::new_ustar();
        header.set_size(0);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mtime(0);
        let path = format!("data/d{:03}/file{index:06}", index / 1000);
        layer.append_data(&mut header, path, &[][..]).unwrap();
    }
    let layer = layer.into_inner().unwrap();
    let diff_id = format!("sha256:{:x}", Sha256::digest(&layer));
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "COPY data /data"}],
    })
    .to_string();
    let config_name = format!("{:x}.json", Sha256::digest(config.as_bytes()));
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["many:files"],
        "Layers": ["layer/layer.tar"],
    }])
    .to_string();
    let path = dir.join("many-files.tar");
    let mut archive = tar::Builder::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in [
        ("manifest.json", manifest.as_bytes()),
        (config_name.as_str(), config.as_bytes()),
        ("layer/layer.tar", &layer[..]),
    ] {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        archive.append_data(&mut header, name, bytes).unwrap();
    }
    archive.finish().unwrap();
    path
}

#[test]
fn a_layer_of_100k_files_keeps_at_most_300_rows_in_the_page() {
    let dir = TempDir::new("page-tree-many");
    let archive = many_files_archive(dir.path(), 100_000);
    let (_server, browser) = open_archive(&archive);
    // 100,000 files, 100 directories and /data.
    wait_total(&browser, 100_101);
    let count = |browser: &Browser| browser.find_testid("tree-row").len();
    assert!(count(&browser) <= 300, "{} rows", count(&browser));
    for fraction in [0.25, 0.5, 0.999] {
        scroll_tree_to(&browser, fraction);
        // Each directory is 1,001 rows; allow one directory either side of the estimate.
        let near = ((fraction * 100.0) as usize).min(99);
        let dirs: Vec<String> = (near.saturating_sub(1)..=(near + 1).min(99))
            .map(|dir| format!("/data/d{dir:03}/"))
            .collect();
        let shown = wait_rows(&browser, "rows further down", |rows| {
            rows.iter()
                .any(|row| dirs.iter().any(|dir| row.path.starts_with(dir)))
        });
        assert!(shown.len() <= 300, "{} rows at {fraction}", shown.len());
    }
    scroll_tree_to(&browser, 1.0);
    let last = wait_rows(&browser, "the last file", |rows| {
        rows.iter().any(|row| row.path == "/data/d099/file099999")
    });
    assert!(last.len() <= 300);
    save_screenshot(&browser, "files-tab-100k");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console: {}", describe_log(&errors));
}

/// The content of `path` in layer member `layer` of a `docker save` archive.
fn file_in_layer(archive: &Path, layer: &str, path: &str) -> Vec<u8> {
    let bytes = layerscope_e2e::tar_member(archive, layer);
    let mut tar = tar::Archive::new(&bytes[..]);
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if name == path {
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
            return content;
        }
    }
    panic!("{path} not in {layer}");
}

fn layer_member(archive: &Path, index: usize) -> String {
    let manifest: Value =
        serde_json::from_slice(&layerscope_e2e::tar_member(archive, "manifest.json")).unwrap();
    manifest[0]["Layers"][index].as_str().unwrap().to_string()
}

/// Clicks the drawn row of `path`, scrolling the tree to it through the search box first.
fn open_file_row(browser: &Browser, path: &str) {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        let clicked = browser.execute(&format!(
            "const r = [...document.querySelectorAll('[data-testid=tree-row]')].find(r => r.dataset.path === {path:?}); \
             if (r) {{ r.click(); return true; }} return false;"
        ));
        if clicked.as_bool() == Some(true) {
            return;
        }
        assert!(Instant::now() < deadline, "no row for {path}");
        std::thread::sleep(POLL);
    }
}

fn viewer_text(browser: &Browser, testid: &str) -> String {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        let value = browser.execute(&format!(
            "const e = document.querySelector('[data-testid=file-view] [data-testid={testid}]'); \
             return e ? e.textContent : null;"
        ));
        if let Some(text) = value.as_str() {
            return text.to_string();
        }
        let error = browser.execute(
            "const e = document.querySelector('[data-testid=file-error]'); return e ? e.textContent : null;",
        );
        assert!(error.is_null(), "viewer error: {error}");
        assert!(Instant::now() < deadline, "viewer never showed {testid}");
        std::thread::sleep(POLL);
    }
}

#[test]
fn file_viewer_shows_text_hex_and_files_of_lower_layers() {
    let archive = dive_image();
    let (_server, browser) = open_archive(&archive);
    wait_total(&browser, 423);

    // A text file written by layer 1, seen from the top layer's tree.
    let expected = file_in_layer(&archive, &layer_member(&archive, 1), "somefile.txt");
    // Top-level entries only, so the file is in the first window.
    click(&browser, "tree-collapse-all");
    open_file_row(&browser, "/somefile.txt");
    let shown = viewer_text(&browser, "file-content");
    assert_eq!(
        shown.as_bytes(),
        &expected[..],
        "the file's text, byte for byte"
    );
    assert_eq!(viewer_text(&browser, "file-layer"), "layer 1");
    let format = browser.execute(
        "return document.querySelector('[data-testid=file-view] [data-testid=file-content]').dataset.format;",
    );
    assert_eq!(format, "text");
    save_screenshot(&browser, "file-view-text");

    // The same file as hex: xxd's first line.
    click(&browser, "file-as-hex");
    let deadline = Instant::now() + OPEN_TIMEOUT;
    let dump = loop {
        let dump = viewer_text(&browser, "file-content");
        if dump.starts_with("00000000:") {
            break dump;
        }
        assert!(Instant::now() < deadline, "no hex dump: {dump:?}");
        std::thread::sleep(POLL);
    };
    let first: String = expected[..16]
        .chunks(2)
        .map(|pair| pair.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        dump.starts_with(&format!("00000000: {first}")),
        "{}",
        &dump[..80]
    );

    // busybox, from layer 0 (the bottom one), is binary: shown as hex, ELF magic first.
    click(&browser, "file-close");
    click(&browser, "tree-expand-all");
    open_file_row(&browser, "/bin/[");
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        let layer = viewer_text(&browser, "file-layer");
        let dump = viewer_text(&browser, "file-content");
        if layer == "layer 0" && dump.starts_with("00000000: 7f45 4c46") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "busybox as hex from layer 0: {layer} {:?}",
            &dump[..dump.len().min(60)]
        );
        std::thread::sleep(POLL);
    }
    let size = browser.execute("return document.querySelector('[data-testid=file-size]').title;");
    let busybox = file_in_layer(&archive, &layer_member(&archive, 0), "bin/[");
    assert_eq!(size, format!("{} bytes", busybox.len()));
    save_screenshot(&browser, "file-view-hex");

    // A hard link shows its source's bytes.
    click(&browser, "file-close");
    open_file_row(&browser, "/bin/[[");
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        let dump = viewer_text(&browser, "file-content");
        if dump.starts_with("00000000: 7f45 4c46") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "hard link content: {:?}",
            &dump[..dump.len().min(60)]
        );
        std::thread::sleep(POLL);
    }
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console: {}", describe_log(&errors));
}

#[test]
fn a_file_named_like_markup_shows_as_text() {
    let dir = TempDir::new("page-tree-markup");
    let mut layer = tar::Builder::new(Vec::new());
    let name = "<img src=x onerror=alert(1)>";
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    layer
        .append_data(
            &mut header,
            name,
            &b"<b>x"[..4]
                .iter()
                .chain(b"\n")
                .copied()
                .collect::<Vec<u8>>()[..],
        )
        .unwrap();
    let layer = layer.into_inner().unwrap();
    let archive = one_layer_archive(dir.path(), &layer);
    let (_server, browser) = open_archive(&archive);
    let rows = wait_rows(&browser, "the odd name", |rows| {
        rows.iter().any(|row| row.path == format!("/{name}"))
    });
    let row = rows
        .iter()
        .find(|row| row.path == format!("/{name}"))
        .unwrap();
    assert!(row.text.contains(name), "the name as text: {:?}", row.text);
    let images = browser.execute("return document.querySelectorAll('.tree-pane img').length;");
    assert_eq!(images, 0, "no element was made of the name");
    open_file_row(&browser, &format!("/{name}"));
    assert_eq!(viewer_text(&browser, "file-content"), "<b>x\n");
    assert_eq!(
        browser.execute("return document.querySelectorAll('.file-view b').length;"),
        0
    );
}

#[test]
fn a_name_with_control_characters_is_shown_escaped_and_marked() {
    let dir = TempDir::new("page-tree-controls");
    let mut layer = tar::Builder::new(Vec::new());
    let name = "evil\x1b[31m\u{202e}txt.exe";
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    layer.append_data(&mut header, name, &b"hi\n"[..]).unwrap();
    let layer = layer.into_inner().unwrap();
    let archive = one_layer_archive(dir.path(), &layer);
    let (_server, browser) = open_archive(&archive);
    let path = format!("/{name}");
    let rows = wait_rows(&browser, "the name with controls", |rows| {
        rows.iter().any(|row| row.path == path)
    });
    let row = rows.iter().find(|row| row.path == path).unwrap();
    // The exact name is kept (the row's path), and drawn escaped.
    assert!(
        row.text.contains("evil\\x1b[31m\\u{202e}txt.exe"),
        "escaped: {:?}",
        row.text
    );
    assert!(
        !row.text.contains('\x1b') && !row.text.contains('\u{202e}'),
        "raw controls in {:?}",
        row.text
    );
    let marked = browser.execute(
        "return [...document.querySelectorAll('[data-testid=\"escaped-name\"]')].map(e => e.textContent);",
    );
    assert_eq!(
        marked,
        serde_json::json!(["evil\\x1b[31m\\u{202e}txt.exe"]),
        "one marked name"
    );
    open_file_row(&browser, &path);
    assert_eq!(viewer_text(&browser, "file-content"), "hi\n");
    assert_eq!(
        viewer_text(&browser, "file-path"),
        "/evil\\x1b[31m\\u{202e}txt.exe"
    );
    browser.save_screenshot("tree-escaped-name.png");
}

/// A `docker save` archive of one layer.
fn one_layer_archive(dir: &Path, layer: &[u8]) -> PathBuf {
    let diff_id = format!("sha256:{:x}", Sha256::digest(layer));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "COPY . /"}],
    })
    .to_string();
    let config_name = format!("{:x}.json", Sha256::digest(config.as_bytes()));
    let manifest = serde_json::json!([{
        "Config": config_name, "RepoTags": ["odd:names"], "Layers": ["layer/layer.tar"],
    }])
    .to_string();
    let path = dir.join("one-layer.tar");
    let mut archive = tar::Builder::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in [
        ("manifest.json", manifest.as_bytes()),
        (config_name.as_str(), config.as_bytes()),
        ("layer/layer.tar", layer),
    ] {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        archive.append_data(&mut header, name, bytes).unwrap();
    }
    archive.finish().unwrap();
    path
}

#[test]
fn a_registry_image_s_tree_and_a_file_read_again_from_its_layer() {
    let demo = layerscope_e2e::repo_root().join("static/demo/layerscope-demo.tar");
    let server = LayerscopeServer::start();
    let registry = layerscope_e2e::Registry::start(
        layerscope_e2e::RegistryConfig::plain().with_cors(&server.origin()),
    );
    layerscope_e2e::push_archive(
        &format!("docker-archive:{}", demo.display()),
        &registry,
        "demo/app:1.0",
    );
    // The app layer (1) rewrote /etc/os-release.
    let expected = file_in_layer(&demo, &layer_member(&demo, 1), "etc/os-release");
    let browser = Browser::start();
    // The link names the path: the tree opens at it, selected.
    browser.open(&format!(
        "{}#/image/{}/demo/app:1.0?path=/etc/os-release",
        server.url,
        registry.host()
    ));
    wait_rows(&browser, "the linked path selected", |rows| {
        rows.iter()
            .any(|row| row.selected && row.path == "/etc/os-release")
    });
    // The top layer replaced /etc/demo (an opaque directory): its old files show as removed
    // by it, its new ones as added.
    let rows = rows(&browser);
    let mark_of = |path: &str| {
        rows.iter()
            .find(|row| row.path == path)
            .map(|row| row.mark.clone())
            .unwrap_or_else(|| panic!("no row {path}"))
    };
    assert_eq!(mark_of("/etc/demo/conf.d/10-listen.conf"), "added");
    assert_eq!(mark_of("/etc/demo/cache.conf"), "removed");
    open_file_row(&browser, "/etc/os-release");
    // skopeo pushed the layer gzip-compressed: the worker streams it again up to the file.
    assert_eq!(
        viewer_text(&browser, "file-content").as_bytes(),
        &expected[..]
    );
    assert_eq!(viewer_text(&browser, "file-layer"), "layer 1");
    save_screenshot(&browser, "file-view-registry");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console: {}", describe_log(&errors));
}

/// Opens `archive`, hides removed entries and checks the tree holds exactly the CLI's final
/// file list, in its order (the first window) and in number.
fn assert_tree_is_the_cli_file_list(archive: &Path) -> (LayerscopeServer, Browser) {
    let files: Vec<String> = cli_json(archive)["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| format!("/{}", file["path"].as_str().unwrap()))
        .collect();
    assert!(!files.is_empty());
    let (server, browser) = open_archive(archive);
    click(&browser, "filter-removed");
    wait_total(&browser, files.len());
    let shown = rows(&browser);
    for (row, path) in shown.iter().zip(&files) {
        assert_eq!(
            &row.path,
            path,
            "rows in the CLI's order for {}",
            archive.display()
        );
    }
    (server, browser)
}

#[test]
fn docker_25_save_output_shows_its_tree() {
    let archive = peer("go-containerregistry/pkg/v1/tarball/testdata/hello-world-v25.tar");
    let (_server, browser) = assert_tree_is_the_cli_file_list(&archive);
    open_file_row(&browser, "/hello");
    let dump = viewer_text(&browser, "file-content");
    assert!(
        dump.starts_with("00000000: 7f45 4c46"),
        "hello is an ELF binary: {}",
        &dump[..40]
    );
}

#[test]
fn an_oci_archive_with_a_zstd_layer_shows_its_tree() {
    assert_tree_is_the_cli_file_list(&peer("dive/.data/test-oci-zstd-image.tar"));
}

#[test]
fn a_skopeo_oci_archive_with_zstd_layers_shows_its_tree_and_files() {
    let dir = TempDir::new("page-tree-skopeo-zstd");
    let demo = layerscope_e2e::repo_root().join("static/demo/layerscope-demo.tar");
    let archive = dir.path().join("demo-zstd.tar");
    let status = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-compress-format", "zstd"])
        .arg(format!("docker-archive:{}", demo.display()))
        .arg(format!("oci-archive:{}:demo:zstd", archive.display()))
        .status()
        .expect("run skopeo");
    assert!(status.success(), "skopeo copy to a zstd OCI archive");
    let (_server, browser) = assert_tree_is_the_cli_file_list(&archive);
    let expected = file_in_layer(&demo, &layer_member(&demo, 1), "etc/os-release");
    click(&browser, "tree-collapse-all");
    wait_rows(&browser, "top-level entries only", |rows| {
        rows.iter().any(|row| row.path == "/etc")
            && rows.iter().all(|row| row.path.matches('/').count() == 1)
    });
    browser.execute(
        "document.querySelector('[data-testid=tree-row][data-path=\"/etc\"] .twisty').click(); return true;",
    );
    open_file_row(&browser, "/etc/os-release");
    assert_eq!(
        viewer_text(&browser, "file-content").as_bytes(),
        &expected[..]
    );
}

#[test]
fn a_gzip_compressed_docker_save_shows_its_tree_and_reads_a_file_again() {
    let dir = TempDir::new("page-tree-targz");
    let archive = dir.path().join("dive.tar.gz");
    let output = Command::new("gzip")
        .args(["-c", "-6"])
        .arg(dive_image())
        .output()
        .expect("run gzip");
    assert!(output.status.success());
    std::fs::write(&archive, &output.stdout).unwrap();
    let (_server, browser) = assert_tree_is_the_cli_file_list(&archive);
    // The viewer reads the layer again by decompressing the archive from its start.
    let expected = file_in_layer(
        &dive_image(),
        &layer_member(&dive_image(), 1),
        "somefile.txt",
    );
    click(&browser, "tree-collapse-all");
    open_file_row(&browser, "/somefile.txt");
    assert_eq!(
        viewer_text(&browser, "file-content").as_bytes(),
        &expected[..]
    );
}
