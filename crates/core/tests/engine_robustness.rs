//! Damaged input never panics: random byte flips and cuts in plain, gzip and
//! zstd layers end in a summary or an error, whatever the chunk size.

mod engine_common;

use engine_common::{gzip, LayerBuilder};
use layerscope_core::engine::scan::{ScanOptions, Scanner};

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn sample() -> Vec<u8> {
    let mut b = LayerBuilder::new();
    b.dir("etc/")
        .file("etc/a", &[3u8; 3000])
        .pax_file(format!("long/{}", "n".repeat(300)).as_bytes(), b"pax")
        .file(&format!("gnu/{}", "g".repeat(200)), b"gnu")
        .symlink("l", "etc/a")
        .hardlink("h", "etc/a");
    b.finish()
}

fn scan_damaged(blob: &[u8], rng: &mut Rng) {
    let mut scanner = Scanner::new(ScanOptions::default());
    let mut rest = blob;
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len().min(5000));
        if scanner.push(&rest[..n]).is_err() {
            return;
        }
        rest = &rest[n..];
    }
    let _ = scanner.finish();
}

#[test]
fn flipped_and_cut_bytes_give_errors_not_panics() {
    let tar = sample();
    let zst =
        ruzstd::encoding::compress_to_vec(&tar[..], ruzstd::encoding::CompressionLevel::Fastest);
    // LAYERSCOPE_DAMAGE_ROUNDS raises the count for a longer local run.
    let rounds: usize = std::env::var("LAYERSCOPE_DAMAGE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("LAYERSCOPE_DAMAGE_SEED")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut rng = Rng(seed);
    for blob in [tar.clone(), gzip(&tar), zst] {
        for _ in 0..rounds {
            let mut damaged = blob.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(damaged.len());
                damaged[at] ^= 1 << rng.below(8);
            }
            if rng.below(3) == 0 {
                damaged.truncate(rng.below(damaged.len()));
            }
            scan_damaged(&damaged, &mut rng);
        }
    }
}

/// Odd paths and type changes across layers: stacking and efficiency
/// neither panic nor leave whiteout names or duplicate paths behind.
#[test]
fn odd_paths_and_type_changes_stack_cleanly() {
    for seed in 1..=300 {
        stack_odd_paths(seed);
    }
}

fn stack_odd_paths(seed: u64) {
    use layerscope_core::engine::efficiency::analyze;
    use layerscope_core::engine::scan::scan_chunks;
    use layerscope_core::engine::tree::{FileTrees, ViewKind};

    let names = [
        "a",
        "a/b",
        "a/b/c",
        "./a/x",
        "/abs",
        "../up",
        "a/../b",
        ".wh.",
        ".wh..wh..opq",
        "a/.wh..wh..opq",
        ".wh.a",
        "a/.wh.b",
        "b/.wh..wh.plnk",
        "d/",
        "d/e/",
        "x//y",
    ];
    let mut rng = Rng(seed);
    let mut layers = Vec::new();
    for _ in 0..12 {
        let mut b = LayerBuilder::new();
        for _ in 0..6 {
            let name = names[rng.below(names.len())];
            let kind = [
                tar::EntryType::Regular,
                tar::EntryType::Directory,
                tar::EntryType::Symlink,
            ][rng.below(3)];
            let content = if kind == tar::EntryType::Regular {
                vec![1u8; rng.below(100)]
            } else {
                Vec::new()
            };
            let link = (kind == tar::EntryType::Symlink).then_some(&b"target"[..]);
            b.raw(kind, name.as_bytes(), &content, link);
        }
        layers.push(scan_chunks([b.finish()], ScanOptions::default()).unwrap());
    }
    let mut trees = FileTrees::new();
    for l in &layers {
        trees.add_layer(&l.entries.to_vec()).unwrap();
    }
    for k in 0..layers.len() {
        for kind in [ViewKind::LayerChanges, ViewKind::Aggregated] {
            let _ = trees.view(k, kind);
        }
    }
    let final_view = trees.final_view();
    // Every entry's parent is a directory listed before it.
    let mut seen_dirs: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
    for e in &final_view {
        if let Some(cut) = e.path.iter().rposition(|&b| b == b'/') {
            assert!(
                seen_dirs.contains(&e.path[..cut]),
                "seed {seed}: parent of {} not listed first",
                e.path_lossy()
            );
        }
        if e.kind == layerscope_core::engine::tar::EntryKind::Directory {
            seen_dirs.insert(&e.path);
        }
    }
    let mut paths: Vec<&[u8]> = final_view.iter().map(|e| e.path.as_slice()).collect();
    assert!(paths.iter().all(|p| !p
        .split(|&b| b == b'/')
        .any(|c| c.starts_with(b".wh.") || c == b".." || c.is_empty())));
    let count = paths.len();
    paths.sort();
    paths.dedup();
    assert_eq!(
        paths.len(),
        count,
        "seed {seed}: duplicate paths in the final view"
    );
    let unpacked: Vec<Vec<_>> = layers.iter().map(|l| l.entries.to_vec()).collect();
    let entries: Vec<&[_]> = unpacked.iter().map(Vec::as_slice).collect();
    let eff = analyze(&entries).unwrap();
    assert!(eff.score <= 1.0);
}
