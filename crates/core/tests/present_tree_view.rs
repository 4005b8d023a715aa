//! Tree views and searches over real archives: the stacked trees an archive reader hands
//! back after its report, windowed, filtered, sorted, collapsed and searched.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use layerscope_core::archive::{ArchiveReader, Step};
use layerscope_core::engine::tar::EntryKind;
use layerscope_core::engine::tree::{FileTrees, Mark, MarkSet, ViewKind};
use layerscope_core::present::humanize;
use layerscope_core::present::report::ImageReport;
use layerscope_core::present::search::{search, PathPattern};
use layerscope_core::present::tree_view::{Expansion, Toggled, TreeQuery, TreeView};
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
