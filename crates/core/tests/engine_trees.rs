//! Trees over layers made in the test: PAX long names, non-UTF-8 names, hard
//! links, opaque directories, whiteouts, and 100k entries.

mod engine_common;

use engine_common::{gzip, LayerBuilder};
use layerscope_core::engine::efficiency::analyze;
use layerscope_core::engine::scan::{scan_chunks, LayerSummary, ScanOptions};
use layerscope_core::engine::tar::EntryKind;
use layerscope_core::engine::tree::{FileTrees, Mark, ViewEntry, ViewKind};

fn scan(tar: Vec<u8>) -> LayerSummary {
    let blob = gzip(&tar);
    scan_chunks(blob.chunks(8192), ScanOptions::default()).unwrap()
}

fn stack(layers: &[LayerSummary]) -> FileTrees {
    let mut trees = FileTrees::new();
    for l in layers {
        trees.add_layer(&l.entries.to_vec()).unwrap();
    }
    trees
}

fn find<'a>(view: &'a [ViewEntry], path: &[u8]) -> Option<&'a ViewEntry> {
    view.iter().find(|e| e.path == path)
}

#[test]
fn long_and_non_utf8_names_survive_into_the_tree() {
    let pax_name = format!("opt/{}/{}", "x".repeat(150), "y".repeat(150));
    let gnu_name = format!("srv/{}", "g".repeat(260));
    let mut b = LayerBuilder::new();
    b.dir("opt/")
        .pax_file(pax_name.as_bytes(), b"pax!")
        .file(&gnu_name, b"gnu")
        .file_bytes(b"srv/caf\xe9\xff", b"bytes", 0o640);
    let layer = scan(b.finish());
    let trees = stack(&[layer]);
    let view = trees.final_view();
    let pax = find(&view, pax_name.as_bytes()).expect("PAX path > 255 bytes");
    assert!(pax.path.len() > 255);
    assert_eq!((pax.size, pax.depth), (4, 2));
    assert_eq!(pax.content_hash, Some(xxhash_rust::xxh3::xxh3_64(b"pax!")));
    // The implied directory between opt/ and the file has no header.
    let implied = find(&view, format!("opt/{}", "x".repeat(150)).as_bytes()).unwrap();
    assert!(!implied.explicit && implied.kind == EntryKind::Directory);
    assert!(find(&view, b"opt").unwrap().explicit);
    assert!(find(&view, gnu_name.as_bytes()).is_some());
    let odd = find(&view, b"srv/caf\xe9\xff").expect("exact non-UTF-8 bytes kept");
    assert_eq!(odd.mode, 0o640);
    assert_eq!(odd.path_lossy(), "srv/caf\u{fffd}\u{fffd}");
    assert_eq!(odd.name(), b"caf\xe9\xff");
    // JSON shows names lossily.
    let json = serde_json::to_string(odd).unwrap();
    assert!(json.contains("caf\u{fffd}\u{fffd}"), "{json}");
    let hash = format!(
        "\"content_hash\":\"{:016x}\"",
        xxhash_rust::xxh3::xxh3_64(b"bytes")
    );
    assert!(json.contains(&hash), "{json}");
    // Children come sorted by name bytes, parents before children.
    let srv: Vec<&[u8]> = view
        .iter()
        .filter(|e| e.path.starts_with(b"srv/"))
        .map(|e| e.path.as_slice())
        .collect();
    let mut sorted = srv.clone();
    sorted.sort();
    assert_eq!(srv, sorted);
}

#[test]
fn hard_links_are_entries_with_their_source() {
    let mut b = LayerBuilder::new();
    b.file("bin/busybox", &[1u8; 1000])
        .hardlink("bin/ls", "bin/busybox")
        .hardlink("bin/cat", "bin/busybox");
    let trees = stack(&[scan(b.finish())]);
    let view = trees.final_view();
    let ls = find(&view, b"bin/ls").unwrap();
    assert_eq!(ls.kind, EntryKind::HardLink);
    assert_eq!(ls.link_target.as_deref(), Some(&b"bin/busybox"[..]));
    assert_eq!(ls.size, 0);
    // The directory holds the file's bytes once.
    assert_eq!(find(&view, b"bin").unwrap().size, 1000);
}

#[test]
fn opaque_directories_hide_lower_children_only() {
    let mut base = LayerBuilder::new();
    base.dir("etc/")
        .dir("etc/conf.d/")
        .file("etc/conf.d/old", b"old")
        .file("etc/conf.d/keep", b"k")
        .file("etc/hosts", b"h");
    let mut upper = LayerBuilder::new();
    // The new file comes before the marker: the marker must not hide it.
    upper
        .dir("etc/conf.d/")
        .file("etc/conf.d/new", b"new!")
        .file("etc/conf.d/.wh..wh..opq", b"");
    let layers = [scan(base.finish()), scan(upper.finish())];
    let trees = stack(&layers);
    let view = trees.final_view();
    assert!(find(&view, b"etc/conf.d/old").is_none());
    assert!(find(&view, b"etc/conf.d/keep").is_none());
    assert!(find(&view, b"etc/hosts").is_some());
    assert_eq!(find(&view, b"etc/conf.d/new").unwrap().layer, 1);
    assert!(view.iter().all(|e| !e.path.ends_with(b".wh..wh..opq")));
    let changes = trees.view(1, ViewKind::LayerChanges);
    assert_eq!(
        find(&changes, b"etc/conf.d/old").unwrap().mark,
        Mark::Removed
    );
    assert_eq!(
        find(&changes, b"etc/conf.d/keep").unwrap().mark,
        Mark::Removed
    );
    assert_eq!(find(&changes, b"etc/conf.d/new").unwrap().mark, Mark::Added);
    assert!(
        find(&changes, b"etc/hosts").is_none(),
        "untouched paths are not in the layer view"
    );
    let all = trees.view(1, ViewKind::Aggregated);
    assert_eq!(find(&all, b"etc/hosts").unwrap().mark, Mark::Unchanged);
    assert_eq!(find(&all, b"etc").unwrap().mark, Mark::Modified);
    // conf.d now holds only the new file; the removed entries show their size apart.
    assert_eq!(find(&view, b"etc/conf.d").unwrap().size, 4);
    // The two removed files are reclaimable; the opaque marker costs nothing.
    let unpacked: Vec<Vec<_>> = layers.iter().map(|l| l.entries.to_vec()).collect();
    let entries: Vec<&[_]> = unpacked.iter().map(Vec::as_slice).collect();
    assert_eq!(analyze(&entries).unwrap().reclaimable_bytes, 4);
}

#[test]
fn marks_tell_rewritten_from_changed() {
    let mut base = LayerBuilder::new();
    base.file("same", b"same")
        .file("content", b"v1")
        .file_mode("perm", b"p", 0o644)
        .file("gone", b"bye")
        .symlink("ln", "a");
    let mut upper = LayerBuilder::new();
    upper
        .file("same", b"same")
        .file("content", b"v2")
        .file_mode("perm", b"p", 0o755)
        .file(".wh.gone", b"")
        .symlink("ln", "b")
        .file("fresh", b"new");
    let trees = stack(&[scan(base.finish()), scan(upper.finish())]);
    let changes = trees.view(1, ViewKind::LayerChanges);
    let mark = |p: &[u8]| {
        find(&changes, p)
            .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(p)))
            .mark
    };
    assert_eq!(mark(b"same"), Mark::Unchanged);
    assert_eq!(mark(b"content"), Mark::Modified);
    assert_eq!(mark(b"perm"), Mark::Modified);
    assert_eq!(mark(b"gone"), Mark::Removed);
    assert_eq!(mark(b"ln"), Mark::Modified);
    assert_eq!(mark(b"fresh"), Mark::Added);
    assert!(find(&trees.final_view(), b"gone").is_none());
}

#[test]
fn a_hundred_thousand_entries() {
    let mut b = LayerBuilder::new();
    for d in 0..100 {
        b.dir(&format!("d{d:03}/"));
        for f in 0..1000 {
            b.file(
                &format!("d{d:03}/f{f:04}"),
                if f % 2 == 0 { b"even" } else { b"odd" },
            );
        }
    }
    let layer = scan(b.finish());
    assert_eq!(layer.entries.len(), 100_100);
    let mut upper = LayerBuilder::new();
    upper
        .file("d000/.wh.f0000", b"")
        .file("d001/f0001", b"changed");
    let layers = [layer, scan(upper.finish())];
    let trees = stack(&layers);
    let view = trees.final_view();
    assert_eq!(view.len(), 100_100 - 1);
    assert_eq!(find(&view, b"d001").unwrap().size, 500 * 4 + 499 * 3 + 7);
    let changes = trees.view(1, ViewKind::LayerChanges);
    let changed: Vec<(String, Mark)> = changes.iter().map(|e| (e.path_lossy(), e.mark)).collect();
    assert_eq!(
        changed,
        vec![
            ("d000".into(), Mark::Modified),
            ("d000/f0000".into(), Mark::Removed),
            ("d001".into(), Mark::Modified),
            ("d001/f0001".into(), Mark::Modified),
        ]
    );
    let unpacked: Vec<Vec<_>> = layers.iter().map(|l| l.entries.to_vec()).collect();
    let entries: Vec<&[_]> = unpacked.iter().map(Vec::as_slice).collect();
    let eff = analyze(&entries).unwrap();
    assert_eq!(eff.reclaimable_bytes, 4 + 3);
    assert_eq!(eff.wasted_bytes, 4 + 3 + 7);
}
