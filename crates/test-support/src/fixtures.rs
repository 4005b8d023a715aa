//! Where the repository and the peer fixtures are.

use std::path::{Path, PathBuf};

/// The repository root (this crate lives in `crates/test-support`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/test-support sits two levels below the repository root")
        .to_path_buf()
}

/// The peer fixtures folder, `shared/fixtures/peers` beside the repository (CI lays a fresh
/// clone out the same way); panics with a clear message when it is missing.
pub fn peers() -> PathBuf {
    let dir = repo_root().join("../shared/fixtures/peers");
    assert!(
        dir.join("README.md").is_file(),
        "peer fixtures missing: expected {} (the repository must sit beside shared/)",
        dir.display()
    );
    dir
}

/// One peer fixture by its path inside the peers folder (`dive/.data/test-docker-image.tar`);
/// panics naming it when it is missing.
pub fn peer(path: &str) -> PathBuf {
    let file = peers().join(path);
    assert!(
        file.exists(),
        "peer fixture missing: {} (see the peers README)",
        file.display()
    );
    file
}
