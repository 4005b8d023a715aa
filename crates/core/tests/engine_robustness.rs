//! Damaged input never panics: random byte flips and cuts in plain, gzip and
//! zstd layers end in a summary or an error, whatever the chunk size.

mod engine_common;

use engine_common::{gzip, LayerBuilder};
use layerscope_core::layer::{ScanOptions, Scanner};

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
