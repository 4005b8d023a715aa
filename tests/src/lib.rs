//! End-to-end test harness for layerscope.
//!
//! Everything here starts real processes on loopback and cleans them up on drop:
//! headless Chromium through chromedriver ([`Browser`]), the `layerscope serve` binary
//! ([`LayerscopeServer`]), Debian's `docker-registry` ([`Registry`]), and umoci + skopeo to
//! push test images ([`push_dir_as_image`]). Failures panic with a message naming the process
//! and quoting its stderr, so a red test says what broke.

pub mod browser;
pub mod encoding;
pub mod http;
pub mod image;
pub mod layerscope;
pub mod process;
pub mod registry;
pub mod token;
pub mod webdriver;

pub use browser::Browser;
pub use browser::NetworkRequest;
pub use image::{push_archive, push_dir_as_image, PushedImage};
pub use layerscope::{dist_dir, layerscope_binary, require_built_dist, LayerscopeServer};
pub use process::{free_port, repo_root, ChildGuard, TempDir};
pub use registry::{Registry, RegistryConfig};
pub use token::{Grant, TokenIssuer, TokenPolicy};
pub use webdriver::{ElementId, LogEntry, WebDriver, WebDriverError};
