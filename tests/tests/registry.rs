//! The registry helpers against a real docker-registry: images pushed with umoci + skopeo
//! show up in the Distribution API, CORS headers come from the config, basic auth is enforced.

use layerscope_e2e::{
    push_dir_as_image, Grant, Registry, RegistryConfig, TempDir, TokenIssuer, TokenPolicy,
};
use serde_json::Value;

fn sample_rootfs() -> TempDir {
    let dir = TempDir::new("rootfs");
    let root = dir.path();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("usr/share/sample")).unwrap();
    std::fs::write(root.join("etc/hostname"), "sample\n").unwrap();
    for index in 0..20 {
        std::fs::write(
            root.join(format!("usr/share/sample/file-{index:02}.txt")),
            format!("sample file {index}\n"),
        )
        .unwrap();
    }
    std::os::unix::fs::symlink("file-00.txt", root.join("usr/share/sample/latest")).unwrap();
    dir
}

fn tags_of(registry: &Registry, repo: &str, authenticate: bool) -> Vec<String> {
    let response = registry.get(&format!("/v2/{repo}/tags/list"), authenticate);
    assert_eq!(
        response.status, 200,
        "tags/list of {repo}: {}",
        response.body
    );
    let listing: Value = serde_json::from_str(&response.body).expect("tags/list is JSON");
    assert_eq!(listing["name"], repo);
    listing["tags"]
        .as_array()
        .expect("tags array")
        .iter()
        .map(|tag| tag.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn pushed_directory_is_listed_with_cors_headers() {
    let registry = Registry::start(RegistryConfig::plain().with_cors("*"));
    let rootfs = sample_rootfs();
    let pushed = push_dir_as_image(rootfs.path(), &registry, "e2e/sample:v1");
    assert_eq!(
        pushed.reference,
        format!("127.0.0.1:{}/e2e/sample:v1", registry.port)
    );
    assert!(
        pushed.digest.starts_with("sha256:") && pushed.digest.len() == 71,
        "{pushed:?}"
    );

    assert_eq!(
        tags_of(&registry, "e2e/sample", false),
        vec!["v1".to_string()]
    );
    let tags = registry.get("/v2/e2e/sample/tags/list", false);
    assert_eq!(tags.header("Access-Control-Allow-Origin"), Some("*"));
    let exposed = tags
        .header("Access-Control-Expose-Headers")
        .unwrap_or_default();
    assert!(
        exposed.contains("Docker-Content-Digest"),
        "exposed headers: {exposed}"
    );

    let manifest = registry.get_with_headers(
        &format!("/v2/e2e/sample/manifests/{}", pushed.digest),
        false,
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
    );
    assert_eq!(manifest.status, 200, "{}", manifest.body);
    assert_eq!(
        manifest.header("Docker-Content-Digest"),
        Some(pushed.digest.as_str())
    );
    let manifest: Value = serde_json::from_str(&manifest.body).unwrap();
    assert_eq!(
        manifest["layers"].as_array().map(Vec::len),
        Some(1),
        "{manifest}"
    );
}

#[test]
fn plain_registry_sends_no_cors_headers() {
    let registry = Registry::start(RegistryConfig::plain());
    let response = registry.get("/v2/", false);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Access-Control-Allow-Origin"), None);
    let config = std::fs::read_to_string(registry.config_path()).unwrap();
    assert!(!config.contains("auth:"), "{config}");
}

#[test]
fn htpasswd_registry_demands_and_accepts_basic_auth() {
    let registry = Registry::start(
        RegistryConfig::plain()
            .with_cors("*")
            .with_htpasswd("tester", "s3cret-pass"),
    );
    let anonymous = registry.get("/v2/", false);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let challenge = anonymous.header("WWW-Authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Basic") && challenge.contains("realm=\"layerscope-test\""),
        "challenge {challenge:?}"
    );
    assert_eq!(registry.get("/v2/", true).status, 200);

    let rootfs = sample_rootfs();
    push_dir_as_image(rootfs.path(), &registry, "private/app:2.0");
    assert_eq!(
        tags_of(&registry, "private/app", true),
        vec!["2.0".to_string()]
    );
    assert_eq!(registry.get("/v2/private/app/tags/list", false).status, 401);
}

#[test]
fn token_registry_runs_the_bearer_flow_and_checks_scopes() {
    let issuer = TokenIssuer::start(TokenPolicy {
        accounts: vec![("pusher".into(), "push-pass".into())],
        grants: vec![
            Grant::user("pusher", "*", &["pull", "push"]),
            Grant::anonymous("open/app", &["pull"]),
        ],
    });
    let registry = Registry::start(
        RegistryConfig::plain()
            .with_cors("*")
            .with_token(&issuer)
            .with_credentials("pusher", "push-pass"),
    );

    let anonymous = registry.get("/v2/", false);
    assert_eq!(anonymous.status, 401);
    let challenge = anonymous.header("WWW-Authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(&format!("realm=\"{}\"", issuer.realm()))
            && challenge.contains("service=\"layerscope-test-registry\""),
        "challenge {challenge:?}"
    );

    // skopeo logs in at the issuer with the credentials and pushes with the token.
    let rootfs = sample_rootfs();
    push_dir_as_image(rootfs.path(), &registry, "open/app:1");
    push_dir_as_image(rootfs.path(), &registry, "closed/app:1");

    let pull_open = issuer
        .request_token("repository:open/app:pull", None)
        .expect("anonymous pull token for open/app");
    let bearer = format!("Bearer {pull_open}");
    let tags = registry.get_with_headers(
        "/v2/open/app/tags/list",
        false,
        &[("Authorization", &bearer)],
    );
    assert_eq!(tags.status, 200, "{}", tags.body);
    assert!(tags.body.contains("\"1\""), "{}", tags.body);

    // The same token carries no access to another repository.
    let denied = registry.get_with_headers(
        "/v2/closed/app/tags/list",
        false,
        &[("Authorization", &bearer)],
    );
    assert_eq!(denied.status, 401, "{}", denied.body);
    let challenge = denied.header("WWW-Authenticate").unwrap_or_default();
    assert!(
        challenge.contains("insufficient_scope"),
        "challenge {challenge:?}"
    );

    assert_eq!(
        issuer.request_token("repository:closed/app:pull", Some(("pusher", "wrong"))),
        Err(401)
    );
}
