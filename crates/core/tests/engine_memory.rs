//! Bounded memory: a generated 1 GiB layer goes through the scanner (plain
//! and gzipped on the fly) while a counting allocator records the peak.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use layerscope_core::engine::scan::{ScanOptions, Scanner};
use layerscope_core::model::media::Compression;

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

const GIB: u64 = 1 << 30;
const FILE_SIZE: u64 = 8 << 20;
const CHUNK: usize = 1 << 20;
/// Whatever the layer's size, the scanner may hold this much: its windows,
/// the inflate state and the entry list of 128 files (plus, for the gzip
/// case, the encoder's lazily allocated state).
const BOUND: usize = 1 << 20;

/// Streams a tar of 1 GiB of file content (128 files of 8 MiB) into `sink`
/// in 1 MiB pieces, never holding more than one piece.
fn generate_layer(piece: &mut Vec<u8>, pattern: &[u8], mut sink: impl FnMut(&[u8])) {
    for index in 0..GIB / FILE_SIZE {
        let mut header = tar::Header::new_gnu();
        header.set_path(format!("data/file{index:04}.bin")).unwrap();
        header.set_size(FILE_SIZE);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        piece.extend_from_slice(header.as_bytes());
        let mut left = FILE_SIZE as usize;
        while left > 0 {
            let take = (CHUNK - piece.len().min(CHUNK)).min(left).max(1);
            piece.extend_from_slice(&pattern[..take]);
            left -= take;
            if piece.len() >= CHUNK {
                sink(piece);
                piece.clear();
            }
        }
    }
    piece.extend_from_slice(&[0; 1024]);
    sink(piece);
}

fn measure(gzipped: bool) {
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(4 * CHUNK), flate2::Compression::fast());
    let mut scanner = Scanner::new(ScanOptions::default());
    // The generator's buffers are allocated before the baseline, so the
    // peak above it is the scanner's (and the encoder's fixed state).
    let mut piece: Vec<u8> = Vec::with_capacity(CHUNK + 1024);
    let pattern: Vec<u8> = (0..CHUNK).map(|i| (i * 7 % 253) as u8).collect();
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    generate_layer(&mut piece, &pattern, |piece| {
        if gzipped {
            encoder.write_all(piece).unwrap();
            scanner.push(encoder.get_ref()).unwrap();
            encoder.get_mut().clear();
        } else {
            scanner.push(piece).unwrap();
        }
    });
    if gzipped {
        encoder.try_finish().unwrap();
        scanner.push(encoder.get_ref()).unwrap();
    }
    let summary = scanner.finish().unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    println!(
        "gzipped={gzipped}: peak allocation above baseline {peak} bytes for a {} byte tar",
        summary.uncompressed_size
    );
    assert_eq!(
        summary.compression,
        if gzipped {
            Compression::Gzip
        } else {
            Compression::None
        }
    );
    assert_eq!(summary.entries.len(), 128);
    assert!(summary.uncompressed_size > GIB);
    assert!(summary
        .entries
        .iter()
        .all(|e| e.size == FILE_SIZE && e.content_hash.is_some()));
    assert!(
        peak < BOUND,
        "peak allocation {peak} bytes exceeds {BOUND} for a 1 GiB layer"
    );
}

/// A zstd frame of a tar holding one file of `blocks` x 128 KiB zeros, made
/// of 4-byte RLE blocks: 4 KiB of input per 128 MiB of output.
fn zstd_rle_bomb(blocks: u32) -> Vec<u8> {
    let block = 128 * 1024u32;
    let mut header = tar::Header::new_gnu();
    header.set_path("zeros").unwrap();
    header.set_size(u64::from(blocks) * u64::from(block));
    header.set_mode(0o644);
    header.set_cksum();
    // Magic; no checksum, no content size; window 128 KiB (log 17).
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (17 - 10) << 3];
    let raw = |frame: &mut Vec<u8>, data: &[u8], last: bool| {
        let h = u32::from(last) | ((data.len() as u32) << 3);
        frame.extend_from_slice(&h.to_le_bytes()[..3]);
        frame.extend_from_slice(data);
    };
    raw(&mut frame, header.as_bytes(), false);
    for _ in 0..blocks {
        let h = (1u32 << 1) | (block << 3);
        frame.extend_from_slice(&h.to_le_bytes()[..3]);
        frame.push(0);
    }
    raw(&mut frame, &[0u8; 1024], true);
    frame
}

/// Tiny zstd blocks that expand enormously are decoded one at a time.
fn measure_zstd_expansion() {
    let bomb = zstd_rle_bomb(8192);
    let mut scanner = Scanner::new(ScanOptions::default());
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    scanner.push(&bomb).unwrap();
    let summary = scanner.finish().unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    println!("zstd: peak allocation above baseline {peak} bytes for {} compressed bytes, {} uncompressed", bomb.len(), summary.uncompressed_size);
    assert_eq!(summary.compression, Compression::Zstd);
    assert_eq!(summary.uncompressed_size, 512 + (1 << 30) + 1024);
    assert_eq!(summary.entries.to_vec()[0].size, 1 << 30);
    assert!(
        peak < BOUND,
        "peak allocation {peak} bytes exceeds {BOUND} for a 1 GiB zstd layer"
    );
}

#[test]
fn a_gibibyte_layer_in_bounded_memory() {
    // One test, so the measurements do not overlap.
    measure(false);
    measure(true);
    measure_zstd_expansion();
}
