//! The core must stay free of web and IO crates: it is the one piece both
//! the browser worker and the native binary run, and it is sans-IO by design.

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "web-sys",
    "js-sys",
    "wasm-bindgen",
    "gloo",
    "tokio",
    "reqwest",
    "axum",
    "hyper",
    "ureq",
    "tiny_http",
];

#[test]
fn core_has_no_web_or_io_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "tree",
            "-p",
            "layerscope-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).expect("cargo tree prints UTF-8");
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"layerscope-core"),
        "unexpected cargo tree output:\n{tree}"
    );
    let bad: Vec<&str> = crates
        .iter()
        .copied()
        .filter(|name| FORBIDDEN.iter().any(|f| name.starts_with(f)))
        .collect();
    assert!(
        bad.is_empty(),
        "layerscope-core depends on {bad:?}:\n{tree}"
    );
}
