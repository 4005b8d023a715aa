//! The committed demo archive (static/demo/layerscope-demo.tar) has every feature the page's
//! demo promises: a few layers, hundreds of files, a file whiteout, an opaque directory, a
//! symlink, a hard link, empty history layers and a full config. Rebuild it with
//! scripts/make-demo-image.sh.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};

const MAX_ARCHIVE_BYTES: u64 = 1024 * 1024;

fn archive_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../static/demo/layerscope-demo.tar")
}

/// What one layer tar holds, as far as these checks need.
#[derive(Default)]
struct LayerFacts {
    regular_files: BTreeSet<String>,
    directories: BTreeSet<String>,
    symlinks: Vec<(String, String)>,
    hard_links: Vec<(String, String)>,
    whiteouts: Vec<String>,
    opaque_dirs: Vec<String>,
}

impl LayerFacts {
    fn holds(&self, path: &str) -> bool {
        self.regular_files.contains(path)
            || self.directories.contains(path)
            || self.symlinks.iter().any(|(link, _)| link == path)
            || self.hard_links.iter().any(|(link, _)| link == path)
    }
}

struct DemoArchive {
    manifest: Value,
    config: Value,
    /// Layer tars in manifest order.
    layers: Vec<LayerFacts>,
    /// sha256 of each layer tar, by its file name in the archive.
    layer_digests: BTreeMap<String, String>,
}

fn open_archive() -> tar::Archive<File> {
    let path = archive_path();
    let file = File::open(&path).unwrap_or_else(|error| {
        panic!(
            "cannot open {}: {error}; build it with scripts/make-demo-image.sh",
            path.display()
        )
    });
    tar::Archive::new(file)
}

/// Reads every member named in `wanted` into memory (the archive is bounded to 1 MiB).
fn read_members(wanted: &dyn Fn(&str) -> bool) -> BTreeMap<String, Vec<u8>> {
    let mut members = BTreeMap::new();
    let mut archive = open_archive();
    for entry in archive.entries().expect("outer archive headers") {
        let mut entry = entry.expect("outer archive entry");
        let name = entry.path().expect("member name").display().to_string();
        if wanted(&name) && entry.header().entry_type().is_file() {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("read member");
            members.insert(name, bytes);
        }
    }
    members
}

fn layer_facts(name: &str, bytes: &[u8]) -> LayerFacts {
    assert_eq!(
        bytes.len() % 512,
        0,
        "layer {name} is not whole 512-byte blocks"
    );
    assert!(
        bytes.len() >= 1024 && bytes[bytes.len() - 1024..].iter().all(|&byte| byte == 0),
        "layer {name} lacks the two zero blocks that end a tar archive"
    );
    let mut facts = LayerFacts::default();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().expect("layer headers") {
        let entry = entry.unwrap_or_else(|error| panic!("layer {name}: bad entry: {error}"));
        let path = entry.path().expect("entry path").display().to_string();
        let path = path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let (parent, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let link_target = || {
            entry
                .link_name()
                .expect("link name")
                .expect("link entries have a target")
                .display()
                .to_string()
        };
        let entry_type = entry.header().entry_type();
        if base == ".wh..wh..opq" {
            facts.opaque_dirs.push(parent.to_string());
        } else if let Some(hidden) = base.strip_prefix(".wh.") {
            let hidden_path = if parent.is_empty() {
                hidden.to_string()
            } else {
                format!("{parent}/{hidden}")
            };
            facts.whiteouts.push(hidden_path);
        } else if entry_type.is_symlink() {
            facts.symlinks.push((path.clone(), link_target()));
        } else if entry_type.is_hard_link() {
            facts.hard_links.push((path.clone(), link_target()));
        } else if entry_type.is_dir() {
            facts.directories.insert(path);
        } else if entry_type.is_file() {
            facts.regular_files.insert(path);
        }
    }
    facts
}

fn load_demo() -> DemoArchive {
    let metadata = read_members(&|name| name == "manifest.json");
    let manifest: Value = serde_json::from_slice(
        metadata
            .get("manifest.json")
            .expect("the archive has a manifest.json"),
    )
    .expect("manifest.json is JSON");
    let image = &manifest[0];
    let config_name = image["Config"]
        .as_str()
        .expect("Config names a file")
        .to_string();
    let layer_names: Vec<String> = image["Layers"]
        .as_array()
        .expect("Layers is an array")
        .iter()
        .map(|name| name.as_str().expect("layer names are strings").to_string())
        .collect();
    let members =
        read_members(&|name| name == config_name || layer_names.iter().any(|l| l == name));
    let config: Value = serde_json::from_slice(
        members
            .get(&config_name)
            .unwrap_or_else(|| panic!("config {config_name} is missing from the archive")),
    )
    .expect("config is JSON");
    let mut layers = Vec::new();
    let mut layer_digests = BTreeMap::new();
    for name in &layer_names {
        let bytes = members
            .get(name)
            .unwrap_or_else(|| panic!("layer {name} is missing from the archive"));
        layer_digests.insert(name.clone(), format!("sha256:{:x}", Sha256::digest(bytes)));
        layers.push(layer_facts(name, bytes));
    }
    DemoArchive {
        manifest,
        config,
        layers,
        layer_digests,
    }
}

#[test]
fn archive_is_small_and_tagged() {
    let size = std::fs::metadata(archive_path())
        .expect("demo archive exists")
        .len();
    assert!(
        size < MAX_ARCHIVE_BYTES,
        "demo archive is {size} bytes, over 1 MiB"
    );
    let demo = load_demo();
    let tags = demo.manifest[0]["RepoTags"].to_string();
    assert!(tags.contains("layerscope/demo:1.0"), "RepoTags {tags}");
}

#[test]
fn layers_match_the_config_diff_ids() {
    let demo = load_demo();
    let count = demo.layers.len();
    assert!((2..=4).contains(&count), "{count} layers, want 2-4");
    let diff_ids: Vec<&str> = demo.config["rootfs"]["diff_ids"]
        .as_array()
        .expect("rootfs.diff_ids")
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    let layer_names: Vec<&str> = demo.manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    for (name, diff_id) in layer_names.iter().zip(&diff_ids) {
        assert_eq!(&demo.layer_digests[*name], diff_id, "layer {name}");
    }
    assert_eq!(diff_ids.len(), count);
}

#[test]
fn holds_a_few_hundred_files() {
    let demo = load_demo();
    let files: usize = demo
        .layers
        .iter()
        .map(|layer| layer.regular_files.len())
        .sum();
    assert!((200..1000).contains(&files), "{files} regular files");
}

#[test]
fn a_file_is_whited_out_over_a_lower_layer() {
    let demo = load_demo();
    let found = demo.layers.iter().enumerate().any(|(index, layer)| {
        layer.whiteouts.iter().any(|hidden| {
            demo.layers[..index]
                .iter()
                .any(|lower| lower.regular_files.contains(hidden))
        })
    });
    assert!(found, "no layer whites out a regular file of a lower layer");
}

#[test]
fn a_directory_is_made_opaque_over_lower_contents() {
    let demo = load_demo();
    let found = demo.layers.iter().enumerate().any(|(index, layer)| {
        layer.opaque_dirs.iter().any(|dir| {
            let prefix = format!("{dir}/");
            let hidden_lower_file = demo.layers[..index].iter().any(|lower| {
                lower
                    .regular_files
                    .iter()
                    .any(|file| file.starts_with(&prefix) && !layer.holds(file))
            });
            let new_contents = layer
                .regular_files
                .iter()
                .any(|file| file.starts_with(&prefix));
            hidden_lower_file && new_contents
        })
    });
    assert!(found, "no opaque directory replaces lower-layer contents");
}

#[test]
fn has_a_symlink_and_a_hard_link() {
    let demo = load_demo();
    let symlinks: Vec<_> = demo
        .layers
        .iter()
        .flat_map(|layer| &layer.symlinks)
        .collect();
    assert!(!symlinks.is_empty(), "no symlink in any layer");
    let linked = demo.layers.iter().any(|layer| {
        layer.hard_links.iter().any(|(_, target)| {
            layer
                .regular_files
                .contains(target.trim_start_matches("./"))
        })
    });
    assert!(linked, "no hard link to a regular file of the same layer");
}

#[test]
fn history_has_empty_layers_and_one_entry_per_layer() {
    let demo = load_demo();
    let history = demo.config["history"].as_array().expect("config.history");
    let empty = history
        .iter()
        .filter(|step| step["empty_layer"] == Value::Bool(true))
        .count();
    assert!(empty >= 1, "no empty history layer");
    assert_eq!(
        history.len() - empty,
        demo.layers.len(),
        "non-empty history vs layers"
    );
    for step in history {
        let created_by = step["created_by"].as_str().unwrap_or_default();
        assert!(created_by.starts_with("/bin/sh -c "), "history step {step}");
        assert!(
            step["created"].is_string(),
            "history step {step} has no date"
        );
    }
}

#[test]
fn config_has_the_run_settings() {
    let demo = load_demo();
    let config = &demo.config["config"];
    for field in [
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "Labels",
        "ExposedPorts",
    ] {
        let value = &config[field];
        let present = match value {
            Value::Array(items) => !items.is_empty(),
            Value::Object(map) => !map.is_empty(),
            Value::String(text) => !text.is_empty(),
            _ => false,
        };
        assert!(present, "config.{field} is missing or empty: {value}");
    }
}
