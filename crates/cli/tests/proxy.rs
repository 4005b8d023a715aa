//! The registry proxy of `layerscope serve` where no registry is needed: refusals, the
//! preflight, and redirects between two real loopback listeners (std's `TcpListener`) that
//! record what reached them. Registry flows are in `tests/tests/proxy.rs` (layerscope-e2e).
//!
//! Every upstream here is on 127.0.0.1; refused targets are refused before any connection.

use layerscope_test_support::HttpReply;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The binary under test: `LAYERSCOPE_BIN` when set, else the one cargo built for this test.
fn layerscope_binary() -> PathBuf {
    std::env::var_os("LAYERSCOPE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_layerscope")))
}

/// A fresh directory with a minimal page, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(label: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "layerscope-proxy-test-{}-{label}-{unique}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("dist")).expect("create scratch dir");
        std::fs::write(path.join("dist/index.html"), "<!doctype html>").unwrap();
        ScratchDir(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `layerscope serve` on a free port, its stderr (the request log) going to a file.
struct ProxyServer {
    child: Child,
    port: u16,
    scratch: ScratchDir,
}

impl ProxyServer {
    fn start(insecure_registries: &[String]) -> ProxyServer {
        let mut flags = Vec::new();
        for registry in insecure_registries {
            flags.extend(["--insecure-registry".to_string(), registry.clone()]);
        }
        ProxyServer::start_with(&flags)
    }

    /// `layerscope serve` with these further flags.
    fn start_with(flags: &[String]) -> ProxyServer {
        let scratch = ScratchDir::new("serve");
        let stderr = std::fs::File::create(scratch.0.join("stderr.log")).unwrap();
        let mut command = Command::new(layerscope_binary());
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--dist"])
            .arg(scratch.0.join("dist"))
            .args(flags);
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn layerscope serve");
        let mut banner = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut banner)
            .expect("read the serve banner");
        let port = banner
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|url| url.strip_prefix("http://127.0.0.1:"))
            .and_then(|rest| rest.strip_suffix('/'))
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("banner without a loopback URL: {banner:?}"));
        ProxyServer {
            child,
            port,
            scratch,
        }
    }

    fn request(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> HttpReply {
        raw_request(self.port, method, target, headers)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.scratch.0.join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request written as given, on its own connection.
fn raw_request(port: u16, method: &str, target: &str, headers: &[(&str, &str)]) -> HttpReply {
    layerscope_test_support::raw_request(port, method, target, headers, Duration::from_secs(60))
}

/// What one upstream listener saw of one request.
#[derive(Debug, Clone)]
struct SeenRequest {
    request_line: String,
    headers: Vec<(String, String)>,
}

impl SeenRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A loopback HTTP server on std's `TcpListener`: answers every request with the same raw
/// response (status line and headers; `Content-Length` and `Connection: close` added) and
/// records each request's head.
struct Upstream {
    port: u16,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    _thread: JoinHandle<()>,
}

impl Upstream {
    fn start(status_and_headers: String, body: &'static [u8]) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an upstream listener");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&seen);
        let thread = std::thread::spawn(move || {
            // The listener lives as long as the test process; each test makes its own.
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                answer_one_recorded(stream, &status_and_headers, body, |request| {
                    recorder.lock().unwrap().push(request)
                });
            }
        });
        Upstream {
            port,
            seen,
            _thread: thread,
        }
    }

    fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer_one(stream: TcpStream, status_and_headers: &str, body: &[u8]) -> Option<SeenRequest> {
    answer_one_recorded(stream, status_and_headers, body, |_| {})
}

/// Reads one request, hands its head to `record` before answering (so a client that has the
/// answer finds the request recorded), then answers.
fn answer_one_recorded(
    mut stream: TcpStream,
    status_and_headers: &str,
    body: &[u8],
    record: impl FnOnce(SeenRequest),
) -> Option<SeenRequest> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let seen = SeenRequest {
        request_line: request_line.trim_end().to_string(),
        headers,
    };
    record(seen.clone());
    let response = format!(
        "{status_and_headers}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(response.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    Some(seen)
}

/// A loopback server that answers one request with `total` bytes as fast as the reader takes
/// them, so a proxy that buffered whole bodies would have to hold them all.
fn start_endless_blob_server(total: u64) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the blob server");
    let authority = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let thread = std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok() && line != "\r\n" && !line.is_empty() {
            line.clear();
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
        );
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![0x5a_u8; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let length = chunk.len().min((total - sent) as usize);
            if stream.write_all(&chunk[..length]).is_err() {
                return;
            }
            sent += length as u64;
        }
    });
    (authority, thread)
}

/// A memory figure of a process in KiB from `/proc/PID/status`: `VmRSS` (now) or `VmHWM`
/// (the most it has been resident).
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

const BLOB_DIGEST: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

#[test]
fn loopback_and_metadata_targets_are_refused_without_the_flag() {
    let upstream = Upstream::start("HTTP/1.1 200 OK".to_string(), b"{}");
    let server = ProxyServer::start(&[]);
    let targets = [
        format!("/proxy/{}/v2/", upstream.authority()),
        // A name is judged by the addresses it resolves to.
        format!("/proxy/localhost:{}/v2/", upstream.port),
        "/proxy/169.254.169.254/v2/".to_string(),
        "/proxy/[fd00:ec2::254]/v2/".to_string(),
        "/proxy/[::ffff:127.0.0.1]/v2/".to_string(),
        "/proxy/10.1.2.3/v2/".to_string(),
        format!("/proxy-token/{}/token", upstream.authority()),
    ];
    for target in &targets {
        let response = server.request("GET", target, &[]);
        assert_eq!(response.status, 403, "{target}: {}", response.text());
        assert_eq!(
            response.header("Content-Type"),
            Some("text/plain; charset=utf-8"),
            "{target}"
        );
        assert!(
            response.text().contains("--insecure-registry"),
            "{target}: the reason names the flag: {}",
            response.text()
        );
    }
    assert!(upstream.seen().is_empty(), "a refused target was contacted");
    let localhost = server.request("GET", &targets[1], &[]).text();
    assert!(
        localhost.contains("resolves to") && localhost.contains("loopback"),
        "{localhost}"
    );
}

#[test]
fn only_the_registry_api_and_only_reads_are_forwarded() {
    let upstream = Upstream::start("HTTP/1.1 200 OK".to_string(), b"{}");
    let server = ProxyServer::start(&[upstream.authority()]);
    let host = upstream.authority();
    for path in ["/", "/admin", "/v2", "/v2/../admin", "/v2/%2e%2e/admin"] {
        let response = server.request("GET", &format!("/proxy/{host}{path}"), &[]);
        assert_eq!(response.status, 400, "{path}: {}", response.text());
        assert!(!response.body.is_empty(), "{path}: the 400 says why");
    }
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let response = server.request(method, &format!("/proxy/{host}/v2/a/b/blobs/uploads/"), &[]);
        assert_eq!(response.status, 405, "{method}");
        assert_eq!(response.header("Allow"), Some("GET, HEAD, OPTIONS"));
    }
    assert!(upstream.seen().is_empty(), "nothing refused went upstream");
    let allowed = server.request("GET", &format!("/proxy/{host}/v2/"), &[]);
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    assert_eq!(allowed.body, b"{}");
    assert_eq!(upstream.seen().len(), 1);
    assert_eq!(upstream.seen()[0].request_line, "GET /v2/ HTTP/1.1");
}

#[test]
fn preflight_allows_the_registry_headers() {
    let server = ProxyServer::start(&[]);
    let response = server.request(
        "OPTIONS",
        "/proxy/registry.example/v2/library/nginx/manifests/latest",
        &[
            ("Origin", "http://127.0.0.1"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization, accept"),
        ],
    );
    assert_eq!(response.status, 204);
    assert_eq!(
        response.header("Access-Control-Allow-Methods"),
        Some("GET, HEAD")
    );
    let allowed = response
        .header("Access-Control-Allow-Headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("accept"),
        "{allowed}"
    );
    let exposed = response
        .header("Access-Control-Expose-Headers")
        .unwrap_or_default();
    for name in [
        "Docker-Content-Digest",
        "WWW-Authenticate",
        "Link",
        "Content-Length",
        "ratelimit-limit",
        "ratelimit-remaining",
        "Retry-After",
    ] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }
}

#[test]
fn only_allowed_origins_may_read_the_proxy_across_origins() {
    let page = "http://127.0.0.1:8000";
    // Without --allow-origin: no origin is named, so only the page served here can read.
    let closed = ProxyServer::start(&[]);
    let preflight = [
        ("Origin", page),
        ("Access-Control-Request-Method", "GET"),
        ("Access-Control-Request-Headers", "authorization, accept"),
    ];
    let target = "/proxy/registry.example/v2/library/nginx/manifests/latest";
    let response = closed.request("OPTIONS", target, &preflight);
    assert_eq!(response.status, 204);
    assert_eq!(response.header("Access-Control-Allow-Origin"), None);

    // An upstream on loopback answering the forwarded GET.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = listener.local_addr().unwrap().to_string();
    let answering = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        answer_one(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json",
            b"{}",
        )
    });
    let open = ProxyServer::start_with(&[
        "--allow-origin".into(),
        // Written with a trailing slash, which browsers do not send.
        "http://127.0.0.1:8000/".into(),
        "--insecure-registry".into(),
        upstream.clone(),
    ]);
    let response = open.request("OPTIONS", target, &preflight);
    assert_eq!(response.status, 204);
    assert_eq!(response.header("Access-Control-Allow-Origin"), Some(page));
    assert_eq!(response.header("Vary"), Some("Origin"));
    let other = open.request(
        "OPTIONS",
        target,
        &[
            ("Origin", "http://127.0.0.1:9999"),
            preflight[1],
            preflight[2],
        ],
    );
    assert_eq!(other.header("Access-Control-Allow-Origin"), None);
    // A forwarded answer names the origin too, so the page can read it.
    let response = open.request(
        "GET",
        &format!("/proxy/{upstream}/v2/"),
        &[("Origin", page)],
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("Access-Control-Allow-Origin"), Some(page));
    assert!(
        answering.join().unwrap().is_some(),
        "the upstream saw the request"
    );
}

#[test]
fn a_bad_allowed_origin_is_refused_at_start() {
    let output = Command::new(layerscope_binary())
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--allow-origin",
            "http://a.example/page",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not an origin"), "{stderr}");
}

#[test]
fn blob_redirects_are_followed_without_the_credentials_or_cookies() {
    let storage = Upstream::start(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nSet-Cookie: storage=1\r\n\
         Connection: X-Storage-Hop\r\nX-Storage-Hop: 1\r\nStrict-Transport-Security: max-age=1"
            .to_string(),
        b"layer bytes",
    );
    let registry = Upstream::start(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{}/storage/blob?sig=abc\r\n\
             Docker-Content-Digest: {BLOB_DIGEST}\r\nSet-Cookie: registry=1",
            storage.authority()
        ),
        b"",
    );
    let server = ProxyServer::start(&[registry.authority(), storage.authority()]);
    let path = format!(
        "/proxy/{}/v2/team/app/blobs/{BLOB_DIGEST}",
        registry.authority()
    );
    let response = server.request(
        "GET",
        &path,
        &[
            ("Authorization", "Bearer registry-secret-token"),
            ("Cookie", "page-session=xyz"),
            ("Accept", "application/octet-stream"),
            ("Connection", "X-Page-Hop"),
            ("X-Page-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authorization", "Basic cHJveHk6c2VjcmV0"),
        ],
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.body, b"layer bytes");
    assert_eq!(response.header("Docker-Content-Digest"), Some(BLOB_DIGEST));
    assert_eq!(response.header("Set-Cookie"), None);
    assert_eq!(response.header("X-Storage-Hop"), None);
    assert_eq!(response.header("Strict-Transport-Security"), None);
    assert_eq!(response.header("Location"), None);
    assert_eq!(
        response.header("Cache-Control"),
        Some("private, max-age=31536000, immutable"),
        "a blob fetched with credentials is cached by the browser only"
    );

    let at_registry = registry.seen();
    assert_eq!(at_registry.len(), 1);
    assert_eq!(
        at_registry[0].request_line,
        format!("GET /v2/team/app/blobs/{BLOB_DIGEST} HTTP/1.1")
    );
    assert_eq!(
        at_registry[0].header("Authorization"),
        Some("Bearer registry-secret-token"),
        "the registry is the host the credentials are for"
    );
    assert_eq!(
        at_registry[0].header("Accept"),
        Some("application/octet-stream")
    );
    let at_storage = storage.seen();
    assert_eq!(at_storage.len(), 1);
    assert_eq!(
        at_storage[0].request_line,
        "GET /storage/blob?sig=abc HTTP/1.1"
    );
    assert_eq!(
        at_storage[0].header("Authorization"),
        None,
        "credentials leaked to the redirect's host: {:?}",
        at_storage[0].headers
    );
    for seen in at_registry.iter().chain(&at_storage) {
        for dropped in ["Cookie", "X-Page-Hop", "Keep-Alive", "Proxy-Authorization"] {
            assert_eq!(seen.header(dropped), None, "{dropped} was forwarded");
        }
        assert_eq!(
            seen.header("Host"),
            Some(seen_host(seen, &registry, &storage).as_str())
        );
    }

    let log = server.log();
    assert!(
        log.contains(&format!(
            "GET {} /v2/team/app/blobs/{BLOB_DIGEST} 200 11 bytes",
            registry.authority()
        )),
        "one line per request with method, host, path, status, bytes: {log}"
    );
    assert!(
        !log.contains("registry-secret-token") && !log.contains("page-session"),
        "credentials in the log: {log}"
    );
}

/// The `Host` each upstream must have seen: its own authority, not the proxy's.
fn seen_host(seen: &SeenRequest, registry: &Upstream, storage: &Upstream) -> String {
    if seen.request_line.contains("/v2/") {
        registry.authority()
    } else {
        storage.authority()
    }
}

#[test]
fn redirect_targets_meet_the_same_address_checks() {
    // The storage port is not allowed by flag: a redirect there must not be followed.
    let unlisted = Upstream::start("HTTP/1.1 200 OK".to_string(), b"internal");
    let registry = Upstream::start(
        format!(
            "HTTP/1.1 302 Found\r\nLocation: http://{}/internal",
            unlisted.authority()
        ),
        b"",
    );
    let metadata = Upstream::start(
        "HTTP/1.1 302 Found\r\nLocation: https://169.254.169.254/latest/meta-data/".to_string(),
        b"",
    );
    let server = ProxyServer::start(&[registry.authority(), metadata.authority()]);
    for (upstream, reason) in [(&registry, "plain http"), (&metadata, "metadata")] {
        let response = server.request(
            "GET",
            &format!("/proxy/{}/v2/a/blobs/{BLOB_DIGEST}", upstream.authority()),
            &[],
        );
        assert_eq!(response.status, 403, "{}", response.text());
        assert!(response.text().contains(reason), "{}", response.text());
        assert_ne!(response.body, b"internal");
    }
    assert!(
        unlisted.seen().is_empty(),
        "the unlisted target was contacted"
    );
}

#[test]
fn static_files_are_still_served_beside_the_proxy() {
    let server = ProxyServer::start(&[]);
    let index = server.request("GET", "/", &[]);
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(index.body, b"<!doctype html>");
    assert_eq!(server.request("GET", "/proxy", &[]).status, 404);
}

#[test]
fn a_large_blob_streams_through_bounded_buffers() {
    const TOTAL: u64 = 256 * 1024 * 1024;
    let (authority, blob_server) = start_endless_blob_server(TOTAL);
    let server = ProxyServer::start(std::slice::from_ref(&authority));
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET /proxy/{authority}/v2/big/blobs/{BLOB_DIGEST} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::with_capacity(1024 * 1024, stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {TOTAL}")),
        "{head}"
    );
    let mut first = vec![0u8; 1024 * 1024];
    reader.read_exact(&mut first).unwrap();
    let baseline = memory_kib(server.child.id(), "VmRSS");
    // The page stops reading for a moment: the upstream must wait, not the proxy's memory grow.
    std::thread::sleep(Duration::from_millis(1500));
    let paused = memory_kib(server.child.id(), "VmRSS");
    assert!(
        paused < baseline + 32 * 1024,
        "the proxy grew from {baseline} KiB to {paused} KiB while the reader paused"
    );
    let mut received = first.len() as u64;
    let mut buffer = vec![0u8; 1024 * 1024];
    loop {
        let read = reader.read(&mut buffer).unwrap();
        if read == 0 {
            break;
        }
        received += read as u64;
    }
    assert_eq!(received, TOTAL);
    blob_server.join().unwrap();
    let peak = memory_kib(server.child.id(), "VmHWM");
    eprintln!(
        "proxy memory: {baseline} KiB after the first MiB, {paused} KiB paused, peak {peak} KiB"
    );
    assert!(
        peak < 128 * 1024,
        "the proxy was {peak} KiB resident at its peak while relaying {TOTAL} bytes"
    );
}

#[test]
fn an_upstream_that_never_answers_times_out_after_thirty_seconds() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a silent upstream");
    let authority = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    // Accepts and reads, never answers; the connection stays open until the test ends.
    let _silent = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let server = ProxyServer::start(std::slice::from_ref(&authority));
    let started = std::time::Instant::now();
    let response = server.request("GET", &format!("/proxy/{authority}/v2/"), &[]);
    let waited = started.elapsed();
    assert_eq!(response.status, 504, "{}", response.text());
    assert!(
        waited >= Duration::from_secs(29) && waited < Duration::from_secs(40),
        "answered after {waited:?}"
    );
    assert!(response.text().contains("30s"), "{}", response.text());
}

#[test]
fn a_client_that_stops_reading_is_dropped_and_frees_its_upstream_slot() {
    const TOTAL: u64 = 256 * 1024 * 1024;
    let (authority, blob_server) = start_endless_blob_server(TOTAL);
    let server = ProxyServer::start(std::slice::from_ref(&authority));
    let mut stalled = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    // Sends the request and never reads: the socket buffers fill and the proxy's sends stall.
    write!(
        stalled,
        "GET /proxy/{authority}/v2/big/blobs/{BLOB_DIGEST} HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let started = std::time::Instant::now();
    // The body, which holds the upstream slot, is dropped when the connection closes.
    let gone = loop {
        let log = server.log();
        if log.contains("(the client went away)") {
            break log;
        }
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "the stalled client still holds its slot: {log}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(55),
        "dropped after only {waited:?}: {gone}"
    );
    blob_server.join().unwrap();
    drop(stalled);
}

#[test]
fn upstream_connections_are_bounded() {
    const SLOTS: usize = 32;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a silent upstream");
    let authority = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    // Accepts and never answers, so every request keeps its slot until the server stops.
    let _silent = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let server = ProxyServer::start_with(&[
        "--insecure-registry".to_string(),
        authority.clone(),
        "--max-upstream-requests".to_string(),
        SLOTS.to_string(),
        // One client sends them all: its own share is not what this test is about.
        "--max-upstream-per-client".to_string(),
        (2 * SLOTS).to_string(),
    ]);
    let clients: Vec<_> = (0..SLOTS + 4)
        .map(|index| {
            let port = server.port;
            let path = format!("/proxy/{authority}/v2/repo/manifests/tag-{index}");
            std::thread::spawn(move || {
                // Ends when the server is stopped; the answer does not matter here.
                let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                    return;
                };
                let _ = write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
                let _ = stream.read_to_end(&mut Vec::new());
            })
        })
        .collect();
    let started = std::time::Instant::now();
    while accepted.load(Ordering::SeqCst) < SLOTS && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Give the requests beyond the limit time to (wrongly) connect too.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(accepted.load(Ordering::SeqCst), SLOTS);
    drop(server);
    for client in clients {
        let _ = client.join();
    }
}

/// Names the test pins with `--resolve` to internal addresses, as a hostile or misconfigured
/// DNS would answer them, and the address the refusal must name.
const INTERNAL_NAMES: &[(&str, &str, &str)] = &[
    ("private.test", "10.0.0.5", "a private-network address"),
    (
        "metadata.test",
        "169.254.169.254",
        "the cloud metadata endpoint",
    ),
    ("linklocal.test", "169.254.7.7", "a link-local address"),
    ("loopback.test", "127.0.0.2", "a loopback address"),
    ("registry.localhost", "127.0.0.1", "a loopback address"),
    ("ula.test", "fd12:3456::1", "a private-network address"),
    ("v6linklocal.test", "fe80::1", "a link-local address"),
    (
        "mapped.test",
        "::ffff:192.168.1.1",
        "a private-network address",
    ),
    ("v6loopback.test", "::1", "a loopback address"),
];

fn pinning_flags() -> Vec<String> {
    let mut flags = Vec::new();
    for (name, address, _) in INTERNAL_NAMES {
        flags.extend(["--resolve".to_string(), format!("{name}={address}")]);
    }
    // One public and one private address: the name is refused as a whole.
    flags.extend([
        "--resolve".to_string(),
        "mixed.test=93.184.216.34,192.168.0.9".to_string(),
    ]);
    flags
}

#[test]
fn names_that_resolve_to_internal_addresses_are_refused() {
    let server = ProxyServer::start_with(&pinning_flags());
    let mixed = ("mixed.test", "192.168.0.9", "a private-network address");
    for (name, address, kind) in INTERNAL_NAMES.iter().chain([&mixed]) {
        for target in [
            format!("/proxy/{name}/v2/"),
            format!("/proxy/{name}:5000/v2/library/app/manifests/latest"),
            format!("/proxy-token/{name}/token?service=x"),
        ] {
            let response = server.request("GET", &target, &[]);
            assert_eq!(response.status, 403, "{target}: {}", response.text());
            let text = response.text();
            assert!(
                text.contains(&format!("{name} resolves to {address}, which is {kind}")),
                "{target}: {text}"
            );
        }
    }
}

#[test]
fn redirects_to_internal_names_and_addresses_are_not_followed() {
    let server_flags = |registry: &Upstream| {
        let mut flags = pinning_flags();
        flags.extend(["--insecure-registry".to_string(), registry.authority()]);
        flags
    };
    for (location, reason) in [
        (
            "https://private.test/storage/blob",
            "private.test resolves to 10.0.0.5",
        ),
        (
            "https://metadata.test/latest/meta-data/",
            "the cloud metadata endpoint",
        ),
        (
            "https://mapped.test/blob",
            "mapped.test resolves to ::ffff:192.168.1.1",
        ),
        ("https://localhost/blob", "localhost resolves to"),
        (
            "https://[::ffff:10.1.1.1]/blob",
            "a private-network address",
        ),
        ("https://[fd00::5]/blob", "a private-network address"),
        ("https://[fe80::5]/blob", "a link-local address"),
        ("https://10.2.3.4/blob", "a private-network address"),
    ] {
        let registry = Upstream::start(
            format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}"),
            b"",
        );
        let server = ProxyServer::start_with(&server_flags(&registry));
        let response = server.request(
            "GET",
            &format!("/proxy/{}/v2/a/b/blobs/{BLOB_DIGEST}", registry.authority()),
            &[("Authorization", "Bearer secret-for-the-registry")],
        );
        assert_eq!(response.status, 403, "{location}: {}", response.text());
        assert!(
            response.text().contains(reason),
            "{location}: {}",
            response.text()
        );
        assert!(
            !response.text().contains("secret-for-the-registry"),
            "{location}: the refusal quotes the credentials"
        );
        assert_eq!(registry.seen().len(), 1, "{location}");
    }
}

#[test]
fn oversized_urls_and_headers_are_refused_before_any_upstream() {
    let upstream = Upstream::start("HTTP/1.1 200 OK".to_string(), b"{}");
    let server = ProxyServer::start(&[upstream.authority()]);
    let host = upstream.authority();
    let long_path = format!("/proxy/{host}/v2/{}/manifests/latest", "a".repeat(9000));
    let response = server.request("GET", &long_path, &[]);
    assert_eq!(response.status, 414, "{}", response.text());
    assert!(
        response.text().contains("8192 bytes"),
        "{}",
        response.text()
    );

    let big_value = "x".repeat(20 * 1024);
    let response = server.request(
        "GET",
        &format!("/proxy/{host}/v2/"),
        &[("X-Padding", &big_value)],
    );
    assert_eq!(response.status, 431, "{}", response.text());
    assert!(
        response.text().contains("16384 bytes"),
        "{}",
        response.text()
    );

    // Many small headers: refused by the HTTP parser itself (it reads at most 100).
    let names: Vec<String> = (0..150).map(|index| format!("X-Many-{index}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "1")).collect();
    let response = server.request("GET", &format!("/proxy/{host}/v2/"), &many);
    assert_eq!(response.status, 431, "{}", response.text());

    // Headers larger than the parser's buffer: the connection is answered 431 or closed.
    let huge_value = "y".repeat(256 * 1024);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = write!(
        stream,
        "GET /proxy/{host}/v2/ HTTP/1.1\r\nHost: x\r\nX-Huge: {huge_value}\r\n\r\n"
    );
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );

    assert!(
        upstream.seen().is_empty(),
        "an oversized request went upstream"
    );
    let fine = server.request("GET", &format!("/proxy/{host}/v2/"), &[]);
    assert_eq!(fine.status, 200, "{}", fine.text());
}

#[test]
fn an_upstream_that_stalls_inside_the_body_is_cut_off_and_frees_its_slot() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a stalling upstream");
    let authority = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    // The first request gets its headers and 1000 of 1,000,000 bytes, then silence; later
    // ones are answered in full.
    let _upstream = std::thread::spawn(move || {
        let mut held = Vec::new();
        for (index, stream) in listener.incoming().flatten().enumerate() {
            if index == 0 {
                let mut stream = stream;
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok() && line != "\r\n" && !line.is_empty() {
                    line.clear();
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
                let _ = stream.write_all(&[7u8; 1000]);
                held.push(stream);
            } else {
                answer_one(stream, "HTTP/1.1 200 OK", b"{}");
            }
        }
    });
    let server = ProxyServer::start_with(&[
        "--insecure-registry".to_string(),
        authority.clone(),
        "--max-upstream-requests".to_string(),
        "1".to_string(),
    ]);
    let started = std::time::Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "GET /proxy/{authority}/v2/a/blobs/{BLOB_DIGEST} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(55) && waited < Duration::from_secs(90),
        "the stalled body ended after {waited:?}"
    );
    assert!(
        received.len() < 1_000_000,
        "the cut-off body looks complete: {} bytes",
        received.len()
    );
    let log = server.log();
    assert!(log.contains("(the upstream body failed)"), "{log}");
    // The one upstream slot is free again.
    let next = server.request("GET", &format!("/proxy/{authority}/v2/"), &[]);
    assert_eq!(next.status, 200, "{}", next.text());
}

#[test]
fn a_thousand_slow_clients_do_not_stop_the_others() {
    const SLOW: usize = 1000;
    let upstream = Upstream::start("HTTP/1.1 200 OK".to_string(), b"{}");
    let server = ProxyServer::start(&[upstream.authority()]);
    let host = upstream.authority();
    // Half trickle a request's headers (a byte now and then), half connect and send nothing.
    let mut slow: Vec<TcpStream> = (0..SLOW)
        .map(|index| {
            let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
            if index % 2 == 0 {
                stream
                    .write_all(format!("GET /proxy/{host}/v2/ HTTP/1.1\r\nHost: x\r\n").as_bytes())
                    .unwrap();
            }
            stream
        })
        .collect();
    let started = std::time::Instant::now();
    for round in 0..3 {
        for (index, stream) in slow.iter_mut().enumerate().step_by(2) {
            let _ = write!(stream, "X-Slow-{round}-{index}: 1\r\n");
        }
        let asked = std::time::Instant::now();
        let page = server.request("GET", "/", &[]);
        assert_eq!(page.status, 200);
        let proxied = server.request("GET", &format!("/proxy/{host}/v2/"), &[]);
        assert_eq!(proxied.status, 200, "{}", proxied.text());
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "with {SLOW} slow clients open a request took {:?}",
            asked.elapsed()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    // Their time to send headers runs out: each connection is closed by the server.
    for (index, stream) in slow.iter_mut().enumerate() {
        stream
            .set_read_timeout(Some(Duration::from_secs(40)))
            .unwrap();
        let mut rest = Vec::new();
        let outcome = stream.read_to_end(&mut rest);
        assert!(
            outcome.is_ok()
                || matches!(outcome, Err(ref error) if error.kind() == std::io::ErrorKind::ConnectionReset),
            "slow client {index} was not disconnected after {:?}: {outcome:?}",
            started.elapsed()
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "the slow clients were held for {:?}",
        started.elapsed()
    );
    assert_eq!(
        upstream.seen().len(),
        3,
        "only the three complete requests went upstream"
    );
}
