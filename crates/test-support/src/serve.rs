//! The binary and the page under test, and `layerscope serve` started on loopback.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Stdio};

use crate::process::ChildGuard;

/// Names the `layerscope` binary under test; `scripts/test.sh` sets it to the build it made.
pub const BIN_VARIABLE: &str = "LAYERSCOPE_BIN";
/// Names the built page under test; `scripts/test.sh` sets it to the `dist/` it built.
pub const DIST_VARIABLE: &str = "LAYERSCOPE_DIST";

fn from_env(variable: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

fn checked_binary(path: PathBuf, named_by: &str) -> PathBuf {
    assert!(
        path.is_file(),
        "{named_by} names {}, which is not a file: build layerscope first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Exactly the `layerscope` binary `$LAYERSCOPE_BIN` names. A package without the binary
/// cannot know which build is meant (a `target/release` one may be stale), so it panics
/// when the variable is not set rather than guess.
pub fn layerscope_binary() -> PathBuf {
    match from_env(BIN_VARIABLE) {
        Some(path) => checked_binary(path, BIN_VARIABLE),
        None => panic!(
            "{BIN_VARIABLE} is not set: point it at the layerscope binary under test \
             (scripts/test.sh builds it and sets {BIN_VARIABLE}={{target}}/debug/layerscope)"
        ),
    }
}

/// `$LAYERSCOPE_BIN` when set, else `cargo_build`: the package's own build, as cargo names it
/// to that package's tests (`env!("CARGO_BIN_EXE_layerscope")`).
pub fn layerscope_binary_or(cargo_build: &str) -> PathBuf {
    match from_env(BIN_VARIABLE) {
        Some(path) => checked_binary(path, BIN_VARIABLE),
        None => checked_binary(PathBuf::from(cargo_build), "CARGO_BIN_EXE_layerscope"),
    }
}

/// Exactly the built page `$LAYERSCOPE_DIST` names, checked to hold an `index.html`; panics
/// when the variable is not set (any `dist/` lying around may be an old build).
pub fn dist_dir() -> PathBuf {
    let Some(dist) = from_env(DIST_VARIABLE) else {
        panic!(
            "{DIST_VARIABLE} is not set: build the page (scripts/build-web.sh) and point \
             {DIST_VARIABLE} at its dist/ (scripts/test.sh does both)"
        );
    };
    assert!(
        dist.join("index.html").is_file(),
        "{DIST_VARIABLE} names {}, which holds no index.html: build the page with scripts/build-web.sh",
        dist.display()
    );
    dist
}

/// What `layerscope serve` prints first: `layerscope serving DIR/ at http://HOST:PORT/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeBanner {
    /// The served directory as the banner shows it (ends in `/`).
    pub served: String,
    /// The page's URL, `http://HOST:PORT/`.
    pub url: String,
    /// The host part of the URL.
    pub host: String,
    /// The bound port (never 0: the banner shows the port the OS picked).
    pub port: u16,
}

/// Reads `layerscope serve`'s startup line; the error says what is off.
pub fn parse_serve_banner(line: &str) -> Result<ServeBanner, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    let rest = line
        .strip_prefix("layerscope serving ")
        .ok_or_else(|| format!("banner {line:?} does not start with \"layerscope serving \""))?;
    let (served, url) = rest
        .rsplit_once(" at ")
        .ok_or_else(|| format!("banner {line:?} has no \" at URL\""))?;
    let authority = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .ok_or_else(|| format!("banner {line:?} does not end in http://HOST:PORT/"))?;
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| format!("banner {line:?}: {authority:?} has no port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("banner {line:?}: port {port:?} is not a number"))?;
    if port == 0 {
        return Err(format!(
            "banner {line:?} shows port 0, not the port it bound"
        ));
    }
    if served.is_empty() || host.is_empty() {
        return Err(format!("banner {line:?} names no directory or no host"));
    }
    Ok(ServeBanner {
        served: served.to_string(),
        url: url.to_string(),
        host: host.to_string(),
        port,
    })
}

/// `layerscope serve` on a free loopback port; killed on drop.
pub struct LayerscopeServer {
    /// The page's URL, `http://127.0.0.1:PORT/`.
    pub url: String,
    /// The bound port.
    pub port: u16,
    /// The startup line as parsed.
    pub banner: ServeBanner,
    // Kept open: the server's stdout must stay writable for its lifetime.
    _stdout: BufReader<ChildStdout>,
    _guard: ChildGuard,
}

impl LayerscopeServer {
    /// Serves the built page ([`dist_dir`]) with [`layerscope_binary`].
    pub fn start() -> LayerscopeServer {
        LayerscopeServer::start_with(&layerscope_binary(), &dist_dir())
    }

    /// Serves `dist` with `binary` on `127.0.0.1:0`, reading the bound port from the banner.
    pub fn start_with(binary: &Path, dist: &Path) -> LayerscopeServer {
        LayerscopeServer::start_command(binary, dist, &[])
    }

    /// Serves the built page with further flags (`--insecure-registry HOST:PORT`,
    /// `--allow-origin ORIGIN`).
    pub fn start_with_flags(flags: &[String]) -> LayerscopeServer {
        LayerscopeServer::start_command(&layerscope_binary(), &dist_dir(), flags)
    }

    fn start_command(binary: &Path, dist: &Path, flags: &[String]) -> LayerscopeServer {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--dist"])
            .arg(dist)
            .args(flags)
            .stdout(Stdio::piped());
        let mut guard = ChildGuard::spawn("layerscope serve", command);
        let stdout = guard.child_mut().stdout.take().expect("piped stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            guard.fail(&format!(
                "printed no banner ({} serve --dist {})",
                binary.display(),
                dist.display()
            ));
        }
        let banner = match parse_serve_banner(&line) {
            Ok(banner) if banner.host == "127.0.0.1" => banner,
            Ok(banner) => guard.fail(&format!(
                "banner {line:?} names host {}, not 127.0.0.1",
                banner.host
            )),
            Err(message) => guard.fail(&message),
        };
        LayerscopeServer {
            url: banner.url.clone(),
            port: banner.port,
            banner,
            _stdout: stdout,
            _guard: guard,
        }
    }

    /// The origin of the served page, `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panic_message(run: impl FnOnce() -> PathBuf + std::panic::UnwindSafe) -> String {
        let payload = std::panic::catch_unwind(run).expect_err("should have panicked");
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    }

    // The only test that touches these variables (tests in one binary share the process).
    #[test]
    fn binary_and_page_are_exactly_what_the_variables_name_or_a_clear_failure() {
        let scratch = crate::TempDir::new("support-variables");
        let binary = scratch.path().join("layerscope");
        std::fs::write(&binary, "").unwrap();
        let cargo_build = scratch.path().join("cargo-build");
        std::fs::write(&cargo_build, "").unwrap();
        let cargo_build = cargo_build.to_str().unwrap().to_string();
        let saved = (
            std::env::var_os(BIN_VARIABLE),
            std::env::var_os(DIST_VARIABLE),
        );

        std::env::remove_var(BIN_VARIABLE);
        std::env::remove_var(DIST_VARIABLE);
        assert!(panic_message(layerscope_binary).contains("LAYERSCOPE_BIN is not set"));
        assert_eq!(
            layerscope_binary_or(&cargo_build),
            PathBuf::from(&cargo_build)
        );
        assert!(panic_message(dist_dir).contains("LAYERSCOPE_DIST is not set"));

        std::env::set_var(BIN_VARIABLE, &binary);
        assert_eq!(layerscope_binary(), binary);
        assert_eq!(
            layerscope_binary_or(&cargo_build),
            binary,
            "the variable wins"
        );
        std::env::set_var(BIN_VARIABLE, scratch.path().join("missing"));
        assert!(panic_message(layerscope_binary).contains("which is not a file"));

        std::env::set_var(DIST_VARIABLE, scratch.path());
        assert!(panic_message(dist_dir).contains("holds no index.html"));
        std::fs::write(scratch.path().join("index.html"), "").unwrap();
        assert_eq!(dist_dir(), scratch.path());

        for (variable, value) in [(BIN_VARIABLE, saved.0), (DIST_VARIABLE, saved.1)] {
            match value {
                Some(value) => std::env::set_var(variable, value),
                None => std::env::remove_var(variable),
            }
        }
    }

    #[test]
    fn reads_the_bound_port_and_the_served_directory() {
        let banner = parse_serve_banner(
            "layerscope serving /srv/my site/dist/ at http://127.0.0.1:41234/\n",
        )
        .unwrap();
        assert_eq!(banner.served, "/srv/my site/dist/");
        assert_eq!(banner.url, "http://127.0.0.1:41234/");
        assert_eq!(banner.host, "127.0.0.1");
        assert_eq!(banner.port, 41234);
    }

    #[test]
    fn refuses_what_is_not_the_banner() {
        for (line, says) in [
            ("listening on http://127.0.0.1:80/", "does not start with"),
            ("layerscope serving dist/", "no \" at URL\""),
            (
                "layerscope serving dist/ at http://127.0.0.1:80",
                "does not end in",
            ),
            (
                "layerscope serving dist/ at https://127.0.0.1:80/",
                "does not end in",
            ),
            (
                "layerscope serving dist/ at http://127.0.0.1:port/",
                "not a number",
            ),
            ("layerscope serving dist/ at http://127.0.0.1:0/", "port 0"),
            (
                "layerscope serving dist/ at http://localhost/",
                "has no port",
            ),
        ] {
            let error = parse_serve_banner(line).unwrap_err();
            assert!(error.contains(says), "{line:?}: {error}");
        }
    }
}
