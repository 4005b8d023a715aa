//! `layerscope serve` as a user runs it: the real binary on a free loopback port, spoken to
//! with raw HTTP so that paths reach the server exactly as written (clients normalise `..`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use layerscope_test_support::{layerscope_binary_or, HttpReply, LayerscopeServer, TempDir};

/// The binary under test: `$LAYERSCOPE_BIN`, else this package's own build.
fn layerscope() -> PathBuf {
    layerscope_binary_or(env!("CARGO_BIN_EXE_layerscope"))
}

/// A page directory with one file of each kind the page ships, plus a secret next to it.
fn sample_site(scratch: &TempDir) -> PathBuf {
    let dist = scratch.path().join("dist");
    std::fs::create_dir_all(dist.join("demo")).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>shell</title>",
    )
    .unwrap();
    std::fs::write(dist.join("app-1.js"), "console.log('hi')").unwrap();
    std::fs::write(dist.join("app-1_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dist.join("style.css"), "body{}").unwrap();
    std::fs::write(dist.join("logo.svg"), "<svg/>").unwrap();
    std::fs::write(dist.join("demo/image.tar"), [0u8; 1024]).unwrap();
    std::fs::write(dist.join("demo/info.json"), "{}").unwrap();
    std::fs::write(scratch.path().join("secret.txt"), "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(scratch.path().join("secret.txt"), dist.join("leak.txt")).unwrap();
    dist
}

/// `layerscope serve --addr 127.0.0.1:0 --dist DIST`; its banner names DIST and the bound port.
fn start_server(dist: &Path) -> LayerscopeServer {
    let server = LayerscopeServer::start_with(&layerscope(), dist);
    assert_eq!(
        server.banner.served,
        format!("{}/", dist.display()),
        "the banner names the served directory"
    );
    server
}

fn raw_request(port: u16, method: &str, target: &str) -> HttpReply {
    layerscope_test_support::raw_request(port, method, target, &[], Duration::from_secs(10))
}

#[test]
fn serves_each_file_kind_with_its_mime_type() {
    let scratch = TempDir::new("mime");
    let server = start_server(&sample_site(&scratch));
    let cases = [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/app-1.js", "text/javascript; charset=utf-8"),
        ("/app-1_bg.wasm", "application/wasm"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/logo.svg", "image/svg+xml"),
        ("/demo/image.tar", "application/x-tar"),
        ("/demo/info.json", "application/json"),
    ];
    for (path, mime) in cases {
        let response = raw_request(server.port, "GET", path);
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.header("Content-Type"), Some(mime), "{path}");
        // Every file, so that workers started from these scripts run under the policy too.
        let policy = response
            .header("Content-Security-Policy")
            .unwrap_or_else(|| panic!("{path} came without a Content-Security-Policy"));
        assert!(
            policy.contains("script-src 'self' 'wasm-unsafe-eval';")
                && policy.ends_with("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
    }
    let wasm = raw_request(server.port, "GET", "/app-1_bg.wasm");
    assert_eq!(wasm.body, b"\0asm\x01\0\0\0");
    let tar = raw_request(server.port, "GET", "/demo/image.tar");
    assert_eq!(tar.body.len(), 1024);
}

#[test]
fn unknown_paths_are_404_and_head_has_no_body() {
    let scratch = TempDir::new("404");
    let server = start_server(&sample_site(&scratch));
    assert_eq!(raw_request(server.port, "GET", "/nope.js").status, 404);
    assert_eq!(raw_request(server.port, "GET", "/demo").status, 404);
    let head = raw_request(server.port, "HEAD", "/index.html");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "HEAD must not send a body");
    assert_eq!(raw_request(server.port, "POST", "/index.html").status, 405);
}

#[test]
fn traversal_never_reaches_files_outside_dist() {
    let scratch = TempDir::new("traversal");
    let server = start_server(&sample_site(&scratch));
    for target in [
        "/../secret.txt",
        "/demo/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%5csecret.txt",
        "/leak.txt",
    ] {
        let response = raw_request(server.port, "GET", target);
        assert!(
            response.status == 400 || response.status == 404,
            "{target} answered {}",
            response.status
        );
        assert!(
            !String::from_utf8_lossy(&response.body).contains("TOP-SECRET"),
            "{target} leaked a file outside dist"
        );
    }
}

#[test]
fn missing_dist_fails_with_a_clear_message() {
    let scratch = TempDir::new("missing");
    let output = Command::new(layerscope())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(scratch.path())
        .output()
        .expect("run layerscope serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no built page at dist/: run scripts/build-web.sh first"),
        "stderr was {stderr:?}"
    );
}

#[test]
fn busy_port_fails_with_the_address_in_the_message() {
    let scratch = TempDir::new("busy");
    let dist = sample_site(&scratch);
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let addr = holder.local_addr().unwrap().to_string();
    let output = Command::new(layerscope())
        .args(["serve", "--addr", &addr, "--dist"])
        .arg(&dist)
        .output()
        .expect("run layerscope serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "stderr was {stderr:?}"
    );
}
