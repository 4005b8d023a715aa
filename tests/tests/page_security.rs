//! The page's security in real Chromium: its Content-Security-Policy holds on every tab (no
//! violation reported) for the demo, a dropped archive and a registry image, served by
//! `layerscope serve` (the policy as a header) and by a plain static server under a sub-path
//! (the policy as the built page's `<meta>`); untrusted text from an archive (a file name, a
//! label, a history command) shows as text and runs nothing; a registry login leaves its
//! password and token nowhere the page keeps or shows text.
//!
//! Violations are collected from the first moment of the document: a script given to
//! Chromium with `Page.addScriptToEvaluateOnNewDocument` (which the policy does not govern)
//! listens for `securitypolicyviolation`. Workers have no document; a policy that blocked one
//! would stop the scan, which every test here waits to see finish.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use layerscope_e2e::browser::describe_log;
use layerscope_e2e::encoding::base64_standard;
use layerscope_e2e::{
    dist_dir, push_archive, repo_root, Browser, ChildGuard, Grant, LayerscopeServer, Registry,
    RegistryConfig, TempDir, TokenIssuer, TokenPolicy,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const OPEN_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(30);
const USER: &str = "layerscope-user";
const PASSWORD: &str = "pa55-Secret-9q";

/// Markup in a label, an environment variable, a command and the history; run, it would set
/// `window.__pwned`.
const HOSTILE: &str = r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"#;
/// Markup as a file name (a name has no `/`).
const HOSTILE_NAME: &str = r#"<img src=x onerror="window.__pwned=3">"#;

/// Installed before any of the page's own scripts: records every CSP violation the document
/// sees, with what was blocked and where.
const VIOLATION_RECORDER: &str = r#"
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push({
    directive: event.violatedDirective, blocked: event.blockedURI,
    source: event.sourceFile, line: event.lineNumber, sample: event.sample,
  });
}, true);
"#;

fn demo() -> PathBuf {
    repo_root().join("static/demo/layerscope-demo.tar")
}

/// A browser whose every document records its CSP violations from its start.
fn recording_browser() -> Browser {
    let browser = Browser::start();
    browser
        .webdriver()
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": VIOLATION_RECORDER }),
        )
        .expect("install the violation recorder");
    browser
}

fn violations(browser: &Browser) -> Vec<Value> {
    match browser.execute("return window.__cspViolations || null;") {
        Value::Array(entries) => entries,
        other => panic!("the violation recorder is not installed: {other}"),
    }
}

fn assert_no_violations(browser: &Browser, what: &str) {
    let found = violations(browser);
    assert!(found.is_empty(), "{what}: CSP violations: {found:#?}");
    let policy_errors: Vec<_> = browser
        .console_log()
        .into_iter()
        .filter(|entry| entry.message.contains("Content Security Policy"))
        .collect();
    assert!(
        policy_errors.is_empty(),
        "{what}: {}",
        describe_log(&policy_errors)
    );
}

/// Proves the recorder and the policies are live: an inline script added now is refused, is
/// reported once by each of the document's `policies` (the header's and the `<meta>`'s
/// when `layerscope serve` sends the page), and does not run.
fn assert_inline_script_is_refused(browser: &Browser, policies: usize) {
    let before = violations(browser).len();
    browser.execute(
        "const s = document.createElement('script'); s.textContent = 'window.__inlineRan = 1'; \
         document.head.append(s); return null;",
    );
    let deadline = Instant::now() + OPEN_TIMEOUT;
    while violations(browser).len() < before + policies {
        assert!(
            Instant::now() < deadline,
            "no violation for an inline script"
        );
        std::thread::sleep(POLL);
    }
    let found = violations(browser);
    assert_eq!(found.len(), before + policies, "{found:#?}");
    for violation in &found[before..] {
        let directive = violation["directive"].as_str().unwrap_or_default();
        assert!(directive.starts_with("script-src"), "{found:#?}");
        assert_eq!(violation["blocked"], json!("inline"), "{found:#?}");
    }
    assert_eq!(
        browser.execute("return window.__inlineRan === undefined;"),
        json!(true)
    );
}

fn text_of(browser: &Browser, testid: &str) -> String {
    browser
        .find_testid(testid)
        .first()
        .map(|element| {
            browser
                .webdriver()
                .element_text(element)
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

fn wait_until(browser: &Browser, what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    while !check() {
        let error = text_of(browser, "error");
        assert!(
            error.is_empty(),
            "waiting for {what}, the page shows: {error}"
        );
        if Instant::now() > deadline {
            let shot = browser.save_screenshot("security-failure.png");
            panic!(
                "{what} never happened within {OPEN_TIMEOUT:?} (screenshot {}); console: {}",
                shot.display(),
                describe_log(&browser.console_log())
            );
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until `layers` layer rows are read and every digest is verified.
fn wait_for_image(browser: &Browser, summary: &str, layers: usize) {
    wait_until(
        browser,
        &format!("{summary} with {layers} layers verified"),
        || {
            browser.find_testid("progress").is_empty()
                && browser.find_testid("layer-row").len() == layers
                && text_of(browser, "image-summary").contains(summary)
                && text_of(browser, "verify-status").starts_with("verified")
        },
    );
}

/// Shows every tab the image has, waiting for each panel, and returns each panel's text.
fn visit_every_tab(browser: &Browser, with_tags: bool) -> Vec<(String, String)> {
    let mut tabs = vec!["files", "history", "config", "inspect", "efficiency"];
    if with_tags {
        tabs.push("tags");
    }
    tabs.into_iter()
        .map(|tab| {
            browser.show_tab(tab, OPEN_TIMEOUT);
            let panel = format!("tab-panel-{tab}");
            (tab.to_string(), text_of(browser, &panel))
        })
        .collect()
}

/// A `docker save` archive `hostile/image:1` of two layers: the second overwrites a file
/// named [`HOSTILE_NAME`] (so it is also in the wasted-space list), and the config carries
/// [`HOSTILE`] in a label, the environment, the command and the history.
fn write_hostile_archive(path: &Path) {
    let layer = |content: &[u8]| {
        let mut builder = tar::Builder::new(Vec::new());
        for name in [HOSTILE_NAME, "etc/motd"] {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(1_700_000_000);
            header.set_cksum();
            builder.append_data(&mut header, name, content).unwrap();
        }
        builder.into_inner().unwrap()
    };
    let layers = [layer(b"<b>first</b>\n"), layer(b"<b>second, longer</b>\n")];
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|layer| format!("sha256:{:x}", Sha256::digest(layer)))
        .collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
        "config": {
            "Labels": { "title": HOSTILE, HOSTILE_NAME: "key" },
            "Env": [format!("NOTE={HOSTILE}")],
            "Cmd": ["sh", "-c", HOSTILE],
        },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": [
            { "created": "2024-01-02T03:04:05Z", "created_by": format!("/bin/sh -c echo '{HOSTILE}' > /x") },
            { "created": "2024-01-02T03:04:06Z", "created_by": format!("/bin/sh -c #(nop) LABEL title={HOSTILE}") },
        ],
    }))
    .unwrap();
    let config_name = format!("{:x}.json", Sha256::digest(&config));
    let layer_names: Vec<String> = diff_ids
        .iter()
        .map(|id| format!("{}/layer.tar", &id[7..]))
        .collect();
    let manifest = serde_json::to_vec(&json!([
        { "Config": config_name, "RepoTags": ["hostile/image:1"], "Layers": layer_names }
    ]))
    .unwrap();
    let mut archive = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut members: Vec<(&str, &[u8])> = layer_names
        .iter()
        .map(String::as_str)
        .zip(layers.iter().map(Vec::as_slice))
        .collect();
    members.push((&config_name, &config));
    members.push(("manifest.json", &manifest));
    for (name, bytes) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(&mut header, name, bytes).unwrap();
    }
    archive.into_inner().unwrap();
}

/// Drops the hostile archive, visits every tab, and checks the markup is text everywhere.
fn open_hostile_archive_on_every_tab(browser: &Browser, dir: &Path) {
    let archive = dir.join("hostile.tar");
    write_hostile_archive(&archive);
    browser.set_file("drop-zone", &archive);
    wait_for_image(browser, "hostile/image:1", 2);
    let panels = visit_every_tab(browser, false);
    let panel = |tab: &str| {
        panels
            .iter()
            .find(|(name, _)| name == tab)
            .map(|(_, text)| text.clone())
            .unwrap_or_default()
    };
    assert!(
        panel("files").contains(HOSTILE_NAME),
        "{:?}",
        panel("files")
    );
    assert!(panel("history").contains(HOSTILE), "{:?}", panel("history"));
    assert!(panel("config").contains(HOSTILE), "{:?}", panel("config"));
    assert!(
        panel("config").contains(HOSTILE_NAME),
        "{:?}",
        panel("config")
    );
    // Inspect shows JSON: the markup with its quotes escaped, still as text.
    assert!(
        panel("inspect").contains("<img src=x onerror="),
        "{:?}",
        panel("inspect")
    );
    assert!(
        panel("efficiency").contains(HOSTILE_NAME),
        "the overwritten file in the wasted-space list: {:?}",
        panel("efficiency")
    );
    // The file viewer: the hostile name's content, markup too, as text.
    browser.show_tab("files", OPEN_TIMEOUT);
    let path = format!("/{HOSTILE_NAME}");
    let deadline = Instant::now() + OPEN_TIMEOUT;
    loop {
        let clicked = browser.execute(&format!(
            "const r = [...document.querySelectorAll('[data-testid=tree-row]')].find(r => r.dataset.path === {path:?}); \
             if (r) {{ r.click(); return true; }} return false;"
        ));
        if clicked.as_bool() == Some(true) {
            break;
        }
        assert!(Instant::now() < deadline, "no tree row for {path}");
        std::thread::sleep(POLL);
    }
    wait_until(
        browser,
        "the viewer showing the file's markup as text",
        || {
            browser
            .execute(
                "const e = document.querySelector('[data-testid=file-view] [data-testid=file-content]'); \
                 return e ? e.textContent : null;",
            )
            .as_str()
            == Some("<b>second, longer</b>\n")
        },
    );
    browser.save_screenshot("security-hostile-file-view.png");
    assert_eq!(
        browser
            .execute("return document.querySelectorAll('main img, main script, main b').length;"),
        json!(0),
        "an element was made from the archive's text"
    );
    assert_eq!(
        browser.execute("return window.__pwned === undefined;"),
        json!(true)
    );
}

/// Opens the demo from its button and visits every tab.
fn open_demo_on_every_tab(browser: &Browser) {
    let button = browser.wait_for_testid("open-demo", OPEN_TIMEOUT);
    browser.webdriver().click(&button).unwrap();
    wait_for_image(browser, "layerscope/demo:1.0", 3);
    visit_every_tab(browser, false);
}

fn console_errors_except_cors(browser: &Browser) -> Vec<layerscope_e2e::LogEntry> {
    browser
        .console_errors()
        .into_iter()
        // The page's first, direct try at a registry without CORS is refused by Chromium.
        .filter(|entry| !entry.message.contains("blocked by CORS policy"))
        .filter(|entry| !entry.message.contains("net::ERR_FAILED"))
        .collect()
}

#[test]
fn layerscope_serve_sends_the_policy_and_no_tab_violates_it() {
    let dir = TempDir::new("page-security-serve");
    let registry = Registry::start(RegistryConfig::plain());
    push_archive(
        &format!("docker-archive:{}", demo().display()),
        &registry,
        "demo/app:1.0",
    );
    let server =
        LayerscopeServer::start_with_flags(&["--insecure-registry".to_string(), registry.host()]);
    let page = layerscope_e2e::http::loopback_agent(Duration::from_secs(10))
        .get(&server.url)
        .call()
        .expect("GET the page");
    let header = page
        .headers()
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        header.contains("script-src 'self' 'wasm-unsafe-eval';")
            && header.contains("frame-ancestors 'none'"),
        "{header:?}"
    );

    let browser = recording_browser();
    browser.open(&server.url);
    browser.wait_for_testid("ref-input", OPEN_TIMEOUT);
    open_demo_on_every_tab(&browser);
    assert_no_violations(&browser, "the demo");

    browser.open("about:blank");
    browser.open(&server.url);
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    open_hostile_archive_on_every_tab(&browser, dir.path());
    browser.save_screenshot("security-serve-hostile-efficiency.png");
    assert_no_violations(&browser, "the dropped archive");

    // A registry without CORS: the page reads it through the proxy.
    browser.open("about:blank");
    browser.open(&format!(
        "{}#/image/{}/demo/app:1.0",
        server.url,
        registry.host()
    ));
    wait_for_image(&browser, "demo/app", 3);
    visit_every_tab(&browser, true);
    browser.save_screenshot("security-serve-registry-tags.png");
    assert_no_violations(&browser, "the registry image");
    let errors = console_errors_except_cors(&browser);
    assert!(errors.is_empty(), "console: {}", describe_log(&errors));

    // The header's policy and the page's <meta> both apply.
    assert_inline_script_is_refused(&browser, 2);
}

/// `python3 -m http.server` serving a directory in which the built page sits at
/// `/tools/layerscope/`; no header of its own, so only the page's `<meta>` policy applies.
struct StaticServer {
    _child: ChildGuard,
    origin: String,
    _root: TempDir,
}

impl StaticServer {
    fn start() -> StaticServer {
        let root = TempDir::new("page-security-static");
        let tools = root.path().join("tools");
        std::fs::create_dir_all(&tools).unwrap();
        std::os::unix::fs::symlink(dist_dir(), tools.join("layerscope")).unwrap();
        let port = layerscope_e2e::free_port();
        let mut command = Command::new("python3");
        command
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .current_dir(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = ChildGuard::spawn("python3 -m http.server", command);
        let origin = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the static server never listened"
            );
            std::thread::sleep(POLL);
        }
        StaticServer {
            _child: child,
            origin,
            _root: root,
        }
    }

    fn page_url(&self) -> String {
        format!("{}/tools/layerscope/", self.origin)
    }
}

#[test]
fn the_built_page_under_a_static_sub_path_keeps_its_meta_policy_on_every_tab() {
    let built = std::fs::read_to_string(dist_dir().join("index.html")).unwrap();
    assert!(
        built.contains("http-equiv=\"Content-Security-Policy\""),
        "dist/index.html has no CSP meta"
    );
    // Trunk's own loader would be an inline script; the built page needs none.
    for (index, tag) in built
        .match_indices("<script")
        .map(|(index, _)| index)
        .enumerate()
    {
        let end = built[tag..].find('>').unwrap() + tag;
        assert!(
            built[tag..end].contains(" src="),
            "script {index} of dist/index.html is inline: {}",
            &built[tag..(end + 80).min(built.len())]
        );
    }

    let dir = TempDir::new("page-security-static-archive");
    let server = StaticServer::start();
    let registry = Registry::start(RegistryConfig::plain().with_cors(&server.origin));
    push_archive(
        &format!("docker-archive:{}", demo().display()),
        &registry,
        "demo/app:1.0",
    );
    let browser = recording_browser();
    browser.open(&server.page_url());
    browser.wait_for_testid("ref-input", OPEN_TIMEOUT);
    open_demo_on_every_tab(&browser);
    assert_no_violations(&browser, "the demo");

    browser.open("about:blank");
    browser.open(&server.page_url());
    browser.wait_for_testid("drop-zone", OPEN_TIMEOUT);
    open_hostile_archive_on_every_tab(&browser, dir.path());
    assert_no_violations(&browser, "the dropped archive");

    // A registry with CORS for this origin, read directly over plain HTTP on loopback.
    browser.open("about:blank");
    browser.open(&format!(
        "{}#/image/{}/demo/app:1.0",
        server.page_url(),
        registry.host()
    ));
    wait_for_image(&browser, "demo/app", 3);
    visit_every_tab(&browser, true);
    browser.save_screenshot("security-static-registry-tags.png");
    assert_no_violations(&browser, "the registry image");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console: {}", describe_log(&errors));

    assert_inline_script_is_refused(&browser, 1);
}

/// Everything the page keeps or shows as text: its URL, both storages, the console, and the
/// text of the document (error and login messages included).
fn kept_and_shown_text(browser: &Browser) -> String {
    let script = "return JSON.stringify({ href: location.href, local: { ...localStorage }, \
                  session: { ...sessionStorage }, text: document.body.innerText, \
                  title: document.title });";
    let page = browser
        .execute(script)
        .as_str()
        .unwrap_or_default()
        .to_string();
    let console: Vec<String> = browser
        .console_log()
        .into_iter()
        .map(|entry| entry.message)
        .collect();
    format!("{page}\n{}", console.join("\n"))
}

#[test]
fn a_login_leaves_no_password_or_token_in_the_url_storage_console_or_messages() {
    let issuer = TokenIssuer::start(TokenPolicy {
        accounts: vec![(USER.to_string(), PASSWORD.to_string())],
        grants: vec![Grant::user(USER, "demo/app", &["pull", "push"])],
    });
    let registry = Registry::start(
        RegistryConfig::plain()
            .with_token(&issuer)
            .with_credentials(USER, PASSWORD),
    );
    push_archive(
        &format!("docker-archive:{}", demo().display()),
        &registry,
        "demo/app:1.0",
    );
    let issuer_host = issuer
        .realm()
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    let server = LayerscopeServer::start_with_flags(&[
        "--insecure-registry".to_string(),
        registry.host(),
        "--insecure-registry".to_string(),
        issuer_host,
    ]);
    let browser = recording_browser();
    browser.open(&format!(
        "{}#/image/{}/demo/app:1.0",
        server.url,
        registry.host()
    ));
    let type_into = |testid: &str, value: &str| {
        let input = browser.wait_for_testid(testid, OPEN_TIMEOUT);
        browser
            .webdriver()
            .execute(
                "arguments[0].value = '';",
                vec![json!({"element-6066-11e4-a52e-4f735fa4b4ff": input.0})],
            )
            .unwrap();
        browser.webdriver().send_keys(&input, value).unwrap();
    };
    let submit = || {
        browser
            .webdriver()
            .click(&browser.wait_for_testid("login-submit", OPEN_TIMEOUT))
            .unwrap()
    };
    // A wrong password first: its refusal must not quote it either.
    const WRONG: &str = "wr0ng-Guess-77";
    browser.wait_for_testid("login-form", OPEN_TIMEOUT);
    type_into("login-username", USER);
    type_into("login-password", WRONG);
    submit();
    browser.wait_for_testid("login-refused", OPEN_TIMEOUT);
    let refused = kept_and_shown_text(&browser);
    assert!(
        !refused.contains(WRONG),
        "the wrong password is kept or shown: {refused}"
    );

    type_into("login-username", USER);
    type_into("login-password", PASSWORD);
    submit();
    wait_for_image(&browser, "demo/app", 3);
    visit_every_tab(&browser, true);
    assert_no_violations(&browser, "the login and the pull");

    let token = issuer
        .request_token("repository:demo/app:pull", Some((USER, PASSWORD)))
        .unwrap();
    // The page's token is not this one, but every token of this issuer starts with the same
    // JWT header (algorithm and certificate): a kept token would show it.
    let kept = kept_and_shown_text(&browser);
    let basic = base64_standard(format!("{USER}:{PASSWORD}").as_bytes());
    for secret in [PASSWORD, WRONG, basic.as_str()] {
        assert!(
            !kept.contains(secret),
            "{secret:?} is kept or shown: {kept}"
        );
    }
    let jwt_header = token.split('.').next().unwrap_or_default();
    assert!(
        !jwt_header.is_empty() && !kept.contains(jwt_header),
        "a bearer token is kept or shown: {kept}"
    );
    assert!(
        !kept.contains("eyJ"),
        "something JWT-like is kept or shown: {kept}"
    );
    let local = browser.execute("return localStorage.length;");
    let stored = browser.execute("return JSON.stringify({ ...localStorage });");
    assert!(
        !stored.as_str().unwrap_or_default().contains(USER),
        "localStorage holds the login ({local} keys): {stored}"
    );
}
