//! Test images pushed to a [`Registry`]: a directory becomes a one-layer image via umoci, and
//! skopeo copies it (or any archive) over plain HTTP.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

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

/// Pushes the multi-arch layout of [`write_multi_arch_layout`] (the index, both platform
/// images and the attestation) to the registry as `repo_tag`.
pub fn push_multi_arch(registry: &Registry, repo_tag: &str) {
    let layout = TempDir::new("multi-arch");
    write_multi_arch_layout(layout.path());
    run_checked(
        "pushing the multi-arch layout",
        Command::new("skopeo")
            .args([
                "copy",
                "--quiet",
                "--all",
                "--insecure-policy",
                "--dest-tls-verify=false",
            ])
            .arg(format!("oci:{}:multi", layout.path().display()))
            .arg(format!("docker://{}/{repo_tag}", registry.host())),
    );
}

/// Pushes a tiny one-layer image (one file holding `content`; its history says
/// `ADD {content}`) as `repo_tag`: images with different contents have different digests,
/// and the same content pushed twice has one digest.
pub fn push_small_image(registry: &Registry, repo_tag: &str, content: &str) -> PushedImage {
    let work = TempDir::new("small-image");
    let root = work.path().join("oci");
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    let put = |bytes: &[u8]| -> (String, u64) {
        let hex = hex(&Sha256::digest(bytes));
        std::fs::write(root.join("blobs/sha256").join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len() as u64)
    };
    let (layer_digest, layer_size) = put(&layer_tar(content));
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "rootfs": {"type": "layers", "diff_ids": [layer_digest.clone()]},
        "history": [{"created": "2024-01-02T03:04:05Z", "created_by": format!("ADD {content}")}]
    });
    let (config_digest, config_size) = put(config.to_string().as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}]
    });
    let (digest, size) = put(manifest.to_string().as_bytes());
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
        "annotations": {"org.opencontainers.image.ref.name": "small"}
    }]});
    std::fs::write(root.join("index.json"), index.to_string()).unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    skopeo_copy(
        &format!("oci:{}:small", root.display()),
        registry,
        repo_tag,
        &work,
    )
}

/// Writes into `root` an OCI layout (tag `multi`) holding an index of two platform images,
/// linux/amd64 and linux/arm64/v8, one uncompressed layer each, and a buildx-style
/// attestation manifest for unknown/unknown; `skopeo copy --all oci:ROOT:multi` pushes it.
pub fn write_multi_arch_layout(root: &Path) {
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    let put = |bytes: &[u8]| -> (String, u64) {
        let hex = hex(&Sha256::digest(bytes));
        std::fs::write(root.join("blobs/sha256").join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len() as u64)
    };
    let mut manifests = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let layer = layer_tar(&format!("built for {arch}\n"));
        let (layer_digest, layer_size) = put(&layer);
        let mut config = json!({
            "architecture": arch, "os": "linux",
            "created": "2024-01-02T03:04:05Z",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest.clone()]},
            "history": [{"created": "2024-01-02T03:04:05Z", "created_by": format!("ADD {arch}.txt /")}]
        });
        if let Some(v) = variant {
            config["variant"] = json!(v);
        }
        let (config_digest, config_size) = put(config.to_string().as_bytes());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}]
        });
        let (digest, size) = put(manifest.to_string().as_bytes());
        let mut platform = json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            platform["variant"] = json!(v);
        }
        manifests.push((digest, size, platform));
    }
    // The attestation: an image manifest for unknown/unknown, annotated as buildx does.
    let (empty_digest, empty_size) = put(b"{}");
    let statement = put(br#"{"_type":"https://in-toto.io/Statement/v0.1"}"#);
    let attestation = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": empty_digest, "size": empty_size},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": statement.0, "size": statement.1}]
    });
    let (att_digest, att_size) = put(attestation.to_string().as_bytes());
    let mut entries: Vec<Value> = manifests
        .iter()
        .map(|(digest, size, platform)| {
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size, "platform": platform})
        })
        .collect();
    entries.push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": att_digest, "size": att_size,
        "platform": {"architecture": "unknown", "os": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": manifests[0].0}
    }));
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries});
    let (index_digest, index_size) = put(index.to_string().as_bytes());
    let top = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": index_size,
        "annotations": {"org.opencontainers.image.ref.name": "multi"}
    }]});
    std::fs::write(root.join("index.json"), top.to_string()).unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn layer_tar(content: &str) -> Vec<u8> {
    one_file_tar("platform.txt", content.as_bytes())
}

/// A tar of one file `name` holding `content` (mode 0644, a fixed mtime): a small valid layer.
pub fn one_file_tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    builder.append_data(&mut header, name, content).unwrap();
    builder.into_inner().unwrap()
}

/// `bytes` gzipped by the system's `gzip -n`, as a registry's blobs are.
pub fn system_gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("gzip")
        .args(["-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "gzip failed");
    output.stdout
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One member of a tar archive, read whole (the members read here are small JSON files).
pub fn tar_member(archive: &Path, wanted: &str) -> Vec<u8> {
    let file = File::open(archive).unwrap_or_else(|e| panic!("{}: {e}", archive.display()));
    let mut tar = tar::Archive::new(file);
    for entry in tar.entries().expect("archive headers") {
        let mut entry = entry.expect("archive entry");
        let path = entry
            .path()
            .expect("member path")
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if path == wanted {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("read member");
            return bytes;
        }
    }
    panic!("{wanted} is not in {}", archive.display());
}
