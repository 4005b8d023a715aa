//! Replays the committed fuzz corpora (fuzz/corpus/TARGET) and the reproducers of fixed
//! fuzzer findings (fuzz/regressions/TARGET) through the harnesses the fuzz targets call,
//! on the stable toolchain, so every `cargo test` checks them without cargo-fuzz.

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
