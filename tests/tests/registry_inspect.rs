//! `layerscope inspect REF` against the real docker-registry: plain, htpasswd and token
//! auth, a multi-arch index with an attestation, unknown tags and wrong passwords, and the
//! same figures as from an OCI archive of the same image.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use layerscope_e2e::{
    layerscope_binary, push_archive, repo_root, run_checked, Grant, Registry, RegistryConfig,
    TempDir, TokenIssuer, TokenPolicy,
};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

fn demo_archive() -> String {
    let path = repo_root().join("static/demo/layerscope-demo.tar");
    format!("docker-archive:{}", path.display())
}

/// Runs `layerscope inspect ARGS` with `env` set and `stdin` piped in.
fn inspect(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut command = Command::new(layerscope_binary());
    command
        .arg("inspect")
        .args(args)
        // No stored logins from the machine running the tests.
        .env("DOCKER_CONFIG", "/nonexistent-docker-config")
        .env_remove("LAYERSCOPE_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start layerscope inspect");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .ok();
    child.wait_with_output().expect("layerscope inspect ends")
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "inspect failed ({:?}): {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("inspect --json prints JSON")
}

fn refused(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(2),
        "expected a refusal; stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_registry_image_has_the_figures_of_its_oci_archive() {
    let registry = Registry::start(RegistryConfig::plain());
    push_archive(&demo_archive(), &registry, "demo/app:1.0");
    let reference = format!("{}/demo/app:1.0", registry.host());

    let pulled = json_of(&inspect(&["--json", &reference], &[], ""));

    // The same image as an OCI archive, copied from the registry by skopeo.
    let work = TempDir::new("oci-copy");
    let archive = work.path().join("demo.tar");
    run_checked(
        "copying the image into an OCI archive",
        Command::new("skopeo")
            .args([
                "copy",
                "--quiet",
                "--insecure-policy",
                "--src-tls-verify=false",
            ])
            .arg(format!("docker://{reference}"))
            .arg(format!("oci-archive:{}:1.0", archive.display())),
    );
    let from_archive = json_of(&inspect(&["--json", archive.to_str().unwrap()], &[], ""));
    for key in ["layer", "image", "files"] {
        assert_eq!(pulled[key], from_archive[key], "{key} differs");
    }
    assert_eq!(pulled["layer"].as_array().unwrap().len(), 3);
    // Every digest checked: the manifest, the config, each layer's blob and diff_id.
    let verification = pulled["verification"].as_array().unwrap();
    assert_eq!(verification.len(), 1 + 1 + 2 * 3);
    assert!(verification.iter().all(|v| v["ok"] == json!(true)));
    assert_eq!(verification[0]["kind"], "manifest");
    assert_eq!(pulled["images"][0]["tags"], json!([reference]));

    let human = inspect(&[&reference], &[], "");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.status.success(),
        "{}",
        String::from_utf8_lossy(&human.stderr)
    );
    assert!(text.contains("VERIFIED: 8 of 8 digests match"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("{}/demo/app", registry.host())) && l.contains("1.0")),
        "{text}"
    );
}

#[test]
fn an_unknown_tag_and_an_unknown_repository_are_named() {
    let registry = Registry::start(RegistryConfig::plain());
    push_archive(&demo_archive(), &registry, "demo/app:1.0");
    let missing_tag = refused(&inspect(
        &[&format!("{}/demo/app:nope", registry.host())],
        &[],
        "",
    ));
    assert!(missing_tag.contains("nope"), "{missing_tag}");
    // A HEAD answer has no error body: the status is what there is to say.
    assert!(
        missing_tag.contains("MANIFEST_UNKNOWN") || missing_tag.contains("404"),
        "{missing_tag}"
    );
    let missing_repo = refused(&inspect(
        &[&format!("{}/other/app:1.0", registry.host())],
        &[],
        "",
    ));
    assert!(missing_repo.contains("other/app"), "{missing_repo}");
    let neither = refused(&inspect(&["no/such/file.tar:x:y"], &[], ""));
    assert!(
        neither.contains("not an image reference either"),
        "{neither}"
    );
}

#[test]
fn an_htpasswd_registry_takes_the_password_from_the_environment_or_stdin() {
    let registry = Registry::start(RegistryConfig::plain().with_htpasswd("ana", "s3cret"));
    push_archive(&demo_archive(), &registry, "private/app:1.0");
    let reference = format!("{}/private/app:1.0", registry.host());

    let anonymous = refused(&inspect(&["--json", &reference], &[], ""));
    assert!(
        anonymous.contains("private/app") && anonymous.contains("sign in"),
        "{anonymous}"
    );

    let by_env = json_of(&inspect(
        &["--json", "--username", "ana", &reference],
        &[("LAYERSCOPE_PASSWORD", "s3cret")],
        "",
    ));
    assert_eq!(by_env["layer"].as_array().unwrap().len(), 3);
    let by_stdin = json_of(&inspect(
        &["--json", "--username", "ana", &reference],
        &[],
        "s3cret\n",
    ));
    assert_eq!(by_stdin["layer"], by_env["layer"]);

    let wrong = refused(&inspect(
        &["--username", "ana", &reference],
        &[("LAYERSCOPE_PASSWORD", "bad-pass-7319")],
        "",
    ));
    assert!(
        !wrong.contains("bad-pass-7319"),
        "the password must not be printed: {wrong}"
    );
    assert!(wrong.contains(&registry.host()), "{wrong}");
}

#[test]
fn a_token_registry_gives_scoped_tokens_and_reads_docker_logins() {
    let issuer = TokenIssuer::start(TokenPolicy {
        accounts: vec![
            ("pusher".into(), "push-pass".into()),
            ("ana".into(), "ana-pass".into()),
        ],
        grants: vec![
            Grant::user("pusher", "*", &["pull", "push"]),
            Grant::user("ana", "closed/app", &["pull"]),
            Grant::anonymous("open/app", &["pull"]),
        ],
    });
    let registry = Registry::start(
        RegistryConfig::plain()
            .with_token(&issuer)
            .with_credentials("pusher", "push-pass"),
    );
    push_archive(&demo_archive(), &registry, "open/app:1");
    push_archive(&demo_archive(), &registry, "closed/app:1");
    let open = format!("{}/open/app:1", registry.host());
    let closed = format!("{}/closed/app:1", registry.host());

    let anonymous = json_of(&inspect(&["--json", &open], &[], ""));
    assert_eq!(anonymous["layer"].as_array().unwrap().len(), 3);

    // Anonymous tokens carry no pull on closed/app.
    let denied = refused(&inspect(&["--json", &closed], &[], ""));
    assert!(denied.contains("closed/app"), "{denied}");

    let logged_in = json_of(&inspect(
        &["--json", "--username", "ana", &closed],
        &[("LAYERSCOPE_PASSWORD", "ana-pass")],
        "",
    ));
    assert_eq!(logged_in["layer"], anonymous["layer"]);

    // `docker login`'s stored credentials, found by registry host.
    let docker = TempDir::new("docker-config");
    let auth = base64(b"ana:ana-pass");
    std::fs::write(
        docker.path().join("config.json"),
        json!({"auths": {registry.host(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let stored = json_of(&inspect(
        &["--json", &closed],
        &[("DOCKER_CONFIG", docker.path().to_str().unwrap())],
        "",
    ));
    assert_eq!(stored["layer"], anonymous["layer"]);
}

#[test]
fn a_multi_arch_index_picks_the_platform_and_leaves_attestations_out() {
    let registry = Registry::start(RegistryConfig::plain());
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
            .arg(format!("docker://{}/multi/app:1", registry.host())),
    );
    let reference = format!("{}/multi/app:1", registry.host());

    let arm = json_of(&inspect(
        &["--json", "--platform", "linux/arm64", &reference],
        &[],
        "",
    ));
    let images = arm["images"].as_array().unwrap();
    assert_eq!(
        images.len(),
        2,
        "two platforms, the attestation left out: {images:?}"
    );
    let platforms: Vec<&str> = images
        .iter()
        .map(|i| i["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(arm["inspect"]["Architecture"], "arm64");
    assert_eq!(arm["verification"][0]["kind"], "manifest");
    assert_eq!(
        arm["verification"][0]["expected"],
        served_index_digest(&registry)
    );

    let amd = json_of(&inspect(
        &["--json", "--platform", "linux/amd64", &reference],
        &[],
        "",
    ));
    assert_eq!(amd["inspect"]["Architecture"], "amd64");
    assert_ne!(amd["layer"], arm["layer"]);

    let none = refused(&inspect(
        &["--platform", "windows/amd64", &reference],
        &[],
        "",
    ));
    assert!(
        none.contains("windows/amd64") && none.contains("linux/arm64"),
        "{none}"
    );
}

/// The index digest as the registry serves it (skopeo re-serializes the index it pushes).
fn served_index_digest(registry: &Registry) -> String {
    let response = registry.get_with_headers(
        "/v2/multi/app/manifests/1",
        false,
        &[("Accept", "application/vnd.oci.image.index.v1+json")],
    );
    assert_eq!(response.status, 200, "{}", response.body);
    response
        .header("Docker-Content-Digest")
        .expect("the registry names the index digest")
        .to_string()
}

/// An OCI layout holding an index of two platform images and a buildx-style attestation.
fn write_multi_arch_layout(root: &Path) {
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
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    builder
        .append_data(&mut header, "platform.txt", content.as_bytes())
        .unwrap();
    builder.into_inner().unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64(bytes: &[u8]) -> String {
    layerscope_e2e::encoding::base64_standard(bytes)
}
