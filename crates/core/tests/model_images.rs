//! The image model on whole images other tools wrote: a `docker save`
//! archive from dive (legacy layout, 14 layers, empty-layer history) and the
//! OCI layouts from dive (buildx) and go-containerregistry (nested indexes,
//! Docker lists inside OCI indexes, unknown media types). Documents are read
//! straight from the tar files or directories; each goes through the same
//! parse entry points the app uses, and every digest is checked.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use layerscope_core::model::config::ImageConfig;
use layerscope_core::model::digest::{Algorithm, Digest, Hasher};
use layerscope_core::model::manifest::{self, Document};
use layerscope_core::model::media::{self, Compression, MediaKind};
use layerscope_core::model::platform::{self, Platform};
use layerscope_core::model::reference::Reference;
use layerscope_core::present::history;
use layerscope_core::present::inspect::{self, InspectInput};

use layerscope_test_support::peers;

/// Small entries of a tar file, and every entry's size and sha256 (layers are hashed as they
/// stream past, never held whole).
struct TarFiles {
    small: BTreeMap<String, Vec<u8>>,
    sizes: BTreeMap<String, u64>,
    digests: BTreeMap<String, Digest>,
}

fn read_tar(path: &Path) -> TarFiles {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(file);
    let mut out = TarFiles {
        small: BTreeMap::new(),
        sizes: BTreeMap::new(),
        digests: BTreeMap::new(),
    };
    let mut buffer = vec![0u8; 64 * 1024];
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let size = entry.header().size().unwrap();
        let keep = size <= 1 << 20;
        let mut bytes = Vec::new();
        let mut hasher = Hasher::new(Algorithm::Sha256);
        loop {
            let n = entry.read(&mut buffer).unwrap();
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            if keep {
                bytes.extend_from_slice(&buffer[..n]);
            }
        }
        out.sizes.insert(name.clone(), size);
        out.digests.insert(name.clone(), hasher.finish());
        if keep {
            out.small.insert(name, bytes);
        }
    }
    out
}

#[test]
fn docker_save_archive_history_inspect_and_ls() {
    let tar = read_tar(&peers().join("dive/.data/test-docker-image.tar"));
    let save: serde_json::Value = serde_json::from_slice(&tar.small["manifest.json"]).unwrap();
    let entry = &save[0];
    let config_name = entry["Config"].as_str().unwrap();
    let config_bytes = &tar.small[config_name];
    let image_id = Digest::sha256_of(config_bytes);
    assert_eq!(
        format!("{}.json", image_id.hex()),
        config_name,
        "config file is named by its digest"
    );

    let config = ImageConfig::parse(config_bytes).unwrap();
    let layer_files: Vec<&str> = entry["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(config.rootfs.diff_ids.len(), layer_files.len());
    assert_eq!(layer_files.len(), 14);
    // In this legacy layout the layer tars are stored uncompressed: their sha256 is the diff ID.
    // Every layer, the 1.15 MB base layer too.
    for (file, diff_id) in layer_files.iter().zip(&config.rootfs.diff_ids) {
        assert_eq!(&tar.digests[*file], diff_id, "{file}");
    }

    let sizes: Vec<u64> = layer_files.iter().map(|f| tar.sizes[*f]).collect();
    let now = config.created_at().unwrap().unix + 28 * 86400;
    let table = history::rows(&config, &sizes, &image_id, now);
    assert!(table.warnings.is_empty(), "{:?}", table.warnings);
    assert_eq!(table.rows.len(), config.history.len());
    assert!(
        table.rows.len() > layer_files.len(),
        "this image has empty-layer steps"
    );
    assert_eq!(table.rows[0].image, image_id.to_string());
    assert!(table
        .rows
        .iter()
        .skip(1)
        .all(|r| r.image == history::MISSING));
    assert_eq!(table.rows[0].created_since, "4 weeks ago");
    for row in &table.rows {
        match row.layer_index {
            Some(i) => assert_eq!(row.size, Some(sizes[i])),
            None => assert!(row.empty_layer && row.size == Some(0), "{row:?}"),
        }
        assert!(row.created_by_short.chars().count() <= history::CREATED_BY_WIDTH);
    }
    let mut paired: Vec<usize> = table.rows.iter().filter_map(|r| r.layer_index).collect();
    paired.reverse();
    assert_eq!(
        paired,
        (0..layer_files.len()).collect::<Vec<_>>(),
        "every layer paired once, in order"
    );

    let dockerfile = history::dockerfile(&config);
    assert_eq!(
        dockerfile
            .lines()
            .filter(|l| !l.starts_with("    "))
            .count(),
        config.history.len()
    );
    let first: Vec<&str> = dockerfile.lines().take(4).collect();
    assert_eq!(
        first,
        [
            "ADD file:ce026b62356eec3ad1214f92be2c9dc063fe205bd5e600be3492c4dfb17148bd /",
            "CMD [\"sh\"]",
            "ADD file:139c3708fb6261126453e34483abd8bf7b26ed16d952fd976994d68e72d93be2 /somefile.txt",
            "RUN mkdir -p /root/example/really/nested",
        ],
        "{dockerfile}"
    );
    // docker's own CREATED BY keeps the legacy builder's text, cut at 45 columns.
    let oldest = table.rows.last().unwrap();
    assert_eq!(
        oldest.created_by_short,
        "/bin/sh -c #(nop) ADD file:ce026b62356eec3ad…"
    );
    assert_eq!(
        table.rows[table.rows.len() - 2].size,
        Some(0),
        "CMD is an empty layer"
    );

    let tag = entry["RepoTags"][0].as_str().unwrap();
    let reference = Reference::parse(tag).unwrap();
    let total: u64 = sizes.iter().sum();
    let view = inspect::image_inspect(&InspectInput {
        config: &config,
        image_id: &image_id,
        reference: Some(&reference),
        repo_digest: None,
        size: Some(total),
    });
    assert_eq!(view.repo_tags, vec![reference.familiar()]);
    assert_eq!(view.root_fs.layers.len(), 14);
    let json: serde_json::Value = serde_json::from_str(&inspect::to_docker_json(&[view])).unwrap();
    assert_eq!(json[0]["Id"], image_id.to_string());
    assert_eq!(json[0]["Os"], config.platform.os);

    let tag = reference.full();
    let row = inspect::image_ls_row(Some(&tag), false, &image_id, &config, total);
    assert_eq!(row.image_id, image_id.hex()[..12]);
    let created = row
        .created
        .as_deref()
        .expect("the config has a creation time");
    assert_eq!(
        layerscope_core::present::humanize::ago_rfc3339(created, now),
        "4 weeks ago"
    );
    assert_eq!(row.repository, reference.familiar_name());
}

/// Reads a blob of an OCI layout and checks it against its descriptor.
fn blob(files: &BTreeMap<String, Vec<u8>>, d: &manifest::Descriptor) -> Option<Vec<u8>> {
    let path = format!("blobs/{}/{}", d.digest.algorithm_name(), d.digest.encoded());
    let bytes = files.get(&path)?.clone();
    assert_eq!(bytes.len() as u64, d.size, "{path}: size");
    assert_eq!(
        &Digest::sha256_of(&bytes),
        d.digest.registered().unwrap(),
        "{path}: digest"
    );
    Some(bytes)
}

#[derive(Default, Debug)]
struct Walk {
    indexes: usize,
    manifests: usize,
    configs: usize,
    artifacts: usize,
    unknown: usize,
    missing_blobs: usize,
}

/// Follows an index through nested indexes to manifests and configs.
fn walk(files: &BTreeMap<String, Vec<u8>>, index: &manifest::ImageIndex, seen: &mut Walk) {
    seen.indexes += 1;
    for entry in &index.manifests {
        let Some(bytes) = blob(files, entry) else {
            seen.missing_blobs += 1;
            continue;
        };
        match media::classify(&entry.media_type) {
            MediaKind::OciIndex | MediaKind::DockerManifestList => {
                match manifest::parse(&bytes, Some(&entry.media_type)).unwrap() {
                    Document::Index(nested) => walk(files, &nested, seen),
                    other => panic!("{}: index entry is {}", entry.digest, other.media_type()),
                }
            }
            kind => {
                // Unknown entry types are parsed by content alone.
                let declared = (kind != MediaKind::Other).then_some(entry.media_type.as_str());
                if declared.is_none() {
                    seen.unknown += 1;
                }
                let Document::Manifest(m) = manifest::parse(&bytes, declared).unwrap() else {
                    panic!("{}: expected a manifest", entry.digest)
                };
                seen.manifests += 1;
                if m.artifact_kind().is_some() {
                    seen.artifacts += 1;
                    continue;
                }
                let config = blob(files, &m.config).expect("config blob present");
                let config = ImageConfig::parse(&config).unwrap();
                assert_eq!(
                    config.rootfs.diff_ids.len(),
                    m.layers.len(),
                    "{}",
                    entry.digest
                );
                seen.configs += 1;
            }
        }
    }
}

fn layout_from_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for name in ["oci-layout", "index.json"] {
        files.insert(name.to_string(), std::fs::read(dir.join(name)).unwrap());
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("blobs/sha256")) {
        for e in entries {
            let e = e.unwrap();
            files.insert(
                format!("blobs/sha256/{}", e.file_name().to_string_lossy()),
                std::fs::read(e.path()).unwrap(),
            );
        }
    }
    files
}

fn walk_layout(files: &BTreeMap<String, Vec<u8>>) -> Walk {
    manifest::parse_layout_header(&files["oci-layout"]).unwrap();
    let Document::Index(index) = manifest::parse(&files["index.json"], None).unwrap() else {
        panic!("index.json is not an index")
    };
    let mut seen = Walk::default();
    walk(files, &index, &mut seen);
    seen
}

#[test]
fn go_containerregistry_layouts_parse_through_nested_indexes() {
    let base = peers().join("go-containerregistry/pkg/v1/layout/testdata");
    let test_index = walk_layout(&layout_from_dir(&base.join("test_index")));
    // 1 top index + the nested OCI index + the nested Docker list.
    assert_eq!(test_index.indexes, 3, "{test_index:?}");
    // Entry "2" is typed as a bare descriptor but holds a Docker manifest.
    assert_eq!(test_index.unknown, 1, "{test_index:?}");
    assert!(test_index.configs >= 3, "{test_index:?}");

    let helm = walk_layout(&layout_from_dir(&base.join("test_index_media_type")));
    assert_eq!(
        (helm.manifests, helm.artifacts),
        (1, 1),
        "a Helm chart is an artifact: {helm:?}"
    );

    let gc = walk_layout(&layout_from_dir(
        &base.join("test_gc_image_unknown_mediatype"),
    ));
    assert_eq!(gc.missing_blobs, 1, "{gc:?}");

    let one = walk_layout(&layout_from_dir(&base.join("test_index_one_image")));
    assert_eq!((one.manifests, one.configs), (1, 1), "{one:?}");
}

#[test]
fn buildx_oci_layouts_from_dive() {
    for (file, compression) in [
        ("test-oci-uncompressed-image.tar", Compression::None),
        ("test-oci-gzip-image.tar", Compression::Gzip),
        ("test-oci-zstd-image.tar", Compression::Zstd),
        ("test-oci-estargz-image.tar", Compression::Gzip),
    ] {
        let tar = read_tar(&peers().join("dive/.data").join(file));
        let seen = walk_layout(&tar.small);
        assert_eq!(seen.configs, 1, "{file}: {seen:?}");
        let Document::Index(index) = manifest::parse(&tar.small["index.json"], None).unwrap()
        else {
            panic!()
        };
        let listed = platform::list(&index);
        let chosen = platform::choose(&index, &Platform::new("linux", "amd64", None))
            .or_else(|| listed.images.first().copied())
            .expect("an image entry");
        let bytes = tar.small[&format!("blobs/sha256/{}", chosen.digest.encoded())].clone();
        let Document::Manifest(m) = manifest::parse(&bytes, Some(&chosen.media_type)).unwrap()
        else {
            panic!()
        };
        let layer = &m.layers[0];
        assert_eq!(
            media::layer_compression(&layer.media_type),
            Some(compression),
            "{file}: {}",
            layer.media_type
        );
        assert_eq!(
            tar.sizes[&format!("blobs/sha256/{}", layer.digest.encoded())],
            layer.size,
            "{file}: layer size matches its descriptor"
        );
        assert_eq!(
            Some(&tar.digests[&format!("blobs/sha256/{}", layer.digest.encoded())]),
            layer.digest.registered(),
            "{file}: layer blob hashes to its descriptor's digest"
        );
    }
}

#[test]
fn docker_25_save_has_a_null_index_and_an_oci_manifest() {
    let tar =
        read_tar(&peers().join("go-containerregistry/pkg/v1/tarball/testdata/hello-world-v25.tar"));
    // Docker 25 writes `"manifests": null` (a Go nil slice): an empty index, not an error.
    let seen = walk_layout(&tar.small);
    assert_eq!((seen.indexes, seen.manifests), (1, 0), "{seen:?}");
    // The image is reached through manifest.json; its manifest blob is OCI.
    let save: serde_json::Value = serde_json::from_slice(&tar.small["manifest.json"]).unwrap();
    let config_path = save[0]["Config"].as_str().unwrap();
    let manifests: Vec<manifest::ImageManifest> = tar
        .small
        .iter()
        .filter(|(name, _)| name.starts_with("blobs/"))
        .filter_map(|(_, bytes)| match manifest::parse(bytes, None) {
            Ok(Document::Manifest(m)) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(manifests.len(), 1);
    let m = &manifests[0];
    assert_eq!(m.media_type, media::OCI_MANIFEST);
    assert_eq!(
        format!("blobs/sha256/{}", m.config.digest.encoded()),
        config_path
    );
    let config = ImageConfig::parse(&tar.small[config_path]).unwrap();
    assert_eq!(config.platform().to_string(), "linux/arm64");
    assert_eq!(
        history::dockerfile(&config).lines().next(),
        Some("COPY hello /")
    );
}
