//! Test images pushed to a [`Registry`]: a directory becomes a one-layer image via umoci, and
//! skopeo copies it (or any archive) over plain HTTP.

use std::path::Path;
use std::process::Command;

use crate::registry::Registry;
use layerscope_test_support::{run_checked, TempDir};

/// An image now in the registry.
#[derive(Debug, Clone)]
pub struct PushedImage {
    /// `127.0.0.1:PORT/repo:tag`.
    pub reference: String,
    /// The manifest digest the registry stored, `sha256:...`.
    pub digest: String,
}

/// Builds a one-layer image whose filesystem is `dir`'s contents and pushes it to
/// `registry` as `repo_tag` (`name/space:tag`), with the registry's credentials if it has any.
pub fn push_dir_as_image(dir: &Path, registry: &Registry, repo_tag: &str) -> PushedImage {
    assert!(
        dir.is_dir(),
        "push_dir_as_image: {} is not a directory",
        dir.display()
    );
    let work = TempDir::new("umoci");
    let layout = work.path().join("oci");
    let bundle = work.path().join("bundle");
    let image = format!("{}:image", layout.display());
    let rootless: &[&str] = if is_root() { &[] } else { &["--rootless"] };
    let umoci = |what: &str, args: &[&str]| {
        run_checked(&format!("umoci {what}"), Command::new("umoci").args(args));
    };
    let layout_arg = layout.display().to_string();
    let bundle_arg = bundle.display().to_string();
    umoci("init", &["init", "--layout", &layout_arg]);
    umoci("new", &["new", "--image", &image]);
    let mut unpack = vec!["unpack"];
    unpack.extend_from_slice(rootless);
    unpack.extend_from_slice(&["--image", &image, &bundle_arg]);
    umoci("unpack", &unpack);
    run_checked(
        "copying the image contents into the bundle",
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", dir.display()))
            .arg(bundle.join("rootfs")),
    );
    umoci(
        "repack",
        &[
            "repack",
            "--image",
            &image,
            "--history.created_by",
            "layerscope-e2e push_dir_as_image",
            &bundle_arg,
        ],
    );
    skopeo_copy(&format!("oci:{image}"), registry, repo_tag, &work)
}

/// Copies an archive (`docker-archive:PATH` or `oci-archive:PATH` source syntax) to the
/// registry as `repo_tag`.
pub fn push_archive(source: &str, registry: &Registry, repo_tag: &str) -> PushedImage {
    let work = TempDir::new("skopeo");
    skopeo_copy(source, registry, repo_tag, &work)
}

fn skopeo_copy(source: &str, registry: &Registry, repo_tag: &str, work: &TempDir) -> PushedImage {
    let reference = format!("{}/{repo_tag}", registry.host());
    let digest_file = work.path().join("digest");
    let mut command = Command::new("skopeo");
    command
        .args([
            "copy",
            "--quiet",
            "--insecure-policy",
            "--dest-tls-verify=false",
        ])
        .arg("--digestfile")
        .arg(&digest_file);
    if let Some((user, password)) = registry.credentials() {
        command
            .arg("--dest-creds")
            .arg(format!("{user}:{password}"));
    }
    command.arg(source).arg(format!("docker://{reference}"));
    run_checked(&format!("pushing {source} to {reference}"), &mut command);
    let digest = std::fs::read_to_string(&digest_file)
        .unwrap_or_else(|error| panic!("skopeo wrote no digest file for {reference}: {error}"))
        .trim()
        .to_string();
    PushedImage { reference, digest }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| output.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}
