//! Debian's `docker-registry` (Distribution 2.8) on a free loopback port, with the
//! configurations the tests need: plain, CORS headers, htpasswd basic auth, bearer tokens.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::encoding::base64_standard;
use crate::http::{loopback_agent, read_reply};
use crate::token::{TokenIssuer, ISSUER_NAME, SERVICE_NAME};
use layerscope_test_support::{free_port, run_checked, ChildGuard, TempDir};

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
    token_auth: Option<TokenAuth>,
    client_credentials: Option<(String, String)>,
}

/// The `auth.token` section: where clients get tokens and which certificate signs them.
#[derive(Debug, Clone)]
struct TokenAuth {
    realm: String,
    cert_path: PathBuf,
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
        self.client_credentials = self.basic_auth.clone();
        self
    }

    /// Requires bearer tokens from `issuer` (`auth.token`); the registry verifies them
    /// against the issuer's certificate.
    pub fn with_token(mut self, issuer: &TokenIssuer) -> RegistryConfig {
        self.token_auth = Some(TokenAuth {
            realm: issuer.realm(),
            cert_path: issuer.cert_path().to_path_buf(),
        });
        self
    }

    /// Credentials the push helpers send (`skopeo --dest-creds`); with token auth they go to
    /// the issuer. [`RegistryConfig::with_htpasswd`] sets them too.
    pub fn with_credentials(mut self, user: &str, password: &str) -> RegistryConfig {
        self.client_credentials = Some((user.to_string(), password.to_string()));
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
        } else if let Some(token) = &self.token_auth {
            yaml.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {SERVICE_NAME}\n    issuer: {ISSUER_NAME}\n    rootcertbundle: {}\n",
                token.realm,
                token.cert_path.display()
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
    storage: PathBuf,
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
            credentials: config.client_credentials,
            config_path,
            storage,
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

    /// The user and password clients send (basic auth, or to the token issuer), if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// The file in the registry's storage holding blob `digest` (`sha256:...`): what the
    /// registry serves for it, as it is on disk (a test may write other bytes there: the
    /// registry checks a blob's digest when it is pushed, not when it is served, and this
    /// config keeps no cache of blob descriptors, so the size served is the file's).
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
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
        let agent = loopback_agent(Duration::from_secs(30));
        let url = format!("{}{path}", self.url());
        let mut request = agent.get(&url).header("Origin", "http://127.0.0.1");
        for (name, value) in extra_headers {
            request = request.header(*name, *value);
        }
        if let (true, Some((user, password))) = (authenticate, self.credentials()) {
            let token = base64_standard(format!("{user}:{password}").as_bytes());
            request = request.header("Authorization", format!("Basic {token}"));
        }
        let mut response = request
            .call()
            .unwrap_or_else(|error| panic!("GET {url}: {error}"));
        let reply = read_reply(&mut response, 64 * 1024 * 1024)
            .unwrap_or_else(|error| panic!("GET {url}: reading the body: {error}"));
        RegistryResponse {
            status: reply.status,
            body: reply.text(),
            headers: reply.headers,
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

#[cfg(test)]
mod tests {
    use super::*;

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
