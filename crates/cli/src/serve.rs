//! `layerscope serve`: serves the built page (`dist/`) over plain HTTP on loopback.
//!
//! The server is deliberately small: tiny_http with a fixed pool of worker threads, files
//! streamed from disk, MIME types from the extension. Every request goes through [`route`],
//! which is where the registry CORS proxy (`/proxy/...`) will plug in later.

use std::fmt;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::thread;

use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

/// Worker threads answering requests; the page loads a handful of files at once.
const WORKER_THREADS: usize = 4;

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
        }
    }
}

impl std::error::Error for ServeError {}

/// Starts the server and answers requests until the process is killed.
pub fn run(args: &ServeArgs) -> Result<(), ServeError> {
    let root = checked_dist_root(&args.dist)?;
    let server = Server::http(args.addr).map_err(|error| ServeError::Bind {
        addr: args.addr,
        message: error.to_string(),
    })?;
    // With port 0 the OS picks the port: print the bound one so callers can connect.
    let bound = server.server_addr().to_ip().unwrap_or(args.addr);
    println!(
        "layerscope serving {} at http://{bound}/",
        display_dir(&args.dist)
    );

    let server = Arc::new(server);
    let root = Arc::new(root);
    let workers: Vec<_> = (0..WORKER_THREADS)
        .map(|_| {
            let server = Arc::clone(&server);
            let root = Arc::clone(&root);
            thread::spawn(move || answer_requests(&server, &root))
        })
        .collect();
    for worker in workers {
        // A worker only ends when the listener fails; the others keep serving meanwhile.
        let _ = worker.join();
    }
    Ok(())
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

fn answer_requests(server: &Server, root: &Path) {
    loop {
        let request = match server.recv() {
            Ok(request) => request,
            Err(error) => {
                eprintln!("layerscope serve: listener failed: {error}");
                return;
            }
        };
        let response_result = respond(request, root);
        if let Err(error) = response_result {
            // The client went away mid-response; nothing to do for it.
            eprintln!("layerscope serve: could not send a response: {error}");
        }
    }
}

/// Where a request goes. New kinds of endpoints are added here, before the static files.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// A file below the dist directory, given as its path relative to that directory.
    StaticFile(PathBuf),
    /// The URL path cannot name a file below dist (`..`, NUL, backslash, bad escapes).
    Rejected,
    // A later issue adds the registry CORS proxy here: paths under `/proxy/` will route to
    // it before falling through to static files.
}

/// Maps a raw request target (path plus optional query) to a [`Route`].
pub fn route(target: &str) -> Route {
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

fn respond(request: Request, root: &Path) -> io::Result<()> {
    if !matches!(request.method(), Method::Get | Method::Head) {
        return request.respond(text_response(405, "only GET and HEAD are served\n"));
    }
    match route(request.url()) {
        Route::StaticFile(relative) => serve_file(request, root, &relative),
        Route::Rejected => request.respond(text_response(400, "bad path\n")),
    }
}

fn serve_file(request: Request, root: &Path, relative: &Path) -> io::Result<()> {
    let Some(file_path) = contained_file(root, relative) else {
        return request.respond(text_response(404, "not found\n"));
    };
    let file = match File::open(&file_path) {
        Ok(file) => file,
        Err(_) => return request.respond(text_response(404, "not found\n")),
    };
    let response = Response::from_file(file)
        .with_header(header("Content-Type", mime_type(&file_path)))
        // The page is rebuilt in place during development; always revalidate.
        .with_header(header("Cache-Control", "no-cache"))
        .with_header(header("X-Content-Type-Options", "nosniff"));
    request.respond(response)
}

/// The file's canonical path if it is a regular file inside `root` (symlinks may not lead out).
fn contained_file(root: &Path, relative: &Path) -> Option<PathBuf> {
    let canonical = root.join(relative).canonicalize().ok()?;
    (canonical.starts_with(root) && canonical.is_file()).then_some(canonical)
}

fn text_response(status: u16, body: &str) -> Response<io::Cursor<Vec<u8>>> {
    Response::from_string(body)
        .with_status_code(StatusCode(status))
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("static header names and values are valid ASCII")
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
