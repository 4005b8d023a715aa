//! The first page slice in real Chromium: archives handed to the layer worker show the image
//! row, the history table and the layer list; a refused archive shows an error and the page
//! stays usable; an archive with several images lets the user pick one; the page works from a
//! sub-path. Expected values are read from the archives here with the tar crate, not from the
//! page's own code.
//!
//! Relies on the page's test ids `image-summary`, `layer-row`, `history-row` (in the History
//! tab, `tab-history`), `progress`, `error`, `image-choice`, `open-demo`, `ref-input`,
//! `ref-note` and the drop zone's file input.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use layerscope_e2e::browser::describe_log;
use layerscope_e2e::{
    dist_dir, layerscope_binary, peer, repo_root, tar_member, Browser, LayerscopeServer, TempDir,
};
use serde_json::Value;

const OPEN_TIMEOUT: Duration = Duration::from_secs(60);

fn dive_image() -> PathBuf {
    peer("dive/.data/test-docker-image.tar")
}

fn not_an_image() -> PathBuf {
    peer("dive/.data/test-uncompressed-image.tar")
}

fn bundle() -> PathBuf {
    peer("go-containerregistry/pkg/v1/tarball/testdata/test_bundle.tar")
}

fn demo() -> PathBuf {
    repo_root().join("static/demo/layerscope-demo.tar")
}

/// What a legacy `docker save` archive's first image should look like on the page.
struct Expected {
    tag: String,
    diff_ids: Vec<String>,
    history_len: usize,
}

fn expected_docker_save(archive: &Path, image: usize) -> Expected {
    let manifest: Value = serde_json::from_slice(&tar_member(archive, "manifest.json")).unwrap();
    let entry = &manifest[image];
    let config: Value =
        serde_json::from_slice(&tar_member(archive, entry["Config"].as_str().unwrap())).unwrap();
    Expected {
        tag: familiar(entry["RepoTags"][0].as_str().unwrap()),
        diff_ids: config["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_string())
            .collect(),
        history_len: config["history"].as_array().map_or(0, Vec::len),
    }
}

/// A tag as `docker image ls` prints it: Docker Hub's host (and `library/`) left out.
fn familiar(tag: &str) -> String {
    tag.strip_prefix("docker.io/library/")
        .or_else(|| tag.strip_prefix("docker.io/"))
        .unwrap_or(tag)
        .to_string()
}

fn text(browser: &Browser, element: &layerscope_e2e::ElementId) -> String {
    browser.webdriver().element_text(element).unwrap()
}

/// Waits until no element has `data-testid="testid"`.
fn wait_until_gone(browser: &Browser, testid: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !browser.find_testid(testid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "data-testid={testid} still shown after {timeout:?}; console: {}",
            describe_log(&browser.console_log())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the summary names `tag` and the work is finished, then checks every row.
fn assert_shows(browser: &Browser, expected: &Expected) {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        let summary = browser.wait_for_testid("image-summary", OPEN_TIMEOUT);
        // The previous image's summary may be replaced between finding and reading it.
        let summary_text = browser
            .webdriver()
            .element_text(&summary)
            .unwrap_or_default();
        if summary_text.contains(&expected.tag) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "summary never named {}: {summary_text:?}",
            expected.tag
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_until_gone(browser, "progress", OPEN_TIMEOUT);
    assert!(
        browser.find_testid("error").is_empty(),
        "unexpected error: {}",
        browser.testid_text("error")
    );

    let rows = browser.find_testid("layer-row");
    assert_eq!(
        rows.len(),
        expected.diff_ids.len(),
        "one layer-row per layer of {}",
        expected.tag
    );
    for (index, (row, diff_id)) in rows.iter().zip(&expected.diff_ids).enumerate() {
        let row_text = text(browser, row);
        assert!(
            row_text.contains(diff_id),
            "layer row {index} {row_text:?} lacks {diff_id}"
        );
        assert!(
            row_text.starts_with(&index.to_string()),
            "layer row {index} starts with its index: {row_text:?}"
        );
        assert!(
            !row_text.contains('…'),
            "layer row {index} still has a size placeholder: {row_text:?}"
        );
    }
    browser.show_tab("history", OPEN_TIMEOUT);
    assert_eq!(
        browser.find_testid("history-row").len(),
        expected.history_len,
        "one history-row per config history entry of {}",
        expected.tag
    );
    browser.show_tab("files", OPEN_TIMEOUT);
    let errors = browser.console_errors();
    assert!(
        errors.is_empty(),
        "console errors: {}",
        describe_log(&errors)
    );
}

#[test]
fn dive_test_image_chosen_in_the_file_input_shows_fourteen_layers() {
    let expected = expected_docker_save(&dive_image(), 0);
    assert_eq!(
        expected.diff_ids.len(),
        14,
        "dive's test image has 14 layers"
    );
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    browser.console_errors();
    browser.set_file("drop-zone", &dive_image());
    assert_shows(&browser, &expected);
    let summary = browser.testid_text("image-summary");
    assert!(
        summary.contains("1.22MB"),
        "docker-unit size in {summary:?}"
    );
    assert!(
        summary.contains("75ae28b8ebf8"),
        "short image ID in {summary:?}"
    );
}

#[test]
fn demo_button_shows_the_demo_image() {
    let expected = expected_docker_save(&demo(), 0);
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    let button = browser.wait_for_testid("open-demo", OPEN_TIMEOUT);
    browser.console_errors();
    browser.webdriver().click(&button).unwrap();
    assert_shows(&browser, &expected);
}

#[test]
fn the_demo_archive_chosen_in_the_file_input_shows_the_same_image() {
    let expected = expected_docker_save(&demo(), 0);
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    browser.console_errors();
    browser.set_file("drop-zone", &demo());
    assert_shows(&browser, &expected);
}

#[test]
fn a_plain_rootfs_tar_is_refused_in_place_and_the_page_stays_usable() {
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    browser.console_errors();

    browser.set_file("drop-zone", &not_an_image());
    let error = browser.wait_for_testid("error", OPEN_TIMEOUT);
    let message = text(&browser, &error);
    assert!(
        message.contains("test-uncompressed-image.tar"),
        "error names the file: {message:?}"
    );
    assert!(
        message.contains("manifest.json"),
        "error says what is missing: {message:?}"
    );
    assert!(
        browser.find_testid("layer-row").is_empty(),
        "nothing shown for a refused archive"
    );
    assert!(
        browser.find_testid("progress").is_empty(),
        "no progress after a refusal"
    );

    // Another archive after the refusal works and clears the error.
    browser.set_file("drop-zone", &dive_image());
    assert_shows(&browser, &expected_docker_save(&dive_image(), 0));
    assert!(browser.find_testid("error").is_empty());
}

#[test]
fn an_archive_with_two_images_lists_both_and_opens_the_one_picked() {
    let second = expected_docker_save(&bundle(), 1);
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    browser.console_errors();

    browser.set_file("drop-zone", &bundle());
    assert_shows(&browser, &expected_docker_save(&bundle(), 0));
    let choices = browser.find_testid("image-choice");
    assert_eq!(choices.len(), 2, "both images of the bundle are listed");
    let second_name = second.tag.trim_end_matches(":latest");
    assert!(
        text(&browser, &choices[1]).contains(second_name),
        "second choice is {second_name}"
    );

    browser.webdriver().click(&choices[1]).unwrap();
    assert_shows(&browser, &second);
    assert_eq!(
        browser.find_testid("image-choice").len(),
        2,
        "the list stays after picking"
    );
}

#[test]
fn the_page_works_from_a_sub_path() {
    // Serve a folder that holds the built page two levels down.
    let root = TempDir::new("page-sub-path");
    let nested = root.path().join("some/where");
    std::fs::create_dir_all(&nested).unwrap();
    copy_dir(&dist_dir(), &nested.join("layerscope"));
    // `layerscope serve` wants an index page at the top of what it serves.
    std::fs::write(
        root.path().join("index.html"),
        "<!doctype html><a href=\"some/where/layerscope/\">layerscope</a>",
    )
    .unwrap();
    let server = LayerscopeServer::start_with(&layerscope_binary(), root.path());
    let browser = Browser::start();
    browser.open(&format!("{}some/where/layerscope/", server.url));
    let button = browser.wait_for_testid("open-demo", OPEN_TIMEOUT);
    browser.console_errors();
    browser.webdriver().click(&button).unwrap();
    assert_shows(&browser, &expected_docker_save(&demo(), 0));
}

#[test]
fn a_reference_that_is_not_one_gets_a_note_in_place() {
    // Registry references open now (tests/page_registry.rs); one that does not parse is
    // answered in place, and the page stays as it was.
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    let input = browser.wait_for_testid("ref-input", OPEN_TIMEOUT);
    browser
        .webdriver()
        .send_keys(&input, "Nginx:1.17.6\n")
        .unwrap();
    let note = browser.testid_text("ref-note");
    assert!(
        note.contains("Nginx:1.17.6") && note.contains("is not an image reference"),
        "note: {note:?}"
    );
    assert!(
        browser.find_testid("open-demo").len() == 1,
        "the page stays as it was"
    );
}

/// Layers of the generated archive and the bytes of file content in each: large enough that
/// reading it takes long enough to watch (and stop), small enough to write quickly.
const BIG_LAYERS: usize = 4;
const BIG_LAYER_FILE_BYTES: u64 = 96 * 1024 * 1024;

/// Writes a legacy `docker save` archive `big/archive:1` with [`BIG_LAYERS`] uncompressed layers.
fn write_big_archive(path: &Path) -> Expected {
    use sha2::{Digest, Sha256};
    let mut layers = Vec::new();
    for index in 0..BIG_LAYERS {
        let mut layer = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(BIG_LAYER_FILE_BYTES);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        let content = std::io::repeat(index as u8).take(BIG_LAYER_FILE_BYTES);
        layer
            .append_data(&mut header, format!("data/part{index}.bin"), content)
            .unwrap();
        layers.push(layer.into_inner().unwrap());
    }
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|layer| format!("sha256:{:x}", Sha256::digest(layer)))
        .collect();
    let history: Vec<Value> = (0..BIG_LAYERS)
        .map(|index| serde_json::json!({"created": "2024-01-02T03:04:05Z", "created_by": format!("/bin/sh -c make part{index}")}))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history,
    }))
    .unwrap();
    let config_name = format!("{:x}.json", Sha256::digest(&config));
    let layer_names: Vec<String> = diff_ids
        .iter()
        .map(|id| format!("{}/layer.tar", &id[7..]))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": config_name, "RepoTags": ["big/archive:1"], "Layers": layer_names}
    ]))
    .unwrap();
    let mut archive = tar::Builder::new(File::create(path).unwrap());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(&mut header, name, bytes).unwrap();
    };
    for (name, layer) in layer_names.iter().zip(&layers) {
        add(name, layer);
    }
    add(&config_name, &config);
    add("manifest.json", &manifest);
    archive.into_inner().unwrap();
    Expected {
        tag: "big/archive:1".into(),
        diff_ids,
        history_len: BIG_LAYERS,
    }
}

/// Waits until the progress indicator names a layer (`layer i of n`) and returns its text.
fn wait_for_layer_progress(browser: &Browser) -> String {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        if let Some(progress) = browser.find_testid("progress").first() {
            // The element can be replaced between finding it and reading it; just look again.
            if let Ok(progress_text) = browser.webdriver().element_text(progress) {
                if progress_text.contains(&format!(" of {BIG_LAYERS}")) {
                    return progress_text;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no layer progress within {OPEN_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn progress_shows_while_layers_stream_and_cancel_stops_the_work() {
    let dir = TempDir::new("page-big-archive");
    let archive = dir.path().join("big.tar");
    let expected = write_big_archive(&archive);
    let server = LayerscopeServer::start();
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    browser.console_errors();

    browser.set_file("drop-zone", &archive);
    let progress = wait_for_layer_progress(&browser);
    assert!(
        progress.contains("read"),
        "bytes done / total in {progress:?}"
    );
    assert_shows(&browser, &expected);

    // Again, and stop it halfway: the page says so and takes the next archive.
    // On a loaded machine the last layer can finish between seeing progress and
    // the click landing; then the finished image shows and the drop is repeated.
    let mut stopped = None;
    for _attempt in 0..5 {
        browser.set_file("drop-zone", &archive);
        wait_for_layer_progress(&browser);
        let Some(cancel) = browser.find_testid("cancel").into_iter().next() else {
            continue;
        };
        if browser.webdriver().click(&cancel).is_err() {
            continue;
        }
        if let Some(message) = error_or_finished(&browser) {
            stopped = Some(message);
            break;
        }
    }
    let message = stopped.expect("the cancel click never landed while layers streamed (5 drops)");
    assert!(
        message.contains("Stopped reading big.tar"),
        "cancel message: {message:?}"
    );
    assert!(
        browser.find_testid("progress").is_empty(),
        "no progress after cancel"
    );
    let button = browser.wait_for_testid("open-demo", OPEN_TIMEOUT);
    browser.webdriver().click(&button).unwrap();
    assert_shows(&browser, &expected_docker_save(&demo(), 0));
}

/// After a cancel click: the error text once it shows, or `None` when the
/// analysis finished first (progress gone, no error).
fn error_or_finished(browser: &Browser) -> Option<String> {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        if let Some(error) = browser.find_testid("error").first() {
            if let Ok(text) = browser.webdriver().element_text(error) {
                return Some(text);
            }
        } else if browser.find_testid("progress").is_empty() {
            return None;
        }
        assert!(
            Instant::now() < deadline,
            "neither an error nor the end of the analysis within {OPEN_TIMEOUT:?} of cancelling"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
