//! Why an archive was refused or could not be read.

use crate::engine::codec::CodecError;
use crate::engine::tar::TarError;
use crate::limits::LimitExceeded;
use crate::model::manifest::ManifestError;
use crate::present::analysis::AnalysisError;

/// Why an archive was refused or could not be read. Every message names the file, field,
/// digest or byte offset concerned. Field meanings: `file` is a member of the archive,
/// `detail` the reason in words, `offset` a byte offset in the (outer) archive. Where another
/// part of the crate found the problem (the tar decoder, the decompressor, the layer scanner,
/// the manifest and config parsers) its error is kept as the [`std::error::Error::source`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum ArchiveError {
    /// Neither manifest.json nor index.json: not an image archive.
    #[error("{detail}")]
    NotAnImage {
        /// The whole message.
        detail: String,
    },
    /// A document lists no image at all (`null`, `[]`, empty index).
    #[error("{file}: {detail}")]
    NoImages {
        /// The document.
        file: String,
        /// What it holds instead.
        detail: String,
    },
    /// A JSON document that does not parse or lacks a required field.
    #[error("{file} is not valid: {detail}")]
    BadDocument {
        /// The document.
        file: String,
        /// What is wrong, with the field's path when there is one.
        detail: String,
    },
    /// A manifest or index that the manifest parser refused.
    #[error("{file} is not valid: {source}")]
    BadManifest {
        /// The document.
        file: String,
        /// The parser's reason, with the field's path.
        source: ManifestError,
    },
    /// A file that a document refers to is not in the archive.
    #[error("{referenced_by} refers to {file}, which is not in the archive")]
    MissingFile {
        /// The member that is missing.
        file: String,
        /// The document (and image) that names it.
        referenced_by: String,
    },
    /// A blob whose size differs from the size its descriptor gives.
    #[error("{referenced_by} says {file} is {declared} bytes, but it is {actual} bytes")]
    SizeMismatch {
        /// The blob.
        file: String,
        /// The document whose descriptor gives the size.
        referenced_by: String,
        /// The descriptor's size.
        declared: u64,
        /// The blob's size in the archive.
        actual: u64,
    },
    /// A descriptor whose media type is neither an image manifest nor an index.
    #[error("{referenced_by} lists {digest} with unknown media type {media_type:?} (neither an image manifest nor an index)")]
    UnknownMediaType {
        /// The media type as written.
        media_type: String,
        /// The descriptor's digest.
        digest: String,
        /// The index that lists it.
        referenced_by: String,
    },
    /// The outer tar is malformed.
    #[error("the archive is not a valid tar: {source}")]
    BadTar {
        /// The tar decoder's reason, with the offset in the (uncompressed) archive.
        source: TarError,
    },
    /// The archive ends before the data a header announced.
    #[error("the archive ends early at byte {offset}: {detail}")]
    Truncated {
        /// Where the data stopped.
        offset: u64,
        /// What was being read.
        detail: String,
    },
    /// The outer compression stream is corrupt.
    #[error("the compressed archive is corrupt: {source}")]
    Decompression {
        /// The decompressor's reason, with the compressed offset.
        source: CodecError,
    },
    /// A manifest, the chosen image's config or one of its layers does not match the digest
    /// that names it, or could not be analysed.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// `select_image` named an image that is not there.
    #[error("no image {wanted:?} in the archive; it holds: {}", if available.is_empty() { "only untagged images".to_string() } else { available.join(", ") })]
    ImageNotFound {
        /// The tag or `#index` asked for.
        wanted: String,
        /// Every tag the archive has.
        available: Vec<String>,
    },
    /// A bound on input-controlled counts or sizes was hit.
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge {
        /// What grew too large.
        what: String,
        /// The bound.
        limit: u64,
    },
    /// Input went past one of the reader's [`crate::limits::Limits`] (a JSON document
    /// over [`crate::limits::Limits::max_document_bytes`] among them); the message names
    /// the limit and the value met, and it is the error's source so that a front end finds
    /// it ([`crate::limits::exceeded_in`]) and says how to raise it.
    #[error("{0}")]
    Limit(#[from] LimitExceeded),
    /// The caller broke the protocol (supplied the wrong offset, selected too late...).
    #[error("archive reader misuse: {detail}")]
    Protocol {
        /// What the caller did.
        detail: String,
    },
}

impl From<CodecError> for ArchiveError {
    fn from(source: CodecError) -> Self {
        ArchiveError::Decompression { source }
    }
}

impl ArchiveError {
    pub(super) fn too_large(what: impl Into<String>, limit: u64) -> ArchiveError {
        ArchiveError::TooLarge {
            what: what.into(),
            limit,
        }
    }

    pub(super) fn protocol(detail: impl Into<String>) -> ArchiveError {
        ArchiveError::Protocol {
            detail: detail.into(),
        }
    }

    pub(super) fn bad_document(file: impl Into<String>, detail: impl Into<String>) -> ArchiveError {
        ArchiveError::BadDocument {
            file: file.into(),
            detail: detail.into(),
        }
    }
}
