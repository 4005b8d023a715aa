//! `layerscope serve`: serves the built page (`dist/`) and the registry CORS proxy over plain
//! HTTP, by default on loopback.
//!
//! One tokio runtime answers both: files are streamed from disk with MIME types from their
//! extension, and paths under `/proxy/` and `/proxy-token/` go to [`proxy::Proxy`], which
//! forwards them to registries and their token services. Every request is routed by [`route`].

mod csp;
mod guard;
mod proxy;
mod target;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, Response, StatusCode};
use tokio_util::io::ReaderStream;

pub use guard::PinnedName;
pub use proxy::AllowedOrigin;
pub use target::{BadTarget, InsecureRegistry, ProxyTarget};

/// Runtime threads answering requests; the work is IO, so a few serve many connections.
const WORKER_THREADS: usize = 4;

/// Chunk size for files streamed from disk.
const FILE_CHUNK_BYTES: usize = 64 * 1024;

/// The script that builds `dist/`, named in the error when the page is missing.
const BUILD_SCRIPT: &str = "scripts/build-web.sh";

/// Command-line options of `layerscope serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Directory holding the built page (index.html, the .js and .wasm files).
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// A registry the proxy may reach over plain HTTP and on a loopback or private address
    /// (repeatable), e.g. a development registry at 127.0.0.1:5000.
    #[arg(long = "insecure-registry", value_name = "HOST:PORT", value_parser = InsecureRegistry::parse)]
    pub insecure_registries: Vec<InsecureRegistry>,
    /// A web origin whose pages may use this proxy from elsewhere (repeatable), e.g. the
    /// server of a page whose settings name this proxy: http://127.0.0.1:8000. Its pages can
    /// then read whatever this proxy reaches, --insecure-registry hosts included.
    #[arg(long = "allow-origin", value_name = "ORIGIN", value_parser = AllowedOrigin::parse)]
    pub allowed_origins: Vec<AllowedOrigin>,
    /// Answer NAME with these addresses instead of DNS (repeatable), as curl's --resolve; the
    /// proxy's address checks still apply to them.
    #[arg(long = "resolve", value_name = "NAME=ADDR[,ADDR]", value_parser = PinnedName::parse)]
    pub pinned_names: Vec<PinnedName>,
    /// Upstream requests the proxy has in flight at once; each holds its slot until its body
    /// is sent, and a request waits up to 30 s for one before the proxy answers 503.
    #[arg(long = "max-upstream-requests", value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_upstream_requests: u32,
    /// Upstream requests one client (one peer address) may have in flight at once; past it
    /// the proxy answers 429 with Retry-After, so that one client cannot hold every slot.
    #[arg(long = "max-upstream-per-client", value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_upstream_per_client: u32,
}

/// Why `layerscope serve` could not start.
#[derive(Debug)]
pub enum ServeError {
    /// The dist directory or its index.html does not exist.
    NoBuiltPage { dist: PathBuf },
    /// The dist directory exists but could not be resolved (permissions, broken link).
    BadDist { dist: PathBuf, source: io::Error },
    /// Binding the listening socket failed (address in use, bad address).
    Bind { addr: SocketAddr, message: String },
    /// The async runtime or the proxy's HTTP client could not be set up.
    Setup { message: String },
    /// The listener failed while serving.
    Serve { source: io::Error },
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::NoBuiltPage { dist } => write!(
                f,
                "no built page at {}: run {BUILD_SCRIPT} first (or pass --dist DIR)",
                display_dir(dist)
            ),
            ServeError::BadDist { dist, source } => {
                write!(
                    f,
                    "cannot use {} as the page directory: {source}",
                    display_dir(dist)
                )
            }
            ServeError::Bind { addr, message } => write!(f, "cannot listen on {addr}: {message}"),
            ServeError::Setup { message } => write!(f, "cannot start the server: {message}"),
            ServeError::Serve { source } => write!(f, "the server stopped: {source}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::BadDist { source, .. } | ServeError::Serve { source } => Some(source),
            _ => None,
        }
    }
}

/// What every request handler shares.
struct App {
    root: PathBuf,
    proxy: proxy::Proxy,
}

/// Starts the server and answers requests until the process is killed.
pub fn run(args: &ServeArgs) -> Result<(), ServeError> {
    let root = checked_dist_root(&args.dist)?;
    // Bound before the runtime starts so that a busy port fails as plainly as before.
    let listener = std::net::TcpListener::bind(args.addr).map_err(|error| ServeError::Bind {
        addr: args.addr,
        message: error.to_string(),
    })?;
    let bound = listener.local_addr().unwrap_or(args.addr);
    let setup = |message: String| ServeError::Setup { message };
    listener
        .set_nonblocking(true)
        .map_err(|error| setup(error.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("layerscope-serve")
        .enable_all()
        .build()
        .map_err(|error| setup(error.to_string()))?;
    let proxy = proxy::Proxy::new(
        args.insecure_registries.clone(),
        args.allowed_origins.clone(),
        args.pinned_names.clone(),
        args.max_upstream_requests as usize,
        args.max_upstream_per_client as usize,
    )
    .map_err(|error| setup(format!("the proxy's HTTP client: {error}")))?;
    let app = Arc::new(App { root, proxy });
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|error| setup(error.to_string()))?;
        // With port 0 the OS picks the port: print the bound one so callers can connect.
        println!(
            "layerscope serving {} at http://{bound}/",
            display_dir(&args.dist)
        );
        let router = axum::Router::new().fallback(answer).with_state(app);
        serve_connections(listener, router)
            .await
            .map_err(|source| ServeError::Serve { source })
    })
}

/// Connections open at once; a client past this waits in the listen backlog, and those
/// already connected go on being answered.
const MAX_CONNECTIONS: usize = 8192;

/// How long a client may take to send a request's headers (the first one and each next one
/// on a kept-alive connection); a client that trickles them is disconnected after this.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// The accept loop: each connection is answered by its own task, with a deadline on request
/// headers (so slow clients hold no more than a socket and a small task each, and only for a
/// while) and at most [`MAX_CONNECTIONS`] of them open.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: axum::Router,
) -> io::Result<()> {
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = Arc::clone(&connections)
            .acquire_owned()
            .await
            .expect("the connection semaphore is never closed");
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors or a connection reset before it was accepted: the
            // listener itself is fine, so wait a moment and go on.
            Err(error) if is_transient_accept_error(&error) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(error) => return Err(error),
        };
        let mut stream = stream;
        drop_stalled_readers(&mut stream);
        // The peer goes with every request of the connection (the proxy shares its slots
        // out by client).
        let service = hyper_util::service::TowerToHyperService::new(
            router.clone().layer(axum::Extension(Client(peer.ip()))),
        );
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES * 2);
            // A failed connection (a client gone, headers too slow or too large) concerns
            // that client only; hyper has answered it where it could.
            let _ = http
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

fn is_transient_accept_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || error.raw_os_error().is_some_and(|code| {
        // EMFILE, ENFILE, ENOBUFS, ENOMEM: resources that free up as connections end.
        [24, 23, 105, 12].contains(&code)
    })
}

/// A client that stops reading holds its upstream slot for as long as the connection lives;
/// the kernel closes a connection whose sent data stays unacknowledged this long (zero-window
/// probes included), which drops the response body and frees the slot.
const STALLED_READER_TIMEOUT: Duration = Duration::from_secs(60);

fn drop_stalled_readers(stream: &mut tokio::net::TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(error) =
        socket2::SockRef::from(&*stream).set_tcp_user_timeout(Some(STALLED_READER_TIMEOUT))
    {
        eprintln!("layerscope serve: cannot set TCP_USER_TIMEOUT: {error}");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = (stream, STALLED_READER_TIMEOUT);
}

/// Shows a directory the way the user typed it, with a trailing slash (`dist/`).
fn display_dir(dir: &Path) -> String {
    let text = dir.display().to_string();
    if text.ends_with('/') {
        text
    } else {
        format!("{text}/")
    }
}

/// Resolves the dist directory once, so later containment checks compare canonical paths.
fn checked_dist_root(dist: &Path) -> Result<PathBuf, ServeError> {
    if !dist.join("index.html").is_file() {
        return Err(ServeError::NoBuiltPage {
            dist: dist.to_path_buf(),
        });
    }
    dist.canonicalize().map_err(|source| ServeError::BadDist {
        dist: dist.to_path_buf(),
        source,
    })
}

/// Where a request goes: the proxy's prefixes first, then the static files.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// A file below the dist directory, given as its path relative to that directory.
    StaticFile(PathBuf),
    /// The URL path cannot name a file below dist (`..`, NUL, backslash, bad escapes).
    Rejected,
    /// A registry or token request for the CORS proxy (`/proxy/...`, `/proxy-token/...`),
    /// or why its path names no valid upstream.
    Proxy(Result<ProxyTarget, BadTarget>),
}

/// Maps a raw request target (path plus optional query) to a [`Route`].
pub fn route(target: &str) -> Route {
    if let Some(proxied) = target::parse_proxy_target(target) {
        return Route::Proxy(proxied);
    }
    match safe_relative_path(target) {
        Some(relative) => Route::StaticFile(relative),
        None => Route::Rejected,
    }
}

/// Turns a URL path into a relative file path, or `None` if it could escape the root.
///
/// `/` and paths ending in `/` name the directory's `index.html`. Percent escapes are
/// decoded before checking, so `%2e%2e` is refused like `..`.
pub fn safe_relative_path(target: &str) -> Option<PathBuf> {
    let path_only = target.split(['?', '#']).next().unwrap_or("");
    if !path_only.starts_with('/') {
        return None;
    }
    let decoded = percent_decode(path_only)?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return None;
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split('/').filter(|segment| !segment.is_empty()) {
        if segment == "." || segment == ".." {
            return None;
        }
        relative.push(segment);
    }
    // Only plain names may remain; a segment like `C:` would otherwise be a prefix on Windows.
    if !relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)))
    {
        return None;
    }
    if decoded.ends_with('/') {
        relative.push("index.html");
    }
    Some(relative)
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// The Content-Type for a file, from its extension; unknown types are served as bytes.
pub fn mime_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        Some("tar") => "application/x-tar",
        Some("gz" | "tgz") => "application/gzip",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The longest request target (path and query) answered; registry paths with a digest and
/// token queries with several scopes stay far below it.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;

/// The most request-header bytes (names and values) answered; past it the answer is 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The peer address of the connection a request came on.
#[derive(Clone, Copy, Debug)]
struct Client(std::net::IpAddr);

async fn answer(State(app): State<Arc<App>>, request: Request) -> Response<Body> {
    let method = request.method().clone();
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |path_and_query| path_and_query.as_str());
    if target.len() > MAX_TARGET_BYTES {
        return text_response(
            StatusCode::URI_TOO_LONG,
            "the request's path and query are longer than 8192 bytes\n",
        );
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return text_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "the request's headers are larger than 16384 bytes\n",
        );
    }
    match route(target) {
        Route::Proxy(proxied) => {
            let client = request
                .extensions()
                .get::<Client>()
                .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |client| client.0);
            app.proxy
                .handle(client, &method, proxied, request.headers())
                .await
        }
        _ if method != Method::GET && method != Method::HEAD => text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served\n",
        ),
        Route::StaticFile(relative) => serve_file(&app.root, &relative).await,
        Route::Rejected => text_response(StatusCode::BAD_REQUEST, "bad path\n"),
    }
}

async fn serve_file(root: &Path, relative: &Path) -> Response<Body> {
    let not_found = || text_response(StatusCode::NOT_FOUND, "not found\n");
    let Some(file_path) = contained_file(root, relative).await else {
        return not_found();
    };
    let Ok(file) = tokio::fs::File::open(&file_path).await else {
        return not_found();
    };
    let Ok(metadata) = file.metadata().await else {
        return not_found();
    };
    let body = Body::from_stream(ReaderStream::with_capacity(file, FILE_CHUNK_BYTES));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mime_type(&file_path)),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(metadata.len()));
    // The page is rebuilt in place during development; always revalidate.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // On every file, not only the page: a worker's policy is the one its own script came with.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp::HEADER_POLICY),
    );
    response
}

/// The file's canonical path if it is a regular file inside `root` (symlinks may not lead out).
async fn contained_file(root: &Path, relative: &Path) -> Option<PathBuf> {
    let canonical = tokio::fs::canonicalize(root.join(relative)).await.ok()?;
    let is_file = tokio::fs::metadata(&canonical).await.ok()?.is_file();
    (canonical.starts_with(root) && is_file).then_some(canonical)
}

fn text_response(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_directories_map_to_index_html() {
        assert_eq!(route("/"), Route::StaticFile(PathBuf::from("index.html")));
        assert_eq!(
            route("/demo/?x=1"),
            Route::StaticFile(PathBuf::from("demo/index.html"))
        );
    }

    #[test]
    fn query_and_fragment_are_ignored() {
        assert_eq!(
            route("/app.js?v=3#top"),
            Route::StaticFile(PathBuf::from("app.js"))
        );
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(
            route("/static/demo/layer%20one.tar"),
            Route::StaticFile(PathBuf::from("static/demo/layer one.tar"))
        );
    }

    #[test]
    fn traversal_is_rejected_in_every_spelling() {
        for target in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/a/..",
            "/./index.html",
            "/..%5c..%5cetc",
            "/a\\..\\b",
            "/index.html%00.js",
            "/bad%zzescape",
            "/truncated%2",
            "relative/path",
            "/%ff%fe",
        ] {
            assert_eq!(route(target), Route::Rejected, "{target} must be rejected");
        }
    }

    #[test]
    fn proxy_prefixes_route_to_the_proxy_before_static_files() {
        match route("/proxy/127.0.0.1:5000/v2/a/b/manifests/1") {
            Route::Proxy(Ok(target)) => assert_eq!(target.authority, "127.0.0.1:5000"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            route("/proxy/host/etc/passwd"),
            Route::Proxy(Err(_))
        ));
        assert!(matches!(
            route("/proxy-token/auth.example/token?scope=x"),
            Route::Proxy(Ok(_))
        ));
        assert_eq!(route("/proxy"), Route::StaticFile(PathBuf::from("proxy")));
    }

    #[test]
    fn mime_types_follow_extensions() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("app-1234.js", "text/javascript; charset=utf-8"),
            ("app-1234_bg.wasm", "application/wasm"),
            ("style.CSS", "text/css; charset=utf-8"),
            ("logo.svg", "image/svg+xml"),
            ("demo/layerscope-demo.tar", "application/x-tar"),
            ("manifest.json", "application/json"),
            ("README", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            assert_eq!(mime_type(Path::new(name)), expected, "{name}");
        }
    }

    #[test]
    fn missing_dist_names_the_directory_and_the_build_script() {
        let error = checked_dist_root(Path::new("/nonexistent/layerscope-dist")).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("no built page at /nonexistent/layerscope-dist/")
                && message.contains(BUILD_SCRIPT),
            "{message}"
        );
    }
}
