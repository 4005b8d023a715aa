//! Compressed outer archives streamed once, tampered archives refused, and the header-only
//! listing of a huge archive.

mod archive_support;

use std::io::{Seek, SeekFrom, Write};
use std::process::Command;

use archive_support::*;
use layerscope_core::archive::{ArchiveReader, Step, MAX_DOCUMENT_BYTES};

fn compress(tool: &str, source: &std::path::Path, target: &std::path::Path) {
    let output = Command::new(tool)
        .arg("-c")
        .arg(source)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(output.status.success(), "{tool} failed");
    std::fs::write(target, output.stdout).unwrap();
}

#[test]
fn gzip_and_zstd_outer_archives_stream_to_the_same_report() {
    let scratch = TempDir::new("streams");
    let original = peer("dive/.data/test-docker-image.tar");
    let expected = load(&original);
    for (tool, name) in [("gzip", "image.tar.gz"), ("zstd", "image.tar.zst")] {
        let compressed = scratch.path().join(name);
        compress(tool, &original, &compressed);
        // Random-access source: the reader detects compression and reads front to back.
        let seekable = run(&compressed, None, false, usize::MAX);
        assert!(
            seekable.streamed,
            "{tool}: progress must say the archive is streamed"
        );
        let report = seekable.result.unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(report.source.streamed);
        assert_eq!(report.source.compression.name(), tool);
        assert_eq!(report.layers, expected.layers, "{tool}");
        assert_eq!(report.efficiency, expected.efficiency, "{tool}");
        assert_eq!(report.files, expected.files, "{tool}");
        // A pipe: odd chunk sizes, no length known.
        let piped = run(&compressed, None, true, 7919)
            .result
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert_eq!(piped.layers, expected.layers, "{tool} piped");
    }
}

#[test]
fn layer_progress_counts_up_to_each_layers_size() {
    let run = run(
        &peer("dive/.data/test-docker-image.tar"),
        None,
        false,
        usize::MAX,
    );
    assert!(run.result.is_ok());
    assert!(!run.streamed);
    assert!(
        run.layer_progress
            .iter()
            .all(|(done, total)| done <= total && *total > 0),
        "{:?}",
        run.layer_progress
    );
    // The biggest layer (1.37 MB) is read in chunks, so its progress reaches its size.
    assert!(
        run.layer_progress.contains(&(1_369_600, 1_369_600)),
        "{:?}",
        run.layer_progress
    );
    assert!(run.max_read <= layerscope_core::archive::LAYER_CHUNK_BYTES);
}

#[test]
fn uncompressed_stream_matches_random_access() {
    let path = peer("dive/.data/test-oci-zstd-image.tar");
    let expected = load(&path);
    let streamed = run(&path, None, true, 1000).result.unwrap();
    assert_eq!(streamed.layers, expected.layers);
    assert_eq!(streamed.verification, expected.verification);
}

#[test]
fn a_missing_blob_is_named() {
    let scratch = TempDir::new("missing");
    let mut files = read_tar(&peer("dive/.data/test-oci-gzip-image.tar"));
    let layer = "blobs/sha256/9aef42427209c9a180c61bb36b0b09681cbe3d3ff6409408bde0eb17ec1ba0cc";
    files.retain(|(name, _)| name != layer);
    let path = scratch.path().join("missing.tar");
    write_tar(&path, &files);
    let message = refusal(&path);
    assert!(
        message.contains(layer) && message.contains("not in the archive"),
        "{message}"
    );
}

#[test]
fn a_changed_layer_is_shown_with_its_diff_id_marked() {
    let scratch = TempDir::new("mismatch");
    let original = peer(&format!(
        "{}/test_image_1.tar",
        "go-containerregistry/pkg/v1/tarball/testdata"
    ));
    let mut files = read_tar(&original);
    let (_, layer) = files
        .iter_mut()
        .find(|(name, _)| name.ends_with("layer.tar"))
        .unwrap();
    // The layer holds `./` then `./bar`: change the first content byte of `bar`.
    layer[1024] ^= 0x20;
    let tampered_layer = layer.clone();
    let path = scratch.path().join("tampered.tar");
    write_tar(&path, &files);
    let report = run(&path, None, false, usize::MAX)
        .result
        .expect("a layer that does not match its diff_id is still shown");
    assert!(!report.verified());
    let bad: Vec<_> = report.verification.iter().filter(|v| !v.ok).collect();
    assert_eq!(bad.len(), 1, "{:?}", report.verification);
    assert_eq!(bad[0].kind_name(), "diff_id");
    assert!(bad[0].subject.contains("layer.tar"), "{}", bad[0].subject);
    assert_eq!(
        bad[0].actual_text(),
        layerscope_core::model::digest::Digest::sha256_of(&tampered_layer).to_string()
    );
    assert_eq!(
        bad[0].expected_text(),
        load(&original).layers[0]
            .diff_id
            .clone()
            .unwrap()
            .to_string()
    );
    // Everything else is there: the layer's files, the efficiency figures.
    assert!(
        report.files.iter().any(|f| f.path == "bar"),
        "{:?}",
        report.files
    );
    assert!(report.efficiency.is_some());
}

#[test]
fn a_changed_config_is_shown_with_its_digest_marked() {
    let scratch = TempDir::new("config");
    let original = peer("dive/.data/test-oci-gzip-image.tar");
    let mut files = read_tar(&original);
    let config = "blobs/sha256/3eaccc100f866490f00ae82727b459a737af031dcf44c791d8aa714a70f24959";
    let (_, bytes) = files.iter_mut().find(|(name, _)| name == config).unwrap();
    bytes.push(b'\n');
    let path = scratch.path().join("config.tar");
    write_tar(&path, &files);
    let report = run(&path, None, false, usize::MAX)
        .result
        .expect("a config that does not match its digest is still read");
    let bad: Vec<_> = report.verification.iter().filter(|v| !v.ok).collect();
    assert_eq!(bad.len(), 1, "{:?}", report.verification);
    assert_eq!(bad[0].kind_name(), "config");
    assert!(bad[0]
        .expected_text()
        .starts_with("sha256:3eaccc100f866490"));
    assert_ne!(bad[0].actual_text(), bad[0].expected_text());
    // The manifests' rows come first and match.
    assert_eq!(report.verification[0].kind_name(), "manifest");
    assert!(report.verification[0].ok);
    assert_eq!(report.layers, load(&original).layers);
}

#[test]
fn a_changed_manifest_is_shown_with_its_digest_marked() {
    let scratch = TempDir::new("manifest");
    let original = peer("dive/.data/test-oci-gzip-image.tar");
    let expected = load(&original);
    let mut files = read_tar(&original);
    let index: serde_json::Value = serde_json::from_slice(
        &files
            .iter()
            .find(|(name, _)| name == "index.json")
            .unwrap()
            .1,
    )
    .unwrap();
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let member = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let (_, bytes) = files.iter_mut().find(|(name, _)| *name == member).unwrap();
    bytes.push(b' ');
    let path = scratch.path().join("manifest.tar");
    write_tar(&path, &files);
    let report = run(&path, None, false, usize::MAX)
        .result
        .expect("a manifest that does not match its digest is still read");
    let bad: Vec<_> = report.verification.iter().filter(|v| !v.ok).collect();
    assert_eq!(bad.len(), 1, "{:?}", report.verification);
    assert_eq!(bad[0].kind_name(), "manifest");
    assert_eq!(bad[0].subject, member);
    assert_eq!(bad[0].expected_text(), digest);
    assert_eq!(report.layers, expected.layers);
}

/// The dive OCI peer image with its manifest's first layer descriptor giving `extra` bytes
/// more (or fewer) than the blob has: the manifest rewritten, renamed to its new digest and
/// named so by index.json, so only the layer's size is wrong.
fn oci_image_with_layer_size_off_by(extra: i64, path: &std::path::Path) -> (String, u64) {
    use layerscope_core::model::digest::Digest;
    let mut files = read_tar(&peer("dive/.data/test-oci-gzip-image.tar"));
    let position = |files: &[(String, Vec<u8>)], name: &str| {
        files.iter().position(|(n, _)| n == name).unwrap()
    };
    let index_at = position(&files, "index.json");
    let mut index: serde_json::Value = serde_json::from_slice(&files[index_at].1).unwrap();
    let old = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest_at = position(&files, &format!("blobs/sha256/{}", &old[7..]));
    let mut manifest: serde_json::Value = serde_json::from_slice(&files[manifest_at].1).unwrap();
    let layer = &mut manifest["layers"][0];
    let digest = layer["digest"].as_str().unwrap().to_string();
    let real = layer["size"].as_u64().unwrap();
    layer["size"] = serde_json::json!(real.checked_add_signed(extra).unwrap());
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let new = Digest::sha256_of(&bytes);
    index["manifests"][0]["digest"] = serde_json::json!(new.to_string());
    index["manifests"][0]["size"] = serde_json::json!(bytes.len());
    files[manifest_at] = (format!("blobs/sha256/{}", new.hex()), bytes);
    files[index_at].1 = serde_json::to_vec(&index).unwrap();
    write_tar(path, &files);
    (format!("blobs/sha256/{}", &digest[7..]), real)
}

#[test]
fn a_layer_descriptor_wrong_about_its_size_is_read_and_marked_with_both_sizes() {
    let scratch = TempDir::new("layer-size");
    let expected = load(&peer("dive/.data/test-oci-gzip-image.tar"));
    for extra in [100i64, -10] {
        let path = scratch.path().join(format!("size{extra}.tar"));
        let (blob, real) = oci_image_with_layer_size_off_by(extra, &path);
        let report = run(&path, None, false, usize::MAX)
            .result
            .unwrap_or_else(|e| panic!("{extra}: a misdescribed layer is still read: {e}"));
        assert!(!report.verified(), "{extra}");
        let bad: Vec<_> = report.verification.iter().filter(|v| !v.ok).collect();
        assert_eq!(bad.len(), 1, "{extra}: {:?}", report.verification);
        assert_eq!(bad[0].kind_name(), "layer_size");
        assert_eq!(bad[0].subject, format!("layer 0 ({blob})"));
        assert_eq!(
            bad[0].expected_text(),
            format!("{} bytes", real.checked_add_signed(extra).unwrap())
        );
        assert_eq!(bad[0].actual_text(), format!("{real} bytes"));
        // The bytes are the image's: every digest matches and the layers read as before.
        assert!(report
            .verification
            .iter()
            .filter(|v| v.kind_name() != "layer_size")
            .all(|v| v.ok));
        assert_eq!(report.layers, expected.layers, "{extra}");
        assert_eq!(report.files, expected.files, "{extra}");
        // Streamed front to back (a pipe), the row is the same.
        let piped = run(&path, None, true, 4096).result.unwrap();
        assert_eq!(piped.verification, report.verification, "{extra} piped");
    }
}

/// go-containerregistry's Docker 25 save (whose index.json lists nothing) with index.json
/// naming its OCI manifest, rewritten so the layer descriptor gives `extra` more bytes.
fn docker_25_save_with_layer_size_off_by(extra: u64, path: &std::path::Path) {
    use layerscope_core::model::digest::Digest;
    let peer_path = peer("go-containerregistry/pkg/v1/tarball/testdata/hello-world-v25.tar");
    let mut files = read_tar(&peer_path);
    let manifest_name =
        "blobs/sha256/411caf340c828657e915a83ed561a79d2b8150dabad4dc079d881cbfe6f86afe";
    let at = files.iter().position(|(n, _)| n == manifest_name).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&files[at].1).unwrap();
    let size = manifest["layers"][0]["size"].as_u64().unwrap();
    manifest["layers"][0]["size"] = serde_json::json!(size + extra);
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = Digest::sha256_of(&bytes);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest.to_string(),
            "size": bytes.len(),
        }],
    });
    files.push((format!("blobs/sha256/{}", digest.hex()), bytes));
    let index_at = files.iter().position(|(n, _)| n == "index.json").unwrap();
    files[index_at].1 = serde_json::to_vec(&index).unwrap();
    write_tar(path, &files);
}

#[test]
fn a_docker_25_save_is_checked_against_its_oci_manifests_layer_sizes() {
    let scratch = TempDir::new("docker-25-size");
    let honest = scratch.path().join("honest.tar");
    docker_25_save_with_layer_size_off_by(0, &honest);
    let report = run(&honest, None, false, usize::MAX).result.unwrap();
    assert_eq!(report.source.format.name(), "docker-save-oci");
    assert!(report.verified(), "{:?}", report.verification);

    let lying = scratch.path().join("lying.tar");
    docker_25_save_with_layer_size_off_by(100, &lying);
    let report = run(&lying, None, false, usize::MAX)
        .result
        .expect("a misdescribed layer is still read");
    let bad: Vec<_> = report.verification.iter().filter(|v| !v.ok).collect();
    assert_eq!(bad.len(), 1, "{:?}", report.verification);
    assert_eq!(bad[0].kind_name(), "layer_size");
    assert_eq!(
        bad[0].subject,
        "layer 0 (blobs/sha256/12660636fe55438cc3ae7424da7ac56e845cdb52493ff9cf949c47a7f57f8b43)"
    );
    assert_eq!(
        (bad[0].expected_text(), bad[0].actual_text()),
        ("10852 bytes".to_string(), "10752 bytes".to_string())
    );
    assert!(report.files.iter().any(|f| f.path == "hello"));
    // Read once front to back, the OCI documents are found as well.
    let piped = run(&lying, None, true, 4096).result.unwrap();
    assert_eq!(piped.verification, report.verification);
}

#[test]
fn oversized_documents_are_refused() {
    let scratch = TempDir::new("large");
    let mut big = b"[".to_vec();
    big.resize(MAX_DOCUMENT_BYTES as usize + 10, b' ');
    big.push(b']');
    let path = scratch.path().join("large.tar");
    write_tar(&path, &[("manifest.json".into(), big)]);
    let message = refusal(&path);
    assert_eq!(
        message,
        format!(
            "manifest.json has {} document bytes, over the limit of {MAX_DOCUMENT_BYTES}",
            MAX_DOCUMENT_BYTES + 11
        )
    );
}

#[test]
fn not_a_tar_and_other_compressions_are_refused() {
    let scratch = TempDir::new("junk");
    let junk = scratch.path().join("junk.bin");
    std::fs::write(&junk, vec![7u8; 4096]).unwrap();
    assert!(refusal(&junk).contains("not a tar archive"));
    let streamed = run(&junk, None, true, 1000).result.unwrap_err().to_string();
    assert!(streamed.contains("not a tar archive"), "{streamed}");
    let empty = scratch.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert!(refusal(&empty).contains("empty"));
    let streamed = run(&empty, None, true, 1000)
        .result
        .unwrap_err()
        .to_string();
    assert!(streamed.contains("empty"), "{streamed}");
    let xz = scratch.path().join("x.xz");
    std::fs::write(&xz, [0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2]).unwrap();
    assert!(refusal(&xz).contains("xz"));
}

/// A 2 GiB layer (a sparse file) before manifest.json: listing reads headers only.
#[test]
fn a_two_gib_archive_lists_its_images_from_headers() {
    let scratch = TempDir::new("huge");
    let path = scratch.path().join("huge.tar");
    let layer_size: u64 = 2 << 30;
    let mut file = std::fs::File::create(&path).unwrap();
    let header = |name: &str, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        h.as_bytes().to_vec()
    };
    file.write_all(&header("abc/layer.tar", layer_size))
        .unwrap();
    file.seek(SeekFrom::Current(layer_size as i64)).unwrap();
    let config = br#"{"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#;
    let manifest =
        br#"[{"Config":"config.json","RepoTags":["huge:1"],"Layers":["abc/layer.tar"]}]"#;
    for (name, content) in [
        ("config.json", &config[..]),
        ("manifest.json", &manifest[..]),
    ] {
        file.write_all(&header(name, content.len() as u64)).unwrap();
        let mut padded = content.to_vec();
        padded.resize(content.len().div_ceil(512) * 512, 0);
        file.write_all(&padded).unwrap();
    }
    file.write_all(&[0u8; 1024]).unwrap();
    drop(file);
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > layer_size);
    let mut reader = ArchiveReader::new(len);
    let mut source = std::fs::File::open(&path).unwrap();
    let images = loop {
        match reader.next_step() {
            Step::Read { offset, len } => {
                use std::io::Read;
                let mut buf = vec![0u8; len as usize];
                source.seek(SeekFrom::Start(offset)).unwrap();
                source.read_exact(&mut buf).unwrap();
                reader.supply(offset, &buf).unwrap();
            }
            Step::ImagesListed(images) => break images,
            Step::Failed(e) => panic!("{e}"),
            _ => {}
        }
    };
    assert_eq!(images[0].tags, vec!["huge:1"]);
    assert_eq!(images[0].stored_size, layer_size);
    assert!(
        reader.bytes_read() <= 1 << 20,
        "read {} bytes to list",
        reader.bytes_read()
    );
}
