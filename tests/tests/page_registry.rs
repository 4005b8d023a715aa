//! The page opens images straight from a real `docker-registry` in real Chromium: directly
//! when the registry sends CORS headers, through `layerscope serve`'s proxy when it does not,
//! from the URL fragment in a fresh browser, after a login for an htpasswd registry, and with
//! a message a user can act on when neither way works.
//!
//! Worker requests are not in Chromium's performance log, so each registry here sits behind a
//! [`Tap`]: a loopback TCP relay that records every request line the registry is sent (and
//! whether it carried the browser's `Origin`), which is how the tests see where the page's
//! requests went and count them by kind.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use layerscope_e2e::browser::describe_log;
use layerscope_e2e::{
    dist_dir, layerscope_binary, push_archive, push_multi_arch, repo_root, tar_member, Browser,
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

/// A request line the tap saw.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    /// The request carried an `Origin` header (a browser's CORS request, not the proxy's).
    from_browser: bool,
}

/// A loopback relay in front of a registry that records each request it forwards.
struct Tap {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Bytes relayed from the registry to the browser.
    relayed: Arc<std::sync::atomic::AtomicU64>,
}

impl Tap {
    fn start(upstream_port: u16) -> Tap {
        Tap::start_slow(upstream_port, None)
    }

    /// A tap that relays answers `chunk` bytes at a time with a pause after each, so a pull
    /// takes long enough to be cancelled.
    fn start_slow(upstream_port: u16, pace: Option<(usize, Duration)>) -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let relayed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = relayed.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                    continue;
                };
                let log = log.clone();
                let counter = counter.clone();
                let (mut client_read, mut upstream_write) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let (mut upstream_read, mut client_write) = (upstream, client);
                std::thread::spawn(move || {
                    let (chunk, pause) = pace.unwrap_or((64 * 1024, Duration::ZERO));
                    let mut buffer = vec![0u8; chunk];
                    loop {
                        let n = match upstream_read.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if client_write.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                        counter.fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(pause);
                    }
                    let _ = client_write.shutdown(std::net::Shutdown::Both);
                });
                std::thread::spawn(move || {
                    // GET, HEAD and OPTIONS carry no bodies: requests are header blocks.
                    let mut pending = Vec::new();
                    let mut buffer = [0u8; 16 * 1024];
                    loop {
                        let n = match client_read.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        pending.extend_from_slice(&buffer[..n]);
                        while let Some(end) = find(&pending, b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&pending[..end]).to_string();
                            pending.drain(..end + 4);
                            let mut lines = head.lines();
                            let mut words = lines.next().unwrap_or_default().split(' ');
                            let method = words.next().unwrap_or_default().to_string();
                            let path = words.next().unwrap_or_default().to_string();
                            let from_browser =
                                lines.any(|line| line.to_ascii_lowercase().starts_with("origin:"));
                            log.lock().unwrap().push(Seen {
                                method,
                                path,
                                from_browser,
                            });
                        }
                        if upstream_write.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = upstream_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Tap {
            port,
            seen,
            relayed,
        }
    }

    fn relayed(&self) -> u64 {
        self.relayed.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Everything seen since the last call.
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `layerscope serve` of the built page with `--insecure-registry` hosts; killed on drop.
struct Served {
    url: String,
    _stdout: BufReader<ChildStdout>,
    _guard: ChildGuard,
}

fn serve_with_insecure(hosts: &[String]) -> Served {
    let mut command = Command::new(layerscope_binary());
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--dist"])
        .arg(dist_dir())
        .stdout(Stdio::piped());
    for host in hosts {
        command.args(["--insecure-registry", host]);
    }
    let mut guard = ChildGuard::spawn("layerscope serve", command);
    let mut stdout = BufReader::new(guard.child_mut().stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap_or(0);
    let url = banner
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    if !url.starts_with("http://127.0.0.1:") {
        guard.fail(&format!("banner {banner:?} names no loopback URL"));
    }
    Served {
        url,
        _stdout: stdout,
        _guard: guard,
    }
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

/// Requests by kind: `/v2/` pings, manifest HEAD/GET, config GET, layer HEAD/GET, preflights.
fn count_by_kind(seen: &[Seen], config_digest: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in seen {
        let path = request.path.split('?').next().unwrap_or_default();
        let kind = if request.method == "OPTIONS" {
            "preflight OPTIONS".to_string()
        } else if path == "/v2/" {
            format!("ping {}", request.method)
        } else if path.ends_with("/tags/list") {
            format!("tags {}", request.method)
        } else if path.contains("/manifests/") {
            format!("manifest {}", request.method)
        } else if path.ends_with(config_digest) {
            format!("config {}", request.method)
        } else if path.contains("/blobs/") {
            format!("layer {}", request.method)
        } else {
            format!("other {} {path}", request.method)
        };
        *counts.entry(kind).or_insert(0) += 1;
    }
    counts
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
    let line: Vec<String> = counts
        .iter()
        .map(|(kind, n)| format!("{kind}={n}"))
        .collect();
    println!("requests per open ({label}): {}", line.join(", "));
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
            "{} does not let web pages read it directly (or this browser cannot reach it), and no layerscope proxy answered at ./proxy/. Run `layerscope serve` and open the page it serves.",
            registry.host()
        )),
        "{text:?}"
    );
    screenshot(&browser, "page-registry-unreachable.png");
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
    // 1 KiB every 20 ms: the 73 kB bottom layer alone takes over a second.
    let tap = Tap::start_slow(registry.port, Some((1024, Duration::from_millis(20))));
    let browser = Browser::start();
    browser.open(&format!(
        "{}#/image/{}/demo/app:1.0",
        server.url,
        tap.host()
    ));
    let deadline = Instant::now() + OPEN_TIMEOUT;
    // Wait until a layer streams (a layer-row is marked streaming while the progress shows it).
    while !tap
        .take()
        .iter()
        .any(|r| r.method == "GET" && r.path.contains("/blobs/"))
        || browser.find_testid("cancel").is_empty()
    {
        assert!(Instant::now() < deadline, "no layer download started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    browser
        .webdriver()
        .click(&browser.wait_for_testid("cancel", OPEN_TIMEOUT))
        .unwrap();
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

#[test]
fn tags_of_one_digest_share_a_row() {
    let server = LayerscopeServer::start();
    let registry = Registry::start(RegistryConfig::plain().with_cors(&server.origin()));
    // 1.0 and latest: the demo image, one digest; multi: a multi-arch index, another.
    push_archive(&demo_source(), &registry, "demo/app:1.0");
    push_archive(&demo_source(), &registry, "demo/app:latest");
    push_multi_arch(&registry, "demo/app:multi");
    let layers = layer_digests_of(&registry, "demo/app", "1.0");
    let browser = Browser::start();
    let started = Instant::now();
    // Distribution 2.8 answers a tag list whole (it ignores `n`), so one page holds all three
    // tags and no "more tags" button may show; the paging itself follows the registry's
    // `Link` header, which the core's tests cover.
    let base = server.url.trim_end_matches('/');
    browser.open(&format!(
        "{base}/?tags-per-page=2#/image/{}/demo/app:1.0",
        registry.host()
    ));
    assert_shows_demo(&browser, started, &layers, false);
    browser.show_tab("tags", OPEN_TIMEOUT);
    let groups = wait_for_tag_groups(
        &browser,
        "1.0 and latest in one row, multi in another",
        |groups| groups.len() == 2 && groups.iter().all(|group| group["digest"].is_string()),
    );
    // In the registry's order, whichever it is.
    let names = |group: &Value| {
        let mut names: Vec<String> = group["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|name| name.as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    };
    let demo = groups
        .iter()
        .find(|group| names(group) == ["1.0", "latest"])
        .unwrap_or_else(|| panic!("no row holds 1.0 and latest: {groups:?}"));
    let multi = groups
        .iter()
        .find(|group| names(group) == ["multi"])
        .unwrap_or_else(|| panic!("no row holds multi alone: {groups:?}"));
    assert_eq!(demo["current"], json!("true"));
    assert_eq!(multi["current"], json!("false"));
    let demo_digest = demo["digest"].as_str().unwrap();
    assert!(demo_digest.starts_with("sha256:"), "{demo_digest}");
    assert_ne!(multi["digest"], demo["digest"]);
    assert!(
        browser.find_testid("more-tags").is_empty(),
        "a registry that sent no Link header still offers more tags"
    );
    screenshot(&browser, "page-registry-tag-groups.png");
}
