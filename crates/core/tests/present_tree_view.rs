//! Tree views and searches over real archives: the stacked trees an archive reader hands
//! back after its report, windowed, filtered, sorted, collapsed and searched.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use layerscope_core::archive::{ArchiveReader, Step};
use layerscope_core::engine::tar::EntryKind;
use layerscope_core::engine::tree::{FileTrees, Mark, ViewKind};
use layerscope_core::present::report::ImageReport;
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
