//! The reader handing its layers out to be scanned elsewhere (a page's pool of workers):
//! on every peer archive, in any order, with the digests apart or together, before or after
//! the tree, and with every result carried through its byte buffer, the report is the one
//! the reader makes scanning them itself.

mod archive_support;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use archive_support::*;
use layerscope_core::archive::{ArchiveReader, ImageSelector, Step};
use layerscope_core::engine::scan::{scan_chunks, DigestScanner, Hashing, LayerDigests};
use layerscope_core::model::digest::Digest;

const PLANS: [ExternalPlan; 5] = [
    ExternalPlan {
        reverse: false,
        split: false,
        digests_first: false,
        digests_after_done: false,
        through_buffers: false,
    },
    ExternalPlan {
        reverse: true,
        split: false,
        digests_first: false,
        digests_after_done: false,
        through_buffers: true,
    },
    ExternalPlan {
        reverse: true,
        split: true,
        digests_first: false,
        digests_after_done: false,
        through_buffers: true,
    },
    ExternalPlan {
        reverse: false,
        split: true,
        digests_first: true,
        digests_after_done: false,
        through_buffers: false,
    },
    ExternalPlan {
        reverse: true,
        split: true,
        digests_first: false,
        digests_after_done: true,
        through_buffers: true,
    },
];

/// Every archive file among the peer fixtures, with the image to pick (all of a bundle's).
fn peer_archives() -> Vec<(PathBuf, Option<ImageSelector>)> {
    let mut found = Vec::new();
    let mut pending = vec![peers()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "tar") {
                found.push(path);
            }
        }
    }
    found.sort();
    let mut runs = Vec::new();
    for path in found {
        let images = run(&path, None, false, usize::MAX)
            .listed
            .map_or(0, |listed| listed.len());
        runs.push((path.clone(), None));
        for index in 1..images {
            runs.push((path.clone(), Some(ImageSelector::Index(index))));
        }
    }
    runs
}

#[test]
fn every_peer_archive_gives_the_same_report_scanned_elsewhere() {
    let mut compared = 0;
    let mut refused = 0;
    for (path, selector) in peer_archives() {
        let expected = run(&path, selector.clone(), false, usize::MAX);
        for plan in PLANS {
            let external = run_external(&path, selector.clone(), plan);
            let what = format!("{} {selector:?} {plan:?}", path.display());
            match (&expected.result, &external.result) {
                (Ok(expected_report), Ok(report)) => {
                    assert_eq!(report, expected_report, "{what}");
                    assert!(report.unverified_layers.is_empty(), "{what}");
                    assert_eq!(external.layers_scanned, report.layers.len(), "{what}");
                    compared += 1;
                }
                (Err(expected_error), Err(error)) => {
                    assert_eq!(error.to_string(), expected_error.to_string(), "{what}");
                    refused += 1;
                }
                (expected, got) => panic!("{what}: expected {expected:?}, got {got:?}"),
            }
        }
    }
    // 20 images load (a bundle's counted one by one; go-containerregistry's archive whose
    // config is not named by its digest is shown, marked) and 5 archives are refused (not
    // images, or broken), in every plan.
    assert_eq!(compared, 20 * PLANS.len(), "{compared} compared");
    assert_eq!(refused, 5 * PLANS.len(), "{refused} refused");
}

/// Reads the layer of a job from the archive file.
fn job_bytes(file: &mut File, offset: u64, len: u64) -> Vec<u8> {
    let mut bytes = vec![0; len as usize];
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.read_exact(&mut bytes).unwrap();
    bytes
}

/// Drives the reader to its layer jobs.
fn to_jobs(
    reader: &mut ArchiveReader,
    file: &mut File,
) -> Vec<layerscope_core::archive::LayerScanJob> {
    loop {
        match reader.next_step() {
            Step::Read { offset, len } => {
                let bytes = job_bytes(file, offset, len);
                reader.supply(offset, &bytes).unwrap();
            }
            Step::ScanLayers(jobs) => return jobs,
            Step::Failed(error) => panic!("{error}"),
            _ => {}
        }
    }
}

#[test]
fn the_tree_is_done_before_the_hashes_and_verified_only_after() {
    let path = peer("dive/.data/test-docker-image.tar");
    let mut file = File::open(&path).unwrap();
    let mut reader = ArchiveReader::new(file.metadata().unwrap().len()).with_external_scans();
    let jobs = to_jobs(&mut reader, &mut file);
    assert_eq!(jobs.len(), 14);
    assert!(matches!(
        reader.next_step(),
        Step::AwaitingScans { outstanding: 14 }
    ));
    let mut digests = Vec::new();
    for job in &jobs {
        let blob = job_bytes(&mut file, job.offset, job.len);
        let options = job.options.clone().with_hashing(Hashing::EntriesOnly);
        reader
            .layer_scanned(job.index, scan_chunks([&blob], options))
            .unwrap();
        let mut pass = DigestScanner::new(job.options.clone());
        pass.push(&blob).unwrap();
        digests.push(pass.finish().unwrap());
    }
    let mut first_done = None;
    while first_done.is_none() {
        match reader.next_step() {
            Step::LayerScanned(row) => assert!(row.scanned),
            Step::Progress(_) => {}
            Step::Done(report) => first_done = Some(report),
            other => panic!("{other:?}"),
        }
    }
    let tree_first = first_done.unwrap();
    assert!(tree_first.complete);
    assert_eq!(tree_first.unverified_layers, (0..14).collect::<Vec<_>>());
    assert!(!tree_first.verified());
    // Only the config has been checked; the files and figures are all there.
    assert_eq!(tree_first.verification.len(), 1);
    assert!(tree_first.files.iter().any(|f| f.path == "root/saved.txt"));
    assert_eq!(tree_first.efficiency.as_ref().unwrap().wasted_bytes, 32025);

    for (layer, digests) in digests.iter().enumerate().rev() {
        reader.layer_digests(layer, digests).unwrap();
        let Step::Done(report) = reader.next_step() else {
            panic!("Done repeats after the report");
        };
        assert_eq!(report.unverified_layers.len(), layer);
    }
    let Step::Done(verified) = reader.next_step() else {
        panic!("Done repeats");
    };
    assert!(verified.verified());
    assert_eq!(*verified, load(&path));
}

#[test]
fn a_digest_that_does_not_match_is_marked_naming_the_layer() {
    let path = peer("dive/.data/test-oci-gzip-image.tar");
    let mut file = File::open(&path).unwrap();
    let mut reader = ArchiveReader::new(file.metadata().unwrap().len()).with_external_scans();
    let jobs = to_jobs(&mut reader, &mut file);
    let mut digests = Vec::new();
    for job in &jobs {
        let blob = job_bytes(&mut file, job.offset, job.len);
        let entries = scan_chunks(
            [&blob],
            job.options.clone().with_hashing(Hashing::EntriesOnly),
        );
        reader.layer_scanned(job.index, entries).unwrap();
        let mut pass = DigestScanner::new(job.options.clone());
        pass.push(&blob).unwrap();
        digests.push(pass.finish().unwrap());
    }
    let forged = LayerDigests {
        blob_digest: Digest::sha256_of(b"not the layer"),
        diff_id: Digest::sha256_of(b"not the tar"),
        verifications: Vec::new(),
    };
    // Layer 0's digests forged, the others right, in any order: shown, layer 0 marked.
    reader
        .layer_digests(0, &forged)
        .expect("a mismatch is marked, not refused");
    for (layer, right) in digests.iter().enumerate().skip(1) {
        reader.layer_digests(layer, right).unwrap();
    }
    let report = loop {
        match reader.next_step() {
            Step::Done(report) => break report,
            Step::Failed(error) => panic!("refused: {error}"),
            _ => {}
        }
    };
    assert!(report.unverified_layers.is_empty());
    assert!(!report.verified());
    let bad: Vec<_> = report.verification.iter().filter(|v| !v.ok).collect();
    assert_eq!(bad.len(), 2, "{:?}", report.verification);
    assert!(bad
        .iter()
        .all(|v| v.subject.starts_with("layer 0 (blobs/sha256/")));
    assert_eq!(bad[0].actual_text(), forged.blob_digest.to_string());
    assert_eq!(bad[0].expected_text(), digests[0].blob_digest.to_string());
    assert_eq!(bad[1].actual_text(), forged.diff_id.to_string());
    // The layer row keeps the digest read.
    assert_eq!(report.layers[0].digest, Some(forged.blob_digest.clone()));
}

#[test]
fn misplaced_scans_are_refused_with_what_was_wrong() {
    let path = peer("dive/.data/test-docker-image.tar");
    let mut file = File::open(&path).unwrap();

    // A reader that scans its own layers takes no scans.
    let mut own = ArchiveReader::new(file.metadata().unwrap().len());
    let error = own
        .layer_scanned(0, scan_chunks([b"".as_slice()], Default::default()))
        .unwrap_err();
    assert!(
        error.to_string().contains("scans its layers itself"),
        "{error}"
    );

    let mut reader = ArchiveReader::new(file.metadata().unwrap().len()).with_external_scans();
    let jobs = to_jobs(&mut reader, &mut file);
    let blob = job_bytes(&mut file, jobs[1].offset, jobs[1].len);
    let error = reader
        .layer_scanned(14, scan_chunks([&blob], jobs[1].options.clone()))
        .unwrap_err();
    assert!(
        error.to_string().contains("the image has 14 layers"),
        "{error}"
    );

    let mut reader = ArchiveReader::new(file.metadata().unwrap().len()).with_external_scans();
    let jobs = to_jobs(&mut reader, &mut file);
    let blob = job_bytes(&mut file, jobs[1].offset, jobs[1].len);
    reader
        .layer_scanned(1, scan_chunks([&blob], jobs[1].options.clone()))
        .unwrap();
    let error = reader
        .layer_scanned(1, scan_chunks([&blob], jobs[1].options.clone()))
        .unwrap_err();
    assert!(error.to_string().contains("scanned twice"), "{error}");

    // A scan that failed in a worker fails the reader with the scanner's reason.
    let mut reader = ArchiveReader::new(file.metadata().unwrap().len()).with_external_scans();
    let jobs = to_jobs(&mut reader, &mut file);
    let blob = job_bytes(&mut file, jobs[0].offset, jobs[0].len);
    let cut = scan_chunks([&blob[..700]], jobs[0].options.clone());
    let error = reader.layer_scanned(0, cut).unwrap_err();
    assert!(error.to_string().starts_with("layer 0 ("), "{error}");
    assert!(error.to_string().contains("truncated"), "{error}");
}

#[test]
fn a_compressed_archive_is_scanned_as_it_streams_even_when_asked_otherwise() {
    let original = peer("dive/.data/test-docker-image.tar");
    let scratch = TempDir::new("external-gz");
    let compressed = scratch.path().join("image.tar.gz");
    let output = std::process::Command::new("gzip")
        .arg("-c")
        .arg(&original)
        .output()
        .unwrap();
    std::fs::write(&compressed, output.stdout).unwrap();
    let external = run_external(&compressed, None, PLANS[2]);
    let expected = run(&compressed, None, false, usize::MAX);
    assert_eq!(external.result.unwrap(), expected.result.unwrap());
    assert!(external.streamed);
}
