//! A test token issuer for Distribution's `auth.token`: answers `GET /token?service=&scope=`
//! with an ES256 JWT carrying its self-signed certificate as `x5c`, so the registry verifies
//! real tokens against `rootcertbundle`. Keys and signatures come from the `openssl` CLI.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::encoding::{base64_standard, base64_url};
use crate::http::loopback_agent;
use layerscope_core::registry::http::query_decode;
use layerscope_test_support::{run_checked, TempDir};

/// Lifetime of issued tokens.
const TOKEN_SECONDS: u64 = 300;
/// `iss` in tokens and `auth.token.issuer` in the registry config.
pub const ISSUER_NAME: &str = "layerscope-test-issuer";
/// `aud` in tokens and `auth.token.service` in the registry config.
pub const SERVICE_NAME: &str = "layerscope-test-registry";

/// Actions a user (or anonymous callers) may get on a repository.
#[derive(Debug, Clone)]
pub struct Grant {
    /// `None` for requests without credentials.
    pub user: Option<String>,
    /// The repository name, or `*` for every repository.
    pub repository: String,
    /// `pull`, `push`, `delete`, `*`.
    pub actions: Vec<String>,
}

impl Grant {
    /// A grant for an authenticated user.
    pub fn user(user: &str, repository: &str, actions: &[&str]) -> Grant {
        Grant {
            user: Some(user.to_string()),
            repository: repository.to_string(),
            actions: actions.iter().map(|action| action.to_string()).collect(),
        }
    }

    /// A grant for callers without credentials.
    pub fn anonymous(repository: &str, actions: &[&str]) -> Grant {
        Grant {
            user: None,
            repository: repository.to_string(),
            actions: actions.iter().map(|action| action.to_string()).collect(),
        }
    }
}

/// Who may log in and what each caller may do.
#[derive(Debug, Clone, Default)]
pub struct TokenPolicy {
    /// `(user, password)` pairs.
    pub accounts: Vec<(String, String)>,
    /// What each user (or anonymous callers) may do.
    pub grants: Vec<Grant>,
}

/// The running issuer; stops on drop.
pub struct TokenIssuer {
    port: u16,
    cert_path: PathBuf,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
    _dir: TempDir,
}

struct Signer {
    key_path: PathBuf,
    cert_der_base64: String,
    policy: TokenPolicy,
    token_counter: AtomicU64,
}

impl TokenIssuer {
    /// Creates a P-256 key and self-signed certificate and starts answering on a free port.
    pub fn start(policy: TokenPolicy) -> TokenIssuer {
        let dir = TempDir::new("token-issuer");
        let key_path = dir.path().join("issuer.key");
        let cert_path = dir.path().join("issuer.crt");
        make_certificate(&key_path, &cert_path);
        let der = run_checked_bytes(
            "converting the issuer certificate to DER",
            Command::new("openssl")
                .args(["x509", "-outform", "DER", "-in"])
                .arg(&cert_path),
        );
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind the token issuer"));
        let port = server
            .server_addr()
            .to_ip()
            .expect("token issuer listens on TCP")
            .port();
        let signer = Signer {
            key_path,
            cert_der_base64: base64_standard(&der),
            policy,
            token_counter: AtomicU64::new(0),
        };
        let thread_server = Arc::clone(&server);
        let thread = std::thread::spawn(move || {
            for request in thread_server.incoming_requests() {
                let _ = answer(&signer, request);
            }
        });
        TokenIssuer {
            port,
            cert_path,
            server,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT/token`, the registry's `auth.token.realm`.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The PEM certificate the registry trusts (`auth.token.rootcertbundle`).
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Asks the issuer for a token as a client would; `Err(status)` when it refuses.
    pub fn request_token(
        &self,
        scope: &str,
        credentials: Option<(&str, &str)>,
    ) -> Result<String, u16> {
        let agent = loopback_agent(Duration::from_secs(30));
        let mut request = agent
            .get(&self.realm())
            .query("service", SERVICE_NAME)
            .query("scope", scope);
        if let Some((user, password)) = credentials {
            let basic = base64_standard(format!("{user}:{password}").as_bytes());
            request = request.header("Authorization", format!("Basic {basic}"));
        }
        let mut response = request.call().expect("reach the token issuer");
        let status = response.status().as_u16();
        if status != 200 {
            return Err(status);
        }
        let body: Value = response
            .body_mut()
            .read_json()
            .expect("token response is JSON");
        Ok(body["token"].as_str().expect("token field").to_string())
    }
}

impl Drop for TokenIssuer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn make_certificate(key_path: &Path, cert_path: &Path) {
    run_checked(
        "creating the token issuer's key and certificate",
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args([
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={ISSUER_NAME}"),
            ])
            .arg("-keyout")
            .arg(key_path)
            .arg("-out")
            .arg(cert_path),
    );
}

fn answer(signer: &Signer, request: Request) -> std::io::Result<()> {
    let cors = |response: Response<std::io::Cursor<Vec<u8>>>| {
        response
            .with_header(header("Access-Control-Allow-Origin", "*"))
            .with_header(header("Access-Control-Allow-Headers", "Authorization"))
    };
    if request.method() == &Method::Options {
        return request.respond(cors(Response::from_string("").with_status_code(204)));
    }
    let (path, query) = request.url().split_once('?').unwrap_or((request.url(), ""));
    if path != "/token" || request.method() != &Method::Get {
        return request.respond(cors(
            Response::from_string("not found\n").with_status_code(404),
        ));
    }
    let params = parse_query(query);
    let user = match authenticated_user(signer, &request) {
        Ok(user) => user,
        Err(()) => {
            let body =
                json!({ "errors": [{ "code": "UNAUTHORIZED", "message": "bad credentials" }] });
            return request.respond(cors(
                Response::from_string(body.to_string()).with_status_code(401),
            ));
        }
    };
    let scopes: Vec<&str> = params
        .iter()
        .filter(|(key, _)| key == "scope")
        .flat_map(|(_, value)| value.split(' '))
        .collect();
    let access: Vec<Value> = scopes
        .iter()
        .filter_map(|scope| granted_access(&signer.policy, user.as_deref(), scope))
        .collect();
    let token = signer.sign(user.as_deref().unwrap_or(""), access);
    let body = json!({ "token": token, "access_token": token, "expires_in": TOKEN_SECONDS });
    request.respond(cors(
        Response::from_string(body.to_string())
            .with_header(header("Content-Type", "application/json")),
    ))
}

/// `Ok(None)` without credentials, `Ok(Some(user))` with valid ones, `Err` with bad ones.
fn authenticated_user(signer: &Signer, request: &Request) -> Result<Option<String>, ()> {
    let Some(authorization) = request
        .headers()
        .iter()
        .find(|header| header.field.equiv("Authorization"))
    else {
        return Ok(None);
    };
    let value = authorization.value.as_str();
    let valid = signer.policy.accounts.iter().find(|(user, password)| {
        value
            == format!(
                "Basic {}",
                base64_standard(format!("{user}:{password}").as_bytes())
            )
    });
    valid.map(|(user, _)| Some(user.clone())).ok_or(())
}

/// The `access` claim entry for a `repository:NAME:ACTIONS` scope: requested actions the
/// policy allows this caller, or `None` when it allows none.
fn granted_access(policy: &TokenPolicy, user: Option<&str>, scope: &str) -> Option<Value> {
    let mut parts = scope.splitn(3, ':');
    let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
    // Repository names with a registry port (`host:5000/x`) are not used in these tests.
    let allowed: Vec<&str> = actions
        .split(',')
        .filter(|action| {
            policy.grants.iter().any(|grant| {
                grant.user.as_deref() == user
                    && (grant.repository == "*" || grant.repository == name)
                    && grant
                        .actions
                        .iter()
                        .any(|allowed| allowed == action || allowed == "*")
            })
        })
        .collect();
    (kind == "repository" && !allowed.is_empty())
        .then(|| json!({ "type": kind, "name": name, "actions": allowed }))
}

impl Signer {
    fn sign(&self, subject: &str, access: Vec<Value>) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let serial = self.token_counter.fetch_add(1, Ordering::SeqCst);
        let header = json!({ "typ": "JWT", "alg": "ES256", "x5c": [self.cert_der_base64] });
        let claims = json!({
            "iss": ISSUER_NAME,
            "aud": SERVICE_NAME,
            "sub": subject,
            "iat": now,
            "nbf": now.saturating_sub(10),
            "exp": now + TOKEN_SECONDS,
            "jti": format!("layerscope-test-{}-{serial}", std::process::id()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            base64_url(header.to_string().as_bytes()),
            base64_url(claims.to_string().as_bytes())
        );
        let der_signature = openssl_sign(&self.key_path, signing_input.as_bytes());
        let raw = der_signature_to_raw(&der_signature)
            .unwrap_or_else(|message| panic!("openssl's ECDSA signature: {message}"));
        format!("{signing_input}.{}", base64_url(&raw))
    }
}

fn openssl_sign(key_path: &Path, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl dgst");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .expect("feed openssl dgst");
    let output = child.wait_with_output().expect("openssl dgst output");
    assert!(
        output.status.success(),
        "openssl dgst -sign failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// JWS wants ES256 signatures as fixed 32-byte r and s; openssl writes DER
/// `SEQUENCE { INTEGER r, INTEGER s }` with minimal, sign-padded integers.
pub fn der_signature_to_raw(der: &[u8]) -> Result<[u8; 64], String> {
    let body = match der {
        [0x30, length, body @ ..] if usize::from(*length) == body.len() => body,
        _ => return Err(format!("not a short DER SEQUENCE: {der:02x?}")),
    };
    let (r, rest) = der_integer(body)?;
    let (s, rest) = der_integer(rest)?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after r and s", rest.len()));
    }
    let mut raw = [0u8; 64];
    let (r_half, s_half) = raw.split_at_mut(32);
    for (integer, half) in [(r, r_half), (s, s_half)] {
        let trimmed = &integer[integer.iter().take_while(|&&byte| byte == 0).count()..];
        if trimmed.len() > 32 {
            return Err(format!("integer of {} bytes exceeds 32", trimmed.len()));
        }
        half[32 - trimmed.len()..].copy_from_slice(trimmed);
    }
    Ok(raw)
}

fn der_integer(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    match bytes {
        [0x02, length, rest @ ..] if usize::from(*length) <= rest.len() => {
            Ok(rest.split_at(usize::from(*length)))
        }
        _ => Err(format!("expected a DER INTEGER at {bytes:02x?}")),
    }
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (query_decode(key), query_decode(value))
        })
        .collect()
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn run_checked_bytes(what: &str, command: &mut Command) -> Vec<u8> {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{what}: {command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_signatures_become_fixed_width() {
        // r has a sign-padding zero (33 bytes), s is short (31 bytes).
        let mut der = vec![0x30, 0x44, 0x02, 0x21, 0x00];
        der.extend([0x80; 32]);
        der.extend([0x02, 0x1f]);
        der.extend([0x11; 31]);
        let raw = der_signature_to_raw(&der).unwrap();
        assert_eq!(&raw[..32], &[0x80; 32]);
        assert_eq!(raw[32], 0);
        assert_eq!(&raw[33..], &[0x11; 31]);
        assert!(der_signature_to_raw(&der[..10]).is_err());
    }

    #[test]
    fn scopes_grant_only_allowed_actions() {
        let policy = TokenPolicy {
            accounts: vec![],
            grants: vec![
                Grant::user("alice", "team/app", &["pull", "push"]),
                Grant::anonymous("open/app", &["pull"]),
            ],
        };
        let alice = granted_access(
            &policy,
            Some("alice"),
            "repository:team/app:pull,push,delete",
        );
        assert_eq!(alice.unwrap()["actions"], json!(["pull", "push"]));
        assert!(granted_access(&policy, None, "repository:team/app:pull").is_none());
        let open = granted_access(&policy, None, "repository:open/app:push,pull").unwrap();
        assert_eq!(open["actions"], json!(["pull"]));
        assert!(granted_access(&policy, Some("alice"), "registry:catalog:*").is_none());
    }

    #[test]
    fn query_values_are_percent_decoded() {
        let params = parse_query("service=reg&scope=repository%3Ateam%2Fapp%3Apull%2Cpush&x");
        assert_eq!(
            params[1],
            ("scope".into(), "repository:team/app:pull,push".into())
        );
        assert_eq!(params[2], ("x".into(), String::new()));
    }
}
