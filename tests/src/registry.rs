//! Debian's `docker-registry` (Distribution 2.8) on a free loopback port, with the
//! configurations the tests need: plain, CORS headers, htpasswd basic auth.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::{free_port, run_checked, ChildGuard, TempDir};

const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";
const HTPASSWD_BINARY: &str = "/usr/bin/htpasswd";
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Headers the browser may read from cross-origin registry responses.
const EXPOSED_HEADERS: &[&str] = &[
    "Docker-Content-Digest",
    "Docker-Distribution-Api-Version",
    "WWW-Authenticate",
    "Link",
    "Content-Length",
    "Content-Range",
    "Content-Type",
];

/// What to put in a registry's config file. Start from [`RegistryConfig::plain`].
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    cors_origin: Option<String>,
    basic_auth: Option<(String, String)>,
}

impl RegistryConfig {
    /// No auth, no CORS headers.
    pub fn plain() -> RegistryConfig {
        RegistryConfig::default()
    }

    /// Adds `Access-Control-Allow-*` / `-Expose-Headers` response headers (via `http.headers`)
    /// allowing `origin` (`*` or `http://127.0.0.1:PORT`).
    pub fn with_cors(mut self, origin: &str) -> RegistryConfig {
        self.cors_origin = Some(origin.to_string());
        self
    }

    /// Requires HTTP basic auth for one user (bcrypt htpasswd file, `auth.htpasswd`).
    pub fn with_htpasswd(mut self, user: &str, password: &str) -> RegistryConfig {
        self.basic_auth = Some((user.to_string(), password.to_string()));
        self
    }

    /// The YAML config for a registry on `port` storing blobs in `storage`.
    fn render(&self, port: u16, storage: &Path, htpasswd_file: &Path) -> String {
        let mut yaml = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  headers:\n    X-Content-Type-Options: [nosniff]\n",
            storage = storage.display()
        );
        if let Some(origin) = &self.cors_origin {
            yaml.push_str(&format!(
                "    Access-Control-Allow-Origin: ['{origin}']\n\
                 \x20   Access-Control-Allow-Methods: [HEAD, GET, OPTIONS]\n\
                 \x20   Access-Control-Allow-Headers: [Authorization, Accept, Range, Content-Type]\n\
                 \x20   Access-Control-Expose-Headers: [{}]\n",
                EXPOSED_HEADERS.join(", ")
            ));
        }
        if self.basic_auth.is_some() {
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: layerscope-test\n    path: {}\n",
                htpasswd_file.display()
            ));
        }
        yaml
    }
}

/// A running registry; killed and its storage removed on drop.
pub struct Registry {
    /// The port it listens on.
    pub port: u16,
    credentials: Option<(String, String)>,
    config_path: PathBuf,
    _guard: ChildGuard,
    _dir: TempDir,
}

/// A response from [`Registry::get`].
#[derive(Debug)]
pub struct RegistryResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl RegistryResponse {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl Registry {
    /// Writes the config, starts `docker-registry serve` and waits until it listens.
    pub fn start(config: RegistryConfig) -> Registry {
        assert!(
            Path::new(REGISTRY_BINARY).exists(),
            "{REGISTRY_BINARY} is missing: install Debian's docker-registry"
        );
        let dir = TempDir::new("registry");
        let storage = dir.path().join("storage");
        let htpasswd_file = dir.path().join("htpasswd");
        if let Some((user, password)) = &config.basic_auth {
            write_htpasswd(&htpasswd_file, user, password);
        }
        let port = free_port();
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config.render(port, &storage, &htpasswd_file))
            .expect("write registry config");
        let mut command = Command::new(REGISTRY_BINARY);
        command.arg("serve").arg(&config_path).stdout(Stdio::null());
        let mut guard = ChildGuard::spawn("docker-registry", command);
        guard.wait_for_port(port, START_TIMEOUT);
        Registry {
            port,
            credentials: config.basic_auth,
            config_path,
            _guard: guard,
            _dir: dir,
        }
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// The basic-auth user and password, if the config has them.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// The config file the registry runs with (for diagnostics).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// `GET url()+path`, with basic auth when `authenticate` and the registry has credentials;
    /// any status is returned, not turned into an error.
    pub fn get(&self, path: &str, authenticate: bool) -> RegistryResponse {
        self.get_with_headers(path, authenticate, &[])
    }

    /// [`Registry::get`] with extra request headers (e.g. `Accept` for manifests).
    pub fn get_with_headers(
        &self,
        path: &str,
        authenticate: bool,
        extra_headers: &[(&str, &str)],
    ) -> RegistryResponse {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let url = format!("{}{path}", self.url());
        let mut request = agent.get(&url).header("Origin", "http://127.0.0.1");
        for (name, value) in extra_headers {
            request = request.header(*name, *value);
        }
        if let (true, Some((user, password))) = (authenticate, self.credentials()) {
            let token = base64_encode(format!("{user}:{password}").as_bytes());
            request = request.header("Authorization", format!("Basic {token}"));
        }
        let mut response = request
            .call()
            .unwrap_or_else(|error| panic!("GET {url}: {error}"));
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
        RegistryResponse {
            status: response.status().as_u16(),
            headers,
            body: response
                .body_mut()
                .read_to_string()
                .unwrap_or_else(|error| panic!("GET {url}: reading the body: {error}")),
        }
    }
}

fn write_htpasswd(file: &Path, user: &str, password: &str) {
    assert!(
        Path::new(HTPASSWD_BINARY).exists(),
        "{HTPASSWD_BINARY} is missing: install Debian's apache2-utils"
    );
    // Distribution accepts only bcrypt entries (-B).
    run_checked(
        "writing the registry's htpasswd file",
        Command::new(HTPASSWD_BINARY)
            .args(["-B", "-b", "-c"])
            .arg(file)
            .args([user, password]),
    );
}

/// Standard base64 with padding (for the Basic auth header).
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for position in 0..4 {
            if position <= chunk.len() {
                let index = (group >> (18 - 6 * position)) & 0x3f;
                encoded.push(char::from(ALPHABET[index as usize]));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes()), encoded, "{plain:?}");
        }
    }

    #[test]
    fn cors_and_htpasswd_land_in_the_config() {
        let yaml = RegistryConfig::plain()
            .with_cors("*")
            .with_htpasswd("alice", "secret")
            .render(5555, Path::new("/s"), Path::new("/h"));
        assert!(yaml.contains("addr: 127.0.0.1:5555"), "{yaml}");
        assert!(
            yaml.contains("    Access-Control-Allow-Origin: ['*']\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("    Access-Control-Expose-Headers: [Docker-Content-Digest,"),
            "{yaml}"
        );
        assert!(
            yaml.contains("auth:\n  htpasswd:\n    realm: layerscope-test\n    path: /h\n"),
            "{yaml}"
        );
        let plain = RegistryConfig::plain().render(1, Path::new("/s"), Path::new("/h"));
        assert!(
            !plain.contains("Access-Control") && !plain.contains("auth:"),
            "{plain}"
        );
    }
}
