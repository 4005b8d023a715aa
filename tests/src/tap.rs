//! A loopback TCP relay that records every HTTP request line it forwards.
//!
//! Requests a dedicated worker makes are not in Chromium's DevTools log (see
//! [`crate::Browser::network_requests`]), so the page's registry traffic is seen here, on the
//! wire: a [`Tap`] in front of a registry sees what the browser (or a proxy) asks it; a tap in
//! front of `layerscope serve` sees what the browser asks the proxy. Requests the browser
//! answers from its own cache never reach a tap, which is the point of counting there.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request line a tap saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// The request target, query included.
    pub path: String,
    /// The request carried an `Origin` header (a browser's CORS request, not a proxy's).
    pub from_browser: bool,
}

/// A loopback relay in front of `127.0.0.1:upstream_port` that records each request.
pub struct Tap {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Bytes relayed from the upstream to the client.
    relayed: Arc<AtomicU64>,
}

impl Tap {
    /// A tap relaying as fast as both sides go.
    pub fn start(upstream_port: u16) -> Tap {
        Tap::start_slow(upstream_port, None)
    }

    /// A tap that relays answers `chunk` bytes at a time with a pause after each, so a pull
    /// takes long enough to be cancelled.
    pub fn start_slow(upstream_port: u16, pace: Option<(usize, Duration)>) -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let relayed = Arc::new(AtomicU64::new(0));
        let counter = relayed.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                    continue;
                };
                let (Ok(client_read), Ok(upstream_write)) =
                    (client.try_clone(), upstream.try_clone())
                else {
                    continue;
                };
                let counter = counter.clone();
                std::thread::spawn(move || relay_answers(upstream, client, pace, &counter));
                let log = log.clone();
                std::thread::spawn(move || relay_requests(client_read, upstream_write, &log));
            }
        });
        Tap {
            port,
            seen,
            relayed,
        }
    }

    /// Bytes relayed from the upstream so far.
    pub fn relayed(&self) -> u64 {
        self.relayed.load(Ordering::SeqCst)
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Everything seen since the last call.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn relay_answers(
    mut upstream: TcpStream,
    mut client: TcpStream,
    pace: Option<(usize, Duration)>,
    counter: &AtomicU64,
) {
    let (chunk, pause) = pace.unwrap_or((64 * 1024, Duration::ZERO));
    let mut buffer = vec![0u8; chunk];
    loop {
        let n = match upstream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if client.write_all(&buffer[..n]).is_err() {
            break;
        }
        counter.fetch_add(n as u64, Ordering::SeqCst);
        std::thread::sleep(pause);
    }
    let _ = client.shutdown(Shutdown::Both);
}

fn relay_requests(mut client: TcpStream, mut upstream: TcpStream, log: &Mutex<Vec<Seen>>) {
    // GET, HEAD and OPTIONS carry no bodies: requests are header blocks.
    let mut pending = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match client.read(&mut buffer) {
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
            let from_browser = lines.any(|line| line.to_ascii_lowercase().starts_with("origin:"));
            log.lock().unwrap().push(Seen {
                method,
                path,
                from_browser,
            });
        }
        if upstream.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = upstream.shutdown(Shutdown::Write);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Requests by kind, for a tap in front of a registry or of `layerscope serve`: preflights,
/// `/v2/` pings, token requests (`/proxy-token/...`), manifest `HEAD`/`GET`, the config blob
/// (`config_digest`), layer blobs, tag lists; anything else is the page's own files.
/// `/proxy/{host}` in front of a registry path is looked through.
pub fn count_by_kind(seen: &[Seen], config_digest: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in seen {
        *counts.entry(kind_of(request, config_digest)).or_insert(0) += 1;
    }
    counts
}

fn kind_of(request: &Seen, config_digest: &str) -> String {
    let path = request.path.split('?').next().unwrap_or_default();
    let method = &request.method;
    if method == "OPTIONS" {
        return "preflight OPTIONS".to_string();
    }
    if path.starts_with("/proxy-token/") {
        return format!("token {method}");
    }
    // `/proxy/{host}/v2/...` is the registry's `/v2/...`.
    let api = match path.strip_prefix("/proxy/") {
        Some(rest) => rest.find('/').map_or("", |slash| &rest[slash..]),
        None => path,
    };
    if api == "/v2/" {
        format!("ping {method}")
    } else if api.starts_with("/v2/") && api.ends_with("/tags/list") {
        format!("tags {method}")
    } else if api.starts_with("/v2/") && api.contains("/manifests/") {
        format!("manifest {method}")
    } else if api.starts_with("/v2/") && api.ends_with(config_digest) {
        format!("config {method}")
    } else if api.starts_with("/v2/") && api.contains("/blobs/") {
        format!("layer {method}")
    } else {
        format!("page file {method}")
    }
}

/// `kind=N, kind=N` for a printed figure.
pub fn describe_counts(counts: &BTreeMap<String, usize>) -> String {
    counts
        .iter()
        .map(|(kind, n)| format!("{kind}={n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(method: &str, path: &str) -> Seen {
        Seen {
            method: method.into(),
            path: path.into(),
            from_browser: true,
        }
    }

    #[test]
    fn requests_are_counted_by_kind_directly_and_through_the_proxy() {
        let config = "sha256:cfg";
        let requests = [
            seen("OPTIONS", "/v2/a/manifests/1"),
            seen("GET", "/v2/"),
            seen("GET", "/proxy/127.0.0.1:5000/v2/"),
            seen("HEAD", "/proxy/127.0.0.1:5000/v2/a/manifests/1"),
            seen("GET", "/v2/a/manifests/sha256:m"),
            seen("GET", "/proxy/r:1/v2/a/blobs/sha256:cfg"),
            seen("GET", "/v2/a/blobs/sha256:l1"),
            seen("GET", "/v2/a/tags/list?n=5"),
            seen("GET", "/proxy-token/auth.example/token?scope=x"),
            seen("GET", "/layerscope-web_bg.wasm"),
        ];
        let counts = count_by_kind(&requests, config);
        assert_eq!(
            describe_counts(&counts),
            "config GET=1, layer GET=1, manifest GET=1, manifest HEAD=1, page file GET=1, \
             ping GET=2, preflight OPTIONS=1, tags GET=1, token GET=1"
        );
    }
}
