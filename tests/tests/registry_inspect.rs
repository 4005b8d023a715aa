//! `layerscope inspect REF` against the real docker-registry: plain, htpasswd and token
//! auth, a multi-arch index with an attestation, unknown tags and wrong passwords, and the
//! same figures as from an OCI archive of the same image.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use layerscope_e2e::{
    layerscope_binary, one_file_tar, push_archive, push_multi_arch, repo_root, run_checked,
    system_gzip, Grant, Registry, RegistryConfig, TempDir, TokenIssuer, TokenPolicy,
};
use serde_json::{json, Value};
use sha2::Digest as _;

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
    // skopeo rewrites the config when it writes an OCI archive (another image ID); a
    // `docker-archive:` copy keeps it (but stores its layers uncompressed, under other blob
    // digests), so that one has the same history and config too.
    let docker_archive = work.path().join("demo-docker.tar");
    run_checked(
        "copying the image into a docker archive",
        Command::new("skopeo")
            .args([
                "copy",
                "--quiet",
                "--insecure-policy",
                "--src-tls-verify=false",
            ])
            .arg(format!("docker://{reference}"))
            .arg(format!(
                "docker-archive:{}:{reference}",
                docker_archive.display()
            )),
    );
    let from_docker = json_of(&inspect(
        &["--json", docker_archive.to_str().unwrap()],
        &[],
        "",
    ));
    for key in ["files", "history"] {
        assert_eq!(
            pulled[key], from_docker[key],
            "{key} differs from the docker archive"
        );
    }
    assert_eq!(
        pulled["inspect"][0]["Config"], from_docker["inspect"][0]["Config"],
        "the config's inspect view differs"
    );
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
fn a_config_blob_that_is_not_its_digest_is_shown_and_marked() {
    let registry = Registry::start(RegistryConfig::plain());
    push_archive(&demo_archive(), &registry, "demo/app:1.0");
    let manifest: Value = serde_json::from_str(
        &registry
            .get_with_headers(
                "/v2/demo/app/manifests/1.0",
                false,
                &[(
                    "Accept",
                    "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
                )],
            )
            .body,
    )
    .unwrap();
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_string();
    // Same length, other bytes: the year of the first `created` moves on a millennium.
    let file = registry.blob_data_path(&config_digest);
    let bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let at = text
        .find("\"created\":\"2")
        .expect("the demo config has a created time");
    let mut changed = text.clone();
    changed.replace_range(at + 11..at + 12, "3");
    std::fs::write(&file, &changed).unwrap();
    let actual = format!("sha256:{:x}", sha2::Sha256::digest(changed.as_bytes()));

    let reference = format!("{}/demo/app:1.0", registry.host());
    let output = inspect(&["--json", &reference], &[], "");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).expect("--json still prints");
    let rows = doc["verification"].as_array().unwrap();
    let config = rows.iter().find(|v| v["kind"] == "config").unwrap();
    assert_eq!(config["ok"], false, "{config}");
    assert_eq!(config["expected"], config_digest.as_str());
    assert_eq!(config["actual"], actual.as_str());
    // Everything else is read: the manifest matched, every layer verified, history shown.
    assert!(rows
        .iter()
        .filter(|v| v["kind"] != "config")
        .all(|v| v["ok"] == true));
    assert_eq!(doc["inspect"]["Id"], actual.as_str());
    assert!(!doc["history"].as_array().unwrap().is_empty());
}

/// The pushed demo's manifest from `registry`.
fn demo_manifest(registry: &Registry) -> Value {
    let response = registry.get_with_headers(
        "/v2/demo/app/manifests/1.0",
        false,
        &[(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )],
    );
    serde_json::from_str(&response.body).unwrap()
}

#[test]
fn a_layer_the_registry_sends_shorter_than_its_manifest_says_is_shown_and_marked() {
    let registry = Registry::start(RegistryConfig::plain());
    push_archive(&demo_archive(), &registry, "demo/app:1.0");
    let manifest = demo_manifest(&registry);
    let bottom = &manifest["layers"][0];
    let digest = bottom["digest"].as_str().unwrap().to_string();
    let declared = bottom["size"].as_u64().unwrap();
    // The registry checks a blob's digest when it is pushed, not when it is served: it now
    // serves other, shorter bytes for the bottom layer (with their own Content-Length).
    // A valid layer far shorter than any of the demo's.
    let short = system_gzip(&one_file_tar(
        "short.txt",
        b"shorter than the manifest says\n",
    ));
    assert!((short.len() as u64) < declared);
    std::fs::write(registry.blob_data_path(&digest), &short).unwrap();
    let actual = format!("sha256:{:x}", sha2::Sha256::digest(&short));

    let reference = format!("{}/demo/app:1.0", registry.host());
    let output = inspect(&["--json", &reference], &[], "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("3 of ") && stderr.contains("blob size of layer 0 ("),
        "{stderr}"
    );
    let doc: Value = serde_json::from_slice(&output.stdout).expect("--json still prints");
    let rows = doc["verification"].as_array().unwrap();
    let bad: Vec<&Value> = rows.iter().filter(|v| v["ok"] == false).collect();
    let kinds: Vec<&str> = bad.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    // The size, and the digests of other bytes: each its own row.
    assert_eq!(kinds, ["layer_size", "layer", "diff_id"], "{rows:?}");
    assert_eq!(bad[0]["expected"], json!(declared));
    assert_eq!(bad[0]["actual"], json!(short.len()));
    assert_eq!(bad[1]["expected"], digest.as_str());
    assert_eq!(bad[1]["actual"], actual.as_str());
    assert!(bad
        .iter()
        .all(|v| v["subject"].as_str().unwrap().starts_with("layer 0 (")));
    // The bytes sent are shown: the short layer's one file is in the image.
    assert!(
        doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "short.txt"),
        "{}",
        doc["files"]
    );

    let human = inspect(&[&reference], &[], "");
    let text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(human.status.code(), Some(1));
    assert!(
        text.contains(&format!(
            "expected {declared} bytes, actual {} bytes",
            short.len()
        )),
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
    push_multi_arch(&registry, "multi/app:1");
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

fn base64(bytes: &[u8]) -> String {
    layerscope_e2e::encoding::base64_standard(bytes)
}
