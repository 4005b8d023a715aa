//! Drives an `ArchiveReader` over a file, the way the CLI and the Web Worker do.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use layerscope_core::archive::{ArchiveError, ArchiveReader, ImageSelector, Step};
use layerscope_core::present::report::{ImageListing, ImageReport};

#[allow(unused_imports)]
pub use layerscope_test_support::{peer, peers, TempDir};

/// What one run produced.
#[derive(Debug)]
pub struct Run {
    pub result: Result<ImageReport, ArchiveError>,
    pub listed: Option<Vec<ImageListing>>,
    pub overview: Option<ImageReport>,
    pub layers_scanned: usize,
    pub bytes_read: u64,
    pub max_read: u64,
    pub reads: usize,
    pub streamed: bool,
    /// `total_bytes` of the last progress report.
    pub progress_total: Option<u64>,
    /// Every `(done, total)` of layer progress reports.
    pub layer_progress: Vec<(u64, u64)>,
}

/// Runs the reader over `path`, answering reads by seeking (random access) or, with
/// `streaming`, by handing the file over front to back in `chunk`-sized pieces.
pub fn run(path: &Path, selector: Option<ImageSelector>, streaming: bool, chunk: usize) -> Run {
    let mut file = File::open(path).unwrap();
    let len = file.metadata().unwrap().len();
    let mut reader = if streaming {
        ArchiveReader::new_streaming()
    } else {
        ArchiveReader::new(len)
    };
    let mut run = Run {
        result: Err(ArchiveError::Protocol {
            detail: "not run".into(),
        }),
        listed: None,
        overview: None,
        layers_scanned: 0,
        bytes_read: 0,
        max_read: 0,
        reads: 0,
        streamed: false,
        progress_total: None,
        layer_progress: Vec::new(),
    };
    for _ in 0..10_000_000 {
        match reader.next_step() {
            Step::Read { offset, len } => {
                run.reads += 1;
                run.max_read = run.max_read.max(len);
                let want = (len as usize).min(chunk.max(1));
                let mut buf = vec![0u8; want];
                file.seek(SeekFrom::Start(offset)).unwrap();
                let mut got = 0;
                while got < want {
                    let n = file.read(&mut buf[got..]).unwrap();
                    if n == 0 {
                        break;
                    }
                    got += n;
                }
                run.bytes_read += got as u64;
                let _ = reader.supply(offset, &buf[..got]);
            }
            Step::Progress(p) => {
                run.streamed |= p.streamed;
                run.progress_total = p.total_bytes;
                run.layer_progress.extend(p.layer_bytes);
            }
            Step::ImagesListed(images) => {
                run.listed = Some(images);
                if let Some(selector) = &selector {
                    if let Err(e) = reader.select_image(selector) {
                        run.result = Err(e);
                        return run;
                    }
                }
            }
            Step::Overview(report) => run.overview = Some(*report),
            Step::LayerScanned(_) => run.layers_scanned += 1,
            Step::Done(report) => {
                run.result = Ok(*report);
                return run;
            }
            Step::Failed(error) => {
                run.result = Err(error);
                return run;
            }
        }
    }
    panic!("reader did not finish on {}", path.display());
}

pub fn load(path: &Path) -> ImageReport {
    match run(path, None, false, usize::MAX).result {
        Ok(report) => report,
        Err(e) => panic!("{} failed: {e}", path.display()),
    }
}

pub fn refusal(path: &Path) -> String {
    match run(path, None, false, usize::MAX).result {
        Ok(_) => panic!("{} was accepted, expected a refusal", path.display()),
        Err(e) => e.to_string(),
    }
}

/// Runs the reader over an OCI layout directory, answering reads through `locate`.
pub fn run_directory(root: &Path) -> Result<ImageReport, ArchiveError> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let size = std::fs::metadata(&path).unwrap().len();
                files.push(layerscope_core::archive::DirectoryFile {
                    path: relative,
                    size,
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut reader = ArchiveReader::new_directory(files)?;
    loop {
        match reader.next_step() {
            Step::Read { offset, len } => {
                let span = reader.locate(offset).expect("read inside a file");
                let bytes = std::fs::read(root.join(span.path)).unwrap();
                let start = span.offset as usize;
                let end = (start + len as usize).min(bytes.len());
                reader.supply(offset, &bytes[start..end])?;
            }
            Step::Done(report) => return Ok(*report),
            Step::Failed(error) => return Err(error),
            _ => {}
        }
    }
}

/// Writes a tar archive holding `files` (name, content) in order.
pub fn write_tar(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut builder = tar::Builder::new(File::create(path).unwrap());
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, content.as_slice())
            .unwrap();
    }
    builder.finish().unwrap();
}

/// Every regular file of a tar archive, in order.
pub fn read_tar(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(File::open(path).unwrap());
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            files.push((name, content));
        }
    }
    files
}
