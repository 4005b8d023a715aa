//! `layerscope inspect` end to end: the real binary on peer archives and on archives made
//! here with umoci and skopeo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use layerscope_test_support::{layerscope_binary_or, peer, TempDir};
use serde_json::Value;

fn dive_image() -> PathBuf {
    peer("dive/.data/test-docker-image.tar")
}

/// The binary under test: `$LAYERSCOPE_BIN`, else this package's own build.
fn binary() -> PathBuf {
    layerscope_binary_or(env!("CARGO_BIN_EXE_layerscope"))
}

fn layerscope(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .output()
        .expect("run layerscope")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_of(path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["inspect", path.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let out = layerscope(&args);
    assert!(
        out.status.success(),
        "inspect --json {} failed: {}",
        path.display(),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

#[test]
fn ci_passes_dives_test_image_with_dives_own_rules() {
    let config = peer("dive/.data/.dive-ci");
    let out = layerscope(&[
        "inspect",
        dive_image().to_str().unwrap(),
        "--ci",
        "--ci-config",
        config.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    for rule in [
        "lowestEfficiency",
        "highestWastedBytes",
        "highestUserWastedPercent",
    ] {
        assert!(
            stdout.contains(&format!("PASS: {rule}")),
            "{rule} should pass:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("Result:PASS [Total:3] [Passed:3] [Failed:0] [Skipped:0]"),
        "{stdout}"
    );
}

#[test]
fn ci_fails_with_stricter_rules_and_exits_1() {
    let scratch = TempDir::new("ci");
    let config = scratch.path().join("strict.yaml");
    // Efficiency is 0.9844 and 32025 bytes are wasted; the percent rule is off (kebab-case key).
    std::fs::write(&config, "rules:\n  lowestEfficiency: 0.99\n  highestWastedBytes: 30KB\n  highest-user-wasted-percent: off\n").unwrap();
    let out = layerscope(&[
        "inspect",
        dive_image().to_str().unwrap(),
        "--ci",
        "--ci-config",
        config.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL: lowestEfficiency"), "{stdout}");
    assert!(stdout.contains("FAIL: highestWastedBytes: too many bytes wasted (wasted-bytes=32025 > threshold=30000)"), "{stdout}");
    assert!(
        stdout.contains("SKIP: highestUserWastedPercent"),
        "{stdout}"
    );
    // 32025 bytes pass a 33 kB threshold.
    std::fs::write(&config, "rules:\n  lowestEfficiency: disabled\n  highestWastedBytes: 33 kb\n  highestUserWastedPercent: 0.49\n").unwrap();
    let out = layerscope(&[
        "inspect",
        dive_image().to_str().unwrap(),
        "--ci",
        "--ci-config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn unreadable_input_exits_2() {
    let out = layerscope(&["inspect", "/nonexistent/image.tar"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/image.tar"));
    let plain = peer("dive/.data/test-uncompressed-image.tar");
    let out = layerscope(&["inspect", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("plain file system tar"),
        "{}",
        text(&out.stderr)
    );
    let out = layerscope(&[
        "inspect",
        dive_image().to_str().unwrap(),
        "--ci",
        "--ci-config",
        "/nonexistent/.dive-ci",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/.dive-ci"));
}

#[test]
fn json_has_dives_shape_and_the_extras() {
    let doc = json_of(&dive_image(), &[]);
    let layers = doc["layer"].as_array().unwrap();
    assert_eq!(layers.len(), 14);
    for (i, layer) in layers.iter().enumerate() {
        assert_eq!(layer["index"], i);
        assert!(layer["digestId"].as_str().unwrap().starts_with("sha256:"));
        assert!(layer["sizeBytes"].is_u64() && layer["command"].is_string());
        assert!(layer["fileList"].is_array());
    }
    let first = &layers[0]["fileList"][0];
    for key in [
        "path", "typeFlag", "linkName", "size", "fileMode", "uid", "gid", "isDir",
    ] {
        assert!(
            first.get(key).is_some(),
            "fileList entry lacks {key}: {first}"
        );
    }
    let image = &doc["image"];
    assert_eq!(image["inefficientBytes"], 32025);
    assert!((image["efficiencyScore"].as_f64().unwrap() - 0.98442).abs() < 1e-4);
    assert_eq!(image["fileReference"].as_array().unwrap().len(), 3);
    for key in [
        "sizeBytes",
        "userSizeBytes",
        "wastedUserPercent",
        "reclaimableBytes",
    ] {
        assert!(image[key].is_number(), "image.{key}");
    }
    let history = doc["history"].as_array().unwrap();
    assert_eq!(history.len(), 15);
    assert_eq!(
        history[0]["createdBy"],
        "/bin/sh -c chmod +x /root/saved.txt"
    );
    assert!(history.iter().any(|h| h["emptyLayer"] == true));
    let files = doc["files"].as_array().unwrap();
    assert!(files
        .iter()
        .any(|f| f["path"] == "root/saved.txt" && f["layer"] == 13 && f["type"] == "file"));
    assert!(files
        .iter()
        .all(|f| !f["path"].as_str().unwrap().starts_with('/')));
    let verification = doc["verification"].as_array().unwrap();
    assert_eq!(verification.len(), 15);
    assert!(verification
        .iter()
        .all(|v| v["ok"] == true && v["expected"] == v["actual"]));
    assert_eq!(doc["images"][0]["tags"][0], "dive-test:latest");
    let inspect = &doc["inspect"];
    // The archive names the config `<image id>.json`.
    assert_eq!(
        inspect["Id"],
        "sha256:75ae28b8ebf89b203319069ddcbecdf5c3838503bbebc0d0d85e4b8589c5de3a"
    );
    assert_eq!(inspect["RepoTags"][0], "dive-test:latest");
    assert_eq!(inspect["RootFS"]["Layers"].as_array().unwrap().len(), 14);
    assert_eq!(inspect["RootFS"]["Layers"][0], layers[0]["digestId"]);
    assert_eq!(inspect["Size"], image["sizeBytes"]);
}

#[test]
fn image_flag_picks_one_of_several() {
    let bundle = peer("go-containerregistry/pkg/v1/tarball/testdata/test_bundle.tar");
    let doc = json_of(&bundle, &["--image", "test_image_1"]);
    assert_eq!(doc["images"].as_array().unwrap().len(), 2);
    let one = doc["verification"].clone();
    let doc = json_of(&bundle, &["--image", "0"]);
    assert_ne!(
        doc["verification"], one,
        "index 0 is test_image_2, another config"
    );
    let out = layerscope(&["inspect", bundle.to_str().unwrap(), "--image", "nope:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("test_image_1"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn human_output_has_the_tables() {
    let out = layerscope(&["inspect", dive_image().to_str().unwrap()]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    for heading in [
        "REPOSITORY",
        "HISTORY",
        "LAYERS",
        "EFFICIENCY",
        "TOP WASTED FILES",
        "VERIFIED: 15 of 15",
    ] {
        assert!(stdout.contains(heading), "missing {heading}:\n{stdout}");
    }
    assert!(stdout.contains("dive-test") && stdout.contains("/root/saved.txt"));
    // Not a terminal: no progress bar on stderr.
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn layout_directory_is_read() {
    let layout = peer("go-containerregistry/pkg/v1/layout/testdata/test_index_one_image");
    let doc = json_of(&layout, &[]);
    assert!(!doc["layer"].as_array().unwrap().is_empty());
    assert!(doc["verification"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["ok"] == true));
}

fn run_tool(program: &str, args: &[&str], dir: &Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        text(&out.stderr)
    );
}

fn skopeo_json(args: &[&str], dir: &Path) -> Value {
    let out = Command::new("skopeo")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An OCI layout with three layers (a file, a 100 kB file, the first file deleted), built
/// with `umoci unpack` / `repack` (umoci 0.4's `insert` writes layer tars without their
/// final padding, which tar readers refuse).
fn umoci_layout(dir: &Path) {
    let rootfs = dir.join("bundle/rootfs");
    let step = |change: &dyn Fn(&Path)| {
        run_tool(
            "umoci",
            &["unpack", "--rootless", "--image", "lay:t", "bundle"],
            dir,
        );
        change(&rootfs);
        run_tool("umoci", &["repack", "--image", "lay:t", "bundle"], dir);
        std::fs::remove_dir_all(dir.join("bundle")).unwrap();
    };
    run_tool("umoci", &["init", "--layout", "lay"], dir);
    run_tool("umoci", &["new", "--image", "lay:t"], dir);
    step(&|root| {
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/hello"), "hello\n").unwrap();
    });
    step(&|root| {
        std::fs::create_dir_all(root.join("app")).unwrap();
        let noise: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        std::fs::write(root.join("app/blob"), noise).unwrap();
    });
    step(&|root| std::fs::remove_file(root.join("etc/hello")).unwrap());
}

/// Checks every digest layerscope verified against what skopeo says the archive holds.
fn assert_matches_skopeo(doc: &Value, transport: &str, dir: &Path) {
    let config = skopeo_json(&["inspect", "--config", transport], dir);
    let manifest = skopeo_json(&["inspect", "--raw", transport], dir);
    let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let layers = doc["layer"].as_array().unwrap();
    assert_eq!(layers.len(), diff_ids.len(), "{transport}");
    for (layer, diff_id) in layers.iter().zip(&diff_ids) {
        assert_eq!(layer["digestId"], *diff_id, "{transport}");
    }
    let verification = doc["verification"].as_array().unwrap();
    assert!(
        verification.iter().all(|v| v["ok"] == true),
        "{transport}: {verification:?}"
    );
    let actual = |kind: &str| -> Vec<String> {
        verification
            .iter()
            .filter(|v| v["kind"] == kind)
            .map(|v| v["actual"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(actual("diff_id"), diff_ids, "{transport}");
    let blob_digests: Vec<String> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    let layer_rows = actual("layer");
    if !layer_rows.is_empty() {
        assert_eq!(layer_rows, blob_digests, "{transport}");
    }
    assert_eq!(
        actual("config"),
        vec![manifest["config"]["digest"].as_str().unwrap().to_string()],
        "{transport}"
    );
    // skopeo writes `docker.io/demo/x:1` into docker-archive's RepoTags, `demo/x:1` into the OCI ref name.
    assert!(
        doc["images"][0]["tags"][0]
            .as_str()
            .unwrap()
            .ends_with("demo/x:1"),
        "{transport}"
    );
    let files = doc["files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .any(|f| f["path"] == "app/blob" && f["size"] == 100_000 && f["layer"] == 1),
        "{transport}"
    );
    assert!(
        !files.iter().any(|f| f["path"] == "etc/hello"),
        "{transport}: the whiteout removes etc/hello"
    );
}

#[test]
fn skopeo_docker_and_oci_archives_match_skopeos_digests() {
    let scratch = TempDir::new("skopeo");
    let dir = scratch.path();
    umoci_layout(dir);
    run_tool(
        "skopeo",
        &[
            "copy",
            "--quiet",
            "oci:lay:t",
            "docker-archive:d.tar:demo/x:1",
        ],
        dir,
    );
    run_tool(
        "skopeo",
        &["copy", "--quiet", "oci:lay:t", "oci-archive:o.tar:demo/x:1"],
        dir,
    );
    run_tool(
        "skopeo",
        &[
            "copy",
            "--quiet",
            "--dest-compress-format",
            "zstd",
            "oci:lay:t",
            "oci-archive:z.tar:demo/x:1",
        ],
        dir,
    );
    let docker = json_of(&dir.join("d.tar"), &[]);
    assert_matches_skopeo(&docker, "docker-archive:d.tar", dir);
    let oci = json_of(&dir.join("o.tar"), &[]);
    assert_matches_skopeo(&oci, "oci-archive:o.tar", dir);
    assert_eq!(
        oci["verification"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["kind"] == "layer")
            .count(),
        3
    );
    let zstd = json_of(&dir.join("z.tar"), &[]);
    assert_matches_skopeo(&zstd, "oci-archive:z.tar", dir);
}

#[test]
fn gzipped_archive_on_stdin_streams() {
    let scratch = TempDir::new("stdin");
    let dir = scratch.path();
    let gz = dir.join("image.tar.gz");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -c '{}' > '{}'",
            dive_image().display(),
            gz.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new(binary())
        .args(["inspect", "-", "--json"])
        .stdin(Stdio::from(std::fs::File::open(&gz).unwrap()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let streamed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let direct = json_of(&dive_image(), &[]);
    assert_eq!(streamed["layer"], direct["layer"]);
    assert_eq!(streamed["image"], direct["image"]);
    let from_file = json_of(&gz, &[]);
    assert_eq!(from_file["files"], direct["files"]);
}

#[test]
fn list_reads_headers_and_documents_only() {
    let bundle = peer("go-containerregistry/pkg/v1/tarball/testdata/test_bundle.tar");
    let out = layerscope(&["inspect", bundle.to_str().unwrap(), "--list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tags: Vec<&str> = listing["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["tags"][0].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["test_image_2", "test_image_1"]);
    let read = listing["bytesRead"].as_u64().unwrap();
    // Two 10 KiB layers are skipped: headers plus manifest.json only.
    assert!(read < 10_240, "read {read} bytes to list");
    assert_eq!(listing["totalBytes"], 40960);
}
