//! Push decompression: gzip, zstd or nothing, chosen by magic bytes, in bounded memory.
//!
//! A [`Decoder`] takes compressed bytes in chunks of any size and hands the
//! decompressed bytes to an output callback as they come, through one fixed
//! 64 KiB window. It is the one decompressor of the crate: the layer scanner
//! runs each layer blob through it, and the archive reader runs a `docker save
//! | gzip` archive through it.
//!
//! Memory is bounded whatever the input: gzip needs the inflater's 32 KiB
//! window; zstd keeps at most two of its largest blocks of pending input and
//! hands ruzstd one block at a time, so a frame of tiny blocks that expand
//! enormously never piles up.

use flate2::{Decompress, FlushDecompress, Status};
use ruzstd::decoding::FrameDecoder;

use crate::limits::{Limit, LimitExceeded, Limits};

pub use crate::model::media::Compression;

/// Size of the buffer that decompressed bytes pass through.
const OUTPUT_WINDOW: usize = 64 * 1024;

/// The zstd format's largest block.
const MAX_ZSTD_BLOCK: usize = 128 * 1024;

/// Pending zstd input is decoded once this much is buffered: the largest zstd
/// block plus its header and the largest frame header.
const ZSTD_MIN_INPUT: usize = MAX_ZSTD_BLOCK + 3 + 18;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// How many leading bytes [`sniff`] wants.
pub const MAGIC_LEN: usize = 4;

/// The compression the first bytes of a stream show; plain when neither gzip
/// nor zstd (a zstd stream may open with a skippable frame).
pub fn sniff(magic: &[u8]) -> Compression {
    if magic.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if magic.starts_with(&ZSTD_MAGIC) || is_skippable_zstd(magic) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Compressions people meet that this decoder does not read, by their magic bytes.
pub fn unsupported(magic: &[u8]) -> Option<&'static str> {
    if magic.starts_with(b"BZh") {
        Some("bzip2")
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz")
    } else {
        None
    }
}

fn is_skippable_zstd(magic: &[u8]) -> bool {
    magic.len() >= 4 && magic[0] & 0xf0 == 0x50 && magic[1..4] == [0x2a, 0x4d, 0x18]
}

/// A malformed compressed stream, and how far into it the problem was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The gzip stream is malformed.
    #[error("gzip stream, compressed byte offset {offset}: {detail}")]
    Gzip {
        /// Compressed bytes consumed when the problem was found.
        offset: u64,
        /// What is wrong (zlib-rs's message, truncation, trailing garbage).
        detail: String,
    },
    /// The zstd stream is malformed.
    #[error("zstd stream, compressed byte offset {offset}: {detail}")]
    Zstd {
        /// Compressed bytes consumed when the problem was found.
        offset: u64,
        /// What is wrong (ruzstd's message, truncation, trailing garbage).
        detail: String,
    },
    /// A zstd frame declares a window larger than [`Limits::max_zstd_window`]: decoding it
    /// would keep that many bytes in memory.
    #[error("zstd stream, compressed byte offset {offset}: {source}")]
    ZstdWindow {
        /// Compressed offset of the frame.
        offset: u64,
        /// The window declared and the limit.
        source: LimitExceeded,
    },
}

impl CodecError {
    /// Compressed bytes consumed when the problem was found.
    pub fn offset(&self) -> u64 {
        match self {
            CodecError::Gzip { offset, .. }
            | CodecError::Zstd { offset, .. }
            | CodecError::ZstdWindow { offset, .. } => *offset,
        }
    }
}

/// A push decompressor for one stream. See the module documentation.
pub struct Decoder {
    inner: Inner,
}

enum Inner {
    Plain,
    Gzip(Box<GzipDecoder>),
    Zstd(Box<ZstdDecoder>),
}

impl Decoder {
    /// A decoder for a stream known to be in `compression`, within the default [`Limits`].
    pub fn new(compression: Compression) -> Decoder {
        Decoder::with_limits(compression, &Limits::DEFAULT)
    }

    /// A decoder for a stream known to be in `compression`; a zstd frame whose window is
    /// over `limits.max_zstd_window` is refused before anything is decoded.
    pub fn with_limits(compression: Compression, limits: &Limits) -> Decoder {
        let inner = match compression {
            Compression::None => Inner::Plain,
            Compression::Gzip => Inner::Gzip(Box::new(GzipDecoder::new())),
            Compression::Zstd => Inner::Zstd(Box::new(ZstdDecoder::new(limits.max_zstd_window))),
        };
        Decoder { inner }
    }

    /// What this decoder undoes.
    pub fn compression(&self) -> Compression {
        match self.inner {
            Inner::Plain => Compression::None,
            Inner::Gzip(_) => Compression::Gzip,
            Inner::Zstd(_) => Compression::Zstd,
        }
    }

    /// Decompresses `input`, handing every decompressed run to `out`. Oddities
    /// that do not stop decoding (zero padding after the stream) go to `warnings`.
    pub fn push<E, F>(
        &mut self,
        input: &[u8],
        warnings: &mut Vec<String>,
        out: &mut F,
    ) -> Result<(), E>
    where
        E: From<CodecError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        match &mut self.inner {
            Inner::Plain if input.is_empty() => Ok(()),
            Inner::Plain => out(input),
            Inner::Gzip(g) => g.feed(input, warnings, out),
            Inner::Zstd(z) => z.feed(input, warnings, out),
        }
    }

    /// Ends the stream: decodes what is pending and refuses a stream cut short.
    pub fn finish<E, F>(&mut self, warnings: &mut Vec<String>, out: &mut F) -> Result<(), E>
    where
        E: From<CodecError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        match &mut self.inner {
            Inner::Plain => Ok(()),
            Inner::Gzip(g) => g.finish().map_err(E::from),
            Inner::Zstd(z) => z.finish(warnings, out),
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

    fn error(&self, detail: String) -> CodecError {
        CodecError::Gzip {
            offset: self.consumed,
            detail,
        }
    }

    fn feed<E, F>(
        &mut self,
        mut input: &[u8],
        warnings: &mut Vec<String>,
        out: &mut F,
    ) -> Result<(), E>
    where
        E: From<CodecError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
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
                        return Err(self
                            .error("trailing garbage after the zero padding that follows the gzip stream".into())
                            .into());
                    }
                    // Another member: a fresh inflater, so its header is parsed.
                    self.inflater = Decompress::new_gzip(15);
                    self.members += 1;
                    self.phase = GzipPhase::Member;
                }
                GzipPhase::Member => {
                    let used = self.inflate(input, out)?;
                    input = &input[used..];
                }
            }
        }
        Ok(())
    }

    /// Inflates until the member ends or the input is used up (and all
    /// output for it drained); returns the input bytes consumed.
    fn inflate<E, F>(&mut self, input: &[u8], out: &mut F) -> Result<usize, E>
    where
        E: From<CodecError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
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
            if written > 0 {
                out(&self.out[..written])?;
            }
            if status == Status::StreamEnd {
                self.phase = GzipPhase::BetweenMembers;
                return Ok(used);
            }
            if read == 0 && written == 0 {
                return Ok(used);
            }
        }
    }

    fn finish(&mut self) -> Result<(), CodecError> {
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
    /// Largest window a frame may declare.
    max_window: u64,
    out: Box<[u8]>,
}

impl ZstdDecoder {
    fn new(max_window: u64) -> ZstdDecoder {
        ZstdDecoder {
            decoder: FrameDecoder::new(),
            pending: Vec::with_capacity(2 * ZSTD_MIN_INPUT),
            in_frame: false,
            skipping: 0,
            frames: 0,
            consumed: 0,
            zero_padding: false,
            last_block_seen: false,
            max_window,
            out: vec![0; OUTPUT_WINDOW].into_boxed_slice(),
        }
    }

    fn error(&self, detail: String) -> CodecError {
        CodecError::Zstd {
            offset: self.consumed,
            detail,
        }
    }

    fn feed<E, F>(
        &mut self,
        mut input: &[u8],
        warnings: &mut Vec<String>,
        out: &mut F,
    ) -> Result<(), E>
    where
        E: From<CodecError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        while !input.is_empty() {
            let room = (2 * ZSTD_MIN_INPUT)
                .saturating_sub(self.pending.len())
                .max(1);
            let take = room.min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() >= ZSTD_MIN_INPUT {
                self.decode(false, warnings, out)?;
            }
        }
        Ok(())
    }

    fn finish<E, F>(&mut self, warnings: &mut Vec<String>, out: &mut F) -> Result<(), E>
    where
        E: From<CodecError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        self.decode(true, warnings, out)?;
        if self.in_frame || self.skipping > 0 || !self.pending.is_empty() {
            return Err(self
                .error(format!(
                    "zstd stream truncated inside frame {}",
                    self.frames
                ))
                .into());
        }
        Ok(())
    }

    fn drop_pending(&mut self, n: usize) {
        self.pending.drain(..n);
        self.consumed += n as u64;
    }

    /// Decodes what `pending` allows. With `last`, all input has arrived.
    fn decode<E, F>(&mut self, last: bool, warnings: &mut Vec<String>, out: &mut F) -> Result<(), E>
    where
        E: From<CodecError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
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
            if !self.step_frame(last, out)? {
                return Ok(());
            }
        }
    }

    /// One step inside a frame: drain decoded bytes, or decode the next
    /// block (or read the frame's checksum). Blocks are handed to ruzstd one
    /// at a time, each at most 128 KiB decoded. False when more input is needed.
    fn step_frame<E, F>(&mut self, last: bool, out: &mut F) -> Result<bool, E>
    where
        E: From<CodecError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        if self.decoder.can_collect() > 0 {
            // Read, not decode_from_to: with a checksum pending, the latter
            // expects the checksum bytes instead of draining.
            let written = std::io::Read::read(&mut self.decoder, &mut self.out)
                .map_err(|e| self.error(format!("frame {}: {e}", self.frames)))?;
            out(&self.out[..written])?;
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
                return Err(self
                    .error(format!(
                        "zstd stream truncated inside frame {}",
                        self.frames
                    ))
                    .into());
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
        if written > 0 {
            out(&self.out[..written])?;
        }
        Ok(true)
    }

    /// Length of the next block (header and content) from its 3-byte
    /// header, 0 if the header has not arrived.
    fn next_block_len(&self) -> Result<usize, CodecError> {
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
    fn start_frame(&mut self, last: bool, warnings: &mut Vec<String>) -> Result<bool, CodecError> {
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
        if self.pending[..4] != ZSTD_MAGIC {
            return Err(self.error(format!(
                "not a zstd frame (magic {:02x?}): trailing garbage after frame {}",
                &self.pending[..4],
                self.frames
            )));
        }
        if self.pending.len() < 18 && !last {
            return Ok(false);
        }
        if let Some(window) = declared_window(&self.pending) {
            let limits = Limits {
                max_zstd_window: self.max_window,
                ..Limits::DEFAULT
            };
            let subject = format!("zstd frame {}", self.frames + 1);
            if let Err(source) = limits.check(Limit::ZstdWindow, &subject, window) {
                return Err(CodecError::ZstdWindow {
                    offset: self.consumed,
                    source,
                });
            }
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

    fn check_frame_checksum(&self) -> Result<(), CodecError> {
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

/// The window a zstd frame header (from its magic number on) declares: the window
/// descriptor's, or for a single-segment frame its content size; `None` when the header is
/// incomplete (ruzstd then refuses it).
fn declared_window(frame: &[u8]) -> Option<u64> {
    let descriptor = *frame.get(4)?;
    let single_segment = descriptor & 0x20 != 0;
    if !single_segment {
        let window = *frame.get(5)?;
        let base = 1u64 << (10 + u32::from(window >> 3));
        return Some(base + base / 8 * u64::from(window & 7));
    }
    let dictionary_len = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let start = 5 + dictionary_len;
    let size_len = [1, 2, 4, 8][usize::from(descriptor >> 6)];
    let field = frame.get(start..start + size_len)?;
    let mut bytes = [0u8; 8];
    bytes[..size_len].copy_from_slice(field);
    let size = u64::from_le_bytes(bytes);
    // The two-byte field counts from 256.
    Some(if size_len == 2 { size + 256 } else { size })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(
        compression: Compression,
        stream: &[u8],
        chunk: usize,
    ) -> Result<Vec<u8>, CodecError> {
        let mut decoder = Decoder::new(compression);
        let mut plain = Vec::new();
        let mut warnings = Vec::new();
        let mut out = |bytes: &[u8]| -> Result<(), CodecError> {
            plain.extend_from_slice(bytes);
            Ok(())
        };
        for piece in stream.chunks(chunk.max(1)) {
            decoder.push(piece, &mut warnings, &mut out)?;
        }
        decoder.finish(&mut warnings, &mut out)?;
        Ok(plain)
    }

    #[test]
    fn sniffs_by_magic_bytes() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(sniff(&ZSTD_MAGIC), Compression::Zstd);
        assert_eq!(sniff(&[0x5a, 0x2a, 0x4d, 0x18]), Compression::Zstd);
        assert_eq!(sniff(b"usta"), Compression::None);
        assert_eq!(unsupported(b"BZh91AY"), Some("bzip2"));
        assert_eq!(unsupported(b"abc"), None);
    }

    #[test]
    fn gzip_and_zstd_round_trip_in_any_chunking() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).unwrap();
        let gz = gz.finish().unwrap();
        let zst = ruzstd::encoding::compress_to_vec(
            &data[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        for chunk in [1, 7, 4096, 1 << 20] {
            assert_eq!(decode_all(Compression::Gzip, &gz, chunk).unwrap(), data);
            assert_eq!(decode_all(Compression::Zstd, &zst, chunk).unwrap(), data);
        }
    }

    /// A zstd frame of `zeros` zero bytes in RLE blocks, declaring a window of 2^`log`.
    fn rle_frame(log: u8, zeros: usize) -> Vec<u8> {
        let mut frame = ZSTD_MAGIC.to_vec();
        frame.extend([0x00, (log - 10) << 3]);
        let block = (1usize << log).min(MAX_ZSTD_BLOCK);
        let mut left = zeros;
        while left > 0 {
            let n = left.min(block);
            left -= n;
            let header = (n << 3) as u32 | 1 << 1 | u32::from(left == 0);
            frame.extend(&header.to_le_bytes()[..3]);
            frame.push(0);
        }
        frame
    }

    #[test]
    fn a_zstd_window_over_the_limit_is_refused_naming_the_window_and_the_limit() {
        let frame = rle_frame(31, 1 << 20);
        let err = decode_all(Compression::Zstd, &frame, 4096).unwrap_err();
        let CodecError::ZstdWindow { source, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!((source.value, source.max), (1 << 31, 1 << 27));
        assert!(
            err.to_string().contains(
                "zstd frame 1 has 2147483648 bytes of window, over the limit of 134217728"
            ),
            "{err}"
        );
        // The page and the CLI say differently how to raise it: no option named here.
        assert!(!err.to_string().contains("--max"), "{err}");
        assert_eq!(crate::limits::exceeded_in(&err), Some(source));
        // The same frame within a raised limit decodes.
        let limits = Limits {
            max_zstd_window: 1 << 31,
            ..Limits::DEFAULT
        };
        let mut decoder = Decoder::with_limits(Compression::Zstd, &limits);
        let mut total = 0usize;
        let mut count = |bytes: &[u8]| -> Result<(), CodecError> {
            total += bytes.len();
            Ok(())
        };
        decoder.push(&frame, &mut Vec::new(), &mut count).unwrap();
        decoder.finish(&mut Vec::new(), &mut count).unwrap();
        assert_eq!(total, 1 << 20);
        // At the default limit exactly, decoded.
        assert_eq!(
            decode_all(Compression::Zstd, &rle_frame(27, 1000), 7).unwrap(),
            vec![0; 1000]
        );
    }

    #[test]
    fn single_segment_frames_declare_their_content_size() {
        // Single segment, 4-byte content size of 3 GiB, no dictionary.
        let mut frame = ZSTD_MAGIC.to_vec();
        frame.push(0b1010_0000);
        frame.extend(3u32.wrapping_mul(1 << 30).to_le_bytes());
        assert_eq!(declared_window(&frame), Some(3 << 30));
        assert_eq!(declared_window(&ZSTD_MAGIC), None);
    }

    #[test]
    fn a_cut_stream_is_refused_with_its_offset() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &[7u8; 10_000]).unwrap();
        let gz = gz.finish().unwrap();
        let err = decode_all(Compression::Gzip, &gz[..gz.len() / 2], 64).unwrap_err();
        assert!(matches!(err, CodecError::Gzip { .. }), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
        let zst = ruzstd::encoding::compress_to_vec(
            &[7u8; 10_000][..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        let err = decode_all(Compression::Zstd, &zst[..zst.len() - 3], 64).unwrap_err();
        assert!(matches!(err, CodecError::Zstd { .. }), "{err}");
    }
}
