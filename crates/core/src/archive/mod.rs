//! Reading `docker save` and OCI layout archives from their headers.
//!
//! [`ArchiveReader`] is a sans-IO state machine: it never reads anything itself. It tells its
//! caller which byte range it needs next ([`Step::Read`]); the caller reads that range from
//! wherever the archive lives (a `File`, a `Blob.slice` in a Web Worker) and hands the bytes
//! back with [`ArchiveReader::supply`]. The reader walks the outer tar's 512-byte headers and
//! skips contents, reads the small JSON documents whole (at most [`MAX_DOCUMENT_BYTES`] each),
//! lists the images, and then, for the chosen image, asks for each layer in chunks of at most
//! [`LAYER_CHUNK_BYTES`] and feeds them to the layer scanner. The caller needs no knowledge of
//! any format: it only answers reads and shows what comes back. A caller with workers to
//! spare makes it [`ArchiveReader::with_external_scans`]: the layers are then handed out
//! ([`Step::ScanLayers`]) to be scanned several at once, and their scans handed back in any
//! order; after the analysis, [`ArchiveReader::layer_location`] says where each layer is so
//! a file can be read out of it again ([`FileFetch`]).
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
//!         // Only a reader made `with_external_scans` hands its layers out.
//!         Step::ScanLayers(_) | Step::AwaitingScans { .. } => unreachable!(),
//!     }
//! };
//! # let _ = report;
//! ```
//!
//! For an OCI layout *directory* (CLI only), build the reader with
//! [`ArchiveReader::new_directory`] from the list of files; reads then address a virtual
//! concatenation of those files and [`ArchiveReader::locate`] maps an offset back to a file.

//! # Where things are
//!
//! - [`reader`]: [`ArchiveReader`], the state machine the caller drives;
//! - `walk`: the outer tar walked by its headers, skipping contents (random access);
//! - `stream`: the compressed-archive strategy, one pass front to back;
//! - `members`: the archive's member index, links followed, small documents kept;
//! - `plan`, `docker_save`, `oci_layout`: from the documents to "this config, these layers";
//! - the chosen image's config and layers then go through [`crate::present::analysis`],
//!   which a registry client feeds the same way;
//! - [`fetch`]: a file's bytes out of one layer of the archive again, after the analysis.

mod docker_save;
mod error;
pub mod fetch;
mod members;
mod oci_layout;
mod plan;
pub mod reader;
mod stream;
mod walk;

pub use crate::present::report::SourceFormat;
pub use error::ArchiveError;
pub use fetch::{FetchError, FetchProgress, FetchStep, FileFetch, LayerLocation};
pub use reader::ArchiveReader;

use crate::engine::scan::ScanOptions;
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

/// Most symlink hops followed when resolving a path inside the archive.
const MAX_LINK_HOPS: usize = 8;

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
    /// One layer has been scanned and verified (with external scans: scanned, and verified
    /// once its digests are in).
    LayerScanned(Box<LayerReport>),
    /// Only with [`ArchiveReader::with_external_scans`]: every layer of the image, for the
    /// caller to scan (any number at once) and hand back with
    /// [`ArchiveReader::layer_scanned`] (and [`ArchiveReader::layer_digests`]).
    ScanLayers(Vec<LayerScanJob>),
    /// Only with external scans: nothing to do but wait for `outstanding` scans; call
    /// `next_step` again after handing one back.
    AwaitingScans {
        /// Layers whose scans are not back yet.
        outstanding: usize,
    },
    /// The finished report. Further calls return `Done` again.
    Done(Box<ImageReport>),
    /// The archive was refused or a read failed. Further calls return the same error.
    Failed(ArchiveError),
}

/// One layer for the caller to scan: `len` bytes at `offset` of the archive, through a
/// scanner made with `options` (expected digests and media type; set
/// [`crate::engine::scan::Hashing::EntriesOnly`] there and run a
/// [`crate::engine::scan::DigestScanner`] beside it to have the tree before the hashes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerScanJob {
    /// Layer index, 0 for the bottom layer.
    pub index: usize,
    /// The archive member holding the layer (links followed).
    pub member: String,
    /// Where the layer's bytes start in the archive.
    pub offset: u64,
    /// How many there are.
    pub len: u64,
    /// What the scanner is told.
    pub options: ScanOptions,
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
