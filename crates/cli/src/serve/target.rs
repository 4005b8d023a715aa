//! Where a proxied request goes: the upstream named in a `/proxy/...` or `/proxy-token/...`
//! path, and the `--insecure-registry` hosts that may be reached over plain HTTP.

use std::fmt;

use reqwest::Url;

// The proxy's URL scheme is the core's, shared with the page that uses it.
pub use layerscope_core::registry::proxy::{REGISTRY_PREFIX, TOKEN_PREFIX};

/// Which kind of upstream a proxy path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamKind {
    /// A registry's Distribution API (`/v2/...` only).
    Registry,
    /// A token service, at a realm a registry's challenge named.
    TokenRealm,
}

/// A proxy request's upstream, validated but not yet resolved to a URL (the scheme depends on
/// `--insecure-registry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTarget {
    pub kind: UpstreamKind,
    /// `host` or `host:port` exactly as the path named it.
    pub authority: String,
    /// Path and query to request upstream, starting with `/`, escapes kept as sent.
    pub path_and_query: String,
}

impl ProxyTarget {
    /// The path part of [`ProxyTarget::path_and_query`] (what is logged and cached by).
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(path, _)| path)
    }

    /// The upstream URL: plain `http` for hosts allowed with `--insecure-registry`, `https`
    /// for every other.
    pub fn url(&self, insecure: &[InsecureRegistry]) -> Result<Url, BadTarget> {
        let secure = Url::parse(&format!("https://{}/", self.authority))
            .map_err(|_| BadTarget(format!("{} is not a host name", self.authority)))?;
        let scheme = if is_insecure(insecure, &secure) {
            "http"
        } else {
            "https"
        };
        Url::parse(&format!(
            "{scheme}://{}{}",
            self.authority, self.path_and_query
        ))
        .map_err(|error| BadTarget(format!("not a URL: {error}")))
    }
}

/// A proxy path that names no valid upstream; answered with 400 and this text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTarget(pub String);

impl fmt::Display for BadTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `None` when `target` is not under a proxy prefix; otherwise the validated upstream.
pub fn parse_proxy_target(target: &str) -> Option<Result<ProxyTarget, BadTarget>> {
    let (kind, rest) = if let Some(rest) = target.strip_prefix(REGISTRY_PREFIX) {
        (UpstreamKind::Registry, rest)
    } else if let Some(rest) = target.strip_prefix(TOKEN_PREFIX) {
        (UpstreamKind::TokenRealm, rest)
    } else {
        return None;
    };
    Some(validated(kind, rest))
}

fn validated(kind: UpstreamKind, rest: &str) -> Result<ProxyTarget, BadTarget> {
    let rest = rest.split('#').next().unwrap_or_default();
    let (authority, path_and_query) = match rest.find(['/', '?']) {
        Some(index) if rest.as_bytes()[index] == b'/' => rest.split_at(index),
        _ => (rest, "/"),
    };
    check_authority(authority)?;
    let path = path_and_query.split('?').next().unwrap_or_default();
    if kind == UpstreamKind::Registry && !path.starts_with("/v2/") {
        return Err(BadTarget(format!(
            "only the registry API is proxied: the path after {REGISTRY_PREFIX}{authority} must start with /v2/"
        )));
    }
    check_path(path)?;
    Ok(ProxyTarget {
        kind,
        authority: authority.to_string(),
        path_and_query: path_and_query.to_string(),
    })
}

/// A host name, IPv4 or bracketed IPv6 literal, with an optional port; nothing that a URL
/// parser would read as user info, another path or an escape.
fn check_authority(authority: &str) -> Result<(), BadTarget> {
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || b".-:[]".contains(&byte);
    if authority.is_empty() || !authority.bytes().all(allowed) {
        return Err(BadTarget(format!(
            "{authority:?} is not a registry host (HOST or HOST:PORT)"
        )));
    }
    let url = Url::parse(&format!("https://{authority}/"))
        .map_err(|_| BadTarget(format!("{authority:?} is not a registry host")))?;
    if url.host_str().is_none() {
        return Err(BadTarget(format!("{authority:?} names no host")));
    }
    Ok(())
}

/// Refuses dot segments (also escaped) so that URL normalisation cannot move the request out
/// of `/v2/`, and backslashes and NULs, which some servers read as separators.
fn check_path(path: &str) -> Result<(), BadTarget> {
    for segment in path.split('/') {
        let decoded = layerscope_core::registry::http::percent_decode(segment);
        if decoded == "." || decoded == ".." || decoded.contains(['\\', '\0', '/']) {
            return Err(BadTarget(format!(
                "path segment {segment:?} is not allowed"
            )));
        }
    }
    Ok(())
}

/// A registry the user allowed with `--insecure-registry HOST:PORT`: reached over plain HTTP
/// and exempt from the address checks (a registry on loopback or the private network).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsecureRegistry {
    /// The host as a URL parser normalises it (lower case, IPv6 in brackets).
    host: String,
    port: u16,
}

impl InsecureRegistry {
    /// Parses `HOST:PORT` (`[::1]:5000` for IPv6); the port is required, so that allowing a
    /// development registry does not also allow everything else on that host.
    pub fn parse(text: &str) -> Result<InsecureRegistry, String> {
        let invalid = || format!("{text:?} is not HOST:PORT (for example 127.0.0.1:5000)");
        let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
        let port: u16 = port.parse().map_err(|_| invalid())?;
        if host.is_empty() || (host.contains(':') && !host.starts_with('[')) {
            return Err(invalid());
        }
        check_authority(host).map_err(|_| invalid())?;
        let url = Url::parse(&format!("http://{host}/")).map_err(|_| invalid())?;
        let host = url.host_str().ok_or_else(invalid)?.to_string();
        Ok(InsecureRegistry { host, port })
    }

    fn matches(&self, url: &Url) -> bool {
        url.host_str() == Some(self.host.as_str()) && url.port_or_known_default() == Some(self.port)
    }
}

impl fmt::Display for InsecureRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Whether `url`'s host and port were allowed with `--insecure-registry`.
pub fn is_insecure(insecure: &[InsecureRegistry], url: &Url) -> bool {
    insecure.iter().any(|registry| registry.matches(url))
}

/// `host:port` of a URL, the unit `Authorization` is scoped to (a different port is a
/// different server).
pub fn authority_of(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(target: &str) -> Result<ProxyTarget, BadTarget> {
        parse_proxy_target(target).expect("a proxy path")
    }

    #[test]
    fn registry_paths_split_into_host_and_api_path() {
        let target =
            parsed("/proxy/registry-1.docker.io/v2/library/nginx/manifests/latest").unwrap();
        assert_eq!(target.kind, UpstreamKind::Registry);
        assert_eq!(target.authority, "registry-1.docker.io");
        assert_eq!(target.path_and_query, "/v2/library/nginx/manifests/latest");
        let with_port = parsed("/proxy/127.0.0.1:5000/v2/_catalog?n=10").unwrap();
        assert_eq!(with_port.authority, "127.0.0.1:5000");
        assert_eq!(with_port.path(), "/v2/_catalog");
    }

    #[test]
    fn token_paths_keep_the_realm_path_and_query() {
        let target =
            parsed("/proxy-token/auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull")
                .unwrap();
        assert_eq!(target.kind, UpstreamKind::TokenRealm);
        assert_eq!(target.authority, "auth.docker.io");
        assert!(target.path_and_query.starts_with("/token?service="));
        let url = target.url(&[]).unwrap();
        assert_eq!(url.scheme(), "https");
        assert_eq!(url.path(), "/token");
    }

    #[test]
    fn other_paths_are_not_proxy_paths() {
        assert!(parse_proxy_target("/index.html").is_none());
        assert!(parse_proxy_target("/proxyx/a/v2/").is_none());
    }

    #[test]
    fn non_api_paths_and_escapes_are_refused() {
        for target in [
            "/proxy/example.com/",
            "/proxy/example.com",
            "/proxy/example.com/admin",
            "/proxy/example.com/v2",
            "/proxy/example.com/v2/../admin",
            "/proxy/example.com/v2/%2e%2e/admin",
            "/proxy/example.com/v2/a%2fb",
            "/proxy/example.com/v2/a%5c..",
            "/proxy/user@example.com/v2/",
            "/proxy/example.com%2f/v2/",
            "/proxy//v2/",
            "/proxy-token/auth.example/../x",
        ] {
            assert!(parsed(target).is_err(), "{target} must be refused");
        }
    }

    #[test]
    fn insecure_registries_need_a_port_and_switch_to_http() {
        let local = InsecureRegistry::parse("127.0.0.1:5000").unwrap();
        let ipv6 = InsecureRegistry::parse("[::1]:5001").unwrap();
        let named = InsecureRegistry::parse("Registry.LOCAL:80").unwrap();
        assert_eq!(named.to_string(), "registry.local:80");
        for bad in ["127.0.0.1", "::1:5000", ":5000", "a/b:1", "host:99999"] {
            assert!(InsecureRegistry::parse(bad).is_err(), "{bad}");
        }
        let insecure = [local, ipv6, named];
        let target = parsed("/proxy/127.0.0.1:5000/v2/").unwrap();
        assert_eq!(
            target.url(&insecure).unwrap().as_str(),
            "http://127.0.0.1:5000/v2/"
        );
        let other_port = parsed("/proxy/127.0.0.1:5002/v2/").unwrap();
        assert_eq!(other_port.url(&insecure).unwrap().scheme(), "https");
        let v6 = parsed("/proxy/[::1]:5001/v2/").unwrap();
        assert_eq!(v6.url(&insecure).unwrap().scheme(), "http");
        let default_port = parsed("/proxy/registry.local:80/v2/").unwrap();
        assert_eq!(default_port.url(&insecure).unwrap().scheme(), "http");
    }

    #[test]
    fn authorities_include_the_port() {
        let a = Url::parse("https://Example.com/v2/").unwrap();
        let b = Url::parse("https://example.com:443/x").unwrap();
        let c = Url::parse("http://example.com/x").unwrap();
        assert_eq!(authority_of(&a), authority_of(&b));
        assert_ne!(authority_of(&a), authority_of(&c));
    }
}
