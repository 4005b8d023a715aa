//! Replays the committed fuzz corpora (fuzz/corpus/TARGET) and the reproducers of fixed
//! fuzzer findings (fuzz/regressions/TARGET) through the harnesses the fuzz targets call,
//! on the stable toolchain, so every `cargo test` checks them without cargo-fuzz.

use std::path::{Path, PathBuf};

use layerscope_core::fuzzing::{harness, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `target`'s harness over every file in `dir`, naming the file that panics.
fn replay(target: &str, dir: &Path) -> usize {
    let run = harness(target).unwrap_or_else(|| panic!("no harness for {target}"));
    let files = files_in(dir);
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "fuzz target {target} panics on {}",
            file.display()
        );
    }
    files.len()
}

#[test]
fn every_target_has_a_committed_corpus_and_it_replays_cleanly() {
    for (target, _) in TARGETS {
        let count = replay(target, &fuzz_dir().join("corpus").join(target));
        assert!(count > 0, "fuzz/corpus/{target} is empty or missing");
    }
}

#[test]
fn every_fixed_finding_replays_cleanly() {
    let regressions = fuzz_dir().join("regressions");
    for dir in files_in(&regressions) {
        panic!("stray file {} in fuzz/regressions", dir.display());
    }
    let Ok(entries) = std::fs::read_dir(&regressions) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let target = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            harness(&target).is_some(),
            "fuzz/regressions/{target} names no fuzz target"
        );
        replay(&target, &path);
    }
}

// Fixed findings, each with the smallest case that showed it.

/// The archive harness supplies fewer bytes than asked; the next read used to repeat the
/// first offset, and supplying there was refused as "archive reader misuse".
#[test]
fn a_short_supply_is_continued_where_it_stopped() {
    use layerscope_core::archive::{ArchiveReader, Step};
    let archive = std::fs::read(layerscope_test_support::peer(
        "go-containerregistry/pkg/v1/tarball/testdata/test_image_1.tar",
    ))
    .unwrap();
    let mut reader = ArchiveReader::new(archive.len() as u64);
    let mut short_reads = 0;
    loop {
        match reader.next_step() {
            Step::Read { offset, len } => {
                let start = offset as usize;
                let end = (start + (len as usize).min(100)).min(archive.len());
                short_reads += usize::from(end - start < len as usize);
                reader
                    .supply(offset, &archive[start..end])
                    .unwrap_or_else(|e| panic!("supply at {offset}: {e}"));
            }
            Step::Done(report) => {
                assert!(!report.layers.is_empty());
                break;
            }
            Step::Failed(error) => panic!("{error}"),
            _ => {}
        }
    }
    assert!(short_reads > 10, "only {short_reads} reads were short");
}
