//! [`ArchiveReader`]: the sans-IO state machine its caller drives with reads.
//!
//! Each [`Stage`] carries the data it works on, as quinn-proto's connection states do: the
//! header walk its tar decoder, the listed stage the image plan, the layer stage the
//! analysis and the layer being read, the finished stage the report or the refusal. What
//! lives beside the stage is only what every stage shares: where the bytes come from, the
//! member index, the one outstanding read and the queue of steps for the caller.

use std::collections::VecDeque;

use super::members::{Member, Members, Need};
use super::plan::{plan_listing, Listing};
use super::stream::ArchiveStream;
use super::walk::{HeaderWalk, WalkRead};
use super::{
    ArchiveError, DirectoryFile, FileSpan, ImageSelector, LayerLocation, LayerScanJob, Phase,
    Progress, SourceFormat, Step, LAYER_CHUNK_BYTES,
};
use crate::engine::codec::{self, Compression};
use crate::engine::scan::{LayerDigests, LayerError, LayerSummary, Scanner};
use crate::engine::tar::{normalize_path, BLOCK};
use crate::engine::tree::FileTrees;
use crate::limits::{Limit, Limits};
use crate::model::reference::Reference;
use crate::present::analysis::{Analysis, AnalysisError, FinishedImage};
use crate::present::inspect::NONE;
use crate::present::report::SourceInfo;

/// How bytes reach the reader.
enum Source {
    /// Any range can be read (a file, a Blob).
    Random { total_len: u64 },
    /// A layout directory presented as a virtual concatenation of its files.
    Directory { total_len: u64 },
    /// Bytes arrive once, in order (compressed archive or a pipe).
    Stream(Box<ArchiveStream>),
}

/// Where the reader is, with what it works on.
enum Stage {
    /// Need the first block to tell a tar from a compressed archive.
    Sniff,
    /// Walking the outer tar's headers (random access only).
    Walking(Box<HeaderWalk>),
    /// Reading documents until the image list is known.
    Documents,
    /// Images listed; the caller may choose one before the next step.
    Listed {
        listing: Listing,
        chosen: Option<usize>,
    },
    /// Reading the chosen image's config.
    Config { listing: Listing, image: usize },
    /// The layers are with the caller ([`ArchiveReader::with_external_scans`]); `layers`
    /// says which scans are back.
    AwaitingScans {
        analysis: Box<Analysis>,
        layers: Vec<ExternalLayer>,
    },
    /// Scanning layer `layer` of the chosen image.
    Layers {
        analysis: Box<Analysis>,
        layer: usize,
        scan: LayerScan,
    },
    /// The report (and the trees until the caller takes them), or why there is none; every
    /// later step repeats it.
    Finished(Result<Box<FinishedImage>, ArchiveError>),
}

/// Who scans the chosen image's layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScanMode {
    /// The reader, one after the other, asking for their bytes.
    Internal,
    /// The caller, any number at once ([`Step::ScanLayers`]).
    External,
}

/// A layer handed to the caller to scan.
struct ExternalLayer {
    /// The archive member, for messages and the report.
    member: String,
    len: u64,
    scanned: bool,
}

/// What a layer's digests are checked against once the report is done (the entries of
/// every layer can be in before the digests of any).
#[derive(Default)]
struct LateDigests {
    verifier: crate::present::verification::LayerVerifier,
    members: Vec<String>,
}

/// Where the current layer is.
enum LayerScan {
    /// Not started.
    Next,
    /// Its bytes are being read into the scanner, `done` of `member.size` so far.
    Reading {
        scanner: Box<Scanner>,
        member: Member,
        done: u64,
    },
}

/// A read the reader has asked for and not yet fully received.
struct PendingRead {
    offset: u64,
    len: u64,
    purpose: Purpose,
    /// Bytes received so far, for purposes that need the whole range at once.
    partial: Vec<u8>,
}

impl PendingRead {
    fn new(offset: u64, len: u64, purpose: Purpose) -> PendingRead {
        PendingRead {
            offset,
            len,
            purpose,
            partial: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    Sniff,
    Walk,
    Document(String),
    LayerChunk,
    StreamChunk,
}

impl Purpose {
    fn describe(&self) -> String {
        match self {
            Purpose::Sniff => "the first tar header".into(),
            Purpose::Walk => "a tar header or a long-name or PAX record".into(),
            Purpose::Document(name) => format!("the content of {name}"),
            Purpose::LayerChunk => "layer content".into(),
            Purpose::StreamChunk => "the archive stream".into(),
        }
    }
}

/// One dropped or opened image archive, read through its caller. See the module docs of
/// [`crate::archive`].
pub struct ArchiveReader {
    source: Source,
    stage: Stage,
    members: Members,
    outbox: VecDeque<Step>,
    pending: Option<PendingRead>,
    bytes_read: u64,
    warnings: Vec<String>,
    /// The analysed image's layers, as its documents name them; empty until it is chosen.
    planned_layers: PlannedLayers,
    scan_mode: ScanMode,
    /// Empty until a report is done whose layers' digests are still due.
    late_digests: LateDigests,
    /// Bounds on what the archive may make the reader hold.
    limits: Limits,
}

/// The chosen image's layer members as the documents name them (links not yet followed).
#[derive(Default)]
struct PlannedLayers {
    paths: Vec<String>,
    /// The document that lists them, for messages.
    listed_by: String,
}

impl ArchiveReader {
    /// A reader for an archive of `total_len` bytes that can be read at any offset
    /// (a `File`, a `Blob`). Compressed archives are detected and then read front to back.
    pub fn new(total_len: u64) -> Self {
        Self::with(Source::Random { total_len }, Stage::Sniff)
    }

    /// A reader for an archive whose bytes arrive once, in order, with no known length
    /// (a pipe, a download). Gzip and zstd compression are detected from the first bytes.
    pub fn new_streaming() -> Self {
        Self::with(
            Source::Stream(Box::new(ArchiveStream::new(None))),
            Stage::Documents,
        )
    }

    /// A reader for an OCI layout directory, given its files. Reads address the files laid
    /// end to end in the given order; [`ArchiveReader::locate`] maps an offset back to a file.
    pub fn new_directory(files: Vec<DirectoryFile>) -> Result<Self, ArchiveError> {
        Self::new_directory_with_limits(files, Limits::DEFAULT)
    }

    /// [`ArchiveReader::new_directory`] within `limits` (see [`ArchiveReader::with_limits`]).
    pub fn new_directory_with_limits(
        files: Vec<DirectoryFile>,
        limits: Limits,
    ) -> Result<Self, ArchiveError> {
        limits.check(
            Limit::ArchiveEntries,
            "the layout directory",
            files.len() as u64,
        )?;
        let mut offset = 0u64;
        let mut members = Members::default();
        members.limits = limits;
        for file in files {
            members.add(Member {
                name: normalize_path(&file.path),
                kind: crate::engine::tar::EntryKind::File,
                data_offset: offset,
                size: file.size,
                link: None,
            })?;
            offset = offset.saturating_add(file.size);
        }
        let mut reader = Self::with(Source::Directory { total_len: offset }, Stage::Documents)
            .with_limits(limits);
        reader.members = members;
        Ok(reader)
    }

    fn with(source: Source, stage: Stage) -> Self {
        ArchiveReader {
            source,
            stage,
            members: Members::default(),
            outbox: VecDeque::new(),
            pending: None,
            bytes_read: 0,
            warnings: Vec::new(),
            planned_layers: PlannedLayers::default(),
            scan_mode: ScanMode::Internal,
            late_digests: LateDigests::default(),
            limits: Limits::DEFAULT,
        }
    }

    /// The same reader within `limits` instead of [`Limits::DEFAULT`]: member count,
    /// document sizes, layers and history of the image, names in its tars, zstd windows.
    /// Call it before the first [`ArchiveReader::next_step`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self.members.limits = limits;
        if let Source::Stream(stream) = &mut self.source {
            stream.set_limits(limits);
        }
        self
    }

    /// The same reader, but the chosen image's layers are scanned by the caller: after
    /// [`Step::Overview`] one [`Step::ScanLayers`] hands out every layer (its byte range and
    /// scan options), [`Step::AwaitingScans`] says results are due, and the caller hands each
    /// scan back with [`ArchiveReader::layer_scanned`] in any order, and, when it scanned
    /// without hashing, each layer's digests with [`ArchiveReader::layer_digests`], before or
    /// after (even after [`Step::Done`], which comes once every layer's entries are in).
    ///
    /// Only an archive read by ranges can hand out its layers; a compressed archive is read
    /// once front to back and scanned as it streams past, as without this mode.
    pub fn with_external_scans(mut self) -> Self {
        self.scan_mode = ScanMode::External;
        self
    }

    /// Bytes the caller has supplied so far (compressed bytes when streaming).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Size of the archive, when the caller gave it (also after switching to streaming).
    pub fn total_len(&self) -> Option<u64> {
        match &self.source {
            Source::Random { total_len } | Source::Directory { total_len } => Some(*total_len),
            Source::Stream(stream) => stream.total_len(),
        }
    }

    /// True when the archive is being read front to back instead of by ranges.
    pub fn is_streaming(&self) -> bool {
        matches!(self.source, Source::Stream(_))
    }

    /// For a layout directory: which file a virtual offset falls in.
    pub fn locate(&self, offset: u64) -> Option<FileSpan<'_>> {
        if !matches!(self.source, Source::Directory { .. }) {
            return None;
        }
        let member = self.members.at_offset(offset)?;
        Some(FileSpan {
            path: &member.name,
            offset: offset - member.data_offset,
            remaining: member.data_offset + member.size - offset,
        })
    }

    /// The stacked file trees of the analysed image, for tree views and searches
    /// ([`crate::present::tree_view`], [`crate::present::search`]), once [`Step::Done`] has been returned; `None` before.
    /// The trees move out: a second call returns empty trees.
    pub fn take_file_trees(&mut self) -> Option<FileTrees> {
        match &mut self.stage {
            Stage::Finished(Ok(finished)) => Some(std::mem::take(&mut finished.trees)),
            _ => None,
        }
    }

    /// Chooses the image to analyse. Call after [`Step::ImagesListed`] and before the next
    /// [`ArchiveReader::next_step`]; an unknown tag or index is an error and changes nothing.
    pub fn select_image(&mut self, selector: &ImageSelector) -> Result<usize, ArchiveError> {
        let Stage::Listed { listing, chosen } = &mut self.stage else {
            let detail = match self.stage {
                Stage::Sniff | Stage::Walking(_) | Stage::Documents => {
                    "select_image before the images were listed"
                }
                _ => "select_image after the analysis started",
            };
            return Err(ArchiveError::protocol(detail));
        };
        let available = || {
            listing
                .images
                .iter()
                .flat_map(|i| i.listing.tags.clone())
                .collect()
        };
        let index = match selector {
            ImageSelector::Index(i) if *i < listing.images.len() => *i,
            ImageSelector::Index(i) => {
                return Err(ArchiveError::ImageNotFound {
                    wanted: format!("#{i}"),
                    available: available(),
                })
            }
            ImageSelector::Tag(wanted) => listing
                .images
                .iter()
                .position(|i| i.listing.tags.iter().any(|t| same_reference(t, wanted)))
                .ok_or_else(|| ArchiveError::ImageNotFound {
                    wanted: wanted.clone(),
                    available: available(),
                })?,
        };
        *chosen = Some(index);
        Ok(index)
    }

    /// Where layer `layer` (0 for the bottom one) of the analysed image is in the archive, so
    /// its bytes can be read again (a file viewer's [`crate::archive::FileFetch`]). Known from
    /// [`Step::Overview`] on; before, or for a layer the image does not have, a
    /// [`ArchiveError::Protocol`] error.
    pub fn layer_location(&self, layer: usize) -> Result<LayerLocation, ArchiveError> {
        let planned = &self.planned_layers;
        let path = planned.paths.get(layer).ok_or_else(|| {
            ArchiveError::protocol(if planned.paths.is_empty() {
                format!("layer {layer} asked for before the image's layers were planned")
            } else {
                format!(
                    "layer {layer} asked for, but the image has {} layers",
                    planned.paths.len()
                )
            })
        })?;
        let member = self.members.blob(path, &planned.listed_by)?;
        let (name, offset, len) = (member.name.clone(), member.data_offset, member.size);
        Ok(match &self.source {
            Source::Stream(stream) if stream.compression() != Compression::None => {
                LayerLocation::Compressed {
                    member: name,
                    compression: stream.compression(),
                    offset,
                    len,
                }
            }
            _ => LayerLocation::Range {
                member: name,
                offset,
                len,
            },
        })
    }

    /// [`ArchiveReader::layer_location`] of every layer, bottom first.
    pub fn layer_locations(&self) -> Result<Vec<LayerLocation>, ArchiveError> {
        (0..self.planned_layers.paths.len())
            .map(|layer| self.layer_location(layer))
            .collect()
    }

    /// What the caller must do next. See [`Step`].
    pub fn next_step(&mut self) -> Step {
        if let Stage::Finished(Err(error)) = &self.stage {
            return Step::Failed(error.clone());
        }
        if let Some(step) = self.outbox.pop_front() {
            return step;
        }
        if let Stage::Finished(Ok(finished)) = &self.stage {
            return Step::Done(Box::new(finished.report.clone()));
        }
        if let Some(pending) = &self.pending {
            // A short read is continued where it stopped (layer chunks are asked afresh).
            let received = match pending.purpose {
                Purpose::LayerChunk => 0,
                _ => pending.partial.len() as u64,
            };
            return Step::Read {
                offset: pending.offset + received,
                len: pending.len - received,
            };
        }
        if let Stage::AwaitingScans { layers, .. } = &self.stage {
            let outstanding = layers.iter().filter(|layer| !layer.scanned).count();
            return Step::AwaitingScans { outstanding };
        }
        match self.advance() {
            Ok(Some(read)) => {
                let step = Step::Read {
                    offset: read.offset,
                    len: read.len,
                };
                self.pending = Some(read);
                // Anything queued while advancing (progress, listings) goes out first.
                self.outbox.pop_front().unwrap_or(step)
            }
            Ok(None) => match (self.outbox.pop_front(), &self.stage) {
                (Some(step), _) => step,
                (None, Stage::Finished(Ok(finished))) => {
                    Step::Done(Box::new(finished.report.clone()))
                }
                (None, _) => self.fail(ArchiveError::protocol(
                    "the reader stalled (no read and no result)",
                )),
            },
            Err(error) => self.fail(error),
        }
    }

    /// One layer's scan from a [`Step::ScanLayers`] job (see
    /// [`ArchiveReader::with_external_scans`]); its row comes as [`Step::LayerScanned`] and,
    /// once every layer is in, the report as [`Step::Done`]. A scan whose digests were
    /// skipped leaves the layer unverified until [`ArchiveReader::layer_digests`].
    pub fn layer_scanned(
        &mut self,
        layer: usize,
        result: Result<LayerSummary, LayerError>,
    ) -> Result<(), ArchiveError> {
        let outcome = self.on_layer_scanned(layer, result);
        if let Err(error) = &outcome {
            self.fail(error.clone());
        }
        outcome
    }

    /// One layer's digests from a digest-only pass ([`crate::engine::scan::DigestScanner`])
    /// over a [`Step::ScanLayers`] job's bytes, before or after its entries, and also after
    /// [`Step::Done`] (later `Done` steps then carry the updated verification). A digest
    /// that does not match fails the reader, as it would in a full scan.
    pub fn layer_digests(
        &mut self,
        layer: usize,
        digests: &LayerDigests,
    ) -> Result<(), ArchiveError> {
        let outcome = self.on_layer_digests(layer, digests);
        if let Err(error) = &outcome {
            self.fail(error.clone());
        }
        outcome
    }

    fn on_layer_scanned(
        &mut self,
        layer: usize,
        result: Result<LayerSummary, LayerError>,
    ) -> Result<(), ArchiveError> {
        let Stage::AwaitingScans { analysis, layers } = &mut self.stage else {
            return Err(self.misplaced_scan(layer, "scan"));
        };
        let count = layers.len();
        let job = layers.get_mut(layer).ok_or_else(|| {
            ArchiveError::protocol(format!(
                "layer {layer} scanned, but the image has {count} layers"
            ))
        })?;
        if job.scanned {
            return Err(ArchiveError::protocol(format!(
                "layer {layer} scanned twice"
            )));
        }
        job.scanned = true;
        // The caller read the layer's bytes; the report counts them as the reader would.
        self.bytes_read += job.len;
        let result = match result {
            // The digests are checked by the analysis, which names the layer.
            Err(LayerError::DigestMismatch { summary, .. }) => Ok(*summary),
            other => other,
        };
        let row = analysis.add_layer(layer, &job.member, result)?;
        self.outbox.push_back(Step::LayerScanned(Box::new(row)));
        if layers.iter().all(|job| job.scanned) {
            let Stage::AwaitingScans { analysis, layers } =
                std::mem::replace(&mut self.stage, Stage::Sniff)
            else {
                unreachable!("matched above");
            };
            self.late_digests = LateDigests {
                verifier: analysis.verifier().clone(),
                members: layers.into_iter().map(|job| job.member).collect(),
            };
            let report = analysis.finish(self.bytes_read)?;
            self.stage = Stage::Finished(Ok(Box::new(report)));
            self.progress(Phase::Finished, format!("analysed {count} layers"));
        }
        Ok(())
    }

    fn on_layer_digests(
        &mut self,
        layer: usize,
        digests: &LayerDigests,
    ) -> Result<(), ArchiveError> {
        match &mut self.stage {
            Stage::AwaitingScans { analysis, layers } => {
                let member = layers.get(layer).map_or("", |job| job.member.as_str());
                analysis.add_layer_digests(layer, member, digests)?;
            }
            Stage::Finished(Ok(finished)) if !self.late_digests.members.is_empty() => {
                let late = &mut self.late_digests;
                let member = late.members.get(layer).map_or("", String::as_str);
                late.verifier.check(layer, member, digests)?;
                late.verifier.update_report(&mut finished.report);
            }
            _ => return Err(self.misplaced_scan(layer, "digests")),
        }
        Ok(())
    }

    fn misplaced_scan(&self, layer: usize, what: &str) -> ArchiveError {
        let detail = match (&self.stage, self.scan_mode) {
            (_, ScanMode::Internal) => {
                format!("layer {layer}'s {what} given, but this reader scans its layers itself")
            }
            (Stage::Finished(_), ScanMode::External) => {
                format!("layer {layer}'s {what} given after the reader finished")
            }
            _ => format!("layer {layer}'s {what} given before the layers were handed out"),
        };
        ArchiveError::protocol(detail)
    }

    /// Hands every layer of the image to the caller to scan.
    fn hand_out_layers(&mut self, analysis: Box<Analysis>) -> Result<(), ArchiveError> {
        let count = analysis.layer_count();
        let mut jobs = Vec::with_capacity(count);
        let mut layers = Vec::with_capacity(count);
        for index in 0..count {
            let LayerLocation::Range {
                member,
                offset,
                len,
            } = self.layer_location(index)?
            else {
                return Err(ArchiveError::protocol(
                    "a layer of a compressed archive cannot be handed out",
                ));
            };
            jobs.push(LayerScanJob {
                index,
                member: member.clone(),
                offset,
                len,
                options: analysis.scan_options(index),
            });
            layers.push(ExternalLayer {
                member,
                len,
                scanned: false,
            });
        }
        self.stage = Stage::AwaitingScans { analysis, layers };
        self.progress(
            Phase::ScanningLayers,
            format!("{count} layers handed out to scan"),
        );
        self.outbox.push_back(Step::ScanLayers(jobs));
        Ok(())
    }

    fn fail(&mut self, error: ArchiveError) -> Step {
        self.stage = Stage::Finished(Err(error.clone()));
        self.pending = None;
        Step::Failed(error)
    }

    /// Answers the last [`Step::Read`]: `bytes` start at `offset`. Fewer bytes than asked are
    /// fine; an empty slice means end of file. Errors are also returned by later `next_step`s.
    pub fn supply(&mut self, offset: u64, bytes: &[u8]) -> Result<(), ArchiveError> {
        if let Stage::Finished(Err(error)) = &self.stage {
            return Err(error.clone());
        }
        let result = self.supply_inner(offset, bytes);
        if let Err(error) = &result {
            self.fail(error.clone());
        }
        result
    }

    fn supply_inner(&mut self, offset: u64, bytes: &[u8]) -> Result<(), ArchiveError> {
        let mut pending = self.pending.take().ok_or_else(|| {
            ArchiveError::protocol(format!("supply at offset {offset} without a pending read"))
        })?;
        let expected_offset = match pending.purpose {
            Purpose::LayerChunk => pending.offset,
            _ => pending.offset + pending.partial.len() as u64,
        };
        if offset != expected_offset {
            return Err(ArchiveError::protocol(format!(
                "supplied bytes at offset {offset}, but the reader asked for offset {expected_offset}"
            )));
        }
        self.bytes_read += bytes.len() as u64;
        if pending.purpose == Purpose::StreamChunk {
            return self.stream_supply(bytes);
        }
        if bytes.is_empty() {
            return Err(ArchiveError::Truncated {
                offset,
                detail: format!(
                    "{} more bytes were expected ({})",
                    pending.len - pending.partial.len() as u64,
                    pending.purpose.describe()
                ),
            });
        }
        if pending.purpose == Purpose::LayerChunk {
            let take = bytes.len().min(pending.len as usize);
            return self.layer_chunk(&bytes[..take]);
        }
        let want = pending.len as usize - pending.partial.len();
        pending
            .partial
            .extend_from_slice(&bytes[..bytes.len().min(want)]);
        if pending.partial.len() < pending.len as usize {
            self.pending = Some(pending);
            return Ok(());
        }
        let data = pending.partial;
        match pending.purpose {
            Purpose::Sniff => self.on_first_block(&data),
            Purpose::Walk => self.on_walk_bytes(&data),
            Purpose::Document(name) => self.members.store_document(name, data),
            Purpose::LayerChunk | Purpose::StreamChunk => unreachable!("handled above"),
        }
    }

    fn progress(&mut self, phase: Phase, message: String) {
        let (layer, layer_bytes) = match &self.stage {
            Stage::Layers {
                analysis,
                layer,
                scan,
            } => (
                Some((*layer, analysis.layer_count())),
                match scan {
                    LayerScan::Reading { member, done, .. } => Some((*done, member.size)),
                    LayerScan::Next => None,
                },
            ),
            _ => (None, None),
        };
        self.push_progress(phase, layer, layer_bytes, message);
    }

    fn push_progress(
        &mut self,
        phase: Phase,
        layer: Option<(usize, usize)>,
        layer_bytes: Option<(u64, u64)>,
        message: String,
    ) {
        self.outbox.push_back(Step::Progress(Progress {
            phase,
            bytes_read: self.bytes_read,
            total_bytes: self.total_len(),
            streamed: self.is_streaming(),
            layer,
            layer_bytes,
            message,
        }));
    }

    fn random_len(&self) -> u64 {
        match &self.source {
            Source::Random { total_len } | Source::Directory { total_len } => *total_len,
            Source::Stream(_) => 0,
        }
    }
}

// Driving the stages.
impl ArchiveReader {
    /// Moves through the stages until a read is needed or something is queued for the caller.
    fn advance(&mut self) -> Result<Option<PendingRead>, ArchiveError> {
        loop {
            if !self.outbox.is_empty() || matches!(self.stage, Stage::Finished(_)) {
                return Ok(None);
            }
            if let Source::Stream(stream) = &self.source {
                if !stream.ended() {
                    let offset = stream.consumed();
                    return Ok(Some(PendingRead::new(
                        offset,
                        LAYER_CHUNK_BYTES,
                        Purpose::StreamChunk,
                    )));
                }
            }
            match std::mem::replace(&mut self.stage, Stage::Sniff) {
                Stage::Sniff => {
                    let total_len = self.random_len();
                    if total_len == 0 {
                        return Err(ArchiveError::NotAnImage {
                            detail: "The file is empty.".into(),
                        });
                    }
                    self.progress(Phase::Detecting, "reading the first header".into());
                    let len = total_len.min(BLOCK as u64);
                    return Ok(Some(PendingRead::new(0, len, Purpose::Sniff)));
                }
                Stage::Walking(mut walk) => {
                    match walk.next_read(self.random_len(), &self.members)? {
                        WalkRead::Bytes { offset, len } => {
                            self.stage = Stage::Walking(walk);
                            return Ok(Some(PendingRead::new(offset, len, Purpose::Walk)));
                        }
                        WalkRead::End => {
                            self.stage = Stage::Documents;
                            let message = format!("indexed {} archive entries", self.members.len());
                            self.progress(Phase::ReadingDocuments, message);
                        }
                    }
                }
                Stage::Documents => match plan_listing(&self.members) {
                    Ok(listing) => self.announce_listing(listing),
                    Err(Need::Document(name)) => {
                        self.stage = Stage::Documents;
                        return self.document_read(name).map(Some);
                    }
                    Err(Need::Fail(error)) => return Err(error),
                },
                Stage::Listed { listing, chosen } => {
                    let image = chosen.unwrap_or_else(|| self.choose_default(&listing));
                    self.stage = Stage::Config { listing, image };
                }
                Stage::Config { listing, image } => match self.start_analysis(&listing, image) {
                    Ok(analysis) => {
                        self.progress(Phase::ReadingConfig, "read the image config".into());
                        let overview = analysis.report().clone();
                        self.outbox.push_back(Step::Overview(Box::new(overview)));
                        let external = self.scan_mode == ScanMode::External && !self.is_streaming();
                        if external && analysis.layer_count() > 0 {
                            self.hand_out_layers(Box::new(analysis))?;
                        } else {
                            self.stage = Stage::Layers {
                                analysis: Box::new(analysis),
                                layer: 0,
                                scan: LayerScan::Next,
                            };
                        }
                    }
                    Err(Need::Document(name)) => {
                        self.stage = Stage::Config { listing, image };
                        return self.document_read(name).map(Some);
                    }
                    Err(Need::Fail(error)) => return Err(error),
                },
                Stage::Layers {
                    analysis,
                    layer,
                    scan,
                } => {
                    if let Some(read) = self.layer_step(analysis, layer, scan)? {
                        return Ok(Some(read));
                    }
                }
                awaiting @ Stage::AwaitingScans { .. } => {
                    self.stage = awaiting;
                    return Ok(None);
                }
                finished @ Stage::Finished(_) => {
                    self.stage = finished;
                    return Ok(None);
                }
            }
        }
    }

    fn announce_listing(&mut self, listing: Listing) {
        let images = listing.image_listings();
        self.warnings.extend(listing.warnings.iter().cloned());
        let message = format!(
            "{} archive with {} image{}",
            listing.format.name(),
            images.len(),
            if images.len() == 1 { "" } else { "s" }
        );
        self.stage = Stage::Listed {
            listing,
            chosen: None,
        };
        self.progress(Phase::ChoosingImage, message);
        self.outbox.push_back(Step::ImagesListed(images));
    }

    /// Without a choice the first image is analysed, with a warning when there are several.
    fn choose_default(&mut self, listing: &Listing) -> usize {
        if listing.images.len() > 1 {
            let first = listing.images[0]
                .listing
                .tags
                .first()
                .map_or(NONE, String::as_str);
            self.warnings.push(format!(
                "the archive holds {} images; analysing the first ({first}); choose another by tag or index",
                listing.images.len()
            ));
        }
        0
    }

    fn document_read(&self, name: String) -> Result<PendingRead, ArchiveError> {
        let member = self.members.get(&name).ok_or_else(|| {
            ArchiveError::protocol(format!("document {name} vanished from the index"))
        })?;
        if self.is_streaming() {
            return Err(ArchiveError::bad_document(
                name,
                "its content does not start like a JSON document",
            ));
        }
        Ok(PendingRead::new(
            member.data_offset,
            member.size,
            Purpose::Document(name),
        ))
    }

    fn start_analysis(&mut self, listing: &Listing, image: usize) -> Result<Analysis, Need> {
        let plan = listing.images[image].clone();
        let config = self
            .members
            .document(&plan.config.path, &plan.listed_by)?
            .to_vec();
        let source = SourceInfo {
            format: match self.source {
                Source::Directory { .. } => SourceFormat::OciLayoutDirectory,
                _ => listing.format,
            },
            compression: match &self.source {
                Source::Stream(stream) => stream.compression(),
                _ => Compression::None,
            },
            streamed: self.is_streaming(),
            bytes_read: self.bytes_read,
            total_bytes: self.total_len(),
        };
        // The manifest was read to plan the image, so it is at hand; without it the view of
        // the documents just lacks it.
        let manifest = self
            .members
            .document(&plan.manifest, &plan.listed_by)
            .ok()
            .map(<[u8]>::to_vec);
        self.limits
            .check(Limit::Layers, &plan.listed_by, plan.layers.len() as u64)
            .map_err(ArchiveError::from)?;
        self.planned_layers = PlannedLayers {
            paths: plan.layers.iter().map(|layer| layer.path.clone()).collect(),
            listed_by: plan.listed_by.clone(),
        };
        let config_name = plan.config.path.clone();
        let mut analysis = Analysis::new(plan, &config, listing.image_listings(), image, source)
            .map_err(ArchiveError::from)?
            .with_limits(self.limits);
        self.limits
            .check(
                Limit::History,
                &format!("the history in {config_name}"),
                analysis.history_len() as u64,
            )
            .map_err(ArchiveError::from)?;
        if let Some(manifest) = manifest {
            analysis.add_manifest(&manifest);
        }
        analysis.add_warnings(self.warnings.iter().cloned());
        Ok(analysis)
    }

    /// Works on layer `layer`: a read of its next chunk, or (when it is done) its row queued
    /// and the stage moved on.
    fn layer_step(
        &mut self,
        mut analysis: Box<Analysis>,
        layer: usize,
        scan: LayerScan,
    ) -> Result<Option<PendingRead>, ArchiveError> {
        let count = analysis.layer_count();
        if layer == count {
            let finished = analysis.finish(self.bytes_read)?;
            self.stage = Stage::Finished(Ok(Box::new(finished)));
            self.progress(Phase::Finished, format!("analysed {count} layers"));
            return Ok(None);
        }
        let (scanner, member, done) = match scan {
            LayerScan::Reading {
                scanner,
                member,
                done,
            } => (scanner, member, done),
            LayerScan::Next => {
                let (path, listed_by) = analysis.layer_path(layer);
                let member = self.members.blob(path, listed_by)?.clone();
                if let Source::Stream(stream) = &mut self.source {
                    let scanned = stream.take_scanned(&member.name).ok_or_else(|| {
                        ArchiveError::MissingFile {
                            file: member.name.clone(),
                            referenced_by: listed_by.to_string(),
                        }
                    })?;
                    let row = analysis.add_layer(layer, &member.name, scanned)?;
                    self.outbox.push_back(Step::LayerScanned(Box::new(row)));
                    self.stage = Stage::Layers {
                        analysis,
                        layer: layer + 1,
                        scan: LayerScan::Next,
                    };
                    return Ok(None);
                }
                let message = format!("scanning layer {} of {count} ({})", layer + 1, member.name);
                self.push_progress(
                    Phase::ScanningLayers,
                    Some((layer, count)),
                    Some((0, member.size)),
                    message,
                );
                (Box::new(analysis.scanner(layer)), member, 0)
            }
        };
        if done < member.size {
            let read = PendingRead::new(
                member.data_offset + done,
                LAYER_CHUNK_BYTES.min(member.size - done),
                Purpose::LayerChunk,
            );
            self.stage = Stage::Layers {
                analysis,
                layer,
                scan: LayerScan::Reading {
                    scanner,
                    member,
                    done,
                },
            };
            return Ok(Some(read));
        }
        let row = analysis.finish_layer(layer, &member.name, *scanner)?;
        self.outbox.push_back(Step::LayerScanned(Box::new(row)));
        self.stage = Stage::Layers {
            analysis,
            layer: layer + 1,
            scan: LayerScan::Next,
        };
        Ok(None)
    }

    fn layer_chunk(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        let Stage::Layers {
            analysis,
            layer,
            scan:
                LayerScan::Reading {
                    scanner,
                    member,
                    done,
                },
        } = &mut self.stage
        else {
            return Err(ArchiveError::protocol(
                "layer bytes outside the layer stage",
            ));
        };
        scanner.push(bytes).map_err(|source| AnalysisError::Layer {
            index: *layer,
            file: member.name.clone(),
            source,
        })?;
        *done += bytes.len() as u64;
        let message = format!(
            "scanning layer {} of {}",
            *layer + 1,
            analysis.layer_count()
        );
        self.progress(Phase::ScanningLayers, message);
        Ok(())
    }
}

// The first block and the header walk (random access).
impl ArchiveReader {
    fn on_first_block(&mut self, data: &[u8]) -> Result<(), ArchiveError> {
        let compression = codec::sniff(data);
        if compression != Compression::None {
            let mut stream = ArchiveStream::new(Some(self.random_len()));
            stream.set_limits(self.limits);
            self.source = Source::Stream(Box::new(stream));
            self.stage = Stage::Documents;
            self.progress(
                Phase::Indexing,
                format!("the archive is {compression}-compressed: reading it once, front to back"),
            );
            return self.stream_supply(data);
        }
        if let Some(what) = codec::unsupported(data) {
            return Err(ArchiveError::NotAnImage {
                detail: format!("The file is {what}-compressed; decompress it first (gzip and zstd are read directly)."),
            });
        }
        if data.len() < BLOCK {
            return Err(ArchiveError::NotAnImage {
                detail: format!(
                    "The file is only {} bytes: too short to be a tar archive.",
                    data.len()
                ),
            });
        }
        self.stage = Stage::Walking(Box::new(HeaderWalk::new(&self.limits)));
        self.progress(Phase::Indexing, "walking the archive's headers".into());
        self.on_walk_bytes(data)
    }

    fn on_walk_bytes(&mut self, data: &[u8]) -> Result<(), ArchiveError> {
        let Stage::Walking(walk) = &mut self.stage else {
            return Err(ArchiveError::protocol(
                "header bytes outside the header walk",
            ));
        };
        let before = self.members.len();
        walk.supply(data, &mut self.members)?;
        let after = self.members.len();
        if after != before && after.is_multiple_of(4096) {
            self.progress(Phase::Indexing, format!("indexed {after} archive entries"));
        }
        Ok(())
    }

    fn stream_supply(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        let Source::Stream(stream) = &mut self.source else {
            return Err(ArchiveError::protocol(
                "stream bytes for a random-access reader",
            ));
        };
        if bytes.is_empty() {
            stream.finish()?;
        } else {
            stream.push(bytes)?;
        }
        let message = if stream.ended() {
            format!("read the whole {} archive", stream.describe())
        } else {
            format!(
                "streaming the {} archive: {} bytes read",
                stream.describe(),
                stream.consumed()
            )
        };
        let (members, documents, warnings) = stream.drain();
        for member in members {
            self.members.add(member)?;
        }
        for (name, data) in documents {
            self.members.store_document(name, data)?;
        }
        self.warnings.extend(warnings);
        self.progress(Phase::Indexing, message);
        Ok(())
    }
}

/// `busybox:latest` matches `docker.io/library/busybox:latest` and the other way round.
fn same_reference(listed: &str, wanted: &str) -> bool {
    if listed == wanted {
        return true;
    }
    match (Reference::parse(listed), Reference::parse(wanted)) {
        (Ok(a), Ok(b)) => a.full() == b.full(),
        _ => false,
    }
}
