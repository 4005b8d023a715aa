//! Image configuration documents (Docker and OCI).
//!
//! API summary:
//! - [`ImageConfig::parse`]`(bytes: &[u8]) -> Result<ImageConfig, ConfigError>`:
//!   validates like the image-spec config schema, naming the field path;
//! - [`ImageConfig`] `{ created, author, architecture, os, variant, os_version,
//!   os_features, config: Option<ContainerConfig>, rootfs: RootFs, history:
//!   Vec<HistoryEntry>, docker_version, parent, comment, container }`;
//!   [`ImageConfig::platform`], [`ImageConfig::created_at`];
//! - [`ContainerConfig`]: the `config` object with every field docker writes
//!   (User, Env, Entrypoint, Cmd, WorkingDir, Labels, ExposedPorts, Volumes,
//!   StopSignal, Healthcheck, OnBuild, Shell, ArgsEscaped, ...), each optional
//!   and serialized in docker's field order, absent fields omitted;
//! - [`RootFs`] `{ kind, diff_ids: Vec<Digest> }`, [`HistoryEntry`].
//!
//! Own serde types rather than `oci-spec`'s, for the reasons given in
//! [`crate::model::manifest`]: precise field paths in errors, the schema's checks, and
//! the Docker-only fields (`Healthcheck`, `OnBuild`, `Shell`, `docker_version`)
//! that `docker image inspect` shows.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::digest::Digest;
use crate::model::manifest::describe_value;
use crate::model::platform::Platform;
use crate::model::time::Timestamp;

/// The largest config accepted; real ones are kilobytes, a long history a few hundred.
pub const MAX_CONFIG_BYTES: usize = 8 * 1024 * 1024;

/// A whole image configuration (Docker `container.image.v1` or OCI `image.config.v1`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// When the image was created (RFC 3339, as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who made the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The platform the image is built for: `architecture`, `os`, `variant`, `os.version`,
    /// `os.features` at the top level of the document.
    #[serde(flatten)]
    pub platform: Platform,
    /// Defaults for containers started from the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The layer diff IDs.
    pub rootfs: RootFs,
    /// Build steps, oldest first (`null` reads as none, as Go writes an empty list).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub history: Vec<HistoryEntry>,
    /// Docker engine version that built the image (Docker only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    /// Parent image ID (Docker only, local builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Commit message (Docker only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// ID of the build container (Docker only, legacy builder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// The `config` object: what a container runs and how.
///
/// Field order is the order `docker image inspect` prints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// Host name of the build container (Docker legacy builder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Domain name of the build container (Docker legacy builder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    /// User (and group) the process runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Docker run default: attach stdin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_stdin: Option<bool>,
    /// Docker run default: attach stdout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_stdout: Option<bool>,
    /// Docker run default: attach stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_stderr: Option<bool>,
    /// Ports the image expects to listen on (`"80/tcp": {}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    /// Docker run default: allocate a TTY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<bool>,
    /// Docker run default: keep stdin open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_stdin: Option<bool>,
    /// Docker run default: close stdin after one attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin_once: Option<bool>,
    /// Environment, `NAME=value` each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Default arguments (or command, without an entrypoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Health check (Docker only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Whether Cmd/Entrypoint are already escaped (Windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    /// Image the build step ran on (Docker legacy builder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Volume mount points (`"/data": {}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Docker run default: no networking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_disabled: Option<bool>,
    /// Docker run default: MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// Triggers run when the image is used as a base (Docker only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Signal that stops the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds to wait before killing (Docker only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Shell for the shell form of RUN/CMD/ENTRYPOINT (Docker only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// A Docker health check; durations are nanoseconds as Docker stores them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// Time between checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// Time one check may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Grace period after start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i64>,
    /// Time between checks during the start period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<i64>,
    /// Failures before unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
}

/// The root filesystem: the layers' uncompressed digests, base first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// sha256 of each uncompressed layer tar.
    ///
    /// Docker omits the field for an image without layers and Go writes an
    /// empty list as `null`; both read as no layers.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub diff_ids: Vec<Digest>,
}

/// One build step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When the step ran (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The instruction, as the builder recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// A comment (e.g. `buildkit.dockerfile.v0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// Why a config document is unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Bigger than [`MAX_CONFIG_BYTES`].
    TooLarge {
        /// Bytes given.
        size: usize,
    },
    /// Not JSON.
    NotJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// JSON but not an object.
    NotAnObject {
        /// What was found instead.
        found: String,
    },
    /// A field is missing, mistyped or malformed.
    Field {
        /// Path such as `config.Env[0]` or `history[3].created`.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::TooLarge { size } => {
                write!(
                    f,
                    "image config is {size} bytes, over the {MAX_CONFIG_BYTES}-byte limit"
                )
            }
            ConfigError::NotJson {
                line,
                column,
                message,
            } => {
                write!(
                    f,
                    "image config is not valid JSON (line {line}, column {column}: {message})"
                )
            }
            ConfigError::NotAnObject { found } => {
                write!(f, "image config must be a JSON object, found {found}")
            }
            ConfigError::Field { path, problem } => {
                write!(f, "image config field {path}: {problem}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl ImageConfig {
    /// Parses and validates an image config.
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, ConfigError> {
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge { size: bytes.len() });
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|e| ConfigError::NotJson {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let Value::Object(root) = &value else {
            return Err(ConfigError::NotAnObject {
                found: describe_value(&value),
            });
        };
        validate_root(root)?;
        serde_json::from_value(value).map_err(|e| ConfigError::Field {
            path: "(document)".into(),
            problem: e.to_string(),
        })
    }

    /// The platform the image is built for.
    pub fn platform(&self) -> Platform {
        self.platform.clone()
    }

    /// The creation time, when present and valid.
    pub fn created_at(&self) -> Option<Timestamp> {
        self.created
            .as_deref()
            .and_then(|c| Timestamp::parse(c).ok())
    }

    /// The layers' diff IDs, base first.
    pub fn diff_ids(&self) -> &[Digest] {
        &self.rootfs.diff_ids
    }
}

type Check = Result<(), ConfigError>;

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

fn problem(path: &str, problem: String) -> ConfigError {
    ConfigError::Field {
        path: path.to_string(),
        problem,
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn validate_root(root: &Map<String, Value>) -> Check {
    for key in ["architecture", "os"] {
        match root.get(key) {
            None => return Err(problem(key, "missing (required)".into())),
            Some(v) => expect_string(v, key)?,
        }
    }
    for key in [
        "variant",
        "os.version",
        "author",
        "docker_version",
        "parent",
        "comment",
        "container",
    ] {
        if let Some(v) = root.get(key) {
            expect_string(v, key)?;
        }
    }
    if let Some(v) = root.get("created") {
        expect_date_time(v, "created")?;
    }
    if let Some(v) = root.get("os.features") {
        expect_string_array(v, "os.features")?;
    }
    if let Some(v) = root.get("config") {
        validate_container_config(v, "config")?;
    }
    match root.get("rootfs") {
        None => {
            return Err(problem(
                "rootfs",
                "missing (required: the layers' diff_ids)".into(),
            ))
        }
        Some(v) => validate_rootfs(v)?,
    }
    if let Some(v) = root.get("history") {
        validate_history(v)?;
    }
    Ok(())
}

fn validate_container_config(value: &Value, path: &str) -> Check {
    if value.is_null() {
        return Ok(());
    }
    let map = expect_object(value, path)?;
    for (key, v) in map {
        let p = child(path, key);
        match key.as_str() {
            "User" | "WorkingDir" | "StopSignal" | "Hostname" | "Domainname" | "Image"
            | "MacAddress" => expect_string(v, &p)?,
            "ArgsEscaped" | "AttachStdin" | "AttachStdout" | "AttachStderr" | "Tty"
            | "OpenStdin" | "StdinOnce" | "NetworkDisabled" => expect_bool(v, &p)?,
            "Env" => validate_env(v, &p)?,
            "Entrypoint" | "Cmd" | "OnBuild" | "Shell" => {
                nullable(v, |v| expect_string_array(v, &p))?
            }
            "ExposedPorts" | "Volumes" => nullable(v, |v| expect_object_of_objects(v, &p))?,
            "Labels" => nullable(v, |v| expect_object_of_strings(v, &p))?,
            "StopTimeout" => expect_integer(v, &p)?,
            "Healthcheck" => nullable(v, |v| validate_healthcheck(v, &p))?,
            _ => {}
        }
    }
    Ok(())
}

fn validate_env(value: &Value, path: &str) -> Check {
    nullable(value, |v| {
        expect_string_array(v, path)?;
        for (i, item) in v.as_array().into_iter().flatten().enumerate() {
            let s = item.as_str().unwrap_or_default();
            match s.split_once('=') {
                Some((name, _)) if !name.is_empty() => {}
                _ => {
                    return Err(problem(
                        &format!("{path}[{i}]"),
                        format!("{s:?} is not NAME=value"),
                    ))
                }
            }
        }
        Ok(())
    })
}

fn validate_healthcheck(value: &Value, path: &str) -> Check {
    let map = expect_object(value, path)?;
    for (key, v) in map {
        let p = child(path, key);
        match key.as_str() {
            "Test" => nullable(v, |v| expect_string_array(v, &p))?,
            "Interval" | "Timeout" | "StartPeriod" | "StartInterval" | "Retries" => {
                expect_integer(v, &p)?
            }
            _ => {}
        }
    }
    Ok(())
}

fn validate_rootfs(value: &Value) -> Check {
    let map = expect_object(value, "rootfs")?;
    match map.get("type") {
        None => {
            return Err(problem(
                "rootfs.type",
                "missing (required, must be \"layers\")".into(),
            ))
        }
        Some(Value::String(s)) if s == "layers" => {}
        Some(other) => {
            return Err(problem(
                "rootfs.type",
                format!("must be \"layers\", found {}", describe_value(other)),
            ))
        }
    }
    // Required by the OCI schema, but docker omits it for images without
    // layers (`omitempty`), so absence and null mean no layers.
    let ids = match map.get("diff_ids") {
        None | Some(Value::Null) => return Ok(()),
        Some(ids) => ids,
    };
    expect_string_array(ids, "rootfs.diff_ids")?;
    for (i, id) in ids.as_array().into_iter().flatten().enumerate() {
        Digest::parse(id.as_str().unwrap_or_default())
            .map_err(|e| problem(&format!("rootfs.diff_ids[{i}]"), e.to_string()))?;
    }
    Ok(())
}

fn validate_history(value: &Value) -> Check {
    if value.is_null() {
        return Ok(());
    }
    let items = value.as_array().ok_or_else(|| {
        problem(
            "history",
            format!("expected an array, found {}", describe_value(value)),
        )
    })?;
    for (i, item) in items.iter().enumerate() {
        let path = format!("history[{i}]");
        let map = expect_object(item, &path)?;
        for key in ["author", "created_by", "comment"] {
            if let Some(v) = map.get(key) {
                expect_string(v, &child(&path, key))?;
            }
        }
        if let Some(v) = map.get("created") {
            expect_date_time(v, &child(&path, "created"))?;
        }
        if let Some(v) = map.get("empty_layer") {
            expect_bool(v, &child(&path, "empty_layer"))?;
        }
    }
    Ok(())
}

fn nullable(value: &Value, check: impl FnOnce(&Value) -> Check) -> Check {
    if value.is_null() {
        Ok(())
    } else {
        check(value)
    }
}

fn expect_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ConfigError> {
    value.as_object().ok_or_else(|| {
        problem(
            path,
            format!("expected an object, found {}", describe_value(value)),
        )
    })
}

fn expect_string(value: &Value, path: &str) -> Check {
    match value {
        Value::String(_) => Ok(()),
        other => Err(problem(
            path,
            format!("expected a string, found {}", describe_value(other)),
        )),
    }
}

fn expect_bool(value: &Value, path: &str) -> Check {
    match value {
        Value::Bool(_) => Ok(()),
        other => Err(problem(
            path,
            format!("expected true or false, found {}", describe_value(other)),
        )),
    }
}

fn expect_integer(value: &Value, path: &str) -> Check {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() && n.as_u64() <= Some(i64::MAX as u64) => {
            Ok(())
        }
        other => Err(problem(
            path,
            format!("expected an integer, found {}", describe_value(other)),
        )),
    }
}

fn expect_date_time(value: &Value, path: &str) -> Check {
    let Value::String(s) = value else {
        return Err(problem(
            path,
            format!(
                "expected an RFC 3339 date-time string, found {}",
                describe_value(value)
            ),
        ));
    };
    Timestamp::parse(s)
        .map(|_| ())
        .map_err(|e| problem(path, e.to_string()))
}

fn expect_string_array(value: &Value, path: &str) -> Check {
    let items = value.as_array().ok_or_else(|| {
        problem(
            path,
            format!(
                "expected an array of strings, found {}",
                describe_value(value)
            ),
        )
    })?;
    for (i, item) in items.iter().enumerate() {
        expect_string(item, &format!("{path}[{i}]"))?;
    }
    Ok(())
}

fn expect_object_of_objects(value: &Value, path: &str) -> Check {
    let map = value.as_object().ok_or_else(|| {
        problem(
            path,
            format!(
                "expected an object whose values are {{}}, found {}",
                describe_value(value)
            ),
        )
    })?;
    for (k, v) in map {
        if !v.is_object() {
            return Err(problem(
                &format!("{path}[{k:?}]"),
                format!("expected {{}}, found {}", describe_value(v)),
            ));
        }
    }
    Ok(())
}

fn expect_object_of_strings(value: &Value, path: &str) -> Check {
    let map = expect_object(value, path)?;
    for (k, v) in map {
        expect_string(v, &format!("{path}[{k:?}]"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

    fn with(extra: &str) -> String {
        format!(
            r#"{{"architecture":"amd64","os":"linux",{extra}"rootfs":{{"type":"layers","diff_ids":["{DIFF}"]}}}}"#
        )
    }

    #[test]
    fn parses_a_full_docker_config() {
        let doc = with(
            r#""created":"2024-01-02T03:04:05.5Z","author":"me","variant":"v8","docker_version":"24.0.7",
            "config":{"User":"1:1","Env":["PATH=/bin","EMPTY="],"Entrypoint":["/bin/sh"],"Cmd":null,
            "WorkingDir":"/w","Labels":{"a":"b"},"ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},
            "StopSignal":"SIGTERM","Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Retries":3},
            "OnBuild":["RUN x"],"Shell":["/bin/bash","-c"],"ArgsEscaped":true,"Hostname":""},
            "history":[{"created":"2024-01-02T03:04:05Z","created_by":"RUN x","empty_layer":true,"comment":"c"}],"#,
        );
        let c = ImageConfig::parse(doc.as_bytes()).unwrap();
        let cc = c.config.as_ref().unwrap();
        assert_eq!(cc.user.as_deref(), Some("1:1"));
        assert_eq!(cc.cmd, None);
        assert_eq!(
            cc.healthcheck.as_ref().unwrap().interval,
            Some(30_000_000_000)
        );
        assert_eq!(cc.shell.as_ref().unwrap()[0], "/bin/bash");
        assert_eq!(
            cc.exposed_ports.as_ref().unwrap().keys().next().unwrap(),
            "80/tcp"
        );
        assert_eq!(c.rootfs.diff_ids[0].to_string(), DIFF);
        assert!(c.history[0].empty_layer);
        assert_eq!(c.platform().to_string(), "linux/amd64/v8");
        assert_eq!(c.created_at().unwrap().nanos, 500_000_000);
        assert_eq!(c.docker_version.as_deref(), Some("24.0.7"));
        // Serializing keeps what was there and omits what was not.
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["config"]["Hostname"], "");
        assert!(back["config"].get("Domainname").is_none());
    }

    #[test]
    fn go_nil_lists_read_as_empty() {
        for doc in [
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}"#,
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":null},"history":null}"#,
        ] {
            let c = ImageConfig::parse(doc.as_bytes()).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert!(c.rootfs.diff_ids.is_empty() && c.history.is_empty());
        }
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{"architecture":"amd64","rootfs":{"type":"layers","diff_ids":[]}}"#.to_string(), "field os: missing"),
            (with(r#""variant":123,"#), "field variant: expected a string, found the number 123"),
            (with(r#""config":{"User":1234},"#), "config.User: expected a string"),
            (with(r#""config":{"Env":[7353]},"#), "config.Env[0]: expected a string"),
            (with(r#""config":{"Env":["foo"]},"#), "config.Env[0]: \"foo\" is not NAME=value"),
            (with(r#""config":{"Volumes":["/a"]},"#), "config.Volumes: expected an object"),
            (with(r#""history":"x","#), "field history: expected an array"),
            (with(r#""history":[{"created":"yesterday"}],"#), "history[0].created: \"yesterday\" is not an RFC 3339"),
            (with(r#""history":[{"empty_layer":"yes"}],"#), "history[0].empty_layer: expected true or false"),
            (with(r#""created":5,"#), "field created: expected an RFC 3339"),
            (r#"{"architecture":"amd64","os":"linux"}"#.to_string(), "field rootfs: missing"),
            (r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"x","diff_ids":[]}}"#.to_string(), "rootfs.type: must be \"layers\""),
            (r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:ab"]}}"#.to_string(), "rootfs.diff_ids[0]: sha256 digest must have 64"),
            ("invalid JSON".to_string(), "not valid JSON (line 1"),
            (r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":"x"}}"#.to_string(), "rootfs.diff_ids: expected an array"),
            ("[]".to_string(), "must be a JSON object, found an array"),
        ];
        for (doc, needle) in cases {
            let e = ImageConfig::parse(doc.as_bytes()).unwrap_err().to_string();
            assert!(
                e.contains(needle),
                "{doc}\n  error: {e}\n  wanted: {needle}"
            );
        }
    }
}
