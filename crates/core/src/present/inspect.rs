//! `docker image inspect`-shaped JSON and the `docker image ls` row.
//!
//! API summary:
//! - [`image_inspect`]`(&InspectInput) -> ImageInspect`: one element of
//!   `docker image inspect`'s array, fields in docker's order;
//! - [`to_docker_json`]`(&[ImageInspect]) -> String`: the array printed as the
//!   docker CLI prints it (4-space indent, `<`, `>`, `&` escaped as Go does);
//! - [`image_ls_row`]`(tag, bare_is_tag, image_id, config, size) -> ImageLsRow`, the
//!   report's `docker image ls` row;
//! - [`run_config`]`(config) -> RunConfig`: the container defaults as a person reads them
//!   (env split into names and values, ports and volumes listed, the health check in
//!   words), and [`exec_form`] for an exec-form command as a Dockerfile writes it.
//!
//! Only what the image itself says is shown. Keys that describe a local
//! docker installation (`GraphDriver`, the last tag time, `Container` of a
//! local build) cannot be known from a registry or an archive and are
//! omitted; `Metadata` is therefore an empty object. `Parent`, `Comment` and
//! `Author` print as empty strings when the config lacks them, as docker does
//! for a pulled image. `Created`, `DockerVersion`, `Variant`, `OsVersion`,
//! `Size` and `Config` are omitted when unknown rather than given a made-up
//! value.

use serde::Serialize;

use crate::model::config::{ContainerConfig, Healthcheck, ImageConfig};
use crate::model::digest::Digest;
use crate::model::reference::Reference;
use crate::model::time::Timestamp;
use crate::present::humanize;
use crate::present::report::{EnvVar, ImageLsRow, RunConfig};

/// What `docker image ls` prints for unknown repository or tag.
pub const NONE: &str = "<none>";

/// The facts an inspect view is built from.
#[derive(Clone, Copy, Debug)]
pub struct InspectInput<'a> {
    /// The parsed image config.
    pub config: &'a ImageConfig,
    /// The image ID: the config blob's digest.
    pub image_id: &'a Digest,
    /// The reference the image was read by, if any (archives may have none).
    pub reference: Option<&'a Reference>,
    /// The digest of the manifest or index as fetched (for `RepoDigests`).
    pub repo_digest: Option<&'a Digest>,
    /// Sum of the uncompressed layer sizes, when known.
    pub size: Option<u64>,
}

/// One image as `docker image inspect` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    /// The image ID (`sha256:` + config digest).
    pub id: String,
    /// `name:tag` in familiar form.
    pub repo_tags: Vec<String>,
    /// `name@digest` in familiar form.
    pub repo_digests: Vec<String>,
    /// Parent image ID (empty for pulled images).
    pub parent: String,
    /// The config's comment.
    pub comment: String,
    /// Creation time, RFC 3339 with nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Docker version that built the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    /// Author.
    pub author: String,
    /// Container defaults, as the config states them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// CPU architecture.
    pub architecture: String,
    /// CPU variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Operating system.
    pub os: String,
    /// OS version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// Uncompressed size of all layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The layer diff IDs.
    #[serde(rename = "RootFS")]
    pub root_fs: InspectRootFs,
    /// Local bookkeeping docker keeps; nothing of it is known here.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// `RootFS` of `docker image inspect`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectRootFs {
    /// Always `layers`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The diff IDs, base first.
    pub layers: Vec<String>,
}

/// Builds the inspect view of one image.
pub fn image_inspect(input: &InspectInput<'_>) -> ImageInspect {
    let c = input.config;
    let (repo_tags, repo_digests) = repo_names(input.reference, input.repo_digest);
    ImageInspect {
        id: input.image_id.to_string(),
        repo_tags,
        repo_digests,
        parent: c.parent.clone().unwrap_or_default(),
        comment: c.comment.clone().unwrap_or_default(),
        created: c.created.as_deref().map(|raw| match Timestamp::parse(raw) {
            Ok(t) => t.to_rfc3339_nanos(),
            Err(_) => raw.to_string(),
        }),
        docker_version: c.docker_version.clone().filter(|v| !v.is_empty()),
        author: c.author.clone().unwrap_or_default(),
        config: c.config.clone(),
        architecture: c.platform.architecture.clone(),
        variant: c.platform.variant.clone(),
        os: c.platform.os.clone(),
        os_version: c.platform.os_version.clone(),
        size: input.size,
        root_fs: InspectRootFs {
            kind: c.rootfs.kind.clone(),
            layers: c.rootfs.diff_ids.iter().map(Digest::to_string).collect(),
        },
        metadata: serde_json::Map::new(),
    }
}

fn repo_names(
    reference: Option<&Reference>,
    repo_digest: Option<&Digest>,
) -> (Vec<String>, Vec<String>) {
    let Some(r) = reference else {
        return (Vec::new(), Vec::new());
    };
    let name = r.familiar_name();
    let tags = r
        .tag_or_default()
        .map(|t| vec![format!("{name}:{t}")])
        .unwrap_or_default();
    let digest = repo_digest.or(r.digest());
    let digests = digest
        .map(|d| vec![format!("{name}@{d}")])
        .unwrap_or_default();
    (tags, digests)
}

/// Prints inspect views as `docker image inspect` does: a JSON array with
/// 4-space indentation, `<`, `>` and `&` written as `\u003c`, `\u003e`,
/// `\u0026` (Go's encoder escapes them; they only occur inside strings).
pub fn to_docker_json(images: &[ImageInspect]) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    images
        .serialize(&mut ser)
        .expect("serializing plain structs cannot fail");
    String::from_utf8(out)
        .expect("serde_json writes UTF-8")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The `docker image ls` row for an image known by `tag` (its first tag, if any); `size_bytes`
/// is the uncompressed size of all layers (0 until they are scanned). The CREATED column is
/// left to the display, which has a clock.
pub fn image_ls_row(
    tag: Option<&str>,
    bare_is_tag: bool,
    image_id: &Digest,
    config: &ImageConfig,
    size_bytes: u64,
) -> ImageLsRow {
    let (repository, tag) = repository_and_tag(tag, bare_is_tag);
    ImageLsRow {
        repository,
        tag,
        image_id: image_id.short().to_string(),
        created: config.created.clone(),
        size_bytes,
        size: humanize::size(size_bytes),
    }
}

/// REPOSITORY and TAG of a `repo:tag` reference, split at the tag's colon (not a registry
/// port's), in docker's familiar form (`docker.io/library/busybox:1` shows as `busybox`,
/// `1`). With `bare_is_tag`, a name without `/` or `:` is a tag alone (an OCI layout's
/// `org.opencontainers.image.ref.name` often is: `latest`, `1.0`).
pub fn repository_and_tag(reference: Option<&str>, bare_is_tag: bool) -> (String, String) {
    let Some(reference) = reference else {
        return (NONE.into(), NONE.into());
    };
    if bare_is_tag && !reference.contains(['/', ':']) {
        return (NONE.into(), reference.to_string());
    }
    if let Ok(parsed) = Reference::parse(reference) {
        if let Some(tag) = parsed.tag() {
            return (parsed.familiar_name(), tag.to_string());
        }
    }
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(colon) => (
            reference[..slash + colon].to_string(),
            reference[slash + colon + 1..].to_string(),
        ),
        None => (reference.to_string(), "latest".into()),
    }
}

/// The container defaults of `config` for the page's config card.
pub fn run_config(config: &ImageConfig) -> RunConfig {
    let platform = config.platform.to_string();
    let Some(c) = &config.config else {
        return RunConfig {
            platform,
            ..RunConfig::default()
        };
    };
    let keys = |map: &Option<std::collections::BTreeMap<String, serde_json::Value>>| {
        map.iter().flat_map(|m| m.keys().cloned()).collect()
    };
    RunConfig {
        platform,
        entrypoint: c.entrypoint.clone(),
        cmd: c.cmd.clone(),
        env: c
            .env
            .iter()
            .flatten()
            .map(|entry| match entry.split_once('=') {
                Some((name, value)) => EnvVar {
                    name: name.to_string(),
                    value: value.to_string(),
                },
                None => EnvVar {
                    name: entry.clone(),
                    value: String::new(),
                },
            })
            .collect(),
        exposed_ports: keys(&c.exposed_ports),
        volumes: keys(&c.volumes),
        working_dir: c.working_dir.clone().filter(|d| !d.is_empty()),
        user: c.user.clone().filter(|u| !u.is_empty()),
        labels: c
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        healthcheck: c.healthcheck.as_ref().map(healthcheck_text),
        stop_signal: c.stop_signal.clone().filter(|s| !s.is_empty()),
        shell: c.shell.clone(),
        on_build: c.on_build.clone().unwrap_or_default(),
    }
}

/// An exec-form command as a Dockerfile writes it: `["nginx", "-g", "daemon off;"]`.
pub fn exec_form(words: &[String]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|word| serde_json::Value::String(word.clone()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// A health check in words: its test as a Dockerfile's `HEALTHCHECK` writes it, then the
/// settings the image gives (`every 30s, timeout 3s, 3 retries`).
fn healthcheck_text(check: &Healthcheck) -> String {
    let test = check.test.as_deref().unwrap_or_default();
    let command = match test.split_first() {
        None => "inherited from the base image".to_string(),
        Some((kind, _)) if kind == "NONE" => return "disabled (NONE)".to_string(),
        Some((kind, rest)) if kind == "CMD-SHELL" => format!("CMD {}", rest.join(" ")),
        Some((kind, rest)) if kind == "CMD" => format!("CMD {}", exec_form(rest)),
        Some(_) => exec_form(test),
    };
    let mut settings = Vec::new();
    let mut add = |label: &str, nanos: Option<i64>| {
        if let Some(nanos) = nanos.filter(|n| *n > 0) {
            settings.push(format!("{label} {}", go_duration(nanos)));
        }
    };
    add("every", check.interval);
    add("timeout", check.timeout);
    add("start period", check.start_period);
    add("start interval", check.start_interval);
    if let Some(retries) = check.retries.filter(|r| *r > 0) {
        settings.push(format!(
            "{retries} {}",
            if retries == 1 { "retry" } else { "retries" }
        ));
    }
    if settings.is_empty() {
        command
    } else {
        format!("{command} ({})", settings.join(", "))
    }
}

/// A span in nanoseconds as Go's `time.Duration` prints it (`30s`, `1m30s`, `1.5s`,
/// `500ms`), which is how `docker image inspect` users know these settings.
pub fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    /// `whole` and the fraction `rest / unit`, trailing zeros dropped.
    fn fraction(whole: u64, rest: u64, digits: usize) -> String {
        let tail = format!("{rest:0digits$}");
        let tail = tail.trim_end_matches('0');
        if tail.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{tail}")
        }
    }
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000 {
        return format!("{sign}{}µs", fraction(n / 1_000, n % 1_000, 3));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", fraction(n / 1_000_000, n % 1_000_000, 6));
    }
    let seconds = n / 1_000_000_000;
    let (hours, minutes, secs) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let secs = fraction(secs, n % 1_000_000_000, 9);
    match (hours, minutes) {
        (0, 0) => format!("{sign}{secs}s"),
        (0, m) => format!("{sign}{m}m{secs}s"),
        (h, m) => format!("{sign}{h}h{m}m{secs}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(30_000_000_000), "30s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(500_000_000), "500ms");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(-2_000_000_000), "-2s");
    }

    #[test]
    fn the_run_config_reads_as_a_card() {
        let text = r#"{"architecture":"amd64","os":"linux","config":{
            "Env":["PATH=/usr/bin:/bin","EMPTY=","A=b=c"],"Entrypoint":["/docker-entrypoint.sh"],
            "Cmd":["nginx","-g","daemon off;"],"ExposedPorts":{"80/tcp":{},"443/tcp":{}},
            "Volumes":{"/data":{}},"WorkingDir":"/srv","User":"101:101","StopSignal":"SIGQUIT",
            "Labels":{"b":"2","a":"<img src=x>"},
            "Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],
              "Interval":30000000000,"Timeout":3000000000,"Retries":3}},
            "rootfs":{"type":"layers","diff_ids":[]}}"#;
        let card = run_config(&ImageConfig::parse(text.as_bytes()).unwrap());
        assert_eq!(card.platform, "linux/amd64");
        assert_eq!(
            exec_form(card.cmd.as_deref().unwrap()),
            r#"["nginx", "-g", "daemon off;"]"#
        );
        assert_eq!(
            card.env,
            [("PATH", "/usr/bin:/bin"), ("EMPTY", ""), ("A", "b=c")].map(|(name, value)| {
                EnvVar {
                    name: name.into(),
                    value: value.into(),
                }
            })
        );
        assert_eq!(card.exposed_ports, ["443/tcp", "80/tcp"]);
        assert_eq!(card.volumes, ["/data"]);
        assert_eq!(card.working_dir.as_deref(), Some("/srv"));
        assert_eq!(card.user.as_deref(), Some("101:101"));
        assert_eq!(card.labels[0], ("a".to_string(), "<img src=x>".to_string()));
        assert_eq!(
            card.healthcheck.as_deref(),
            Some("CMD curl -f http://localhost/ || exit 1 (every 30s, timeout 3s, 3 retries)")
        );
        let none = r#"{"architecture":"arm64","variant":"v8","os":"linux","config":{"Healthcheck":{"Test":["NONE"]}},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let card = run_config(&ImageConfig::parse(none.as_bytes()).unwrap());
        assert_eq!(card.platform, "linux/arm64/v8");
        assert_eq!(card.healthcheck.as_deref(), Some("disabled (NONE)"));
        assert!(card.cmd.is_none() && card.env.is_empty());
    }

    const CONFIG: &str = r#"{"architecture":"arm64","variant":"v8","os":"linux","created":"2023-11-14T22:13:20.120000000Z",
        "author":"A <a@example.test>","docker_version":"24.0.7",
        "config":{"Env":["PATH=/bin"],"Cmd":["sh","-c","a && b"],"Labels":{"z":"1","a":"2"}},
        "rootfs":{"type":"layers","diff_ids":["sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]}}"#;

    fn config() -> ImageConfig {
        ImageConfig::parse(CONFIG.as_bytes()).unwrap()
    }

    #[test]
    fn inspect_has_dockers_shape_and_order() {
        let c = config();
        let id = Digest::sha256_of(CONFIG.as_bytes());
        let manifest = Digest::sha256_of(b"manifest");
        let r = Reference::parse("nginx:1.25").unwrap();
        let view = image_inspect(&InspectInput {
            config: &c,
            image_id: &id,
            reference: Some(&r),
            repo_digest: Some(&manifest),
            size: Some(5_590_000),
        });
        let json = to_docker_json(std::slice::from_ref(&view));
        let keys: Vec<&str> = json
            .lines()
            .filter(|l| l.starts_with("        \"") && !l.starts_with("         "))
            .map(|l| l.trim().split('"').nth(1).unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "Id",
                "RepoTags",
                "RepoDigests",
                "Parent",
                "Comment",
                "Created",
                "DockerVersion",
                "Author",
                "Config",
                "Architecture",
                "Variant",
                "Os",
                "Size",
                "RootFS",
                "Metadata"
            ]
        );
        assert!(json.starts_with("[\n    {\n        \"Id\": \"sha256:"));
        assert!(
            json.contains("\"A \\u003ca@example.test\\u003e\""),
            "{json}"
        );
        assert!(json.contains("\"a \\u0026\\u0026 b\""));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let o = &v[0];
        assert_eq!(o["RepoTags"][0], "nginx:1.25");
        assert_eq!(o["RepoDigests"][0], format!("nginx@{manifest}"));
        assert_eq!(o["Created"], "2023-11-14T22:13:20.12Z");
        assert_eq!(o["RootFS"]["Type"], "layers");
        assert_eq!(o["Config"]["Labels"]["a"], "2");
        assert!(
            o["Config"].get("Hostname").is_none(),
            "absent fields are not invented"
        );
        assert_eq!(o["Parent"], "");
        assert_eq!(o["Size"], 5_590_000);
    }

    #[test]
    fn inspect_omits_unknowns() {
        let c = ImageConfig::parse(
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
        let id = Digest::sha256_of(b"x");
        let view = image_inspect(&InspectInput {
            config: &c,
            image_id: &id,
            reference: None,
            repo_digest: None,
            size: None,
        });
        let v = serde_json::to_value(&view).unwrap();
        for absent in [
            "Created",
            "DockerVersion",
            "Config",
            "Variant",
            "OsVersion",
            "Size",
        ] {
            assert!(v.get(absent).is_none(), "{absent} should be omitted");
        }
        assert_eq!(v["RepoTags"], serde_json::json!([]));
        assert_eq!(v["Metadata"], serde_json::json!({}));

        let by_digest = Reference::parse(&format!("a/b@{id}")).unwrap();
        let view = image_inspect(&InspectInput {
            config: &c,
            image_id: &id,
            reference: Some(&by_digest),
            repo_digest: None,
            size: None,
        });
        assert!(view.repo_tags.is_empty());
        assert_eq!(view.repo_digests, vec![format!("a/b@{id}")]);
    }

    #[test]
    fn image_ls_row_matches_docker_columns() {
        let c = config();
        let id = Digest::sha256_of(CONFIG.as_bytes());
        let row = image_ls_row(Some("localhost:5000/team/app"), false, &id, &c, 126_000_000);
        assert_eq!(row.repository, "localhost:5000/team/app");
        assert_eq!(row.tag, "latest");
        assert_eq!(row.image_id, &id.hex()[..12]);
        assert_eq!(
            row.created.as_deref(),
            Some("2023-11-14T22:13:20.120000000Z")
        );
        assert_eq!(row.size, "126MB");
        let hub = image_ls_row(Some("docker.io/library/busybox:1.36"), false, &id, &c, 0);
        assert_eq!(
            (hub.repository.as_str(), hub.tag.as_str()),
            ("busybox", "1.36")
        );
        let bare = image_ls_row(Some("1.0"), true, &id, &c, 0);
        assert_eq!((bare.repository.as_str(), bare.tag.as_str()), (NONE, "1.0"));
        let none = image_ls_row(None, false, &id, &c, 0);
        assert_eq!(
            (
                none.repository.as_str(),
                none.tag.as_str(),
                none.size.as_str()
            ),
            (NONE, NONE, "0B")
        );
    }
}
