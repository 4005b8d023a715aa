//! Memory of the Files tab's structures for a million entries, measured with a counting
//! allocator: the kept trees, one built view, and the peak while the view is built. The
//! page's budget is 64 MiB plus 200 bytes an entry for all its workers; these are the
//! tree's share of it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use layerscope_core::engine::scan::LayerEntry;
use layerscope_core::engine::tar::EntryKind;
use layerscope_core::engine::tree::{FileTrees, SortOrder};
use layerscope_core::present::search::{search, PathPattern};
use layerscope_core::present::tree_view::{TreeQuery, TreeView};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const DIRECTORIES: usize = 1000;
const FILES_PER_DIRECTORY: usize = 999;
/// One header per directory and per file.
const ENTRIES: usize = DIRECTORIES * (FILES_PER_DIRECTORY + 1);

/// A layer like a big distribution's: 1000 package directories of 999 files each, every
/// file name distinct, sizes varied.
fn million_entry_layer() -> Vec<LayerEntry> {
    let mut entries = Vec::with_capacity(ENTRIES);
    for d in 0..DIRECTORIES {
        let dir = format!("usr/share/pkg-{d:04}/");
        entries.push(LayerEntry {
            path: dir.as_bytes().into(),
            link_target: None,
            kind: EntryKind::Directory,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            content_hash: None,
        });
        for f in 0..FILES_PER_DIRECTORY {
            let size = ((d * 7919 + f * 104_729) % 65_536) as u64;
            entries.push(LayerEntry {
                path: format!("{dir}file-{d:04}-{f:04}.txt").as_bytes().into(),
                link_target: None,
                kind: EntryKind::File,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size,
                mtime: 0,
                content_hash: Some(size),
            });
        }
    }
    entries
}

fn current() -> usize {
    CURRENT.load(Ordering::Relaxed)
}

fn per_entry(bytes: usize) -> f64 {
    bytes as f64 / ENTRIES as f64
}

#[test]
fn a_million_entry_view_stays_within_the_tree_budget() {
    let before_trees = current();
    let entries = million_entry_layer();
    assert_eq!(entries.len(), ENTRIES);
    let mut trees = FileTrees::new();
    trees.add_layer(&entries).unwrap();
    trees.compact();
    drop(entries);
    let trees_bytes = current() - before_trees;
    // What the trees keep, measured two ways: the allocator and their own account.
    let kept = trees.heap_bytes();
    println!(
        "trees: {:.1} B/entry (allocator), {:.1} B/entry (heap_bytes)",
        per_entry(trees_bytes),
        per_entry(kept)
    );

    let base = current();
    PEAK.store(base, Ordering::Relaxed);
    let started = Instant::now();
    let view = TreeView::build(&trees, &TreeQuery::new(0)).unwrap();
    let built = started.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let view_bytes = current() - base;
    println!(
        "view: {:.1} B/entry kept, {:.1} B/entry peak while building, built in {built:?}",
        per_entry(view_bytes),
        per_entry(peak)
    );
    assert_eq!(view.entry_count(), ENTRIES + 2, "plus /usr and /usr/share");
    assert_eq!(view.len(), ENTRIES + 2);
    assert!(view_bytes <= view.heap_bytes() + 4096);

    // A window costs its rows, not the tree.
    let before_rows = current();
    PEAK.store(before_rows, Ordering::Relaxed);
    let rows = view.rows(&trees, 500_000, 100);
    let window_peak = PEAK.load(Ordering::Relaxed) - before_rows;
    assert_eq!(rows.len(), 100);
    assert!(rows[0].path.starts_with("/usr/share/pkg-"));
    println!("window of 100 rows: {window_peak} B at most");
    assert!(
        window_peak < 64 * 1024,
        "a window allocated {window_peak} B"
    );
    drop(rows);

    // Sorting by size lays out the same entries.
    let mut by_size = TreeQuery::new(0);
    by_size.sort = SortOrder::Size;
    let sized = TreeView::build(&trees, &by_size).unwrap();
    assert_eq!(sized.len(), ENTRIES + 2);
    let top = sized.rows(&trees, 0, 3);
    assert_eq!(top[0].path, "/usr");
    assert_eq!(top[2].size, {
        let mut sizes: Vec<u64> = (0..DIRECTORIES)
            .map(|d| {
                (0..FILES_PER_DIRECTORY)
                    .map(|f| ((d * 7919 + f * 104_729) % 65_536) as u64)
                    .sum()
            })
            .collect();
        sizes.sort_unstable();
        *sizes.last().unwrap()
    });
    drop(sized);

    // Collapsing everything and revealing one path stays linear.
    let mut view = view;
    let started = Instant::now();
    view.collapse_all(&trees);
    assert_eq!(view.len(), 1);
    let row = view
        .reveal(&trees, b"/usr/share/pkg-0500/file-0500-0998.txt")
        .unwrap()
        .unwrap();
    println!("collapse all + reveal: {:?}", started.elapsed());
    assert_eq!(view.len(), 2 + DIRECTORIES + FILES_PER_DIRECTORY);
    assert_eq!(row, 2 + 500 + FILES_PER_DIRECTORY);

    // A search walks every change without keeping them.
    let before_search = current();
    PEAK.store(before_search, Ordering::Relaxed);
    let started = Instant::now();
    let found = search(&trees, &PathPattern::parse("0998-0998").unwrap(), 100);
    let search_peak = PEAK.load(Ordering::Relaxed) - before_search;
    println!(
        "search: {:?}, {:.1} B/entry peak",
        started.elapsed(),
        per_entry(search_peak)
    );
    assert_eq!(found.hits.len(), 1);

    // The budgets: the trees and a view together well under 200 B an entry, and the
    // transient peak of a build or a search bounded too.
    assert!(
        per_entry(kept) <= 80.0,
        "trees: {:.1} B/entry",
        per_entry(kept)
    );
    assert!(
        per_entry(view_bytes) <= 40.0,
        "view: {:.1} B/entry",
        per_entry(view_bytes)
    );
    assert!(
        per_entry(peak) <= 100.0,
        "build peak: {:.1} B/entry",
        per_entry(peak)
    );
    assert!(
        per_entry(search_peak) <= 64.0,
        "search peak: {:.1} B/entry",
        per_entry(search_peak)
    );
}
