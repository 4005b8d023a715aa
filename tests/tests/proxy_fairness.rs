//! The proxy of `layerscope serve` shares its upstream slots out by client: one client
//! holding 40 slow blob streams (readers that take the headers and then stop reading, so
//! each keeps its upstream request open) gets its share, 32, and 429 with `Retry-After` for
//! the rest, and a second client's pull through the same proxy is still answered at once.
//! Against the real `docker-registry` on loopback; the second client connects from
//! 127.0.0.2, another peer address on the same loopback interface.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use layerscope_e2e::http::loopback_agent;
use layerscope_e2e::{layerscope_binary, ChildGuard, Registry, RegistryConfig, TempDir};
use sha2::{Digest as _, Sha256};

const REPOSITORY: &str = "fair/blob";
/// The slow client's streams; the proxy has as many upstream slots, so without shares
/// they would take every one.
const SLOW_STREAMS: usize = 40;
/// `--max-upstream-per-client`'s default.
const SHARE: usize = 32;
/// Far more than loopback socket buffers hold, so a reader that stops keeps its stream open.
const BLOB_BYTES: usize = 64 * 1024 * 1024;

/// `layerscope serve` with 40 upstream slots, allowed to reach `registry`; killed on drop.
struct Proxy {
    port: u16,
    _stdout: BufReader<ChildStdout>,
    _dist: TempDir,
    _guard: ChildGuard,
}

impl Proxy {
    fn start(registry: &Registry) -> Proxy {
        let dist = TempDir::new("proxy-fair-dist");
        std::fs::write(dist.path().join("index.html"), "<!doctype html>").unwrap();
        let mut command = Command::new(layerscope_binary());
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--dist"])
            .arg(dist.path())
            .args(["--insecure-registry", &registry.host()])
            .args(["--max-upstream-requests", &SLOW_STREAMS.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut guard = ChildGuard::spawn("layerscope serve", command);
        let mut stdout = BufReader::new(guard.child_mut().stdout.take().expect("piped stdout"));
        let mut banner = String::new();
        stdout.read_line(&mut banner).unwrap_or(0);
        let port = banner
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|url| url.strip_prefix("http://127.0.0.1:"))
            .and_then(|rest| rest.trim_end_matches('/').parse().ok());
        let Some(port) = port else {
            guard.fail(&format!("banner {banner:?} names no loopback port"));
        };
        Proxy {
            port,
            _stdout: stdout,
            _dist: dist,
            _guard: guard,
        }
    }
}

/// Uploads `blob` monolithically (POST, then PUT with its digest) and returns the digest.
fn push_blob(registry: &Registry, blob: &[u8]) -> String {
    let digest = format!("sha256:{:x}", Sha256::digest(blob));
    let agent = loopback_agent(Duration::from_secs(300));
    let start = format!("{}/v2/{REPOSITORY}/blobs/uploads/", registry.url());
    let response = agent.post(&start).send_empty().expect("start an upload");
    assert_eq!(response.status().as_u16(), 202, "POST {start}");
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .expect("the upload's Location")
        .to_string();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("{}{location}", registry.url())
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let response = agent
        .put(&format!("{location}{separator}digest={digest}"))
        .header("Content-Type", "application/octet-stream")
        .send(blob)
        .expect("finish the upload");
    assert_eq!(response.status().as_u16(), 201, "PUT the blob");
    digest
}

/// A connection to the proxy from `from` (a loopback address).
fn connect_from(from: [u8; 4], port: u16) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    let local: SocketAddr = (from, 0).into();
    socket.bind(&local.into()).expect("bind the client address");
    let proxy: SocketAddr = ([127, 0, 0, 1], port).into();
    socket.connect(&proxy.into()).expect("connect to the proxy");
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
}

/// Sends a GET for `path` and reads the response head: the status code, the headers, and
/// the reader the body follows in.
fn get_head(mut stream: TcpStream, path: &str) -> (u16, Vec<String>, BufReader<TcpStream>) {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).expect("a status line");
    let code = status
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a header line");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        headers.push(line.trim_end().to_ascii_lowercase());
    }
    (code, headers, reader)
}

#[test]
fn one_client_holding_forty_slow_streams_leaves_a_second_clients_pull_answered() {
    let registry = Registry::start(RegistryConfig::plain());
    let big = push_blob(&registry, &vec![7u8; BLOB_BYTES]);
    let small_blob = b"{\"small\": true}".to_vec();
    let small = push_blob(&registry, &small_blob);
    let proxy = Proxy::start(&registry);
    let path = |digest: &str| format!("/proxy/{}/v2/{REPOSITORY}/blobs/{digest}", registry.host());

    // The slow client: 40 blob streams from 127.0.0.1, each read to its headers only.
    let mut held = Vec::new();
    let (mut streaming, mut refused) = (0, 0);
    for _ in 0..SLOW_STREAMS {
        let stream = connect_from([127, 0, 0, 1], proxy.port);
        let (code, headers, stream) = get_head(stream, &path(&big));
        match code {
            200 => streaming += 1,
            429 => {
                refused += 1;
                assert!(
                    headers.iter().any(|h| h.starts_with("retry-after: ")),
                    "a 429 says when to come back: {headers:?}"
                );
            }
            other => panic!("the slow client's stream {}: status {other}", held.len()),
        }
        held.push(stream);
    }
    assert_eq!(
        (streaming, refused),
        (SHARE, SLOW_STREAMS - SHARE),
        "the slow client gets its share and 429 past it"
    );

    // Another client, while those 32 streams are held: answered at once, and whole.
    let started = Instant::now();
    let other = connect_from([127, 0, 0, 2], proxy.port);
    let (code, headers, mut other) = get_head(other, &path(&small));
    let waited = started.elapsed();
    assert_eq!(code, 200, "the second client's blob: {headers:?}");
    assert!(
        waited < Duration::from_secs(10),
        "the second client waited {waited:?} (a slot free only when the slow ones end: 30 s, then 503)"
    );
    let length: usize = headers
        .iter()
        .find_map(|h| h.strip_prefix("content-length: "))
        .and_then(|v| v.parse().ok())
        .expect("a Content-Length");
    let mut body = vec![0u8; length];
    other.read_exact(&mut body).expect("the body");
    assert_eq!(body, small_blob);

    // Once the slow client lets go, its share is free again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stream = connect_from([127, 0, 0, 1], proxy.port);
        let (code, _, _) = get_head(stream, &path(&small));
        if code == 200 {
            break;
        }
        assert_eq!(code, 429, "only its share can keep it waiting");
        assert!(Instant::now() < deadline, "the share was never given back");
        std::thread::sleep(Duration::from_millis(100));
    }
}
