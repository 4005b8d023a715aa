//! The `layerscope serve` binary serving the built page.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{ChildStdout, Command, Stdio};

use crate::process::{repo_root, ChildGuard};

/// The `layerscope` binary: `$LAYERSCOPE_BIN`, else `target/release/layerscope`, else
/// `target/debug/layerscope` (under `$CARGO_TARGET_DIR` when set).
pub fn layerscope_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("LAYERSCOPE_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let candidates = [
        target.join("release/layerscope"),
        target.join("debug/layerscope"),
    ];
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no layerscope binary at {} or {}: build it first (cargo build --release -p layerscope) or set LAYERSCOPE_BIN",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

/// The built page: `$LAYERSCOPE_DIST`, else `<repo>/dist`.
pub fn dist_dir() -> PathBuf {
    std::env::var_os("LAYERSCOPE_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("dist"))
}

/// The built page directory, or a panic telling how to build it (tests never skip it).
pub fn require_built_dist() -> PathBuf {
    let dist = dist_dir();
    assert!(
        dist.join("index.html").is_file(),
        "dist/ not built: run scripts/build-web.sh (looked for {})",
        dist.join("index.html").display()
    );
    dist
}

/// `layerscope serve` on a free loopback port; killed on drop.
pub struct LayerscopeServer {
    /// The page's URL, `http://127.0.0.1:PORT/`.
    pub url: String,
    /// The bound port.
    pub port: u16,
    // Kept open: the server's stdout must stay writable for its lifetime.
    _stdout: BufReader<ChildStdout>,
    _guard: ChildGuard,
}

impl LayerscopeServer {
    /// Serves the built page ([`require_built_dist`]) with [`layerscope_binary`].
    pub fn start() -> LayerscopeServer {
        LayerscopeServer::start_with(layerscope_binary(), require_built_dist())
    }

    /// Serves `dist` with the given binary on `127.0.0.1:0`, reading the bound port from the
    /// banner the server prints.
    pub fn start_with(binary: PathBuf, dist: PathBuf) -> LayerscopeServer {
        let mut command = Command::new(&binary);
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--dist"])
            .arg(&dist)
            .stdout(Stdio::piped());
        let mut guard = ChildGuard::spawn("layerscope serve", command);
        let stdout = guard.child_mut().stdout.take().expect("piped stdout");
        let mut stdout = BufReader::new(stdout);
        let mut banner = String::new();
        if stdout.read_line(&mut banner).unwrap_or(0) == 0 {
            guard.fail(&format!(
                "printed no banner ({} serve --dist {})",
                binary.display(),
                dist.display()
            ));
        }
        let url = banner
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        let port = url
            .strip_prefix("http://127.0.0.1:")
            .and_then(|rest| rest.trim_end_matches('/').parse::<u16>().ok());
        let Some(port) = port else {
            guard.fail(&format!(
                "banner {banner:?} does not end in http://127.0.0.1:PORT/"
            ));
        };
        LayerscopeServer {
            url,
            port,
            _stdout: stdout,
            _guard: guard,
        }
    }

    /// The origin of the served page, `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
