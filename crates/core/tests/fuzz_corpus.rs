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

/// A timestamp with a multi-byte character inside a numeric field panicked (the field was
/// cut out of the text at byte offsets); now the field is named as bad. An image config's
/// `created` goes through the same parser.
#[test]
fn a_timestamp_field_with_a_multibyte_character_is_refused() {
    use layerscope_core::model::config::ImageConfig;
    use layerscope_core::model::time::Timestamp;
    let error = Timestamp::parse("2024-01-02T03:04:0\u{e9}5Z").unwrap_err();
    assert!(error.to_string().contains("bad second"), "{error}");
    let error = Timestamp::parse("2024-01-0\u{e9}T03:04:05Z").unwrap_err();
    assert!(error.to_string().contains("RFC 3339"), "{error}");
    let config = br#"{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:0\u00e95Z",
        "rootfs":{"type":"layers","diff_ids":[]}}"#;
    let error = ImageConfig::parse(config).unwrap_err().to_string();
    assert!(
        error.contains("created") && error.contains("bad second"),
        "{error}"
    );
}
