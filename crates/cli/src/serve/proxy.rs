//! The registry CORS proxy: `/proxy/{host}/v2/...` and `/proxy-token/{host}/{path}` forwarded
//! upstream with the address checks of [`super::guard`], streamed back chunk by chunk.
//!
//! What the page gets back is the upstream response with hop-by-hop headers and cookies
//! removed, Bearer realms pointed at `/proxy-token/`, blob redirects already followed, and
//! cache headers that let any HTTP cache in front of several `serve` replicas keep layers.

use std::collections::HashMap;
use std::error::Error as _;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, Response, StatusCode};
use bytes::Bytes;
use futures_core::Stream;
use layerscope_core::model::digest::AnyDigest;
use layerscope_core::registry::proxy::challenges_to_proxy;
use reqwest::Url;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::guard::{self, CheckedResolver, PinnedName, RefusedTarget};
use super::target::{self, InsecureRegistry, ProxyTarget, UpstreamKind};

/// How long a request waits for a free slot before the proxy answers 503.
const SLOT_WAIT: Duration = Duration::from_secs(30);
/// What a client past its own share is told to wait before asking again (`Retry-After`).
const CLIENT_RETRY_AFTER_SECS: u64 = 2;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// From sending the request to the end of the response headers.
const HEADERS_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest silence inside a streaming body; a body as such may take as long as it needs.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Registries redirect blobs once (to storage or a CDN); a few more hops are tolerated.
const MAX_REDIRECTS: usize = 5;

/// Blob and manifest responses by digest never change: one year, immutable.
const IMMUTABLE_PUBLIC: &str = "public, max-age=31536000, immutable";
/// The same, for requests that carried credentials: only the browser's own cache keeps them.
const IMMUTABLE_PRIVATE: &str = "private, max-age=31536000, immutable";

/// Response headers the page reads, exposed for pages of the `--allow-origin` origins
/// (same-origin reads need no CORS). `Date` dates a rate limit's window.
const EXPOSED_HEADERS: &str = "Docker-Content-Digest, WWW-Authenticate, Link, Content-Length, \
                               Date, ratelimit-limit, ratelimit-remaining, Retry-After, \
                               RateLimit-Reset, X-RateLimit-Reset, docker-ratelimit-source";

/// Headers that describe one connection, not the message (RFC 9110 section 7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A web origin whose pages may use the proxy across origins (`--allow-origin`): the
/// proxy then answers their preflights and names them in `Access-Control-Allow-Origin`.
///
/// Without one, only the page this server serves can read the proxy's answers. Any origin
/// named here can read whatever this proxy reaches, `--insecure-registry` hosts included,
/// with the browser of whoever visits it: name only origins you trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin(String);

impl AllowedOrigin {
    /// `scheme://host[:port]`, as browsers send `Origin` (lower case, the scheme's default
    /// port left out); a path other than `/`, a query or a user name is refused.
    pub fn parse(text: &str) -> Result<AllowedOrigin, String> {
        let url = layerscope_core::registry::Url::parse(text.trim())
            .map_err(|reason| format!("{text:?} is not an origin: {reason}"))?;
        if url.path_and_query() != "/" {
            return Err(format!(
                "{text:?} is not an origin: write scheme://host[:port] without a path"
            ));
        }
        let host = url.host();
        let default_port = format!(":{}", url.scheme().default_port());
        let host = host.strip_suffix(&default_port).unwrap_or(&host);
        Ok(AllowedOrigin(format!("{}://{host}", url.scheme().as_str())))
    }

    /// The origin as browsers write it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The proxy's shared state: the two upstream clients and the connection slots.
pub struct Proxy {
    insecure: Vec<InsecureRegistry>,
    allowed_origins: Vec<AllowedOrigin>,
    /// For every host not named by `--insecure-registry`: HTTPS only, names resolved through
    /// [`CheckedResolver`].
    checked_client: reqwest::Client,
    /// For `--insecure-registry` hosts: plain HTTP allowed and no address checks.
    insecure_client: reqwest::Client,
    upstream_slots: Arc<Semaphore>,
    /// The size of `upstream_slots`, named in the busy answer.
    slot_count: usize,
    /// Each client's share of the upstream slots.
    client_slots: Arc<ClientSlots>,
}

/// The upstream requests each client (by peer address) has in flight, at most `per_client`
/// each, so that one client holding many slow streams cannot take every upstream slot and
/// keep the others waiting. A client is only in the table while it holds a slot: the
/// table is as large as the requests in flight, not as the clients ever seen.
struct ClientSlots {
    per_client: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// One of a client's slots; given back when dropped (with the response body).
struct ClientSlot {
    slots: Arc<ClientSlots>,
    client: IpAddr,
}

impl ClientSlots {
    fn new(per_client: usize) -> ClientSlots {
        ClientSlots {
            per_client,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for `client`, or `None` when it holds its share already.
    fn take(self: &Arc<Self>, client: IpAddr) -> Option<ClientSlot> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = held.entry(client).or_insert(0);
        if *count >= self.per_client {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            slots: Arc::clone(self),
            client,
        })
    }

    /// Slots `client` holds now.
    #[cfg(test)]
    fn held_by(&self, client: IpAddr) -> usize {
        let held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.get(&client).copied().unwrap_or(0)
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self
            .slots
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = held.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.client);
            }
        }
    }
}

/// What a forwarded request holds until its response body is sent: its client's share and
/// one of the proxy's upstream slots.
struct Slots {
    _client: ClientSlot,
    _upstream: OwnedSemaphorePermit,
}

/// Why the proxy answered itself instead of forwarding an upstream response.
#[derive(Debug)]
enum Failure {
    BadTarget(String),
    Refused(String),
    Busy(usize),
    /// This client holds its share of the upstream slots already.
    ClientBusy(usize),
    Timeout,
    Unreachable(String),
    TooManyRedirects,
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::BadTarget(_) => StatusCode::BAD_REQUEST,
            Failure::Refused(_) => StatusCode::FORBIDDEN,
            Failure::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Failure::ClientBusy(_) => StatusCode::TOO_MANY_REQUESTS,
            Failure::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Failure::Unreachable(_) | Failure::TooManyRedirects => StatusCode::BAD_GATEWAY,
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::BadTarget(reason) | Failure::Refused(reason) => reason.clone(),
            Failure::Busy(slots) => format!(
                "the proxy has {slots} upstream requests in flight (--max-upstream-requests); \
                 try again shortly"
            ),
            Failure::ClientBusy(slots) => format!(
                "this client has {slots} upstream requests in flight, its share \
                 (--max-upstream-per-client); try again when one has finished"
            ),
            Failure::Timeout => format!(
                "the upstream sent no response headers within {}s",
                HEADERS_TIMEOUT.as_secs()
            ),
            Failure::Unreachable(reason) => format!("upstream unreachable: {reason}"),
            Failure::TooManyRedirects => format!("more than {MAX_REDIRECTS} redirects"),
        }
    }
}

impl From<RefusedTarget> for Failure {
    fn from(refused: RefusedTarget) -> Failure {
        Failure::Refused(refused.to_string())
    }
}

/// The upstream's final answer and what the proxy carries over from the redirects before it.
struct Upstream {
    response: reqwest::Response,
    /// The registry's digest header, when only the redirecting response had it.
    redirect_digest: Option<HeaderValue>,
}

impl Proxy {
    /// Builds the upstream clients. Installs ring as rustls' crypto provider if none is yet.
    pub fn new(
        insecure: Vec<InsecureRegistry>,
        allowed_origins: Vec<AllowedOrigin>,
        pinned: Vec<PinnedName>,
        upstream_slots: usize,
        per_client: usize,
    ) -> Result<Proxy, reqwest::Error> {
        // Err means another provider is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = || {
            reqwest::Client::builder()
                .user_agent(concat!("layerscope/", env!("CARGO_PKG_VERSION")))
                // Redirects are followed here, hop by hop, with the address checks.
                .redirect(reqwest::redirect::Policy::none())
                // An environment proxy would connect to targets this proxy has not checked.
                .no_proxy()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(BODY_IDLE_TIMEOUT)
                .pool_max_idle_per_host(8)
        };
        Ok(Proxy {
            insecure,
            allowed_origins,
            checked_client: base()
                .https_only(true)
                .dns_resolver(CheckedResolver::new(pinned))
                .build()?,
            insecure_client: base().build()?,
            upstream_slots: Arc::new(Semaphore::new(upstream_slots)),
            slot_count: upstream_slots,
            client_slots: Arc::new(ClientSlots::new(per_client)),
        })
    }

    /// Answers one proxy request from `client` (any method; only GET, HEAD and preflight
    /// OPTIONS pass), readable across origins by the `--allow-origin` origins.
    pub async fn handle(
        &self,
        client: IpAddr,
        method: &Method,
        target: Result<ProxyTarget, target::BadTarget>,
        headers: &HeaderMap,
    ) -> Response<Body> {
        let mut response = self.answer(client, method, target, headers).await;
        if !self.allowed_origins.is_empty() {
            let response_headers = response.headers_mut();
            // A cache in front must not hand one origin's answer to another.
            response_headers.append(header::VARY, HeaderValue::from_static("Origin"));
            if let Some(origin) = self.allowed_origin(headers) {
                response_headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            }
        }
        response
    }

    /// The request's `Origin` when it is one of the `--allow-origin` origins.
    fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.allowed_origins
            .iter()
            .any(|allowed| allowed.as_str() == text)
            .then(|| origin.clone())
    }

    async fn answer(
        &self,
        client: IpAddr,
        method: &Method,
        target: Result<ProxyTarget, target::BadTarget>,
        headers: &HeaderMap,
    ) -> Response<Body> {
        let (host, path) = match &target {
            Ok(target) => (target.authority.clone(), target.path().to_string()),
            Err(_) => ("-".to_string(), "-".to_string()),
        };
        let log = RequestLog {
            method: method.clone(),
            host,
            path,
        };
        if method == Method::OPTIONS {
            log.write(StatusCode::NO_CONTENT.as_u16(), 0, "");
            return preflight();
        }
        if method != Method::GET && method != Method::HEAD {
            log.write(StatusCode::METHOD_NOT_ALLOWED.as_u16(), 0, "");
            let mut response = plain_text(
                StatusCode::METHOD_NOT_ALLOWED,
                "the proxy forwards only GET and HEAD\n",
            );
            response.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
            return response;
        }
        let outcome = match target {
            Ok(target) => {
                self.forward(client, method, &target, headers, log.clone())
                    .await
            }
            Err(bad) => Err(Failure::BadTarget(bad.0)),
        };
        match outcome {
            Ok(response) => response,
            Err(failure) => {
                let message = failure.message();
                log.write(failure.status().as_u16(), 0, &message);
                let mut response = plain_text(failure.status(), &format!("{message}\n"));
                if let Failure::ClientBusy(_) = failure {
                    response.headers_mut().insert(
                        header::RETRY_AFTER,
                        HeaderValue::from(CLIENT_RETRY_AFTER_SECS),
                    );
                }
                response
            }
        }
    }

    async fn forward(
        &self,
        client: IpAddr,
        method: &Method,
        target: &ProxyTarget,
        headers: &HeaderMap,
        log: RequestLog,
    ) -> Result<Response<Body>, Failure> {
        let url = target
            .url(&self.insecure)
            .map_err(|bad| Failure::BadTarget(bad.0))?;
        // The client's share first: a client past it is answered at once, and waits for no
        // upstream slot that others need.
        let client_slot = self
            .client_slots
            .take(client)
            .ok_or(Failure::ClientBusy(self.client_slots.per_client))?;
        let upstream_slot =
            tokio::time::timeout(SLOT_WAIT, Arc::clone(&self.upstream_slots).acquire_owned())
                .await
                .map_err(|_| Failure::Busy(self.slot_count))?
                .expect("the slot semaphore is never closed");
        let slot = Slots {
            _client: client_slot,
            _upstream: upstream_slot,
        };
        let upstream = self.fetch_following_redirects(method, url, headers).await?;
        let authorized = headers.contains_key(header::AUTHORIZATION);
        Ok(self.relay(target, upstream, authorized, slot, log))
    }

    /// Sends the request, following redirects; `Authorization` goes only to the host and port
    /// the request named, never to a storage host a redirect points at.
    async fn fetch_following_redirects(
        &self,
        method: &Method,
        first_url: Url,
        headers: &HeaderMap,
    ) -> Result<Upstream, Failure> {
        let credentials_for = target::authority_of(&first_url);
        let mut url = first_url;
        let mut redirect_digest = None;
        for hop in 0..=MAX_REDIRECTS {
            let client = self.client_for(&url)?;
            let send_authorization = target::authority_of(&url) == credentials_for;
            let request = client
                .request(method.clone(), url.clone())
                .headers(request_headers(headers, send_authorization));
            let response = tokio::time::timeout(HEADERS_TIMEOUT, request.send())
                .await
                .map_err(|_| Failure::Timeout)?
                .map_err(upstream_failure)?;
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|location| location.to_str().ok());
            let (true, Some(location)) = (response.status().is_redirection(), location) else {
                return Ok(Upstream {
                    response,
                    redirect_digest,
                });
            };
            if hop == MAX_REDIRECTS {
                break;
            }
            let next = url.join(location).map_err(|_| {
                Failure::Unreachable("the upstream redirected to an invalid URL".to_string())
            })?;
            if redirect_digest.is_none() {
                redirect_digest = response.headers().get(DOCKER_CONTENT_DIGEST).cloned();
            }
            url = next;
        }
        Err(Failure::TooManyRedirects)
    }

    /// The client allowed to reach `url`, after the checks that do not need DNS: plain HTTP
    /// and address literals are refused unless `--insecure-registry` named the host.
    fn client_for(&self, url: &Url) -> Result<&reqwest::Client, Failure> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Failure::Refused(
                "refusing a URL with user info in it".to_string(),
            ));
        }
        if target::is_insecure(&self.insecure, url) {
            return Ok(&self.insecure_client);
        }
        if url.scheme() != "https" {
            return Err(Failure::Refused(format!(
                "refusing plain {} to {}: only hosts named with --insecure-registry HOST:PORT are \
                 reached without TLS",
                url.scheme(),
                target::authority_of(url)
            )));
        }
        let host = url.host_str().unwrap_or_default();
        match url.host() {
            Some(url::Host::Ipv4(address)) => guard::check_literal(host, address.into())?,
            Some(url::Host::Ipv6(address)) => guard::check_literal(host, address.into())?,
            // Names are checked by the resolver of the client they are sent with.
            Some(url::Host::Domain(_)) => {}
            None => return Err(Failure::BadTarget("the URL names no host".to_string())),
        }
        Ok(&self.checked_client)
    }

    /// The page's response: upstream status and headers (filtered, rewritten), the body
    /// streamed through while the upstream slot stays held.
    fn relay(
        &self,
        target: &ProxyTarget,
        upstream: Upstream,
        authorized: bool,
        slot: Slots,
        log: RequestLog,
    ) -> Response<Body> {
        let Upstream {
            response,
            redirect_digest,
        } = upstream;
        let status = response.status();
        let mut headers = response_headers(response.headers());
        if let Some(digest) = redirect_digest {
            headers.entry(DOCKER_CONTENT_DIGEST).or_insert(digest);
        }
        if target.kind == UpstreamKind::Registry {
            rewrite_challenges(&mut headers);
        }
        let cache = cache_control(target, status, authorized);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        add_proxy_headers(&mut headers);
        let body = RelayedBody {
            chunks: Box::pin(response.bytes_stream()),
            status: status.as_u16(),
            bytes: 0,
            outcome: BodyOutcome::Streaming,
            log,
            _slot: slot,
        };
        let mut relayed = Response::new(Body::from_stream(body));
        *relayed.status_mut() = status;
        *relayed.headers_mut() = headers;
        relayed
    }
}

const DOCKER_CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");

/// A 403 when the resolver refused the name, else 502 or 504 with the error's causes (never
/// the request's headers; URLs carry no credentials since user info is refused).
fn upstream_failure(error: reqwest::Error) -> Failure {
    if let Some(refused) = guard::refused_cause(&error) {
        return Failure::Refused(refused.to_string());
    }
    if error.is_timeout() {
        return Failure::Timeout;
    }
    let error = error.without_url();
    let mut reason = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        reason.push_str(": ");
        reason.push_str(&inner.to_string());
        cause = inner.source();
    }
    Failure::Unreachable(reason)
}

/// Whether a header name is dropped in both directions: hop-by-hop headers, those the
/// `Connection` header lists, `Proxy-*`, and cookies (the page's cookies are not the
/// registry's, and a registry's cookies must not land on the page's origin).
fn is_dropped_both_ways(name: &HeaderName, connection_listed: &[String]) -> bool {
    let name = name.as_str();
    HOP_BY_HOP.contains(&name)
        || name.starts_with("proxy-")
        || name == "cookie"
        || name == "set-cookie"
        || connection_listed.iter().any(|listed| listed == name)
}

fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect()
}

/// The page's request headers as sent upstream; `Host` and `Content-Length` are the
/// client's to set, `Authorization` only when this hop is the host it was meant for.
fn request_headers(incoming: &HeaderMap, send_authorization: bool) -> HeaderMap {
    let listed = connection_listed(incoming);
    let mut outgoing = HeaderMap::new();
    for (name, value) in incoming {
        let dropped = is_dropped_both_ways(name, &listed)
            || name == header::HOST
            || name == header::CONTENT_LENGTH
            || (name == header::AUTHORIZATION && !send_authorization);
        if !dropped {
            outgoing.append(name.clone(), value.clone());
        }
    }
    outgoing
}

/// The upstream's response headers as given to the page. Besides hop-by-hop headers and
/// cookies, upstream CORS and caching are replaced by the proxy's own, and headers that would
/// bind the page's origin to the storage host's policy (HSTS, Alt-Svc) are dropped.
fn response_headers(upstream: &HeaderMap) -> HeaderMap {
    let listed = connection_listed(upstream);
    let mut relayed = HeaderMap::new();
    for (name, value) in upstream {
        let dropped = is_dropped_both_ways(name, &listed)
            || name.as_str().starts_with("access-control-")
            || name == header::CACHE_CONTROL
            || name == header::STRICT_TRANSPORT_SECURITY
            || name == header::ALT_SVC
            || name == header::LOCATION;
        if !dropped {
            relayed.append(name.clone(), value.clone());
        }
    }
    relayed
}

/// Headers on every proxied response: exposure for the page, and no way for upstream bytes
/// to run as a document on the page's origin (a hostile registry could send HTML).
fn add_proxy_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
}

/// The answer to a CORS preflight: GET and HEAD with the headers the registry flow sends.
fn preflight() -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Accept"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    add_proxy_headers(headers);
    response
}

/// Points each Bearer challenge's realm at `/proxy-token/{host}/{path}?{query}`, keeping the
/// other parameters (`service`, `scope`, `error`), so the page asks for tokens on its own
/// origin. A header the core's parser refuses is passed on as it came.
fn rewrite_challenges(headers: &mut HeaderMap) {
    let values: Vec<HeaderValue> = headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .cloned()
        .collect();
    if values.is_empty() {
        return;
    }
    headers.remove(header::WWW_AUTHENTICATE);
    for value in values {
        let rewritten = value
            .to_str()
            .ok()
            .and_then(challenges_to_proxy)
            .and_then(|text| HeaderValue::from_str(&text).ok());
        headers.append(header::WWW_AUTHENTICATE, rewritten.unwrap_or(value));
    }
}

/// `Cache-Control` for a proxied response: by digest immutable, by tag revalidated, tokens
/// and failures never stored.
fn cache_control(target: &ProxyTarget, status: StatusCode, authorized: bool) -> &'static str {
    if target.kind == UpstreamKind::TokenRealm || status != StatusCode::OK {
        return "no-store";
    }
    if addressed_by_digest(target.path()) {
        if authorized {
            IMMUTABLE_PRIVATE
        } else {
            IMMUTABLE_PUBLIC
        }
    } else {
        "no-cache"
    }
}

/// `/v2/{name}/blobs/{digest}` or `/v2/{name}/manifests/{digest}`: content that cannot change.
fn addressed_by_digest(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v2", name @ .., kind, reference]
            if !name.is_empty() && (*kind == "blobs" || *kind == "manifests") =>
        {
            AnyDigest::parse(reference).is_ok()
        }
        _ => false,
    }
}

fn plain_text(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(text.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the request log line names: never headers, never the query (it may carry account
/// names), so no credential can reach the log.
#[derive(Debug, Clone)]
struct RequestLog {
    method: Method,
    host: String,
    path: String,
}

impl RequestLog {
    fn write(&self, status: u16, bytes: u64, note: &str) {
        let note = if note.is_empty() {
            String::new()
        } else {
            format!(" ({note})")
        };
        eprintln!(
            "layerscope proxy: {} {} {} {status} {bytes} bytes{note}",
            self.method, self.host, self.path
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyOutcome {
    Streaming,
    Complete,
    UpstreamFailed,
}

/// The upstream body as it streams to the page: counts bytes, holds the upstream slot, and
/// writes the request's log line when it ends or the page goes away.
struct RelayedBody {
    chunks: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    status: u16,
    bytes: u64,
    outcome: BodyOutcome,
    log: RequestLog,
    _slot: Slots,
}

impl Stream for RelayedBody {
    type Item = reqwest::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = this.chunks.as_mut().poll_next(context);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => this.bytes += chunk.len() as u64,
            Poll::Ready(Some(Err(_))) => this.outcome = BodyOutcome::UpstreamFailed,
            Poll::Ready(None) => this.outcome = BodyOutcome::Complete,
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for RelayedBody {
    fn drop(&mut self) {
        let note = match self.outcome {
            BodyOutcome::Complete => "",
            BodyOutcome::Streaming => "the client went away",
            BodyOutcome::UpstreamFailed => "the upstream body failed",
        };
        self.log.write(self.status, self.bytes, note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_origins_are_written_as_browsers_send_them() {
        for (given, origin) in [
            ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
            ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
            ("HTTPS://Tools.Example:443", "https://tools.example"),
            ("http://localhost:80", "http://localhost"),
        ] {
            assert_eq!(
                AllowedOrigin::parse(given).unwrap().as_str(),
                origin,
                "{given}"
            );
        }
        for bad in [
            "127.0.0.1:8000",
            "http://a.example/page",
            "http://a.example/?x",
            "ftp://a.example",
        ] {
            assert!(AllowedOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    fn registry_target(path: &str) -> ProxyTarget {
        ProxyTarget {
            kind: UpstreamKind::Registry,
            authority: "registry.example".to_string(),
            path_and_query: path.to_string(),
        }
    }

    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn content_by_digest_is_immutable_and_private_with_credentials() {
        let blob = registry_target(&format!("/v2/library/nginx/blobs/{DIGEST}"));
        assert_eq!(
            cache_control(&blob, StatusCode::OK, false),
            IMMUTABLE_PUBLIC
        );
        assert_eq!(
            cache_control(&blob, StatusCode::OK, true),
            IMMUTABLE_PRIVATE
        );
        let manifest = registry_target(&format!("/v2/a/b/c/manifests/{DIGEST}"));
        assert_eq!(
            cache_control(&manifest, StatusCode::OK, false),
            IMMUTABLE_PUBLIC
        );
    }

    #[test]
    fn tags_failures_and_tokens_are_not_kept() {
        let by_tag = registry_target("/v2/library/nginx/manifests/latest");
        assert_eq!(cache_control(&by_tag, StatusCode::OK, false), "no-cache");
        let blob = registry_target(&format!("/v2/library/nginx/blobs/{DIGEST}"));
        assert_eq!(
            cache_control(&blob, StatusCode::UNAUTHORIZED, false),
            "no-store"
        );
        assert_eq!(
            cache_control(&blob, StatusCode::PARTIAL_CONTENT, false),
            "no-store"
        );
        let no_name = registry_target(&format!("/v2/blobs/{DIGEST}"));
        assert_eq!(cache_control(&no_name, StatusCode::OK, false), "no-cache");
        let token = ProxyTarget {
            kind: UpstreamKind::TokenRealm,
            ..registry_target("/token?scope=x")
        };
        assert_eq!(cache_control(&token, StatusCode::OK, false), "no-store");
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn hop_by_hop_headers_and_cookies_stay_behind_on_requests() {
        let incoming = headers(&[
            ("Host", "127.0.0.1:8080"),
            ("Connection", "keep-alive, X-Secret-Hop"),
            ("X-Secret-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Proxy-Authorization", "Basic cHJveHk="),
            ("Cookie", "session=abc"),
            ("Accept", "application/vnd.oci.image.manifest.v1+json"),
            ("Authorization", "Bearer token"),
            ("Range", "bytes=0-9"),
        ]);
        let to_its_host = request_headers(&incoming, true);
        let names: Vec<&str> = to_its_host.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["accept", "authorization", "range"]);
        let to_other_host = request_headers(&incoming, false);
        assert!(!to_other_host.contains_key(header::AUTHORIZATION));
        assert!(to_other_host.contains_key(header::ACCEPT));
    }

    #[test]
    fn upstream_cookies_cors_and_caching_are_replaced() {
        let upstream = headers(&[
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", "42"),
            ("Docker-Content-Digest", DIGEST),
            ("Set-Cookie", "tracking=1"),
            ("Transfer-Encoding", "chunked"),
            ("Access-Control-Allow-Origin", "*"),
            ("Cache-Control", "max-age=60"),
            ("Strict-Transport-Security", "max-age=63072000"),
            (
                "WWW-Authenticate",
                "Bearer realm=\"https://auth.example/token\"",
            ),
        ]);
        let relayed = response_headers(&upstream);
        let names: Vec<&str> = relayed.keys().map(HeaderName::as_str).collect();
        assert_eq!(
            names,
            [
                "content-type",
                "content-length",
                "docker-content-digest",
                "www-authenticate"
            ]
        );
    }

    #[test]
    fn bearer_realms_point_at_the_token_proxy_and_keep_their_parameters() {
        let docker_hub = "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/nginx:pull,push\"";
        assert_eq!(
            challenges_to_proxy(docker_hub).as_deref(),
            Some("Bearer realm=\"/proxy-token/auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/nginx:pull,push\"")
        );
        let with_port_and_query =
            "bearer realm=\"http://127.0.0.1:5001/jwt/auth?client=x\", error=\"insufficient_scope\"";
        assert_eq!(
            challenges_to_proxy(with_port_and_query).as_deref(),
            Some("Bearer realm=\"/proxy-token/127.0.0.1:5001/jwt/auth?client=x\",error=\"insufficient_scope\"")
        );
        // Basic realms are names for people, not URLs; malformed headers pass unchanged.
        assert_eq!(
            challenges_to_proxy("Basic realm=\"https://example.com/\""),
            None
        );
        assert_eq!(challenges_to_proxy("Bearer realm=\"unterminated"), None);
        let mut headers = headers(&[
            ("WWW-Authenticate", docker_hub),
            ("WWW-Authenticate", "Basic realm=\"r\""),
        ]);
        rewrite_challenges(&mut headers);
        let values: Vec<&str> = headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .map(|value| value.to_str().unwrap())
            .collect();
        assert!(values[0].starts_with("Bearer realm=\"/proxy-token/auth.docker.io/token\""));
        assert_eq!(values[1], "Basic realm=\"r\"");
    }

    #[test]
    fn a_client_gets_its_share_of_slots_and_each_back_when_dropped() {
        let slots = Arc::new(ClientSlots::new(2));
        let (one, two): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "::1".parse().unwrap());
        let first = slots.take(one).expect("first");
        let second = slots.take(one).expect("second");
        assert!(slots.take(one).is_none(), "past its share");
        let other = slots.take(two).expect("another client is not held back");
        assert_eq!((slots.held_by(one), slots.held_by(two)), (2, 1));
        drop(first);
        let again = slots.take(one).expect("a slot given back is free again");
        drop((second, again, other));
        assert_eq!(
            slots.held.lock().unwrap().len(),
            0,
            "no client kept once done"
        );
    }

    #[test]
    fn plain_http_and_internal_literals_are_refused_without_the_flag() {
        let proxy = Proxy::new(
            vec![InsecureRegistry::parse("127.0.0.1:5000").unwrap()],
            Vec::new(),
            Vec::new(),
            1,
            1,
        )
        .unwrap();
        let url = |text: &str| Url::parse(text).unwrap();
        assert!(proxy.client_for(&url("http://127.0.0.1:5000/v2/")).is_ok());
        for refused in [
            "https://127.0.0.1:5001/v2/",
            "http://registry.example/v2/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/v2/",
            "https://user:pass@registry.example/v2/",
        ] {
            match proxy.client_for(&url(refused)) {
                Err(Failure::Refused(reason)) => assert!(!reason.is_empty()),
                other => panic!("{refused}: {:?}", other.map(|_| "a client")),
            }
        }
        assert!(proxy
            .client_for(&url("https://registry.example/v2/"))
            .is_ok());
    }
}
