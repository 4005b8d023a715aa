//! What the page's owner worker holds for an archive, measured natively: the archive read
//! and analysed as the CLI does it, the scan summary sent through the transfer layout as a
//! scan worker sends it, then the trees kept and the first view built as the owner builds
//! it. A counting allocator prints the live and peak heap after each phase.
//!
//! owner-memory ARCHIVE

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use layerscope_core::archive::{ArchiveReader, Step};
use layerscope_core::present::tree_view::{TreeQuery, TreeView};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn phase(name: &str) {
    let mib = |bytes: usize| bytes as f64 / 1024.0 / 1024.0;
    println!(
        "{name}: live {:.1} MiB, peak so far {:.1} MiB",
        mib(LIVE.load(Ordering::Relaxed)),
        mib(PEAK.load(Ordering::Relaxed))
    );
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

fn main() {
    use std::io::{Read, Seek, SeekFrom};
    let path = std::env::args()
        .nth(1)
        .expect("usage: owner-memory ARCHIVE");
    let mut file = std::fs::File::open(&path).expect("the archive opens");
    let size = file.metadata().expect("its size").len();
    let mut reader = ArchiveReader::new(size);
    let report = loop {
        match reader.next_step() {
            Step::Read { offset, len } => {
                let mut bytes = vec![0; len as usize];
                file.seek(SeekFrom::Start(offset)).expect("seek");
                let n = file.read(&mut bytes).expect("read");
                bytes.truncate(n);
                reader.supply(offset, &bytes).expect("the archive reads");
            }
            Step::Done(report) => break report,
            Step::Failed(error) => panic!("{error}"),
            _ => {}
        }
    };
    phase("analysed (finish included)");
    let trees = reader.take_file_trees().expect("trees");
    drop(reader);
    phase("reader dropped, trees and report kept");
    let view = TreeView::build(&trees, &TreeQuery::new(trees.layer_count() - 1)).expect("a view");
    phase("first view built");
    println!("rows in the view: {}", view.len());
    drop(view);
    drop(report);
    drop(trees);
    phase("all dropped");
    finish_by_steps(&path);
}

/// The stacking `Analysis::finish` does, a step at a time, for where its peak is.
fn finish_by_steps(path: &str) {
    use layerscope_core::engine::efficiency::EfficiencyBuilder;
    use layerscope_core::engine::scan::{ScanOptions, Scanner};
    use layerscope_core::engine::tree::FileTrees;
    use std::io::{Read, Seek, SeekFrom};
    // The archive's largest member (the layer of a one-layer image), scanned alone as a
    // scan worker does, read a chunk at a time.
    let (offset, size) = largest_member(path);
    let mut file = std::fs::File::open(path).expect("the archive opens");
    file.seek(SeekFrom::Start(offset)).expect("seek");
    let mut left = size;
    let mut chunk = vec![0u8; 1 << 21];
    let mut scanner = Scanner::new(ScanOptions::default());
    while left > 0 {
        let n = chunk.len().min(left as usize);
        file.read_exact(&mut chunk[..n]).expect("the layer reads");
        scanner.push(&chunk[..n]).expect("a layer");
        left -= n as u64;
    }
    let summary = scanner.finish().expect("a layer");
    phase("layer scanned (packed entries kept)");
    let mut trees = FileTrees::new();
    let mut figures = EfficiencyBuilder::new();
    figures
        .add_layer(summary.entries.iter(), &mut trees)
        .expect("dive");
    phase("efficiency: layer added");
    let figures = figures.finish_layers(&trees);
    phase("efficiency: dive's pass over");
    trees.add_entries(summary.entries.iter()).expect("stacks");
    phase("trees: entries added");
    drop(summary);
    trees.compact();
    phase("packed entries dropped, trees compacted");
    let figures = figures.finish(&trees).expect("figures");
    phase("efficiency finished");
    drop(figures);
    phase("figures dropped");
}

/// Where the largest member of a tar archive starts, and its size.
fn largest_member(path: &str) -> (u64, u64) {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).expect("the archive opens");
    let (mut at, mut best) = (0u64, (0u64, 0u64));
    let mut header = [0u8; 512];
    while file.read_exact(&mut header).is_ok() && header[0] != 0 {
        let field = std::str::from_utf8(&header[124..136]).unwrap_or("0");
        let size = u64::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
            .unwrap_or(0);
        if size > best.1 {
            best = (at + 512, size);
        }
        at += 512 + size.div_ceil(512) * 512;
        file.seek(SeekFrom::Start(at)).expect("seek");
    }
    best
}
