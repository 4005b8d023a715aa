//! dive's efficiency rules on small hand-made layers, figures worked out by
//! hand from dive's algorithm (see the efficiency module's documentation).

mod engine_common;

use engine_common::LayerBuilder;
use layerscope_core::engine::efficiency::analyze;
use layerscope_core::engine::scan::{scan_chunks, LayerSummary, ScanOptions};

fn scan(tar: Vec<u8>) -> LayerSummary {
    scan_chunks([tar], ScanOptions::default()).unwrap()
}

#[test]
fn file_and_directory_whiteouts_the_way_dive_counts_them() {
    let mut l0 = LayerBuilder::new();
    l0.file("a", &[0; 10])
        .dir("d/")
        .file("d/x", &[0; 5])
        .file("d/y", &[0; 7]);
    let mut l1 = LayerBuilder::new();
    // A directory whiteout is recorded at its path with the size of what the
    // directory held below; the rewritten file is recorded a second time.
    l1.file(".wh.d", b"").file("a", &[1; 10]);
    let mut l2 = LayerBuilder::new();
    // A whiteout of a path that never existed ends dive's walk of this
    // layer (names are visited in byte order, so zzz is never seen) and
    // leaves a record with a minimum of -1.
    l2.file(".wh.nothere", b"").file("zzz", &[0; 3]);
    let layers = [scan(l0.finish()), scan(l1.finish()), scan(l2.finish())];
    let unpacked: Vec<Vec<_>> = layers.iter().map(|l| l.entries.to_vec()).collect();
    let entries: Vec<&[_]> = unpacked.iter().map(Vec::as_slice).collect();
    let eff = analyze(&entries).unwrap();
    // Records: /a (cumulative 20, minimum 10), /d/x (5, 5), /d/y (7, 7),
    // /d (12, 12), /nothere (0, -1).
    assert_eq!(eff.score, 33.0 / 44.0);
    assert_eq!(eff.wasted_bytes, 20);
    assert_eq!(eff.size_bytes, 22 + 10 + 3);
    assert_eq!(eff.user_size_bytes, 13);
    assert_eq!(eff.wasted_user_percent, 20.0 / 13.0);
    assert_eq!(eff.inefficiencies.len(), 1);
    assert_eq!(
        (
            eff.inefficiencies[0].path.as_str(),
            eff.inefficiencies[0].count
        ),
        ("/a", 2)
    );
    // Reclaimable: the shadowed copy of a, and the deleted d/x and d/y.
    assert_eq!(eff.reclaimable_bytes, 10 + 5 + 7);
    let paths: Vec<&str> = eff.reclaimable.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/d/y", "/d/x"]);
}

#[test]
fn a_single_layer_is_perfectly_efficient() {
    let mut l0 = LayerBuilder::new();
    l0.file("x", &[0; 100]).dir("empty/");
    let layers = [scan(l0.finish())];
    let eff = analyze(&[layers[0].entries.to_vec().as_slice()]).unwrap();
    assert_eq!(eff.score, 1.0);
    assert_eq!(
        (
            eff.wasted_bytes,
            eff.reclaimable_bytes,
            eff.size_bytes,
            eff.user_size_bytes
        ),
        (0, 0, 100, 0)
    );
    // dive divides by zero user bytes: NaN, kept as is.
    assert!(eff.wasted_user_percent.is_nan());
}

#[test]
fn dive_removed_dir_counted_again_when_it_was_a_leaf_before() {
    // An empty directory is a leaf in dive's tree; whiting it out records
    // the path a second time, so dive counts it as inefficient (0 bytes).
    let mut l0 = LayerBuilder::new();
    l0.dir("cache/").file("big", &[0; 50]);
    let mut l1 = LayerBuilder::new();
    l1.file(".wh.cache", b"").file(".wh.big", b"");
    let layers = [scan(l0.finish()), scan(l1.finish())];
    let unpacked: Vec<Vec<_>> = layers.iter().map(|l| l.entries.to_vec()).collect();
    let entries: Vec<&[_]> = unpacked.iter().map(Vec::as_slice).collect();
    let eff = analyze(&entries).unwrap();
    // /big: 50 then 0 (a file whiteout costs 0): cumulative 50, minimum 0.
    // /cache: 0 then 0.
    assert_eq!(eff.score, 0.0);
    assert_eq!(eff.wasted_bytes, 50);
    let counts: Vec<(&str, usize, u64)> = eff
        .inefficiencies
        .iter()
        .map(|i| (i.path.as_str(), i.count, i.cumulative_bytes))
        .collect();
    assert_eq!(counts, [("/big", 2, 50), ("/cache", 2, 0)]);
    assert_eq!(eff.reclaimable_bytes, 50);
}
