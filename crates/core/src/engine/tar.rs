//! A push-based tar header state machine.
//!
//! [`TarParser::push`] takes the uncompressed tar stream in chunks of any size
//! and reports [`TarEvent`]s: one [`TarEvent::Entry`] per member (with GNU
//! long names and PAX records already applied), the member's content as
//! [`TarEvent::Data`] slices borrowed from the input (so the caller can hash
//! it without a copy), and [`TarEvent::EntryEnd`]. Only one 512-byte header
//! block and the bounded extension records (PAX, GNU long name) are ever
//! buffered.
//!
//! Header fields are decoded by the `tar` crate's `Header`; this module owns
//! the streaming, the PAX records (read by their length, so a value may hold
//! a newline), the state and the error reporting (every error names the byte
//! offset in the tar stream). Global PAX headers are skipped, as docker and
//! Go's archive/tar skip them: they rename nothing.
//!
//! Names are bounded by [`Limits::max_path_bytes`] and
//! [`Limits::max_path_depth`] ([`TarParser::with_limits`]).

use std::fmt;

use ::tar::{EntryType, Header};

use crate::limits::{Limit, LimitExceeded, Limits};

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// Largest PAX extended header or GNU long name/link record accepted. Real
/// records are a few hundred bytes; the bound keeps a hostile archive from
/// making the parser buffer without limit.
pub const MAX_EXTENSION_SIZE: u64 = 1024 * 1024;

/// What kind of file system object a tar member describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// A regular file (typeflag `0`, NUL, or `7` contiguous).
    File,
    /// A directory (typeflag `5`).
    Directory,
    /// A symbolic link (`link_target` is the target).
    Symlink,
    /// A hard link to an earlier member (`link_target` names it).
    HardLink,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A GNU sparse file (typeflag `S`); `size` is the file's real size.
    GnuSparse,
    /// A typeflag this parser does not know; POSIX says to treat its content
    /// as a regular file's.
    Other(u8),
}

impl EntryKind {
    /// The one-letter type as `ls -l` prints it.
    pub fn ls_char(self) -> char {
        match self {
            EntryKind::Directory => 'd',
            EntryKind::Symlink => 'l',
            EntryKind::CharDevice => 'c',
            EntryKind::BlockDevice => 'b',
            EntryKind::Fifo => 'p',
            _ => '-',
        }
    }

    /// What the entry is, in a few words ("a directory", "a named pipe").
    pub fn describe(self) -> &'static str {
        match self {
            EntryKind::File => "a regular file",
            EntryKind::Directory => "a directory",
            EntryKind::Symlink => "a symbolic link",
            EntryKind::HardLink => "a hard link",
            EntryKind::CharDevice => "a character device",
            EntryKind::BlockDevice => "a block device",
            EntryKind::Fifo => "a named pipe",
            EntryKind::GnuSparse => "a sparse file",
            EntryKind::Other(_) => "a member of an unknown type",
        }
    }

    /// Whether the member's content bytes follow its header in the stream.
    fn has_content(self) -> bool {
        matches!(
            self,
            EntryKind::File | EntryKind::GnuSparse | EntryKind::Other(_)
        )
    }
}

/// One tar member's decoded header, extensions applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarEntry {
    /// The member's name, exactly as stored (not normalized, maybe not UTF-8).
    pub path: Vec<u8>,
    /// Symlink target or hard-link source, exactly as stored.
    pub link_target: Option<Vec<u8>>,
    /// What the member is.
    pub kind: EntryKind,
    /// Permission bits and set-id/sticky bits (the header's mode field).
    pub mode: u32,
    /// Owner user id (PAX `uid` applied).
    pub uid: u64,
    /// Owner group id (PAX `gid` applied).
    pub gid: u64,
    /// File size in bytes (for GNU sparse files, the real size).
    pub size: u64,
    /// Modification time, seconds since the epoch (PAX fractions dropped).
    pub mtime: i64,
    /// Offset of this member's header block in the tar stream.
    pub header_offset: u64,
}

impl TarEntry {
    /// The path for display: invalid UTF-8 replaced, exact bytes kept in `path`.
    pub fn path_lossy(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }
}

/// Something the parser found in the stream.
#[derive(Debug)]
pub enum TarEvent<'a> {
    /// A member's header, with PAX and GNU extensions applied.
    Entry(TarEntry),
    /// Content bytes of the current member (regular and sparse files only).
    Data(&'a [u8]),
    /// The current member's content is complete.
    EntryEnd,
}

/// What went wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarError {
    /// Offset in the (uncompressed) tar stream where the problem is.
    pub offset: u64,
    /// What is wrong.
    pub kind: TarErrorKind,
}

/// The kinds of malformed tar streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TarErrorKind {
    /// The stream ended inside a header, a member's content or its padding.
    Truncated {
        /// What was being read (names the member and its header offset).
        inside: String,
    },
    /// The stream ended at a block boundary without an end-of-archive marker
    /// and without any member at all.
    Empty,
    /// A header's checksum does not match its bytes.
    BadChecksum {
        /// The checksum field's value; `None` when it is not octal.
        stored: Option<u32>,
        /// The sum of the header's bytes.
        computed: u32,
    },
    /// A numeric header field could not be read.
    BadField {
        /// The header field.
        field: &'static str,
        /// Why it could not be read.
        detail: String,
    },
    /// A PAX record with a bad value.
    BadPax {
        /// The record's key.
        key: String,
        /// Why its value is unusable.
        detail: String,
    },
    /// A PAX header or GNU long name larger than [`MAX_EXTENSION_SIZE`].
    ExtensionTooLarge {
        /// The kind of record.
        what: &'static str,
        /// Its declared size.
        size: u64,
    },
    /// Non-zero bytes after the end-of-archive marker.
    TrailingGarbage,
    /// A single zero block followed by something that is not a zero block.
    LoneZeroBlock,
    /// A name or link target longer or deeper than the parser's [`Limits`].
    Limit(LimitExceeded),
    /// Bytes were pushed after [`TarParser::finish`] or after an error.
    Poisoned,
}

impl fmt::Display for TarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        match &self.kind {
            TarErrorKind::Truncated { inside } => {
                write!(f, "tar stream truncated at byte offset {at}, inside {inside}")
            }
            TarErrorKind::Empty => write!(f, "tar stream is empty (no header at byte offset 0)"),
            TarErrorKind::BadChecksum { stored, computed } => match stored {
                Some(s) => write!(
                    f,
                    "tar header at byte offset {at} has a bad checksum (stored {s:o}, computed {computed:o})"
                ),
                None => write!(
                    f,
                    "tar header at byte offset {at} has an unreadable checksum field (computed {computed:o}); not a tar header"
                ),
            },
            TarErrorKind::BadField { field, detail } => {
                write!(f, "tar header at byte offset {at}: bad {field} field: {detail}")
            }
            TarErrorKind::BadPax { key, detail } => {
                write!(f, "PAX header at byte offset {at}: bad value for {key:?}: {detail}")
            }
            TarErrorKind::ExtensionTooLarge { what, size } => write!(
                f,
                "{what} at byte offset {at} is {size} bytes, more than the {MAX_EXTENSION_SIZE} bytes allowed"
            ),
            TarErrorKind::TrailingGarbage => write!(
                f,
                "trailing garbage: non-zero data at byte offset {at}, after the tar end-of-archive marker"
            ),
            TarErrorKind::LoneZeroBlock => write!(
                f,
                "tar header at byte offset {at} follows a single zero block (a corrupt end-of-archive marker)"
            ),
            TarErrorKind::Limit(exceeded) => write!(f, "{exceeded}"),
            TarErrorKind::Poisoned => {
                write!(f, "tar parser used after an error or after finish (byte offset {at})")
            }
        }
    }
}

impl std::error::Error for TarError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            // So a front end finds the limit and says how to raise it.
            TarErrorKind::Limit(exceeded) => Some(exceeded),
            _ => None,
        }
    }
}

/// How a stream ended, as [`TarParser::finish`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarEnd {
    /// Number of members reported (extension headers not counted).
    pub entries: u64,
    /// Total length of the tar stream, padding included.
    pub stream_len: u64,
    /// False when the stream stopped at a block boundary without the two
    /// zero blocks; such streams are accepted (as Go's archive/tar does) but
    /// the caller may want to warn.
    pub end_marker_seen: bool,
    /// Where non-zero data after the end-of-archive marker starts, when the
    /// parser was made with [`TarParser::allowing_trailing_data`].
    pub trailing_data_at: Option<u64>,
}

/// What the parser needs next, for a caller that reads the stream by ranges
/// (an archive on disk or a `Blob`) and wants to skip member contents
/// instead of reading them: see [`TarParser::next_read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextRead {
    /// Push the next `len` bytes: a header block (or its rest), a GNU sparse
    /// extension block, or an extension record with its padding.
    Bytes(u64),
    /// The current member's content and padding follow, `len` bytes that
    /// [`TarParser::skip_content`] skips without reading.
    Content(u64),
    /// The end-of-archive marker has been read.
    End,
    /// The parser failed; nothing more is accepted.
    Failed,
}

/// Which extension record's content is being collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Extension {
    Pax,
    GlobalPax,
    LongName,
    LongLink,
}

impl Extension {
    fn describe(self) -> &'static str {
        match self {
            Extension::Pax => "PAX extended header",
            Extension::GlobalPax => "PAX global header",
            Extension::LongName => "GNU long name",
            Extension::LongLink => "GNU long link name",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Collecting a header block.
    Header,
    /// GNU sparse extension blocks follow the header.
    SparseExtension,
    /// A member's content: `remaining` content bytes, then `padding` zero bytes.
    Content { remaining: u64, padding: u64 },
    /// An extension record's content, buffered.
    Extension {
        kind: Extension,
        remaining: u64,
        padding: u64,
    },
    /// One zero block seen; a second one ends the archive.
    OneZeroBlock,
    /// End-of-archive seen; only zero padding may follow.
    Ended,
    /// An error was reported; nothing more is accepted.
    Failed,
}

/// Fields that PAX records or GNU extensions override on the next member.
#[derive(Clone, Debug, Default)]
struct Overrides {
    path: Option<Vec<u8>>,
    link_target: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<i64>,
    /// PAX-format GNU sparse files (`GNU.sparse.*` records): the real name
    /// and size of a file whose header names a placeholder.
    sparse_name: Option<Vec<u8>>,
    sparse_real_size: Option<u64>,
}

/// The push-based tar parser.
pub struct TarParser {
    state: State,
    /// Bytes of the stream consumed so far.
    offset: u64,
    block: [u8; BLOCK],
    block_fill: usize,
    /// Offset of the header that started the current member or extension.
    header_offset: u64,
    extension: Vec<u8>,
    local: Overrides,
    /// Bounds on names and link targets.
    limits: Limits,
    entries: u64,
    /// What the current member is, for truncation messages.
    current: Option<String>,
    /// Content length of the member whose header was just read.
    pending_content: u64,
    /// Whether data after the end-of-archive marker is recorded rather than
    /// refused; see [`TarParser::allowing_trailing_data`].
    allow_trailing_data: bool,
    /// Offset of the first non-zero byte after the end-of-archive marker.
    trailing_data_at: Option<u64>,
}

impl Default for TarParser {
    fn default() -> Self {
        Self::new()
    }
}

impl TarParser {
    /// A parser at the start of a tar stream.
    pub fn new() -> TarParser {
        TarParser {
            state: State::Header,
            offset: 0,
            block: [0; BLOCK],
            block_fill: 0,
            header_offset: 0,
            extension: Vec::new(),
            local: Overrides::default(),
            limits: Limits::DEFAULT,
            entries: 0,
            current: None,
            pending_content: 0,
            allow_trailing_data: false,
            trailing_data_at: None,
        }
    }

    /// A parser that records, instead of refusing, data after the
    /// end-of-archive marker ([`TarEnd::trailing_data_at`]).
    ///
    /// Image layers need this: eStargz layers keep their table of contents
    /// after the marker, and Go's archive/tar, which most image tools use,
    /// stops reading at the marker, so such layers are valid in practice.
    pub fn allowing_trailing_data() -> TarParser {
        TarParser {
            allow_trailing_data: true,
            ..TarParser::new()
        }
    }

    /// The same parser, refusing names and link targets past `limits`' path bounds.
    pub fn with_limits(self, limits: &Limits) -> TarParser {
        TarParser {
            limits: *limits,
            ..self
        }
    }

    /// Content bytes of the current member still to come, its padding not counted;
    /// `None` outside a member's content.
    pub fn content_remaining(&self) -> Option<u64> {
        match self.state {
            State::Content { remaining, .. } => Some(remaining),
            _ => None,
        }
    }

    /// Bytes of the tar stream consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the end-of-archive marker has been seen.
    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    /// What the stream must supply next; see [`NextRead`].
    pub fn next_read(&self) -> NextRead {
        match self.state {
            State::Header | State::SparseExtension | State::OneZeroBlock => {
                NextRead::Bytes((BLOCK - self.block_fill) as u64)
            }
            State::Extension {
                remaining, padding, ..
            } => NextRead::Bytes(remaining + padding),
            State::Content { remaining, padding } => NextRead::Content(remaining + padding),
            State::Ended => NextRead::End,
            State::Failed => NextRead::Failed,
        }
    }

    /// Jumps over the current member's content and padding without reading
    /// them (no [`TarEvent::Data`] nor [`TarEvent::EntryEnd`] is reported);
    /// returns the bytes skipped, 0 outside a member's content.
    pub fn skip_content(&mut self) -> u64 {
        let State::Content { remaining, padding } = self.state else {
            return 0;
        };
        self.offset += remaining + padding;
        self.state = State::Header;
        remaining + padding
    }

    /// Feeds the next chunk of the tar stream, calling `on_event` for each
    /// thing found. Chunks may be of any size, down to one byte.
    pub fn push<F>(&mut self, mut input: &[u8], mut on_event: F) -> Result<(), TarError>
    where
        F: FnMut(TarEvent<'_>),
    {
        while !input.is_empty() {
            let used = match self.step(input, &mut on_event) {
                Ok(used) => used,
                Err(e) => {
                    self.state = State::Failed;
                    return Err(e);
                }
            };
            input = &input[used..];
        }
        Ok(())
    }

    /// Declares the end of the stream; errors if it stopped mid-member.
    pub fn finish(&mut self) -> Result<TarEnd, TarError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let truncated = |inside: String| TarError {
            offset: self.offset,
            kind: TarErrorKind::Truncated { inside },
        };
        let end_marker_seen = match state {
            State::Ended | State::OneZeroBlock => true,
            State::Header if self.block_fill == 0 => {
                if self.offset == 0 {
                    return Err(TarError {
                        offset: 0,
                        kind: TarErrorKind::Empty,
                    });
                }
                false
            }
            State::Header => {
                return Err(truncated(format!(
                    "the header block at byte offset {}",
                    self.offset - self.block_fill as u64
                )))
            }
            State::SparseExtension => return Err(truncated("a GNU sparse extension block".into())),
            State::Content { .. } => {
                let what = self.current.clone().unwrap_or_default();
                return Err(truncated(format!(
                    "the content of {what:?} (header at byte offset {})",
                    self.header_offset
                )));
            }
            State::Extension { kind, .. } => {
                return Err(truncated(format!(
                    "a {} (header at byte offset {})",
                    kind.describe(),
                    self.header_offset
                )))
            }
            State::Failed => {
                return Err(TarError {
                    offset: self.offset,
                    kind: TarErrorKind::Poisoned,
                })
            }
        };
        Ok(TarEnd {
            entries: self.entries,
            stream_len: self.offset,
            end_marker_seen,
            trailing_data_at: self.trailing_data_at,
        })
    }

    /// Consumes a prefix of `input`, returning how many bytes it used.
    fn step<F>(&mut self, input: &[u8], on_event: &mut F) -> Result<usize, TarError>
    where
        F: FnMut(TarEvent<'_>),
    {
        match self.state {
            State::Content { remaining, padding } => {
                Ok(self.step_content(input, remaining, padding, on_event))
            }
            State::Extension {
                kind,
                remaining,
                padding,
            } => self.step_extension(input, kind, remaining, padding),
            State::Failed => Err(TarError {
                offset: self.offset,
                kind: TarErrorKind::Poisoned,
            }),
            State::Ended => self.step_trailer(input),
            State::Header | State::SparseExtension | State::OneZeroBlock => {
                // Whole blocks straight from the input, without a copy.
                if self.block_fill == 0 && input.len() >= BLOCK {
                    let block: &[u8; BLOCK] = input[..BLOCK].try_into().expect("block length");
                    let start = self.offset;
                    self.offset += BLOCK as u64;
                    self.on_block(block, start, on_event)?;
                    return Ok(BLOCK);
                }
                let take = (BLOCK - self.block_fill).min(input.len());
                self.block[self.block_fill..self.block_fill + take].copy_from_slice(&input[..take]);
                self.block_fill += take;
                self.offset += take as u64;
                if self.block_fill == BLOCK {
                    self.block_fill = 0;
                    let block = self.block;
                    self.on_block(&block, self.offset - BLOCK as u64, on_event)?;
                }
                Ok(take)
            }
        }
    }

    fn step_content<F>(
        &mut self,
        input: &[u8],
        remaining: u64,
        padding: u64,
        on_event: &mut F,
    ) -> usize
    where
        F: FnMut(TarEvent<'_>),
    {
        if remaining > 0 {
            let take = remaining.min(input.len() as u64) as usize;
            on_event(TarEvent::Data(&input[..take]));
            self.offset += take as u64;
            self.set_content_state(remaining - take as u64, padding, on_event);
            return take;
        }
        // Padding after the content: skipped, whatever it holds (tar
        // writers are not required to zero it).
        let take = padding.min(input.len() as u64) as usize;
        self.offset += take as u64;
        self.set_content_state(0, padding - take as u64, on_event);
        take
    }

    fn set_content_state<F>(&mut self, remaining: u64, padding: u64, on_event: &mut F)
    where
        F: FnMut(TarEvent<'_>),
    {
        if remaining == 0 && padding == 0 {
            on_event(TarEvent::EntryEnd);
            self.state = State::Header;
        } else {
            self.state = State::Content { remaining, padding };
        }
    }

    fn step_extension(
        &mut self,
        input: &[u8],
        kind: Extension,
        remaining: u64,
        padding: u64,
    ) -> Result<usize, TarError> {
        let (take, remaining, padding) = if remaining > 0 {
            let take = remaining.min(input.len() as u64) as usize;
            self.extension.extend_from_slice(&input[..take]);
            (take, remaining - take as u64, padding)
        } else {
            let take = padding.min(input.len() as u64) as usize;
            (take, 0, padding - take as u64)
        };
        self.offset += take as u64;
        if remaining == 0 && padding == 0 {
            self.state = State::Header;
            self.apply_extension(kind)?;
        } else {
            self.state = State::Extension {
                kind,
                remaining,
                padding,
            };
        }
        Ok(take)
    }

    fn step_trailer(&mut self, input: &[u8]) -> Result<usize, TarError> {
        if let Some(pos) = input.iter().position(|&b| b != 0) {
            if self.allow_trailing_data {
                self.trailing_data_at
                    .get_or_insert(self.offset + pos as u64);
                self.offset += input.len() as u64;
                return Ok(input.len());
            }
            return Err(TarError {
                offset: self.offset + pos as u64,
                kind: TarErrorKind::TrailingGarbage,
            });
        }
        self.offset += input.len() as u64;
        Ok(input.len())
    }

    fn on_block<F>(
        &mut self,
        block: &[u8; BLOCK],
        start: u64,
        on_event: &mut F,
    ) -> Result<(), TarError>
    where
        F: FnMut(TarEvent<'_>),
    {
        match self.state {
            State::SparseExtension => {
                // Byte 504 of a sparse extension block says whether another follows.
                if block[504] == 0 {
                    self.begin_member_content(on_event);
                }
                Ok(())
            }
            State::OneZeroBlock => {
                if is_zero(block) {
                    self.state = State::Ended;
                    Ok(())
                } else {
                    Err(TarError {
                        offset: start,
                        kind: TarErrorKind::LoneZeroBlock,
                    })
                }
            }
            _ => self.on_header(block, start, on_event),
        }
    }

    fn on_header<F>(
        &mut self,
        block: &[u8; BLOCK],
        start: u64,
        on_event: &mut F,
    ) -> Result<(), TarError>
    where
        F: FnMut(TarEvent<'_>),
    {
        if is_zero(block) {
            self.state = State::OneZeroBlock;
            return Ok(());
        }
        verify_checksum(block, start)?;
        let header = Header::from_byte_slice(block);
        self.header_offset = start;
        let field_error = |field: &'static str, e: std::io::Error| TarError {
            offset: start,
            kind: TarErrorKind::BadField {
                field,
                detail: e.to_string(),
            },
        };
        let entry_type = header.entry_type();
        let extension = match entry_type {
            EntryType::XHeader => Some(Extension::Pax),
            EntryType::XGlobalHeader => Some(Extension::GlobalPax),
            EntryType::GNULongName => Some(Extension::LongName),
            EntryType::GNULongLink => Some(Extension::LongLink),
            _ => None,
        };
        let stored_size = if blank(&header.as_old().size) {
            0
        } else {
            header.entry_size().map_err(|e| field_error("size", e))?
        };
        if let Some(kind) = extension {
            if stored_size > MAX_EXTENSION_SIZE {
                return Err(TarError {
                    offset: start,
                    kind: TarErrorKind::ExtensionTooLarge {
                        what: kind.describe(),
                        size: stored_size,
                    },
                });
            }
            self.extension.clear();
            let padding = pad(stored_size);
            if stored_size == 0 && padding == 0 {
                self.apply_extension(kind)?;
            } else {
                self.state = State::Extension {
                    kind,
                    remaining: stored_size,
                    padding,
                };
            }
            return Ok(());
        }

        let overrides = std::mem::take(&mut self.local);
        let pax_sparse = overrides.sparse_real_size.is_some() && entry_type == EntryType::Regular;
        let kind = if pax_sparse {
            EntryKind::GnuSparse
        } else {
            entry_kind(entry_type)
        };
        let path = match (pax_sparse, overrides.sparse_name, overrides.path) {
            (true, Some(name), _) => name,
            (_, _, Some(path)) => path,
            _ => header.path_bytes().into_owned(),
        };
        let link_target = match kind {
            EntryKind::Symlink | EntryKind::HardLink => {
                Some(overrides.link_target.unwrap_or_else(|| {
                    header
                        .link_name_bytes()
                        .map(|c| c.into_owned())
                        .unwrap_or_default()
                }))
            }
            _ => None,
        };
        // The bytes that follow in the archive (a PAX `size` record states
        // them); header-only types have none whatever their size field says
        // (as GNU tar and Go's archive/tar read them).
        let archived = overrides.size.unwrap_or(stored_size);
        let content_len = if kind.has_content() { archived } else { 0 };
        // The file's own size: for sparse files the real size, not the
        // stored data's.
        let size = if pax_sparse {
            overrides.sparse_real_size.unwrap_or(archived)
        } else if entry_type == EntryType::GNUSparse {
            header.size().map_err(|e| field_error("size", e))?
        } else {
            archived
        };
        let entry = TarEntry {
            link_target,
            kind,
            mode: if blank(&header.as_old().mode) {
                0
            } else {
                header.mode().map_err(|e| field_error("mode", e))?
            },
            uid: match overrides.uid {
                Some(u) => u,
                None if blank(&header.as_old().uid) => 0,
                None => header.uid().map_err(|e| field_error("uid", e))?,
            },
            gid: match overrides.gid {
                Some(g) => g,
                None if blank(&header.as_old().gid) => 0,
                None => header.gid().map_err(|e| field_error("gid", e))?,
            },
            size,
            mtime: match overrides.mtime {
                Some(m) => m,
                None if blank(&header.as_old().mtime) => 0,
                None => header.mtime().map_err(|e| field_error("mtime", e))? as i64,
            },
            header_offset: start,
            path,
        };
        self.check_name_limits(&entry)?;
        self.entries += 1;
        self.current = Some(entry.path_lossy());
        let sparse_extended =
            kind == EntryKind::GnuSparse && header.as_gnu().is_some_and(|g| g.is_extended());
        on_event(TarEvent::Entry(entry));
        self.pending_content = content_len;
        if sparse_extended {
            self.state = State::SparseExtension;
        } else {
            self.begin_member_content(on_event);
        }
        Ok(())
    }

    /// Refuses a name or link target past the path bounds, naming the entry.
    fn check_name_limits(&self, entry: &TarEntry) -> Result<(), TarError> {
        let names = std::iter::once(&entry.path).chain(entry.link_target.as_ref());
        for name in names {
            let subject = || {
                let shown: String = String::from_utf8_lossy(&name[..name.len().min(60)]).into();
                format!(
                    "the name {shown:?}... of the entry at byte offset {}",
                    entry.header_offset
                )
            };
            let exceeded = |e: LimitExceeded| TarError {
                offset: entry.header_offset,
                kind: TarErrorKind::Limit(LimitExceeded {
                    subject: subject(),
                    ..e
                }),
            };
            self.limits
                .check(Limit::PathBytes, "", name.len() as u64)
                .map_err(exceeded)?;
            let depth = name
                .split(|&b| b == b'/')
                .filter(|part| !part.is_empty())
                .count();
            self.limits
                .check(Limit::PathDepth, "", depth as u64)
                .map_err(exceeded)?;
        }
        Ok(())
    }

    fn begin_member_content<F>(&mut self, on_event: &mut F)
    where
        F: FnMut(TarEvent<'_>),
    {
        let len = std::mem::take(&mut self.pending_content);
        self.set_content_state(len, pad(len), on_event);
    }

    fn apply_extension(&mut self, kind: Extension) -> Result<(), TarError> {
        let record = std::mem::take(&mut self.extension);
        match kind {
            Extension::LongName => self.local.path = Some(until_nul(&record).to_vec()),
            Extension::LongLink => self.local.link_target = Some(until_nul(&record).to_vec()),
            Extension::Pax => {
                let mut local = std::mem::take(&mut self.local);
                apply_pax(&record, &mut local, self.header_offset)?;
                self.local = local;
            }
            // Docker and Go's archive/tar apply no global record to the members.
            Extension::GlobalPax => {}
        }
        self.extension = record;
        self.extension.clear();
        // Keep the buffer's memory only while it is small.
        if self.extension.capacity() > 64 * 1024 {
            self.extension = Vec::new();
        }
        Ok(())
    }
}

/// Applies the PAX records this parser understands; others are ignored, as
/// POSIX allows.
fn apply_pax(record: &[u8], into: &mut Overrides, offset: u64) -> Result<(), TarError> {
    for pair in pax_records(record) {
        let (key, value) = pair.map_err(|detail| TarError {
            offset,
            kind: TarErrorKind::BadPax {
                key: "(record)".into(),
                detail,
            },
        })?;
        let Ok(key) = std::str::from_utf8(key) else {
            continue;
        };
        let bad = |detail: &str| TarError {
            offset,
            kind: TarErrorKind::BadPax {
                key: key.to_string(),
                detail: detail.to_string(),
            },
        };
        match key {
            "path" => into.path = Some(value.to_vec()),
            "linkpath" => into.link_target = Some(value.to_vec()),
            "size" => {
                into.size = Some(parse_decimal(value).ok_or_else(|| bad("not a decimal number"))?)
            }
            "uid" => {
                into.uid = Some(parse_decimal(value).ok_or_else(|| bad("not a decimal number"))?)
            }
            "gid" => {
                into.gid = Some(parse_decimal(value).ok_or_else(|| bad("not a decimal number"))?)
            }
            "mtime" => into.mtime = Some(parse_pax_time(value).ok_or_else(|| bad("not a time"))?),
            "GNU.sparse.name" => into.sparse_name = Some(value.to_vec()),
            "GNU.sparse.realsize" | "GNU.sparse.size" => {
                into.sparse_real_size =
                    Some(parse_decimal(value).ok_or_else(|| bad("not a decimal number"))?)
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `(key, value)` pairs of a PAX extended header: records `LEN KEY=VALUE\n`, each
/// `LEN` bytes long counting itself. The length decides where a record ends, so a value
/// may hold newlines (GNU tar and Go's archive/tar read them so); trailing NULs end it.
fn pax_records(data: &[u8]) -> PaxRecords<'_> {
    PaxRecords { rest: data }
}

/// See [`pax_records`].
struct PaxRecords<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for PaxRecords<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), String>;

    fn next(&mut self) -> Option<Self::Item> {
        // Some writers pad the header's data with NULs.
        if self.rest.iter().all(|&b| b == 0) {
            return None;
        }
        match split_pax_record(self.rest) {
            Ok((key, value, rest)) => {
                self.rest = rest;
                Some(Ok((key, value)))
            }
            Err(detail) => {
                self.rest = &[];
                Some(Err(detail))
            }
        }
    }
}

/// The first record's key and value, and the bytes after it.
fn split_pax_record(data: &[u8]) -> Result<(&[u8], &[u8], &[u8]), String> {
    let space = data
        .iter()
        .position(|&b| b == b' ')
        .ok_or("a record without a length")?;
    let len: usize = std::str::from_utf8(&data[..space])
        .ok()
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .ok_or("a record length that is not a decimal number")?;
    if len <= space + 1 || len > data.len() {
        return Err(format!(
            "a record of {len} bytes where {} are left",
            data.len()
        ));
    }
    let (record, rest) = data.split_at(len);
    let body = record[space + 1..]
        .strip_suffix(b"\n")
        .ok_or("a record that does not end in a newline")?;
    let equals = body
        .iter()
        .position(|&b| b == b'=')
        .ok_or("a record without '='")?;
    Ok((&body[..equals], &body[equals + 1..], rest))
}

/// A tar name cleaned as Go's `path.Clean` cleans it, without the leading `/`: no `.` or
/// empty parts, `..` applied, no trailing `/`. Archive documents name members this way, and
/// dive writes file paths this way.
pub fn normalize_path(name: &str) -> String {
    let mut clean = Vec::with_capacity(name.len());
    normalize_path_into(name.as_bytes(), &mut clean);
    // Only whole `/`-separated parts of valid UTF-8 were kept, so the result is valid too.
    String::from_utf8(clean).expect("parts of a str split at '/' are UTF-8")
}

/// [`normalize_path`] for names that may not be UTF-8 (tar names are bytes), written into
/// `out` (cleared first) so a caller comparing many names reuses one buffer.
pub fn normalize_path_into(name: &[u8], out: &mut Vec<u8>) {
    out.clear();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                let parent = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(parent);
            }
            other => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(other);
            }
        }
    }
}

fn parse_decimal(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// PAX times are decimal seconds with an optional fraction (`1700000000.25`).
fn parse_pax_time(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let whole = text.split('.').next()?;
    if whole.is_empty() || whole == "-" {
        return Some(0);
    }
    whole.parse().ok()
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

fn entry_kind(entry_type: EntryType) -> EntryKind {
    match entry_type {
        EntryType::Regular | EntryType::Continuous => EntryKind::File,
        EntryType::Directory => EntryKind::Directory,
        EntryType::Symlink => EntryKind::Symlink,
        EntryType::Link => EntryKind::HardLink,
        EntryType::Char => EntryKind::CharDevice,
        EntryType::Block => EntryKind::BlockDevice,
        EntryType::Fifo => EntryKind::Fifo,
        EntryType::GNUSparse => EntryKind::GnuSparse,
        other => EntryKind::Other(other.as_byte()),
    }
}

/// Zero bytes that pad `len` content bytes to a whole block.
fn pad(len: u64) -> u64 {
    (BLOCK as u64 - len % BLOCK as u64) % BLOCK as u64
}

/// An all-NUL or all-space numeric field, which some writers leave for
/// zero; read as 0, as Go's archive/tar does.
fn blank(field: &[u8]) -> bool {
    field.iter().all(|&b| b == 0 || b == b' ')
}

fn is_zero(block: &[u8; BLOCK]) -> bool {
    block.iter().all(|&b| b == 0)
}

/// Checks the header checksum: the sum of the header's bytes with the
/// checksum field counted as spaces. Some old writers summed signed bytes, so
/// that sum is accepted too.
fn verify_checksum(block: &[u8; BLOCK], offset: u64) -> Result<(), TarError> {
    let mut unsigned: u32 = 0;
    let mut signed: i32 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u32::from(b);
        signed += i32::from(b as i8);
    }
    let stored = Header::from_byte_slice(block).cksum().ok();
    match stored {
        Some(s) if s == unsigned || s as i64 == i64::from(signed) => Ok(()),
        _ => Err(TarError {
            offset,
            kind: TarErrorKind::BadChecksum {
                stored,
                computed: unsigned,
            },
        }),
    }
}
