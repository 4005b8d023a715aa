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
//!
//! SHA-256 is most of a scan's time (about two thirds in WebAssembly), and a file tree needs
//! none of it. So the work splits in two passes that can run side by side: a scan told
//! [`Hashing::EntriesOnly`] walks the tar without the two digests ([`Digests::Skipped`]),
//! and a [`DigestScanner`] decompresses and hashes without parsing the tar, giving the same
//! [`LayerDigests`] a full scan gives.

use std::fmt;

use xxhash_rust::xxh3::Xxh3Default;

use crate::engine::codec::{self, CodecError, Decoder};
use crate::engine::tar::{EntryKind, TarError, TarEvent, TarParser};
use crate::engine::transfer::PackedEntries;
use crate::model::digest::{Algorithm, Digest, DigestRole, Hasher, Mismatch};
use crate::model::media::{self, Compression};

/// What the scanner is told about the layer before its bytes arrive (serializable, so a
/// page can hand it to the worker that scans the layer).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanOptions {
    /// The digest the manifest gives for the blob; checked when given.
    pub expected_blob_digest: Option<Digest>,
    /// The config's `rootfs.diff_ids` entry for this layer; checked when given.
    pub expected_diff_id: Option<Digest>,
    /// The media type the manifest declares; compared with what the bytes are.
    pub declared_media_type: Option<String>,
    /// Whether the blob and the tar stream are hashed.
    pub hashing: Hashing,
    /// Bounds on the zstd window and the entries' names.
    #[serde(default)]
    pub limits: crate::limits::Limits,
}

impl ScanOptions {
    /// The same options with `hashing` instead.
    pub fn with_hashing(self, hashing: Hashing) -> ScanOptions {
        ScanOptions { hashing, ..self }
    }
}

/// Whether a [`Scanner`] computes the layer's two digests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hashing {
    /// Hash the blob and the tar stream and check them against the expected digests.
    #[default]
    Digests,
    /// Only the entries (their content hashes included): the summary says
    /// [`Digests::Skipped`], and a [`DigestScanner`] over the same bytes supplies them.
    EntriesOnly,
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

/// One expected digest checked against what was computed (the caller, who knows the
/// layer's name, turns it into a report's [`crate::present::report::Verification`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DigestCheck {
    /// Which digest was checked: [`DigestRole::Layer`] (the blob) or [`DigestRole::DiffId`].
    pub kind: DigestRole,
    /// What the manifest or config said.
    pub expected: Digest,
    /// What the bytes hashed to.
    pub actual: Digest,
    /// Whether the two agree.
    pub ok: bool,
}

/// A layer's two digests, and each expected one checked against them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerDigests {
    /// Digest of the bytes as pushed.
    pub blob_digest: Digest,
    /// Digest of the uncompressed tar stream.
    pub diff_id: Digest,
    /// One per expected digest given in [`ScanOptions`].
    pub verifications: Vec<DigestCheck>,
}

impl LayerDigests {
    /// True when every expected digest matched (and when none was given).
    pub fn verified(&self) -> bool {
        self.verifications.iter().all(|check| check.ok)
    }
}

/// A summary's digests, or that the scan was told to leave them to a digest pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Digests {
    /// Hashed during the scan.
    Computed(LayerDigests),
    /// Not hashed ([`Hashing::EntriesOnly`]).
    Skipped,
}

impl Digests {
    /// The digests, when they were computed.
    pub fn computed(&self) -> Option<&LayerDigests> {
        match self {
            Digests::Computed(digests) => Some(digests),
            Digests::Skipped => None,
        }
    }
}

/// Everything the scanner learned about one layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerSummary {
    /// Bytes pushed (the blob's size).
    pub compressed_size: u64,
    /// Length of the tar stream after decompression.
    pub uncompressed_size: u64,
    /// What the magic bytes said.
    pub compression: Compression,
    /// The blob digest and diff_id with their checks, unless skipped.
    pub digests: Digests,
    /// Things worth telling the user that did not stop the scan.
    pub warnings: Vec<String>,
    /// The tar members in stream order, packed as the scan found them.
    pub entries: PackedEntries,
    /// Sum of the members' header sizes: the layer size dive reports.
    pub entries_size: u64,
}

/// Why a layer could not be scanned.
#[derive(Clone, Debug)]
pub enum LayerError {
    /// The tar stream inside is malformed (the offset is in the uncompressed stream).
    Tar(TarError),
    /// The compressed stream is malformed.
    Decompression(CodecError),
    /// The layer was read but a digest did not match. The summary is kept so
    /// callers can still report what was found.
    DigestMismatch {
        /// Which digest disagreed (the first, if both did).
        kind: DigestRole,
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
            LayerError::Decompression(e) => write!(f, "layer {e}"),
            LayerError::DigestMismatch { kind, mismatch, .. } => write!(
                f,
                "layer {} mismatch: expected {}, actual {}",
                match kind {
                    DigestRole::Layer => "blob digest",
                    other => other.name(),
                },
                mismatch.expected,
                mismatch.actual
            ),
            LayerError::Finished => write!(f, "layer scanner used after it finished or failed"),
        }
    }
}

impl std::error::Error for LayerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LayerError::Tar(e) => Some(e),
            LayerError::Decompression(e) => Some(e),
            LayerError::DigestMismatch { mismatch, .. } => Some(mismatch),
            LayerError::Finished => None,
        }
    }
}

impl From<CodecError> for LayerError {
    fn from(e: CodecError) -> Self {
        LayerError::Decompression(e)
    }
}

impl From<TarError> for LayerError {
    fn from(e: TarError) -> Self {
        LayerError::Tar(e)
    }
}

/// The streaming layer scanner. See the module documentation.
pub struct Scanner {
    options: ScanOptions,
    intake: Intake,
    sink: TarSink,
}

impl Scanner {
    /// A scanner for one blob.
    pub fn new(options: ScanOptions) -> Scanner {
        let hashers = Hashers::for_options(&options);
        Scanner {
            intake: Intake::new(&options, hashers.blob),
            sink: TarSink::new(hashers.diff, &options.limits),
            options,
        }
    }

    /// Bytes pushed so far (for progress reports).
    pub fn bytes_in(&self) -> u64 {
        self.intake.compressed_size
    }

    /// Uncompressed bytes produced so far.
    pub fn bytes_out(&self) -> u64 {
        self.sink.uncompressed
    }

    /// Entries seen so far.
    pub fn entry_count(&self) -> usize {
        self.sink.entries.len() + usize::from(self.sink.hashing.is_some())
    }

    /// Feeds the next chunk of the blob (any size, including empty).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), LayerError> {
        let sink = &mut self.sink;
        self.intake.push(bytes, &mut |plain| sink.feed(plain))
    }

    /// Ends the blob: flushes the decoder, checks the tar ended cleanly and
    /// verifies the expected digests.
    pub fn finish(mut self) -> Result<LayerSummary, LayerError> {
        let sink = &mut self.sink;
        let (compression, blob_hasher) = self.intake.finish(&mut |plain| sink.feed(plain))?;
        let mut warnings = std::mem::take(&mut self.intake.warnings);
        let end = self.sink.tar.finish()?;
        if let Some(unended) = self.sink.hashing.take() {
            self.sink.entries.push(&unended);
        }
        self.sink.entries.shrink_to_fit();
        if !end.end_marker_seen {
            warnings.push(format!(
                "tar stream ends at byte offset {} without an end-of-archive marker",
                end.stream_len
            ));
        }
        if let Some(at) = end.trailing_data_at {
            warnings.push(format!(
                "{} bytes of data follow the tar end-of-archive marker, from uncompressed \
                 byte offset {at} (an eStargz table of contents, for example); they are part \
                 of the diff_id but hold no files",
                end.stream_len - at
            ));
        }
        let (digests, first_mismatch) = match (blob_hasher, self.sink.diff_hasher.take()) {
            (Some(blob), Some(diff)) => {
                let (digests, mismatch) =
                    check_digests(&self.options, blob.finish(), diff.finish());
                (Digests::Computed(digests), mismatch)
            }
            _ => (Digests::Skipped, None),
        };
        let summary = LayerSummary {
            compressed_size: self.intake.compressed_size,
            uncompressed_size: self.sink.uncompressed,
            compression,
            digests,
            warnings,
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

/// The digest-only pass: decompression and the two SHA-256 (or SHA-512) digests, no tar
/// parse. It gives the [`LayerDigests`] a full [`Scanner`] gives, so a page can scan a
/// layer's entries ([`Hashing::EntriesOnly`]) and hash it in two workers at once.
///
/// A digest that does not match is no error here: its check says `ok: false`, and
/// [`crate::present::analysis::Analysis::add_layer_digests`] refuses it naming the layer.
pub struct DigestScanner {
    options: ScanOptions,
    intake: Intake,
    diff_hasher: Hasher,
    uncompressed: u64,
}

impl DigestScanner {
    /// A digest pass for one blob; `options.hashing` is not looked at (this pass only hashes).
    pub fn new(options: ScanOptions) -> DigestScanner {
        let hashers = Hashers::for_options(&options.clone().with_hashing(Hashing::Digests));
        DigestScanner {
            intake: Intake::new(&options, hashers.blob),
            diff_hasher: hashers
                .diff
                .unwrap_or_else(|| Hasher::new(Algorithm::Sha256)),
            uncompressed: 0,
            options,
        }
    }

    /// Bytes pushed so far.
    pub fn bytes_in(&self) -> u64 {
        self.intake.compressed_size
    }

    /// Uncompressed bytes hashed so far.
    pub fn bytes_out(&self) -> u64 {
        self.uncompressed
    }

    /// Feeds the next chunk of the blob (any size, including empty).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), LayerError> {
        let (hasher, uncompressed) = (&mut self.diff_hasher, &mut self.uncompressed);
        self.intake.push(bytes, &mut |plain| {
            hasher.update(plain);
            *uncompressed += plain.len() as u64;
            Ok(())
        })
    }

    /// Ends the blob: the two digests, checked against the expected ones.
    pub fn finish(mut self) -> Result<LayerDigests, LayerError> {
        let (hasher, uncompressed) = (&mut self.diff_hasher, &mut self.uncompressed);
        let (_, blob_hasher) = self.intake.finish(&mut |plain| {
            hasher.update(plain);
            *uncompressed += plain.len() as u64;
            Ok(())
        })?;
        let blob = blob_hasher.ok_or(LayerError::Finished)?.finish();
        Ok(check_digests(&self.options, blob, self.diff_hasher.finish()).0)
    }
}

/// The blob's and the tar stream's hashers, unless hashing is off.
struct Hashers {
    blob: Option<Hasher>,
    diff: Option<Hasher>,
}

impl Hashers {
    fn for_options(options: &ScanOptions) -> Hashers {
        if options.hashing == Hashing::EntriesOnly {
            return Hashers {
                blob: None,
                diff: None,
            };
        }
        // The expected digest's algorithm, so a sha512 manifest is checked with sha512.
        let algorithm = |expected: &Option<Digest>| {
            expected
                .as_ref()
                .map_or(Algorithm::Sha256, Digest::algorithm)
        };
        Hashers {
            blob: Some(Hasher::new(algorithm(&options.expected_blob_digest))),
            diff: Some(Hasher::new(algorithm(&options.expected_diff_id))),
        }
    }
}

/// Each expected digest checked against the computed ones, and the first that disagrees.
fn check_digests(
    options: &ScanOptions,
    blob_digest: Digest,
    diff_id: Digest,
) -> (LayerDigests, Option<(DigestRole, Mismatch)>) {
    let mut verifications = Vec::new();
    let mut first_mismatch = None;
    for (kind, expected, actual) in [
        (
            DigestRole::Layer,
            &options.expected_blob_digest,
            &blob_digest,
        ),
        (DigestRole::DiffId, &options.expected_diff_id, &diff_id),
    ] {
        if let Some(expected) = expected {
            let result = expected.verify(actual);
            if let (Err(m), None) = (&result, &first_mismatch) {
                first_mismatch = Some((kind, m.clone()));
            }
            verifications.push(DigestCheck {
                kind,
                expected: expected.clone(),
                actual: actual.clone(),
                ok: result.is_ok(),
            });
        }
    }
    let digests = LayerDigests {
        blob_digest,
        diff_id,
        verifications,
    };
    (digests, first_mismatch)
}

/// The blob as it arrives: counted, hashed (unless told not to), its format told by its
/// magic bytes, and decompressed into a sink. Both passes take their bytes through it.
struct Intake {
    blob_hasher: Option<Hasher>,
    compressed_size: u64,
    declared_media_type: Option<String>,
    /// First bytes kept until the format is known.
    magic: [u8; 4],
    magic_len: usize,
    decoder: Option<Decoder>,
    /// The zstd window bound the decoder is made with.
    limits: crate::limits::Limits,
    warnings: Vec<String>,
    failed: bool,
}

impl Intake {
    fn new(options: &ScanOptions, blob_hasher: Option<Hasher>) -> Intake {
        Intake {
            blob_hasher,
            compressed_size: 0,
            declared_media_type: options.declared_media_type.clone(),
            limits: options.limits,
            magic: [0; 4],
            magic_len: 0,
            decoder: None,
            warnings: Vec::new(),
            failed: false,
        }
    }

    fn push<F>(&mut self, bytes: &[u8], sink: &mut F) -> Result<(), LayerError>
    where
        F: FnMut(&[u8]) -> Result<(), LayerError>,
    {
        if self.failed {
            return Err(LayerError::Finished);
        }
        if let Some(hasher) = &mut self.blob_hasher {
            hasher.update(bytes);
        }
        self.compressed_size += bytes.len() as u64;
        let result = self.push_inner(bytes, sink);
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn push_inner<F>(&mut self, mut bytes: &[u8], sink: &mut F) -> Result<(), LayerError>
    where
        F: FnMut(&[u8]) -> Result<(), LayerError>,
    {
        if self.decoder.is_none() {
            let take = (4 - self.magic_len).min(bytes.len());
            self.magic[self.magic_len..self.magic_len + take].copy_from_slice(&bytes[..take]);
            self.magic_len += take;
            bytes = &bytes[take..];
            if self.magic_len < 4 {
                return Ok(());
            }
            self.start_decoder(sink)?;
        }
        match self.decoder.as_mut() {
            Some(decoder) => decoder.push(bytes, &mut self.warnings, sink),
            None => Ok(()),
        }
    }

    /// Chooses the decoder from the magic bytes and feeds them to it.
    fn start_decoder<F>(&mut self, sink: &mut F) -> Result<(), LayerError>
    where
        F: FnMut(&[u8]) -> Result<(), LayerError>,
    {
        let magic = self.magic;
        let magic = &magic[..self.magic_len];
        let compression = codec::sniff(magic);
        self.check_media_type(compression);
        let decoder = self
            .decoder
            .insert(Decoder::with_limits(compression, &self.limits));
        decoder.push(magic, &mut self.warnings, sink)
    }

    fn check_media_type(&mut self, found: Compression) {
        let Some(declared) = self.declared_media_type.as_deref() else {
            return;
        };
        match media::layer_compression(declared) {
            Some(expected) if expected != found => self.warnings.push(format!(
                "media type {declared} declares {} compression but the blob's bytes are {}",
                expected.name(),
                found.describe()
            )),
            Some(_) => {}
            None => self.warnings.push(format!(
                "media type {declared} is not a known layer type; read as {} by its magic bytes",
                found.name()
            )),
        }
    }

    /// Ends the blob: the decoder flushed; the compression and the blob's hasher.
    fn finish<F>(&mut self, sink: &mut F) -> Result<(Compression, Option<Hasher>), LayerError>
    where
        F: FnMut(&[u8]) -> Result<(), LayerError>,
    {
        if self.failed {
            return Err(LayerError::Finished);
        }
        self.failed = true;
        if self.decoder.is_none() {
            self.start_decoder(sink)?;
        }
        let compression = match self.decoder.as_mut() {
            Some(decoder) => {
                decoder.finish(&mut self.warnings, sink)?;
                decoder.compression()
            }
            None => Compression::None,
        };
        Ok((compression, self.blob_hasher.take()))
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

/// Receives the uncompressed stream: hashes it and walks its tar headers.
struct TarSink {
    tar: TarParser,
    /// `None` when the scan leaves the digests to a digest pass.
    diff_hasher: Option<Hasher>,
    uncompressed: u64,
    entries: PackedEntries,
    entries_size: u64,
    file_hasher: Xxh3Default,
    /// The entry whose content is streaming: packed once its content hash is known.
    hashing: Option<LayerEntry>,
}

impl TarSink {
    fn new(diff_hasher: Option<Hasher>, limits: &crate::limits::Limits) -> TarSink {
        TarSink {
            // Layers may carry data after the tar (eStargz's table of
            // contents); it is hashed into the diff_id and reported.
            tar: TarParser::allowing_trailing_data().with_limits(limits),
            diff_hasher,
            uncompressed: 0,
            entries: PackedEntries::new(),
            entries_size: 0,
            file_hasher: Xxh3Default::new(),
            hashing: None,
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), LayerError> {
        if bytes.is_empty() {
            return Ok(());
        }
        if let Some(hasher) = &mut self.diff_hasher {
            hasher.update(bytes);
        }
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
                let entry = LayerEntry {
                    path: e.path.into_boxed_slice(),
                    link_target: e.link_target.map(Vec::into_boxed_slice),
                    kind: e.kind,
                    mode: e.mode,
                    uid: e.uid,
                    gid: e.gid,
                    size: e.size,
                    mtime: e.mtime,
                    content_hash: None,
                };
                if let Some(unended) = hashing.take() {
                    entries.push(&unended);
                }
                if hashed {
                    file_hasher.reset();
                    *hashing = Some(entry);
                } else {
                    entries.push(&entry);
                }
            }
            TarEvent::Data(chunk) => {
                if hashing.is_some() {
                    file_hasher.update(chunk);
                }
            }
            TarEvent::EntryEnd => {
                if let Some(mut entry) = hashing.take() {
                    entry.content_hash = Some(file_hasher.digest());
                    entries.push(&entry);
                }
            }
        })?;
        Ok(())
    }
}
