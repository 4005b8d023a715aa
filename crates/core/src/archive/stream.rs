//! The archive read once, front to back: `docker save | gzip`, `docker save | zstd`, or any
//! archive arriving through a pipe. There is no seeking back, so every member is dealt with
//! as it streams past: small JSON documents are kept whole, and every other file is scanned
//! as a possible layer (its summary kept by name until the documents say which are layers).
//!
//! Once the tar's end-of-archive marker has passed, at most [`MAX_BYTES_AFTER_END`] more
//! bytes are read (a pipe of endless zeros ends there), and a tar that ends before its first
//! member is refused at once.

use std::collections::HashMap;

use super::members::Member;
use super::ArchiveError;
use crate::engine::codec::{self, Compression, Decoder};
use crate::engine::scan::{LayerError, LayerSummary, ScanOptions, Scanner};
use crate::engine::tar::{EntryKind, TarEvent, TarParser, BLOCK};
use crate::limits::Limits;

/// Decompressed bytes read past the end-of-archive marker before the stream is taken as
/// ended: `docker save` pads to 10 KiB records, and nothing after the marker is used.
const MAX_BYTES_AFTER_END: u64 = 1024 * 1024;

/// A layer scanned while the archive streamed past, or why it could not be.
pub(super) type Scanned = Result<LayerSummary, LayerError>;

/// The stream's state. See the module documentation.
pub(super) struct ArchiveStream {
    /// Chosen from the first bytes.
    decoder: Option<Decoder>,
    parser: TarParser,
    sink: Sink,
    consumed: u64,
    ended: bool,
    /// Size of the compressed archive, when the caller knew it.
    total_len: Option<u64>,
    warnings: Vec<String>,
    limits: Limits,
}

impl ArchiveStream {
    /// A stream of unknown compression and, without `total_len`, unknown length.
    pub(super) fn new(total_len: Option<u64>) -> ArchiveStream {
        ArchiveStream {
            decoder: None,
            parser: TarParser::new(),
            sink: Sink::default(),
            consumed: 0,
            ended: false,
            total_len,
            warnings: Vec::new(),
            limits: Limits::DEFAULT,
        }
    }

    /// Bounds the documents kept, the names in the tars and the zstd windows by `limits`.
    pub(super) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.sink.limits = limits;
        self.parser = TarParser::new().with_limits(&limits);
    }

    pub(super) fn total_len(&self) -> Option<u64> {
        self.total_len
    }

    pub(super) fn consumed(&self) -> u64 {
        self.consumed
    }

    pub(super) fn ended(&self) -> bool {
        self.ended
    }

    /// The archive's compression (plain until the first bytes have arrived).
    pub(super) fn compression(&self) -> Compression {
        self.decoder
            .as_ref()
            .map_or(Compression::None, Decoder::compression)
    }

    /// "gzip-compressed", "zstd-compressed" or "uncompressed", for progress lines.
    pub(super) fn describe(&self) -> String {
        match self.compression() {
            Compression::None => "uncompressed".into(),
            other => format!("{other}-compressed"),
        }
    }

    pub(super) fn push(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        let limits = &self.limits;
        let decoder = self
            .decoder
            .get_or_insert_with(|| Decoder::with_limits(codec::sniff(bytes), limits));
        self.consumed += bytes.len() as u64;
        let (parser, sink) = (&mut self.parser, &mut self.sink);
        decoder.push(bytes, &mut self.warnings, &mut |plain| {
            feed_tar(parser, sink, plain)
        })?;
        self.check_end()
    }

    /// Ends the stream once the tar has ended and enough bytes have followed; refuses a
    /// tar that ended before its first member.
    fn check_end(&mut self) -> Result<(), ArchiveError> {
        let Some(end) = self.sink.tar_end else {
            return Ok(());
        };
        if self.sink.entries == 0 {
            self.ended = true;
            return Err(ArchiveError::NotAnImage {
                detail: "The input starts with zero bytes (a tar end-of-archive marker) and holds no file: it is not a docker save or OCI layout archive.".into(),
            });
        }
        if self.parser.offset() - end >= MAX_BYTES_AFTER_END {
            self.ended = true;
        }
        Ok(())
    }

    pub(super) fn finish(&mut self) -> Result<(), ArchiveError> {
        if let Some(decoder) = &mut self.decoder {
            let (parser, sink) = (&mut self.parser, &mut self.sink);
            decoder.finish(&mut self.warnings, &mut |plain| {
                feed_tar(parser, sink, plain)
            })?;
        }
        self.ended = true;
        if self.consumed == 0 {
            return Err(ArchiveError::NotAnImage {
                detail: "The input is empty.".into(),
            });
        }
        self.parser.finish().map_err(|e| ArchiveError::Truncated {
            offset: e.offset,
            detail: e.to_string(),
        })?;
        Ok(())
    }

    /// Hands over the members, documents and warnings collected since the last call.
    pub(super) fn drain(&mut self) -> (Vec<Member>, Vec<(String, Vec<u8>)>, Vec<String>) {
        (
            std::mem::take(&mut self.sink.members),
            std::mem::take(&mut self.sink.documents),
            std::mem::take(&mut self.warnings),
        )
    }

    /// The scan of member `name`, if it streamed past as a possible layer.
    pub(super) fn take_scanned(&mut self, name: &str) -> Option<Scanned> {
        self.sink.scanned.remove(name)
    }
}

fn feed_tar(parser: &mut TarParser, sink: &mut Sink, plain: &[u8]) -> Result<(), ArchiveError> {
    if let Some(end) = sink.tar_end {
        // Past the end nothing is used; the bytes are only counted, not parsed.
        if parser.offset() - end >= MAX_BYTES_AFTER_END {
            return Ok(());
        }
    }
    let first = parser.offset() == 0;
    let result = parser.push(plain, |event| sink.on_event(event));
    if parser.is_ended() && sink.tar_end.is_none() {
        sink.tar_end = Some(parser.offset());
    }
    match result {
        Ok(()) => sink.error.take().map_or(Ok(()), Err),
        Err(e) if first && e.offset == 0 => Err(ArchiveError::NotAnImage {
            detail: "The input is not a tar archive (no valid tar header at byte 0), so it is not a docker save or OCI layout archive.".into(),
        }),
        Err(source) => Err(ArchiveError::BadTar { source }),
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
    Failed(LayerError),
}

#[derive(Default)]
struct Sink {
    current: Option<(String, u64, Content)>,
    members: Vec<Member>,
    /// Members seen in all (`members` is drained as they are handed on).
    entries: u64,
    documents: Vec<(String, Vec<u8>)>,
    scanned: HashMap<String, Scanned>,
    error: Option<ArchiveError>,
    /// Where the tar's end-of-archive marker ended, once it has.
    tar_end: Option<u64>,
    limits: Limits,
}

impl Sink {
    fn on_event(&mut self, event: TarEvent<'_>) {
        match event {
            TarEvent::Entry(entry) => {
                // The content follows the member's header block (layers are never sparse).
                let member = Member::from_tar(&entry, entry.header_offset + BLOCK as u64);
                if member.kind == EntryKind::File {
                    self.current = Some((member.name.clone(), member.size, Content::Undecided));
                }
                self.entries += 1;
                self.members.push(member);
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
                Some(b'{' | b'[' | b'n') if *size <= self.limits.max_document_bytes => {
                    Content::Document(Vec::new())
                }
                _ => Content::Layer(Box::new(Scanner::new(ScanOptions {
                    limits: self.limits,
                    ..ScanOptions::default()
                }))),
            };
        }
        match content {
            Content::Document(buffer) => buffer.extend_from_slice(bytes),
            Content::Layer(scanner) => {
                if let Err(e) = scanner.push(bytes) {
                    *content = Content::Failed(e);
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
                self.scanned.insert(name, scanner.finish());
            }
            Content::Failed(reason) => {
                self.scanned.insert(name, Err(reason));
            }
        }
    }
}
