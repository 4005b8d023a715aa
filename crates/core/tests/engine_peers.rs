//! The engine on layers that other tools wrote: dive's 14-layer test image
//! (trees and dive's own efficiency expectations), go-containerregistry's
//! whiteout cases, checked against each image config's diff_ids.

mod engine_common;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use engine_common::peers;
use layerscope_core::engine::efficiency::analyze;
use layerscope_core::engine::scan::{LayerSummary, ScanOptions, Scanner};
use layerscope_core::engine::tar::EntryKind;
use layerscope_core::engine::tree::{FileTrees, Mark, ViewEntry, ViewKind};
use layerscope_core::model::digest::Digest;

/// Reads a `docker save` archive (small fixtures only) and scans its layers
/// in manifest order, checking each against the config's diff_ids.
fn scan_docker_save(path: &Path) -> Vec<LayerSummary> {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut archive = tar::Archive::new(
        std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    );
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&files[manifest[0]["Config"].as_str().unwrap()]).unwrap();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    let layers = manifest[0]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), diff_ids.len());
    layers
        .iter()
        .zip(diff_ids)
        .map(|(layer, diff_id)| {
            let blob = &files[layer.as_str().unwrap()];
            let mut scanner = Scanner::new(ScanOptions {
                expected_diff_id: Some(Digest::parse(diff_id.as_str().unwrap()).unwrap()),
                ..Default::default()
            });
            for chunk in blob.chunks(1000) {
                scanner.push(chunk).unwrap();
            }
            let summary = scanner.finish().unwrap_or_else(|e| panic!("{layer}: {e}"));
            assert!(summary
                .digests
                .computed()
                .unwrap()
                .verifications
                .iter()
                .all(|v| v.ok));
            summary
        })
        .collect()
}

fn trees_of(layers: &[LayerSummary]) -> FileTrees {
    let mut trees = FileTrees::new();
    for layer in layers {
        trees.add_layer(&layer.entries.to_vec()).unwrap();
    }
    trees
}

fn find<'a>(view: &'a [ViewEntry], path: &str) -> Option<&'a ViewEntry> {
    view.iter().find(|e| e.path == path.as_bytes())
}

fn mutate_fixture(name: &str) -> std::path::PathBuf {
    peers()
        .join("go-containerregistry/pkg/v1/mutate/testdata")
        .join(name)
}

#[test]
fn dive_test_image_matches_dive_efficiency() {
    let layers = scan_docker_save(&peers().join("dive/.data/test-docker-image.tar"));
    assert_eq!(layers.len(), 14);
    let unpacked: Vec<Vec<_>> = layers.iter().map(|l| l.entries.to_vec()).collect();
    let entries: Vec<&[_]> = unpacked.iter().map(Vec::as_slice).collect();
    let eff = analyze(&entries).unwrap();
    // dive's own expectations for this archive (dive/image/docker/
    // image_archive_analysis_test.go, Test_Analysis).
    assert_eq!(eff.size_bytes, 1_220_598);
    assert_eq!(eff.user_size_bytes, 66_237);
    assert_eq!(eff.wasted_bytes, 32_025);
    assert_eq!(eff.wasted_user_percent, 0.4834911001404049);
    assert_eq!(eff.score, 0.9844212134184309);
    // Inefficiencies come largest first and add up to the wasted bytes.
    assert!(eff
        .inefficiencies
        .windows(2)
        .all(|w| w[0].cumulative_bytes >= w[1].cumulative_bytes));
    assert_eq!(
        eff.inefficiencies
            .iter()
            .map(|i| i.cumulative_bytes)
            .sum::<u64>(),
        eff.wasted_bytes
    );
    assert!(eff
        .inefficiencies
        .iter()
        .all(|i| i.count >= 2 && i.path.starts_with('/')));
    // dive#684: /root/saved.txt is written twice and kept; dive counts both
    // copies, reclaimable bytes only the shadowed one.
    let dive_saved = eff
        .inefficiencies
        .iter()
        .find(|i| i.path == "/root/saved.txt")
        .unwrap();
    let ours_saved = eff
        .reclaimable
        .iter()
        .find(|r| r.path == "/root/saved.txt")
        .unwrap();
    assert_eq!((dive_saved.count, dive_saved.cumulative_bytes), (2, 12_810));
    assert_eq!(
        (ours_saved.copies, ours_saved.reclaimable_bytes),
        (2, 6_405)
    );
    // somefile2.txt is written once and deleted with its directory: dive's
    // list misses it, reclaimable bytes count it.
    assert!(eff
        .inefficiencies
        .iter()
        .all(|i| i.path != "/root/example/somefile2.txt"));
    let deleted = eff
        .reclaimable
        .iter()
        .find(|r| r.path == "/root/example/somefile2.txt")
        .unwrap();
    assert_eq!((deleted.copies, deleted.reclaimable_bytes), (1, 6_405));
    assert_eq!(
        eff.reclaimable
            .iter()
            .map(|r| r.reclaimable_bytes)
            .sum::<u64>(),
        eff.reclaimable_bytes
    );
}

#[test]
fn dive_test_image_trees() {
    let layers = scan_docker_save(&peers().join("dive/.data/test-docker-image.tar"));
    let trees = trees_of(&layers);
    assert_eq!(trees.layer_count(), 14);
    // Every layer's change view is non-empty where the layer has entries,
    // and marks relative to the layers below are consistent with the
    // aggregated view of the same layer.
    for (index, layer) in layers.iter().enumerate() {
        let changes = trees.view(index, ViewKind::LayerChanges);
        let all = trees.view(index, ViewKind::Aggregated);
        assert_eq!(
            changes.is_empty(),
            layer.entries.is_empty(),
            "layer {index}"
        );
        for change in changes.iter().filter(|c| c.mark != Mark::Unchanged) {
            let same = find(&all, &change.path_lossy())
                .unwrap_or_else(|| panic!("layer {index}: {} missing", change.path_lossy()));
            assert_eq!(same.mark, change.mark);
        }
        if index == 0 {
            assert!(
                all.iter().all(|e| e.mark == Mark::Added),
                "the first layer only adds"
            );
        }
    }
    let final_view = trees.final_view();
    // busybox's root holds /bin with hundreds of hard links to busybox.
    let bin = find(&final_view, "bin").expect("/bin");
    assert_eq!(bin.kind, EntryKind::Directory);
    assert!(
        final_view
            .iter()
            .filter(|e| e.kind == EntryKind::HardLink)
            .count()
            > 100
    );
    // Directory sizes are the sums of the files below them.
    let below: u64 = final_view
        .iter()
        .filter(|e| e.path.starts_with(b"bin/") && e.kind != EntryKind::Directory)
        .map(|e| e.size)
        .sum();
    assert_eq!(bin.size, below);
    // Removals exist in this image (file and directory whiteouts) and are
    // absent from the final file system.
    let removed: Vec<ViewEntry> = (0..14)
        .flat_map(|i| trees.view(i, ViewKind::LayerChanges))
        .filter(|e| e.mark == Mark::Removed)
        .collect();
    assert!(!removed.is_empty());
    for r in &removed {
        let later = final_view.iter().find(|e| e.path == r.path);
        // A removed path may come back in a later layer, but then a later layer wrote it.
        if let Some(back) = later {
            assert!(
                back.layer > r.layer,
                "{} removed but still there",
                r.path_lossy()
            );
        }
    }
    // Layer indices point at the layer that last wrote each entry.
    for e in &final_view {
        if e.explicit {
            let writer = &layers[e.layer];
            assert!(
                writer.entries.iter().any(|w| w
                    .path
                    .strip_prefix(b"./")
                    .unwrap_or(&w.path)
                    .trim_ascii_end_slash()
                    == e.path.as_slice()),
                "{} not written by layer {}",
                e.path_lossy(),
                e.layer
            );
        }
    }
}

trait TrimSlash {
    fn trim_ascii_end_slash(&self) -> &[u8];
}

impl TrimSlash for [u8] {
    fn trim_ascii_end_slash(&self) -> &[u8] {
        self.strip_suffix(b"/").unwrap_or(self)
    }
}

#[test]
fn gcr_whiteout_image_removes_foo() {
    let layers = scan_docker_save(&mutate_fixture("whiteout_image.tar"));
    assert_eq!(layers.len(), 3);
    let trees = trees_of(&layers);
    let final_view = trees.final_view();
    assert!(find(&final_view, "foo.txt").is_none());
    assert!(find(&final_view, "bar.txt").is_some());
    let changes = trees.view(1, ViewKind::LayerChanges);
    let foo = find(&changes, "foo.txt").expect("the whiteout shows as a removal");
    assert_eq!((foo.mark, foo.layer, foo.size), (Mark::Removed, 0, 4));
    // The empty third layer changes nothing.
    assert!(layers[2].entries.is_empty());
    assert!(trees.view(2, ViewKind::LayerChanges).is_empty());
}

#[test]
fn gcr_whiteout_dir_removes_a_foo_keeps_a_baz() {
    let layers = scan_docker_save(&mutate_fixture("whiteout_dir.tar"));
    assert_eq!(layers.len(), 4);
    let trees = trees_of(&layers);
    let final_view = trees.final_view();
    assert!(find(&final_view, "a/foo").is_none());
    assert!(find(&final_view, "a/baz").is_some());
    assert!(find(&final_view, "b/bar").is_some());
    let at_whiteout = trees.view(2, ViewKind::Aggregated);
    assert_eq!(find(&at_whiteout, "a").unwrap().mark, Mark::Removed);
    assert_eq!(find(&at_whiteout, "a/foo").unwrap().mark, Mark::Removed);
    assert_eq!(find(&at_whiteout, "b/bar").unwrap().mark, Mark::Unchanged);
    let last = trees.view(3, ViewKind::LayerChanges);
    assert_eq!(find(&last, "a").unwrap().mark, Mark::Added);
    assert_eq!(find(&last, "a/baz").unwrap().mark, Mark::Added);
}

#[test]
fn gcr_overwritten_file_ends_as_a_symlink() {
    let layers = scan_docker_save(&mutate_fixture("overwritten_file.tar"));
    let trees = trees_of(&layers);
    let final_view = trees.final_view();
    let foo = find(&final_view, "foo.txt").unwrap();
    assert_eq!(foo.kind, EntryKind::Symlink);
    assert_eq!(foo.link_target.as_deref(), Some(&b"bar.txt"[..]));
    assert_eq!((foo.layer, foo.mark), (1, Mark::Unchanged));
    let changes = trees.view(1, ViewKind::LayerChanges);
    assert_eq!(find(&changes, "foo.txt").unwrap().mark, Mark::Modified);
    assert_eq!(find(&changes, "bar.txt").unwrap().mark, Mark::Added);
    // The 4-byte file was replaced: reclaimable, and dive counts both copies.
    let unpacked: Vec<Vec<_>> = layers.iter().map(|l| l.entries.to_vec()).collect();
    let entries: Vec<&[_]> = unpacked.iter().map(Vec::as_slice).collect();
    let eff = analyze(&entries).unwrap();
    assert_eq!(eff.reclaimable_bytes, 4);
    assert_eq!(eff.wasted_bytes, 4);
    assert_eq!(eff.inefficiencies[0].path, "/foo.txt");
}
