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

/// `inspect IMAGE --ci [ARGS]` run in `dir` (where a `.dive-ci` may lie).
fn ci_in(dir: &Path, image: &Path, extra: &[&str]) -> Output {
    Command::new(binary())
        .args(["inspect", image.to_str().unwrap(), "--ci"])
        .args(extra)
        .current_dir(dir)
        .output()
        .expect("run layerscope")
}

/// `inspect IMAGE --ci --ci-config CONFIG`.
fn ci_with(config: &Path) -> Output {
    ci_in(
        Path::new("."),
        &dive_image(),
        &["--ci-config", config.to_str().unwrap()],
    )
}

/// `inspect - ARGS` with `input` on standard input.
fn inspect_stdin(input: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .args(["inspect", "-"])
        .args(args)
        .stdin(Stdio::from(std::fs::File::open(input).unwrap()))
        .output()
        .expect("run layerscope")
}

/// Writes `source` compressed by `tool` (`gzip`, `zstd`) to `target`.
fn compress(tool: &str, source: &Path, target: &Path) {
    let out = Command::new(tool)
        .arg("-c")
        .arg(source)
        .stdout(Stdio::from(std::fs::File::create(target).unwrap()))
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(out.status.success(), "{tool}: {}", text(&out.stderr));
}

/// Checks that a run was refused: exit 2, and `says` in what it wrote to stderr.
fn assert_refused(out: &Output, says: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(says),
        "stderr should say {says:?}: {stderr}"
    );
}

/// Panics naming the first of `lines` that `output` does not contain.
fn assert_has_all(output: &str, lines: &[&str]) {
    for line in lines {
        assert!(output.contains(line), "missing {line:?} in:\n{output}");
    }
}

/// One layer of dive's own export of its test image.
struct DiveLayer {
    digest_id: &'static str,
    size_bytes: u64,
    /// As dive prints it, without the `/bin/sh -c ` the history records.
    command: &'static str,
    files: usize,
    /// sha256 (first 16 hex digits) of the layer's `fileList` entries as sorted lines of
    /// `path typeFlag linkName size fileMode uid gid isDir`, tab-separated.
    entries: &'static str,
}

/// What dive's export test expects for `.data/test-docker-image.tar`: wagoodman/dive @ d6c6919
/// (the commit the peer fixtures come from), `Test_Export` in
/// `cmd/dive/cli/internal/command/export/export_test.go`, whose expected document is
/// `testdata/snapshots/export_test.snap`; older dive had the same figures inline in
/// `runtime/export_test.go`. The fingerprints are computed from that document.
const DIVE_LAYERS: [DiveLayer; 14] = [
    DiveLayer { digest_id: "sha256:23bc2b70b2014dec0ac22f27bb93e9babd08cdd6f1115d0c955b9ff22b382f5a", size_bytes: 1154361, command: "#(nop) ADD file:ce026b62356eec3ad1214f92be2c9dc063fe205bd5e600be3492c4dfb17148bd in / ", files: 415, entries: "9b6c532fb156bb95" },
    DiveLayer { digest_id: "sha256:a65b7d7ac139a0e4337bc3c73ce511f937d6140ef61a0108f7d4b8aab8d67274", size_bytes: 6405, command: "#(nop) ADD file:139c3708fb6261126453e34483abd8bf7b26ed16d952fd976994d68e72d93be2 in /somefile.txt ", files: 1, entries: "b1e9d2cebd6f71a8" },
    DiveLayer { digest_id: "sha256:93e208d471756ffbac88cf9c25feb442007f221d3bd73231e27b747a0a68927c", size_bytes: 0, command: "mkdir -p /root/example/really/nested", files: 4, entries: "eb4582f6d512f0fc" },
    DiveLayer { digest_id: "sha256:4abad3abe3cb99ad7a492a9d9f6b3d66287c1646843c74128bbbec4f7be5aa9e", size_bytes: 6405, command: "cp /somefile.txt /root/example/somefile1.txt", files: 3, entries: "bed4ee2e30799c49" },
    DiveLayer { digest_id: "sha256:14c9a6ffcb6a0f32d1035f97373b19608e2d307961d8be156321c3f1c1504cbf", size_bytes: 6405, command: "chmod 444 /root/example/somefile1.txt", files: 3, entries: "540e96b0e3406f21" },
    DiveLayer { digest_id: "sha256:778fb5770ef466f314e79cc9dc418eba76bfc0a64491ce7b167b76aa52c736c4", size_bytes: 6405, command: "cp /somefile.txt /root/example/somefile2.txt", files: 3, entries: "8d6ce57a2c5c3f54" },
    DiveLayer { digest_id: "sha256:f275b8a31a71deb521cc048e6021e2ff6fa52bedb25c9b7bbe129a0195ddca5f", size_bytes: 6405, command: "cp /somefile.txt /root/example/somefile3.txt", files: 3, entries: "b360357670cc548e" },
    DiveLayer { digest_id: "sha256:dd1effc5eb19894c3e9b57411c98dd1cf30fa1de4253c7fae53c9cea67267d83", size_bytes: 6405, command: "mv /root/example/somefile3.txt /root/saved.txt", files: 4, entries: "53608a78b1112bd7" },
    DiveLayer { digest_id: "sha256:8d1869a0a066cdd12e48d648222866e77b5e2814f773bb3bd8774ab4052f0f1d", size_bytes: 6405, command: "cp /root/saved.txt /root/.saved.txt", files: 2, entries: "1985f28d82e23f69" },
    DiveLayer { digest_id: "sha256:bc2e36423fa31a97223fd421f22c35466220fa160769abf697b8eb58c896b468", size_bytes: 0, command: "rm -rf /root/example/", files: 2, entries: "a114bcc9badf5b5a" },
    DiveLayer { digest_id: "sha256:7f648d45ee7b6de2292162fba498b66cbaaf181da9004fcceef824c72dbae445", size_bytes: 2187, command: "#(nop) ADD dir:7ec14b81316baa1a31c38c97686a8f030c98cba2035c968412749e33e0c4427e in /root/.data/ ", files: 4, entries: "4c4fd6e031e11a2f" },
    DiveLayer { digest_id: "sha256:a4b8f95f266d5c063c9a9473c45f2f85ddc183e37941b5e6b6b9d3c00e8e0457", size_bytes: 6405, command: "cp /root/saved.txt /tmp/saved.again1.txt", files: 2, entries: "96d009839a6f2936" },
    DiveLayer { digest_id: "sha256:22a44d45780a541e593a8862d80f3e14cb80b6bf76aa42ce68dc207a35bf3a4a", size_bytes: 6405, command: "cp /root/saved.txt /root/.data/saved.again2.txt", files: 3, entries: "d7360c2bffa210b0" },
    DiveLayer { digest_id: "sha256:ba689cac6a98c92d121fa5c9716a1bab526b8bb1fd6d43625c575b79e97300c5", size_bytes: 6405, command: "chmod +x /root/saved.txt", files: 2, entries: "c715251506484b19" },
];

/// dive's `image` figures for the same image (same source). The score is printed exactly as
/// dive prints it: both write the shortest decimal that reads back as the same f64.
const DIVE_SIZE_BYTES: u64 = 1220598;
const DIVE_INEFFICIENT_BYTES: u64 = 32025;
const DIVE_EFFICIENCY_SCORE: &str = "0.9844212134184309";
/// `fileReference` in dive's order: (file, count, sizeBytes).
const DIVE_FILE_REFERENCE: [(&str, u64, u64); 3] = [
    ("/root/saved.txt", 2, 12810),
    ("/root/example/somefile1.txt", 2, 12810),
    ("/root/example/somefile3.txt", 2, 6405),
];

/// The first 16 hex digits of the sha256 of `lines` joined by newlines.
fn fingerprint(lines: &[String]) -> String {
    layerscope_core::model::digest::Digest::sha256_of(lines.join("\n").as_bytes()).hex()[..16]
        .to_string()
}

/// A `fileList` entry as one tab-separated line (see [`DiveLayer::entries`]).
fn entry_line(entry: &Value) -> String {
    let field = |key: &str| match &entry[key] {
        Value::String(text) => text.clone(),
        Value::Null => panic!("fileList entry lacks {key}: {entry}"),
        other => other.to_string(),
    };
    [
        "path", "typeFlag", "linkName", "size", "fileMode", "uid", "gid", "isDir",
    ]
    .map(field)
    .join("\t")
}

/// `fileReference` as (file, count, sizeBytes).
fn file_references(image: &Value) -> Vec<(String, u64, u64)> {
    image["fileReference"]
        .as_array()
        .expect("fileReference is a list")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().expect("file").to_string(),
                f["count"].as_u64().expect("count"),
                f["sizeBytes"].as_u64().expect("sizeBytes"),
            )
        })
        .collect()
}

#[test]
fn ci_passes_dives_test_image_with_dives_own_rules() {
    let out = ci_with(&peer("dive/.data/.dive-ci"));
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
    let out = ci_with(&config);
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
    let out = ci_with(&config);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

/// The rules that fail dive's test image: efficiency 0.98442 < 0.99, 32025 B > 30 kB.
const STRICT_RULES: &str =
    "rules:\n  lowestEfficiency: 0.99\n  highestWastedBytes: 30KB\n  highestUserWastedPercent: disabled\n";

#[test]
fn ci_with_json_prints_the_document_on_stdout_and_the_rules_on_stderr() {
    let scratch = TempDir::new("ci-json");
    let strict = scratch.path().join("strict.yaml");
    std::fs::write(&strict, STRICT_RULES).unwrap();
    let plain = json_of(&dive_image(), &[]);

    let out = ci_in(
        scratch.path(),
        &dive_image(),
        &["--json", "--ci-config", strict.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is only the JSON document");
    assert_eq!(doc, plain, "--ci does not change the document");
    assert_has_all(
        &text(&out.stderr),
        &[
            "CI RESULTS",
            "FAIL: lowestEfficiency: image efficiency is too low (efficiency=0.9844212134184309 < threshold=0.99)",
            "FAIL: highestWastedBytes: too many bytes wasted (wasted-bytes=32025 > threshold=30000)",
            "SKIP: highestUserWastedPercent",
            "Result:FAIL [Total:3] [Passed:0] [Failed:2] [Skipped:1]",
        ],
    );

    let dives = peer("dive/.data/.dive-ci");
    let out = ci_in(
        scratch.path(),
        &dive_image(),
        &["--json", "--ci-config", dives.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is only the JSON document");
    assert_eq!(doc, plain);
    assert!(
        text(&out.stderr).contains("Result:PASS [Total:3] [Passed:3] [Failed:0] [Skipped:0]"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn ci_reads_dive_ci_in_the_current_directory_unless_told_otherwise() {
    let scratch = TempDir::new("ci-default");
    let with_rules = scratch.path().join("with-rules");
    let without = scratch.path().join("without");
    std::fs::create_dir_all(&with_rules).unwrap();
    std::fs::create_dir_all(&without).unwrap();
    std::fs::write(with_rules.join(".dive-ci"), STRICT_RULES).unwrap();

    // ./.dive-ci is read when --ci-config is not given.
    let out = ci_in(&with_rules, &dive_image(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_has_all(
        &text(&out.stdout),
        &[
            "FAIL: lowestEfficiency",
            "SKIP: highestUserWastedPercent",
            "Result:FAIL [Total:3] [Passed:0] [Failed:2] [Skipped:1]",
        ],
    );

    // --ci-config wins over ./.dive-ci.
    let dives = peer("dive/.data/.dive-ci");
    let out = ci_in(
        &with_rules,
        &dive_image(),
        &["--ci-config", dives.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // Without a file: dive's defaults (lowestEfficiency 0.9, highestWastedBytes disabled,
    // highestUserWastedPercent 0.1), which 48% wasted user bytes fail.
    let out = ci_in(&without, &dive_image(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_has_all(
        &text(&out.stdout),
        &[
            "PASS: lowestEfficiency",
            "SKIP: highestWastedBytes: rule disabled",
            "FAIL: highestUserWastedPercent: too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=0.4834911001404049 > threshold=0.1)",
            "Result:FAIL [Total:3] [Passed:1] [Failed:1] [Skipped:1]",
        ],
    );
}

#[test]
fn a_misconfigured_rule_fails_and_says_which_value_is_wrong() {
    let scratch = TempDir::new("ci-misconfigured");
    let config = scratch.path().join("rules.yaml");
    std::fs::write(
        &config,
        "rules:\n  lowestEfficiency: high\n  highestWastedBytes: 20 parsecs\n  highestUserWastedPercent: 1.5\n",
    )
    .unwrap();
    let out = ci_with(&config);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_has_all(
        &text(&out.stdout),
        &[
            "MISCONFIGURED: lowestEfficiency: invalid config value \"high\": not a number",
            "MISCONFIGURED: highestWastedBytes: invalid size \"20 parsecs\": unknown unit \"parsecs\"",
            "MISCONFIGURED: highestUserWastedPercent: invalid config value \"1.5\": must be between 0 and 1",
            "Result:FAIL [Total:3] [Passed:0] [Failed:3] [Skipped:0]",
        ],
    );

    // A line that is not `key: value` is refused before anything is read: exit 2, file and line.
    std::fs::write(&config, "rules:\n  lowestEfficiency 0.9\n").unwrap();
    let out = ci_with(&config);
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert_refused(
        &out,
        &format!(
            "{}: CI rules file, line 2: expected `key: value`, found \"lowestEfficiency 0.9\"",
            config.display()
        ),
    );
}

#[test]
fn unreadable_input_exits_2() {
    let out = layerscope(&["inspect", "/nonexistent/image.tar"]);
    assert_refused(&out, "/nonexistent/image.tar");
    let plain = peer("dive/.data/test-uncompressed-image.tar");
    let out = layerscope(&["inspect", plain.to_str().unwrap()]);
    assert_refused(&out, "plain file system tar");
    let out = ci_with(Path::new("/nonexistent/.dive-ci"));
    assert_refused(&out, "/nonexistent/.dive-ci");
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
    assert_eq!(image["inefficientBytes"], DIVE_INEFFICIENT_BYTES);
    // Exactly dive's figure: json_matches_dives_export_of_its_test_image (in the document's
    // text; parsing it back into an f64 may move it by one unit in the last place).
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
fn json_matches_dives_export_of_its_test_image() {
    let out = layerscope(&["inspect", dive_image().to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let doc: Value = serde_json::from_str(&stdout).expect("one JSON document");
    let layers = doc["layer"].as_array().unwrap();
    assert_eq!(layers.len(), DIVE_LAYERS.len());
    for (i, (layer, dive)) in layers.iter().zip(&DIVE_LAYERS).enumerate() {
        assert_eq!(layer["index"], i);
        assert_eq!(layer["digestId"], dive.digest_id, "layer {i}");
        assert_eq!(layer["sizeBytes"], dive.size_bytes, "layer {i}");
        // Known difference, kept visible: layerscope prints the command as the history records
        // it, dive drops the shell (see json_matches_dives_export_to_the_letter).
        assert_eq!(
            layer["command"],
            format!("/bin/sh -c {}", dive.command),
            "layer {i}"
        );
        let files = layer["fileList"].as_array().unwrap();
        assert_eq!(files.len(), dive.files, "layer {i}: fileList entries");
        let mut entries: Vec<String> = files.iter().map(entry_line).collect();
        entries.sort();
        assert_eq!(
            fingerprint(&entries),
            dive.entries,
            "layer {i}: fileList entries differ from dive's:\n{}",
            entries.join("\n")
        );
    }
    // Spot checks of what the fingerprints cover: busybox and its hard links, a directory.
    let first = &layers[0]["fileList"];
    let busybox = first
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "bin/[")
        .expect("bin/[ in layer 0");
    assert_eq!(
        (
            &busybox["typeFlag"],
            &busybox["size"],
            &busybox["fileMode"],
            &busybox["isDir"]
        ),
        (&48.into(), &1075464.into(), &493.into(), &false.into())
    );
    let link = first
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "bin/[[")
        .expect("bin/[[ in layer 0");
    assert_eq!(
        (&link["typeFlag"], &link["linkName"]),
        (&49.into(), &"bin/[".into())
    );
    let root = layers[13]["fileList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "root")
        .expect("root in layer 13");
    assert_eq!(
        (&root["typeFlag"], &root["fileMode"], &root["isDir"]),
        (&53.into(), &2147484096u64.into(), &true.into())
    );

    let image = &doc["image"];
    assert_eq!(image["sizeBytes"], DIVE_SIZE_BYTES);
    assert_eq!(image["inefficientBytes"], DIVE_INEFFICIENT_BYTES);
    // Exactly dive's figure, in the document's own text.
    assert!(
        stdout.contains(&format!("\"efficiencyScore\": {DIVE_EFFICIENCY_SCORE},")),
        "efficiencyScore is not dive's {DIVE_EFFICIENCY_SCORE}: {}",
        image["efficiencyScore"]
    );
    // The same three files with dive's counts and sizes, largest first; dive and layerscope
    // order the two 12810-byte files differently (see the test below).
    let references = file_references(image);
    assert!(
        references.windows(2).all(|pair| pair[0].2 >= pair[1].2),
        "fileReference is not largest first: {references:?}"
    );
    let mut ours = references.clone();
    ours.sort();
    let mut dives: Vec<(String, u64, u64)> = DIVE_FILE_REFERENCE
        .iter()
        .map(|(file, count, size)| (file.to_string(), *count, *size))
        .collect();
    dives.sort();
    assert_eq!(ours, dives);
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
    assert_refused(&out, "test_image_1");
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

/// docker's (go-units') size for the sizes dive's test image has.
fn human_size(bytes: u64) -> &'static str {
    match bytes {
        0 => "0B",
        2187 => "2.19kB",
        6405 => "6.41kB",
        12810 => "12.8kB",
        32025 => "32kB",
        66237 => "66.2kB",
        1154361 => "1.15MB",
        1220598 => "1.22MB",
        other => panic!("no expected text for {other} bytes"),
    }
}

/// The rows under the line `heading` up to the next blank line, white space folded.
fn section(stdout: &str, heading: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|line| line.trim() != heading)
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn human_output_has_dives_figures() {
    let out = layerscope(&["inspect", dive_image().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);

    // `docker image ls`: the header, one row, a blank line.
    let ls: Vec<&str> = stdout.lines().take(3).collect();
    assert!(ls[0].starts_with("REPOSITORY "), "{stdout}");
    assert!(
        ls[1].starts_with("dive-test ")
            && ls[1].contains(" latest ")
            && ls[1].contains(" 75ae28b8ebf8 "),
        "image row: {}",
        ls[1]
    );
    assert!(ls[1].ends_with(" 1.22MB"), "image row: {}", ls[1]);
    assert!(ls[2].is_empty(), "{stdout}");

    // docker history: newest first, the empty `CMD ["sh"]` step between layers 0 and 1.
    let history = section(&stdout, "HISTORY");
    assert_eq!(history.len(), 1 + 15, "{history:#?}");
    let mut sizes: Vec<&str> = DIVE_LAYERS[1..]
        .iter()
        .rev()
        .map(|l| human_size(l.size_bytes))
        .collect();
    sizes.push("0B");
    sizes.push(human_size(DIVE_LAYERS[0].size_bytes));
    for (row, size) in history[1..].iter().zip(&sizes) {
        assert!(
            row.ends_with(&format!(" {size}")),
            "history row {row:?} should end in {size}"
        );
    }
    assert!(history[1].starts_with("75ae28b8ebf8 "), "{}", history[1]);
    assert!(
        history[1].contains(" /bin/sh -c chmod +x /root/saved.txt "),
        "{}",
        history[1]
    );
    assert!(history[2..].iter().all(|row| row.starts_with("<missing> ")));
    assert!(
        history[14].contains(r#" /bin/sh -c #(nop) CMD ["sh"] 0B"#),
        "{}",
        history[14]
    );

    let layers = section(&stdout, "LAYERS");
    assert_eq!(layers.len(), 1 + DIVE_LAYERS.len(), "{layers:#?}");
    for (i, (row, dive)) in layers[1..].iter().zip(&DIVE_LAYERS).enumerate() {
        let cells: Vec<&str> = row.splitn(10, ' ').collect();
        let short = &dive.digest_id["sha256:".len()..][..12];
        assert_eq!(cells[0], i.to_string(), "{row}");
        assert_eq!(
            cells[2],
            human_size(dive.size_bytes),
            "layer {i} size: {row}"
        );
        assert_eq!(
            (cells[3], cells[4]),
            (short, short),
            "layer {i} digests: {row}"
        );
        assert_eq!(
            cells[5], "none",
            "layer {i} is stored as a plain tar: {row}"
        );
        let command = format!("/bin/sh -c {}", dive.command)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let shown = cells[9].trim_end_matches('…');
        assert!(
            !shown.is_empty() && command.starts_with(shown),
            "layer {i} command {shown:?} is not the start of {command:?}"
        );
    }
    // Layer 0 adds every one of its 415 entries (dive lists 415 in its fileList).
    assert_eq!(
        layers[1].split(' ').collect::<Vec<_>>()[6..9],
        ["415", "0", "0"]
    );

    let score: f64 = DIVE_EFFICIENCY_SCORE.parse().unwrap();
    let user = DIVE_SIZE_BYTES - DIVE_LAYERS[0].size_bytes;
    let efficiency = section(&stdout, "EFFICIENCY");
    assert_eq!(
        efficiency,
        [
            format!("efficiency score: {:.4} %", score * 100.0),
            format!("total image size: 1.22MB ({DIVE_SIZE_BYTES} bytes)"),
            format!("user size: {} ({user} bytes)", human_size(user)),
            format!("wasted (dive): 32kB ({DIVE_INEFFICIENT_BYTES} bytes)"),
            format!(
                "wasted / user bytes: {:.4} %",
                DIVE_INEFFICIENT_BYTES as f64 / user as f64 * 100.0
            ),
            format!("reclaimable: 32kB ({DIVE_INEFFICIENT_BYTES} bytes)"),
        ]
    );
    assert_eq!(efficiency[0], "efficiency score: 98.4421 %");

    let mut wasted = section(&stdout, "TOP WASTED FILES");
    assert_eq!(wasted.remove(0), "COUNT WASTED PATH");
    wasted.sort();
    let mut dives: Vec<String> = DIVE_FILE_REFERENCE
        .iter()
        .map(|(file, count, size)| format!("{count} {} {file}", human_size(*size)))
        .collect();
    dives.sort();
    assert_eq!(wasted, dives);

    assert!(
        stdout.contains("\nVERIFIED: 15 of 15 digests match\n"),
        "{stdout}"
    );
}

#[test]
fn list_in_human_form_names_each_image_and_what_listing_read() {
    let bundle = peer("go-containerregistry/pkg/v1/tarball/testdata/test_bundle.tar");
    let out = layerscope(&["inspect", bundle.to_str().unwrap(), "--list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json = layerscope(&["inspect", bundle.to_str().unwrap(), "--list", "--json"]);
    let listing: Value = serde_json::from_slice(&json.stdout).unwrap();
    let read = listing["bytesRead"].as_u64().unwrap();
    let lines: Vec<String> = text(&out.stdout)
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        [
            "0 test_image_2 1 layers, 10.2kB".to_string(),
            "1 test_image_1 1 layers, 10.2kB".to_string(),
            format!("read {read} of 40960 bytes of the archive to list its images"),
        ]
    );
    assert!(read < 10_240, "read {read} bytes to list");
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
    if transport.starts_with("docker-archive:") {
        // `docker save` stores each layer as its tar: the blob is the diff_id, which the
        // diff_id rows verify, and there is no compressed blob to check on its own.
        assert!(layer_rows.is_empty(), "{transport}: {layer_rows:?}");
        assert_eq!(blob_digests, diff_ids, "{transport}");
    } else {
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
    compress("gzip", &dive_image(), &gz);
    let out = inspect_stdin(&gz, &["--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let streamed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let direct = json_of(&dive_image(), &[]);
    assert_eq!(streamed["layer"], direct["layer"]);
    assert_eq!(streamed["image"], direct["image"]);
    let from_file = json_of(&gz, &[]);
    assert_eq!(from_file["files"], direct["files"]);
}

#[test]
fn plain_and_zstd_archives_on_stdin_give_the_files_report() {
    let scratch = TempDir::new("stdin-plain-zstd");
    let zst = scratch.path().join("image.tar.zst");
    compress("zstd", &dive_image(), &zst);
    let direct = json_of(&dive_image(), &[]);
    for input in [dive_image(), zst] {
        let out = inspect_stdin(&input, &["--json"]);
        assert!(
            out.status.success(),
            "{}: {}",
            input.display(),
            text(&out.stderr)
        );
        let streamed: Value = serde_json::from_slice(&out.stdout).unwrap();
        for key in [
            "layer",
            "image",
            "history",
            "files",
            "verification",
            "images",
        ] {
            assert_eq!(streamed[key], direct[key], "{}: {key}", input.display());
        }
        // Human output too: the same figures, whatever the input was.
        let out = inspect_stdin(&input, &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("efficiency score:      98.4421 %"),
            "{stdout}"
        );
        assert!(
            stdout.contains("VERIFIED: 15 of 15 digests match"),
            "{stdout}"
        );
    }
    // Listing from standard input: the image, and no archive size to compare with.
    let out = inspect_stdin(&dive_image(), &["--list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listing["images"][0]["tags"][0], "dive-test:latest");
    assert_eq!(listing["images"][0]["layerCount"], 14);
    assert!(listing["totalBytes"].is_null(), "{listing}");
    // Not an archive on standard input: refused, exit 2.
    let out = inspect_stdin(&peer("dive/.data/test-uncompressed-image.tar"), &[]);
    assert_refused(&out, "plain file system tar");
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

/// A `docker save` archive whose names and commands hold terminal controls: an OSC title
/// sequence, a clear-screen CSI, a carriage return, a C1 CSI and a right-to-left override.
/// Written by Python's tarfile, so the bytes are what another tool makes, not this crate.
fn hostile_archive(dir: &Path) -> PathBuf {
    let path = dir.join("hostile.tar");
    let script = r#"
import hashlib, io, json, sys, tarfile
def tar_of(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name); info.size = len(data); info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
evil = "evil\x1b]0;pwned\x07\r\u009b31m\u202etxt.exe"
layers = [tar_of([(evil, b"one\n")]), tar_of([(evil, b"two\n")])]
config = json.dumps({
    "architecture": "amd64", "os": "linux", "config": {},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]},
    "history": [{"created_by": "/bin/sh -c echo \x1b[2J cleared"}, {"created_by": "COPY x \u202eoverride", "comment": "note\x1b[31m"}],
}).encode()
config_name = hashlib.sha256(config).hexdigest() + ".json"
names = ["l%d/layer.tar" % i for i in range(len(layers))]
manifest = json.dumps([{"Config": config_name, "RepoTags": ["hostile:1"], "Layers": names}]).encode()
with tarfile.open(sys.argv[1], "w") as out:
    for name, data in [("manifest.json", manifest), (config_name, config)] + list(zip(names, layers)):
        info = tarfile.TarInfo(name); info.size = len(data)
        out.addfile(info, io.BytesIO(data))
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .status()
        .expect("run python3");
    assert!(status.success(), "writing the hostile archive");
    path
}

/// True for bytes a terminal would act on: C0 controls but the line ends printed, DEL,
/// and (as UTF-8) C1 controls and the bidirectional overrides.
fn raw_controls(output: &str) -> Vec<char> {
    output
        .chars()
        .filter(|&c| {
            (c < ' ' && c != '\n')
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .collect()
}

#[test]
fn names_and_commands_from_the_image_reach_the_terminal_escaped() {
    let dir = TempDir::new("inspect-hostile");
    let archive = hostile_archive(dir.path());
    let out = layerscope(&["inspect", archive.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(raw_controls(&stdout), Vec::<char>::new(), "{stdout}");
    // The wasted file (written twice) and the commands, escaped, not dropped.
    assert!(
        stdout.contains(r"evil\x1b]0;pwned\x07\r\u{9b}31m\u{202e}txt.exe"),
        "{stdout}"
    );
    assert!(stdout.contains(r"echo \x1b[2J cleared"), "{stdout}");
    assert!(stdout.contains(r"\u{202e}override"), "{stdout}");
    assert!(stdout.contains(r"note\x1b[31m"), "{stdout}");
    // JSON keeps the exact names (JSON escapes them itself).
    let json = json_of(&archive, &[]);
    let paths: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"evil\u{1b}]0;pwned\u{7}\r\u{9b}31m\u{202e}txt.exe"),
        "{paths:?}"
    );
}

#[test]
fn an_error_quoting_a_name_from_the_image_is_escaped() {
    let out = layerscope(&[
        "inspect",
        "--image",
        "x\u{1b}[2J:1",
        dive_image().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(raw_controls(&stderr), Vec::<char>::new(), "{stderr}");
    assert!(
        stderr.contains(r"\x1b[2J") || stderr.contains(r"\u{1b}[2J"),
        "the wanted tag, escaped: {stderr}"
    );
}

/// A two-layer `docker save` archive written by Python's tarfile, with what is wrong in it
/// chosen by `fault`: `diff_id` (the config promises a different diff_id for layer 1) or
/// `config-name` (the config's file name is not its digest, as in go-containerregistry's
/// `source_image_with_empty_layer_history.tar`). Returns the archive and, for `diff_id`, the
/// promised and the actual digest.
fn faulty_archive(dir: &Path, fault: &str) -> (PathBuf, String, String) {
    let path = dir.join(format!("{fault}.tar"));
    let script = r##"
import hashlib, io, json, sys, tarfile
def tar_of(name, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo(name); info.size = len(data); info.mode = 0o644
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
layers = [tar_of("etc/hostname", b"box\n"), tar_of("app/run.sh", b"#!/bin/sh\n")]
diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
actual = diff_ids[1]
if sys.argv[2] == "diff_id":
    diff_ids[1] = "sha256:" + hashlib.sha256(b"not the layer").hexdigest()
config = json.dumps({
    "architecture": "amd64", "os": "linux", "config": {},
    "rootfs": {"type": "layers", "diff_ids": diff_ids},
    "history": [{"created_by": "ADD hostname /etc/"}, {"created_by": "COPY run.sh /app/"}],
}).encode()
named = config if sys.argv[2] != "config-name" else config + b" "
config_name = hashlib.sha256(named).hexdigest() + ".json"
names = ["l%d/layer.tar" % i for i in range(len(layers))]
manifest = json.dumps([{"Config": config_name, "RepoTags": ["faulty:1"], "Layers": names}]).encode()
with tarfile.open(sys.argv[1], "w") as out:
    for name, data in [("manifest.json", manifest), (config_name, config)] + list(zip(names, layers)):
        info = tarfile.TarInfo(name); info.size = len(data)
        out.addfile(info, io.BytesIO(data))
print(diff_ids[1], actual)
"##;
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .arg(fault)
        .output()
        .expect("run python3");
    assert!(output.status.success(), "writing the {fault} archive");
    let printed = text(&output.stdout);
    let mut digests = printed.split_whitespace().map(str::to_string);
    let promised = digests.next().unwrap();
    let actual = digests.next().unwrap();
    (path, promised, actual)
}

#[test]
fn a_diff_id_mismatch_is_shown_and_marked_and_exits_1() {
    let dir = TempDir::new("inspect-diff-id");
    let (archive, promised, actual) = faulty_archive(dir.path(), "diff_id");
    let human = layerscope(&["inspect", archive.to_str().unwrap()]);
    let stdout = text(&human.stdout);
    let stderr = text(&human.stderr);
    assert_eq!(human.status.code(), Some(1), "{stdout}\n{stderr}");
    // The image is shown: its history and both layers' files.
    assert!(stdout.contains("COPY run.sh /app/"), "{stdout}");
    assert!(
        stdout.contains("VERIFIED: 2 of 3 digests match"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "MISMATCH: diff_id of layer 1 (l1/layer.tar): expected {promised}, actual {actual}"
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "1 of 3 checks do not match what the documents say (diff_id of layer 1 (l1/layer.tar))"
        ),
        "{stderr}"
    );

    let json = layerscope(&["inspect", "--json", archive.to_str().unwrap()]);
    assert_eq!(json.status.code(), Some(1), "{}", text(&json.stderr));
    let doc: Value =
        serde_json::from_slice(&json.stdout).expect("--json still prints the document");
    let bad: Vec<&Value> = doc["verification"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["ok"] == false)
        .collect();
    assert_eq!(bad.len(), 1, "{doc}");
    assert_eq!(bad[0]["kind"], "diff_id");
    assert_eq!(bad[0]["expected"], promised);
    assert_eq!(bad[0]["actual"], actual);
    assert!(doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "app/run.sh"));
}

#[test]
fn a_config_not_named_by_its_digest_is_read_and_marked() {
    let dir = TempDir::new("inspect-config-name");
    let (archive, _, _) = faulty_archive(dir.path(), "config-name");
    let out = layerscope(&["inspect", "--json", archive.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = doc["verification"].as_array().unwrap();
    let config = rows.iter().find(|v| v["kind"] == "config").unwrap();
    assert_eq!(config["ok"], false, "{config}");
    assert_ne!(config["expected"], config["actual"]);
    // The image ID is the digest of the config's bytes, whatever its file name says.
    assert_eq!(doc["inspect"]["Id"], config["actual"]);
    assert!(rows
        .iter()
        .filter(|v| v["kind"] == "diff_id")
        .all(|v| v["ok"] == true));
    assert_eq!(doc["layer"].as_array().unwrap().len(), 2);
}

/// The go-containerregistry test archive whose config is not named by its digest, which
/// docker and go-containerregistry load: shown, its config row marked.
#[test]
fn go_containerregistrys_misnamed_config_is_shown() {
    let archive = peer(
        "go-containerregistry/pkg/v1/mutate/testdata/source_image_with_empty_layer_history.tar",
    );
    let out = layerscope(&["inspect", "--json", archive.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let config = doc["verification"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["kind"] == "config")
        .cloned()
        .unwrap();
    assert_eq!(config["ok"], false, "{config}");
    assert!(!doc["history"].as_array().unwrap().is_empty());
}
