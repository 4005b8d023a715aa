//! The URL scheme of layerscope's same-origin registry proxy (`layerscope serve`), known
//! here once for the proxy that serves it and the page that uses it.
//!
//! - `/proxy/{host}/v2/...` is the registry `{host}`'s API;
//! - `/proxy-token/{host}/{path}?{query}` is a token realm on `{host}`: the proxy points
//!   every Bearer challenge's realm there, so a page's token requests stay on its origin.
//!
//! A page keeps its [`Session`](super::Session) talking about the real hosts (so the core's
//! rules on where credentials may go see them) and only routes each request's URL through
//! the proxy ([`proxied_url`]); challenges coming back through the proxy have their realms
//! turned back into the hosts the registry named ([`challenges_from_proxy`]).

use super::auth::{parse_challenges, Challenge};
use super::http::{Endpoint, InsecureRegistries, Scheme, Url};

/// Where a registry's API is under the proxy.
pub const REGISTRY_PREFIX: &str = "/proxy/";

/// Where token realms are under the proxy.
pub const TOKEN_PREFIX: &str = "/proxy-token/";

/// Where a page sends what it cannot ask a registry directly: the `layerscope serve` that
/// served it (`./proxy/`, the default), or one named in the page's settings. Held as the
/// server's root, ending in `/`, under which `proxy/` and `proxy-token/` live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRoot {
    root: String,
    same_origin: bool,
}

/// Why a proxy URL from the settings cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyUrlError {
    /// Not an absolute `http://` or `https://` URL, or one with a user name.
    #[error("{url:?} is not a proxy URL: {reason} (write it as http(s)://host[:port]/proxy/)")]
    NotAUrl {
        /// The text as given (shown as text, never as HTML).
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Plain HTTP to a host other than `localhost` or `127.0.0.1`: the page's
    /// Content-Security-Policy lets it reach plain-HTTP servers on loopback only (and a page
    /// served over HTTPS could not reach one anyway).
    #[error("{url:?} is plain HTTP to a host that is not this machine: use https://, or a proxy at http://localhost or http://127.0.0.1")]
    PlainHttpElsewhere {
        /// The text as given.
        url: String,
    },
    /// A query or fragment, which would end up in the middle of every proxied path.
    #[error("{url:?} is not a proxy URL: it has a query or fragment; give the proxy's path only")]
    HasQuery {
        /// The text as given.
        url: String,
    },
}

impl ProxyRoot {
    /// The proxy of the server that served the page; `page_directory` is the page's URL up
    /// to its last `/` (`http://127.0.0.1:8080/tools/`).
    pub fn same_origin(page_directory: &str) -> ProxyRoot {
        let mut root = page_directory.to_string();
        if !root.ends_with('/') {
            root.push('/');
        }
        ProxyRoot {
            root,
            same_origin: true,
        }
    }

    /// A proxy URL as a person writes it: the proxy itself (`https://example.org/tools/proxy/`)
    /// or the root of the `layerscope serve` that runs it (`http://127.0.0.1:8081`).
    pub fn parse(text: &str) -> Result<ProxyRoot, ProxyUrlError> {
        let text = text.trim();
        let not_a_url = |reason| ProxyUrlError::NotAUrl {
            url: text.to_string(),
            reason,
        };
        if !text.contains("://") {
            return Err(not_a_url("it is not an absolute URL"));
        }
        if text.contains(['?', '#']) {
            return Err(ProxyUrlError::HasQuery {
                url: text.to_string(),
            });
        }
        let url = Url::parse(text).map_err(not_a_url)?;
        let authority = url.host();
        let port_suffix = format!(":{}", url.port());
        let host_name = authority.strip_suffix(&port_suffix).unwrap_or(&authority);
        if url.scheme() == Scheme::Http && host_name != "localhost" && host_name != "127.0.0.1" {
            return Err(ProxyUrlError::PlainHttpElsewhere {
                url: text.to_string(),
            });
        }
        let path = url.path().trim_end_matches('/');
        let path = path.strip_suffix("/proxy").unwrap_or(path);
        Ok(ProxyRoot {
            root: format!("{}://{}{path}/", url.scheme().as_str(), url.host()),
            same_origin: false,
        })
    }

    /// The root, ending in `/`, for [`proxied_url`].
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Whether this is the page's own `./proxy/`.
    pub fn is_same_origin(&self) -> bool {
        self.same_origin
    }

    /// `{root}proxy/{host}/v2/`: where a page checks that the proxy reaches `registry_host`.
    pub fn probe_url(&self, registry_host: &str) -> String {
        format!(
            "{}{}{registry_host}/v2/",
            self.root,
            REGISTRY_PREFIX.trim_start_matches('/')
        )
    }

    /// `url` routed through this proxy; see [`proxied_url`].
    pub fn route(&self, registry_host: &str, url: &str) -> String {
        proxied_url(&self.root, registry_host, url)
    }
}

impl std::fmt::Display for ProxyRoot {
    /// `./proxy/` for the page's own proxy, else the proxy's full URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proxy = REGISTRY_PREFIX.trim_start_matches('/');
        if self.same_origin {
            write!(f, "./{proxy}")
        } else {
            write!(f, "{}{proxy}", self.root)
        }
    }
}

/// `url` (a request the core built for a registry's API or its token realm) routed through
/// the proxy whose root is `base` (`http://127.0.0.1:8080/` or `https://example.org/tools/`,
/// ending in `/`): the registry's `/v2/` under `proxy/{host}`, anything else under
/// `proxy-token/{host}`. A URL that does not parse is returned as it is.
pub fn proxied_url(base: &str, registry_host: &str, url: &str) -> String {
    let Ok(parsed) = Url::parse(url) else {
        return url.to_string();
    };
    let authority = parsed.host();
    let prefix = if authority == registry_host && parsed.path().starts_with("/v2/") {
        REGISTRY_PREFIX
    } else {
        TOKEN_PREFIX
    };
    format!(
        "{base}{}{authority}{}",
        prefix.trim_start_matches('/'),
        parsed.path_and_query()
    )
}

/// A registry's `WWW-Authenticate` value with each Bearer realm pointed at
/// `/proxy-token/{host}/{path}?{query}` and every other parameter kept; `None` when nothing
/// needs rewriting or the header does not parse (the proxy then passes it on as it came).
pub fn challenges_to_proxy(header_value: &str) -> Option<String> {
    rewrite_realms(header_value, |realm| {
        let url = Url::parse(realm).ok()?;
        Some(format!(
            "{TOKEN_PREFIX}{}{}",
            url.host(),
            url.path_and_query()
        ))
    })
}

/// A `WWW-Authenticate` value that came through the proxy with its realms back as the
/// registry named them: `/proxy-token/auth.example/token` is `https://auth.example/token`
/// again (`http` for the hosts a registry client speaks plain HTTP to, loopback). `None`
/// when nothing was rewritten by the proxy.
pub fn challenges_from_proxy(header_value: &str) -> Option<String> {
    rewrite_realms(header_value, |realm| {
        let rest = realm.strip_prefix(TOKEN_PREFIX)?;
        let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let host = &rest[..host_end];
        let scheme = match Endpoint::new(host, &InsecureRegistries::none()) {
            Ok(endpoint) if endpoint.scheme() == Scheme::Http => "http",
            _ => "https",
        };
        Some(format!("{scheme}://{rest}"))
    })
}

fn rewrite_realms(header_value: &str, rewrite: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut challenges: Vec<Challenge> = parse_challenges(header_value).ok()?;
    let mut changed = false;
    for challenge in challenges.iter_mut().filter(|c| c.is_bearer()) {
        for (name, value) in challenge.params.iter_mut() {
            if name == "realm" {
                if let Some(rewritten) = rewrite(value) {
                    *value = rewritten;
                    changed = true;
                }
            }
        }
    }
    changed.then(|| {
        challenges
            .iter()
            .map(Challenge::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_go_under_proxy_and_token_requests_under_proxy_token() {
        let base = "http://127.0.0.1:8080/tools/";
        assert_eq!(
            proxied_url(base, "registry-1.docker.io", "https://registry-1.docker.io/v2/library/nginx/manifests/1.25"),
            "http://127.0.0.1:8080/tools/proxy/registry-1.docker.io/v2/library/nginx/manifests/1.25"
        );
        assert_eq!(
            proxied_url(base, "registry-1.docker.io", "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull"),
            "http://127.0.0.1:8080/tools/proxy-token/auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull"
        );
    }

    #[test]
    fn proxy_urls_from_settings() {
        for (given, root, shown) in [
            (
                "http://127.0.0.1:8081/proxy/",
                "http://127.0.0.1:8081/",
                "http://127.0.0.1:8081/proxy/",
            ),
            (
                "http://127.0.0.1:8081",
                "http://127.0.0.1:8081/",
                "http://127.0.0.1:8081/proxy/",
            ),
            (
                " https://Example.org/tools/proxy ",
                "https://example.org/tools/",
                "https://example.org/tools/proxy/",
            ),
            (
                "https://example.org/tools/",
                "https://example.org/tools/",
                "https://example.org/tools/proxy/",
            ),
        ] {
            let proxy = ProxyRoot::parse(given).unwrap();
            assert_eq!(proxy.root(), root, "{given}");
            assert_eq!(proxy.to_string(), shown, "{given}");
            assert!(!proxy.is_same_origin());
        }
        let proxy = ProxyRoot::parse("http://127.0.0.1:8081/proxy/").unwrap();
        assert_eq!(
            proxy.probe_url("127.0.0.1:5000"),
            "http://127.0.0.1:8081/proxy/127.0.0.1:5000/v2/"
        );
        assert_eq!(
            proxy.route(
                "127.0.0.1:5000",
                "http://127.0.0.1:5000/v2/a/b/tags/list?n=5"
            ),
            "http://127.0.0.1:8081/proxy/127.0.0.1:5000/v2/a/b/tags/list?n=5"
        );
        for (bad, why) in [
            ("proxy/", "not an absolute URL"),
            ("ftp://example.org/proxy/", "only http and https"),
            ("https://me@example.org/proxy/", "user name"),
            ("https://example.org/proxy/?x=1", "query or fragment"),
            ("http://192.168.1.5:8080/proxy/", "not this machine"),
            ("http://proxy.example/", "not this machine"),
        ] {
            let message = ProxyRoot::parse(bad).unwrap_err().to_string();
            assert!(message.contains(why), "{bad}: {message}");
        }
        let own = ProxyRoot::same_origin("http://127.0.0.1:8080/tools/");
        assert!(own.is_same_origin());
        assert_eq!(own.to_string(), "./proxy/");
        assert_eq!(
            own.probe_url("r.example"),
            "http://127.0.0.1:8080/tools/proxy/r.example/v2/"
        );
    }

    #[test]
    fn realms_go_to_the_proxy_and_back_unchanged() {
        let registry = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push""#;
        let proxied = challenges_to_proxy(registry).unwrap();
        assert_eq!(
            proxied,
            r#"Bearer realm="/proxy-token/auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push""#
        );
        assert_eq!(challenges_from_proxy(&proxied).unwrap(), registry);
        let loopback =
            r#"Bearer realm="http://127.0.0.1:5001/jwt/auth?client=x",error="insufficient_scope""#;
        assert_eq!(
            challenges_from_proxy(&challenges_to_proxy(loopback).unwrap()).unwrap(),
            loopback
        );
        assert_eq!(challenges_to_proxy(r#"Basic realm="Registry""#), None);
        assert_eq!(
            challenges_from_proxy(r#"Bearer realm="https://a.example/t""#),
            None
        );
    }
}
