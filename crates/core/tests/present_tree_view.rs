//! Tree views and searches over real archives: the stacked trees an archive reader hands
//! back after its report, windowed, filtered, sorted, collapsed and searched.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use layerscope_core::archive::{ArchiveReader, Step};
use layerscope_core::engine::scan::LayerEntry;
use layerscope_core::engine::tar::EntryKind;
use layerscope_core::engine::tree::{FileTrees, Mark, MarkSet, SortOrder, ViewKind};
use layerscope_core::present::humanize;
use layerscope_core::present::report::ImageReport;
use layerscope_core::present::search::{
    search, PathPattern, PatternError, MAX_PATTERN_BYTES, MAX_SEARCH_HITS, MAX_SEARCH_PATH_BYTES,
};
use layerscope_core::present::tree_view::{
    Expansion, ModeText, Toggled, TreeQuery, TreeView, TreeViewError, MAX_TOGGLED,
    MAX_WINDOW_PATH_BYTES, MAX_WINDOW_ROWS,
};
use layerscope_test_support::peers;

/// Reads an archive by ranges, as the page's worker does, and takes its trees after `Done`.
fn read_archive(path: &Path) -> (ImageReport, FileTrees, ArchiveReader) {
    let mut file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = ArchiveReader::new(file.metadata().unwrap().len());
    assert!(
        reader.take_file_trees().is_none(),
        "no trees before the analysis"
    );
    loop {
        match reader.next_step() {
            Step::Read { offset, len } => {
                let mut buf = vec![0u8; len as usize];
                file.seek(SeekFrom::Start(offset)).unwrap();
                let got = file.read(&mut buf).unwrap();
                reader.supply(offset, &buf[..got]).unwrap();
            }
            Step::Done(report) => {
                let trees = reader.take_file_trees().expect("trees after Done");
                return (*report, trees, reader);
            }
            Step::Failed(error) => panic!("{}: {error}", path.display()),
            _ => {}
        }
    }
}

#[test]
fn archive_reader_hands_back_the_stacked_trees() {
    let (report, trees, mut reader) =
        read_archive(&peers().join("dive/.data/test-docker-image.tar"));
    assert_eq!(trees.layer_count(), 14);
    assert_eq!(trees.layer_count(), report.layers.len());
    // The kept trees give the same change counts the report was made from.
    for (index, layer) in report.layers.iter().enumerate() {
        let view = trees.view(index, ViewKind::LayerChanges);
        let removed = view
            .iter()
            .filter(|e| e.mark == Mark::Removed && (e.explicit || e.kind != EntryKind::Directory))
            .count() as u64;
        assert_eq!(removed, layer.removed, "layer {index}");
    }
    // They moved out: the reader keeps nothing, and still repeats its report.
    assert_eq!(reader.take_file_trees().map(|t| t.layer_count()), Some(0));
    assert!(matches!(reader.next_step(), Step::Done(_)));
}

// ---------------------------------------------------------------------------
// dive's test image, against what dive itself shows for it

fn dive_image() -> (ImageReport, FileTrees) {
    let (report, trees, _) = read_archive(&peers().join("dive/.data/test-docker-image.tar"));
    (report, trees)
}

/// go-humanize's `Bytes`, the size column dive prints (`1.2 MB`, `0 B`).
fn dive_size(bytes: u64) -> String {
    if bytes < 10 {
        return format!("{bytes} B");
    }
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let exponent = (bytes as f64).log(1000.0).floor() as i32;
    let value = (bytes as f64 / 1000f64.powi(exponent) * 10.0 + 0.5).floor() / 10.0;
    let unit = units[exponent as usize];
    if value < 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

#[test]
fn dive_layer_zero_reads_as_dive_shows_it_with_bin_and_etc_collapsed() {
    let (_, trees) = dive_image();
    let mut view = TreeView::build(&trees, &TreeQuery::new(0)).unwrap();
    let everything = view.len();
    assert!(!view.toggle(&trees, b"/bin").unwrap().expanded);
    assert_eq!(
        view.toggle(&trees, b"etc").unwrap(),
        Toggled {
            row: Some(2),
            expanded: false
        }
    );
    // dive's TestFileTreeDirCollapse (cmd/dive/cli/internal/ui/v1/viewmodel/testdata):
    // layer 0 with /bin and /etc collapsed, every row.
    let dive = [
        ("drwxr-xr-x", "0:0", "1.2 MB", 0, "bin"),
        ("drwxr-xr-x", "0:0", "0 B", 0, "dev"),
        ("drwxr-xr-x", "0:0", "1.0 kB", 0, "etc"),
        ("drwxr-xr-x", "65534:65534", "0 B", 0, "home"),
        ("drwx------", "0:0", "0 B", 0, "root"),
        ("drwxrwxrwt", "0:0", "0 B", 0, "tmp"),
        ("drwxr-xr-x", "0:0", "0 B", 0, "usr"),
        ("drwxr-xr-x", "1:1", "0 B", 1, "sbin"),
        ("drwxr-xr-x", "0:0", "0 B", 0, "var"),
        ("drwxr-xr-x", "0:0", "0 B", 1, "spool"),
        ("drwxr-xr-x", "8:8", "0 B", 2, "mail"),
        ("drwxr-xr-x", "0:0", "0 B", 1, "www"),
    ];
    assert_eq!(view.len(), dive.len());
    let rows = view.rows(&trees, 0, 100);
    let ours: Vec<(String, String, String, u32, String)> = rows
        .iter()
        .map(|r| {
            (
                r.mode.to_string(),
                format!("{}:{}", r.uid, r.gid),
                dive_size(r.size),
                r.depth,
                r.name.to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String, u32, String)> = dive
        .iter()
        .map(|&(m, o, s, d, n)| (m.into(), o.into(), s.into(), d, n.into()))
        .collect();
    assert_eq!(ours, expected);
    assert_eq!(rows[7].path, "/usr/sbin");
    assert!(rows[0].has_children && !rows[0].expanded && rows[0].is_dir);
    assert!(rows[7].is_dir && !rows[7].has_children && !rows[7].expanded);
    // Our own size text is docker's.
    assert_eq!(rows[0].size_text, humanize::size(rows[0].size));
    // Opening /bin again restores every row.
    view.toggle(&trees, b"/etc").unwrap();
    view.set_open(&trees, b"/bin", true).unwrap();
    assert_eq!(view.len(), everything);
    assert_eq!(view.query().expansion, Expansion::all_expanded());
}

#[test]
fn dive_hard_links_show_their_source_as_dive_does() {
    let (_, trees) = dive_image();
    let view = TreeView::build(&trees, &TreeQuery::new(0)).unwrap();
    let row = view.row_of(&trees, b"/bin/cat").expect("bin/cat is shown");
    let cat = &view.rows(&trees, row, 1)[0];
    // dive's TestFileTreePageDown: "-rwxr-xr-x  0:0  0 B  cat → bin/["
    assert_eq!(cat.mode.as_str(), "-rwxr-xr-x");
    assert_eq!((cat.uid, cat.gid, cat.size), (0, 0, 0));
    assert_eq!(cat.link_target.as_deref(), Some("bin/["));
    assert_eq!(cat.kind, EntryKind::HardLink);
    assert_eq!((cat.depth, &*cat.name), (1, "cat"));
    assert!(!cat.is_dir && !cat.has_children);
}

#[test]
fn dive_layer_changes_show_a_removed_directory_with_what_it_held() {
    let (report, trees) = dive_image();
    // Layer 9 is `rm -rf /root/example` (a whiteout of the directory).
    let mut query = TreeQuery::new(9);
    query.kind = ViewKind::LayerChanges;
    let view = TreeView::build(&trees, &query).unwrap();
    let rows = view.rows(&trees, 0, 1000);
    let shown: Vec<(&str, Mark, u64)> = rows.iter().map(|r| (&*r.path, r.mark, r.size)).collect();
    assert_eq!(
        shown,
        vec![
            ("/root", Mark::Modified, 0),
            ("/root/example", Mark::Removed, 2 * 6405),
            ("/root/example/really", Mark::Removed, 0),
            ("/root/example/really/nested", Mark::Removed, 0),
            ("/root/example/somefile1.txt", Mark::Removed, 6405),
            ("/root/example/somefile2.txt", Mark::Removed, 6405),
        ]
    );
    // The report's counts come from the same trees: the four entries, the directory
    // and its subdirectories, are removed; /root is modified.
    assert_eq!(
        (
            report.layers[9].added,
            report.layers[9].modified,
            report.layers[9].removed
        ),
        (0, 1, 5)
    );
    // Everything up to layer 9, removed entries filtered out: /root keeps only what stays.
    let mut live = TreeQuery::new(9);
    live.filter = MarkSet::parse_letters("amu").unwrap();
    let view = TreeView::build(&trees, &live).unwrap();
    let row = view.row_of(&trees, b"/root").unwrap();
    let root = &view.rows(&trees, row, 1)[0];
    assert_eq!(root.size, 2 * 6405, "saved.txt and .saved.txt");
    assert!(view.row_of(&trees, b"/root/example").is_none());
}

#[test]
fn one_pass_change_counts_equal_the_per_layer_views() {
    for fixture in [
        "dive/.data/test-docker-image.tar",
        "dive/.data/test-kaniko-image.tar",
        "go-containerregistry/pkg/v1/mutate/testdata/whiteout_image.tar",
        "go-containerregistry/pkg/v1/tarball/testdata/test_bundle.tar",
    ] {
        let (report, trees, _) = read_archive(&peers().join(fixture));
        let counts = trees.change_counts();
        assert_eq!(counts.len(), trees.layer_count(), "{fixture}");
        for (index, layer) in report.layers.iter().enumerate() {
            let mut by_view = (0, 0, 0);
            for e in trees.view(index, ViewKind::LayerChanges) {
                if e.explicit || e.kind != EntryKind::Directory {
                    match e.mark {
                        Mark::Added => by_view.0 += 1,
                        Mark::Modified => by_view.1 += 1,
                        Mark::Removed => by_view.2 += 1,
                        Mark::Unchanged => {}
                    }
                }
            }
            let c = counts[index];
            assert_eq!(
                (c.added, c.modified, c.removed),
                by_view,
                "{fixture} layer {index}"
            );
            assert_eq!(
                (layer.added, layer.modified, layer.removed),
                by_view,
                "{fixture} layer {index}"
            );
        }
    }
}

#[test]
fn dive_search_finds_the_layers_that_wrote_and_removed_a_path() {
    let (_, trees) = dive_image();
    let pattern = PathPattern::parse("somefile3").unwrap();
    let found = search(&trees, &pattern, 100);
    let hits: Vec<(usize, &str, Mark)> = found
        .hits
        .iter()
        .map(|h| (h.layer, &*h.path, h.mark))
        .collect();
    assert_eq!(
        hits,
        vec![
            (6, "/root/example/somefile3.txt", Mark::Added),
            (7, "/root/example/somefile3.txt", Mark::Removed),
        ]
    );
    assert!(!found.truncated);
    // /root/example went in layer 9, with everything in it.
    let pattern = PathPattern::parse("/^/root/example/somefile[12]/").unwrap();
    let found = search(&trees, &pattern, 100);
    let hits: Vec<(usize, &str, Mark)> = found
        .hits
        .iter()
        .map(|h| (h.layer, &*h.path, h.mark))
        .collect();
    assert_eq!(
        hits,
        vec![
            (3, "/root/example/somefile1.txt", Mark::Added),
            (4, "/root/example/somefile1.txt", Mark::Modified),
            (5, "/root/example/somefile2.txt", Mark::Added),
            (9, "/root/example/somefile1.txt", Mark::Removed),
            (9, "/root/example/somefile2.txt", Mark::Removed),
        ]
    );
    // A hit can be revealed in its layer's view.
    let mut view = TreeView::build(&trees, &TreeQuery::new(9)).unwrap();
    view.collapse_all(&trees);
    let row = view.reveal(&trees, hits[4].1.as_bytes()).unwrap().unwrap();
    let rows = view.rows(&trees, row, 1);
    assert_eq!(rows[0].path, "/root/example/somefile2.txt");
    assert_eq!(rows[0].mark, Mark::Removed);
}

#[test]
fn rows_travel_as_json_and_read_back_the_same() {
    // The worker posts rows as JSON and the page reads them back: nothing may change.
    let (_, trees) = dive_image();
    let view = TreeView::build(&trees, &TreeQuery::new(13)).unwrap();
    let rows: Vec<_> = view
        .rows(&trees, 0, 50)
        .into_iter()
        .map(|row| row.into_owned())
        .collect();
    let text = serde_json::to_string(&rows).unwrap();
    let back: Vec<layerscope_core::present::tree_view::TreeRow<'static>> =
        serde_json::from_str(&text).unwrap();
    assert_eq!(back, rows);
    assert!(text.contains(r#""mode":"drwxr-xr-x""#), "{}", &text[..200]);
    let bad = text.replacen(r#""mode":"drwxr-xr-x""#, r#""mode":"drwx""#, 1);
    let refused =
        serde_json::from_str::<Vec<layerscope_core::present::tree_view::TreeRow<'static>>>(&bad)
            .unwrap_err();
    assert!(refused.to_string().contains("ten ASCII"), "{refused}");
}

// ---------------------------------------------------------------------------
// Layers made here, one behaviour each

fn entry(path: &[u8], kind: EntryKind, size: u64, mode: u32) -> LayerEntry {
    LayerEntry {
        path: path.into(),
        link_target: None,
        kind,
        mode,
        uid: 0,
        gid: 0,
        size,
        mtime: 0,
        // Same size, same content: enough to tell a rewrite from a change here.
        content_hash: (kind == EntryKind::File).then_some(size),
    }
}

fn file(path: &str, size: u64) -> LayerEntry {
    entry(path.as_bytes(), EntryKind::File, size, 0o644)
}

fn dir(path: &str) -> LayerEntry {
    entry(path.as_bytes(), EntryKind::Directory, 0, 0o755)
}

fn symlink(path: &str, target: &str) -> LayerEntry {
    LayerEntry {
        link_target: Some(target.as_bytes().into()),
        ..entry(path.as_bytes(), EntryKind::Symlink, 0, 0o777)
    }
}

fn stack(layers: &[Vec<LayerEntry>]) -> FileTrees {
    let mut trees = FileTrees::new();
    for layer in layers {
        trees.add_layer(layer).unwrap();
    }
    trees
}

fn query(layer: usize, kind: ViewKind, filter: &str) -> TreeQuery {
    TreeQuery {
        kind,
        filter: MarkSet::parse_letters(filter).unwrap(),
        ..TreeQuery::new(layer)
    }
}

/// Every visible row as (path, mark, size).
fn shown(trees: &FileTrees, query: &TreeQuery) -> Vec<(String, Mark, u64)> {
    let view = TreeView::build(trees, query).unwrap();
    view.rows(trees, 0, MAX_WINDOW_ROWS)
        .into_iter()
        .map(|r| (r.path, r.mark, r.size))
        .collect()
}

fn rows_of(list: &[(&str, Mark, u64)]) -> Vec<(String, Mark, u64)> {
    list.iter()
        .map(|&(p, m, s)| (p.to_string(), m, s))
        .collect()
}

/// /etc/a is removed, /etc/sub/b changed, /usr/new added, /usr/c left alone.
fn two_layers() -> FileTrees {
    stack(&[
        vec![
            dir("etc/"),
            file("etc/a", 10),
            dir("etc/sub/"),
            file("etc/sub/b", 20),
            dir("usr/"),
            file("usr/c", 30),
        ],
        vec![
            file("etc/.wh.a", 0),
            file("etc/sub/b", 25),
            file("usr/new", 5),
        ],
    ])
}

#[test]
fn filters_keep_the_directories_above_what_passes() {
    use Mark::*;
    let trees = two_layers();
    let all = ViewKind::Aggregated;
    assert_eq!(
        shown(&trees, &query(1, all, "a")),
        rows_of(&[("/usr", Modified, 5), ("/usr/new", Added, 5)])
    );
    assert_eq!(
        shown(&trees, &query(1, all, "m")),
        rows_of(&[
            ("/etc", Modified, 25),
            ("/etc/sub", Modified, 25),
            ("/etc/sub/b", Modified, 25),
            ("/usr", Modified, 0),
        ])
    );
    assert_eq!(
        shown(&trees, &query(1, all, "r")),
        rows_of(&[("/etc", Modified, 0), ("/etc/a", Removed, 10)])
    );
    assert_eq!(
        shown(&trees, &query(1, all, "u")),
        rows_of(&[("/usr", Modified, 30), ("/usr/c", Unchanged, 30)])
    );
    // Everything: sizes count what stays, not what was removed.
    assert_eq!(
        shown(&trees, &query(1, all, "amru")),
        rows_of(&[
            ("/etc", Modified, 25),
            ("/etc/a", Removed, 10),
            ("/etc/sub", Modified, 25),
            ("/etc/sub/b", Modified, 25),
            ("/usr", Modified, 35),
            ("/usr/c", Unchanged, 30),
            ("/usr/new", Added, 5),
        ])
    );
    let empty = TreeView::build(&trees, &query(1, all, "")).unwrap();
    assert!(empty.is_empty() && empty.rows(&trees, 0, 10).is_empty());
}

#[test]
fn the_changes_view_shows_only_what_the_layer_did() {
    use Mark::*;
    let trees = two_layers();
    let changes = ViewKind::LayerChanges;
    assert_eq!(
        shown(&trees, &query(1, changes, "amru")),
        rows_of(&[
            ("/etc", Modified, 25),
            ("/etc/a", Removed, 10),
            ("/etc/sub", Modified, 25),
            ("/etc/sub/b", Modified, 25),
            ("/usr", Modified, 5),
            ("/usr/new", Added, 5),
        ])
    );
    // Removed only: the removal and the directory it happened in.
    assert_eq!(
        shown(&trees, &query(1, changes, "r")),
        rows_of(&[("/etc", Modified, 0), ("/etc/a", Removed, 10)])
    );
    // The bottom layer's changes are all of it, added.
    assert!(shown(&trees, &query(0, changes, "amru"))
        .iter()
        .all(|(_, mark, _)| *mark == Added));
}

#[test]
fn an_opaque_directory_shows_what_it_hid_as_removed() {
    use Mark::*;
    let trees = stack(&[
        vec![
            dir("d/"),
            file("d/old", 3),
            file("d/keep", 4),
            file("top", 1),
        ],
        vec![dir("d/"), file("d/new", 7), file("d/.wh..wh..opq", 0)],
    ]);
    assert_eq!(
        shown(&trees, &query(1, ViewKind::LayerChanges, "amru")),
        rows_of(&[
            ("/d", Modified, 7),
            ("/d/keep", Removed, 4),
            ("/d/new", Added, 7),
            ("/d/old", Removed, 3),
        ])
    );
    // The layer wrote d/ again: a directory with changes below counts as modified.
    let counts = trees.change_counts()[1];
    assert_eq!((counts.added, counts.modified, counts.removed), (1, 1, 2));
    assert_eq!(
        shown(&trees, &query(1, ViewKind::Aggregated, "amu")),
        rows_of(&[
            ("/d", Modified, 7),
            ("/d/new", Added, 7),
            ("/top", Unchanged, 1)
        ])
    );
}

#[test]
fn a_path_removed_and_written_again_shows_twice_and_is_found_live() {
    use Mark::*;
    let trees = stack(&[
        vec![dir("app/"), file("app/x", 1)],
        vec![file(".wh.app", 0), dir("app/"), file("app/y", 2)],
    ]);
    assert_eq!(
        shown(&trees, &query(1, ViewKind::LayerChanges, "amru")),
        rows_of(&[
            ("/app", Removed, 1),
            ("/app/x", Removed, 1),
            ("/app", Added, 2),
            ("/app/y", Added, 2),
        ])
    );
    let view = TreeView::build(&trees, &query(1, ViewKind::LayerChanges, "amru")).unwrap();
    assert_eq!(view.row_of(&trees, b"/app"), Some(2), "the live one");
}

#[test]
fn sort_by_size_orders_children_within_their_parent() {
    let trees = stack(&[vec![
        dir("big/"),
        file("big/y", 1),
        file("big/x", 100),
        file("mid", 50),
        file("a", 50),
        dir("small/"),
        file("small/z", 10),
    ]]);
    let names = |sort: SortOrder| -> Vec<String> {
        let q = TreeQuery {
            sort,
            ..TreeQuery::new(0)
        };
        let view = TreeView::build(&trees, &q).unwrap();
        view.rows(&trees, 0, 100)
            .into_iter()
            .map(|r| format!("{}={}", r.path, r.size))
            .collect()
    };
    assert_eq!(
        names(SortOrder::Size),
        [
            "/big=101",
            "/big/x=100",
            "/big/y=1",
            "/a=50",
            "/mid=50",
            "/small=10",
            "/small/z=10"
        ]
    );
    assert_eq!(
        names(SortOrder::Name),
        [
            "/a=50",
            "/big=101",
            "/big/x=100",
            "/big/y=1",
            "/mid=50",
            "/small=10",
            "/small/z=10"
        ]
    );
}

/// Three directories of 2 files, one of them with a subdirectory of 2 more.
fn small_tree() -> FileTrees {
    stack(&[vec![
        file("a/1", 1),
        file("a/2", 1),
        file("b/1", 1),
        file("b/2", 1),
        file("b/deep/1", 1),
        file("b/deep/2", 1),
        file("c/1", 1),
        file("c/2", 1),
    ]])
}

#[test]
fn collapse_and_expand_change_the_row_count() {
    let trees = small_tree();
    let mut view = TreeView::build(&trees, &TreeQuery::new(0)).unwrap();
    assert_eq!((view.len(), view.entry_count()), (12, 12));
    view.collapse_all(&trees);
    assert_eq!(view.len(), 3);
    assert_eq!(
        view.toggle(&trees, b"/b").unwrap(),
        Toggled {
            row: Some(1),
            expanded: true
        }
    );
    // b's children show; deep stays closed.
    assert_eq!(view.len(), 6);
    view.set_open(&trees, b"b/deep", true).unwrap();
    view.set_open(&trees, b"b/deep", true).unwrap();
    assert_eq!(view.len(), 8);
    let rows = view.rows(&trees, 0, 100);
    let listed: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        listed,
        [
            "/a",
            "/b",
            "/b/1",
            "/b/2",
            "/b/deep",
            "/b/deep/1",
            "/b/deep/2",
            "/c"
        ]
    );
    // Closing b hides deep too, and opening it again shows deep as it was.
    view.toggle(&trees, b"/b").unwrap();
    assert_eq!(view.len(), 3);
    // deep has no row while b is closed.
    assert_eq!(
        view.toggle(&trees, b"/b/deep").unwrap(),
        Toggled {
            row: None,
            expanded: false
        }
    );
    view.toggle(&trees, b"/b").unwrap();
    assert_eq!(view.len(), 6);
    // The toggles live in the query and carry over to a rebuilt view (another filter).
    let mut next = view.query().clone();
    assert_eq!(next.expansion.toggled().count(), 1);
    next.filter = MarkSet::ALL.without(Mark::Removed);
    assert_eq!(TreeView::build(&trees, &next).unwrap().len(), 6);
    view.expand_all(&trees);
    assert_eq!(view.len(), 12);
    // Files and missing paths cannot be toggled; the message names the path.
    let err = view.toggle(&trees, b"/a/1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "/a/1 has nothing below it to open or close in this view"
    );
    let err = view.toggle(&trees, b"/nope").unwrap_err();
    assert_eq!(err.to_string(), "/nope is not in this view");
}

#[test]
fn reveal_opens_the_ancestors_and_returns_the_row() {
    let trees = small_tree();
    let mut view = TreeView::build(&trees, &TreeQuery::new(0)).unwrap();
    view.collapse_all(&trees);
    assert_eq!(view.row_of(&trees, b"/b/deep/2"), None);
    let row = view.reveal(&trees, b"/b/deep/2").unwrap();
    assert_eq!(row, Some(6));
    assert_eq!(view.rows(&trees, 6, 1)[0].path, "/b/deep/2");
    assert_eq!(view.len(), 3 + 3 + 2);
    // Revealing again changes nothing.
    assert_eq!(view.reveal(&trees, b"b/deep/2").unwrap(), Some(6));
    assert_eq!(view.len(), 8);
    assert_eq!(view.reveal(&trees, b"/b/missing").unwrap(), None);
    // Filtered out: not in this view.
    let mut added_only = TreeView::build(&trees, &query(0, ViewKind::Aggregated, "u")).unwrap();
    assert!(added_only.is_empty());
    assert_eq!(added_only.reveal(&trees, b"/b/deep/2").unwrap(), None);
}

#[test]
fn windows_are_bounded() {
    let files: Vec<LayerEntry> = (0..2500).map(|i| file(&format!("d/f{i:05}"), i)).collect();
    let trees = stack(&[files]);
    let view = TreeView::build(&trees, &TreeQuery::new(0)).unwrap();
    assert_eq!(view.len(), 2501);
    let first = view.rows(&trees, 0, 5000);
    assert_eq!(first.len(), MAX_WINDOW_ROWS);
    assert_eq!((first[0].row, first[999].row), (0, 999));
    assert_eq!(first[1].path, "/d/f00000");
    let last = view.rows(&trees, 2400, 1000);
    assert_eq!(last.len(), 101);
    assert_eq!(last[100].path, "/d/f02499");
    assert!(view.rows(&trees, 2501, 10).is_empty());
    assert!(view.rows(&trees, usize::MAX, usize::MAX).is_empty());
    assert!(view.rows(&trees, 10, 0).is_empty());
}

#[test]
fn mode_text_reads_like_ls() {
    use EntryKind::*;
    let cases = [
        (File, 0o644, "-rw-r--r--"),
        (File, 0o4755, "-rwsr-xr-x"),
        (File, 0o4644, "-rwSr--r--"),
        (File, 0o2755, "-rwxr-sr-x"),
        (File, 0o2745, "-rwxr-Sr-x"),
        (Directory, 0o1777, "drwxrwxrwt"),
        (Directory, 0o1770, "drwxrwx--T"),
        (Directory, 0o700, "drwx------"),
        (Symlink, 0o777, "lrwxrwxrwx"),
        (HardLink, 0o755, "-rwxr-xr-x"),
        (CharDevice, 0o666, "crw-rw-rw-"),
        (BlockDevice, 0o660, "brw-rw----"),
        (Fifo, 0o644, "prw-r--r--"),
        (File, 0o100_644, "-rw-r--r--"),
        (File, 0o7777, "-rwsrwsrwt"),
        (File, 0o7000, "---S--S--T"),
    ];
    for (kind, mode, text) in cases {
        assert_eq!(
            ModeText::new(kind, mode).as_str(),
            text,
            "{kind:?} {mode:o}"
        );
    }
    assert_eq!(
        serde_json::to_string(&ModeText::new(Directory, 0o755)).unwrap(),
        "\"drwxr-xr-x\""
    );
}

#[test]
fn rows_serialize_lean_and_keep_odd_names_as_text() {
    let trees = stack(&[vec![
        file("www/<img src=x onerror=alert(1)>", 3),
        symlink("www/link", "<b>target</b>"),
        entry(b"www/caf\xe9", EntryKind::File, 1, 0o600),
    ]]);
    let view = TreeView::build(&trees, &TreeQuery::new(0)).unwrap();
    let rows = view.rows(&trees, 0, 10);
    let json = serde_json::to_value(&rows).unwrap();
    let html = &json[1];
    assert_eq!(html["name"], "<img src=x onerror=alert(1)>");
    assert_eq!(html["path"], "/www/<img src=x onerror=alert(1)>");
    assert_eq!(html["mode"], "-rw-r--r--");
    assert_eq!(html["sizeText"], "3B");
    assert_eq!(html["mark"], "added");
    assert_eq!(html["kind"], "file");
    assert!(html.get("linkTarget").is_none(), "no key for files: {html}");
    let keys: Vec<&str> = html
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 15, "{keys:?}");
    assert_eq!(json[3]["linkTarget"], "<b>target</b>");
    assert_eq!(json[3]["mode"], "lrwxrwxrwx");
    // Invalid UTF-8 shows replaced, and the exact bytes still find the entry.
    assert_eq!(json[2]["name"], "caf\u{fffd}");
    assert_eq!(view.row_of(&trees, b"/www/caf\xe9"), Some(2));
    assert_eq!(json[0]["isDir"], true);
    assert_eq!(json[0]["hasChildren"], true);
    assert_eq!(json[0]["expanded"], true);
    assert_eq!(json[0]["depth"], 0);
    assert_eq!(json[1]["depth"], 1);
}

#[test]
fn queries_round_trip_with_their_url_letters() {
    let filter = MarkSet::parse_letters("rma").unwrap();
    assert_eq!(filter.letters(), "amr");
    assert_eq!(filter.to_string(), "amr");
    assert!(filter.contains(Mark::Removed) && !filter.contains(Mark::Unchanged));
    assert_eq!("amru".parse::<MarkSet>().unwrap(), MarkSet::ALL);
    assert_eq!(MarkSet::parse_letters("").unwrap(), MarkSet::EMPTY);
    let err = MarkSet::parse_letters("amx").unwrap_err();
    assert_eq!(
        err.to_string(),
        "filter \"amx\": 'x' is not a mark letter (a added, m modified, r removed, u unchanged)"
    );
    assert_eq!("size".parse::<SortOrder>().unwrap(), SortOrder::Size);
    assert_eq!(
        "changes".parse::<ViewKind>().unwrap(),
        ViewKind::LayerChanges
    );
    assert_eq!(ViewKind::Aggregated.as_str(), "aggregated");
    assert!("tree"
        .parse::<ViewKind>()
        .unwrap_err()
        .contains("expected changes or aggregated"));
    assert!("big"
        .parse::<SortOrder>()
        .unwrap_err()
        .contains("expected name or size"));

    let trees = small_tree();
    let mut view = TreeView::build(&trees, &TreeQuery::new(0)).unwrap();
    view.toggle(&trees, b"/b/deep").unwrap();
    let mut q = view.query().clone();
    q.filter = filter;
    q.kind = ViewKind::LayerChanges;
    q.sort = SortOrder::Size;
    let json = serde_json::to_value(&q).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "layer": 0, "kind": "changes", "filter": "amr", "sort": "size",
            "expansion": {"default": "expanded", "toggled": ["/b/deep"]}
        })
    );
    let back: TreeQuery = serde_json::from_value(json).unwrap();
    assert_eq!(back, q);
    // Too many toggles are refused when read, as when made.
    let many: Vec<String> = (0..=MAX_TOGGLED).map(|i| format!("/d{i}")).collect();
    let err = serde_json::from_value::<TreeQuery>(serde_json::json!({
        "layer": 0, "kind": "aggregated", "filter": "amru", "sort": "name",
        "expansion": {"default": "collapsed", "toggled": many}
    }))
    .unwrap_err();
    assert!(
        err.to_string().contains("more than 1024 directories"),
        "{err}"
    );
}

#[test]
fn a_layer_out_of_range_is_named() {
    let trees = two_layers();
    let err = TreeView::build(&trees, &TreeQuery::new(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no layer 5: the image has 2 (0 to 1)"
    );
    let err = TreeView::build(&FileTrees::new(), &TreeQuery::new(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no layer 0: the image has no layers"
    );
}

#[test]
fn search_substrings_are_smart_case_and_regexes_exact() {
    let trees = stack(&[
        vec![
            file("etc/ssl/cert.pem", 1),
            file("etc/SSL/Other.pem", 1),
            file("etc/app.conf", 1),
        ],
        vec![file("etc/ssl/.wh.cert.pem", 0), file("opt/ssl.conf", 2)],
    ]);
    let paths = |text: &str| -> Vec<(usize, String, Mark)> {
        let pattern = PathPattern::parse(text).unwrap();
        search(&trees, &pattern, 100)
            .hits
            .into_iter()
            .map(|h| (h.layer, h.path, h.mark))
            .collect()
    };
    let p = |l: usize, s: &str, m: Mark| (l, s.to_string(), m);
    // Lowercase ignores ASCII case; hits come in layer order, by path within a layer.
    assert_eq!(
        paths("ssl"),
        vec![
            p(0, "/etc/SSL", Mark::Added),
            p(0, "/etc/SSL/Other.pem", Mark::Added),
            p(0, "/etc/ssl", Mark::Added),
            p(0, "/etc/ssl/cert.pem", Mark::Added),
            p(1, "/etc/ssl/cert.pem", Mark::Removed),
            p(1, "/opt/ssl.conf", Mark::Added),
        ]
    );
    // An uppercase letter makes it exact.
    assert_eq!(paths("SSL/"), vec![p(0, "/etc/SSL/Other.pem", Mark::Added)]);
    // A regex is exact as written; (?i) ignores case.
    assert_eq!(
        paths(r"/\.conf$/"),
        vec![
            p(0, "/etc/app.conf", Mark::Added),
            p(1, "/opt/ssl.conf", Mark::Added)
        ]
    );
    assert_eq!(paths("/^/etc/ssl/").len(), 3);
    assert_eq!(paths("/(?i)^/etc/ssl/").len(), 5);
    // Spaces around the text are ignored.
    assert_eq!(
        paths("  app.conf "),
        vec![p(0, "/etc/app.conf", Mark::Added)]
    );

    let limited = search(&trees, &PathPattern::parse("/").unwrap(), 3);
    assert_eq!(limited.hits.len(), 3);
    assert!(limited.truncated);
    let all = search(&trees, &PathPattern::parse("/").unwrap(), usize::MAX);
    assert_eq!(all.hits.len(), 9);
    assert!(!all.truncated);
}

#[test]
fn bad_search_texts_get_messages_that_name_them() {
    let err = PathPattern::parse("/(unclosed/").unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("/(unclosed/ is not a valid regular expression: "),
        "{message}"
    );
    assert!(matches!(err, PatternError::BadRegex { ref pattern, .. } if pattern == "(unclosed"));
    // A regex that would compile too large is refused, not built.
    let err = PathPattern::parse("/(a{1000}){1000}/").unwrap_err();
    assert!(matches!(err, PatternError::BadRegex { .. }), "{err}");
    assert_eq!(PathPattern::parse("").unwrap_err(), PatternError::Empty);
    assert_eq!(PathPattern::parse("   ").unwrap_err(), PatternError::Empty);
    assert_eq!(PathPattern::parse("//").unwrap_err(), PatternError::Empty);
    let long = "x".repeat(MAX_PATTERN_BYTES + 1);
    assert_eq!(
        PathPattern::parse(&long).unwrap_err().to_string(),
        format!("the search is 1025 bytes long; at most {MAX_PATTERN_BYTES} are accepted")
    );
    // A lone slash is a substring: every path has one.
    assert!(matches!(
        PathPattern::parse("/").unwrap(),
        PathPattern::Substring { .. }
    ));
}

#[test]
fn very_deep_paths_stay_bounded() {
    // One PAX-long path of 100 000 components makes as many nested directories.
    let deep = "d/".repeat(100_000) + "leaf";
    let trees = stack(&[vec![file(&deep, 1), file("top", 2)]]);
    let mut view = TreeView::build(&trees, &TreeQuery::new(0)).unwrap();
    assert_eq!(view.len(), 100_002);
    // A window near the bottom holds a few rows, not a thousand 200 kB paths.
    let rows = view.rows(&trees, 99_990, 1000);
    assert!((1..=6).contains(&rows.len()), "{} rows", rows.len());
    assert_eq!(rows[0].depth, 99_990);
    assert!(rows.iter().map(|r| r.path.len()).sum::<usize>() < 2 * MAX_WINDOW_PATH_BYTES);
    // Searching meets every one of those directories, each path built from the last.
    let found = search(&trees, &PathPattern::parse("leaf").unwrap(), 10);
    assert_eq!(found.hits.len(), 1);
    assert_eq!(found.hits[0].path.len(), deep.len() + 1);
    // A regular expression is tried on paths up to PATH_MAX only.
    let regex = search(&trees, &PathPattern::parse("/leaf$/").unwrap(), 10);
    assert!(regex.hits.is_empty());
    let regex = search(&trees, &PathPattern::parse("/^/top$/").unwrap(), 10);
    assert_eq!(regex.hits.len(), 1);
    let all = search(&trees, &PathPattern::parse("d/").unwrap(), MAX_SEARCH_HITS);
    assert!(all.truncated);
    assert!(all.hits.iter().map(|h| h.path.len()).sum::<usize>() <= 2 * MAX_SEARCH_PATH_BYTES);
    // Revealing it from "collapse all" would toggle 100 000 directories: refused.
    view.collapse_all(&trees);
    let err = view.reveal(&trees, deep.as_bytes()).unwrap_err();
    assert!(matches!(err, TreeViewError::TooManyToggled { .. }), "{err}");
    view.expand_all(&trees);
    assert_eq!(view.reveal(&trees, deep.as_bytes()).unwrap(), Some(100_000));
}

#[test]
fn resumed_substring_matching_agrees_with_matching_each_path_whole() {
    // Siblings, deep chains, removals and re-adds, so the walk's paths share prefixes
    // in every way; needles with repeats exercise the resumed state.
    let mut lower = Vec::new();
    let mut upper = Vec::new();
    for d in 0..20 {
        for f in 0..20 {
            lower.push(file(&format!("aa{d}/a{f}/{}aab", "a".repeat(f % 5)), 1));
        }
        upper.push(file(&format!("aa{d}/.wh.a{}", d % 7), 0));
        upper.push(file(&format!("aa{d}/a{}/ba/aab", d % 3), 2));
    }
    let trees = stack(&[lower, upper]);
    for text in [
        "aab", "a/aab", "aa1/a1", "/a", "AaB", "ba/a", "aaaab", "9/a1",
    ] {
        let pattern = PathPattern::parse(text).unwrap();
        let mut expected = Vec::new();
        let mut scratch = Vec::new();
        trees.visit_changed_paths(|c| {
            if pattern.matches(c.path, &mut scratch) {
                expected.push((c.layer, String::from_utf8_lossy(c.path).into_owned()));
            }
            std::ops::ControlFlow::Continue(())
        });
        expected.sort();
        let mut found: Vec<(usize, String)> = search(&trees, &pattern, MAX_SEARCH_HITS)
            .hits
            .into_iter()
            .map(|h| (h.layer, h.path))
            .collect();
        found.sort();
        assert!(
            !expected.is_empty() || text == "AaB",
            "{text} finds something"
        );
        assert_eq!(found, expected, "{text}");
    }
}
