//! Authentication: `WWW-Authenticate` challenges, token requests and responses, the token
//! cache, and [`Credentials`].
//!
//! Registries speak the Docker token protocol (the distribution project's `docs/spec/auth/
//! token.md`): a request without a token gets `401` and a challenge such as
//! `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",
//! scope="repository:library/nginx:pull"`; the client asks the realm for a token
//! (`GET realm?service=..&scope=..`, anonymously or with Basic credentials) and repeats the
//! request with `Authorization: Bearer <token>`. Registries with only htpasswd answer
//! `Basic realm="..."` and take the credentials directly.

use std::collections::HashMap;
use std::fmt;

use super::error::{ChallengeError, TokenError};
use super::http::{percent_encode, Method, Request, Response, Url};
use crate::model::time::Timestamp;

/// The largest token response read: tokens are JWTs of a few KiB (Docker Hub's are about
/// 1-4 KiB, with the same token twice as `token` and `access_token`).
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// How long a token lives when the response has no `expires_in`: the token spec says 60
/// seconds, and that issuers should never hand out less.
pub const DEFAULT_TOKEN_LIFETIME_SECS: i64 = 60;

/// A token counts as expired this many seconds before its end, so a request that leaves
/// just before expiry does not arrive just after it.
pub const EXPIRY_MARGIN_SECS: i64 = 5;

/// How many tokens a [`TokenCache`] keeps; a session touches one scope per repository.
pub const MAX_CACHED_TOKENS: usize = 64;

/// A user name and a password or access token.
///
/// `Debug` never prints the secret, so credentials can sit in structs that are logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or personal access token.
    pub secret: String,
}

impl Credentials {
    /// Credentials from a user name and secret.
    pub fn new(username: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            secret: secret.into(),
        }
    }

    /// The `Authorization` value for Basic authentication (RFC 7617): `Basic` and the
    /// base64 of `username:secret`.
    pub fn basic_authorization(&self) -> String {
        format!(
            "Basic {}",
            super::base64::encode(format!("{}:{}", self.username, self.secret).as_bytes())
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// One challenge of a `WWW-Authenticate` header (RFC 7235 section 2.1).
///
/// The scheme and parameter names are lower-cased (both are case-insensitive); values are
/// kept as sent, with quoting and backslash escapes undone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// `bearer`, `basic`, ... in lower case.
    pub scheme: String,
    /// The `token68` form some schemes use instead of parameters (`Negotiate abc==`).
    pub token68: Option<String>,
    /// Parameters in order; names lower case. A repeated name keeps its first value.
    pub params: Vec<(String, String)>,
}

/// The challenge as `WWW-Authenticate` text again (schemes capitalized as registries send
/// them, every parameter quoted and escaped), so a proxy can rewrite one parameter and hand
/// the rest on unchanged.
impl std::fmt::Display for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.scheme.as_str() {
            "bearer" => "Bearer",
            "basic" => "Basic",
            other => other,
        };
        f.write_str(scheme)?;
        if let Some(token68) = &self.token68 {
            return write!(f, " {token68}");
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            write!(f, "{}{name}=\"{escaped}\"", if i == 0 { " " } else { "," })?;
        }
        Ok(())
    }
}

impl Challenge {
    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is a Bearer (token) challenge.
    pub fn is_bearer(&self) -> bool {
        self.scheme == "bearer"
    }

    /// Whether this is a Basic challenge.
    pub fn is_basic(&self) -> bool {
        self.scheme == "basic"
    }

    /// `realm`: for Bearer, the token service's URL; for Basic, a name for people.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// `service`: the name the token service knows the registry by.
    pub fn service(&self) -> Option<&str> {
        self.param("service")
    }

    /// `scope`: the scopes the request needed, space-separated.
    pub fn scopes(&self) -> Vec<Scope> {
        self.param("scope")
            .map(|s| s.split_whitespace().map(Scope::from_raw).collect())
            .unwrap_or_default()
    }

    /// `error`: RFC 6750's error code; Distribution sends `insufficient_scope` when the
    /// token it was given does not grant the scope.
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }

    /// Whether the registry said the token lacked the scope.
    pub fn is_insufficient_scope(&self) -> bool {
        self.error()
            .is_some_and(|e| e.eq_ignore_ascii_case("insufficient_scope"))
    }
}

/// Every challenge of every `WWW-Authenticate` header of `response`.
pub fn response_challenges(response: &Response) -> Result<Vec<Challenge>, ChallengeError> {
    let mut all = Vec::new();
    for value in response.header_values("www-authenticate") {
        all.extend(parse_challenges(value)?);
    }
    Ok(all)
}

/// Parses a `WWW-Authenticate` value: one or more comma-separated challenges, each a scheme
/// followed by a `token68` or by `name=value` parameters whose values are tokens or quoted
/// strings (RFC 7235 section 4.1, RFC 9110 section 11.6.1).
///
/// The comma is both the separator of parameters and of challenges; a name followed by
/// `=` continues the current challenge and anything else starts the next one. A quoted
/// string may contain commas (`scope="repository:a:pull,push"`, the token spec's own
/// example) and backslash escapes. Distribution's client (`registry/client/auth/challenge`)
/// reads one challenge per header line and stops at the first malformed parameter; this
/// parser reads every challenge of a line and reports a malformed one with its offset,
/// so a broken header is a clear error rather than a silently missing realm.
pub fn parse_challenges(header: &str) -> Result<Vec<Challenge>, ChallengeError> {
    let mut p = Parser {
        text: header,
        bytes: header.as_bytes(),
        at: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip_list_separators();
        if p.done() {
            break;
        }
        let scheme = p
            .token()
            .ok_or_else(|| p.error("expected an authentication scheme"))?;
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            token68: None,
            params: Vec::new(),
        };
        let spaces = p.skip_spaces();
        if !p.done() && p.peek() != Some(b',') {
            if spaces == 0 {
                return Err(p.error("expected a space after the authentication scheme"));
            }
            if p.param_ahead() {
                p.params_into(&mut challenge)?;
            } else {
                challenge.token68 = Some(p.token68()?);
                p.skip_spaces();
                if !p.done() && p.peek() != Some(b',') {
                    return Err(p.error("expected ',' after the token68 value"));
                }
            }
        }
        out.push(challenge);
    }
    if out.is_empty() {
        return Err(ChallengeError::new(
            header,
            0,
            "the header holds no challenge",
        ));
    }
    Ok(out)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl<'a> Parser<'a> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn error(&self, reason: &'static str) -> ChallengeError {
        ChallengeError::new(self.text, self.at, reason)
    }

    fn skip_spaces(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
        self.at - start
    }

    /// Commas and whitespace between list elements; RFC 9110's `#rule` allows empty ones.
    fn skip_list_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.at += 1;
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        let start = self.at;
        while self.peek().is_some_and(is_tchar) {
            self.at += 1;
        }
        (self.at > start).then(|| &self.text[start..self.at])
    }

    /// Whether `name BWS "=" BWS (token / quoted-string)` starts here, without moving.
    /// A `token68` may end in `=` padding, but then no value follows the `=`.
    fn param_ahead(&self) -> bool {
        let mut i = self.at;
        let b = self.bytes;
        let start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            return false;
        }
        i += 1;
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        i < b.len() && (b[i] == b'"' || is_tchar(b[i]))
    }

    /// Whether `name BWS "="` starts here: after a comma that is a parameter (a token68
    /// only ever follows the scheme), even when the value after `=` is missing.
    fn name_and_equals_ahead(&self) -> bool {
        let b = self.bytes;
        let mut i = self.at;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if i == self.at {
            return false;
        }
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        i < b.len() && b[i] == b'='
    }

    fn token68(&mut self) -> Result<String, ChallengeError> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
        {
            self.at += 1;
        }
        if self.at == start {
            return Err(self.error("expected parameters or a token68 value"));
        }
        while self.peek() == Some(b'=') {
            self.at += 1;
        }
        Ok(self.text[start..self.at].to_string())
    }

    fn quoted(&mut self) -> Result<String, ChallengeError> {
        let open = self.at;
        self.at += 1;
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ChallengeError::new(
                        self.text,
                        open,
                        "a quoted string is not closed",
                    ))
                }
                Some(b'"') => {
                    self.at += 1;
                    break;
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(c) if c != b'\r' && c != b'\n' => {
                            value.push(c);
                            self.at += 1;
                        }
                        _ => return Err(self.error("a backslash at the end of a quoted string")),
                    }
                }
                Some(c) if c < 0x20 && c != b'\t' || c == 0x7f => {
                    return Err(self.error("a control character in a quoted string"))
                }
                Some(c) => {
                    value.push(c);
                    self.at += 1;
                }
            }
        }
        Ok(String::from_utf8_lossy(&value).into_owned())
    }

    /// Parameters of one challenge, until the end or a comma followed by something that is
    /// not a parameter (the next challenge's scheme).
    fn params_into(&mut self, challenge: &mut Challenge) -> Result<(), ChallengeError> {
        loop {
            let name = self
                .token()
                .ok_or_else(|| self.error("expected a parameter name"))?
                .to_ascii_lowercase();
            self.skip_spaces();
            if self.peek() != Some(b'=') {
                return Err(self.error("expected '=' after the parameter name"));
            }
            self.at += 1;
            self.skip_spaces();
            let value = match self.peek() {
                Some(b'"') => self.quoted()?,
                _ => self
                    .token()
                    .ok_or_else(|| self.error("expected a token or a quoted string"))?
                    .to_string(),
            };
            if challenge.param(&name).is_none() {
                challenge.params.push((name, value));
            }
            self.skip_spaces();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => {
                    let comma = self.at;
                    self.skip_list_separators();
                    if self.done() {
                        return Ok(());
                    }
                    if !self.name_and_equals_ahead() {
                        // The next challenge starts here.
                        self.at = comma;
                        return Ok(());
                    }
                }
                Some(_) => return Err(self.error("expected ',' between parameters")),
            }
        }
    }
}

/// An access scope as the token protocol writes it: `type:name:actions`, e.g.
/// `repository:library/nginx:pull` or `registry:catalog:*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    /// Pull access to one repository.
    pub fn pull(repository: &str) -> Scope {
        Scope(format!("repository:{repository}:pull"))
    }

    /// Access to the registry's catalog (`/v2/_catalog`), as Distribution names it.
    pub fn catalog() -> Scope {
        Scope("registry:catalog:*".to_string())
    }

    /// A scope exactly as a challenge named it.
    pub fn from_raw(text: &str) -> Scope {
        Scope(text.to_string())
    }

    /// The scope text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The token request for a Bearer challenge's `realm`: `GET realm?service=..&scope=..`,
/// one `scope` parameter per scope, each percent-encoded. Parameters already in the realm
/// URL are kept. With credentials, `Authorization: Basic` is added and `account` names the
/// user, as Docker's client sends it; without, the request is anonymous.
///
/// The order of `scopes` is kept: go-containerregistry notes that some token services only
/// honour the first scope of a request, so the session puts the scope a challenge asked for
/// first.
pub fn token_request(
    realm: &Url,
    service: Option<&str>,
    scopes: &[Scope],
    credentials: Option<&Credentials>,
) -> Request {
    let mut query: Vec<String> = realm
        .query()
        .filter(|q| !q.is_empty())
        .map(|q| vec![q.to_string()])
        .unwrap_or_default();
    if let Some(service) = service {
        query.push(format!("service={}", percent_encode(service)));
    }
    for scope in scopes {
        query.push(format!("scope={}", percent_encode(scope.as_str())));
    }
    if let Some(c) = credentials {
        query.push(format!("account={}", percent_encode(&c.username)));
    }
    let mut url = format!(
        "{}://{}{}",
        realm.scheme().as_str(),
        realm.host(),
        realm.path()
    );
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    let mut request = Request::new(Method::Get, url);
    if let Some(c) = credentials {
        request.set_header("Authorization", c.basic_authorization());
    }
    request
}

/// A bearer token and when it stops being good. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    value: String,
    expires_at: i64,
}

impl Token {
    /// A token valid until `expires_at` (Unix seconds).
    pub fn new(value: impl Into<String>, expires_at: i64) -> Token {
        Token {
            value: value.into(),
            expires_at,
        }
    }

    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        format!("Bearer {}", self.value)
    }

    /// When the token expires, Unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// Whether the token can still be sent at `now` (with [`EXPIRY_MARGIN_SECS`] to spare).
    pub fn is_fresh(&self, now: i64) -> bool {
        now.saturating_add(EXPIRY_MARGIN_SECS) < self.expires_at
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct TokenBody {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    issued_at: Option<String>,
}

/// Parses a token service's answer, received at `now` (Unix seconds).
///
/// - The token is `token`, or `access_token` when `token` is missing or empty: the OAuth2
///   form some services send alone (go-containerregistry and containers/image both fall
///   back to it).
/// - It lives `expires_in` seconds, 60 when absent (the token spec's default); a value
///   that is not a positive integer counts as absent. Small values are honoured, not raised
///   to 60 as containers/image does: a short-lived token costs a refresh, a token kept
///   past its life costs a failed request.
/// - The lifetime counts from `issued_at` when given and not after `now` (a server clock
///   ahead of ours must not stretch the token), else from `now`. An unreadable `issued_at`
///   is ignored, as the spec makes it optional. A client clock far ahead of the server's
///   makes tokens look stale early, which costs a token request, never a failed one: the
///   session sends a token it just received regardless of its age.
pub fn parse_token_response(body: &[u8], now: i64) -> Result<Token, TokenError> {
    if body.len() > MAX_TOKEN_RESPONSE_BYTES {
        return Err(TokenError::TooLarge {
            size: body.len(),
            limit: MAX_TOKEN_RESPONSE_BYTES,
        });
    }
    let parsed: TokenBody = serde_json::from_slice(body).map_err(|e| TokenError::NotJson {
        detail: e.to_string(),
    })?;
    let value = [parsed.token, parsed.access_token]
        .into_iter()
        .flatten()
        .find(|t| !t.is_empty())
        .ok_or(TokenError::NoToken)?;
    if !value.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(TokenError::BadToken);
    }
    let lifetime = parsed
        .expires_in
        .and_then(|v| v.as_i64())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS);
    let issued = parsed
        .issued_at
        .and_then(|t| Timestamp::parse(&t).ok())
        .map_or(now, |t| t.unix.min(now));
    Ok(Token {
        value,
        expires_at: issued.saturating_add(lifetime),
    })
}

/// Tokens by registry and scope, so several manifests and blobs of one repository cost one
/// token request. The caller's clock decides expiry: every call takes `now`.
#[derive(Clone, Debug, Default)]
pub struct TokenCache {
    tokens: HashMap<(String, Scope), Token>,
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> TokenCache {
        TokenCache::default()
    }

    /// The token for `registry` and `scope` if it is still fresh at `now`.
    pub fn get(&self, registry: &str, scope: &Scope, now: i64) -> Option<&Token> {
        self.tokens
            .get(&(registry.to_string(), scope.clone()))
            .filter(|t| t.is_fresh(now))
    }

    /// Stores a token; when the cache is full, expired tokens go first, then the one that
    /// expires soonest.
    pub fn insert(&mut self, registry: &str, scope: Scope, token: Token, now: i64) {
        let key = (registry.to_string(), scope);
        if !self.tokens.contains_key(&key) && self.tokens.len() >= MAX_CACHED_TOKENS {
            self.tokens.retain(|_, t| t.is_fresh(now));
            if self.tokens.len() >= MAX_CACHED_TOKENS {
                if let Some(soonest) = self
                    .tokens
                    .iter()
                    .min_by_key(|(_, t)| t.expires_at)
                    .map(|(k, _)| k.clone())
                {
                    self.tokens.remove(&soonest);
                }
            }
        }
        self.tokens.insert(key, token);
    }

    /// Forgets the token for `registry` and `scope` (the registry refused it).
    pub fn remove(&mut self, registry: &str, scope: &Scope) {
        self.tokens.remove(&(registry.to_string(), scope.clone()));
    }

    /// How many tokens are held, fresh or not.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(header: &str) -> Challenge {
        let mut all = parse_challenges(header).unwrap_or_else(|e| panic!("{header}: {e}"));
        assert_eq!(all.len(), 1, "{header}: {all:?}");
        all.remove(0)
    }

    #[test]
    fn docker_hub_challenge() {
        let c = one("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/nginx:pull\"");
        assert!(c.is_bearer());
        assert_eq!(c.realm(), Some("https://auth.docker.io/token"));
        assert_eq!(c.service(), Some("registry.docker.io"));
        assert_eq!(c.scopes(), vec![Scope::pull("library/nginx")]);
        assert!(!c.is_insufficient_scope());
        // Docker Hub's answer to `GET /v2/` names no scope.
        let ping =
            one("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\"");
        assert!(ping.scopes().is_empty());
    }

    #[test]
    fn ghcr_and_distribution_challenges() {
        let c = one("Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\",scope=\"repository:user/image:pull\"");
        assert_eq!(c.realm(), Some("https://ghcr.io/token"));
        assert_eq!(c.scopes(), vec![Scope::pull("user/image")]);
        let basic = one("Basic realm=\"Registry Realm\"");
        assert!(basic.is_basic());
        assert_eq!(basic.realm(), Some("Registry Realm"));
        // The token spec's example: a comma inside a quoted scope.
        let c = one("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:samalba/my-app:pull,push\"");
        assert_eq!(
            c.param("scope"),
            Some("repository:samalba/my-app:pull,push")
        );
        assert_eq!(c.params.len(), 3);
    }

    #[test]
    fn insufficient_scope_is_recognized() {
        let c = one("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/private:pull\",error=\"insufficient_scope\"");
        assert_eq!(c.error(), Some("insufficient_scope"));
        assert!(c.is_insufficient_scope());
    }

    #[test]
    fn several_challenges_in_one_header() {
        let all = parse_challenges(
            "Basic realm=\"x, y\", Bearer realm=\"https://a/t\" , service=s,Negotiate abc+/==, NTLM",
        )
        .unwrap();
        let schemes: Vec<&str> = all.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["basic", "bearer", "negotiate", "ntlm"]);
        assert_eq!(all[0].realm(), Some("x, y"));
        assert_eq!(all[1].service(), Some("s"));
        assert_eq!(all[2].token68.as_deref(), Some("abc+/=="));
        assert!(all[3].params.is_empty() && all[3].token68.is_none());
    }

    #[test]
    fn case_escapes_tokens_and_spacing() {
        let c = one("BEARER Realm = \"https://a/\\\"q\\\\\" ,SERVICE=reg.example,  Scope=\"\"");
        assert!(c.is_bearer());
        assert_eq!(c.realm(), Some("https://a/\"q\\"));
        assert_eq!(c.service(), Some("reg.example"));
        assert_eq!(c.param("scope"), Some(""));
        // Empty list elements are allowed around challenges.
        let all = parse_challenges(" , Basic realm=r ,, ").unwrap();
        assert_eq!(all.len(), 1);
        // A repeated parameter keeps its first value.
        assert_eq!(one("Basic realm=a, realm=b").realm(), Some("a"));
        // A token68 ending in '=' padding is not a parameter.
        assert_eq!(one("Negotiate YII=").token68.as_deref(), Some("YII="));
    }

    #[test]
    fn malformed_headers_say_where() {
        for (header, needle) in [
            ("", "no challenge"),
            ("Bearer realm=\"unclosed", "not closed"),
            ("Bearer realm=\"a\" service=\"b\"", "expected ','"),
            ("Bearer @", "parameters or a token68"),
            (
                "Bearer realm=\"a\",service=",
                "expected a token or a quoted string",
            ),
            ("Bearer realm=\"a\\", "backslash"),
            ("Bearer realm=\"a\u{1}\"", "control character"),
            ("=x", "authentication scheme"),
            ("Bearer\"x\"", "space after"),
        ] {
            let err = parse_challenges(header).unwrap_err().to_string();
            assert!(err.contains(needle), "{header:?}: {err}");
        }
    }

    #[test]
    fn challenges_from_every_header_line() {
        let r = Response::new(401)
            .with_header("Www-Authenticate", "Basic realm=\"a\"")
            .with_header("WWW-Authenticate", "Bearer realm=\"https://t/\"");
        let all = response_challenges(&r).unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[1].is_bearer());
    }

    #[test]
    fn anonymous_token_request() {
        let realm = Url::parse("https://auth.docker.io/token").unwrap();
        let r = token_request(
            &realm,
            Some("registry.docker.io"),
            &[Scope::pull("library/nginx")],
            None,
        );
        assert_eq!(r.method, Method::Get);
        assert_eq!(
            r.url,
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull"
        );
        assert!(!r.is_authorized());
    }

    #[test]
    fn token_request_with_credentials_and_several_scopes() {
        let realm = Url::parse("https://r.example/auth?client=ls").unwrap();
        let creds = Credentials::new("ana", "pa ss:wörd");
        let r = token_request(
            &realm,
            Some("r example"),
            &[Scope::pull("a/b"), Scope::catalog()],
            Some(&creds),
        );
        assert_eq!(
            r.url,
            "https://r.example/auth?client=ls&service=r%20example&scope=repository%3Aa%2Fb%3Apull&scope=registry%3Acatalog%3A%2A&account=ana"
        );
        assert_eq!(
            r.header("authorization"),
            Some(
                format!(
                    "Basic {}",
                    crate::registry::base64::encode("ana:pa ss:wörd".as_bytes())
                )
                .as_str()
            )
        );
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        let shown = format!("{:?}", Credentials::new("ana", "hunter2"));
        assert!(
            shown.contains("ana") && !shown.contains("hunter2"),
            "{shown}"
        );
        let shown = format!("{:?}", Token::new("eyJsecret", 10));
        assert!(!shown.contains("eyJsecret"), "{shown}");
    }

    #[test]
    fn token_responses() {
        let now = 1_800_000_000;
        // Docker Hub: both fields, expires_in, issued_at.
        let hub = br#"{"token":"eyJhbGciOi","access_token":"eyJhbGciOi","expires_in":600,"issued_at":"2027-01-15T07:55:00.123456789Z"}"#;
        let t = parse_token_response(hub, now).unwrap();
        let issued = Timestamp::parse("2027-01-15T07:55:00Z").unwrap().unix;
        assert_eq!(issued, now - 300);
        assert_eq!(t.expires_at(), now + 300);
        assert_eq!(t.authorization(), "Bearer eyJhbGciOi");
        // ghcr.io: only a token, so 60 seconds from now.
        let t = parse_token_response(br#"{"token":"djE6b3duZXI="}"#, now).unwrap();
        assert_eq!(t.expires_at(), now + 60);
        // OAuth2 form only.
        let t = parse_token_response(br#"{"access_token":"abc","expires_in":3600}"#, now).unwrap();
        assert_eq!(
            (t.authorization().as_str(), t.expires_at()),
            ("Bearer abc", now + 3600)
        );
        // An empty token falls back to access_token.
        let t = parse_token_response(br#"{"token":"","access_token":"x"}"#, now).unwrap();
        assert_eq!(t.authorization(), "Bearer x");
        // An issued_at in our future counts from now; nonsense lifetimes mean 60.
        let t = parse_token_response(
            br#"{"token":"x","expires_in":-5,"issued_at":"2099-01-01T00:00:00Z"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.expires_at(), now + 60);
        let t = parse_token_response(
            br#"{"token":"x","expires_in":"300","issued_at":"soon"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.expires_at(), now + 60);
    }

    #[test]
    fn bad_token_responses() {
        let now = 0;
        for (body, needle) in [
            (&b"<html>"[..], "not JSON"),
            (br#"{"expires_in":300}"#, "no token"),
            (br#"{"token":""}"#, "no token"),
            (br#"{"token":"a b"}"#, "characters"),
            (br#"{"token":"a\r\nX-Evil: 1"}"#, "characters"),
        ] {
            let err = parse_token_response(body, now).unwrap_err().to_string();
            assert!(err.contains(needle), "{body:?}: {err}");
        }
        let big = vec![b' '; MAX_TOKEN_RESPONSE_BYTES + 1];
        assert!(matches!(
            parse_token_response(&big, now),
            Err(TokenError::TooLarge { .. })
        ));
    }

    #[test]
    fn cache_reuses_until_expiry_per_registry_and_scope() {
        let mut cache = TokenCache::new();
        let scope = Scope::pull("a/b");
        cache.insert("ghcr.io", scope.clone(), Token::new("t", 1000), 0);
        assert!(cache.get("ghcr.io", &scope, 900).is_some());
        assert!(cache
            .get("ghcr.io", &scope, 1000 - EXPIRY_MARGIN_SECS)
            .is_none());
        assert!(cache.get("ghcr.io", &Scope::pull("a/c"), 900).is_none());
        assert!(cache.get("quay.io", &scope, 900).is_none());
        cache.remove("ghcr.io", &scope);
        assert!(cache.is_empty());
    }

    #[test]
    fn cache_is_bounded() {
        let mut cache = TokenCache::new();
        for i in 0..MAX_CACHED_TOKENS as i64 {
            cache.insert(
                "r",
                Scope::pull(&format!("n{i}")),
                Token::new("t", 100 + i),
                0,
            );
        }
        cache.insert("r", Scope::pull("new"), Token::new("t", 500), 0);
        assert_eq!(cache.len(), MAX_CACHED_TOKENS);
        // The token that expired soonest made room.
        assert!(cache.get("r", &Scope::pull("n0"), 0).is_none());
        assert!(cache.get("r", &Scope::pull("new"), 0).is_some());
        // Expired tokens go first.
        cache.insert("r", Scope::pull("newer"), Token::new("t", 900), 150);
        assert!(cache.len() < MAX_CACHED_TOKENS);
    }

    #[test]
    fn a_challenge_renders_back_to_what_parses_to_it() {
        let header = r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push",error="insufficient_scope""#;
        let parsed = parse_challenges(header).unwrap();
        assert_eq!(parsed[0].to_string(), header);
        let quoted = Challenge {
            scheme: "basic".into(),
            token68: None,
            params: vec![("realm".into(), r#"a "quoted" \ realm"#.into())],
        };
        let again = parse_challenges(&quoted.to_string()).unwrap();
        assert_eq!(again[0], quoted);
    }
}
