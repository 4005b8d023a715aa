//! The page opens images straight from a real `docker-registry` in real Chromium: directly
//! when the registry sends CORS headers, through `layerscope serve`'s proxy when it does not,
//! from the URL fragment in a fresh browser, after a login for an htpasswd registry, and with
//! a message a user can act on when neither way works.
//!
//! Worker requests are not in Chromium's performance log, so each registry here sits behind a
//! [`Tap`] (the harness's loopback relay that records every request line it forwards, and
//! whether it carried the browser's `Origin`), which is how the tests see where the page's
//! requests went and count them by kind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use layerscope_e2e::browser::describe_log;
use layerscope_e2e::tap::{count_by_kind, describe_counts, Seen, Tap};
use layerscope_e2e::{
    dist_dir, push_archive, push_multi_arch, push_small_image, repo_root, tar_member, Browser,
    ChildGuard, Grant, LayerscopeServer, Registry, RegistryConfig, TokenIssuer, TokenPolicy,
};
use serde_json::{json, Value};

const OPEN_TIMEOUT: Duration = Duration::from_secs(60);
const USER: &str = "layerscope-user";
const PASSWORD: &str = "s3cret-pa55";

fn demo() -> PathBuf {
    repo_root().join("static/demo/layerscope-demo.tar")
}

fn demo_source() -> String {
    format!("docker-archive:{}", demo().display())
}

/// The demo's diff IDs and history length, read from the archive with the tar crate.
fn demo_expected() -> (Vec<String>, usize) {
    let manifest: Value = serde_json::from_slice(&tar_member(&demo(), "manifest.json")).unwrap();
    let config: Value = serde_json::from_slice(&tar_member(
        &demo(),
        manifest[0]["Config"].as_str().unwrap(),
    ))
    .unwrap();
    let diff_ids = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_string())
        .collect();
    (diff_ids, config["history"].as_array().map_or(0, Vec::len))
}

/// `layerscope serve` of the built page with `--insecure-registry` for each of `hosts`.
fn serve_with_insecure(hosts: &[String]) -> LayerscopeServer {
    let flags: Vec<String> = hosts
        .iter()
        .flat_map(|host| ["--insecure-registry".to_string(), host.clone()])
        .collect();
    LayerscopeServer::start_with_flags(&flags)
}

/// Types `reference` into the box and submits it.
fn submit_reference(browser: &Browser, reference: &str) {
    let input = browser.wait_for_testid("ref-input", OPEN_TIMEOUT);
    browser.webdriver().send_keys(&input, reference).unwrap();
    browser.webdriver().send_keys(&input, "\u{E007}").unwrap();
}

/// When the first layer row showed (with the history: the image's overview) and when every
/// layer was scanned, from `started`.
struct Timings {
    first_layer_row: Duration,
    all_layers: Duration,
}

/// Waits for the demo image: summary, three scanned layer rows, then one history row per
/// history entry in the History tab (the Files tab is shown again after), the blob digests the registry's manifest lists (skopeo compressed the archive's
/// layers on push), no error, no console error.
///
/// With `blocked_direct_try`, Chromium's own console error for the first, blocked direct
/// request ("blocked by CORS policy") is expected; any other console error fails.
fn assert_shows_demo(
    browser: &Browser,
    started: Instant,
    layer_digests: &[String],
    blocked_direct_try: bool,
) -> Timings {
    let (diff_ids, history_len) = demo_expected();
    let deadline = started + OPEN_TIMEOUT;
    let mut first_layer_row = None;
    loop {
        if first_layer_row.is_none() && !browser.find_testid("layer-row").is_empty() {
            first_layer_row = Some(started.elapsed());
        }
        let done = first_layer_row.is_some()
            && browser.find_testid("progress").is_empty()
            && browser.find_testid("layer-row").len() == diff_ids.len();
        if done {
            break;
        }
        if let Some(error) = browser.find_testid("error").first() {
            panic!(
                "the page shows an error: {}",
                browser.webdriver().element_text(error).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the demo image never finished; console: {}",
            describe_log(&browser.console_log())
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let all_layers = started.elapsed();
    assert!(browser.find_testid("error").is_empty());
    let summary = browser.testid_text("image-summary");
    assert!(
        summary.contains("demo/app"),
        "summary names the repository: {summary:?}"
    );
    let rows = browser.find_testid("layer-row");
    assert_eq!(rows.len(), 3, "the demo has three layers");
    assert_eq!(layer_digests.len(), diff_ids.len());
    for (index, (row, digest)) in rows.iter().zip(layer_digests).enumerate() {
        let text = browser.webdriver().element_text(row).unwrap();
        assert!(
            text.contains(digest),
            "layer row {index} {text:?} lacks {digest}"
        );
        assert!(
            !text.contains('…'),
            "layer row {index} not scanned: {text:?}"
        );
    }
    browser.show_tab("history", OPEN_TIMEOUT);
    assert_eq!(browser.find_testid("history-row").len(), history_len);
    browser.show_tab("files", OPEN_TIMEOUT);
    let errors: Vec<_> = browser
        .console_errors()
        .into_iter()
        .filter(|entry| !(blocked_direct_try && entry.message.contains("blocked by CORS policy")))
        .collect();
    assert!(
        errors.is_empty(),
        "console errors: {}",
        describe_log(&errors)
    );
    Timings {
        first_layer_row: first_layer_row.unwrap(),
        all_layers,
    }
}

/// The manifest the registry serves for `tag` (docker v2 or OCI).
fn manifest_of(registry: &Registry, repository: &str, tag: &str) -> Value {
    manifest_with(registry, repository, tag, None)
}

/// [`manifest_of`] with a Bearer token (a token registry).
fn manifest_with(registry: &Registry, repository: &str, tag: &str, token: Option<&str>) -> Value {
    let bearer = token.map(|token| format!("Bearer {token}"));
    let mut headers = vec![(
        "Accept",
        "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
    )];
    if let Some(bearer) = &bearer {
        headers.push(("Authorization", bearer.as_str()));
    }
    let response = registry.get_with_headers(
        &format!("/v2/{repository}/manifests/{tag}"),
        token.is_none(),
        &headers,
    );
    serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("manifest of {repository}:{tag}: {e}: {}", response.body))
}

fn layer_digests_of(registry: &Registry, repository: &str, tag: &str) -> Vec<String> {
    digests_in(&manifest_of(registry, repository, tag))
}

fn digests_in(manifest: &Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["digest"].as_str().unwrap().to_string())
        .collect()
}

fn config_digest_of(registry: &Registry, repository: &str, tag: &str) -> String {
    let manifest = manifest_of(registry, repository, tag);
    manifest["config"]["digest"].as_str().unwrap().to_string()
}

fn session_route(browser: &Browser, host: &str) -> Value {
    browser.execute(&format!(
        "return sessionStorage.getItem({});",
        json!(format!("layerscope.route.{host}"))
    ))
}

fn print_counts(label: &str, counts: &BTreeMap<String, usize>) {
    println!("requests per open ({label}): {}", describe_counts(counts));
}

#[test]
fn a_cors_registry_is_read_directly_and_a_plain_one_through_the_proxy() {
    // Direct: the registry allows the page's origin.
    let server = LayerscopeServer::start();
    let cors = Registry::start(RegistryConfig::plain().with_cors(&server.origin()));
    push_archive(&demo_source(), &cors, "demo/app:1.0");
    let cors_tap = Tap::start(cors.port);
    let config = config_digest_of(&cors, "demo/app", "1.0");
    let cors_layers = layer_digests_of(&cors, "demo/app", "1.0");
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    cors_tap.take();
    let reference = format!("{}/demo/app:1.0", cors_tap.host());
    let started = Instant::now();
    submit_reference(&browser, &reference);
    let direct = assert_shows_demo(&browser, started, &cors_layers, false);
    let seen = cors_tap.take();
    assert!(
        seen.iter()
            .filter(|r| r.method != "OPTIONS")
            .all(|r| r.from_browser),
        "every registry request came from the browser itself: {seen:?}"
    );
    assert!(seen.iter().any(|r| r.path.contains("/manifests/1.0")));
    assert_eq!(
        session_route(&browser, &cors_tap.host()),
        json!("\"direct\"")
    );
    let hash = browser.execute("return location.hash;");
    assert_eq!(hash, json!(format!("#/image/{reference}")));
    let direct_counts = count_by_kind(&seen, &config);
    print_counts("direct", &direct_counts);

    // Proxied: no CORS headers, so the browser blocks the direct read; serve relays it.
    let plain = Registry::start(RegistryConfig::plain());
    push_archive(&demo_source(), &plain, "demo/app:1.0");
    let plain_tap = Tap::start(plain.port);
    let plain_layers = layer_digests_of(&plain, "demo/app", "1.0");
    let served = serve_with_insecure(&[plain_tap.host()]);
    let browser = Browser::start();
    browser.open(&served.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    plain_tap.take();
    let reference = format!("{}/demo/app:1.0", plain_tap.host());
    let started = Instant::now();
    submit_reference(&browser, &reference);
    let proxied = assert_shows_demo(&browser, started, &plain_layers, true);
    let seen = plain_tap.take();
    assert!(
        seen.iter()
            .any(|r| !r.from_browser && r.path.contains("/blobs/")),
        "the proxy fetched the blobs: {seen:?}"
    );
    assert_eq!(
        session_route(&browser, &plain_tap.host()),
        json!("\"proxy\"")
    );
    let proxied_counts = count_by_kind(&seen, &config);
    print_counts(
        "proxied, first open (one blocked direct try)",
        &proxied_counts,
    );

    // A second open in the same tab remembers the proxy: no direct attempt, no probe.
    let started = Instant::now();
    browser.execute("location.hash = '#/'; return null;");
    browser.open(&format!("{}#/image/{reference}", served.url));
    let proxied_again = assert_shows_demo(&browser, started, &plain_layers, true);
    let again_counts = count_by_kind(&plain_tap.take(), &config);
    print_counts("proxied, route remembered", &again_counts);
    assert_eq!(
        again_counts.get("ping GET"),
        None,
        "no proxy probe once the route is known"
    );

    println!(
        "time to first layer row: direct {:?}, proxied {:?} (remembered {:?})",
        direct.first_layer_row, proxied.first_layer_row, proxied_again.first_layer_row
    );
    println!(
        "time to all layers: direct {:?}, proxied {:?} (remembered {:?})",
        direct.all_layers, proxied.all_layers, proxied_again.all_layers
    );
}

#[test]
fn the_fragment_restores_the_image_in_a_fresh_browser() {
    let server = LayerscopeServer::start();
    let registry = Registry::start(RegistryConfig::plain().with_cors(&server.origin()));
    push_archive(&demo_source(), &registry, "demo/app:1.0");
    let browser = Browser::start();
    let started = Instant::now();
    browser.open(&format!(
        "{}#/image/{}/demo/app:1.0",
        server.url,
        registry.host()
    ));
    assert_shows_demo(
        &browser,
        started,
        &layer_digests_of(&registry, "demo/app", "1.0"),
        false,
    );
    let value = browser.execute(&format!(
        "return document.querySelector({}).value;",
        json!("[data-testid=\"ref-input\"]")
    ));
    assert_eq!(value, json!(format!("{}/demo/app:1.0", registry.host())));
}

#[test]
fn an_htpasswd_registry_asks_for_a_login_and_then_shows_the_image() {
    // Distribution answers an unauthenticated CORS preflight with 401, so a browser can never
    // send a login to an htpasswd registry directly: the page goes through the proxy.
    let registry = Registry::start(RegistryConfig::plain().with_htpasswd(USER, PASSWORD));
    push_archive(&demo_source(), &registry, "demo/app:1.0");
    let server = serve_with_insecure(&[registry.host()]);
    let browser = Browser::start();
    browser.open(&server.url);
    submit_reference(&browser, &format!("{}/demo/app:1.0", registry.host()));
    let form = browser.wait_for_testid("login-form", OPEN_TIMEOUT);
    let text = browser.webdriver().element_text(&form).unwrap();
    assert!(
        text.contains(&format!(
            "This repository needs a login for {}.",
            registry.host()
        )),
        "{text:?}"
    );
    screenshot(&browser, "page-registry-login.png");

    // A wrong password first: the form says so and stays.
    let type_into = |testid: &str, value: &str| {
        let input = browser.wait_for_testid(testid, OPEN_TIMEOUT);
        browser.webdriver().send_keys(&input, value).unwrap();
    };
    type_into("login-username", USER);
    type_into("login-password", "wrong");
    browser
        .webdriver()
        .click(&browser.wait_for_testid("login-submit", OPEN_TIMEOUT))
        .unwrap();
    browser.wait_for_testid("login-refused", OPEN_TIMEOUT);

    let username = browser.wait_for_testid("login-username", OPEN_TIMEOUT);
    browser
        .webdriver()
        .execute(
            "arguments[0].value = '';",
            vec![json!({"element-6066-11e4-a52e-4f735fa4b4ff": username.0})],
        )
        .unwrap();
    type_into("login-username", USER);
    type_into("login-password", PASSWORD);
    let started = Instant::now();
    browser
        .webdriver()
        .click(&browser.wait_for_testid("login-submit", OPEN_TIMEOUT))
        .unwrap();
    assert_shows_demo(
        &browser,
        started,
        &layer_digests_of(&registry, "demo/app", "1.0"),
        true,
    );
    assert!(browser.find_testid("login-form").is_empty());
    screenshot(&browser, "page-registry-image.png");

    // Not remembered: nothing in sessionStorage, nothing in the URL.
    let stored = browser.execute("return JSON.stringify(sessionStorage);");
    assert!(
        !stored.as_str().unwrap_or_default().contains(PASSWORD),
        "{stored}"
    );
    let url = browser.webdriver().current_url().unwrap();
    assert!(!url.contains(PASSWORD) && !url.contains(USER), "{url}");
}

#[test]
fn neither_direct_nor_proxy_says_what_to_do() {
    // A registry without CORS, and a page server that refuses to proxy loopback.
    let server = LayerscopeServer::start();
    let registry = Registry::start(RegistryConfig::plain());
    push_archive(&demo_source(), &registry, "demo/app:1.0");
    let browser = Browser::start();
    browser.open(&server.url);
    submit_reference(&browser, &format!("{}/demo/app:1.0", registry.host()));
    let error = browser.wait_for_testid("error", OPEN_TIMEOUT);
    let text = browser.webdriver().element_text(&error).unwrap();
    assert!(
        text.contains(&format!(
            "{} does not let web pages read it directly",
            registry.host()
        )),
        "{text:?}"
    );
    assert!(text.contains("./proxy/"), "{text:?}");

    // No proxy at all: a plain static server of the same page.
    let static_server = StaticServer::start(&dist_dir());
    let browser = Browser::start();
    browser.open(&static_server.url);
    submit_reference(&browser, &format!("{}/demo/app:1.0", registry.host()));
    let error = browser.wait_for_testid("error", OPEN_TIMEOUT);
    let text = browser.webdriver().element_text(&error).unwrap();
    assert!(
        text.contains(&format!(
            "{} does not let web pages read it directly (or this browser cannot reach it), and no layerscope proxy answered at ./proxy/. Run `layerscope serve` and open the page it serves, or set a proxy URL in the settings.",
            registry.host()
        )),
        "{text:?}"
    );
    screenshot(&browser, "page-registry-unreachable.png");

    // A proxy URL in the settings where nothing listens: the message names it.
    let nowhere = format!("http://127.0.0.1:{}/proxy/", layerscope_e2e::free_port());
    open_settings(&browser);
    let field = browser.wait_for_testid("settings-proxy", OPEN_TIMEOUT);
    browser.webdriver().send_keys(&field, &nowhere).unwrap();
    browser
        .webdriver()
        .click(&browser.wait_for_testid("settings-proxy-save", OPEN_TIMEOUT))
        .unwrap();
    browser
        .webdriver()
        .click(&browser.wait_for_testid("settings-close", OPEN_TIMEOUT))
        .unwrap();
    browser.execute("location.hash = '#/'; return null;");
    browser.open(&format!(
        "{}#/image/{}/demo/app:2.0",
        static_server.url,
        registry.host()
    ));
    let deadline = Instant::now() + OPEN_TIMEOUT;
    let text = loop {
        let text = browser
            .find_testid("error")
            .first()
            .map(|error| browser.webdriver().element_text(error).unwrap_or_default())
            .unwrap_or_default();
        if text.contains("demo/app:2.0") {
            break text;
        }
        assert!(Instant::now() < deadline, "no error for 2.0: {text:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        text.contains(&format!(
            "and no layerscope proxy answered at {nowhere}. Check the proxy URL in the settings"
        )),
        "{text:?}"
    );
}

/// A static file server (Python's) of `dir`, which has no proxy.
struct StaticServer {
    url: String,
    _guard: ChildGuard,
}

impl StaticServer {
    fn start(dir: &Path) -> StaticServer {
        let port = layerscope_e2e::free_port();
        let mut command = Command::new("python3");
        command
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut guard = ChildGuard::spawn("python3 -m http.server", command);
        guard.wait_for_port(port, Duration::from_secs(20));
        StaticServer {
            url: format!("http://127.0.0.1:{port}/"),
            _guard: guard,
        }
    }
}

fn screenshot(browser: &Browser, name: &str) {
    let dir = std::env::var_os("LAYERSCOPE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let png = browser.webdriver().screenshot_png().unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

#[test]
fn a_multi_arch_index_lists_its_platforms_and_a_row_opens_another() {
    let server = LayerscopeServer::start();
    let registry = Registry::start(RegistryConfig::plain().with_cors(&server.origin()));
    push_multi_arch(&registry, "multi/app:1");
    let reference = format!("{}/multi/app:1", registry.host());
    let browser = Browser::start();
    browser.open(&format!("{}#/image/{reference}", server.url));

    let history_names = |wanted: &str| {
        let deadline = Instant::now() + OPEN_TIMEOUT;
        loop {
            let rows = browser.find_testid("history-row");
            let text = rows
                .first()
                .map(|row| browser.webdriver().element_text(row).unwrap_or_default())
                .unwrap_or_default();
            if text.contains(wanted) && browser.find_testid("progress").is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "history never showed {wanted:?} (last {text:?}); console: {}",
                describe_log(&browser.console_log())
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // Chromium here runs on amd64 (or says nothing better): linux/amd64 first.
    browser.show_tab("history", OPEN_TIMEOUT);
    history_names("ADD amd64.txt /");
    // The platforms are listed in the Tags tab (the header has a picker too).
    browser.show_tab("tags", OPEN_TIMEOUT);
    let rows = browser.find_testid("platform-row");
    assert_eq!(rows.len(), 2, "two platforms, the attestation left out");
    let platforms: Vec<String> = rows
        .iter()
        .map(|row| {
            browser
                .webdriver()
                .element_attribute(row, "data-platform")
                .unwrap()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    let index = registry.get_with_headers(
        "/v2/multi/app/manifests/1",
        false,
        &[("Accept", "application/vnd.oci.image.index.v1+json")],
    );
    let index: Value = serde_json::from_str(&index.body).unwrap();
    let arm_digest = index["manifests"][1]["digest"].as_str().unwrap();
    let arm_text = browser.webdriver().element_text(&rows[1]).unwrap();
    let short = &arm_digest["sha256:".len().."sha256:".len() + 12];
    assert!(
        arm_text.contains("arm64") && arm_text.contains("v8") && arm_text.contains(short),
        "{arm_text:?} names linux/arm64/v8 and {short}"
    );

    let choice = browser.wait_for_testid("platform-choice", OPEN_TIMEOUT);
    browser.webdriver().click(&choice).unwrap();
    // A row opens that platform like a link to it: on the Files tab.
    let wanted = json!(format!("#/image/{reference}?platform=linux/arm64/v8"));
    let deadline = Instant::now() + OPEN_TIMEOUT;
    while browser.execute("return location.hash;") != wanted {
        assert!(
            Instant::now() < deadline,
            "the fragment never named linux/arm64/v8"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    browser.show_tab("history", OPEN_TIMEOUT);
    history_names("ADD arm64.txt /");
    browser.show_tab("tags", OPEN_TIMEOUT);
    assert_eq!(browser.find_testid("platform-row").len(), 2);
    screenshot(&browser, "page-registry-platforms.png");
}

#[test]
fn cancel_stops_the_downloads() {
    let server = LayerscopeServer::start();
    let registry = Registry::start(RegistryConfig::plain().with_cors(&server.origin()));
    push_archive(&demo_source(), &registry, "demo/app:1.0");
    // 128 B every 20 ms a connection: the bottom layer (8 kB packed) alone takes over a
    // second, also with the layers fetched in parallel by the scan workers.
    let tap = Tap::start_slow(registry.port, Some((128, Duration::from_millis(20))));
    let browser = Browser::start();
    browser.open(&format!(
        "{}#/image/{}/demo/app:1.0",
        server.url,
        tap.host()
    ));
    let deadline = Instant::now() + OPEN_TIMEOUT;
    // Wait until a layer streams: its GET went out and the progress names the layer (the bar
    // is laid out anew, cancel button included, when the first progress arrives).
    let mut blob_requested = false;
    loop {
        blob_requested |= tap
            .take()
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("/blobs/"));
        let layer_shown = browser
            .execute(
                "const p = document.querySelector('[data-testid=\"progress\"] .layer'); \
                 return p ? p.textContent : null;",
            )
            .as_str()
            .is_some_and(|text| text.starts_with("layer "));
        if blob_requested && layer_shown {
            break;
        }
        assert!(Instant::now() < deadline, "no layer download started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    // The header can be laid out anew between finding the button and clicking it (a
    // layer's row arriving): find it again then.
    while let Err(error) = browser
        .webdriver()
        .click(&browser.wait_for_testid("cancel", OPEN_TIMEOUT))
    {
        assert!(
            error.error == "stale element reference" && Instant::now() < deadline,
            "clicking cancel: {error}"
        );
    }
    let error = browser.testid_text("error");
    assert!(error.starts_with("Stopped reading"), "{error:?}");
    std::thread::sleep(Duration::from_millis(300));
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
    assert!(browser.find_testid("progress").is_empty());
}

#[test]
fn a_token_registry_behind_the_proxy_takes_a_login_through_proxy_token() {
    let issuer = TokenIssuer::start(TokenPolicy {
        accounts: vec![(USER.to_string(), PASSWORD.to_string())],
        grants: vec![Grant::user(USER, "demo/app", &["pull", "push"])],
    });
    let registry = Registry::start(
        RegistryConfig::plain()
            .with_token(&issuer)
            .with_credentials(USER, PASSWORD),
    );
    push_archive(&demo_source(), &registry, "demo/app:1.0");
    let issuer_host = issuer
        .realm()
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    let server = serve_with_insecure(&[registry.host(), issuer_host]);
    let browser = Browser::start();
    browser.open(&format!(
        "{}#/image/{}/demo/app:1.0",
        server.url,
        registry.host()
    ));
    browser.wait_for_testid("login-form", OPEN_TIMEOUT);
    let type_into = |testid: &str, value: &str| {
        let input = browser.wait_for_testid(testid, OPEN_TIMEOUT);
        browser.webdriver().send_keys(&input, value).unwrap();
    };
    type_into("login-username", USER);
    type_into("login-password", PASSWORD);
    browser
        .webdriver()
        .click(&browser.wait_for_testid("login-remember", OPEN_TIMEOUT))
        .unwrap();
    let started = Instant::now();
    browser
        .webdriver()
        .click(&browser.wait_for_testid("login-submit", OPEN_TIMEOUT))
        .unwrap();
    let token = issuer
        .request_token("repository:demo/app:pull", Some((USER, PASSWORD)))
        .unwrap();
    let layers = digests_in(&manifest_with(&registry, "demo/app", "1.0", Some(&token)));
    assert_shows_demo(&browser, started, &layers, true);
    // Remembered in this tab, as asked; never in the URL.
    let stored = browser.execute(&format!(
        "return sessionStorage.getItem({});",
        json!(format!("layerscope.login.{}", registry.host()))
    ));
    assert!(
        stored.as_str().unwrap_or_default().contains(USER),
        "{stored}"
    );
    assert!(!browser
        .webdriver()
        .current_url()
        .unwrap()
        .contains(PASSWORD));

    // The settings list the login by user name, never the password, and forget it.
    open_settings(&browser);
    let logins = browser.find_testid("settings-login");
    assert_eq!(logins.len(), 1);
    let row = browser.webdriver().element_text(&logins[0]).unwrap();
    assert!(
        row.contains(&registry.host()) && row.contains(&format!("as {USER}")),
        "{row:?}"
    );
    let panel = browser.testid_text("settings");
    assert!(!panel.contains(PASSWORD), "{panel:?}");
    screenshot(&browser, "page-registry-settings.png");
    browser
        .webdriver()
        .click(&browser.wait_for_testid("settings-forget", OPEN_TIMEOUT))
        .unwrap();
    browser.wait_for_testid("settings-no-logins", OPEN_TIMEOUT);
    assert!(browser.find_testid("settings-login").is_empty());
    let stored = browser.execute(&format!(
        "return sessionStorage.getItem({});",
        json!(format!("layerscope.login.{}", registry.host()))
    ));
    assert_eq!(stored, Value::Null, "forgotten in sessionStorage too");
    // Forgotten for real: opening the image again asks for the login.
    browser.execute("location.hash = '#/'; return null;");
    browser.open(&format!(
        "{}#/image/{}/demo/app:1.0",
        server.url,
        registry.host()
    ));
    browser.wait_for_testid("login-form", OPEN_TIMEOUT);

    // The theme: forced dark, forced light, then the system's again.
    open_settings(&browser);
    let background = || browser.execute("return getComputedStyle(document.body).backgroundColor;");
    let theme = || browser.execute("return document.documentElement.dataset.theme || null;");
    browser
        .webdriver()
        .click(&browser.wait_for_testid("theme-dark", OPEN_TIMEOUT))
        .unwrap();
    assert_eq!(theme(), json!("dark"));
    assert_eq!(background(), json!("rgb(21, 24, 29)"));
    screenshot(&browser, "page-registry-settings-dark.png");
    browser
        .webdriver()
        .click(&browser.wait_for_testid("theme-light", OPEN_TIMEOUT))
        .unwrap();
    assert_eq!(theme(), json!("light"));
    assert_eq!(background(), json!("rgb(255, 255, 255)"));
    // Remembered for the next visit (read once the app has started: the load event does not
    // wait for the wasm).
    browser.open(&server.url);
    browser.wait_for_testid("ref-input", OPEN_TIMEOUT);
    assert_eq!(theme(), json!("light"));
    open_settings(&browser);
    browser
        .webdriver()
        .click(&browser.wait_for_testid("theme-system", OPEN_TIMEOUT))
        .unwrap();
    assert_eq!(theme(), Value::Null);
}

#[test]
fn the_tag_list_opens_another_tag() {
    let server = LayerscopeServer::start();
    let registry = Registry::start(RegistryConfig::plain().with_cors(&server.origin()));
    push_archive(&demo_source(), &registry, "demo/app:1.0");
    push_archive(&demo_source(), &registry, "demo/app:2.0");
    let layers = layer_digests_of(&registry, "demo/app", "1.0");
    let browser = Browser::start();
    let started = Instant::now();
    browser.open(&format!(
        "{}#/image/{}/demo/app:1.0",
        server.url,
        registry.host()
    ));
    assert_shows_demo(&browser, started, &layers, false);
    browser.show_tab("tags", OPEN_TIMEOUT);
    // Both tags name one manifest: one row, the shown image's.
    let groups = wait_for_tag_groups(&browser, "1.0 and 2.0 in one row", |groups| {
        groups.len() == 1 && groups[0]["names"].as_array().unwrap().len() == 2
    });
    let mut sorted: Vec<&str> = groups[0]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    sorted.sort();
    assert_eq!(sorted, ["1.0", "2.0"]);
    assert_eq!(groups[0]["current"], json!("true"));
    let other = browser
        .find_testid("tag-name")
        .into_iter()
        .find(|button| browser.webdriver().element_text(button).unwrap() == "2.0")
        .unwrap();
    let started = Instant::now();
    browser.webdriver().click(&other).unwrap();
    let deadline = Instant::now() + OPEN_TIMEOUT;
    while browser.execute("return location.hash;")
        != json!(format!("#/image/{}/demo/app:2.0", registry.host()))
    {
        assert!(Instant::now() < deadline, "the fragment never named 2.0");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_shows_demo(&browser, started, &layers, false);
    let summary = browser.testid_text("image-summary");
    assert!(summary.contains("demo/app:2.0"), "{summary:?}");
    screenshot(&browser, "page-registry-tags.png");
}

/// The tag list's rows as the page shows them: `[{current, names, digest}]`.
fn tag_groups(browser: &Browser) -> Vec<Value> {
    let groups = browser.execute(
        r#"return [...document.querySelectorAll('[data-testid="tag-row"]')].map(row => ({
            current: row.dataset.current,
            names: [...row.querySelectorAll('[data-testid="tag-name"]')].map(b => b.textContent),
            digest: (row.querySelector('[data-testid="tag-digest"]') || {}).title || null,
        }));"#,
    );
    groups.as_array().cloned().unwrap_or_default()
}

/// Waits until the tag rows satisfy `done` and returns them.
fn wait_for_tag_groups(
    browser: &Browser,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        let groups = tag_groups(browser);
        if done(&groups) {
            return groups;
        }
        assert!(
            Instant::now() < deadline,
            "the tag list never showed {what}: {groups:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The names in a tag row, sorted.
fn row_names(group: &Value) -> Vec<String> {
    let mut names: Vec<String> = group["names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|name| name.as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Every tag name shown, in row order.
fn shown_names(groups: &[Value]) -> Vec<String> {
    groups.iter().flat_map(row_names).collect()
}

#[test]
fn more_tags_than_one_page_come_page_by_page_and_one_digest_shares_a_row() {
    let server = LayerscopeServer::start();
    let registry = Registry::start(RegistryConfig::plain().with_cors(&server.origin()));
    // Twelve tags: t01 (the one opened) and t07 are one image, the ten others ten more.
    let mut digests = BTreeMap::new();
    for n in 1..=12 {
        let tag = format!("t{n:02}");
        let content = if n == 7 {
            "t01".to_string()
        } else {
            tag.clone()
        };
        let pushed = push_small_image(&registry, &format!("paged/app:{tag}"), &content);
        digests.insert(tag, pushed.digest);
    }
    assert_eq!(digests["t01"], digests["t07"]);
    let distinct: std::collections::BTreeSet<&String> = digests.values().collect();
    assert_eq!(distinct.len(), 11);
    // Distribution 2.8 answers the whole list whatever `n` says, in its storage's order (not
    // sorted): the page must page it, in that order.
    let all = registry.get("/v2/paged/app/tags/list?n=5", false);
    let listed: Value = serde_json::from_str(&all.body).unwrap();
    let order: Vec<String> = listed["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("no tags in {}", all.body))
        .iter()
        .map(|tag| tag.as_str().unwrap().to_string())
        .collect();
    assert_eq!(order.len(), 12, "one answer holds every tag: {}", all.body);

    let tap = Tap::start(registry.port);
    let browser = Browser::start();
    let base = server.url.trim_end_matches('/');
    browser.open(&format!(
        "{base}/?tags-per-page=5#/image/{}/paged/app:t01",
        tap.host()
    ));
    // The tag list is in its tab.
    browser.show_tab("tags", OPEN_TIMEOUT);
    // Pages of five, five and two, in the registry's order.
    for shown_count in [5, 10, 12] {
        if shown_count > 5 {
            browser
                .webdriver()
                .click(&browser.wait_for_testid("more-tags", OPEN_TIMEOUT))
                .unwrap();
        }
        let groups = wait_for_tag_groups(
            &browser,
            &format!("{shown_count} tags, each with its digest"),
            |groups| {
                shown_names(groups).len() == shown_count
                    && groups.iter().all(|group| group["digest"].is_string())
            },
        );
        let mut expected: Vec<String> = order[..shown_count].to_vec();
        expected.sort();
        let mut names = shown_names(&groups);
        names.sort();
        assert_eq!(names, expected, "page by page in the registry's order");
        // One row per digest: every name in a row has the row's digest.
        let shown_digests: std::collections::BTreeSet<&String> =
            expected.iter().map(|tag| &digests[tag]).collect();
        assert_eq!(groups.len(), shown_digests.len(), "{groups:?}");
        for group in &groups {
            for name in row_names(group) {
                assert_eq!(group["digest"], json!(digests[&name]), "{name}: {group}");
            }
            let current = row_names(group).contains(&"t01".to_string());
            assert_eq!(group["current"], json!(current.to_string()), "{group}");
        }
        if expected.contains(&"t01".to_string()) && expected.contains(&"t07".to_string()) {
            assert!(
                groups
                    .iter()
                    .any(|group| row_names(group) == ["t01", "t07"]),
                "t01 and t07 share a row: {groups:?}"
            );
        }
        let more = shown_count < 12;
        // textContent: the style shows headings in capitals.
        assert_eq!(
            browser.execute(
                "return document.querySelector('[data-testid=\"tags-heading\"]').textContent;"
            ),
            json!(format!(
                "Tags ({shown_count}{})",
                if more { "+" } else { "" }
            ))
        );
        if !more {
            assert!(
                browser.find_testid("more-tags").is_empty(),
                "every tag is shown, yet more are offered"
            );
        }
    }
    assert_eq!(tag_groups(&browser).len(), 11);

    // The registry was asked for the list once: the later pages came from the held tags.
    let lists: Vec<Seen> = tap
        .take()
        .into_iter()
        .filter(|request| request.method == "GET" && request.path.contains("/tags/list"))
        .collect();
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert!(lists[0].path.ends_with("/tags/list?n=5"), "{lists:?}");
    screenshot(&browser, "page-registry-tag-pages.png");
}

/// Opens the settings with the gear (unless they are open) and returns the panel.
fn open_settings(browser: &Browser) {
    if browser.find_testid("settings").is_empty() {
        browser
            .webdriver()
            .click(&browser.wait_for_testid("settings-open", OPEN_TIMEOUT))
            .unwrap();
    }
    browser.wait_for_testid("settings", OPEN_TIMEOUT);
}

#[test]
fn a_proxy_url_from_the_settings_is_used_for_a_registry_without_cors() {
    // The page comes from a plain static server (no proxy); a registry without CORS; and a
    // second `layerscope serve` elsewhere, allowing the page's origin, as the settings' proxy.
    let static_server = StaticServer::start(&dist_dir());
    let page_origin = static_server.url.trim_end_matches('/').to_string();
    let registry = Registry::start(RegistryConfig::plain());
    push_archive(&demo_source(), &registry, "demo/app:1.0");
    let layers = layer_digests_of(&registry, "demo/app", "1.0");
    let config = config_digest_of(&registry, "demo/app", "1.0");
    let proxy_server = LayerscopeServer::start_with_flags(&[
        "--insecure-registry".into(),
        registry.host(),
        "--allow-origin".into(),
        page_origin.clone(),
    ]);
    // A tap in front of the proxy server counts what the browser asks it.
    let proxy_tap = Tap::start(proxy_server.port);
    let proxy_url = format!("http://{}/proxy/", proxy_tap.host());

    let browser = Browser::start();
    browser.open(&static_server.url);
    open_settings(&browser);
    assert_eq!(
        browser.testid_text("settings-proxy-current"),
        "In use: ./proxy/ (this page's own server)"
    );
    let field = browser.wait_for_testid("settings-proxy", OPEN_TIMEOUT);
    // A URL that is not one is refused in words, and nothing is kept.
    browser.webdriver().send_keys(&field, "proxy here").unwrap();
    browser
        .webdriver()
        .click(&browser.wait_for_testid("settings-proxy-save", OPEN_TIMEOUT))
        .unwrap();
    let refusal = browser.testid_text("settings-proxy-error");
    assert!(refusal.contains("is not a proxy URL"), "{refusal:?}");
    assert_eq!(
        browser.execute("return sessionStorage.getItem('layerscope.proxy');"),
        Value::Null
    );
    browser
        .webdriver()
        .execute(
            "arguments[0].value = '';",
            vec![json!({"element-6066-11e4-a52e-4f735fa4b4ff": field.0})],
        )
        .unwrap();
    // Given as the server's root, kept as the proxy's own URL.
    browser
        .webdriver()
        .send_keys(&field, &format!("http://{}", proxy_tap.host()))
        .unwrap();
    browser
        .webdriver()
        .click(&browser.wait_for_testid("settings-proxy-save", OPEN_TIMEOUT))
        .unwrap();
    assert!(browser.find_testid("settings-proxy-error").is_empty());
    assert_eq!(
        browser.testid_text("settings-proxy-current"),
        format!("In use: {proxy_url}")
    );
    assert_eq!(
        browser.execute("return sessionStorage.getItem('layerscope.proxy');"),
        json!(proxy_url)
    );
    screenshot(&browser, "page-registry-settings-proxy.png");
    browser
        .webdriver()
        .click(&browser.wait_for_testid("settings-close", OPEN_TIMEOUT))
        .unwrap();
    assert!(browser.find_testid("settings").is_empty());

    proxy_tap.take();
    let started = Instant::now();
    submit_reference(&browser, &format!("{}/demo/app:1.0", registry.host()));
    let timings = assert_shows_demo(&browser, started, &layers, true);
    let note = browser.testid_text("route-note");
    assert_eq!(
        note,
        format!(
            "{} does not let web pages read it directly, so layerscope goes through the proxy at {proxy_url} (set in the settings).",
            registry.host()
        )
    );
    screenshot(&browser, "page-registry-route-note.png");
    // Everything of the image came through the second server.
    let seen = proxy_tap.take();
    let counts = count_by_kind(&seen, &config);
    print_counts("proxy from the settings", &counts);
    for layer in &layers {
        assert!(
            seen.iter().any(|r| r.method == "GET"
                && r.path == format!("/proxy/{}/v2/demo/app/blobs/{layer}", registry.host())),
            "layer {layer} did not come through the settings' proxy: {seen:?}"
        );
    }
    assert_eq!(counts.get("ping GET"), Some(&1), "one probe: {counts:?}");
    assert!(counts.get("config GET").is_some(), "{counts:?}");
    assert!(
        seen.iter().all(|r| r.from_browser),
        "every request at the proxy came from the page (across origins): {seen:?}"
    );
    println!(
        "settings' proxy: first layer row {:?}, all layers {:?}",
        timings.first_layer_row, timings.all_layers
    );

    // The setting stays with the tab: a reload still uses it.
    browser.open(&static_server.url);
    open_settings(&browser);
    assert_eq!(
        browser.testid_text("settings-proxy-current"),
        format!("In use: {proxy_url}")
    );
}
