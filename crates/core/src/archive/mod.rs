//! Reading `docker save` and OCI layout archives from their headers.
//!
//! [`ArchiveReader`] is a sans-IO state machine: it never reads anything itself. It tells its
//! caller which byte range it needs next ([`Step::Read`]); the caller reads that range from
//! wherever the archive lives (a `File`, a `Blob.slice` in a Web Worker) and hands the bytes
//! back with [`ArchiveReader::supply`]. The reader walks the outer tar's 512-byte headers and
//! skips contents, reads the small JSON documents whole (at most [`MAX_DOCUMENT_BYTES`] each),
//! lists the images, and then, for the chosen image, asks for each layer in chunks of at most
//! [`LAYER_CHUNK_BYTES`] and feeds them to the layer scanner. The caller needs no knowledge of
//! any format: it only answers reads and shows what comes back.
//!
//! Supported: legacy `docker save` (`manifest.json`, `<id>/layer.tar`, also a `layer.tar` that
//! is a symlink), Docker 25+ `docker save` (OCI layout plus `manifest.json`), OCI image layout
//! archives (`index.json`, nested indexes, `org.opencontainers.image.ref.name`), layers stored
//! uncompressed, gzip, zstd or estargz, and archives holding several images. When the archive
//! itself is gzip- or zstd-compressed there is no random access: the reader notices this from
//! the first bytes, switches to reading the archive once front to back (its reads become
//! consecutive chunks) and says so in [`Progress::streamed`].
//!
//! # Driving the reader
//!
//! ```no_run
//! use layerscope_core::archive::{ArchiveReader, ImageSelector, Step};
//! # fn read_at(offset: u64, len: u64) -> Vec<u8> { unimplemented!() }
//! # let total_len = 0u64;
//! let mut reader = ArchiveReader::new(total_len);
//! let report = loop {
//!     match reader.next_step() {
//!         Step::Read { offset, len } => {
//!             // Short reads are fine; an empty slice means "end of file".
//!             let bytes = read_at(offset, len);
//!             if let Err(error) = reader.supply(offset, &bytes) {
//!                 panic!("{error}");
//!             }
//!         }
//!         Step::Progress(progress) => eprintln!("{}", progress.message),
//!         Step::ImagesListed(images) => {
//!             // Pick one; if the caller does not, the first image is analysed.
//!             if images.len() > 1 {
//!                 reader.select_image(&ImageSelector::Index(0)).unwrap();
//!             }
//!         }
//!         Step::Overview(partial) => { /* image row, history, layer list without scan results */ }
//!         Step::LayerScanned(layer) => { /* one more layer row is final */ }
//!         Step::Done(report) => break report,
//!         Step::Failed(error) => panic!("{error}"),
//!     }
//! };
//! # let _ = report;
//! ```
//!
//! For an OCI layout *directory* (CLI only), build the reader with
//! [`ArchiveReader::new_directory`] from the list of files; reads then address a virtual
//! concatenation of those files and [`ArchiveReader::locate`] maps an offset back to a file.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use crate::model::digest::AnyDigest;
use crate::model::manifest::{Descriptor, Document, ImageManifest};
use crate::model::media::MediaKind;
use crate::present::report::{ImageListing, ImageReport, LayerReport};

/// Largest JSON document (manifest.json, index.json, a manifest, a config) the reader accepts.
pub const MAX_DOCUMENT_BYTES: u64 = 4 * 1024 * 1024;

/// Largest read the reader asks for while scanning a layer or streaming the archive.
pub const LAYER_CHUNK_BYTES: u64 = 2 * 1024 * 1024;

/// Most entries the outer archive may have; a real image archive has a few per layer and
/// blob, so this leaves room for layouts holding thousands of images.
pub const MAX_ARCHIVE_ENTRIES: usize = 200_000;

/// Most manifests and indexes followed from index.json (nested indexes included).
pub const MAX_MANIFESTS: usize = 4096;

/// Deepest nesting of indexes followed from index.json.
pub const MAX_INDEX_DEPTH: usize = 8;

/// Total bytes of JSON documents kept in memory at once.
const MAX_DOCUMENT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Longest GNU long name or PAX header the outer archive may carry.
const MAX_EXTENDED_HEADER_BYTES: u64 = 64 * 1024;

/// Most symlink hops followed when resolving a path inside the archive.
const MAX_LINK_HOPS: usize = 8;

const BLOCK: u64 = 512;

/// What the caller must do next.
#[derive(Debug, Clone)]
pub enum Step {
    /// Read `len` bytes at `offset` of the archive and pass them to [`ArchiveReader::supply`].
    /// Fewer bytes are fine (the reader asks again for the rest); an empty slice means the
    /// archive ends before `offset`. When streaming, reads are consecutive and `len` is only a
    /// suggestion.
    Read {
        /// Where the bytes start.
        offset: u64,
        /// How many bytes the reader would like.
        len: u64,
    },
    /// Something worth showing; no answer needed.
    Progress(Progress),
    /// The archive's images, with tags. Call [`ArchiveReader::select_image`] to pick one;
    /// without a choice the first is analysed (with a warning if there are several).
    ImagesListed(Vec<ImageListing>),
    /// The chosen image's config is read: the report has the image row, history, inspect
    /// object and the layer list, but no layer is scanned yet (`complete == false`).
    Overview(Box<ImageReport>),
    /// One layer has been scanned and verified.
    LayerScanned(Box<LayerReport>),
    /// The finished report. Further calls return `Done` again.
    Done(Box<ImageReport>),
    /// The archive was refused or a read failed. Further calls return the same error.
    Failed(ArchiveError),
}

/// Where the reader is, for a progress bar.
///
/// Serializable so a worker can post it to the page as it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// What the reader is doing.
    pub phase: Phase,
    /// Bytes of the archive consumed so far (compressed bytes when streaming).
    pub bytes_read: u64,
    /// Size of the archive when known.
    pub total_bytes: Option<u64>,
    /// True when the archive is read once front to back (compressed or not seekable).
    pub streamed: bool,
    /// The layer being scanned (0-based) and the layer count.
    pub layer: Option<(usize, usize)>,
    /// Bytes of the current layer done and its stored size.
    pub layer_bytes: Option<(u64, u64)>,
    /// One line for humans.
    pub message: String,
}

/// Phases of reading an archive, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Looking at the first bytes.
    Detecting,
    /// Walking the tar headers (or streaming the whole archive).
    Indexing,
    /// Reading manifest.json / index.json / manifests.
    ReadingDocuments,
    /// Waiting for the caller to pick an image.
    ChoosingImage,
    /// Reading the config.
    ReadingConfig,
    /// Scanning layers.
    ScanningLayers,
    /// Stacking layers and computing efficiency.
    Finishing,
    /// Finished or failed.
    Finished,
}

/// How to pick one image of several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSelector {
    /// Position in the [`Step::ImagesListed`] list.
    Index(usize),
    /// A `name:tag` as listed (`busybox:latest`); `docker.io/library/` may be left out.
    Tag(String),
}

/// The archive's container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// `docker save` before Docker 25: `manifest.json` and `<id>/layer.tar`.
    DockerSave,
    /// Docker 25+ `docker save`: an OCI layout plus `manifest.json`.
    DockerSaveOci,
    /// An OCI image layout (`index.json`, `blobs/`), from skopeo, buildx, podman...
    OciLayout,
}

impl ArchiveFormat {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ArchiveFormat::DockerSave => "docker-save",
            ArchiveFormat::DockerSaveOci => "docker-save-oci",
            ArchiveFormat::OciLayout => "oci-layout",
        }
    }
}

/// Compression of the outer archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OuterCompression {
    /// A plain tar.
    None,
    /// `docker save | gzip`.
    Gzip,
    /// `docker save | zstd`.
    Zstd,
}

impl OuterCompression {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            OuterCompression::None => "none",
            OuterCompression::Gzip => "gzip",
            OuterCompression::Zstd => "zstd",
        }
    }
}

/// One file of an OCI layout directory, for [`ArchiveReader::new_directory`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryFile {
    /// Path relative to the layout directory, `/`-separated (`blobs/sha256/ab12...`).
    pub path: String,
    /// File size in bytes.
    pub size: u64,
}

/// Where a virtual offset of a layout directory lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpan<'a> {
    /// Path relative to the layout directory.
    pub path: &'a str,
    /// Offset inside that file.
    pub offset: u64,
    /// Bytes left in that file from `offset`.
    pub remaining: u64,
}

/// Why an archive was refused or could not be read. Every message names the file, field,
/// digest or byte offset concerned. Field meanings: `file` is a member of the archive,
/// `detail` the reason in words, `offset` a byte offset in the (outer) archive.
#[derive(Debug, Clone, PartialEq)]
pub enum ArchiveError {
    /// Neither manifest.json nor index.json: not an image archive.
    NotAnImage {
        /// The whole message.
        detail: String,
    },
    /// A document lists no image at all (`null`, `[]`, empty index).
    NoImages {
        /// The document.
        file: String,
        /// What it holds instead.
        detail: String,
    },
    /// A JSON document that does not parse or lacks a required field.
    BadDocument {
        /// The document.
        file: String,
        /// What is wrong, with the field's path when there is one.
        detail: String,
    },
    /// A JSON document larger than [`MAX_DOCUMENT_BYTES`].
    DocumentTooLarge {
        /// The document.
        file: String,
        /// Its size in the archive.
        size: u64,
        /// [`MAX_DOCUMENT_BYTES`].
        limit: u64,
    },
    /// A file that a document refers to is not in the archive.
    MissingFile {
        /// The member that is missing.
        file: String,
        /// The document (and image) that names it.
        referenced_by: String,
    },
    /// Content that does not hash to the digest it should have.
    DigestMismatch {
        /// `manifest`, `config`, `layer` (stored blob) or `diff_id` (uncompressed tar).
        kind: String,
        /// The archive member or `layer N (member)`.
        subject: String,
        /// The digest the documents promise.
        expected: String,
        /// The digest of the bytes in the archive.
        actual: String,
    },
    /// A descriptor whose media type is neither an image manifest nor an index.
    UnknownMediaType {
        /// The media type as written.
        media_type: String,
        /// The descriptor's digest.
        digest: String,
        /// The index that lists it.
        referenced_by: String,
    },
    /// The outer tar is malformed.
    BadTar {
        /// Offset of the bad header.
        offset: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// The archive ends before the data a header announced.
    Truncated {
        /// Where the data stopped.
        offset: u64,
        /// What was being read.
        detail: String,
    },
    /// The outer compression stream is corrupt.
    Decompression {
        /// Compressed bytes consumed before the error.
        offset: u64,
        /// The decoder's message.
        detail: String,
    },
    /// A layer could not be scanned.
    Layer {
        /// Layer index, 0 for the bottom layer.
        index: usize,
        /// The layer's member in the archive.
        file: String,
        /// The scanner's message (it names the offset inside the layer).
        detail: String,
    },
    /// `select_image` named an image that is not there.
    ImageNotFound {
        /// The tag or `#index` asked for.
        wanted: String,
        /// Every tag the archive has.
        available: Vec<String>,
    },
    /// A bound on input-controlled counts or sizes was hit.
    TooLarge {
        /// What grew too large.
        what: String,
        /// The bound.
        limit: u64,
    },
    /// The caller broke the protocol (supplied the wrong offset, selected too late...).
    Protocol {
        /// What the caller did.
        detail: String,
    },
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveError::NotAnImage { detail } => write!(f, "{detail}"),
            ArchiveError::NoImages { file, detail } => write!(f, "{file}: {detail}"),
            ArchiveError::BadDocument { file, detail } => write!(f, "{file} is not valid: {detail}"),
            ArchiveError::DocumentTooLarge { file, size, limit } => write!(
                f,
                "{file} is {size} bytes; JSON documents larger than {limit} bytes are refused"
            ),
            ArchiveError::MissingFile { file, referenced_by } => {
                write!(f, "{referenced_by} refers to {file}, which is not in the archive")
            }
            ArchiveError::DigestMismatch { kind, subject, expected, actual } => write!(
                f,
                "{kind} digest mismatch for {subject}: expected {expected}, actual {actual}"
            ),
            ArchiveError::UnknownMediaType { media_type, digest, referenced_by } => write!(
                f,
                "{referenced_by} lists {digest} with unknown media type {media_type:?} (neither an image manifest nor an index)"
            ),
            ArchiveError::BadTar { offset, detail } => {
                write!(f, "the archive is not a valid tar at byte {offset}: {detail}")
            }
            ArchiveError::Truncated { offset, detail } => {
                write!(f, "the archive ends early at byte {offset}: {detail}")
            }
            ArchiveError::Decompression { offset, detail } => write!(
                f,
                "the compressed archive is corrupt near compressed byte {offset}: {detail}"
            ),
            ArchiveError::Layer { index, file, detail } => {
                write!(f, "layer {index} ({file}): {detail}")
            }
            ArchiveError::ImageNotFound { wanted, available } => write!(
                f,
                "no image {wanted:?} in the archive; it holds: {}",
                if available.is_empty() { "only untagged images".to_string() } else { available.join(", ") }
            ),
            ArchiveError::TooLarge { what, limit } => write!(f, "{what} exceeds the limit of {limit}"),
            ArchiveError::Protocol { detail } => write!(f, "archive reader misuse: {detail}"),
        }
    }
}

impl std::error::Error for ArchiveError {}

/// One member of the outer archive, as its header describes it.
#[derive(Debug, Clone)]
struct Entry {
    /// Normalized name: no leading `./` or `/`, no trailing `/`.
    name: String,
    kind: EntryKind,
    /// Offset of the content (random access) or of the header (streaming, unused).
    data_offset: u64,
    size: u64,
    /// Symlink target, or hard-link source (already normalized for hard links).
    link: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    File,
    Directory,
    Symlink,
    HardLink,
    Other,
}

/// A blob or file that a document refers to.
#[derive(Debug, Clone)]
struct BlobRef {
    /// Name in the archive as the document gave it (normalized).
    path: String,
    /// Digest the content must hash to, when the archive says.
    expected: Option<crate::model::digest::Digest>,
    media_type: Option<String>,
}

/// One image as planned from the documents: what to read to analyse it.
#[derive(Debug, Clone)]
struct ImagePlan {
    listing: ImageListing,
    /// The document that listed this image, for messages.
    listed_by: String,
    config: BlobRef,
    layers: Vec<BlobRef>,
}

/// Everything the documents say about the archive's images.
#[derive(Debug, Clone)]
struct Listing {
    format: ArchiveFormat,
    images: Vec<ImagePlan>,
    warnings: Vec<String>,
}

/// Why a resolver could not finish: a document still has to be read, or a refusal.
#[derive(Debug)]
enum Need {
    Document(String),
    Fail(ArchiveError),
}

impl From<ArchiveError> for Need {
    fn from(error: ArchiveError) -> Need {
        Need::Fail(error)
    }
}

/// How bytes reach the reader.
enum Mode {
    /// Any range can be read (a file, a Blob).
    Random { total_len: u64 },
    /// A layout directory presented as a virtual concatenation of its files.
    Directory { total_len: u64 },
    /// Bytes arrive once, in order (compressed archive or a pipe).
    Stream(Box<stream::StreamState>),
}

/// Where the random-access reader is.
enum Stage {
    /// Need the first block to detect compression.
    Sniff,
    /// Walking headers; the next header is at `next`.
    Headers {
        next: u64,
        overrides: HeaderOverrides,
    },
    /// Reading a GNU long name/link or PAX record's content, then continuing at `next`.
    Extension {
        kind: ExtensionKind,
        offset: u64,
        size: u64,
        next: u64,
        overrides: HeaderOverrides,
    },
    /// Reading documents until the image list is known.
    Documents,
    /// Images listed; waiting for a choice.
    Listed,
    /// Reading the chosen image's config.
    Config { image: usize },
    /// Scanning layer `layer` of the chosen image, `done` bytes into it.
    Layers {
        image: usize,
        layer: usize,
        done: u64,
    },
    /// Finished (`Step::Done` or `Step::Failed` is sticky).
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExtensionKind {
    GnuLongName,
    GnuLongLink,
    Pax,
}

/// Name, link and size overrides that GNU long-name and PAX records set for the next member.
#[derive(Debug, Clone, Default)]
struct HeaderOverrides {
    name: Option<String>,
    link: Option<String>,
    size: Option<u64>,
}

/// A read the reader has asked for and not yet fully received.
#[derive(Debug, Clone)]
struct PendingRead {
    offset: u64,
    len: u64,
    purpose: Purpose,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    Sniff,
    Header,
    Extension,
    Document(String),
    LayerChunk,
    StreamChunk,
}

/// One dropped or opened image archive, read through its caller. See the module docs.
pub struct ArchiveReader {
    mode: Mode,
    stage: Stage,
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    documents: HashMap<String, Vec<u8>>,
    document_bytes: u64,
    outbox: VecDeque<Step>,
    failure: Option<ArchiveError>,
    done: Option<Box<ImageReport>>,
    pending: Option<PendingRead>,
    partial: Vec<u8>,
    bytes_read: u64,
    listing: Option<Listing>,
    chosen: Option<usize>,
    warnings: Vec<String>,
    analysis: Option<analysis::Analysis>,
    /// Layers scanned while streaming, by archive name, before anyone knew they were layers.
    streamed_blobs: HashMap<String, analysis::StreamedBlob>,
}

impl ArchiveReader {
    /// A reader for an archive of `total_len` bytes that can be read at any offset
    /// (a `File`, a `Blob`). Compressed archives are detected and then read front to back.
    pub fn new(total_len: u64) -> Self {
        Self::with_mode(Mode::Random { total_len }, Stage::Sniff)
    }

    /// A reader for an archive whose bytes arrive once, in order, with no known length
    /// (a pipe, a download). Gzip and zstd compression are detected from the first bytes.
    pub fn new_streaming() -> Self {
        Self::with_mode(Mode::Stream(Box::default()), Stage::Documents)
    }

    /// A reader for an OCI layout directory, given its files. Reads address the files laid
    /// end to end in the given order; [`ArchiveReader::locate`] maps an offset back to a file.
    pub fn new_directory(files: Vec<DirectoryFile>) -> Result<Self, ArchiveError> {
        if files.len() > MAX_ARCHIVE_ENTRIES {
            return Err(ArchiveError::TooLarge {
                what: "number of files in the layout directory".into(),
                limit: MAX_ARCHIVE_ENTRIES as u64,
            });
        }
        let mut offset = 0u64;
        let mut entries = Vec::with_capacity(files.len());
        for file in files {
            entries.push(Entry {
                name: normalize_name(&file.path),
                kind: EntryKind::File,
                data_offset: offset,
                size: file.size,
                link: None,
            });
            offset = offset.saturating_add(file.size);
        }
        let mut reader = Self::with_mode(Mode::Directory { total_len: offset }, Stage::Documents);
        for entry in entries {
            reader.add_entry(entry)?;
        }
        Ok(reader)
    }

    fn with_mode(mode: Mode, stage: Stage) -> Self {
        ArchiveReader {
            mode,
            stage,
            entries: Vec::new(),
            by_name: HashMap::new(),
            documents: HashMap::new(),
            document_bytes: 0,
            outbox: VecDeque::new(),
            failure: None,
            done: None,
            pending: None,
            partial: Vec::new(),
            bytes_read: 0,
            listing: None,
            chosen: None,
            warnings: Vec::new(),
            analysis: None,
            streamed_blobs: HashMap::new(),
        }
    }

    /// Bytes the caller has supplied so far (compressed bytes when streaming).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Size of the archive, when the caller gave it (also after switching to streaming).
    pub fn total_len(&self) -> Option<u64> {
        match &self.mode {
            Mode::Random { total_len } | Mode::Directory { total_len } => Some(*total_len),
            Mode::Stream(state) => state.total_len(),
        }
    }

    /// True when the archive is being read front to back instead of by ranges.
    pub fn is_streaming(&self) -> bool {
        matches!(self.mode, Mode::Stream(_))
    }

    /// The archive's format, once the documents have been read.
    pub fn format(&self) -> Option<ArchiveFormat> {
        self.listing.as_ref().map(|l| l.format)
    }

    /// The images, once listed.
    pub fn images(&self) -> Option<Vec<ImageListing>> {
        self.listing
            .as_ref()
            .map(|l| l.images.iter().map(|i| i.listing.clone()).collect())
    }

    /// For a layout directory: which file a virtual offset falls in.
    pub fn locate(&self, offset: u64) -> Option<FileSpan<'_>> {
        if !matches!(self.mode, Mode::Directory { .. }) {
            return None;
        }
        let index = self
            .entries
            .partition_point(|e| e.data_offset + e.size <= offset);
        let entry = self.entries.get(index)?;
        (offset >= entry.data_offset).then(|| FileSpan {
            path: &entry.name,
            offset: offset - entry.data_offset,
            remaining: entry.data_offset + entry.size - offset,
        })
    }

    /// Chooses the image to analyse. Call after [`Step::ImagesListed`] and before the next
    /// [`ArchiveReader::next_step`]; an unknown tag or index is an error and changes nothing.
    pub fn select_image(&mut self, selector: &ImageSelector) -> Result<usize, ArchiveError> {
        let listing = self
            .listing
            .as_ref()
            .ok_or_else(|| ArchiveError::Protocol {
                detail: "select_image before the images were listed".into(),
            })?;
        if !matches!(self.stage, Stage::Listed) {
            return Err(ArchiveError::Protocol {
                detail: "select_image after the analysis started".into(),
            });
        }
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
        self.chosen = Some(index);
        Ok(index)
    }

    /// What the caller must do next. See [`Step`].
    pub fn next_step(&mut self) -> Step {
        if let Some(error) = &self.failure {
            return Step::Failed(error.clone());
        }
        if let Some(step) = self.outbox.pop_front() {
            return step;
        }
        if let Some(report) = &self.done {
            return Step::Done(report.clone());
        }
        if let Some(pending) = &self.pending {
            return Step::Read {
                offset: pending.offset,
                len: pending.len,
            };
        }
        match self.advance() {
            Ok(Some(read)) => {
                let step = Step::Read {
                    offset: read.offset,
                    len: read.len,
                };
                self.pending = Some(read);
                // Anything queued while advancing (progress, listings) goes out first.
                match self.outbox.pop_front() {
                    Some(queued) => queued,
                    None => step,
                }
            }
            Ok(None) => self.next_step_after_advance(),
            Err(error) => self.fail(error),
        }
    }

    fn next_step_after_advance(&mut self) -> Step {
        if let Some(step) = self.outbox.pop_front() {
            return step;
        }
        if let Some(report) = &self.done {
            return Step::Done(report.clone());
        }
        self.fail(ArchiveError::Protocol {
            detail: "the reader stalled (no read and no result)".into(),
        })
    }

    fn fail(&mut self, error: ArchiveError) -> Step {
        self.failure = Some(error.clone());
        self.stage = Stage::Finished;
        self.pending = None;
        Step::Failed(error)
    }

    /// Answers the last [`Step::Read`]: `bytes` start at `offset`. Fewer bytes than asked are
    /// fine; an empty slice means end of file. Errors are also returned by later `next_step`s.
    pub fn supply(&mut self, offset: u64, bytes: &[u8]) -> Result<(), ArchiveError> {
        if let Some(error) = &self.failure {
            return Err(error.clone());
        }
        let result = self.supply_inner(offset, bytes);
        if let Err(error) = &result {
            self.fail(error.clone());
        }
        result
    }

    fn supply_inner(&mut self, offset: u64, bytes: &[u8]) -> Result<(), ArchiveError> {
        let pending = self.pending.clone().ok_or_else(|| ArchiveError::Protocol {
            detail: format!("supply at offset {offset} without a pending read"),
        })?;
        let expected_offset = pending.offset + self.partial.len() as u64;
        let expected_offset = if pending.purpose == Purpose::LayerChunk {
            pending.offset
        } else {
            expected_offset
        };
        if offset != expected_offset {
            return Err(ArchiveError::Protocol {
                detail: format!("supplied bytes at offset {offset}, but the reader asked for offset {expected_offset}"),
            });
        }
        self.bytes_read += bytes.len() as u64;
        if pending.purpose == Purpose::StreamChunk {
            self.pending = None;
            return self.stream_supply(bytes);
        }
        if bytes.is_empty() {
            return Err(ArchiveError::Truncated {
                offset,
                detail: format!(
                    "{} more bytes were expected ({})",
                    pending.len,
                    self.describe(&pending.purpose)
                ),
            });
        }
        if pending.purpose == Purpose::LayerChunk {
            let take = bytes.len().min(pending.len as usize);
            self.pending = None;
            return self.layer_chunk(&bytes[..take]);
        }
        let want = pending.len as usize - self.partial.len();
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(want)]);
        if self.partial.len() < pending.len as usize {
            return Ok(());
        }
        self.pending = None;
        let data = std::mem::take(&mut self.partial);
        match pending.purpose {
            Purpose::Sniff => self.on_first_block(&data),
            Purpose::Header => self.on_header_block(pending.offset, &data),
            Purpose::Extension => self.on_extension(&data),
            Purpose::Document(name) => self.store_document(name, data),
            Purpose::LayerChunk | Purpose::StreamChunk => unreachable!("handled above"),
        }
    }

    fn describe(&self, purpose: &Purpose) -> String {
        match purpose {
            Purpose::Sniff => "the first tar header".into(),
            Purpose::Header => "a tar header".into(),
            Purpose::Extension => "a long-name or PAX record".into(),
            Purpose::Document(name) => format!("the content of {name}"),
            Purpose::LayerChunk => "layer content".into(),
            Purpose::StreamChunk => "the archive stream".into(),
        }
    }

    fn progress(&mut self, phase: Phase, message: String) {
        let total_bytes = self.total_len();
        let (layer, layer_bytes) = match (&self.stage, &self.analysis) {
            (Stage::Layers { layer, done, .. }, Some(a)) => (
                Some((*layer, a.layer_count())),
                Some((*done, a.current_layer_size())),
            ),
            _ => (None, None),
        };
        self.outbox.push_back(Step::Progress(Progress {
            phase,
            bytes_read: self.bytes_read,
            total_bytes,
            streamed: self.is_streaming(),
            layer,
            layer_bytes,
            message,
        }));
    }
}

// ---------------------------------------------------------------------------------------
// Driving the stages.

impl ArchiveReader {
    /// Moves through the stages until a read is needed or something is queued for the caller.
    fn advance(&mut self) -> Result<Option<PendingRead>, ArchiveError> {
        loop {
            if !self.outbox.is_empty() || self.done.is_some() {
                return Ok(None);
            }
            if let Some(read) = self.stream_read() {
                return Ok(Some(read));
            }
            match std::mem::replace(&mut self.stage, Stage::Finished) {
                Stage::Sniff => {
                    let total_len = self.random_len();
                    self.stage = Stage::Sniff;
                    if total_len == 0 {
                        return Err(ArchiveError::NotAnImage {
                            detail: "The file is empty.".into(),
                        });
                    }
                    self.progress(Phase::Detecting, "reading the first header".into());
                    return Ok(Some(PendingRead {
                        offset: 0,
                        len: total_len.min(BLOCK),
                        purpose: Purpose::Sniff,
                    }));
                }
                Stage::Headers { next, overrides } => {
                    let total_len = self.random_len();
                    if next >= total_len {
                        // Some writers leave out the end-of-archive blocks.
                        self.end_of_headers();
                        continue;
                    }
                    self.stage = Stage::Headers { next, overrides };
                    return Ok(Some(PendingRead {
                        offset: next,
                        len: BLOCK,
                        purpose: Purpose::Header,
                    }));
                }
                Stage::Extension {
                    kind,
                    offset,
                    size,
                    next,
                    overrides,
                } => {
                    self.stage = Stage::Extension {
                        kind,
                        offset,
                        size,
                        next,
                        overrides,
                    };
                    return Ok(Some(PendingRead {
                        offset,
                        len: size,
                        purpose: Purpose::Extension,
                    }));
                }
                Stage::Documents => match self.plan_listing() {
                    Ok(listing) => self.announce_listing(listing),
                    Err(Need::Document(name)) => {
                        self.stage = Stage::Documents;
                        return self.document_read(name).map(Some);
                    }
                    Err(Need::Fail(error)) => return Err(error),
                },
                Stage::Listed => {
                    let image = self.choose_default();
                    self.stage = Stage::Config { image };
                }
                Stage::Config { image } => match self.start_analysis(image) {
                    Ok(overview) => {
                        self.outbox.push_back(Step::Overview(Box::new(overview)));
                        self.stage = Stage::Layers {
                            image,
                            layer: 0,
                            done: 0,
                        };
                    }
                    Err(Need::Document(name)) => {
                        self.stage = Stage::Config { image };
                        return self.document_read(name).map(Some);
                    }
                    Err(Need::Fail(error)) => return Err(error),
                },
                Stage::Layers { image, layer, done } => {
                    if let Some(read) = self.layer_step(image, layer, done)? {
                        return Ok(Some(read));
                    }
                }
                Stage::Finished => return Ok(None),
            }
        }
    }

    fn random_len(&self) -> u64 {
        match &self.mode {
            Mode::Random { total_len } | Mode::Directory { total_len } => *total_len,
            Mode::Stream(_) => 0,
        }
    }

    fn announce_listing(&mut self, listing: Listing) {
        let images: Vec<ImageListing> = listing.images.iter().map(|i| i.listing.clone()).collect();
        self.warnings.extend(listing.warnings.iter().cloned());
        let message = format!(
            "{} archive with {} image{}",
            listing.format.name(),
            images.len(),
            if images.len() == 1 { "" } else { "s" }
        );
        self.listing = Some(listing);
        self.stage = Stage::Listed;
        self.progress(Phase::ChoosingImage, message);
        self.outbox.push_back(Step::ImagesListed(images));
    }

    fn choose_default(&mut self) -> usize {
        if let Some(index) = self.chosen {
            return index;
        }
        let listing = self.listing.as_ref().expect("listed before choosing");
        if listing.images.len() > 1 {
            let first = listing.images[0]
                .listing
                .tags
                .first()
                .cloned()
                .unwrap_or_else(|| "<none>".into());
            self.warnings.push(format!(
                "the archive holds {} images; analysing the first ({first}); choose another by tag or index",
                listing.images.len()
            ));
        }
        self.chosen = Some(0);
        0
    }

    fn document_read(&mut self, name: String) -> Result<PendingRead, ArchiveError> {
        let entry = self
            .by_name
            .get(&name)
            .map(|&i| &self.entries[i])
            .ok_or_else(|| ArchiveError::Protocol {
                detail: format!("document {name} vanished from the index"),
            })?;
        if self.is_streaming() {
            return Err(ArchiveError::BadDocument {
                file: name,
                detail: "its content does not start like a JSON document".into(),
            });
        }
        Ok(PendingRead {
            offset: entry.data_offset,
            len: entry.size,
            purpose: Purpose::Document(name),
        })
    }

    fn store_document(&mut self, name: String, data: Vec<u8>) -> Result<(), ArchiveError> {
        self.document_bytes += data.len() as u64;
        if self.document_bytes > MAX_DOCUMENT_CACHE_BYTES {
            return Err(ArchiveError::TooLarge {
                what: "total size of the archive's JSON documents".into(),
                limit: MAX_DOCUMENT_CACHE_BYTES,
            });
        }
        self.documents.insert(name, data);
        Ok(())
    }

    fn add_entry(&mut self, entry: Entry) -> Result<(), ArchiveError> {
        if self.entries.len() >= MAX_ARCHIVE_ENTRIES {
            return Err(ArchiveError::TooLarge {
                what: "number of entries in the archive".into(),
                limit: MAX_ARCHIVE_ENTRIES as u64,
            });
        }
        if entry.name.is_empty() {
            return Ok(());
        }
        // A later member of the same name replaces an earlier one, as tar extraction would.
        self.by_name.insert(entry.name.clone(), self.entries.len());
        self.entries.push(entry);
        Ok(())
    }

    fn end_of_headers(&mut self) {
        self.stage = Stage::Documents;
        let message = format!("indexed {} archive entries", self.entries.len());
        self.progress(Phase::ReadingDocuments, message);
    }

    /// Follows symlinks and hard links inside the archive to the member holding the content.
    fn resolve(&self, name: &str) -> Option<&Entry> {
        let mut name = normalize_name(name);
        for _ in 0..MAX_LINK_HOPS {
            let entry = &self.entries[*self.by_name.get(&name)?];
            name = match (&entry.kind, &entry.link) {
                (EntryKind::Symlink, Some(target)) => join_link(&entry.name, target),
                (EntryKind::HardLink, Some(target)) => normalize_name(target),
                _ => return Some(entry),
            };
        }
        None
    }

    /// The content of a small JSON document, or the read that fetches it.
    fn document(&self, name: &str, referenced_by: &str) -> Result<&[u8], Need> {
        let entry = self
            .resolve(name)
            .ok_or_else(|| ArchiveError::MissingFile {
                file: name.to_string(),
                referenced_by: referenced_by.to_string(),
            })?;
        if entry.kind != EntryKind::File {
            return Err(ArchiveError::BadDocument {
                file: name.into(),
                detail: "it is not a regular file".into(),
            }
            .into());
        }
        if entry.size > MAX_DOCUMENT_BYTES {
            return Err(ArchiveError::DocumentTooLarge {
                file: name.to_string(),
                size: entry.size,
                limit: MAX_DOCUMENT_BYTES,
            }
            .into());
        }
        match self.documents.get(&entry.name) {
            Some(bytes) => Ok(bytes),
            None => Err(Need::Document(entry.name.clone())),
        }
    }

    /// The member that holds a blob's content, or a refusal naming who referred to it.
    fn blob_entry(&self, path: &str, referenced_by: &str) -> Result<&Entry, ArchiveError> {
        match self.resolve(path) {
            Some(entry) if entry.kind == EntryKind::File => Ok(entry),
            Some(_) => Err(ArchiveError::BadDocument {
                file: referenced_by.into(),
                detail: format!("{path} is not a regular file"),
            }),
            None => Err(ArchiveError::MissingFile {
                file: path.into(),
                referenced_by: referenced_by.into(),
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The outer tar, by headers (random access).

impl ArchiveReader {
    fn on_first_block(&mut self, data: &[u8]) -> Result<(), ArchiveError> {
        if let Some(compression) = stream::detect_compression(data) {
            let mut state = stream::StreamState::default();
            state.expect(compression);
            state.set_total_len(self.random_len());
            self.mode = Mode::Stream(Box::new(state));
            self.stage = Stage::Documents;
            self.progress(
                Phase::Indexing,
                format!(
                    "the archive is {}-compressed: reading it once, front to back",
                    compression.name()
                ),
            );
            return self.stream_supply(data);
        }
        if let Some(what) = stream::unsupported_compression(data) {
            return Err(ArchiveError::NotAnImage {
                detail: format!("The file is {what}-compressed; decompress it first (gzip and zstd are read directly)."),
            });
        }
        if data.len() < BLOCK as usize {
            return Err(ArchiveError::NotAnImage {
                detail: format!(
                    "The file is only {} bytes: too short to be a tar archive.",
                    data.len()
                ),
            });
        }
        self.stage = Stage::Headers {
            next: 0,
            overrides: HeaderOverrides::default(),
        };
        self.progress(Phase::Indexing, "walking the archive's headers".into());
        self.on_header_block(0, data)
    }

    fn on_header_block(&mut self, offset: u64, block: &[u8]) -> Result<(), ArchiveError> {
        let overrides = match std::mem::replace(&mut self.stage, Stage::Finished) {
            Stage::Headers { overrides, .. } => overrides,
            _ => HeaderOverrides::default(),
        };
        if block.iter().all(|&b| b == 0) {
            self.end_of_headers();
            return Ok(());
        }
        if !checksum_ok(block) {
            if offset == 0 {
                return Err(ArchiveError::NotAnImage {
                    detail: "The file is not a tar archive (no valid tar header at byte 0), so it is not a docker save or OCI layout archive.".into(),
                });
            }
            return Err(ArchiveError::BadTar {
                offset,
                detail: "header checksum does not match".into(),
            });
        }
        let header = ::tar::Header::from_byte_slice(block);
        let size = match overrides.size {
            Some(size) => size,
            None => header.entry_size().map_err(|e| ArchiveError::BadTar {
                offset,
                detail: format!("bad size field: {e}"),
            })?,
        };
        let data_offset = offset + BLOCK;
        let next = data_offset
            .checked_add(padded(size))
            .ok_or_else(|| ArchiveError::BadTar {
                offset,
                detail: format!("size {size} overflows"),
            })?;
        let extension = match header.entry_type().as_byte() {
            b'L' => Some(ExtensionKind::GnuLongName),
            b'K' => Some(ExtensionKind::GnuLongLink),
            b'x' | b'X' => Some(ExtensionKind::Pax),
            b'g' => {
                self.stage = Stage::Headers { next, overrides };
                return Ok(());
            }
            _ => None,
        };
        if let Some(kind) = extension {
            if size > MAX_EXTENDED_HEADER_BYTES {
                return Err(ArchiveError::BadTar {
                    offset,
                    detail: format!(
                        "extended header of {size} bytes (limit {MAX_EXTENDED_HEADER_BYTES})"
                    ),
                });
            }
            self.stage = Stage::Extension {
                kind,
                offset: data_offset,
                size,
                next,
                overrides,
            };
            return Ok(());
        }
        let name = overrides
            .name
            .unwrap_or_else(|| String::from_utf8_lossy(&header.path_bytes()).into_owned());
        let link = overrides.link.or_else(|| {
            header
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
        });
        let kind = entry_kind(header.entry_type().as_byte());
        self.add_entry(Entry {
            name: normalize_name(&name),
            kind,
            data_offset,
            size,
            link,
        })?;
        if self.entries.len().is_multiple_of(4096) {
            let message = format!("indexed {} archive entries", self.entries.len());
            self.progress(Phase::Indexing, message);
        }
        self.stage = Stage::Headers {
            next,
            overrides: HeaderOverrides::default(),
        };
        Ok(())
    }

    fn on_extension(&mut self, data: &[u8]) -> Result<(), ArchiveError> {
        let Stage::Extension {
            kind,
            next,
            mut overrides,
            offset,
            ..
        } = std::mem::replace(&mut self.stage, Stage::Finished)
        else {
            return Err(ArchiveError::Protocol {
                detail: "extension data outside an extension".into(),
            });
        };
        match kind {
            ExtensionKind::GnuLongName => overrides.name = Some(c_string(data)),
            ExtensionKind::GnuLongLink => overrides.link = Some(c_string(data)),
            ExtensionKind::Pax => apply_pax(&mut overrides, data, offset)?,
        }
        self.stage = Stage::Headers { next, overrides };
        Ok(())
    }
}

fn apply_pax(
    overrides: &mut HeaderOverrides,
    data: &[u8],
    offset: u64,
) -> Result<(), ArchiveError> {
    for record in ::tar::PaxExtensions::new(data) {
        let record = record.map_err(|e| ArchiveError::BadTar {
            offset,
            detail: format!("bad PAX record: {e}"),
        })?;
        let value = || String::from_utf8_lossy(record.value_bytes()).into_owned();
        match record.key_bytes() {
            b"path" => overrides.name = Some(value()),
            b"linkpath" => overrides.link = Some(value()),
            b"size" => {
                overrides.size = Some(value().trim().parse().map_err(|_| ArchiveError::BadTar {
                    offset,
                    detail: format!("PAX size {:?} is not a number", value()),
                })?)
            }
            _ => {}
        }
    }
    Ok(())
}

fn entry_kind(type_flag: u8) -> EntryKind {
    match type_flag {
        b'0' | 0 | b'7' => EntryKind::File,
        b'5' => EntryKind::Directory,
        b'2' => EntryKind::Symlink,
        b'1' => EntryKind::HardLink,
        _ => EntryKind::Other,
    }
}

/// The header checksum: the sum of all bytes with the checksum field read as spaces. Some old
/// writers summed signed bytes, so that sum is accepted too.
fn checksum_ok(block: &[u8]) -> bool {
    let field = &block[148..156];
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let Ok(stored) = u32::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0u32, 0i32);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += b as u32;
        signed += b as i8 as i32;
    }
    stored == unsigned || stored as i32 == signed
}

fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK) * BLOCK
}

fn c_string(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

/// Archive member names as documents refer to them: no `./`, no leading or trailing `/`.
fn normalize_name(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// A symlink's target, relative to the directory holding the link.
fn join_link(link_name: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalize_name(target);
    }
    match link_name.rsplit_once('/') {
        Some((dir, _)) => normalize_name(&format!("{dir}/{target}")),
        None => normalize_name(target),
    }
}

/// `busybox:latest` matches `docker.io/library/busybox:latest` and the other way round.
fn same_reference(listed: &str, wanted: &str) -> bool {
    if listed == wanted {
        return true;
    }
    match (
        crate::model::reference::Reference::parse(listed),
        crate::model::reference::Reference::parse(wanted),
    ) {
        (Ok(a), Ok(b)) => a.full() == b.full(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// Streaming: the archive read once, front to back.

impl ArchiveReader {
    /// While streaming and before the end of the archive, the next read is the next chunk.
    fn stream_read(&self) -> Option<PendingRead> {
        match &self.mode {
            Mode::Stream(state) if !state.ended() => Some(PendingRead {
                offset: state.consumed(),
                len: LAYER_CHUNK_BYTES,
                purpose: Purpose::StreamChunk,
            }),
            _ => None,
        }
    }

    fn stream_supply(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        let Mode::Stream(state) = &mut self.mode else {
            return Err(ArchiveError::Protocol {
                detail: "stream bytes for a random-access reader".into(),
            });
        };
        if bytes.is_empty() {
            state.finish()?;
        } else {
            state.push(bytes)?;
        }
        let (entries, documents, blobs) = state.drain();
        for entry in entries {
            self.add_entry(entry)?;
        }
        for (name, data) in documents {
            self.store_document(name, data)?;
        }
        self.streamed_blobs.extend(blobs);
        let message = match &self.mode {
            Mode::Stream(state) if state.ended() => {
                format!(
                    "read the whole {}-compressed archive",
                    state.compression_name()
                )
            }
            Mode::Stream(state) => format!(
                "streaming the {}-compressed archive: {} bytes read",
                state.compression_name(),
                state.consumed()
            ),
            _ => String::new(),
        };
        self.progress(Phase::Indexing, message);
        Ok(())
    }
}

mod stream {
    //! The outer archive as one stream: decompression and B's push tar parser, keeping the
    //! small documents and scanning every other file as a possible layer as it passes.

    use std::io::Write;

    use super::{
        normalize_name, ArchiveError, Entry, EntryKind, OuterCompression, MAX_DOCUMENT_BYTES,
    };
    use crate::engine::scan::{ScanOptions, Scanner};
    use crate::engine::tar::{EntryKind as TarKind, TarEvent, TarParser};

    /// The result of scanning one archive member as a layer while it streamed past.
    pub(super) type Scanned = Result<crate::engine::scan::LayerSummary, String>;

    /// What one push produced: new members, small documents, scanned possible layers.
    pub(super) type Drained = (Vec<Entry>, Vec<(String, Vec<u8>)>, Vec<(String, Scanned)>);

    pub(super) fn detect_compression(data: &[u8]) -> Option<OuterCompression> {
        if data.starts_with(&[0x1f, 0x8b]) {
            Some(OuterCompression::Gzip)
        } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(OuterCompression::Zstd)
        } else {
            None
        }
    }

    pub(super) fn unsupported_compression(data: &[u8]) -> Option<&'static str> {
        if data.starts_with(b"BZh") {
            Some("bzip2")
        } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some("xz")
        } else {
            None
        }
    }

    #[derive(Default)]
    pub(super) struct StreamState {
        /// Unknown until the first bytes arrive.
        compression: Option<OuterCompression>,
        gzip: Option<flate2::write::MultiGzDecoder<Vec<u8>>>,
        zstd: Option<ZstdPush>,
        parser: TarParser,
        sink: Sink,
        consumed: u64,
        ended: bool,
        /// Size of the compressed archive, when the caller knew it.
        total_len: Option<u64>,
    }

    impl StreamState {
        pub(super) fn set_total_len(&mut self, total_len: u64) {
            self.total_len = Some(total_len);
        }

        pub(super) fn total_len(&self) -> Option<u64> {
            self.total_len
        }

        pub(super) fn expect(&mut self, compression: OuterCompression) {
            self.compression = Some(compression);
            match compression {
                OuterCompression::Gzip => {
                    self.gzip = Some(flate2::write::MultiGzDecoder::new(Vec::new()))
                }
                OuterCompression::Zstd => self.zstd = Some(ZstdPush::default()),
                OuterCompression::None => {}
            }
        }

        pub(super) fn consumed(&self) -> u64 {
            self.consumed
        }

        pub(super) fn ended(&self) -> bool {
            self.ended
        }

        pub(super) fn compression_name(&self) -> &'static str {
            self.compression.map_or("un", |c| {
                if c == OuterCompression::None {
                    "un"
                } else {
                    c.name()
                }
            })
        }

        pub(super) fn push(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
            if self.compression.is_none() {
                self.expect(detect_compression(bytes).unwrap_or(OuterCompression::None));
            }
            let offset = self.consumed;
            self.consumed += bytes.len() as u64;
            let bad = |detail: String| ArchiveError::Decompression { offset, detail };
            let plain: Vec<u8> = if let Some(gzip) = &mut self.gzip {
                gzip.write_all(bytes).map_err(|e| bad(e.to_string()))?;
                std::mem::take(gzip.get_mut())
            } else if let Some(zstd) = &mut self.zstd {
                zstd.push(bytes, false).map_err(bad)?
            } else {
                return self.feed_tar(bytes);
            };
            self.feed_tar(&plain)
        }

        pub(super) fn finish(&mut self) -> Result<(), ArchiveError> {
            let offset = self.consumed;
            let bad = |detail: String| ArchiveError::Decompression { offset, detail };
            if let Some(mut gzip) = self.gzip.take() {
                gzip.try_finish().map_err(|e| bad(e.to_string()))?;
                let rest = std::mem::take(gzip.get_mut());
                self.feed_tar(&rest)?;
            }
            if let Some(mut zstd) = self.zstd.take() {
                let rest = zstd.push(&[], true).map_err(bad)?;
                self.feed_tar(&rest)?;
            }
            self.ended = true;
            if self.consumed == 0 {
                return Err(ArchiveError::NotAnImage {
                    detail: "The input is empty.".into(),
                });
            }
            self.parser.finish().map_err(|e| {
                let detail = e.to_string();
                ArchiveError::Truncated {
                    offset: e.offset,
                    detail,
                }
            })?;
            Ok(())
        }

        fn feed_tar(&mut self, plain: &[u8]) -> Result<(), ArchiveError> {
            let sink = &mut self.sink;
            let first = self.parser.offset() == 0;
            let result = self.parser.push(plain, |event| sink.on_event(event));
            match result {
                Ok(()) => sink.error.take().map_or(Ok(()), Err),
                Err(e) if first && e.offset == 0 => Err(ArchiveError::NotAnImage {
                    detail: "The input is not a tar archive (no valid tar header at byte 0), so it is not a docker save or OCI layout archive.".into(),
                }),
                Err(e) => Err(ArchiveError::BadTar { offset: e.offset, detail: e.to_string() }),
            }
        }

        /// Hands over what has been collected since the last call.
        pub(super) fn drain(&mut self) -> Drained {
            (
                std::mem::take(&mut self.sink.entries),
                std::mem::take(&mut self.sink.documents),
                std::mem::take(&mut self.sink.blobs),
            )
        }
    }

    /// What happens to the content of the member being streamed.
    enum Content {
        /// No content byte seen yet.
        Undecided,
        /// Looks like JSON and is small: kept whole.
        Document(Vec<u8>),
        /// Anything else: scanned as a possible layer.
        Layer(Box<Scanner>),
        /// The scan failed; the reason is kept in case this turns out to be a layer.
        Failed(String),
    }

    #[derive(Default)]
    struct Sink {
        current: Option<(String, u64, Content)>,
        entries: Vec<Entry>,
        documents: Vec<(String, Vec<u8>)>,
        blobs: Vec<(String, Scanned)>,
        error: Option<ArchiveError>,
    }

    impl Sink {
        fn on_event(&mut self, event: TarEvent<'_>) {
            match event {
                TarEvent::Entry(entry) => {
                    let name = normalize_name(&entry.path_lossy());
                    let kind = match entry.kind {
                        TarKind::File => EntryKind::File,
                        TarKind::Directory => EntryKind::Directory,
                        TarKind::Symlink => EntryKind::Symlink,
                        TarKind::HardLink => EntryKind::HardLink,
                        _ => EntryKind::Other,
                    };
                    let link = entry
                        .link_target
                        .as_ref()
                        .map(|l| String::from_utf8_lossy(l).into_owned());
                    let link = match (kind, link) {
                        (EntryKind::HardLink, Some(l)) => Some(normalize_name(&l)),
                        (_, l) => l,
                    };
                    if kind == EntryKind::File {
                        self.current = Some((name.clone(), entry.size, Content::Undecided));
                    }
                    self.entries.push(Entry {
                        name,
                        kind,
                        data_offset: entry.header_offset,
                        size: entry.size,
                        link,
                    });
                }
                TarEvent::Data(bytes) => self.on_data(bytes),
                TarEvent::EntryEnd => self.on_end(),
            }
        }

        fn on_data(&mut self, bytes: &[u8]) {
            let Some((_, size, content)) = &mut self.current else {
                return;
            };
            if let Content::Undecided = content {
                let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
                *content = match first {
                    Some(b'{' | b'[' | b'n') if *size <= MAX_DOCUMENT_BYTES => {
                        Content::Document(Vec::new())
                    }
                    _ => Content::Layer(Box::new(Scanner::new(ScanOptions::default()))),
                };
            }
            match content {
                Content::Document(buffer) => buffer.extend_from_slice(bytes),
                Content::Layer(scanner) => {
                    if let Err(e) = scanner.push(bytes) {
                        *content = Content::Failed(e.to_string());
                    }
                }
                Content::Undecided | Content::Failed(_) => {}
            }
        }

        fn on_end(&mut self) {
            let Some((name, _, content)) = self.current.take() else {
                return;
            };
            match content {
                Content::Undecided => self.documents.push((name, Vec::new())),
                Content::Document(bytes) => self.documents.push((name, bytes)),
                Content::Layer(scanner) => {
                    let scanned = scanner.finish().map_err(|e| e.to_string());
                    self.blobs.push((name, scanned));
                }
                Content::Failed(reason) => self.blobs.push((name, Err(reason))),
            }
        }
    }

    /// Pending input is decoded once this much is buffered: the largest zstd block plus
    /// its header and the largest frame header.
    const ZSTD_MIN_INPUT: usize = 128 * 1024 + 3 + 18;

    /// ruzstd's frame decoder driven by pushed bytes.
    #[derive(Default)]
    struct ZstdPush {
        decoder: Option<ruzstd::decoding::FrameDecoder>,
        pending: Vec<u8>,
    }

    impl ZstdPush {
        fn push(&mut self, bytes: &[u8], last: bool) -> Result<Vec<u8>, String> {
            self.pending.extend_from_slice(bytes);
            let mut out = Vec::new();
            let mut window = vec![0u8; 256 * 1024];
            loop {
                if self.pending.len() < ZSTD_MIN_INPUT && !last {
                    return Ok(out);
                }
                let frame_done = self.decoder.as_ref().is_none_or(|d| d.is_finished());
                if frame_done {
                    if let Some(decoder) = &mut self.decoder {
                        // Drain what the finished frame still holds.
                        while let Some(rest) = decoder.collect() {
                            if rest.is_empty() {
                                break;
                            }
                            out.extend_from_slice(&rest);
                        }
                    }
                    if self.pending.is_empty() {
                        return Ok(out);
                    }
                    let mut source: &[u8] = &self.pending;
                    let before = source.len();
                    let decoder = self
                        .decoder
                        .get_or_insert_with(ruzstd::decoding::FrameDecoder::new);
                    decoder.reset(&mut source).map_err(|e| e.to_string())?;
                    let used = before - source.len();
                    self.pending.drain(..used);
                }
                let decoder = self.decoder.as_mut().expect("frame started");
                let (read, written) = decoder
                    .decode_from_to(&self.pending, &mut window)
                    .map_err(|e| e.to_string())?;
                self.pending.drain(..read);
                out.extend_from_slice(&window[..written]);
                if read == 0 && written == 0 && !decoder.is_finished() {
                    if last {
                        return Err("the zstd stream ends inside a frame".into());
                    }
                    return Ok(out);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Documents: manifest.json (docker save) and index.json (OCI layout) to a list of images.

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

impl ArchiveReader {
    fn plan_listing(&self) -> Result<Listing, Need> {
        if self.by_name.contains_key("manifest.json") {
            let oci =
                self.by_name.contains_key("index.json") || self.by_name.contains_key("oci-layout");
            return self.plan_docker_save(if oci {
                ArchiveFormat::DockerSaveOci
            } else {
                ArchiveFormat::DockerSave
            });
        }
        if self.by_name.contains_key("index.json") {
            return self.plan_oci();
        }
        let detail = if self.by_name.contains_key("repositories") {
            "This archive has a repositories file but no manifest.json or index.json: it is a docker save from before Docker 1.10 (or an incomplete one), which lists no layers per image.".to_string()
        } else {
            "This archive has no manifest.json or index.json: it looks like a plain file system tar, not an image.".to_string()
        };
        Err(ArchiveError::NotAnImage { detail }.into())
    }

    fn plan_docker_save(&self, format: ArchiveFormat) -> Result<Listing, Need> {
        const FILE: &str = "manifest.json";
        let bytes = self.document(FILE, "the archive")?;
        let bad = |detail: String| {
            Need::Fail(ArchiveError::BadDocument {
                file: FILE.into(),
                detail,
            })
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let items = match value {
            serde_json::Value::Null => {
                return Err(ArchiveError::NoImages {
                    file: FILE.into(),
                    detail: "the manifest is `null`: it lists no images".into(),
                }
                .into())
            }
            serde_json::Value::Array(items) if items.is_empty() => {
                return Err(ArchiveError::NoImages {
                    file: FILE.into(),
                    detail: "the manifest is an empty list".into(),
                }
                .into())
            }
            serde_json::Value::Array(items) => items,
            other => {
                return Err(bad(format!(
                    "expected a list of images, found {}",
                    json_kind(&other)
                )))
            }
        };
        if items.len() > MAX_MANIFESTS {
            return Err(ArchiveError::TooLarge {
                what: "images in manifest.json".into(),
                limit: MAX_MANIFESTS as u64,
            }
            .into());
        }
        let mut images = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let listed_by = format!("{FILE} (image {index})");
            let config = item
                .get("Config")
                .and_then(|c| c.as_str())
                .ok_or_else(|| bad(format!("image {index} has no \"Config\" string")))?;
            let tags = match item.get("RepoTags") {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(serde_json::Value::Array(tags)) => tags
                    .iter()
                    .map(|t| t.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        bad(format!("image {index}: \"RepoTags\" holds a non-string"))
                    })?,
                Some(other) => {
                    return Err(bad(format!(
                        "image {index}: \"RepoTags\" is {}",
                        json_kind(other)
                    )))
                }
            };
            let layer_names = item
                .get("Layers")
                .and_then(|l| l.as_array())
                .ok_or_else(|| bad(format!("image {index} has no \"Layers\" list")))?;
            let config_ref = BlobRef {
                path: normalize_name(config),
                expected: digest_from_name(config),
                media_type: None,
            };
            self.blob_entry(&config_ref.path, &listed_by)?;
            let mut layers = Vec::new();
            let mut stored_size = 0u64;
            for (i, layer) in layer_names.iter().enumerate() {
                let name = layer
                    .as_str()
                    .ok_or_else(|| bad(format!("image {index}: layer {i} is not a string")))?;
                let entry = self.blob_entry(name, &listed_by)?;
                stored_size += entry.size;
                layers.push(BlobRef {
                    path: normalize_name(name),
                    expected: digest_from_name(name),
                    media_type: None,
                });
            }
            images.push(ImagePlan {
                listing: ImageListing {
                    index,
                    tags,
                    config_digest: config_ref.expected.as_ref().map(|d| d.to_string()),
                    manifest_digest: None,
                    platform: None,
                    layer_count: layers.len(),
                    stored_size,
                },
                listed_by,
                config: config_ref,
                layers,
            });
        }
        Ok(Listing {
            format,
            images,
            warnings: Vec::new(),
        })
    }

    fn plan_oci(&self) -> Result<Listing, Need> {
        let bytes = self.document("index.json", "the archive")?;
        let root = match parse_manifest(bytes, Some(crate::model::media::OCI_INDEX), "index.json")?
        {
            Document::Index(index) => index.manifests,
            Document::Manifest(_) => {
                return Err(ArchiveError::BadDocument {
                    file: "index.json".into(),
                    detail: "it is an image manifest, not an index".into(),
                }
                .into())
            }
        };
        if root.is_empty() {
            return Err(ArchiveError::NoImages {
                file: "index.json".into(),
                detail: "the index lists no manifests".into(),
            }
            .into());
        }
        let mut images = Vec::new();
        let mut warnings = Vec::new();
        let mut unknown: Option<ArchiveError> = None;
        let mut seen = 0usize;
        // Depth first, in index order: (descriptor, depth, tags from an annotated parent, parent name).
        let mut stack: Vec<(Descriptor, usize, Vec<String>, String)> = root
            .into_iter()
            .rev()
            .map(|d| (d, 0, Vec::new(), "index.json".to_string()))
            .collect();
        while let Some((descriptor, depth, inherited, parent)) = stack.pop() {
            seen += 1;
            if seen > MAX_MANIFESTS {
                return Err(ArchiveError::TooLarge {
                    what: "manifests reachable from index.json".into(),
                    limit: MAX_MANIFESTS as u64,
                }
                .into());
            }
            let mut tags = descriptor_tags(&descriptor);
            if tags.is_empty() {
                tags = inherited;
            }
            let kind = crate::model::media::classify(&descriptor.media_type);
            if !matches!(
                kind,
                MediaKind::OciManifest
                    | MediaKind::DockerManifest
                    | MediaKind::OciIndex
                    | MediaKind::DockerManifestList
            ) {
                let error = ArchiveError::UnknownMediaType {
                    media_type: descriptor.media_type.clone(),
                    digest: descriptor.digest.to_string(),
                    referenced_by: parent.clone(),
                };
                warnings.push(error.to_string());
                unknown.get_or_insert(error);
                continue;
            }
            let digest = registered(&descriptor.digest, &parent)?;
            let path = blob_path(&digest);
            let document = self.document(&path, &parent)?;
            verify_document(&digest, document, &path)?;
            // The document's own mediaType (or its shape) wins over the index entry's, as
            // go-containerregistry and containers/image read layouts; a disagreement is reported.
            let parsed = parse_manifest(document, None, &path)?;
            if crate::model::media::classify(parsed.media_type()) != kind {
                warnings.push(format!(
                    "{parent} lists {path} as {} but the document is {}",
                    descriptor.media_type,
                    parsed.media_type()
                ));
            }
            match parsed {
                Document::Index(index) => {
                    if depth + 1 > MAX_INDEX_DEPTH {
                        return Err(ArchiveError::TooLarge {
                            what: "index nesting depth".into(),
                            limit: MAX_INDEX_DEPTH as u64,
                        }
                        .into());
                    }
                    for child in index.manifests.into_iter().rev() {
                        stack.push((child, depth + 1, tags.clone(), path.clone()));
                    }
                }
                Document::Manifest(manifest) => {
                    if is_attestation(&descriptor) {
                        continue;
                    }
                    if let Some(artifact) = manifest.artifact_kind() {
                        warnings.push(format!(
                            "{path} is an artifact ({artifact}), not an image; skipped"
                        ));
                        continue;
                    }
                    let plan = self.plan_oci_image(
                        images.len(),
                        &digest,
                        &path,
                        &manifest,
                        tags,
                        &descriptor,
                    )?;
                    images.push(plan);
                }
            }
        }
        if images.is_empty() {
            return Err(unknown
                .unwrap_or(ArchiveError::NoImages {
                    file: "index.json".into(),
                    detail: "no image manifest is reachable from the index".into(),
                })
                .into());
        }
        Ok(Listing {
            format: ArchiveFormat::OciLayout,
            images,
            warnings,
        })
    }

    fn plan_oci_image(
        &self,
        index: usize,
        digest: &crate::model::digest::Digest,
        path: &str,
        manifest: &ImageManifest,
        tags: Vec<String>,
        descriptor: &Descriptor,
    ) -> Result<ImagePlan, Need> {
        let config_digest = registered(&manifest.config.digest, path)?;
        let config_ref = BlobRef {
            path: blob_path(&config_digest),
            expected: Some(config_digest.clone()),
            media_type: Some(manifest.config.media_type.clone()),
        };
        self.blob_entry(&config_ref.path, path)?;
        let mut layers = Vec::new();
        let mut stored_size = 0;
        for layer in &manifest.layers {
            let layer_digest = registered(&layer.digest, path)?;
            let layer_path = blob_path(&layer_digest);
            stored_size += self.blob_entry(&layer_path, path)?.size;
            layers.push(BlobRef {
                path: layer_path,
                expected: Some(layer_digest),
                media_type: Some(layer.media_type.clone()),
            });
        }
        Ok(ImagePlan {
            listing: ImageListing {
                index,
                tags,
                config_digest: Some(config_digest.to_string()),
                manifest_digest: Some(digest.to_string()),
                platform: descriptor.platform.as_ref().map(|p| p.to_string()),
                layer_count: layers.len(),
                stored_size,
            },
            listed_by: path.to_string(),
            config: config_ref,
            layers,
        })
    }
}

/// A manifest or index through the manifest module, refusals naming the archive file.
fn parse_manifest(bytes: &[u8], declared: Option<&str>, file: &str) -> Result<Document, Need> {
    crate::model::manifest::parse(bytes, declared).map_err(|e| {
        Need::Fail(ArchiveError::BadDocument {
            file: file.into(),
            detail: e.to_string(),
        })
    })
}

/// Only sha256 and sha512 blobs can be found and verified.
fn registered(digest: &AnyDigest, file: &str) -> Result<crate::model::digest::Digest, Need> {
    match digest {
        AnyDigest::Registered(digest) => Ok(digest.clone()),
        other => Err(ArchiveError::BadDocument {
            file: file.into(),
            detail: format!("digest {other} uses an algorithm this reader cannot verify (only sha256 and sha512)"),
        }
        .into()),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// `blobs/<alg>/<hex>`, `<hex>.json` (legacy config) and `sha256:<hex>` (kaniko) name their digest.
fn digest_from_name(name: &str) -> Option<crate::model::digest::Digest> {
    let name = normalize_name(name);
    if let Some(rest) = name.strip_prefix("blobs/") {
        let (alg, hex) = rest.split_once('/')?;
        return crate::model::digest::Digest::parse(&format!("{alg}:{hex}")).ok();
    }
    if let Some(hex) = name.strip_suffix(".json") {
        return crate::model::digest::Digest::parse(&format!("sha256:{hex}")).ok();
    }
    crate::model::digest::Digest::parse(&name).ok()
}

fn blob_path(digest: &crate::model::digest::Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().name(), digest.hex())
}

fn descriptor_tags(descriptor: &Descriptor) -> Vec<String> {
    let get = |key: &str| descriptor.annotations.get(key).map(String::as_str);
    match (get(CONTAINERD_NAME), get(REF_NAME)) {
        (Some(name), _) => vec![name.to_string()],
        (None, Some(name)) => vec![name.to_string()],
        _ => Vec::new(),
    }
}

/// buildx stores provenance as manifests for platform `unknown/unknown`; they are not images.
fn is_attestation(descriptor: &Descriptor) -> bool {
    descriptor
        .annotations
        .get("vnd.docker.reference.type")
        .map(String::as_str)
        == Some("attestation-manifest")
}

fn verify_document(
    expected: &crate::model::digest::Digest,
    document: &[u8],
    path: &str,
) -> Result<(), Need> {
    let mut hasher = crate::model::digest::Hasher::for_digest(expected);
    hasher.update(document);
    let actual = hasher.finish();
    if &actual != expected {
        return Err(ArchiveError::DigestMismatch {
            kind: "manifest".into(),
            subject: path.into(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
        .into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Analysing the chosen image: config, then each layer through the scanner.

impl ArchiveReader {
    fn start_analysis(&mut self, image: usize) -> Result<ImageReport, Need> {
        let listing = self.listing.as_ref().expect("listed before analysis");
        let plan = listing.images[image].clone();
        let config = self.document(&plan.config.path, &plan.listed_by)?.to_vec();
        let source = crate::present::report::SourceInfo {
            format: match self.mode {
                Mode::Directory { .. } => "oci-layout-directory".into(),
                _ => listing.format.name().into(),
            },
            compression: match &self.mode {
                Mode::Stream(state) => state.compression_name().replace("un", "none"),
                _ => "none".into(),
            },
            streamed: self.is_streaming(),
            bytes_read: self.bytes_read,
            total_bytes: self.total_len(),
        };
        let images = listing.images.iter().map(|i| i.listing.clone()).collect();
        let mut analysis = analysis::Analysis::new(plan, &config, images, image, source)?;
        analysis
            .report
            .warnings
            .extend(self.warnings.iter().cloned());
        let overview = analysis.report.clone();
        self.analysis = Some(analysis);
        self.progress(Phase::ReadingConfig, "read the image config".into());
        Ok(overview)
    }

    fn layer_step(
        &mut self,
        image: usize,
        layer: usize,
        done: u64,
    ) -> Result<Option<PendingRead>, ArchiveError> {
        let analysis = self.analysis.as_mut().expect("analysis started");
        let count = analysis.layer_count();
        if layer == count {
            let mut report = analysis.finish()?;
            report.source.bytes_read = self.bytes_read;
            self.progress(Phase::Finished, format!("analysed {count} layers"));
            self.done = Some(Box::new(report));
            self.stage = Stage::Finished;
            return Ok(None);
        }
        let (path, listed_by) = analysis.layer_path(layer);
        let entry = self.blob_entry(&path, &listed_by)?.clone();
        let streaming = self.is_streaming();
        let analysis = self.analysis.as_mut().expect("analysis started");
        if streaming {
            let scanned = self
                .streamed_blobs
                .get(&entry.name)
                .cloned()
                .ok_or_else(|| ArchiveError::MissingFile {
                    file: entry.name.clone(),
                    referenced_by: listed_by.clone(),
                })?;
            let summary = scanned.map_err(|detail| ArchiveError::Layer {
                index: layer,
                file: entry.name.clone(),
                detail,
            })?;
            let row = analysis.add_layer(layer, &entry.name, Ok(summary))?;
            self.outbox.push_back(Step::LayerScanned(Box::new(row)));
            self.stage = Stage::Layers {
                image,
                layer: layer + 1,
                done: 0,
            };
            return Ok(None);
        }
        if done == 0 && !analysis.scanning() {
            analysis.start_layer(layer, entry.size);
            self.stage = Stage::Layers { image, layer, done };
            self.progress(
                Phase::ScanningLayers,
                format!("scanning layer {} of {count} ({})", layer + 1, entry.name),
            );
        }
        if done < entry.size {
            self.stage = Stage::Layers { image, layer, done };
            let len = LAYER_CHUNK_BYTES.min(entry.size - done);
            return Ok(Some(PendingRead {
                offset: entry.data_offset + done,
                len,
                purpose: Purpose::LayerChunk,
            }));
        }
        let analysis = self.analysis.as_mut().expect("analysis started");
        let row = analysis.finish_layer(layer, &entry.name)?;
        self.outbox.push_back(Step::LayerScanned(Box::new(row)));
        self.stage = Stage::Layers {
            image,
            layer: layer + 1,
            done: 0,
        };
        Ok(None)
    }

    fn layer_chunk(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        let Stage::Layers { image, layer, done } = self.stage else {
            return Err(ArchiveError::Protocol {
                detail: "layer bytes outside the layer stage".into(),
            });
        };
        let analysis = self.analysis.as_mut().expect("analysis started");
        analysis.push(layer, bytes)?;
        let done = done + bytes.len() as u64;
        self.stage = Stage::Layers { image, layer, done };
        let count = analysis.layer_count();
        self.progress(
            Phase::ScanningLayers,
            format!("scanning layer {} of {count}", layer + 1),
        );
        Ok(())
    }
}

mod analysis {
    //! Turns the config and the scanner's layer summaries into an [`ImageReport`].

    use super::{ArchiveError, ImagePlan, Need};
    use crate::engine::scan::{LayerError, LayerSummary, ScanOptions, Scanner};
    use crate::model::config::ImageConfig;
    use crate::model::digest::Digest;
    use crate::present::report::{
        EfficiencyReport, HistoryRow, ImageListing, ImageReport, InefficientFile, LayerFile,
        LayerReport, MergedFile, SourceInfo, Verification,
    };

    /// A layer scanned while the archive streamed past (or why it could not be).
    pub(in crate::archive) type StreamedBlob = super::stream::Scanned;

    pub(in crate::archive) struct Analysis {
        pub(in crate::archive) report: ImageReport,
        plan: ImagePlan,
        config: crate::model::config::ImageConfig,
        image_id: Digest,
        listing: ImageListing,
        diff_ids: Vec<Digest>,
        scanner: Option<Scanner>,
        current_layer_size: u64,
        summaries: Vec<LayerSummary>,
    }

    impl Analysis {
        pub(in crate::archive) fn new(
            plan: ImagePlan,
            config_bytes: &[u8],
            images: Vec<ImageListing>,
            selected: usize,
            source: SourceInfo,
        ) -> Result<Analysis, Need> {
            let file = plan.config.path.clone();
            let bad = |detail: String| {
                Need::Fail(ArchiveError::BadDocument {
                    file: file.clone(),
                    detail,
                })
            };
            let actual = Digest::sha256_of(config_bytes);
            let mut verification = Vec::new();
            if let Some(expected) = &plan.config.expected {
                let mut hasher = crate::model::digest::Hasher::for_digest(expected);
                hasher.update(config_bytes);
                let actual = hasher.finish();
                if &actual != expected {
                    return Err(ArchiveError::DigestMismatch {
                        kind: "config".into(),
                        subject: file.clone(),
                        expected: expected.to_string(),
                        actual: actual.to_string(),
                    }
                    .into());
                }
                verification.push(row("config", &file, expected, &actual));
            }
            let config = crate::model::config::ImageConfig::parse(config_bytes)
                .map_err(|e| bad(e.to_string()))?;
            let diff_ids = config.diff_ids().to_vec();
            if diff_ids.len() != plan.layers.len() {
                return Err(bad(format!(
                    "rootfs.diff_ids lists {} layers but {} lists {}",
                    diff_ids.len(),
                    plan.listed_by,
                    plan.layers.len()
                )));
            }
            let listing = images[selected].clone();
            let listing = &listing;
            // An OCI layout's ref name is often a bare tag (`latest`, `1.0`) with no repository.
            let bare_is_tag = source.format.starts_with("oci-layout");
            let (repository, tag) =
                split_tag(listing.tags.first().map(String::as_str), bare_is_tag);
            let mut report = ImageReport {
                source,
                selected,
                image_ls: crate::present::report::ImageLsRow {
                    repository,
                    tag,
                    image_id: actual.short().to_string(),
                    created: config.created.clone(),
                    size_bytes: 0,
                    size: String::new(),
                },
                images,
                verification,
                ..Default::default()
            };
            let commands = layer_commands(&config, plan.layers.len());
            report.history = history_rows(&config, &actual, &[]).0;
            report.inspect = inspect_object(&config, &actual, listing, None);
            report.layers = plan
                .layers
                .iter()
                .enumerate()
                .map(|(index, layer)| LayerReport {
                    index,
                    path: layer.path.clone(),
                    digest: layer.expected.as_ref().map(|d| d.to_string()),
                    diff_id: Some(diff_ids[index].to_string()),
                    media_type: layer.media_type.clone(),
                    command: commands[index].clone(),
                    ..Default::default()
                })
                .collect();
            Ok(Analysis {
                report,
                plan,
                config,
                image_id: actual.clone(),
                listing: listing.clone(),
                diff_ids,
                scanner: None,
                current_layer_size: 0,
                summaries: Vec::new(),
            })
        }

        pub(in crate::archive) fn layer_count(&self) -> usize {
            self.plan.layers.len()
        }

        /// Size in the archive of the layer being scanned.
        pub(in crate::archive) fn current_layer_size(&self) -> u64 {
            self.current_layer_size
        }

        pub(in crate::archive) fn layer_path(&self, layer: usize) -> (String, String) {
            (
                self.plan.layers[layer].path.clone(),
                self.plan.listed_by.clone(),
            )
        }

        pub(in crate::archive) fn scanning(&self) -> bool {
            self.scanner.is_some()
        }

        pub(in crate::archive) fn start_layer(&mut self, layer: usize, size: u64) {
            self.current_layer_size = size;
            let blob = &self.plan.layers[layer];
            self.scanner = Some(Scanner::new(ScanOptions {
                expected_blob_digest: blob.expected.clone(),
                expected_diff_id: Some(self.diff_ids[layer].clone()),
                declared_media_type: blob.media_type.clone(),
            }));
        }

        pub(in crate::archive) fn push(
            &mut self,
            layer: usize,
            bytes: &[u8],
        ) -> Result<(), ArchiveError> {
            let path = self.plan.layers[layer].path.clone();
            let scanner = self
                .scanner
                .as_mut()
                .ok_or_else(|| ArchiveError::Protocol {
                    detail: "layer bytes before the layer started".into(),
                })?;
            scanner.push(bytes).map_err(|e| ArchiveError::Layer {
                index: layer,
                file: path,
                detail: e.to_string(),
            })
        }

        pub(in crate::archive) fn finish_layer(
            &mut self,
            layer: usize,
            name: &str,
        ) -> Result<LayerReport, ArchiveError> {
            let scanner = self.scanner.take().ok_or_else(|| ArchiveError::Protocol {
                detail: "finishing a layer that never started".into(),
            })?;
            let result = match scanner.finish() {
                // The digests are checked below, with the archive's names in the message.
                Err(LayerError::DigestMismatch { summary, .. }) => Ok(*summary),
                other => other,
            };
            self.add_layer(layer, name, result.map_err(|e| e.to_string()))
        }

        /// Verifies one scanned layer and fills its row.
        pub(in crate::archive) fn add_layer(
            &mut self,
            layer: usize,
            name: &str,
            result: Result<LayerSummary, String>,
        ) -> Result<LayerReport, ArchiveError> {
            let summary = result.map_err(|detail| ArchiveError::Layer {
                index: layer,
                file: name.into(),
                detail,
            })?;
            let subject = format!("layer {layer} ({name})");
            if let Some(expected) = self.plan.layers[layer].expected.clone() {
                self.check("layer", &subject, &expected, &summary.blob_digest)?;
            }
            let expected_diff_id = self.diff_ids[layer].clone();
            self.check("diff_id", &subject, &expected_diff_id, &summary.diff_id)?;
            let row = &mut self.report.layers[layer];
            row.path = name.to_string();
            row.digest = Some(summary.blob_digest.to_string());
            row.compression = summary.compression.name().to_string();
            row.stored_size = summary.compressed_size;
            row.tar_size = summary.uncompressed_size;
            row.size_bytes = summary.entries_size;
            row.entry_count = summary.entries.len() as u64;
            row.file_list = summary.entries.iter().filter_map(layer_file).collect();
            row.scanned = true;
            for warning in &summary.warnings {
                self.report
                    .warnings
                    .push(format!("layer {layer} ({name}): {warning}"));
            }
            let row = row.clone();
            self.summaries.push(summary);
            Ok(row)
        }

        fn check(
            &mut self,
            kind: &str,
            subject: &str,
            expected: &Digest,
            actual: &Digest,
        ) -> Result<(), ArchiveError> {
            if expected != actual {
                return Err(ArchiveError::DigestMismatch {
                    kind: kind.into(),
                    subject: subject.into(),
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
            self.report
                .verification
                .push(row(kind, subject, expected, actual));
            Ok(())
        }

        /// Stacks the layers and computes the image-wide figures.
        pub(in crate::archive) fn finish(&mut self) -> Result<ImageReport, ArchiveError> {
            let stack_error = |e: crate::engine::tree::TreeError| ArchiveError::TooLarge {
                what: e.to_string(),
                limit: u32::MAX as u64,
            };
            let mut trees = crate::engine::tree::FileTrees::new();
            for summary in &self.summaries {
                trees.add_layer(&summary.entries).map_err(stack_error)?;
            }
            for (index, row) in self.report.layers.iter_mut().enumerate() {
                let (added, modified, removed) =
                    change_counts(&trees.view(index, crate::engine::tree::ViewKind::LayerChanges));
                row.added = added;
                row.modified = modified;
                row.removed = removed;
                row.size_bytes =
                    crate::engine::efficiency::dive_layer_size(&self.summaries[index].entries);
            }
            self.report.files = trees.final_view().iter().map(merged_file).collect();
            let layers: Vec<&[crate::engine::scan::LayerEntry]> = self
                .summaries
                .iter()
                .map(|s| s.entries.as_slice())
                .collect();
            let efficiency = crate::engine::efficiency::analyze(&layers).map_err(stack_error)?;
            self.report.efficiency = Some(EfficiencyReport {
                size_bytes: efficiency.size_bytes,
                user_size_bytes: efficiency.user_size_bytes,
                wasted_bytes: efficiency.wasted_bytes,
                score: finite(efficiency.score),
                wasted_user_percent: finite(efficiency.wasted_user_percent),
                reclaimable_bytes: efficiency.reclaimable_bytes,
            });
            self.report.inefficient_files = efficiency
                .inefficiencies
                .iter()
                .map(|i| InefficientFile {
                    path: i.path.clone(),
                    count: i.count as u64,
                    wasted_bytes: i.cumulative_bytes,
                })
                .collect();
            self.report.image_ls.size_bytes = efficiency.size_bytes;
            self.report.image_ls.size = crate::present::humanize::size(efficiency.size_bytes);
            let sizes: Vec<u64> = self.report.layers.iter().map(|l| l.size_bytes).collect();
            let (history, warnings) = history_rows(&self.config, &self.image_id, &sizes);
            self.report.history = history;
            self.report.warnings.extend(warnings);
            self.report.inspect = inspect_object(
                &self.config,
                &self.image_id,
                &self.listing,
                Some(efficiency.size_bytes),
            );
            self.report.complete = true;
            Ok(self.report.clone())
        }
    }

    /// JSON has no NaN or infinity; dive's ratio is NaN when an image has one layer.
    fn finite(value: f64) -> f64 {
        if value.is_finite() {
            value
        } else {
            0.0
        }
    }

    fn change_counts(view: &[crate::engine::tree::ViewEntry]) -> (u64, u64, u64) {
        use crate::engine::tree::Mark;
        let mut counts = (0, 0, 0);
        // Directories only implied by deeper paths are context, not changes.
        for entry in view
            .iter()
            .filter(|e| e.explicit || e.kind != crate::engine::tar::EntryKind::Directory)
        {
            match entry.mark {
                Mark::Added => counts.0 += 1,
                Mark::Modified => counts.1 += 1,
                Mark::Removed => counts.2 += 1,
                Mark::Unchanged => {}
            }
        }
        counts
    }

    fn kind_name(kind: crate::engine::tar::EntryKind) -> &'static str {
        use crate::engine::tar::EntryKind as K;
        match kind {
            K::File | K::GnuSparse | K::Other(_) => "file",
            K::Directory => "dir",
            K::Symlink => "symlink",
            K::HardLink => "hardlink",
            K::CharDevice => "char",
            K::BlockDevice => "block",
            K::Fifo => "fifo",
        }
    }

    fn merged_file(entry: &crate::engine::tree::ViewEntry) -> MergedFile {
        MergedFile {
            path: entry.path_lossy(),
            kind: kind_name(entry.kind).into(),
            size: entry.size,
            mode: entry.mode,
            link_name: entry
                .link_target
                .as_ref()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .unwrap_or_default(),
            layer: entry.layer,
        }
    }

    fn row(kind: &str, subject: &str, expected: &Digest, actual: &Digest) -> Verification {
        Verification {
            kind: kind.into(),
            subject: subject.into(),
            expected: expected.to_string(),
            actual: actual.to_string(),
            ok: expected == actual,
        }
    }

    /// `repo:tag` split at the tag's colon (not a registry port's), in docker's familiar form
    /// (`docker.io/library/busybox:1` shows as `busybox`, `1`).
    fn split_tag(reference: Option<&str>, bare_is_tag: bool) -> (String, String) {
        let Some(reference) = reference else {
            return ("<none>".into(), "<none>".into());
        };
        if bare_is_tag && !reference.contains(['/', ':']) {
            return ("<none>".into(), reference.to_string());
        }
        if let Ok(parsed) = crate::model::reference::Reference::parse(reference) {
            if let Some(tag) = parsed.tag() {
                return (parsed.familiar_name(), tag.to_string());
            }
        }
        let slash = reference.rfind('/').map_or(0, |i| i + 1);
        match reference[slash..].rfind(':') {
            Some(colon) => (
                reference[..slash + colon].to_string(),
                reference[slash + colon + 1..].to_string(),
            ),
            None => (reference.to_string(), "latest".into()),
        }
    }

    /// The history command of each non-empty history step, one per layer.
    fn layer_commands(config: &ImageConfig, layers: usize) -> Vec<String> {
        let steps: Vec<String> = config
            .history
            .iter()
            .filter(|h| !h.empty_layer)
            .map(|h| h.created_by.clone().unwrap_or_default())
            .collect();
        (0..layers)
            .map(|i| steps.get(i).cloned().unwrap_or_default())
            .collect()
    }

    /// `docker history` rows, newest first, from the history module; `layer_sizes` are known
    /// only after the scan. The reader has no clock, so relative times are left to the display.
    fn history_rows(
        config: &ImageConfig,
        id: &Digest,
        layer_sizes: &[u64],
    ) -> (Vec<HistoryRow>, Vec<String>) {
        let table = crate::present::history::rows(config, layer_sizes, id, 0);
        let rows = table
            .rows
            .into_iter()
            .map(|row| HistoryRow {
                image: row.image_short,
                created: row.created_at,
                created_by: row.created_by,
                size: row.size.unwrap_or(0),
                comment: row.comment,
                empty_layer: row.empty_layer,
            })
            .collect();
        (rows, table.warnings)
    }

    /// The `docker image inspect` object, from the inspect module.
    fn inspect_object(
        config: &ImageConfig,
        id: &Digest,
        listing: &ImageListing,
        size: Option<u64>,
    ) -> serde_json::Value {
        let reference = listing
            .tags
            .first()
            .and_then(|t| crate::model::reference::Reference::parse(t).ok());
        let inspect =
            crate::present::inspect::image_inspect(&crate::present::inspect::InspectInput {
                config,
                image_id: id,
                reference: reference.as_ref(),
                repo_digest: None,
                size,
            });
        serde_json::to_value(inspect).unwrap_or(serde_json::Value::Null)
    }

    /// dive exports modes in Go's `os.FileMode` encoding: type bits high, permissions low.
    fn go_file_mode(kind: crate::engine::tar::EntryKind, mode: u32) -> u32 {
        use crate::engine::tar::EntryKind as K;
        const DIR: u32 = 1 << 31;
        const SYMLINK: u32 = 1 << 27;
        const DEVICE: u32 = 1 << 26;
        const NAMED_PIPE: u32 = 1 << 25;
        const SETUID: u32 = 1 << 23;
        const SETGID: u32 = 1 << 22;
        const CHAR_DEVICE: u32 = 1 << 21;
        const STICKY: u32 = 1 << 20;
        let mut go = mode & 0o777;
        if mode & 0o4000 != 0 {
            go |= SETUID;
        }
        if mode & 0o2000 != 0 {
            go |= SETGID;
        }
        if mode & 0o1000 != 0 {
            go |= STICKY;
        }
        go | match kind {
            K::Directory => DIR,
            K::Symlink => SYMLINK,
            K::CharDevice => DEVICE | CHAR_DEVICE,
            K::BlockDevice => DEVICE,
            K::Fifo => NAMED_PIPE,
            _ => 0,
        }
    }

    fn type_flag(kind: crate::engine::tar::EntryKind) -> u8 {
        use crate::engine::tar::EntryKind as K;
        match kind {
            K::File => b'0',
            K::HardLink => b'1',
            K::Symlink => b'2',
            K::CharDevice => b'3',
            K::BlockDevice => b'4',
            K::Directory => b'5',
            K::Fifo => b'6',
            K::GnuSparse => b'S',
            K::Other(flag) => flag,
        }
    }

    /// dive's `fileList` entry; `None` for the `./` entry, which dive leaves out.
    fn layer_file(entry: &crate::engine::scan::LayerEntry) -> Option<LayerFile> {
        let raw = entry.path_lossy();
        // dive keeps Go's `path.Clean` of the tar name: relative, unless the name was rooted.
        let clean = super::normalize_name(&raw);
        if clean.is_empty() {
            return None;
        }
        let path = if raw.starts_with('/') {
            format!("/{clean}")
        } else {
            clean
        };
        Some(LayerFile {
            path,
            type_flag: type_flag(entry.kind),
            link_name: entry
                .link_target
                .as_ref()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .unwrap_or_default(),
            size: entry.size,
            file_mode: go_file_mode(entry.kind, entry.mode),
            uid: entry.uid,
            gid: entry.gid,
            is_dir: entry.kind == crate::engine::tar::EntryKind::Directory,
        })
    }
}
