//! End-to-end test harness for layerscope.
//!
//! Everything here starts real processes on loopback and cleans them up on drop:
//! headless Chromium through chromedriver ([`Browser`]), Debian's `docker-registry`
//! ([`Registry`]), and umoci + skopeo to push test images ([`push_dir_as_image`]); the
//! `layerscope serve` binary ([`LayerscopeServer`]) comes from `layerscope-test-support`. Failures panic with a message naming the process
//! and quoting its stderr, so a red test says what broke.

pub mod badge;
pub mod browser;
pub mod encoding;
pub mod http;
pub mod image;
pub mod registry;
pub mod tap;
pub mod token;
pub mod webdriver;

pub use browser::Browser;
pub use browser::NetworkRequest;
pub use image::{
    one_file_tar, push_archive, push_dir_as_image, push_multi_arch, push_small_image, system_gzip,
    tar_member, write_multi_arch_layout, PushedImage,
};
// Scratch dirs, fixtures, child processes and `layerscope serve` come from the support crate
// every test package shares.
pub use layerscope_test_support::{
    dist_dir, free_port, layerscope_binary, peer, peers, repo_root, run_checked, ChildGuard,
    LayerscopeServer, TempDir,
};
pub use registry::{Registry, RegistryConfig};
pub use token::{Grant, TokenIssuer, TokenPolicy};
pub use webdriver::{ElementId, LogEntry, WebDriver, WebDriverError};

/// `layerscope inspect --json ARCHIVE`, exactly as printed (the tests' reference for what
/// the page shows: the CLI and the page share the core).
pub fn cli_json_text(archive: &std::path::Path) -> String {
    let output = std::process::Command::new(layerscope_binary())
        .args(["inspect", "--json"])
        .arg(archive)
        .output()
        .expect("run layerscope inspect --json");
    assert!(
        output.status.success(),
        "layerscope inspect --json {}: {}",
        archive.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the JSON is UTF-8")
}

/// [`cli_json_text`], parsed.
pub fn cli_json(archive: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&cli_json_text(archive)).expect("inspect --json prints JSON")
}
