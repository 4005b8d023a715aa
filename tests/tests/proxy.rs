//! The registry proxy of `layerscope serve` against the real `docker-registry`: manifests and
//! blobs streamed through `/proxy/`, the token flow through `/proxy-token/` with a real token
//! issuer, cache headers by digest, and the refusal of a loopback registry without the flag.

use std::io::{BufRead, BufReader};
use std::process::{ChildStdout, Command, Stdio};
use std::time::Duration;

use layerscope_core::registry::auth::parse_challenges;
use layerscope_core::registry::http::percent_encode;
use layerscope_e2e::encoding::base64_standard;
use layerscope_e2e::http::loopback_agent;
use layerscope_e2e::token::SERVICE_NAME;
use layerscope_e2e::{
    layerscope_binary, push_dir_as_image, ChildGuard, Grant, PushedImage, Registry, RegistryConfig,
    TempDir, TokenIssuer, TokenPolicy,
};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const IMMUTABLE_PUBLIC: &str = "public, max-age=31536000, immutable";
const IMMUTABLE_PRIVATE: &str = "private, max-age=31536000, immutable";

/// `layerscope serve` with `--insecure-registry` for each given `HOST:PORT`; killed on drop.
struct ProxyServer {
    port: u16,
    _stdout: BufReader<ChildStdout>,
    _dist: TempDir,
    _guard: ChildGuard,
}

impl ProxyServer {
    fn start(insecure_registries: &[String]) -> ProxyServer {
        let dist = TempDir::new("proxy-dist");
        std::fs::write(dist.path().join("index.html"), "<!doctype html>").unwrap();
        let mut command = Command::new(layerscope_binary());
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--dist"])
            .arg(dist.path())
            .stdout(Stdio::piped());
        for registry in insecure_registries {
            command.args(["--insecure-registry", registry]);
        }
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
        ProxyServer {
            port,
            _stdout: stdout,
            _dist: dist,
            _guard: guard,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Fetched {
        let agent = loopback_agent(Duration::from_secs(60));
        let url = self.url(path);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(()).expect("a valid request");
        let mut response = agent
            .run(request)
            .unwrap_or_else(|error| panic!("{method} {url}: {error}"));
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .unwrap_or_else(|error| panic!("{method} {url}: reading the body: {error}"));
        Fetched {
            status: response.status().as_u16(),
            headers,
            body,
        }
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Fetched {
        self.send("GET", path, headers)
    }
}

#[derive(Debug)]
struct Fetched {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Fetched {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }
}

fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{hex}")
}

/// A root filesystem whose layer is a few MiB that gzip cannot shrink, so the blob crosses
/// the proxy in many chunks.
fn sample_rootfs() -> TempDir {
    let dir = TempDir::new("proxy-rootfs");
    std::fs::create_dir_all(dir.path().join("opt/data")).unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..3 * 1024 * 1024)
        .map(|_| {
            // xorshift64: incompressible enough, and the same on every run.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(dir.path().join("opt/data/noise.bin"), noise).unwrap();
    std::fs::write(
        dir.path().join("opt/data/hello.txt"),
        "hello through the proxy\n",
    )
    .unwrap();
    dir
}

/// The manifest's only layer: `(digest, size)`.
fn only_layer(manifest: &Value) -> (String, u64) {
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "{manifest}");
    (
        layers[0]["digest"].as_str().unwrap().to_string(),
        layers[0]["size"].as_u64().unwrap(),
    )
}

fn push_sample(registry: &Registry, repo_tag: &str) -> PushedImage {
    let rootfs = sample_rootfs();
    push_dir_as_image(rootfs.path(), registry, repo_tag)
}

#[test]
fn manifest_and_blob_stream_through_the_proxy_from_an_allowed_loopback_registry() {
    let registry = Registry::start(RegistryConfig::plain());
    let pushed = push_sample(&registry, "e2e/proxied:v1");
    let server = ProxyServer::start(&[registry.host()]);
    let base = format!("/proxy/{}/v2/e2e/proxied", registry.host());

    let by_tag = server.get(&format!("{base}/manifests/v1"), &[("Accept", OCI_MANIFEST)]);
    assert_eq!(by_tag.status, 200, "{}", by_tag.text());
    assert_eq!(
        by_tag.header("Docker-Content-Digest"),
        Some(pushed.digest.as_str())
    );
    assert_eq!(sha256_digest(&by_tag.body), pushed.digest);
    assert_eq!(
        by_tag.header("Cache-Control"),
        Some("no-cache"),
        "a tag can move: its manifest must be revalidated"
    );
    assert_eq!(
        by_tag.header("Access-Control-Allow-Origin"),
        None,
        "the proxy is same-origin only"
    );
    let exposed = by_tag
        .header("Access-Control-Expose-Headers")
        .unwrap_or_default();
    assert!(exposed.contains("Docker-Content-Digest"), "{exposed}");

    let by_digest = server.get(
        &format!("{base}/manifests/{}", pushed.digest),
        &[("Accept", OCI_MANIFEST)],
    );
    assert_eq!(by_digest.status, 200);
    assert_eq!(by_digest.header("Cache-Control"), Some(IMMUTABLE_PUBLIC));

    let (layer_digest, layer_size) = only_layer(&by_tag.json());
    assert!(layer_size > 3 * 1024 * 1024, "layer of {layer_size} bytes");
    let blob = server.get(&format!("{base}/blobs/{layer_digest}"), &[]);
    assert_eq!(blob.status, 200, "{}", blob.text());
    assert_eq!(blob.body.len() as u64, layer_size);
    assert_eq!(
        sha256_digest(&blob.body),
        layer_digest,
        "the streamed blob hashes to its name"
    );
    assert_eq!(blob.header("Cache-Control"), Some(IMMUTABLE_PUBLIC));
    assert_eq!(
        blob.header("Content-Length"),
        Some(layer_size.to_string().as_str())
    );

    let head = server.send("HEAD", &format!("{base}/blobs/{layer_digest}"), &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("Content-Length"),
        Some(layer_size.to_string().as_str())
    );

    let missing = server.get(
        &format!("{base}/manifests/no-such-tag"),
        &[("Accept", OCI_MANIFEST)],
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("Cache-Control"), Some("no-store"));
}

#[test]
fn a_loopback_registry_is_refused_without_the_flag() {
    let registry = Registry::start(RegistryConfig::plain());
    let server = ProxyServer::start(&[]);
    let refused = server.get(&format!("/proxy/{}/v2/", registry.host()), &[]);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.text().contains("loopback") && refused.text().contains("--insecure-registry"),
        "{}",
        refused.text()
    );
    let allowed = ProxyServer::start(&[registry.host()]);
    assert_eq!(
        allowed
            .get(&format!("/proxy/{}/v2/", registry.host()), &[])
            .status,
        200
    );
}

#[test]
fn the_token_flow_stays_on_the_proxy() {
    let issuer = TokenIssuer::start(TokenPolicy {
        accounts: vec![("tester".to_string(), "token-pass".to_string())],
        grants: vec![Grant::user("tester", "team/app", &["pull", "push"])],
    });
    let registry = Registry::start(
        RegistryConfig::plain()
            .with_token(&issuer)
            .with_credentials("tester", "token-pass"),
    );
    let pushed = push_sample(&registry, "team/app:1.0");
    let issuer_host = issuer
        .realm()
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/token"))
        .expect("the issuer's realm is http://HOST:PORT/token")
        .to_string();
    let server = ProxyServer::start(&[registry.host(), issuer_host.clone()]);
    let manifest_path = format!("/proxy/{}/v2/team/app/manifests/1.0", registry.host());

    let challenged = server.get(&manifest_path, &[("Accept", OCI_MANIFEST)]);
    assert_eq!(challenged.status, 401, "{}", challenged.text());
    assert_eq!(challenged.header("Cache-Control"), Some("no-store"));
    let header = challenged.header("WWW-Authenticate").expect("a challenge");
    let challenges = parse_challenges(header).expect("the rewritten challenge parses");
    let bearer = challenges
        .iter()
        .find(|challenge| challenge.is_bearer())
        .expect("a Bearer challenge");
    let realm = bearer.realm().expect("a realm");
    assert_eq!(
        realm,
        format!("/proxy-token/{issuer_host}/token"),
        "the realm points at the proxy: {header}"
    );
    assert_eq!(bearer.service(), Some(SERVICE_NAME));
    let scope = bearer.param("scope").expect("a scope");
    assert_eq!(scope, "repository:team/app:pull");

    let token_path = format!(
        "{realm}?service={}&scope={}",
        percent_encode(SERVICE_NAME),
        percent_encode(scope)
    );
    let basic = format!("Basic {}", base64_standard(b"tester:token-pass"));
    let token_response = server.get(&token_path, &[("Authorization", &basic)]);
    assert_eq!(token_response.status, 200, "{}", token_response.text());
    assert_eq!(
        token_response.header("Cache-Control"),
        Some("no-store"),
        "tokens are credentials"
    );
    let token = token_response.json()["token"]
        .as_str()
        .expect("a token")
        .to_string();
    let wrong_password = format!("Basic {}", base64_standard(b"tester:wrong"));
    assert_eq!(
        server
            .get(&token_path, &[("Authorization", &wrong_password)])
            .status,
        401
    );

    let bearer_header = format!("Bearer {token}");
    let manifest = server.get(
        &manifest_path,
        &[("Accept", OCI_MANIFEST), ("Authorization", &bearer_header)],
    );
    assert_eq!(manifest.status, 200, "{}", manifest.text());
    assert_eq!(sha256_digest(&manifest.body), pushed.digest);
    let (layer_digest, layer_size) = only_layer(&manifest.json());
    let blob = server.get(
        &format!(
            "/proxy/{}/v2/team/app/blobs/{layer_digest}",
            registry.host()
        ),
        &[("Authorization", &bearer_header)],
    );
    assert_eq!(blob.status, 200, "{}", blob.text());
    assert_eq!(blob.body.len() as u64, layer_size);
    assert_eq!(sha256_digest(&blob.body), layer_digest);
    assert_eq!(
        blob.header("Cache-Control"),
        Some(IMMUTABLE_PRIVATE),
        "a blob fetched with a token stays in the browser's own cache"
    );
}
