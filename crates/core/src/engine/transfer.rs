//! Scan results as flat byte buffers, for a scan worker to hand to the worker that owns the
//! image: one buffer (a transferable `ArrayBuffer` in a browser) instead of one JSON object
//! per file.
//!
//! [`LayerSummary::to_bytes`], [`LayerDigests::to_bytes`] and [`LayerError::to_bytes`] write
//! a versioned buffer; the `from_bytes` twins read it back exactly. Reading trusts nothing:
//! a buffer that is cut, lies about a count or a length, holds an unknown tag or leaves bytes
//! over is refused with a [`TransferError`] naming the byte offset, never a panic, and no
//! allocation grows beyond a fixed multiple of the buffer's own length.
//!
//! Layout (version 1), integers as LEB128 varints unless said otherwise:
//!
//! ```text
//! "LSCN" version:u8 payload:u8          payload 1 summary, 2 digests, 3 error
//! summary:  compressed uncompressed compression:u8 entries_size digests warnings entries
//! digests:  0 (skipped) | 1 blob:str diff_id:str count (role:u8 expected:str actual:str ok:u8)*
//! entries:  count, then per entry
//!           kind:u8 [typeflag:u8 for other] flags:u8 shared suffix_len suffix
//!           [link_len link] mode uid gid size mtime:zigzag [content_hash:u64 LE]
//! ```
//!
//! A path is written as the length of the prefix it shares with the previous entry's path
//! and the rest (tar streams list a directory's files together, so most of a path is
//! usually shared). The encoder writes a whole path whenever sharing would let the decoded
//! paths grow past [`MAX_EXPANSION`] times the bytes read so far, and the decoder holds it
//! to that bound.

use crate::engine::codec::CodecError;
use crate::engine::scan::{
    DigestCheck, Digests, LayerDigests, LayerEntry, LayerError, LayerSummary,
};
use crate::engine::tar::{EntryKind, TarError, TarErrorKind};
use crate::limits::{Limit, LimitExceeded};
use crate::model::digest::{Digest, DigestRole, Mismatch};
use crate::model::media::Compression;

const MAGIC: &[u8; 4] = b"LSCN";

/// The layout this module writes.
pub const VERSION: u8 = 1;

/// Decoded path bytes allowed per buffer byte read (see the module documentation).
pub const MAX_EXPANSION: u64 = 64;

/// Decoded bytes allowed before the first buffer byte counts (a first long path).
const EXPANSION_SLACK: u64 = 64 * 1024;

/// The fewest bytes one entry takes: kind, flags, shared, suffix length, mode, uid, gid,
/// size and mtime, one byte each.
const MIN_ENTRY_BYTES: usize = 9;

/// What a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Payload {
    Summary = 1,
    Digests = 2,
    Error = 3,
}

/// Why a buffer could not be read back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// The buffer does not start like one of these buffers.
    #[error("not a layerscope scan buffer (no LSCN header)")]
    NotABuffer,
    /// Written by another version of this layout.
    #[error("scan buffer version {found}; this build reads version {VERSION}")]
    UnsupportedVersion {
        /// The buffer's version.
        found: u8,
    },
    /// A buffer of another kind than asked for.
    #[error("the scan buffer holds {found}, not {wanted}")]
    WrongPayload {
        /// What the buffer holds.
        found: &'static str,
        /// What the caller asked for.
        wanted: &'static str,
    },
    /// The buffer ends inside a value.
    #[error("scan buffer cut at byte {at}, inside {reading}")]
    Truncated {
        /// Where the buffer ended.
        at: usize,
        /// What was being read.
        reading: &'static str,
    },
    /// A value that cannot be right.
    #[error("scan buffer byte {at}: {detail}")]
    Invalid {
        /// Where the value starts.
        at: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// Bytes after the last value.
    #[error("scan buffer has {extra} bytes after its end, from byte {at}")]
    TrailingBytes {
        /// Where the extra bytes start.
        at: usize,
        /// How many there are.
        extra: usize,
    },
}

impl LayerSummary {
    /// The summary as one buffer; see the module documentation.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (head, entries) = self.to_byte_parts();
        [head.as_slice(), entries].concat()
    }

    /// The buffer [`LayerSummary::to_bytes`] writes, as its head and the entries' bytes
    /// that follow it: a caller copying both into one transfer buffer never holds a second
    /// copy of the entries.
    pub fn to_byte_parts(&self) -> (Vec<u8>, &[u8]) {
        let mut out = Writer::new(Payload::Summary, 256);
        out.summary_head(self);
        (out.bytes, &self.entries.bytes)
    }

    /// Reads back a buffer from [`LayerSummary::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<LayerSummary, TransferError> {
        let mut reader = Reader::open(bytes, Payload::Summary)?;
        let summary = reader.summary()?;
        reader.end()?;
        Ok(summary)
    }
}

impl LayerDigests {
    /// The digests as one buffer; see the module documentation.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Writer::new(Payload::Digests, 256);
        out.layer_digests(self);
        out.bytes
    }

    /// Reads back a buffer from [`LayerDigests::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<LayerDigests, TransferError> {
        let mut reader = Reader::open(bytes, Payload::Digests)?;
        let digests = reader.layer_digests()?;
        reader.end()?;
        Ok(digests)
    }
}

impl LayerError {
    /// The error as one buffer, so a scan worker's failure reaches the owner typed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Writer::new(Payload::Error, 128);
        out.layer_error(self);
        out.bytes
    }

    /// Reads back a buffer from [`LayerError::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<LayerError, TransferError> {
        let mut reader = Reader::open(bytes, Payload::Error)?;
        let error = reader.layer_error()?;
        reader.end()?;
        Ok(error)
    }
}

/// A layer's entries packed as this layout writes them (paths sharing their prefix,
/// varints): about a fifth of the memory of a `Vec<LayerEntry>`. The scanner writes each
/// entry here as the tar stream yields it, a summary's buffer carries these bytes as they
/// are, and the analysis keeps them until the layers are stacked; entries are read back one
/// at a time.
#[derive(Clone, Default)]
pub struct PackedEntries {
    /// The entries' bytes, without the buffer header.
    bytes: Vec<u8>,
    len: usize,
    /// The last entry's path: the next one is written as what it adds to it.
    previous_path: Vec<u8>,
    /// Path bytes the entries decode to, held to [`MAX_EXPANSION`].
    decoded_path_bytes: u64,
}

impl PartialEq for PackedEntries {
    fn eq(&self, other: &PackedEntries) -> bool {
        self.len == other.len && self.bytes == other.bytes
    }
}

impl Eq for PackedEntries {}

impl std::fmt::Debug for PackedEntries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedEntries")
            .field("len", &self.len)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl PackedEntries {
    /// No entries.
    pub fn new() -> PackedEntries {
        PackedEntries::default()
    }

    /// Packs `entries`, in order.
    pub fn pack(entries: &[LayerEntry]) -> PackedEntries {
        let mut packed = PackedEntries::new();
        for entry in entries {
            packed.push(entry);
        }
        packed.shrink_to_fit();
        packed
    }

    /// Appends `entry`.
    pub fn push(&mut self, entry: &LayerEntry) {
        // Room for the entry's longest encoding, grown by half at a time: a block grown by
        // doubling never fits in the blocks freed before it, and a worker's memory never
        // shrinks, so doubling left the buffer's size again behind it as holes.
        let longest = 64 + entry.path.len() + entry.link_target.as_ref().map_or(0, |l| l.len());
        if self.bytes.capacity() - self.bytes.len() < longest {
            let more = (self.bytes.capacity() / 2).max(longest).max(4096);
            self.bytes.reserve_exact(more);
        }
        let start = self.bytes.len();
        let shared = common_prefix(&self.previous_path, &entry.path);
        let path_end = self.push_with_prefix(entry, shared);
        self.decoded_path_bytes += entry.path.len() as u64;
        // Held where the decoder holds it: right after the path.
        if self.decoded_path_bytes > MAX_EXPANSION * path_end as u64 + EXPANSION_SLACK {
            // Sharing would break the decoder's bound: the whole path instead.
            self.bytes.truncate(start);
            self.push_with_prefix(entry, 0);
        }
        self.previous_path.clear();
        self.previous_path.extend_from_slice(&entry.path);
        self.len += 1;
    }

    /// Writes `entry` with its first `shared` path bytes left to the previous path; returns
    /// where its path ends.
    fn push_with_prefix(&mut self, entry: &LayerEntry, shared: usize) -> usize {
        let out = &mut self.bytes;
        let (tag, typeflag) = kind_tag(entry.kind);
        out.push(tag);
        if let Some(flag) = typeflag {
            out.push(flag);
        }
        out.push(
            u8::from(entry.link_target.is_some()) | u8::from(entry.content_hash.is_some()) << 1,
        );
        put_varint(out, shared as u64);
        put_blob(out, &entry.path[shared..]);
        let path_end = out.len();
        if let Some(link) = &entry.link_target {
            put_blob(out, link);
        }
        put_varint(out, u64::from(entry.mode));
        put_varint(out, entry.uid);
        put_varint(out, entry.gid);
        put_varint(out, entry.size);
        put_varint(out, zigzag(entry.mtime));
        if let Some(hash) = entry.content_hash {
            out.extend_from_slice(&hash.to_le_bytes());
        }
        path_end
    }

    /// Gives back the room kept for more entries (once the layer is over). An entry pushed
    /// after this is written with its whole path.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.previous_path = Vec::new();
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.previous_path.capacity()
    }

    /// The entries, decoded one at a time in their order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = LayerEntry> + '_ {
        let mut reader = Reader::entries(&self.bytes);
        (0..self.len).map(move |_| {
            reader
                .entry()
                .expect("packed entries read back as they were written or checked")
        })
    }

    /// The entries as a vector (for a caller that wants them all at once, or by index).
    pub fn to_vec(&self) -> Vec<LayerEntry> {
        self.iter().collect()
    }
}

impl FromIterator<LayerEntry> for PackedEntries {
    fn from_iter<I: IntoIterator<Item = LayerEntry>>(entries: I) -> PackedEntries {
        let mut packed = PackedEntries::new();
        for entry in entries {
            packed.push(&entry);
        }
        packed.shrink_to_fit();
        packed
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_blob(out: &mut Vec<u8>, value: &[u8]) {
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn new(payload: Payload, capacity: usize) -> Writer {
        let mut bytes = Vec::with_capacity(capacity);
        bytes.extend_from_slice(MAGIC);
        bytes.push(VERSION);
        bytes.push(payload as u8);
        Writer { bytes }
    }

    fn byte(&mut self, value: u8) {
        self.bytes.push(value);
    }

    fn varint(&mut self, value: u64) {
        put_varint(&mut self.bytes, value);
    }

    fn blob(&mut self, value: &[u8]) {
        put_blob(&mut self.bytes, value);
    }

    /// Everything of a summary before its entries' bytes (which follow as they are).
    fn summary_head(&mut self, summary: &LayerSummary) {
        self.varint(summary.compressed_size);
        self.varint(summary.uncompressed_size);
        self.byte(compression_tag(summary.compression));
        self.varint(summary.entries_size);
        match &summary.digests {
            Digests::Skipped => self.byte(0),
            Digests::Computed(digests) => {
                self.byte(1);
                self.layer_digests(digests);
            }
        }
        self.varint(summary.warnings.len() as u64);
        for warning in &summary.warnings {
            self.blob(warning.as_bytes());
        }
        self.varint(summary.entries.len() as u64);
    }

    fn summary(&mut self, summary: &LayerSummary) {
        self.summary_head(summary);
        self.bytes.extend_from_slice(&summary.entries.bytes);
    }

    fn layer_digests(&mut self, digests: &LayerDigests) {
        self.blob(digests.blob_digest.to_string().as_bytes());
        self.blob(digests.diff_id.to_string().as_bytes());
        self.varint(digests.verifications.len() as u64);
        for check in &digests.verifications {
            self.byte(role_tag(check.kind));
            self.blob(check.expected.to_string().as_bytes());
            self.blob(check.actual.to_string().as_bytes());
            self.byte(u8::from(check.ok));
        }
    }

    fn layer_error(&mut self, error: &LayerError) {
        match error {
            LayerError::Tar(tar) => {
                self.byte(1);
                self.tar_error(tar);
            }
            LayerError::Decompression(codec) => {
                self.byte(2);
                let (tag, offset, detail) = match codec {
                    CodecError::Gzip { offset, detail } => (0, offset, detail),
                    CodecError::Zstd { offset, detail } => (1, offset, detail),
                    CodecError::ZstdWindow { offset, source } => {
                        self.byte(2);
                        self.varint(*offset);
                        self.limit_exceeded(source);
                        return;
                    }
                };
                self.byte(tag);
                self.varint(*offset);
                self.blob(detail.as_bytes());
            }
            LayerError::DigestMismatch {
                kind,
                mismatch,
                summary,
            } => {
                self.byte(3);
                self.byte(role_tag(*kind));
                self.blob(mismatch.expected.to_string().as_bytes());
                self.blob(mismatch.actual.to_string().as_bytes());
                self.summary(summary);
            }
            LayerError::Finished => self.byte(4),
        }
    }

    fn tar_error(&mut self, error: &TarError) {
        self.varint(error.offset);
        match &error.kind {
            TarErrorKind::Truncated { inside } => {
                self.byte(0);
                self.blob(inside.as_bytes());
            }
            TarErrorKind::Empty => self.byte(1),
            TarErrorKind::BadChecksum { stored, computed } => {
                self.byte(2);
                match stored {
                    Some(stored) => {
                        self.byte(1);
                        self.varint(u64::from(*stored));
                    }
                    None => self.byte(0),
                }
                self.varint(u64::from(*computed));
            }
            TarErrorKind::BadField { field, detail } => {
                self.byte(3);
                self.blob(field.as_bytes());
                self.blob(detail.as_bytes());
            }
            TarErrorKind::BadPax { key, detail } => {
                self.byte(4);
                self.blob(key.as_bytes());
                self.blob(detail.as_bytes());
            }
            TarErrorKind::ExtensionTooLarge { what, size } => {
                self.byte(5);
                self.blob(what.as_bytes());
                self.varint(*size);
            }
            TarErrorKind::TrailingGarbage => self.byte(6),
            TarErrorKind::LoneZeroBlock => self.byte(7),
            TarErrorKind::Poisoned => self.byte(8),
            TarErrorKind::Limit(exceeded) => {
                self.byte(9);
                self.limit_exceeded(exceeded);
            }
        }
    }

    fn limit_exceeded(&mut self, exceeded: &LimitExceeded) {
        let tag = Limit::ALL
            .iter()
            .position(|&limit| limit == exceeded.limit)
            .expect("every limit is in Limit::ALL");
        self.byte(tag as u8);
        self.blob(exceeded.subject.as_bytes());
        self.varint(exceeded.value);
        self.varint(exceeded.max);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Where the entries start: their paths' expansion is counted from here, as
    /// [`PackedEntries::push`] counts it from the start of its own bytes.
    entries_start: usize,
    previous_path: Vec<u8>,
    decoded_path_bytes: u64,
}

impl<'a> Reader<'a> {
    fn open(bytes: &'a [u8], wanted: Payload) -> Result<Reader<'a>, TransferError> {
        if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(TransferError::NotABuffer);
        }
        let version = bytes[MAGIC.len()];
        if version != VERSION {
            return Err(TransferError::UnsupportedVersion { found: version });
        }
        let found = match bytes[MAGIC.len() + 1] {
            1 => Payload::Summary,
            2 => Payload::Digests,
            3 => Payload::Error,
            other => {
                return Err(TransferError::Invalid {
                    at: MAGIC.len() + 1,
                    detail: format!("unknown payload {other}"),
                })
            }
        };
        if found != wanted {
            return Err(TransferError::WrongPayload {
                found: payload_name(found),
                wanted: payload_name(wanted),
            });
        }
        Ok(Reader {
            bytes,
            at: MAGIC.len() + 2,
            entries_start: MAGIC.len() + 2,
            previous_path: Vec::new(),
            decoded_path_bytes: 0,
        })
    }

    /// A reader of [`PackedEntries`] bytes, which have no header.
    fn entries(bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            bytes,
            at: 0,
            entries_start: 0,
            previous_path: Vec::new(),
            decoded_path_bytes: 0,
        }
    }

    fn end(&self) -> Result<(), TransferError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            extra => Err(TransferError::TrailingBytes { at: self.at, extra }),
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn invalid(&self, at: usize, detail: impl Into<String>) -> TransferError {
        TransferError::Invalid {
            at,
            detail: detail.into(),
        }
    }

    fn byte(&mut self, reading: &'static str) -> Result<u8, TransferError> {
        let value = *self.bytes.get(self.at).ok_or(TransferError::Truncated {
            at: self.at,
            reading,
        })?;
        self.at += 1;
        Ok(value)
    }

    fn flag(&mut self, reading: &'static str) -> Result<bool, TransferError> {
        let at = self.at;
        match self.byte(reading)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.invalid(at, format!("{reading} is {other}, not 0 or 1"))),
        }
    }

    fn varint(&mut self, reading: &'static str) -> Result<u64, TransferError> {
        let start = self.at;
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.byte(reading)?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(self.invalid(start, format!("{reading} overflows 64 bits")));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.invalid(start, format!("{reading} overflows 64 bits")))
    }

    /// A count of items each at least `min_bytes` long, which the rest of the buffer must
    /// be able to hold (so a lying count cannot make a huge allocation).
    fn count(&mut self, reading: &'static str, min_bytes: usize) -> Result<usize, TransferError> {
        let at = self.at;
        let count = self.varint(reading)?;
        let room = (self.remaining() / min_bytes.max(1)) as u64;
        if count > room {
            return Err(self.invalid(
                at,
                format!(
                    "{reading} {count} cannot fit in the {} bytes left",
                    self.remaining()
                ),
            ));
        }
        Ok(count as usize)
    }

    fn blob(&mut self, reading: &'static str) -> Result<&'a [u8], TransferError> {
        let len = self.varint(reading)?;
        if len > self.remaining() as u64 {
            return Err(TransferError::Truncated {
                at: self.bytes.len(),
                reading,
            });
        }
        let start = self.at;
        self.at += len as usize;
        Ok(&self.bytes[start..self.at])
    }

    fn text(&mut self, reading: &'static str) -> Result<String, TransferError> {
        let at = self.at;
        let bytes = self.blob(reading)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.invalid(at, format!("{reading} is not UTF-8")))
    }

    fn digest(&mut self, reading: &'static str) -> Result<Digest, TransferError> {
        let at = self.at;
        let text = self.text(reading)?;
        Digest::parse(&text).map_err(|e| self.invalid(at, format!("{reading}: {e}")))
    }

    fn summary(&mut self) -> Result<LayerSummary, TransferError> {
        let compressed_size = self.varint("the compressed size")?;
        let uncompressed_size = self.varint("the uncompressed size")?;
        let at = self.at;
        let compression = match self.byte("the compression")? {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Zstd,
            other => return Err(self.invalid(at, format!("unknown compression {other}"))),
        };
        let entries_size = self.varint("the entries' size")?;
        let digests = if self.flag("the digests' presence")? {
            Digests::Computed(self.layer_digests()?)
        } else {
            Digests::Skipped
        };
        let warning_count = self.count("the warning count", 1)?;
        let mut warnings = Vec::with_capacity(warning_count);
        for _ in 0..warning_count {
            warnings.push(self.text("a warning")?);
        }
        let entry_count = self.count("the entry count", MIN_ENTRY_BYTES)?;
        let entries = self.checked_entries(entry_count)?;
        Ok(LayerSummary {
            compressed_size,
            uncompressed_size,
            compression,
            digests,
            warnings,
            entries,
            entries_size,
        })
    }

    /// Reads `count` entries, each checked and let go, and keeps their bytes as they are:
    /// the layer's entries never exist as a `Vec<LayerEntry>`.
    fn checked_entries(&mut self, count: usize) -> Result<PackedEntries, TransferError> {
        self.entries_start = self.at;
        self.previous_path.clear();
        self.decoded_path_bytes = 0;
        for _ in 0..count {
            self.entry()?;
        }
        Ok(PackedEntries {
            bytes: self.bytes[self.entries_start..self.at].to_vec(),
            len: count,
            previous_path: std::mem::take(&mut self.previous_path),
            decoded_path_bytes: self.decoded_path_bytes,
        })
    }

    fn layer_digests(&mut self) -> Result<LayerDigests, TransferError> {
        let blob_digest = self.digest("the blob digest")?;
        let diff_id = self.digest("the diff_id")?;
        let count = self.count("the check count", 4)?;
        let mut verifications = Vec::with_capacity(count);
        for _ in 0..count {
            verifications.push(DigestCheck {
                kind: self.role()?,
                expected: self.digest("an expected digest")?,
                actual: self.digest("an actual digest")?,
                ok: self.flag("a check's outcome")?,
            });
        }
        Ok(LayerDigests {
            blob_digest,
            diff_id,
            verifications,
        })
    }

    fn role(&mut self) -> Result<DigestRole, TransferError> {
        let at = self.at;
        match self.byte("a digest's role")? {
            0 => Ok(DigestRole::Manifest),
            1 => Ok(DigestRole::Config),
            2 => Ok(DigestRole::Layer),
            3 => Ok(DigestRole::DiffId),
            other => Err(self.invalid(at, format!("unknown digest role {other}"))),
        }
    }

    fn entry(&mut self) -> Result<LayerEntry, TransferError> {
        let start = self.at;
        let kind = match self.byte("an entry's kind")? {
            0 => EntryKind::File,
            1 => EntryKind::Directory,
            2 => EntryKind::Symlink,
            3 => EntryKind::HardLink,
            4 => EntryKind::CharDevice,
            5 => EntryKind::BlockDevice,
            6 => EntryKind::Fifo,
            7 => EntryKind::GnuSparse,
            8 => EntryKind::Other(self.byte("an entry's type flag")?),
            other => return Err(self.invalid(start, format!("unknown entry kind {other}"))),
        };
        let flags_at = self.at;
        let flags = self.byte("an entry's flags")?;
        if flags & !0b11 != 0 {
            return Err(self.invalid(flags_at, format!("unknown entry flags {flags:#04x}")));
        }
        let shared_at = self.at;
        let shared = self.varint("a path's shared prefix")?;
        if shared > self.previous_path.len() as u64 {
            return Err(self.invalid(
                shared_at,
                format!(
                    "a path shares {shared} bytes with a previous path of {}",
                    self.previous_path.len()
                ),
            ));
        }
        let suffix = self.blob("a path")?;
        let mut path = Vec::with_capacity(shared as usize + suffix.len());
        path.extend_from_slice(&self.previous_path[..shared as usize]);
        path.extend_from_slice(suffix);
        self.decoded_path_bytes += path.len() as u64;
        if self.decoded_path_bytes
            > MAX_EXPANSION * (self.at - self.entries_start) as u64 + EXPANSION_SLACK
        {
            return Err(self.invalid(
                shared_at,
                "paths expand beyond what this buffer can hold (a forged prefix)",
            ));
        }
        let link_target = if flags & 1 != 0 {
            Some(self.blob("a link target")?.to_vec().into_boxed_slice())
        } else {
            None
        };
        let mode_at = self.at;
        let mode = u32::try_from(self.varint("an entry's mode")?)
            .map_err(|_| self.invalid(mode_at, "an entry's mode exceeds 32 bits"))?;
        let uid = self.varint("an entry's uid")?;
        let gid = self.varint("an entry's gid")?;
        let size = self.varint("an entry's size")?;
        let mtime = unzigzag(self.varint("an entry's mtime")?);
        let content_hash = if flags & 2 != 0 {
            let end = self.at + 8;
            let bytes = self
                .bytes
                .get(self.at..end)
                .ok_or(TransferError::Truncated {
                    at: self.bytes.len(),
                    reading: "a content hash",
                })?;
            self.at = end;
            Some(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
        } else {
            None
        };
        self.previous_path.clear();
        self.previous_path.extend_from_slice(&path);
        Ok(LayerEntry {
            path: path.into_boxed_slice(),
            link_target,
            kind,
            mode,
            uid,
            gid,
            size,
            mtime,
            content_hash,
        })
    }

    fn layer_error(&mut self) -> Result<LayerError, TransferError> {
        let at = self.at;
        Ok(match self.byte("the error's kind")? {
            1 => LayerError::Tar(self.tar_error()?),
            2 => {
                let tag_at = self.at;
                let tag = self.byte("the codec")?;
                let offset = self.varint("the codec error's offset")?;
                if tag == 2 {
                    let source = self.limit_exceeded()?;
                    return Ok(LayerError::Decompression(CodecError::ZstdWindow {
                        offset,
                        source,
                    }));
                }
                let detail = self.text("the codec error's detail")?;
                LayerError::Decompression(match tag {
                    0 => CodecError::Gzip { offset, detail },
                    1 => CodecError::Zstd { offset, detail },
                    other => return Err(self.invalid(tag_at, format!("unknown codec {other}"))),
                })
            }
            3 => {
                let kind = self.role()?;
                let mismatch = Mismatch {
                    expected: self.digest("the expected digest")?,
                    actual: self.digest("the actual digest")?,
                };
                LayerError::DigestMismatch {
                    kind,
                    mismatch,
                    summary: Box::new(self.summary()?),
                }
            }
            4 => LayerError::Finished,
            other => return Err(self.invalid(at, format!("unknown layer error {other}"))),
        })
    }

    fn tar_error(&mut self) -> Result<TarError, TransferError> {
        let offset = self.varint("the tar error's offset")?;
        let at = self.at;
        let kind = match self.byte("the tar error's kind")? {
            0 => TarErrorKind::Truncated {
                inside: self.text("what was being read")?,
            },
            1 => TarErrorKind::Empty,
            2 => {
                let stored = if self.flag("the stored checksum's presence")? {
                    Some(self.small("the stored checksum")?)
                } else {
                    None
                };
                TarErrorKind::BadChecksum {
                    stored,
                    computed: self.small("the computed checksum")?,
                }
            }
            3 => {
                let field_at = self.at;
                let field = self.text("the header field")?;
                TarErrorKind::BadField {
                    field: known(&HEADER_FIELDS, &field).ok_or_else(|| {
                        self.invalid(field_at, format!("unknown header field {field:?}"))
                    })?,
                    detail: self.text("the field's problem")?,
                }
            }
            4 => TarErrorKind::BadPax {
                key: self.text("the PAX key")?,
                detail: self.text("the PAX problem")?,
            },
            5 => {
                let what_at = self.at;
                let what = self.text("the extension")?;
                TarErrorKind::ExtensionTooLarge {
                    what: known(&EXTENSIONS, &what).ok_or_else(|| {
                        self.invalid(what_at, format!("unknown extension {what:?}"))
                    })?,
                    size: self.varint("the extension's size")?,
                }
            }
            6 => TarErrorKind::TrailingGarbage,
            7 => TarErrorKind::LoneZeroBlock,
            8 => TarErrorKind::Poisoned,
            9 => TarErrorKind::Limit(self.limit_exceeded()?),
            other => return Err(self.invalid(at, format!("unknown tar error {other}"))),
        };
        Ok(TarError { offset, kind })
    }

    fn limit_exceeded(&mut self) -> Result<LimitExceeded, TransferError> {
        let at = self.at;
        let tag = self.byte("the limit")?;
        let limit = *Limit::ALL
            .get(usize::from(tag))
            .ok_or_else(|| self.invalid(at, format!("unknown limit {tag}")))?;
        Ok(LimitExceeded {
            limit,
            subject: self.text("what went past the limit")?,
            value: self.varint("the value past the limit")?,
            max: self.varint("the limit")?,
        })
    }

    fn small(&mut self, reading: &'static str) -> Result<u32, TransferError> {
        let at = self.at;
        u32::try_from(self.varint(reading)?)
            .map_err(|_| self.invalid(at, format!("{reading} exceeds 32 bits")))
    }
}

/// The header fields the tar decoder names in its errors.
const HEADER_FIELDS: [&str; 5] = ["size", "mode", "uid", "gid", "mtime"];

/// The extension records the tar decoder names in its errors.
const EXTENSIONS: [&str; 4] = [
    "PAX extended header",
    "PAX global header",
    "GNU long name",
    "GNU long link name",
];

fn known(names: &[&'static str], name: &str) -> Option<&'static str> {
    names.iter().copied().find(|known| *known == name)
}

fn payload_name(payload: Payload) -> &'static str {
    match payload {
        Payload::Summary => "a layer summary",
        Payload::Digests => "layer digests",
        Payload::Error => "a layer error",
    }
}

fn compression_tag(compression: Compression) -> u8 {
    match compression {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Zstd => 2,
    }
}

fn role_tag(role: DigestRole) -> u8 {
    match role {
        DigestRole::Manifest => 0,
        DigestRole::Config => 1,
        DigestRole::Layer => 2,
        DigestRole::DiffId => 3,
    }
}

fn kind_tag(kind: EntryKind) -> (u8, Option<u8>) {
    match kind {
        EntryKind::File => (0, None),
        EntryKind::Directory => (1, None),
        EntryKind::Symlink => (2, None),
        EntryKind::HardLink => (3, None),
        EntryKind::CharDevice => (4, None),
        EntryKind::BlockDevice => (5, None),
        EntryKind::Fifo => (6, None),
        EntryKind::GnuSparse => (7, None),
        EntryKind::Other(flag) => (8, Some(flag)),
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: EntryKind) -> LayerEntry {
        LayerEntry {
            path: path.as_bytes().into(),
            link_target: matches!(kind, EntryKind::Symlink).then(|| b"target".to_vec().into()),
            kind,
            mode: 0o755,
            uid: 1000,
            gid: u64::MAX,
            size: 12345,
            mtime: -5,
            content_hash: matches!(kind, EntryKind::File).then_some(0xdead_beef_0102_0304),
        }
    }

    #[test]
    fn packed_entries_read_back_in_order() {
        let entries = sample_entries();
        let packed = PackedEntries::pack(&entries);
        assert_eq!(packed.len(), entries.len());
        assert_eq!(packed.iter().collect::<Vec<_>>(), entries);
        // Paths sharing their directory are stored as what they add to it.
        assert!(packed.heap_bytes() < entries.iter().map(|e| e.path.len() + 8).sum::<usize>() + 64);
        assert!(PackedEntries::pack(&[]).is_empty());
        // Collected, pushed one by one, or packed at once: the same bytes.
        assert_eq!(entries.iter().cloned().collect::<PackedEntries>(), packed);
        // A summary carries the packed bytes as they are, and reads them back unchanged.
        let summary = summary();
        let (head, carried) = summary.to_byte_parts();
        assert_eq!(carried, &summary.entries.bytes[..]);
        assert_eq!([head.as_slice(), carried].concat(), summary.to_bytes());
    }

    fn sample_entries() -> Vec<LayerEntry> {
        vec![
            entry("usr/", EntryKind::Directory),
            entry("usr/bin/env", EntryKind::File),
            entry("usr/bin/sh", EntryKind::Symlink),
            entry("dev/x", EntryKind::Other(b'X')),
        ]
    }

    fn summary() -> LayerSummary {
        let digest = Digest::sha256_of(b"x");
        LayerSummary {
            compressed_size: 10,
            uncompressed_size: 1 << 40,
            compression: Compression::Zstd,
            digests: Digests::Computed(LayerDigests {
                blob_digest: digest.clone(),
                diff_id: Digest::sha256_of(b"y"),
                verifications: vec![DigestCheck {
                    kind: DigestRole::DiffId,
                    expected: digest.clone(),
                    actual: digest,
                    ok: true,
                }],
            }),
            warnings: vec!["odd ☃".into()],
            entries: PackedEntries::pack(&sample_entries()),
            entries_size: 24690,
        }
    }

    #[test]
    fn round_trips() {
        let summary = summary();
        let bytes = summary.to_bytes();
        assert_eq!(LayerSummary::from_bytes(&bytes).unwrap(), summary);
        for value in [0, 1, -1, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(value)), value);
        }
    }

    #[test]
    fn every_cut_is_an_error_never_a_panic() {
        let bytes = summary().to_bytes();
        for len in 0..bytes.len() {
            assert!(
                LayerSummary::from_bytes(&bytes[..len]).is_err(),
                "cut at {len}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            LayerSummary::from_bytes(&longer),
            Err(TransferError::TrailingBytes { extra: 1, .. })
        ));
    }

    #[test]
    fn every_flipped_byte_is_refused_or_decodes_to_something_bounded() {
        let bytes = summary().to_bytes();
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[i] ^= flip;
                if let Ok(decoded) = LayerSummary::from_bytes(&bad) {
                    assert!(decoded.entries.len() <= bad.len());
                }
            }
        }
    }

    #[test]
    fn lying_counts_and_prefixes_are_refused_without_allocating() {
        let mut out = Writer::new(Payload::Summary, 64);
        out.varint(1);
        out.varint(2);
        out.byte(0);
        out.varint(3);
        out.byte(0);
        out.varint(0);
        out.varint(u64::MAX / 2); // entries: a count no buffer holds
        let error = LayerSummary::from_bytes(&out.bytes).unwrap_err();
        assert!(error.to_string().contains("cannot fit"), "{error}");

        // A path claiming to share more than the previous path has.
        let mut out = Writer::new(Payload::Summary, 64);
        for value in [1, 2] {
            out.varint(value);
        }
        out.byte(0);
        out.varint(3);
        out.byte(0);
        out.varint(0);
        out.varint(1);
        out.byte(0); // file
        out.byte(0); // no link, no hash
        out.varint(7); // shares 7 bytes with nothing
        out.blob(b"x");
        for _ in 0..5 {
            out.varint(0); // mode, uid, gid, size, mtime
        }
        let error = LayerSummary::from_bytes(&out.bytes).unwrap_err();
        assert!(error.to_string().contains("shares 7 bytes"), "{error}");
    }

    #[test]
    fn a_forged_prefix_chain_hits_the_expansion_bound() {
        // One long path, then many entries each sharing all of it: a few bytes each, but
        // each decoding to the whole path.
        let long = vec![b'a'; 60_000];
        let mut out = Writer::new(Payload::Summary, 64);
        for value in [1, 2] {
            out.varint(value);
        }
        out.byte(0);
        out.varint(3);
        out.byte(0);
        out.varint(0);
        let count = 100_000u64;
        out.varint(count);
        for i in 0..count {
            out.byte(0);
            out.byte(0);
            out.varint(if i == 0 { 0 } else { long.len() as u64 });
            out.blob(if i == 0 { &long } else { b"" });
            for _ in 0..5 {
                out.varint(0);
            }
        }
        let error = LayerSummary::from_bytes(&out.bytes).unwrap_err();
        assert!(error.to_string().contains("expand"), "{error}");
    }

    #[test]
    fn the_encoder_keeps_honest_sharing_within_the_bound() {
        // The same chain, built from real entries, decodes: the encoder writes whole paths
        // where sharing would pass the bound.
        let long = "a".repeat(20_000);
        let entries: Vec<LayerEntry> = (0..500)
            .map(|_| entry(&long, EntryKind::Directory))
            .collect();
        let summary = LayerSummary {
            entries: PackedEntries::pack(&entries),
            ..summary()
        };
        let bytes = summary.to_bytes();
        assert_eq!(LayerSummary::from_bytes(&bytes).unwrap(), summary);
    }

    #[test]
    fn buffers_say_what_they_hold() {
        let digests = match summary().digests {
            Digests::Computed(d) => d,
            Digests::Skipped => unreachable!(),
        };
        let bytes = digests.to_bytes();
        assert_eq!(LayerDigests::from_bytes(&bytes).unwrap(), digests);
        assert!(matches!(
            LayerSummary::from_bytes(&bytes),
            Err(TransferError::WrongPayload { .. })
        ));
        let mut newer = bytes.clone();
        newer[4] = 2;
        assert_eq!(
            LayerDigests::from_bytes(&newer),
            Err(TransferError::UnsupportedVersion { found: 2 })
        );
        assert_eq!(
            LayerDigests::from_bytes(b"{}"),
            Err(TransferError::NotABuffer)
        );
    }

    #[test]
    fn errors_round_trip_typed() {
        let errors = [
            LayerError::Tar(TarError {
                offset: 512,
                kind: TarErrorKind::BadChecksum {
                    stored: Some(7),
                    computed: 9,
                },
            }),
            LayerError::Tar(TarError {
                offset: 0,
                kind: TarErrorKind::BadField {
                    field: "mtime",
                    detail: "not octal".into(),
                },
            }),
            LayerError::Tar(TarError {
                offset: 3,
                kind: TarErrorKind::ExtensionTooLarge {
                    what: "GNU long name",
                    size: 1 << 30,
                },
            }),
            LayerError::Decompression(CodecError::Zstd {
                offset: 99,
                detail: "bad block".into(),
            }),
            LayerError::DigestMismatch {
                kind: DigestRole::Layer,
                mismatch: Mismatch {
                    expected: Digest::sha256_of(b"a"),
                    actual: Digest::sha256_of(b"b"),
                },
                summary: Box::new(summary()),
            },
            LayerError::Finished,
        ];
        for error in errors {
            let back = LayerError::from_bytes(&error.to_bytes()).unwrap();
            assert_eq!(back.to_string(), error.to_string());
            assert_eq!(format!("{back:?}"), format!("{error:?}"));
        }
    }
}
