//! Every archive in the peer fixtures loads or is refused as the fixtures' README says.

mod archive_support;

use archive_support::*;
use layerscope_core::archive::{ArchiveError, ImageSelector};

const TARBALL: &str = "go-containerregistry/pkg/v1/tarball/testdata";
const LAYOUT: &str = "go-containerregistry/pkg/v1/layout/testdata";

#[test]
fn dive_docker_image_loads_with_dives_figures() {
    let report = load(&peer("dive/.data/test-docker-image.tar"));
    assert_eq!(report.images.len(), 1);
    assert_eq!(report.images[0].tags, vec!["dive-test:latest"]);
    assert_eq!(report.source.format.name(), "docker-save");
    assert_eq!(report.layers.len(), 14);
    assert!(report
        .layers
        .iter()
        .all(|l| l.scanned && l.compression.map(|c| c.name()) == Some("none")));
    // Legacy docker save stores layers uncompressed: blob digest == diff_id.
    assert!(report.layers.iter().all(|l| l.digest == l.diff_id));
    // 14 diff_ids and the config digest, all checked and matching.
    assert_eq!(report.verification.len(), 15);
    assert!(report.verified());
    let efficiency = report.efficiency.as_ref().unwrap();
    assert_eq!(efficiency.wasted_bytes, 32025);
    assert!(
        (efficiency.score - 0.9844212134184309).abs() < 1e-12,
        "{}",
        efficiency.score
    );
    assert_eq!(report.inefficient_files.len(), 3);
    assert!(report
        .files
        .iter()
        .any(|f| f.path == "root/saved.txt" && f.layer == 13));
    assert!(!report
        .files
        .iter()
        .any(|f| f.path.starts_with("root/example/")));
    assert_eq!(
        report.layers[9].removed, 5,
        "rm -rf /root/example/ removes five paths"
    );
    assert!(report.complete);
}

#[test]
fn kaniko_targz_layers_load() {
    let report = load(&peer("dive/.data/test-kaniko-image.tar"));
    assert_eq!(report.images[0].tags, vec!["dive-test:kaniko-latest"]);
    assert_eq!(report.layers.len(), 14);
    assert!(report
        .layers
        .iter()
        .all(|l| l.compression.map(|c| c.name()) == Some("gzip")));
    assert!(report.layers.iter().all(|l| l.digest != l.diff_id));
    assert!(report.verified());
    assert!(report
        .verification
        .iter()
        .any(|v| v.kind_name() == "config"));
    assert_eq!(
        report
            .verification
            .iter()
            .filter(|v| v.kind_name() == "diff_id")
            .count(),
        14
    );
}

#[test]
fn oci_layouts_in_each_compression_load() {
    for (file, compression) in [
        ("test-oci-uncompressed-image.tar", "none"),
        ("test-oci-gzip-image.tar", "gzip"),
        ("test-oci-zstd-image.tar", "zstd"),
        ("test-oci-estargz-image.tar", "gzip"),
    ] {
        let report = load(&peer(&format!("dive/.data/{file}")));
        assert_eq!(report.source.format.name(), "oci-layout", "{file}");
        assert_eq!(report.layers.len(), 1, "{file}");
        assert_eq!(
            report.layers[0].compression.map(|c| c.name()),
            Some(compression),
            "{file}"
        );
        let kinds: Vec<&str> = report.verification.iter().map(|v| v.kind_name()).collect();
        // The manifest blob is checked against the digest the index gives it, first.
        assert_eq!(kinds, ["manifest", "config", "layer", "diff_id"], "{file}");
        assert!(report.verified(), "{file}");
        assert!(report.images[0].manifest_digest.is_some(), "{file}");
    }
}

#[test]
fn estargz_table_of_contents_is_reported_not_refused() {
    let report = load(&peer("dive/.data/test-oci-estargz-image.tar"));
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.starts_with("layer 0") && w.contains("end-of-archive")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn docker_25_save_loads() {
    let report = load(&peer(&format!("{TARBALL}/hello-world-v25.tar")));
    assert_eq!(report.source.format.name(), "docker-save-oci");
    assert_eq!(report.layers.len(), 1);
    assert!(report.images[0].tags.is_empty());
    assert_eq!(report.image_ls.repository, "<none>");
    assert!(report.verified());
    assert!(report.verification.iter().any(|v| v.kind_name() == "layer"));
    assert!(report.files.iter().any(|f| f.path == "hello"));
}

#[test]
fn bundle_lists_both_images_and_selects_by_tag_or_index() {
    let path = peer(&format!("{TARBALL}/test_bundle.tar"));
    let by_tag = run(
        &path,
        Some(ImageSelector::Tag("test_image_1".into())),
        false,
        usize::MAX,
    );
    let listed = by_tag.listed.clone().unwrap();
    let tags: Vec<Vec<String>> = listed.iter().map(|i| i.tags.clone()).collect();
    assert_eq!(
        tags,
        vec![
            vec!["test_image_2".to_string()],
            vec!["test_image_1".to_string()]
        ]
    );
    let report = by_tag.result.unwrap();
    assert_eq!(report.selected, 1);
    assert_eq!(report.image_ls.repository, "test_image_1");
    let by_index = run(&path, Some(ImageSelector::Index(0)), false, usize::MAX)
        .result
        .unwrap();
    assert_eq!(by_index.selected, 0);
    assert_ne!(by_index.image_ls.image_id, report.image_ls.image_id);
    let unchosen = run(&path, None, false, usize::MAX).result.unwrap();
    assert!(
        unchosen
            .warnings
            .iter()
            .any(|w| w.contains("holds 2 images")),
        "{:?}",
        unchosen.warnings
    );
    match run(
        &path,
        Some(ImageSelector::Tag("nope:1".into())),
        false,
        usize::MAX,
    )
    .result
    {
        Err(ArchiveError::ImageNotFound { available, .. }) => assert_eq!(available.len(), 2),
        other => panic!("expected ImageNotFound, got {other:?}"),
    }
}

#[test]
fn symlinked_layer_tar_is_followed() {
    let path = peer(&format!("{TARBALL}/test_link.tar"));
    let report = run(
        &path,
        Some(ImageSelector::Tag("bazel/v1/tarball:test_image_3".into())),
        false,
        usize::MAX,
    )
    .result
    .unwrap();
    assert_eq!(report.layers.len(), 2);
    assert!(report.layers[0]
        .path
        .starts_with("6e77476643c3155b1e9ae07dd5a4c8288bdb6590c131c222b7a3f277dec1e266/"));
    assert!(report.verified());
}

#[test]
fn refusals_name_what_is_wrong() {
    let plain = refusal(&peer("dive/.data/test-uncompressed-image.tar"));
    assert!(
        plain.contains("no manifest.json or index.json") && plain.contains("plain file system tar"),
        "{plain}"
    );
    let null = refusal(&peer(&format!("{TARBALL}/null_manifest.tar")));
    assert!(
        null.contains("manifest.json") && null.contains("null"),
        "{null}"
    );
    let none = refusal(&peer(&format!("{TARBALL}/no_manifest.tar")));
    assert!(none.contains("no manifest.json"), "{none}");
}

#[test]
fn layout_directories_with_nested_indexes_load() {
    let report = run_directory(&peer(&format!("{LAYOUT}/test_index"))).unwrap();
    assert!(report.images.len() >= 3, "{:?}", report.images);
    assert!(report
        .images
        .iter()
        .any(|i| i.tags == vec!["1".to_string()]));
    assert!(
        report
            .images
            .iter()
            .any(|i| i.tags == vec!["4".to_string()]),
        "manifest list children inherit the tag"
    );
    assert!(report.verified());
    // The ref name "1" is a bare tag: no repository.
    assert_eq!(
        (
            report.image_ls.repository.as_str(),
            report.image_ls.tag.as_str()
        ),
        ("<none>", "1")
    );
}

#[test]
fn unknown_media_type_is_refused() {
    let error =
        run_directory(&peer(&format!("{LAYOUT}/test_gc_image_unknown_mediatype"))).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ArchiveError::UnknownMediaType { .. }),
        "{message}"
    );
    assert!(
        message.contains("application/vnd.oci.descriptor.v1+json")
            && message.contains("index.json"),
        "{message}"
    );
}

#[test]
fn other_tarball_fixtures_load() {
    for file in [
        "test_image_1.tar",
        "test_image_2.tar",
        "test_load_manifest.tar",
    ] {
        let report = load(&peer(&format!("{TARBALL}/{file}")));
        assert!(report.verified(), "{file}");
        assert_eq!(report.layers.len(), 1, "{file}");
    }
    for file in [
        "whiteout_image.tar",
        "overwritten_file.tar",
        "source_image.tar",
    ] {
        let report = load(&peer(&format!(
            "go-containerregistry/pkg/v1/mutate/testdata/{file}"
        )));
        assert!(report.verified(), "{file}");
    }
}

/// The documents a report keeps for the page's Inspect, History and Config views are the
/// archive's own bytes, read here with the tar crate.
#[test]
fn reports_keep_the_documents_as_the_archive_holds_them() {
    let path = peer("dive/.data/test-docker-image.tar");
    let members = read_tar(&path);
    let member = |name: &str| {
        members
            .iter()
            .find(|(member, _)| member.trim_start_matches("./") == name)
            .map(|(_, bytes)| bytes.clone())
            .unwrap_or_else(|| panic!("{name} is in the archive"))
    };
    let manifest_bytes = member("manifest.json");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let config_name = manifest[0]["Config"].as_str().unwrap();
    let config_bytes = member(config_name);
    let config: serde_json::Value = serde_json::from_slice(&config_bytes).unwrap();

    let report = load(&path);
    let documents = &report.documents;
    let kept = documents.manifest.as_ref().expect("the manifest is kept");
    assert_eq!(kept.name, "manifest.json");
    assert_eq!(kept.text.as_bytes(), manifest_bytes.as_slice());
    assert!(!kept.truncated);
    assert_eq!(documents.config.name, config_name);
    assert_eq!(documents.config.text.as_bytes(), config_bytes.as_slice());
    assert_eq!(documents.config.size, config_bytes.len() as u64);
    // One Dockerfile line per history entry (continuations are indented).
    let history = config["history"].as_array().unwrap();
    let lines: Vec<&str> = documents
        .dockerfile
        .lines()
        .filter(|line| !line.starts_with(' '))
        .collect();
    assert_eq!(lines.len(), history.len());
    assert!(
        lines.iter().any(|line| line.starts_with("RUN ")),
        "{lines:?}"
    );
    // docker's own printing: an array, four-space indent, the Id first.
    assert!(
        documents
            .inspect
            .starts_with("[\n    {\n        \"Id\": \"sha256:"),
        "{}",
        &documents.inspect[..80.min(documents.inspect.len())]
    );
    assert!(documents.inspect.contains("\"Size\": 1220598"));
    assert_eq!(report.run_config.platform, "linux/amd64");
    assert!(report.index_digest.is_none());

    // An OCI layout keeps its manifest blob, named by its path.
    let oci = load(&peer("dive/.data/test-oci-zstd-image.tar"));
    let kept = oci
        .documents
        .manifest
        .as_ref()
        .expect("the manifest is kept");
    let digest = oci.images[oci.selected].manifest_digest.clone().unwrap();
    assert_eq!(kept.name, format!("blobs/sha256/{}", digest.hex()));
    assert_eq!(
        layerscope_core::model::digest::Digest::sha256_of(kept.text.as_bytes()),
        digest
    );
}
