//! The layer scanner: decompression, hashing and tar events over pushed chunks.
//!
//! A [`Scanner`] takes a layer blob as it arrives ([`Scanner::push`], chunks of
//! any size) and, in one pass and bounded memory:
//!
//! - hashes the bytes as received (the blob digest, what manifests name);
//! - recognizes gzip (any number of members), zstd (any number of frames,
//!   skippable frames skipped) or a plain tar by their magic bytes, never by
//!   the declared media type (a disagreement becomes a warning);
//! - decompresses and hashes the tar stream (the diff_id, what the image
//!   config's `rootfs.diff_ids` name);
//! - walks the tar headers and hashes each regular file's content with xxh3,
//!   so later stages can tell "rewritten with the same bytes" from "changed".
//!
//! Memory: a fixed window (one 512-byte tar block, a 64 KiB output buffer,
//! the deflate window or the zstd frame window, at most ~260 KiB of pending
//! zstd input) plus the entry list, which is the only thing that grows with
//! the layer.

use std::fmt;

use flate2::{Decompress, FlushDecompress, Status};
use ruzstd::decoding::FrameDecoder;
use xxhash_rust::xxh3::Xxh3Default;

use crate::engine::tar::{EntryKind, TarError, TarEvent, TarParser};
use crate::model::digest::{Algorithm, Digest, Hasher, Mismatch};

/// Size of the buffer that decompressed bytes pass through.
const OUTPUT_WINDOW: usize = 64 * 1024;

/// Pending zstd input is decoded once this much is buffered: the largest zstd
/// block (128 KiB) plus its header and the largest frame header.
const ZSTD_MIN_INPUT: usize = MAX_ZSTD_BLOCK + 3 + 18;

/// The zstd format's largest block.
const MAX_ZSTD_BLOCK: usize = 128 * 1024;

/// What the scanner is told about the layer before its bytes arrive.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// The digest the manifest gives for the blob; checked when given.
    pub expected_blob_digest: Option<Digest>,
    /// The config's `rootfs.diff_ids` entry for this layer; checked when given.
    pub expected_diff_id: Option<Digest>,
    /// The media type the manifest declares; compared with what the bytes are.
    pub declared_media_type: Option<String>,
}

/// How a layer blob is compressed, as recognized from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip, one member or several.
    Gzip,
    /// Zstandard, one frame or several.
    Zstd,
}

impl Compression {
    /// Lower-case name, as used in media type suffixes.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The compression a media type names, if it names a layer type at all.
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        if media_type.contains("zstd") {
            Some(Compression::Zstd)
        } else if media_type.contains("gzip") {
            Some(Compression::Gzip)
        } else if media_type.ends_with("tar") || media_type.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        }
    }
}

/// One member of a layer's tar stream, compactly stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerEntry {
    /// The member's name, exact bytes as stored in the tar (not normalized).
    pub path: Box<[u8]>,
    /// Symlink target or hard-link source, exact bytes.
    pub link_target: Option<Box<[u8]>>,
    /// What the member is.
    pub kind: EntryKind,
    /// Permission bits from the header.
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Size from the header (PAX applied); the real size for sparse files.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// xxh3-64 of the content, for regular (and sparse, and unknown-type)
    /// files; `None` for everything else.
    pub content_hash: Option<u64>,
}

impl LayerEntry {
    /// The path for display, invalid UTF-8 replaced.
    pub fn path_lossy(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }
}

/// Which digest a [`Verification`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DigestKind {
    /// The digest of the blob as stored (compressed).
    Blob,
    /// The digest of the uncompressed tar stream.
    DiffId,
}

impl DigestKind {
    /// How the digest is named in messages.
    pub fn name(self) -> &'static str {
        match self {
            DigestKind::Blob => "blob digest",
            DigestKind::DiffId => "diff_id",
        }
    }
}

/// One expected digest checked against what was computed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// Which digest was checked.
    pub kind: DigestKind,
    /// What the manifest or config said.
    pub expected: Digest,
    /// What the bytes hashed to.
    pub actual: Digest,
    /// Whether the two agree.
    pub ok: bool,
}

/// Everything the scanner learned about one layer.
#[derive(Clone, Debug)]
pub struct LayerSummary {
    /// Bytes pushed (the blob's size).
    pub compressed_size: u64,
    /// Length of the tar stream after decompression.
    pub uncompressed_size: u64,
    /// What the magic bytes said.
    pub compression: Compression,
    /// Digest of the bytes as pushed.
    pub blob_digest: Digest,
    /// Digest of the uncompressed tar stream.
    pub diff_id: Digest,
    /// One per expected digest given in [`ScanOptions`].
    pub verifications: Vec<Verification>,
    /// Things worth telling the user that did not stop the scan.
    pub warnings: Vec<String>,
    /// The tar members in stream order.
    pub entries: Vec<LayerEntry>,
    /// Sum of the members' header sizes: the layer size dive reports.
    pub entries_size: u64,
}

/// Why a layer could not be scanned.
#[derive(Clone, Debug)]
pub enum LayerError {
    /// The tar stream inside is malformed (the offset is in the uncompressed stream).
    Tar(TarError),
    /// The gzip stream is malformed.
    Gzip {
        /// Bytes of the blob consumed when the problem was found.
        offset: u64,
        /// What is wrong (zlib-rs's message, or truncation, or trailing garbage).
        detail: String,
    },
    /// The zstd stream is malformed.
    Zstd {
        /// Bytes of the blob consumed when the problem was found.
        offset: u64,
        /// What is wrong (ruzstd's message, or truncation, or trailing garbage).
        detail: String,
    },
    /// The layer was read but a digest did not match. The summary is kept so
    /// callers can still report what was found.
    DigestMismatch {
        /// Which digest disagreed (the first, if both did).
        kind: DigestKind,
        /// Expected and actual digest.
        mismatch: Mismatch,
        /// Everything else the scan found.
        summary: Box<LayerSummary>,
    },
    /// `push` or `finish` called after an error or after `finish`.
    Finished,
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerError::Tar(e) => write!(f, "layer tar: {e}"),
            LayerError::Gzip { offset, detail } => {
                write!(
                    f,
                    "layer gzip stream, compressed byte offset {offset}: {detail}"
                )
            }
            LayerError::Zstd { offset, detail } => {
                write!(
                    f,
                    "layer zstd stream, compressed byte offset {offset}: {detail}"
                )
            }
            LayerError::DigestMismatch { kind, mismatch, .. } => write!(
                f,
                "layer {} mismatch: expected {}, actual {}",
                kind.name(),
                mismatch.expected,
                mismatch.actual
            ),
            LayerError::Finished => write!(f, "layer scanner used after it finished or failed"),
        }
    }
}

impl std::error::Error for LayerError {}

impl From<TarError> for LayerError {
    fn from(e: TarError) -> Self {
        LayerError::Tar(e)
    }
}

/// The streaming layer scanner. See the module documentation.
pub struct Scanner {
    options: ScanOptions,
    blob_hasher: Hasher,
    compressed_size: u64,
    /// First bytes kept until the format is known.
    magic: [u8; 4],
    magic_len: usize,
    decoder: Option<Decoder>,
    sink: TarSink,
    warnings: Vec<String>,
    failed: bool,
}

impl Scanner {
    /// A scanner for one blob.
    pub fn new(options: ScanOptions) -> Scanner {
        let blob_algorithm = options
            .expected_blob_digest
            .as_ref()
            .map_or(Algorithm::Sha256, Digest::algorithm);
        let diff_algorithm = options
            .expected_diff_id
            .as_ref()
            .map_or(Algorithm::Sha256, Digest::algorithm);
        Scanner {
            options,
            blob_hasher: Hasher::new(blob_algorithm),
            compressed_size: 0,
            magic: [0; 4],
            magic_len: 0,
            decoder: None,
            sink: TarSink::new(diff_algorithm),
            warnings: Vec::new(),
            failed: false,
        }
    }

    /// Bytes pushed so far (for progress reports).
    pub fn bytes_in(&self) -> u64 {
        self.compressed_size
    }

    /// Uncompressed bytes produced so far.
    pub fn bytes_out(&self) -> u64 {
        self.sink.uncompressed
    }

    /// Entries seen so far.
    pub fn entry_count(&self) -> usize {
        self.sink.entries.len()
    }

    /// Feeds the next chunk of the blob (any size, including empty).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), LayerError> {
        if self.failed {
            return Err(LayerError::Finished);
        }
        self.blob_hasher.update(bytes);
        self.compressed_size += bytes.len() as u64;
        let result = self.push_inner(bytes);
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn push_inner(&mut self, mut bytes: &[u8]) -> Result<(), LayerError> {
        if self.decoder.is_none() {
            let take = (4 - self.magic_len).min(bytes.len());
            self.magic[self.magic_len..self.magic_len + take].copy_from_slice(&bytes[..take]);
            self.magic_len += take;
            bytes = &bytes[take..];
            if self.magic_len < 4 {
                return Ok(());
            }
            self.start_decoder()?;
        }
        let decoder = self.decoder.as_mut().expect("decoder chosen");
        decoder.feed(bytes, &mut self.sink, &mut self.warnings)
    }

    /// Chooses the decoder from the magic bytes and feeds them to it.
    fn start_decoder(&mut self) -> Result<(), LayerError> {
        let magic = &self.magic[..self.magic_len];
        let compression = if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || is_skippable_zstd(magic) {
            Compression::Zstd
        } else {
            Compression::None
        };
        self.check_media_type(compression);
        let mut decoder = Decoder::new(compression);
        let magic = self.magic;
        decoder.feed(&magic[..self.magic_len], &mut self.sink, &mut self.warnings)?;
        self.decoder = Some(decoder);
        Ok(())
    }

    fn check_media_type(&mut self, found: Compression) {
        let Some(declared) = self.options.declared_media_type.as_deref() else {
            return;
        };
        match Compression::from_media_type(declared) {
            Some(expected) if expected != found => self.warnings.push(format!(
                "media type {declared} declares {} compression but the blob's bytes are {}",
                expected.name(),
                match found {
                    Compression::None => "an uncompressed tar",
                    Compression::Gzip => "gzip",
                    Compression::Zstd => "zstd",
                }
            )),
            Some(_) => {}
            None => self.warnings.push(format!(
                "media type {declared} is not a known layer type; read as {} by its magic bytes",
                found.name()
            )),
        }
    }

    /// Ends the blob: flushes the decoder, checks the tar ended cleanly and
    /// verifies the expected digests.
    pub fn finish(mut self) -> Result<LayerSummary, LayerError> {
        if self.failed {
            return Err(LayerError::Finished);
        }
        if self.decoder.is_none() {
            self.start_decoder()?;
        }
        let compression = {
            let decoder = self.decoder.as_mut().expect("decoder chosen");
            decoder.finish(&mut self.sink, &mut self.warnings)?;
            decoder.compression()
        };
        let end = self.sink.tar.finish()?;
        if !end.end_marker_seen {
            self.warnings.push(format!(
                "tar stream ends at byte offset {} without an end-of-archive marker",
                end.stream_len
            ));
        }
        if let Some(at) = end.trailing_data_at {
            self.warnings.push(format!(
                "{} bytes of data follow the tar end-of-archive marker, from uncompressed \
                 byte offset {at} (an eStargz table of contents, for example); they are part \
                 of the diff_id but hold no files",
                end.stream_len - at
            ));
        }
        let blob_digest = self.blob_hasher.finish();
        let diff_id = self.sink.diff_hasher.finish();
        let mut verifications = Vec::new();
        let mut first_mismatch = None;
        for (kind, expected, actual) in [
            (
                DigestKind::Blob,
                &self.options.expected_blob_digest,
                &blob_digest,
            ),
            (DigestKind::DiffId, &self.options.expected_diff_id, &diff_id),
        ] {
            if let Some(expected) = expected {
                let result = expected.verify(actual);
                if let (Err(m), None) = (&result, &first_mismatch) {
                    first_mismatch = Some((kind, m.clone()));
                }
                verifications.push(Verification {
                    kind,
                    expected: expected.clone(),
                    actual: actual.clone(),
                    ok: result.is_ok(),
                });
            }
        }
        let summary = LayerSummary {
            compressed_size: self.compressed_size,
            uncompressed_size: self.sink.uncompressed,
            compression,
            blob_digest,
            diff_id,
            verifications,
            warnings: self.warnings,
            entries: self.sink.entries,
            entries_size: self.sink.entries_size,
        };
        match first_mismatch {
            Some((kind, mismatch)) => Err(LayerError::DigestMismatch {
                kind,
                mismatch,
                summary: Box::new(summary),
            }),
            None => Ok(summary),
        }
    }
}

/// Scans a whole blob given as a sequence of chunks: the one code path the
/// benchmarks time, natively and in WebAssembly (the harness supplies the
/// chunks and the clock; this crate has neither).
pub fn scan_chunks<I, B>(chunks: I, options: ScanOptions) -> Result<LayerSummary, LayerError>
where
    I: IntoIterator<Item = B>,
    B: AsRef<[u8]>,
{
    let mut scanner = Scanner::new(options);
    for chunk in chunks {
        scanner.push(chunk.as_ref())?;
    }
    scanner.finish()
}

/// Scans a whole blob pulled from a byte source: `read` fills the buffer it
/// is given and returns how many bytes it wrote, 0 at the end. The buffer
/// (`chunk_size` bytes) is the only one allocated for input. This is the
/// entry point benchmarks use natively and in WebAssembly.
pub fn scan_source<F>(
    mut read: F,
    chunk_size: usize,
    options: ScanOptions,
) -> Result<LayerSummary, LayerError>
where
    F: FnMut(&mut [u8]) -> usize,
{
    let mut buffer = vec![0u8; chunk_size.max(1)];
    let mut scanner = Scanner::new(options);
    loop {
        let n = read(&mut buffer);
        if n == 0 {
            break;
        }
        scanner.push(&buffer[..n])?;
    }
    scanner.finish()
}

fn is_skippable_zstd(magic: &[u8]) -> bool {
    magic.len() == 4 && magic[0] & 0xf0 == 0x50 && magic[1..] == [0x2a, 0x4d, 0x18]
}

/// Receives the uncompressed stream: hashes it and walks its tar headers.
struct TarSink {
    tar: TarParser,
    diff_hasher: Hasher,
    uncompressed: u64,
    entries: Vec<LayerEntry>,
    entries_size: u64,
    file_hasher: Xxh3Default,
    /// Index in `entries` of the file whose content is streaming.
    hashing: Option<usize>,
}

impl TarSink {
    fn new(diff_algorithm: Algorithm) -> TarSink {
        TarSink {
            // Layers may carry data after the tar (eStargz's table of
            // contents); it is hashed into the diff_id and reported.
            tar: TarParser::allowing_trailing_data(),
            diff_hasher: Hasher::new(diff_algorithm),
            uncompressed: 0,
            entries: Vec::new(),
            entries_size: 0,
            file_hasher: Xxh3Default::new(),
            hashing: None,
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), LayerError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.diff_hasher.update(bytes);
        self.uncompressed += bytes.len() as u64;
        let TarSink {
            tar,
            entries,
            entries_size,
            file_hasher,
            hashing,
            ..
        } = self;
        tar.push(bytes, |event| match event {
            TarEvent::Entry(e) => {
                *entries_size += e.size;
                let hashed = matches!(
                    e.kind,
                    EntryKind::File | EntryKind::GnuSparse | EntryKind::Other(_)
                );
                if hashed {
                    file_hasher.reset();
                    *hashing = Some(entries.len());
                }
                entries.push(LayerEntry {
                    path: e.path.into_boxed_slice(),
                    link_target: e.link_target.map(Vec::into_boxed_slice),
                    kind: e.kind,
                    mode: e.mode,
                    uid: e.uid,
                    gid: e.gid,
                    size: e.size,
                    mtime: e.mtime,
                    content_hash: None,
                });
            }
            TarEvent::Data(chunk) => {
                if hashing.is_some() {
                    file_hasher.update(chunk);
                }
            }
            TarEvent::EntryEnd => {
                if let Some(index) = hashing.take() {
                    entries[index].content_hash = Some(file_hasher.digest());
                }
            }
        })?;
        Ok(())
    }
}

enum Decoder {
    Plain,
    Gzip(Box<GzipDecoder>),
    Zstd(Box<ZstdDecoder>),
}

impl Decoder {
    fn new(compression: Compression) -> Decoder {
        match compression {
            Compression::None => Decoder::Plain,
            Compression::Gzip => Decoder::Gzip(Box::new(GzipDecoder::new())),
            Compression::Zstd => Decoder::Zstd(Box::new(ZstdDecoder::new())),
        }
    }

    fn compression(&self) -> Compression {
        match self {
            Decoder::Plain => Compression::None,
            Decoder::Gzip(_) => Compression::Gzip,
            Decoder::Zstd(_) => Compression::Zstd,
        }
    }

    fn feed(
        &mut self,
        bytes: &[u8],
        sink: &mut TarSink,
        warnings: &mut Vec<String>,
    ) -> Result<(), LayerError> {
        match self {
            Decoder::Plain => sink.feed(bytes),
            Decoder::Gzip(g) => g.feed(bytes, sink, warnings),
            Decoder::Zstd(z) => z.feed(bytes, sink, warnings),
        }
    }

    fn finish(&mut self, sink: &mut TarSink, warnings: &mut Vec<String>) -> Result<(), LayerError> {
        match self {
            Decoder::Plain => Ok(()),
            Decoder::Gzip(g) => g.finish(),
            Decoder::Zstd(z) => z.finish(sink, warnings),
        }
    }
}

/// Where a gzip stream is between members.
#[derive(PartialEq, Eq)]
enum GzipPhase {
    /// Inside a member.
    Member,
    /// A member ended; another may start.
    BetweenMembers,
    /// Zero bytes after the last member (some tools pad blobs); only more zeros may follow.
    ZeroPadding,
}

struct GzipDecoder {
    inflater: Decompress,
    phase: GzipPhase,
    members: u64,
    /// Compressed bytes consumed, for error offsets.
    consumed: u64,
    out: Box<[u8]>,
}

impl GzipDecoder {
    fn new() -> GzipDecoder {
        GzipDecoder {
            inflater: Decompress::new_gzip(15),
            phase: GzipPhase::Member,
            members: 1,
            consumed: 0,
            out: vec![0; OUTPUT_WINDOW].into_boxed_slice(),
        }
    }

    fn error(&self, detail: String) -> LayerError {
        LayerError::Gzip {
            offset: self.consumed,
            detail,
        }
    }

    fn feed(
        &mut self,
        mut input: &[u8],
        sink: &mut TarSink,
        warnings: &mut Vec<String>,
    ) -> Result<(), LayerError> {
        while !input.is_empty() {
            match self.phase {
                GzipPhase::BetweenMembers | GzipPhase::ZeroPadding => {
                    let zeros = input.iter().take_while(|&&b| b == 0).count();
                    if zeros > 0 {
                        if self.phase == GzipPhase::BetweenMembers {
                            warnings.push(format!(
                                "zero bytes after gzip member {} at compressed byte offset {}",
                                self.members, self.consumed
                            ));
                        }
                        self.phase = GzipPhase::ZeroPadding;
                        self.consumed += zeros as u64;
                        input = &input[zeros..];
                        continue;
                    }
                    if self.phase == GzipPhase::ZeroPadding {
                        return Err(self.error(
                            "trailing garbage after the zero padding that follows the gzip stream"
                                .into(),
                        ));
                    }
                    // Another member: a fresh inflater, so its header is parsed.
                    self.inflater = Decompress::new_gzip(15);
                    self.members += 1;
                    self.phase = GzipPhase::Member;
                }
                GzipPhase::Member => {
                    let used = self.inflate(input, sink)?;
                    input = &input[used..];
                }
            }
        }
        Ok(())
    }

    /// Inflates until the member ends or the input is used up (and all
    /// output for it drained); returns the input bytes consumed.
    fn inflate(&mut self, input: &[u8], sink: &mut TarSink) -> Result<usize, LayerError> {
        let mut used = 0;
        loop {
            let (in_before, out_before) = (self.inflater.total_in(), self.inflater.total_out());
            let status = self
                .inflater
                .decompress(&input[used..], &mut self.out, FlushDecompress::None)
                .map_err(|e| self.error(format!("member {}: {e}", self.members)))?;
            let read = (self.inflater.total_in() - in_before) as usize;
            let written = (self.inflater.total_out() - out_before) as usize;
            used += read;
            self.consumed += read as u64;
            sink.feed(&self.out[..written])?;
            if status == Status::StreamEnd {
                self.phase = GzipPhase::BetweenMembers;
                return Ok(used);
            }
            if read == 0 && written == 0 {
                return Ok(used);
            }
        }
    }

    fn finish(&mut self) -> Result<(), LayerError> {
        if self.phase == GzipPhase::Member {
            return Err(self.error(format!(
                "gzip stream truncated inside member {}",
                self.members
            )));
        }
        Ok(())
    }
}

struct ZstdDecoder {
    decoder: FrameDecoder,
    /// Compressed bytes not yet decoded (bounded: see `feed`).
    pending: Vec<u8>,
    in_frame: bool,
    /// Bytes of a skippable frame still to skip.
    skipping: u64,
    frames: u64,
    /// Compressed bytes consumed before `pending`, for error offsets.
    consumed: u64,
    zero_padding: bool,
    /// The current frame's last block was decoded (its checksum may follow).
    last_block_seen: bool,
    out: Box<[u8]>,
}

impl ZstdDecoder {
    fn new() -> ZstdDecoder {
        ZstdDecoder {
            decoder: FrameDecoder::new(),
            pending: Vec::with_capacity(2 * ZSTD_MIN_INPUT),
            in_frame: false,
            skipping: 0,
            frames: 0,
            consumed: 0,
            zero_padding: false,
            last_block_seen: false,
            out: vec![0; OUTPUT_WINDOW].into_boxed_slice(),
        }
    }

    fn error(&self, detail: String) -> LayerError {
        LayerError::Zstd {
            offset: self.consumed,
            detail,
        }
    }

    fn feed(
        &mut self,
        mut input: &[u8],
        sink: &mut TarSink,
        warnings: &mut Vec<String>,
    ) -> Result<(), LayerError> {
        while !input.is_empty() {
            let room = (2 * ZSTD_MIN_INPUT)
                .saturating_sub(self.pending.len())
                .max(1);
            let take = room.min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() >= ZSTD_MIN_INPUT {
                self.decode(false, sink, warnings)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, sink: &mut TarSink, warnings: &mut Vec<String>) -> Result<(), LayerError> {
        self.decode(true, sink, warnings)?;
        if self.in_frame || self.skipping > 0 || !self.pending.is_empty() {
            return Err(self.error(format!(
                "zstd stream truncated inside frame {}",
                self.frames
            )));
        }
        Ok(())
    }

    fn drop_pending(&mut self, n: usize) {
        self.pending.drain(..n);
        self.consumed += n as u64;
    }

    /// Decodes what `pending` allows. With `last`, all input has arrived.
    fn decode(
        &mut self,
        last: bool,
        sink: &mut TarSink,
        warnings: &mut Vec<String>,
    ) -> Result<(), LayerError> {
        loop {
            if self.skipping > 0 {
                let n = (self.skipping.min(self.pending.len() as u64)) as usize;
                self.drop_pending(n);
                self.skipping -= n as u64;
                if self.skipping > 0 {
                    return Ok(());
                }
            }
            if !self.in_frame {
                if !self.start_frame(last, warnings)? {
                    return Ok(());
                }
                continue;
            }
            if !self.step_frame(last, sink)? {
                return Ok(());
            }
        }
    }

    /// One step inside a frame: drain decoded bytes, or decode the next
    /// block (or read the frame's checksum). Blocks are handed to ruzstd one
    /// at a time, each at most 128 KiB decoded, so a frame of tiny blocks
    /// that expand enormously never piles up in memory. False when more
    /// input is needed.
    fn step_frame(&mut self, last: bool, sink: &mut TarSink) -> Result<bool, LayerError> {
        if self.decoder.can_collect() > 0 {
            // Read, not decode_from_to: with a checksum pending, the latter
            // expects the checksum bytes instead of draining.
            let written = std::io::Read::read(&mut self.decoder, &mut self.out)
                .map_err(|e| self.error(format!("frame {}: {e}", self.frames)))?;
            sink.feed(&self.out[..written])?;
            return Ok(true);
        }
        if self.decoder.is_finished() {
            self.check_frame_checksum()?;
            self.in_frame = false;
            self.last_block_seen = false;
            return Ok(true);
        }
        // After the last block, only the 4-byte content checksum is left.
        let need = if self.last_block_seen {
            4
        } else {
            self.next_block_len()?
        };
        if need == 0 || self.pending.len() < need {
            if last {
                return Err(self.error(format!(
                    "zstd stream truncated inside frame {}",
                    self.frames
                )));
            }
            return Ok(false);
        }
        if !self.last_block_seen {
            self.last_block_seen = self.pending[0] & 1 == 1;
        }
        let (read, written) = self
            .decoder
            .decode_from_to(&self.pending[..need], &mut self.out)
            .map_err(|e| self.error(format!("frame {}: {e}", self.frames)))?;
        self.drop_pending(read.min(need));
        sink.feed(&self.out[..written])?;
        Ok(true)
    }

    /// Length of the next block (header and content) from its 3-byte
    /// header, 0 if the header has not arrived.
    fn next_block_len(&self) -> Result<usize, LayerError> {
        let Some(header) = self.pending.get(..3) else {
            return Ok(0);
        };
        let header = u32::from(header[0]) | u32::from(header[1]) << 8 | u32::from(header[2]) << 16;
        let size = (header >> 3) as usize;
        let content = match (header >> 1) & 3 {
            0 | 2 => size,
            1 => 1,
            _ => return Err(self.error(format!("frame {}: reserved block type", self.frames))),
        };
        if size > MAX_ZSTD_BLOCK {
            return Err(self.error(format!(
                "frame {}: block of {size} bytes exceeds the 128 KiB maximum",
                self.frames
            )));
        }
        Ok(3 + content)
    }

    /// Begins the next frame if `pending` holds its header; false if more
    /// input is needed (or there is nothing left).
    fn start_frame(&mut self, last: bool, warnings: &mut Vec<String>) -> Result<bool, LayerError> {
        if self.zero_padding || self.pending.first() == Some(&0) {
            let zeros = self.pending.iter().take_while(|&&b| b == 0).count();
            if zeros < self.pending.len() {
                return Err(self.error(
                    "trailing garbage after the zero padding that follows the zstd stream".into(),
                ));
            }
            if !self.zero_padding && zeros > 0 {
                warnings.push(format!(
                    "zero bytes after zstd frame {} at compressed byte offset {}",
                    self.frames, self.consumed
                ));
            }
            self.zero_padding = true;
            self.drop_pending(zeros);
            return Ok(false);
        }
        if self.pending.len() < 8 {
            if last && !self.pending.is_empty() {
                return Err(self.error("zstd stream truncated: incomplete frame header".into()));
            }
            return Ok(false);
        }
        if is_skippable_zstd(&self.pending[..4]) {
            let len = u32::from_le_bytes(self.pending[4..8].try_into().expect("4 bytes"));
            self.skipping = 8 + u64::from(len);
            return Ok(true);
        }
        if self.pending[..4] != [0x28, 0xb5, 0x2f, 0xfd] {
            return Err(self.error(format!(
                "not a zstd frame (magic {:02x?}): trailing garbage after frame {}",
                &self.pending[..4],
                self.frames
            )));
        }
        if self.pending.len() < 18 && !last {
            return Ok(false);
        }
        let mut header = &self.pending[..];
        let before = header.len();
        self.decoder
            .reset(&mut header)
            .map_err(|e| self.error(format!("frame {} header: {e}", self.frames + 1)))?;
        let used = before - header.len();
        self.drop_pending(used);
        self.frames += 1;
        self.in_frame = true;
        Ok(true)
    }

    fn check_frame_checksum(&self) -> Result<(), LayerError> {
        if let (Some(stored), Some(computed)) = (
            self.decoder.get_checksum_from_data(),
            self.decoder.get_calculated_checksum(),
        ) {
            if stored != computed {
                return Err(self.error(format!(
                    "frame {} content checksum mismatch: stored {stored:08x}, computed {computed:08x}",
                    self.frames
                )));
            }
        }
        Ok(())
    }
}
