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
            Step::ScanLayers(_) | Step::AwaitingScans { .. } => {
                panic!("layer scans handed out without with_external_scans")
            }
        }
    }
    panic!("reader did not finish on {}", path.display());
}

/// How [`run_external`] scans the layers the reader hands out.
#[derive(Debug, Clone, Copy)]
pub struct ExternalPlan {
    /// Scan the layers last first (the order a pool's results may come back in).
    pub reverse: bool,
    /// Scan without hashing and hand the digests over apart, from a digest-only pass.
    pub split: bool,
    /// With `split`: hand a layer's digests over before its entries.
    pub digests_first: bool,
    /// With `split`: hand every digest over only after `Done`.
    pub digests_after_done: bool,
    /// Pass every result through its byte buffer (`to_bytes`, `from_bytes`) on the way, as
    /// a worker hands it to the owner, checking it comes back the same.
    pub through_buffers: bool,
}

/// A scan result as the owner receives it from a worker, when `plan` says so.
fn carried(
    plan: &ExternalPlan,
    result: Result<
        layerscope_core::engine::scan::LayerSummary,
        layerscope_core::engine::scan::LayerError,
    >,
) -> Result<layerscope_core::engine::scan::LayerSummary, layerscope_core::engine::scan::LayerError>
{
    use layerscope_core::engine::scan::{LayerError, LayerSummary};
    if !plan.through_buffers {
        return result;
    }
    match result {
        Ok(summary) => {
            let back = LayerSummary::from_bytes(&summary.to_bytes()).unwrap();
            assert_eq!(back, summary);
            Ok(back)
        }
        Err(error) => {
            let back = LayerError::from_bytes(&error.to_bytes()).unwrap();
            assert_eq!(back.to_string(), error.to_string());
            Err(back)
        }
    }
}

/// Runs a reader `with_external_scans` over `path`, scanning each handed-out layer from
/// the file as `plan` says, the way a page's pool of scan workers would.
pub fn run_external(path: &Path, selector: Option<ImageSelector>, plan: ExternalPlan) -> Run {
    use layerscope_core::engine::scan::{scan_chunks, DigestScanner, Hashing};
    let mut file = File::open(path).unwrap();
    let len = file.metadata().unwrap().len();
    let mut reader = ArchiveReader::new(len).with_external_scans();
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
    let mut jobs = Vec::new();
    let mut late_digests = Vec::new();
    // Up to `len` bytes: a streamed archive's reads may run past its end.
    let mut read_range = |offset: u64, len: u64| {
        let mut buf = Vec::new();
        file.seek(SeekFrom::Start(offset)).unwrap();
        (&mut file).take(len).read_to_end(&mut buf).unwrap();
        buf
    };
    for _ in 0..10_000_000 {
        match reader.next_step() {
            Step::Read { offset, len } => {
                run.reads += 1;
                run.max_read = run.max_read.max(len);
                let bytes = read_range(offset, len.min(4 << 20));
                run.bytes_read += bytes.len() as u64;
                let _ = reader.supply(offset, &bytes);
            }
            Step::Progress(p) => run.streamed |= p.streamed,
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
            Step::ScanLayers(mut handed) => {
                if plan.reverse {
                    handed.reverse();
                }
                jobs = handed;
            }
            Step::AwaitingScans { outstanding } => {
                assert!(outstanding > 0);
                let job = jobs.remove(0);
                let blob = read_range(job.offset, job.len);
                run.bytes_read += blob.len() as u64;
                if !plan.split {
                    let result = scan_chunks(blob.chunks(65_536), job.options.clone());
                    let _ = reader.layer_scanned(job.index, carried(&plan, result));
                    continue;
                }
                let entries = carried(
                    &plan,
                    scan_chunks(
                        blob.chunks(65_536),
                        job.options.clone().with_hashing(Hashing::EntriesOnly),
                    ),
                );
                let mut digest_pass = DigestScanner::new(job.options.clone());
                let digests = blob
                    .chunks(65_536)
                    .try_for_each(|chunk| digest_pass.push(chunk))
                    .and_then(|()| digest_pass.finish());
                let digests = match digests {
                    Ok(digests) if plan.through_buffers => {
                        let back = layerscope_core::engine::scan::LayerDigests::from_bytes(
                            &digests.to_bytes(),
                        )
                        .unwrap();
                        assert_eq!(back, digests);
                        back
                    }
                    Ok(digests) => digests,
                    Err(error) => {
                        let _ = reader.layer_scanned(job.index, Err(error));
                        continue;
                    }
                };
                if plan.digests_after_done {
                    late_digests.push((job.index, digests));
                    let _ = reader.layer_scanned(job.index, entries);
                } else if plan.digests_first {
                    let _ = reader.layer_digests(job.index, &digests);
                    let _ = reader.layer_scanned(job.index, entries);
                } else {
                    let _ = reader.layer_scanned(job.index, entries);
                    let _ = reader.layer_digests(job.index, &digests);
                }
            }
            Step::LayerScanned(_) => run.layers_scanned += 1,
            Step::Done(report) => {
                if let Some((layer, digests)) = late_digests.pop() {
                    assert!(!report.unverified_layers.is_empty());
                    let _ = reader.layer_digests(layer, &digests);
                    continue;
                }
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
