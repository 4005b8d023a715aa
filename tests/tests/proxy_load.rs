//! The proxy of `layerscope serve` under load on loopback, against the real `docker-registry`:
//! 200 blob streams at once, each hashed by its reader and checked against its digest, while
//! the proxy's resident memory is sampled; it must stay flat (bounded by the streams in
//! flight, not by the bytes relayed).
//!
//! The blob is 2 MiB here (200 × 2 MiB = 400 MiB through the proxy, which the suite's
//! 2-core machine relays and hashes in seconds); `scripts/bench.sh proxy` runs the same test
//! with `LAYERSCOPE_LOAD_BLOB_MIB=100`, the full 200 × 100 MB.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use layerscope_e2e::http::loopback_agent;
use layerscope_e2e::{layerscope_binary, ChildGuard, Registry, RegistryConfig, TempDir};
use sha2::{Digest as _, Sha256};

const STREAMS: usize = 200;
const DEFAULT_BLOB_MIB: usize = 2;
const REPOSITORY: &str = "load/blob";

/// `layerscope serve` allowed to reach `registry`; killed on drop.
struct Proxy {
    port: u16,
    pid: u32,
    _stdout: BufReader<ChildStdout>,
    _dist: TempDir,
    _guard: ChildGuard,
}

impl Proxy {
    fn start(registry: &Registry) -> Proxy {
        let dist = TempDir::new("proxy-load-dist");
        std::fs::write(dist.path().join("index.html"), "<!doctype html>").unwrap();
        let mut command = Command::new(layerscope_binary());
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--dist"])
            .arg(dist.path())
            .args(["--insecure-registry", &registry.host()])
            // The streams all come from this one client: a share of all of them.
            .args(["--max-upstream-per-client", &STREAMS.to_string()])
            .stdout(Stdio::piped())
            // One log line per request: 200 of them are not worth keeping.
            .stderr(Stdio::null());
        let mut guard = ChildGuard::spawn("layerscope serve", command);
        let pid = guard.id();
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
            pid,
            _stdout: stdout,
            _dist: dist,
            _guard: guard,
        }
    }

    /// Resident memory now, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .expect("the proxy's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
    }
}

/// `size` bytes that do not compress (xorshift), so no layer of the path can shrink them.
fn incompressible(size: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::with_capacity(size + 8);
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
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
    let finish = format!("{location}{separator}digest={digest}");
    let response = agent
        .put(&finish)
        .header("Content-Type", "application/octet-stream")
        .send(blob)
        .expect("finish the upload");
    assert_eq!(response.status().as_u16(), 201, "PUT {finish}");
    digest
}

/// What one reader saw: the body's sha256 and length, and the digest header.
struct StreamRead {
    sha256: String,
    bytes: u64,
    header_digest: Option<String>,
}

/// GETs the blob through the proxy on a raw connection, hashing the body as it arrives.
fn read_through_proxy(port: u16, registry: &str, digest: &str) -> Result<StreamRead, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET /proxy/{registry}/v2/{REPOSITORY}/blobs/{digest} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    let mut status = String::new();
    reader.read_line(&mut status).map_err(|e| e.to_string())?;
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("status {status:?}"));
    }
    let mut header_digest = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("docker-content-digest") {
                header_digest = Some(value.trim().to_string());
            }
        }
    }
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let read = reader.read(&mut buffer).map_err(|e| e.to_string())?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        bytes += read as u64;
    }
    Ok(StreamRead {
        sha256: format!("sha256:{:x}", hasher.finalize()),
        bytes,
        header_digest,
    })
}

#[test]
fn two_hundred_blob_streams_at_once_arrive_whole_with_flat_proxy_memory() {
    let blob_mib: usize = std::env::var("LAYERSCOPE_LOAD_BLOB_MIB")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_BLOB_MIB);
    let size = blob_mib * 1024 * 1024;
    let registry = Registry::start(RegistryConfig::plain());
    let digest = {
        let blob = incompressible(size);
        push_blob(&registry, &blob)
    };
    let proxy = Proxy::start(&registry);
    let idle_kib = proxy.rss_kib();

    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = Arc::clone(&done);
        let pid = proxy.pid;
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !done.load(Ordering::SeqCst) {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                    let rss = status
                        .lines()
                        .find_map(|line| line.strip_prefix("VmRSS:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
                    if let Some(rss) = rss {
                        samples.push(rss);
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            samples
        })
    };
    let started = Instant::now();
    let barrier = Arc::new(Barrier::new(STREAMS));
    let readers: Vec<_> = (0..STREAMS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let digest = digest.clone();
            let port = proxy.port;
            let authority = registry.host();
            std::thread::spawn(move || {
                barrier.wait();
                read_through_proxy(port, &authority, &digest)
            })
        })
        .collect();
    let results: Vec<Result<StreamRead, String>> = readers
        .into_iter()
        .map(|reader| reader.join().expect("a reader thread panicked"))
        .collect();
    let elapsed = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let samples = sampler.join().unwrap();

    for (index, result) in results.iter().enumerate() {
        let read = result
            .as_ref()
            .unwrap_or_else(|error| panic!("stream {index}: {error}"));
        assert_eq!(read.bytes, size as u64, "stream {index}: length");
        assert_eq!(read.sha256, digest, "stream {index}: the body's sha256");
        assert_eq!(
            read.header_digest.as_deref(),
            Some(digest.as_str()),
            "stream {index}"
        );
    }
    let peak = samples.iter().copied().max().unwrap_or(idle_kib);
    // Flat: what the proxy holds in the last quarter of the run is no more than in the first
    // (a proxy that kept what it relayed would grow all the way).
    let quarter = samples.len() / 4;
    let early = samples[..quarter.max(1)].iter().copied().max().unwrap_or(0);
    let late = samples[samples.len() - quarter.max(1)..]
        .iter()
        .copied()
        .max()
        .unwrap_or(0);
    let total_mib = STREAMS * blob_mib;
    let seconds = elapsed.as_secs_f64();
    // In scripts/bench.sh's `name: value unit` form.
    println!("proxy_load_streams: {STREAMS} streams of {blob_mib} MiB ({total_mib} MiB)");
    println!("proxy_load_seconds: {seconds:.1} s");
    println!(
        "proxy_load_throughput: {:.0} MiB/s",
        total_mib as f64 / seconds
    );
    println!("proxy_load_idle_rss: {idle_kib} KiB");
    println!(
        "proxy_load_peak_rss: {peak} KiB ({} samples)",
        samples.len()
    );
    println!("proxy_load_early_quarter_max_rss: {early} KiB");
    println!("proxy_load_late_quarter_max_rss: {late} KiB");
    assert!(
        peak < 256 * 1024,
        "the proxy peaked at {peak} KiB relaying {STREAMS} streams"
    );
    assert!(
        late <= early + 32 * 1024,
        "the proxy grew from {early} KiB early to {late} KiB late in the run"
    );
}
