//! The Files tab's tree benchmark, native.
//!
//! `tree-view [--entries N]` (default 100000) makes one synthetic layer of N entries
//! (directories of 999 files, every name distinct, sizes varied), stacks it, builds the
//! aggregated view, reads the first window of 100 rows, builds the view sorted by size,
//! collapses everything and reveals one deep path, and searches all layers; it prints each
//! time and the bytes an entry the kept structures take, as `name: value unit` lines.
//! The timing is here, not in the core: the core has no clock.

use std::process::ExitCode;
use std::time::Instant;

use layerscope_core::engine::scan::LayerEntry;
use layerscope_core::engine::tar::EntryKind;
use layerscope_core::engine::tree::{FileTrees, SortOrder};
use layerscope_core::present::search::{search, PathPattern};
use layerscope_core::present::tree_view::{TreeQuery, TreeView};

const USAGE: &str = "usage: tree-view [--entries N]";
const FILES_PER_DIRECTORY: usize = 999;

fn layer(entries: usize) -> Vec<LayerEntry> {
    let mut out = Vec::with_capacity(entries);
    let mut d = 0;
    while out.len() < entries {
        let dir = format!("usr/share/pkg-{d:05}/");
        out.push(LayerEntry {
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
        for f in 0..FILES_PER_DIRECTORY.min(entries - out.len()) {
            let size = ((d * 7919 + f * 104_729) % 65_536) as u64;
            out.push(LayerEntry {
                path: format!("{dir}file-{d:05}-{f:04}.txt").as_bytes().into(),
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
        d += 1;
    }
    out
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn run(entries: usize) -> Result<(), String> {
    let made = layer(entries);
    let started = Instant::now();
    let mut trees = FileTrees::new();
    trees.add_layer(&made).map_err(|e| e.to_string())?;
    trees.compact();
    let stacked_ms = ms(started);
    drop(made);
    let per_entry = |bytes: usize| bytes as f64 / entries as f64;
    println!("entries: {entries}");
    println!("trees_add_layer: {stacked_ms:.1} ms");
    println!(
        "trees_bytes_per_entry: {:.1} B",
        per_entry(trees.heap_bytes())
    );

    let started = Instant::now();
    let mut view = TreeView::build(&trees, &TreeQuery::new(0)).map_err(|e| e.to_string())?;
    let built_ms = ms(started);
    let rows = view.rows(&trees, 0, 100);
    let first_window_ms = ms(started);
    let json = serde_json::to_string(&rows).map_err(|e| e.to_string())?;
    println!("view_build: {built_ms:.1} ms");
    println!("view_first_window_of_100_rows: {first_window_ms:.1} ms (build + rows)");
    println!("view_window_json: {} B", json.len());
    println!(
        "view_bytes_per_entry: {:.1} B",
        per_entry(view.heap_bytes())
    );
    drop(rows);

    let started = Instant::now();
    let mut by_size = TreeQuery::new(0);
    by_size.sort = SortOrder::Size;
    let sized = TreeView::build(&trees, &by_size).map_err(|e| e.to_string())?;
    println!("view_build_sorted_by_size: {:.1} ms", ms(started));
    drop(sized);

    let started = Instant::now();
    view.collapse_all(&trees);
    let deepest = view.rows(&trees, 0, 1).len();
    let target = format!(
        "/usr/share/pkg-00000/file-00000-{:04}.txt",
        FILES_PER_DIRECTORY.min(entries) - 1
    );
    let row = view
        .reveal(&trees, target.as_bytes())
        .map_err(|e| e.to_string())?;
    println!("collapse_all_and_reveal: {:.2} ms", ms(started));
    if deepest != 1 || row.is_none() {
        return Err(format!("{target} was not revealed"));
    }

    let started = Instant::now();
    let pattern = PathPattern::parse("0000-0998").map_err(|e| e.to_string())?;
    let found = search(&trees, &pattern, 100);
    println!(
        "search_all_layers: {:.1} ms ({} hits)",
        ms(started),
        found.hits.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut entries = 100_000usize;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|v| v.parse::<usize>())) {
            ("--entries", Some(Ok(n))) if n > 0 => entries = n,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match run(entries) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tree-view: {message}");
            ExitCode::FAILURE
        }
    }
}
