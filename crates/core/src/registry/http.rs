//! HTTP as values: the [`Request`] the caller sends, the [`Response`] it hands back, the
//! registry [`Endpoint`] (host and scheme) and the small absolute-URL type ([`Url`]) that
//! decides whether a URL from a header stays on the registry's own origin.
//!
//! Nothing here sends anything. The page performs a [`Request`] with `fetch`, the CLI with
//! ureq; both turn what came back into a [`Response`].

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::error::EndpointError;
use crate::model::reference::Reference;

/// The two methods a read-only registry client needs.
///
/// `HEAD` is not only cheaper: on Docker Hub a `GET` of a manifest counts against the pull
/// rate limit and a `HEAD` does not (Docker's rate-limit documentation says so), which is why
/// resolving a tag is a `HEAD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: headers only, no body.
    Head,
}

impl Method {
    /// The method as it goes on the request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request for the caller to perform.
///
/// The URL is absolute and already percent-encoded. Headers are in the order they should
/// be sent. `Debug` prints `Authorization` as `<redacted>`, so a request can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `HEAD`.
    pub method: Method,
    /// Absolute `http://` or `https://` URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// A request without headers.
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
        }
    }

    /// The first value of header `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Sets header `name`, replacing any value it had.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
    }

    /// Whether the request carries credentials or a token (`Authorization`).
    pub fn is_authorized(&self) -> bool {
        self.header("authorization").is_some()
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                if n.eq_ignore_ascii_case("authorization") {
                    (n.as_str(), "<redacted>")
                } else {
                    (n.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .finish()
    }
}

/// What came back, as the caller read it.
///
/// The caller reads at most the exchange's body limit plus one byte (see
/// [`super::session::Exchange::body_limit`]); the core refuses what is longer. Several
/// headers of one name (two `WWW-Authenticate` lines) are kept as separate pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Header names and values as received.
    pub headers: Vec<(String, String)>,
    /// The body, or its first bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a status and no headers or body, for tests and callers.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body (builder style).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// The first value of header `name`, compared case-insensitively as RFC 9110 says
    /// field names are (HTTP/2 and `fetch` lower-case them, HTTP/1.1 servers often do not).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Every value of header `name`, in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP: loopback registries and those the caller lists as insecure.
    Http,
    /// HTTPS: everything else.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port a URL without one means.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Registries the caller allows over plain HTTP, as Docker's `insecure-registries` daemon
/// option lists them: `host`, `host:port`, or an IP network in CIDR form (`10.0.0.0/8`,
/// `fd00::/8`).
///
/// A `host` entry without a port matches every port of that host. A CIDR entry matches only
/// hosts written as IP addresses: Docker resolves names and matches their addresses, but the
/// core does no DNS, so a name inside a listed network must be listed by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InsecureRegistries {
    entries: Vec<InsecureEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum InsecureEntry {
    Host { host: String, port: Option<u16> },
    V4 { network: u32, prefix: u32 },
    V6 { network: u128, prefix: u32 },
}

impl InsecureRegistries {
    /// No registry is insecure (loopback ones still use HTTP).
    pub fn none() -> InsecureRegistries {
        InsecureRegistries::default()
    }

    /// Parses the entries. An entry with `://` is refused, as Docker refuses it: the list
    /// names hosts, and the scheme is what it decides.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<InsecureRegistries, EndpointError> {
        let mut parsed = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            let bad = |reason| EndpointError::BadInsecureEntry {
                entry: entry.to_string(),
                reason,
            };
            if entry.contains("://") {
                return Err(bad("give the host (and port) without a scheme"));
            }
            if let Some((addr, prefix)) = entry.split_once('/') {
                let prefix: u32 = prefix
                    .parse()
                    .map_err(|_| bad("the network prefix length is not a number"))?;
                if let Ok(v4) = addr.parse::<Ipv4Addr>() {
                    if prefix > 32 {
                        return Err(bad("an IPv4 prefix length is at most 32"));
                    }
                    parsed.push(InsecureEntry::V4 {
                        network: u32::from(v4) & mask32(prefix),
                        prefix,
                    });
                } else if let Ok(v6) = addr.parse::<Ipv6Addr>() {
                    if prefix > 128 {
                        return Err(bad("an IPv6 prefix length is at most 128"));
                    }
                    parsed.push(InsecureEntry::V6 {
                        network: u128::from(v6) & mask128(prefix),
                        prefix,
                    });
                } else {
                    return Err(bad(
                        "a CIDR entry must be an IP address, '/', a prefix length",
                    ));
                }
                continue;
            }
            let authority = Authority::parse(entry).map_err(bad)?;
            parsed.push(InsecureEntry::Host {
                host: authority.host,
                port: authority.port,
            });
        }
        Ok(InsecureRegistries { entries: parsed })
    }

    fn matches(&self, authority: &Authority) -> bool {
        let ip = authority.ip();
        self.entries.iter().any(|entry| match entry {
            InsecureEntry::Host { host, port } => {
                *host == authority.host && (port.is_none() || *port == authority.port)
            }
            InsecureEntry::V4 { network, prefix } => matches!(
                ip,
                Some(Ip::V4(a)) if u32::from(a) & mask32(*prefix) == *network
            ),
            InsecureEntry::V6 { network, prefix } => matches!(
                ip,
                Some(Ip::V6(a)) if u128::from(a) & mask128(*prefix) == *network
            ),
        })
    }
}

fn mask32(prefix: u32) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

fn mask128(prefix: u32) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    }
}

/// Where a registry's API lives: a host (with optional port) and the scheme to reach it.
///
/// The scheme is chosen as Docker chooses it: plain HTTP for loopback registries
/// (`localhost`, `127.0.0.0/8`, `::1`, with or without a port; Docker's daemon lists
/// `127.0.0.0/8` as insecure by default and `localhost` resolves there) and for hosts in the
/// caller's [`InsecureRegistries`]; HTTPS for every other host. Unlike Docker the core does
/// not try HTTPS first and fall back: a caller that wants that starts a second session.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    authority: Authority,
    scheme: Scheme,
}

impl Endpoint {
    /// The endpoint for `host` (`ghcr.io`, `localhost:5000`, `[::1]:5000`).
    pub fn new(host: &str, insecure: &InsecureRegistries) -> Result<Endpoint, EndpointError> {
        let authority = Authority::parse(host).map_err(|reason| EndpointError::BadHost {
            host: host.to_string(),
            reason,
        })?;
        let scheme = if authority.is_loopback() || insecure.matches(&authority) {
            Scheme::Http
        } else {
            Scheme::Https
        };
        Ok(Endpoint { authority, scheme })
    }

    /// The endpoint with an explicit scheme, for callers that decided themselves (a test
    /// registry behind TLS on loopback).
    pub fn with_scheme(host: &str, scheme: Scheme) -> Result<Endpoint, EndpointError> {
        let authority = Authority::parse(host).map_err(|reason| EndpointError::BadHost {
            host: host.to_string(),
            reason,
        })?;
        Ok(Endpoint { authority, scheme })
    }

    /// The endpoint serving `reference`'s repository: its domain, except that Docker Hub's
    /// `docker.io` is served by `registry-1.docker.io`
    /// ([`Reference::registry_api_host`]).
    pub fn for_reference(
        reference: &Reference,
        insecure: &InsecureRegistries,
    ) -> Result<Endpoint, EndpointError> {
        Endpoint::new(reference.registry_api_host(), insecure)
    }

    /// `host` or `host:port`, lower case, IPv6 in brackets.
    pub fn host(&self) -> String {
        self.authority.to_string()
    }

    /// The scheme requests use.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// `scheme://host`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority)
    }

    /// The absolute URL of `path_and_query`, which starts with `/`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base_url())
    }

    /// Whether `url` is on this endpoint's origin: same scheme, host and effective port.
    pub fn same_origin(&self, url: &Url) -> bool {
        url.scheme == self.scheme
            && url.authority.host == self.authority.host
            && url.port() == self.authority.port.unwrap_or(self.scheme.default_port())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.authority)
    }
}

/// A host and optional port, validated and lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Authority {
    /// Lower case; IPv6 addresses keep their brackets.
    host: String,
    port: Option<u16>,
}

enum Ip {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Authority {
    pub(crate) fn parse(text: &str) -> Result<Authority, &'static str> {
        if text.is_empty() {
            return Err("empty host");
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or("unclosed '[' in IPv6 address")?;
            inside
                .parse::<Ipv6Addr>()
                .map_err(|_| "not an IPv6 address between '[' and ']'")?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or("expected ':' after ']'")?),
            };
            (format!("[{}]", inside.to_ascii_lowercase()), port)
        } else {
            let (host, port) = match text.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            };
            if host.is_empty() {
                return Err("empty host");
            }
            if !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                return Err("a host may contain only letters, digits, '-' and '.'");
            }
            (host.to_ascii_lowercase(), port)
        };
        let port = match port {
            None => None,
            Some(p) => {
                if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("the port must be a number from 1 to 65535");
                }
                match p.parse::<u16>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => return Err("the port must be a number from 1 to 65535"),
                }
            }
        };
        Ok(Authority { host, port })
    }

    fn ip(&self) -> Option<Ip> {
        if let Some(inner) = self
            .host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
        {
            return inner.parse().ok().map(Ip::V6);
        }
        self.host.parse().ok().map(Ip::V4)
    }

    fn is_loopback(&self) -> bool {
        if self.host == "localhost" {
            return true;
        }
        match self.ip() {
            Some(Ip::V4(a)) => a.is_loopback(),
            Some(Ip::V6(a)) => {
                a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
            None => false,
        }
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// An absolute `http`/`https` URL, split just enough to compare origins and to resolve the
/// relative references registries send in `Link` headers.
///
/// URLs with user information (`https://user@host/`) are refused: the form is deprecated
/// (RFC 3986 section 3.2.1) and is a classic way to make `registry@evil.example` look like
/// the registry. Fragments are dropped, since they never reach a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    scheme: Scheme,
    authority: Authority,
    /// Starts with `/`; the query, if any, included.
    path_and_query: String,
}

impl Url {
    /// Parses an absolute URL.
    pub fn parse(text: &str) -> Result<Url, &'static str> {
        if text
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err("the URL contains whitespace, control characters or '\\'");
        }
        let (scheme, rest) = text.split_once("://").ok_or("not an absolute URL")?;
        let scheme = if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else {
            return Err("only http and https URLs are followed");
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err("URLs with a user name are refused");
        }
        let authority = Authority::parse(authority)?;
        let tail = tail.split('#').next().unwrap_or("");
        let path_and_query = if tail.starts_with('/') {
            tail.to_string()
        } else {
            format!("/{tail}")
        };
        Ok(Url {
            scheme,
            authority,
            path_and_query,
        })
    }

    /// Resolves `reference` (absolute, `//host/...`, `/path`, `?query` or a relative path)
    /// against this URL, as RFC 3986 section 5.2 does for the forms registries send; dot
    /// segments are left as they are.
    pub fn join(&self, reference: &str) -> Result<Url, &'static str> {
        let reference = reference.trim();
        if reference.contains("://") {
            return Url::parse(reference);
        }
        if reference.starts_with("//") {
            return Url::parse(&format!("{}:{reference}", self.scheme.as_str()));
        }
        if reference
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err("the URL contains whitespace, control characters or '\\'");
        }
        let reference = reference.split('#').next().unwrap_or("");
        let path = self.path();
        let path_and_query = if reference.starts_with('/') {
            reference.to_string()
        } else if reference.starts_with('?') {
            format!("{path}{reference}")
        } else if reference.is_empty() {
            self.path_and_query.clone()
        } else {
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{reference}")
        };
        Ok(Url {
            scheme: self.scheme,
            authority: self.authority.clone(),
            path_and_query,
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// `host` or `host:port` as written (lower case).
    pub fn host(&self) -> String {
        self.authority.to_string()
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.authority.port.unwrap_or(self.scheme.default_port())
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split('?')
            .next()
            .unwrap_or(&self.path_and_query)
    }

    /// The query without `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.path_and_query.split_once('?').map(|(_, q)| q)
    }

    /// The path and query, starting with `/`.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// Whether the host is `localhost`, in `127.0.0.0/8` or `::1`.
    pub fn is_loopback(&self) -> bool {
        self.authority.is_loopback()
    }

    /// Whether `other` has the same scheme, host and effective port.
    pub fn same_origin(&self, other: &Url) -> bool {
        self.scheme == other.scheme
            && self.authority.host == other.authority.host
            && self.port() == other.port()
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (query_decode(k) == name).then(|| query_decode(v))
        })
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority,
            self.path_and_query
        )
    }
}

/// Undoes percent-encoding in a path segment (`%XX`): a malformed escape stays as it is,
/// invalid UTF-8 is replaced.
pub fn percent_decode(text: &str) -> String {
    decode(text, false)
}

/// Undoes a query component's encoding: [`percent_decode`], and `+` as a space, as HTML forms
/// (and some token clients) write queries.
pub fn query_decode(text: &str) -> String {
    decode(text, true)
}

fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        let (byte, used) = match (escaped, bytes[index]) {
            (Some(byte), _) => (byte, 3),
            (None, b'+') if plus_is_space => (b' ', 1),
            (None, byte) => (byte, 1),
        };
        decoded.push(byte);
        index += used;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Percent-encodes a query component: everything but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`, so `repository:a/b:pull` travels as
/// `repository%3Aa%2Fb%3Apull` and a space as `%20`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(host: &str) -> Endpoint {
        Endpoint::new(host, &InsecureRegistries::none()).unwrap()
    }

    #[test]
    fn loopback_registries_use_http_with_or_without_port() {
        for host in [
            "localhost",
            "localhost:5000",
            "LOCALHOST:5000",
            "127.0.0.1",
            "127.0.0.1:5000",
            "127.1.2.3:443",
            "[::1]",
            "[::1]:5000",
            "[::ffff:127.0.0.1]:5000",
        ] {
            assert_eq!(endpoint(host).scheme(), Scheme::Http, "{host}");
        }
    }

    #[test]
    fn other_registries_use_https() {
        for host in [
            "registry-1.docker.io",
            "ghcr.io",
            "quay.io:443",
            "128.0.0.1:5000",
            "10.0.0.5:5000",
            "[::2]:5000",
            "localhost.example.com",
            "mylocalhost:5000",
        ] {
            assert_eq!(endpoint(host).scheme(), Scheme::Https, "{host}");
        }
    }

    #[test]
    fn insecure_list_by_host_port_and_cidr() {
        let insecure = InsecureRegistries::parse(&[
            "registry.lan",
            "build.lan:5000",
            "10.0.0.0/8",
            "fd00::/8",
        ])
        .unwrap();
        let scheme = |h| Endpoint::new(h, &insecure).unwrap().scheme();
        assert_eq!(scheme("registry.lan"), Scheme::Http);
        assert_eq!(scheme("registry.lan:5000"), Scheme::Http);
        assert_eq!(scheme("Registry.LAN:443"), Scheme::Http);
        assert_eq!(scheme("build.lan:5000"), Scheme::Http);
        assert_eq!(scheme("build.lan:5001"), Scheme::Https);
        assert_eq!(scheme("build.lan"), Scheme::Https);
        assert_eq!(scheme("10.200.3.4:5000"), Scheme::Http);
        assert_eq!(scheme("11.0.0.1:5000"), Scheme::Https);
        assert_eq!(scheme("[fd12::1]:5000"), Scheme::Http);
        assert_eq!(scheme("[fe80::1]:5000"), Scheme::Https);
        // CIDR entries match addresses only: the core resolves no names.
        assert_eq!(scheme("ten.lan"), Scheme::Https);
    }

    #[test]
    fn insecure_list_refuses_schemes_and_bad_cidrs() {
        for bad in [
            "http://registry.lan",
            "10.0.0.0/33",
            "x/8",
            "fd00::/129",
            "h:0",
        ] {
            let err = InsecureRegistries::parse(&[bad]).unwrap_err();
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn docker_hub_reference_talks_to_registry_1() {
        let r = Reference::parse("nginx").unwrap();
        let e = Endpoint::for_reference(&r, &InsecureRegistries::none()).unwrap();
        assert_eq!(e.host(), "registry-1.docker.io");
        assert_eq!(e.base_url(), "https://registry-1.docker.io");
        let r = Reference::parse("localhost:5000/a/b:t").unwrap();
        let e = Endpoint::for_reference(&r, &InsecureRegistries::none()).unwrap();
        assert_eq!(e.url("/v2/"), "http://localhost:5000/v2/");
    }

    #[test]
    fn bad_hosts_are_refused() {
        for bad in [
            "",
            "a/b",
            "host:",
            "host:0",
            "host:65536",
            "[zz]",
            "[::1",
            "a b",
            "u@h",
        ] {
            assert!(
                Endpoint::new(bad, &InsecureRegistries::none()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn header_lookup_is_case_insensitive_and_keeps_repeats() {
        let r = Response::new(401)
            .with_header("WWW-Authenticate", "Bearer realm=\"a\"")
            .with_header("www-authenticate", "Basic realm=\"b\"")
            .with_header("Docker-Content-Digest", " sha256:x ");
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"a\""));
        assert_eq!(r.header("DOCKER-CONTENT-DIGEST"), Some("sha256:x"));
        assert_eq!(r.header_values("WWW-AUTHENTICATE").count(), 2);
        assert_eq!(r.header("link"), None);
    }

    #[test]
    fn request_debug_hides_authorization() {
        let mut r = Request::new(Method::Get, "https://ghcr.io/v2/");
        r.set_header("Authorization", "Bearer s3cr3t");
        r.set_header("authorization", "Basic c2VjcmV0");
        assert_eq!(r.headers.len(), 1);
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("c2VjcmV0") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn urls_parse_and_compare_origins() {
        let u = Url::parse("HTTPS://GHCR.io:443/token?scope=a#frag").unwrap();
        assert_eq!(u.host(), "ghcr.io:443");
        assert_eq!(u.path(), "/token");
        assert_eq!(u.query(), Some("scope=a"));
        assert!(endpoint("ghcr.io").same_origin(&u));
        assert!(!endpoint("ghcr.io:5000").same_origin(&u));
        assert!(!endpoint("localhost").same_origin(&Url::parse("https://localhost/").unwrap()));
        assert!(endpoint("localhost:80").same_origin(&Url::parse("http://localhost/").unwrap()));
        assert_eq!(Url::parse("https://h").unwrap().path_and_query(), "/");
        for bad in [
            "ftp://h/",
            "/relative",
            "https://user:pw@ghcr.io/",
            "https://ghcr.io@evil.example/",
            "https://h/a b",
            "https://h\\@evil/",
            "https:///path",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn join_resolves_the_forms_link_headers_use() {
        let base = Url::parse("https://r.example/v2/a/b/tags/list?n=2").unwrap();
        let j = |s| base.join(s).unwrap().to_string();
        assert_eq!(
            j("/v2/a/b/tags/list?last=x&n=2"),
            "https://r.example/v2/a/b/tags/list?last=x&n=2"
        );
        assert_eq!(j("?last=x"), "https://r.example/v2/a/b/tags/list?last=x");
        assert_eq!(
            j("list?last=y"),
            "https://r.example/v2/a/b/tags/list?last=y"
        );
        assert_eq!(j("//other.example/v2/"), "https://other.example/v2/");
        assert_eq!(j("http://r.example/v2/x"), "http://r.example/v2/x");
        assert!(base.join("/a b").is_err());
    }

    #[test]
    fn query_params_decode() {
        let u = Url::parse("https://h/v2/_catalog?n=2&last=a%2Fb+c&x").unwrap();
        assert_eq!(u.query_param("last").as_deref(), Some("a/b c"));
        assert_eq!(u.query_param("n").as_deref(), Some("2"));
        assert_eq!(u.query_param("x").as_deref(), Some(""));
        assert_eq!(u.query_param("y"), None);
    }

    #[test]
    fn percent_encoding_round_trips_scopes() {
        assert_eq!(
            percent_encode("repository:library/nginx:pull"),
            "repository%3Alibrary%2Fnginx%3Apull"
        );
        assert_eq!(percent_encode("a b*~"), "a%20b%2A~");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode(&percent_encode("é/ü:*")), "é/ü:*");
    }

    #[test]
    fn percent_decoding_undoes_the_encoder() {
        let text = "repository:a/b:pull push~ü";
        assert_eq!(percent_decode(&percent_encode(text)), text);
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
        assert_eq!(percent_decode("a+b"), "a+b");
        assert_eq!(query_decode("a+b%2B"), "a b+");
    }
}
