//! What every layerscope test package shares, so that each helper exists once:
//!
//! - [`TempDir`]: a scratch directory removed on drop;
//! - [`peers`] / [`peer`]: the peer fixtures in `shared/fixtures/peers` beside the repository;
//! - [`ChildGuard`]: a child process in its own process group, killed with its descendants
//!   on drop, its stderr kept for failure messages;
//! - [`layerscope_binary`] / [`dist_dir`]: exactly the binary and the built page under test
//!   (`LAYERSCOPE_BIN`, `LAYERSCOPE_DIST`, or cargo's own build), never a guess;
//! - [`LayerscopeServer`] and [`parse_serve_banner`]: `layerscope serve` on a free loopback
//!   port, its startup line read for the bound port;
//! - [`raw_request`] / [`HttpReply`]: a request written byte for byte, and its reply.
//!
//! Used as a dev-dependency by `layerscope-core` and `layerscope`, and by the end-to-end
//! harness (`tests/`, itself test code).

mod fixtures;
mod http;
mod process;
mod serve;

pub use fixtures::{peer, peers, repo_root};
pub use http::{raw_request, HttpReply};
pub use process::{free_port, run_checked, ChildGuard, TempDir};
pub use serve::{
    dist_dir, layerscope_binary, layerscope_binary_or, parse_serve_banner, LayerscopeServer,
    ServeBanner, BIN_VARIABLE, DIST_VARIABLE,
};
