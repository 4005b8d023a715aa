//! One file's bytes out of a dropped archive, after the analysis: find the layer's member
//! again, read it, and take the file out of it.
//!
//! When [`crate::archive::ArchiveReader`] has planned an image it can say where each layer's
//! bytes are ([`ArchiveReader::layer_location`](crate::archive::ArchiveReader::layer_location)):
//! a byte range of a plain archive, or, when the archive itself is gzip- or
//! zstd-compressed, a range of the decompressed stream, which can only be reached by
//! decompressing the archive again from its first byte. [`FileFetch`] takes such a location
//! and a path and is driven like the reader: it asks for reads ([`FetchStep::Read`]), the
//! caller answers with [`FileFetch::supply`] (short reads are fine), and the file's content
//! goes to the callback given to `supply` as it is found. It stops asking as soon as the file
//! is complete: a file near the start of a big layer costs a few reads.
//!
//! ```no_run
//! use layerscope_core::archive::{FetchStep, FileFetch, LayerLocation};
//! # fn read_at(offset: u64, len: u64) -> Vec<u8> { unimplemented!() }
//! # let location: LayerLocation = unimplemented!();
//! let mut fetch = FileFetch::new(&location, b"etc/os-release", 1024 * 1024);
//! let mut content = Vec::new();
//! let outcome = loop {
//!     match fetch.next_step() {
//!         FetchStep::Read { offset, len } => {
//!             let bytes = read_at(offset, len);
//!             let _ = fetch.supply(offset, &bytes, &mut |chunk| content.extend_from_slice(chunk));
//!         }
//!         FetchStep::Done(outcome) => break outcome,
//!         FetchStep::Failed(error) => panic!("{error}"),
//!     }
//! };
//! # let _ = outcome;
//! ```

use super::{ArchiveError, LAYER_CHUNK_BYTES};
use crate::engine::codec::{CodecError, Compression, Decoder};
use crate::engine::extract::{ExtractError, Extraction, FileExtractor, Pushed};

/// Where one layer's bytes are in an archive, so they can be read again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum LayerLocation {
    /// The layer is `len` bytes at `offset` of the archive (for a layout directory, of the
    /// files laid end to end; see [`crate::archive::ArchiveReader::locate`]).
    Range {
        /// The archive member holding the layer (links followed).
        member: String,
        /// Where its bytes start in the archive.
        offset: u64,
        /// How many there are.
        len: u64,
    },
    /// The archive is compressed: the layer is `len` bytes at `offset` of the decompressed
    /// archive, reached by decompressing it from the start.
    Compressed {
        /// The archive member holding the layer (links followed).
        member: String,
        /// How the whole archive is compressed.
        compression: Compression,
        /// Where the member's bytes start in the decompressed archive.
        offset: u64,
        /// How many there are.
        len: u64,
    },
}

impl LayerLocation {
    /// The archive member holding the layer.
    pub fn member(&self) -> &str {
        match self {
            LayerLocation::Range { member, .. } | LayerLocation::Compressed { member, .. } => {
                member
            }
        }
    }

    /// The layer's size in bytes (as stored, so compressed if the layer is).
    pub fn len(&self) -> u64 {
        match self {
            LayerLocation::Range { len, .. } | LayerLocation::Compressed { len, .. } => *len,
        }
    }

    /// True for an empty member (which is not a valid layer, but may be listed as one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the caller of a [`FileFetch`] does next.
#[derive(Debug, Clone)]
pub enum FetchStep {
    /// Read `len` bytes at `offset` of the archive and pass them to [`FileFetch::supply`].
    Read {
        /// Where the bytes start.
        offset: u64,
        /// How many the fetch would like (fewer are fine).
        len: u64,
    },
    /// The outcome, final; the file's content (if it is a file) went to the callbacks.
    Done(Extraction),
    /// The layer or the archive could not be read; later calls repeat it.
    Failed(FetchError),
}

/// Why a file could not be fetched from an archive.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The archive: a read that ended early, a corrupt outer compression, or a caller that
    /// supplied the wrong range.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The layer member could not be searched.
    #[error("{member}: {source}")]
    Layer {
        /// The archive member holding the layer.
        member: String,
        /// What the extractor found wrong.
        source: ExtractError,
    },
}

/// How far a fetch is, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchProgress {
    /// Archive bytes supplied so far (compressed bytes for a compressed archive).
    pub archive_bytes_read: u64,
    /// Bytes of the layer member read so far.
    pub layer_bytes_read: u64,
    /// The layer member's size.
    pub layer_len: u64,
}

/// A file taken out of one layer of an archive. See the module documentation.
pub struct FileFetch {
    member: String,
    start: u64,
    len: u64,
    archive_bytes_read: u64,
    state: State,
}

enum State {
    /// Reading the layer's bytes into the extractor.
    Reading {
        extractor: Box<FileExtractor>,
        bytes: MemberBytes,
    },
    Done(Extraction),
    Failed(FetchError),
}

/// How the member's bytes are reached.
enum MemberBytes {
    /// By range: the next offset to read.
    Range { next: u64 },
    /// By decompressing the archive from the start.
    Compressed {
        decoder: Box<Decoder>,
        /// Compressed bytes consumed: the next read's offset.
        read: u64,
        /// Decompressed bytes produced.
        plain: u64,
        warnings: Vec<String>,
    },
}

/// Why reading stops before a supplied chunk is used up.
enum Halt {
    /// The file is settled; nothing more is needed.
    Settled(Box<Extraction>),
    /// Every byte of the member went in without settling it: the extractor has the last word.
    MemberEnd,
    /// The layer is malformed.
    Extract(Box<ExtractError>),
    /// The archive is.
    Failed(Box<FetchError>),
}

impl From<CodecError> for Halt {
    fn from(source: CodecError) -> Self {
        Halt::Failed(Box::new(FetchError::Archive(ArchiveError::Decompression {
            source,
        })))
    }
}

impl FileFetch {
    /// A fetch of the member at `path` (any spelling; it is cleaned as the tree cleans
    /// paths) from the layer at `location`, handing out at most `max_bytes` of its content.
    pub fn new(location: &LayerLocation, path: &[u8], max_bytes: u64) -> FileFetch {
        let (start, len, bytes) = match location {
            LayerLocation::Range { offset, len, .. } => {
                (*offset, *len, MemberBytes::Range { next: *offset })
            }
            LayerLocation::Compressed {
                compression,
                offset,
                len,
                ..
            } => (
                *offset,
                *len,
                MemberBytes::Compressed {
                    decoder: Box::new(Decoder::new(*compression)),
                    read: 0,
                    plain: 0,
                    warnings: Vec::new(),
                },
            ),
        };
        FileFetch {
            member: location.member().to_string(),
            start,
            len,
            archive_bytes_read: 0,
            state: State::Reading {
                extractor: Box::new(FileExtractor::new(path, max_bytes)),
                bytes,
            },
        }
    }

    /// How far the fetch is.
    pub fn progress(&self) -> FetchProgress {
        let layer_bytes_read = match &self.state {
            State::Reading { extractor, .. } => extractor.bytes_in(),
            State::Done(_) | State::Failed(_) => self.len,
        };
        FetchProgress {
            archive_bytes_read: self.archive_bytes_read,
            layer_bytes_read,
            layer_len: self.len,
        }
    }

    /// What the caller must do next. See [`FetchStep`].
    pub fn next_step(&mut self) -> FetchStep {
        let end = self.start + self.len;
        let read = match &self.state {
            State::Done(outcome) => return FetchStep::Done(outcome.clone()),
            State::Failed(error) => return FetchStep::Failed(error.clone()),
            State::Reading { bytes, .. } => match bytes {
                MemberBytes::Range { next } if *next < end => Some((*next, end - next)),
                MemberBytes::Compressed { read, plain, .. } if *plain < end => {
                    Some((*read, LAYER_CHUNK_BYTES))
                }
                _ => None,
            },
        };
        if let Some((offset, left)) = read {
            return FetchStep::Read {
                offset,
                len: left.min(LAYER_CHUNK_BYTES),
            };
        }
        // Only an empty member gets here: a supply that completes the member settles it.
        self.end_of_member();
        self.next_step()
    }

    /// Answers the last [`FetchStep::Read`]: `bytes` start at `offset`; fewer than asked are
    /// fine, none means the archive ended there. The file's content found in them goes to
    /// `on_content`. Errors are also returned by later `next_step`s.
    pub fn supply<F>(
        &mut self,
        offset: u64,
        bytes: &[u8],
        on_content: &mut F,
    ) -> Result<(), FetchError>
    where
        F: FnMut(&[u8]),
    {
        let result = match &mut self.state {
            State::Reading {
                extractor,
                bytes: source,
            } => {
                self.archive_bytes_read += bytes.len() as u64;
                let span = (self.start, self.start + self.len);
                read_member(source, extractor, span, offset, bytes, on_content)
            }
            State::Failed(error) => return Err(error.clone()),
            State::Done(_) => {
                return Err(ArchiveError::protocol("supply after the fetch finished").into())
            }
        };
        let member = self.member.clone();
        let layer_error = |source| FetchError::Layer { member, source };
        let next = match result {
            Ok(()) => return Ok(()),
            Err(Halt::Settled(outcome)) => State::Done(*outcome),
            Err(Halt::MemberEnd) => {
                let State::Reading { extractor, .. } =
                    std::mem::replace(&mut self.state, State::Done(Extraction::NotFound))
                else {
                    unreachable!("matched Reading above");
                };
                match extractor.finish(on_content) {
                    Ok(outcome) => State::Done(outcome),
                    Err(source) => State::Failed(layer_error(source)),
                }
            }
            Err(Halt::Extract(source)) => State::Failed(layer_error(*source)),
            Err(Halt::Failed(error)) => State::Failed(*error),
        };
        self.state = next;
        match &self.state {
            State::Failed(error) => Err(error.clone()),
            _ => Ok(()),
        }
    }

    /// An empty member: nothing to push, the extractor decides at once.
    fn end_of_member(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Done(Extraction::NotFound));
        let State::Reading { extractor, .. } = state else {
            self.state = state;
            return;
        };
        // Nothing was pushed, so no content can come out.
        self.state = match extractor.finish(&mut |_| {}) {
            Ok(outcome) => State::Done(outcome),
            Err(source) => State::Failed(FetchError::Layer {
                member: self.member.clone(),
                source,
            }),
        };
    }
}

/// Pushes the member's part of a supplied read into the extractor.
fn read_member<F>(
    source: &mut MemberBytes,
    extractor: &mut FileExtractor,
    (start, end): (u64, u64),
    offset: u64,
    bytes: &[u8],
    on_content: &mut F,
) -> Result<(), Halt>
where
    F: FnMut(&[u8]),
{
    let mut push = |piece: &[u8], member_complete: bool| -> Result<(), Halt> {
        match extractor.push(piece, on_content) {
            Ok(Pushed::Finished(outcome)) => Err(Halt::Settled(Box::new(outcome))),
            Ok(Pushed::NeedMore) if member_complete => Err(Halt::MemberEnd),
            Ok(Pushed::NeedMore) => Ok(()),
            Err(source) => Err(Halt::Extract(Box::new(source))),
        }
    };
    match source {
        MemberBytes::Range { next } => {
            if offset != *next {
                return Err(Halt::Failed(Box::new(misplaced(offset, *next))));
            }
            if bytes.is_empty() {
                return Err(Halt::Failed(Box::new(truncated(offset, end - offset))));
            }
            let take =
                usize::try_from(end - offset).map_or(bytes.len(), |left| left.min(bytes.len()));
            *next += take as u64;
            push(&bytes[..take], *next == end)
        }
        MemberBytes::Compressed {
            decoder,
            read,
            plain,
            warnings,
        } => {
            if offset != *read {
                return Err(Halt::Failed(Box::new(misplaced(offset, *read))));
            }
            *read += bytes.len() as u64;
            let mut take_plain = |chunk: &[u8]| -> Result<(), Halt> {
                let at = *plain;
                *plain += chunk.len() as u64;
                // The overlap of this chunk, [at, plain), with the member's [start, end).
                let from = start.clamp(at, *plain);
                let to = end.clamp(from, *plain);
                if from == to {
                    return Ok(());
                }
                push(&chunk[(from - at) as usize..(to - at) as usize], to == end)
            };
            if bytes.is_empty() {
                decoder.finish(warnings, &mut take_plain)?;
                // The archive ended before the member did.
                return Err(Halt::Failed(Box::new(truncated(*plain, end - *plain))));
            }
            decoder.push(bytes, warnings, &mut take_plain)
        }
    }
}

fn misplaced(offset: u64, expected: u64) -> FetchError {
    ArchiveError::protocol(format!(
        "supplied bytes at offset {offset}, but the fetch asked for offset {expected}"
    ))
    .into()
}

fn truncated(offset: u64, missing: u64) -> FetchError {
    ArchiveError::Truncated {
        offset,
        detail: format!("{missing} more bytes of the layer were expected"),
    }
    .into()
}
