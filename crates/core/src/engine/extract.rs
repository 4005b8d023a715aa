//! One file's bytes out of a layer blob, pushed chunk by chunk.
//!
//! A [`FileExtractor`] is told a path and then takes the layer's blob as it arrives
//! ([`FileExtractor::push`]), the way [`crate::engine::scan::Scanner`] does: gzip, zstd or a
//! plain tar are told apart by their magic bytes and undone by [`crate::engine::codec`], and
//! the tar stream goes through the one [`TarParser`]. The content of every other member
//! streams past unread; the wanted file's content is handed to the caller's callback as it
//! is decompressed, up to the caller's limit (a preview takes the first MiB, a download
//! everything). As soon as the file is complete (or the limit reached) `push` says so and the
//! caller stops reading: the rest of the layer is never needed.
//!
//! Paths are compared the way the layer's tree cleans them
//! ([`normalize_path_into`]: `./usr/bin/env`, `/usr/bin/env` and `usr//bin/env` are one
//! path), on the exact bytes, so names that are not UTF-8 are found too. A whiteout
//! (`.wh.NAME`) is a deletion marker, never a file, and is never matched. When the tar
//! holds the path twice, the first member is taken (container tools never write a layer
//! like that; finding the last would mean reading the whole layer every time).
//!
//! Memory: the decoder's fixed window, one tar header block and the tar extension records,
//! whatever the layer's or the file's size. Nothing is buffered for the caller.

use crate::engine::codec::{self, CodecError, Decoder, MAGIC_LEN};
use crate::engine::tar::{normalize_path_into, EntryKind, TarEntry, TarError, TarEvent, TarParser};

/// The prefix that turns a name into a whiteout (OCI image spec, layer changesets).
const WHITEOUT_PREFIX: &[u8] = b".wh.";

/// What the layer holds at the wanted path, once known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extraction {
    /// A regular file (or a member of an unknown type, which POSIX reads as one): its first
    /// `delivered` bytes were handed out, all of them unless the limit was smaller than
    /// `entry.size`.
    File {
        /// The member's header, PAX and GNU extensions applied.
        entry: TarEntry,
        /// Content bytes handed to the callback.
        delivered: u64,
    },
    /// A symbolic link; its content is whatever `target` names
    /// ([`symlink_destination`] resolves it to a path in the image).
    Symlink {
        /// The member's header.
        entry: TarEntry,
        /// The link's target, exact bytes as stored.
        target: Vec<u8>,
    },
    /// A hard link: the content is the member named `source`, extracted by asking for
    /// that path (in this layer, or a lower one if this layer does not hold it).
    HardLink {
        /// The member's header.
        entry: TarEntry,
        /// The linked member's path, cleaned as paths are compared.
        source: Vec<u8>,
    },
    /// A directory, a device, a named pipe, or a GNU sparse file (whose stored bytes are
    /// only its non-hole parts, so they are not handed out as its content).
    NotRegular {
        /// The member's header; `entry.kind` says what it is.
        entry: TarEntry,
    },
    /// The layer has no member at that path (a whiteout of it does not count).
    NotFound,
}

impl Extraction {
    /// True for a regular file whose content was cut at the limit.
    pub fn is_truncated(&self) -> bool {
        matches!(self, Extraction::File { entry, delivered } if *delivered < entry.size)
    }
}

/// What [`FileExtractor::push`] learned from a chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The path has not been settled yet: push the next chunk (or `finish` at the end).
    NeedMore,
    /// The outcome is final; the rest of the layer is not needed.
    Finished(Extraction),
}

/// Why a layer could not be searched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The compressed stream is malformed.
    #[error("layer {0}")]
    Decompression(#[source] CodecError),
    /// The tar stream inside is malformed (the offset is in the uncompressed stream).
    #[error("layer tar: {0}")]
    Tar(#[source] TarError),
    /// The blob is compressed in a way the codec does not read.
    #[error("the layer is {0}-compressed; only gzip, zstd and plain tar layers are read")]
    UnsupportedCompression(&'static str),
    /// `push` or `finish` called after an error.
    #[error("file extractor used after it failed")]
    Failed,
}

impl From<CodecError> for ExtractError {
    fn from(e: CodecError) -> Self {
        ExtractError::Decompression(e)
    }
}

/// Why decompression stops before a chunk is used up.
enum Halt {
    /// The outcome is settled; nothing more is decoded.
    Settled,
    Failed(ExtractError),
}

impl From<CodecError> for Halt {
    fn from(e: CodecError) -> Self {
        Halt::Failed(ExtractError::Decompression(e))
    }
}

/// The push-based extractor. See the module documentation.
pub struct FileExtractor {
    bytes_in: u64,
    /// First bytes kept until the format is known.
    magic: [u8; MAGIC_LEN],
    magic_len: usize,
    decoder: Option<Decoder>,
    search: Search,
    /// The decoder's notes (zero padding); nobody reads them here but the codec wants a place.
    warnings: Vec<String>,
    failed: bool,
}

impl FileExtractor {
    /// An extractor for the member at `path` (any spelling: it is cleaned), handing out at
    /// most `max_bytes` of its content (`u64::MAX` for all of it).
    pub fn new(path: &[u8], max_bytes: u64) -> FileExtractor {
        let mut wanted = Vec::with_capacity(path.len());
        normalize_path_into(path, &mut wanted);
        let name = wanted.rsplit(|&b| b == b'/').next().unwrap_or_default();
        let matchable = !name.is_empty() && !name.starts_with(WHITEOUT_PREFIX);
        let state = if matchable {
            State::Looking
        } else {
            // The root and whiteout names are never members one can open.
            State::Settled(Extraction::NotFound)
        };
        FileExtractor {
            bytes_in: 0,
            magic: [0; MAGIC_LEN],
            magic_len: 0,
            decoder: None,
            search: Search {
                // Layers may carry data after the tar (eStargz), as the scanner allows.
                tar: TarParser::allowing_trailing_data(),
                wanted,
                max_bytes,
                scratch: Vec::new(),
                state,
                uncompressed: 0,
            },
            warnings: Vec::new(),
            failed: false,
        }
    }

    /// Blob bytes pushed so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Uncompressed tar bytes looked at so far.
    pub fn bytes_out(&self) -> u64 {
        self.search.uncompressed
    }

    /// Feeds the next chunk of the blob (any size); the wanted file's content goes to
    /// `on_content` as it is found, in pieces of at most 64 KiB.
    pub fn push<F>(&mut self, bytes: &[u8], on_content: &mut F) -> Result<Pushed, ExtractError>
    where
        F: FnMut(&[u8]),
    {
        if self.failed {
            return Err(ExtractError::Failed);
        }
        if let State::Settled(outcome) = &self.search.state {
            return Ok(Pushed::Finished(outcome.clone()));
        }
        self.bytes_in += bytes.len() as u64;
        let result = self.push_inner(bytes, on_content);
        self.conclude(result)
    }

    /// Ends the blob: decodes what is pending, and says the path is not in the layer if it
    /// was not found (or what was wrong with the layer).
    pub fn finish<F>(mut self, on_content: &mut F) -> Result<Extraction, ExtractError>
    where
        F: FnMut(&[u8]),
    {
        if self.failed {
            return Err(ExtractError::Failed);
        }
        if let State::Settled(outcome) = self.search.state {
            return Ok(outcome);
        }
        let flushed = self.flush(on_content);
        if let Pushed::Finished(outcome) = self.conclude(flushed)? {
            return Ok(outcome);
        }
        self.search.tar.finish().map_err(ExtractError::Tar)?;
        Ok(Extraction::NotFound)
    }

    fn conclude(&mut self, result: Result<(), Halt>) -> Result<Pushed, ExtractError> {
        match result {
            Ok(()) | Err(Halt::Settled) => match &self.search.state {
                State::Settled(outcome) => Ok(Pushed::Finished(outcome.clone())),
                _ => Ok(Pushed::NeedMore),
            },
            Err(Halt::Failed(error)) => {
                self.failed = true;
                Err(error)
            }
        }
    }

    fn push_inner<F>(&mut self, mut bytes: &[u8], on_content: &mut F) -> Result<(), Halt>
    where
        F: FnMut(&[u8]),
    {
        if self.decoder.is_none() {
            let take = (MAGIC_LEN - self.magic_len).min(bytes.len());
            self.magic[self.magic_len..self.magic_len + take].copy_from_slice(&bytes[..take]);
            self.magic_len += take;
            bytes = &bytes[take..];
            if self.magic_len < MAGIC_LEN {
                return Ok(());
            }
            self.start_decoder(on_content)?;
        }
        let (Some(decoder), search) = (self.decoder.as_mut(), &mut self.search) else {
            return Ok(());
        };
        decoder.push(bytes, &mut self.warnings, &mut |plain| {
            search.feed(plain, on_content)
        })
    }

    fn flush<F>(&mut self, on_content: &mut F) -> Result<(), Halt>
    where
        F: FnMut(&[u8]),
    {
        if self.decoder.is_none() {
            self.start_decoder(on_content)?;
        }
        let (Some(decoder), search) = (self.decoder.as_mut(), &mut self.search) else {
            return Ok(());
        };
        decoder.finish(&mut self.warnings, &mut |plain| {
            search.feed(plain, on_content)
        })
    }

    /// Chooses the decoder from the magic bytes and feeds them to it.
    fn start_decoder<F>(&mut self, on_content: &mut F) -> Result<(), Halt>
    where
        F: FnMut(&[u8]),
    {
        let magic = self.magic;
        let magic = &magic[..self.magic_len];
        if let Some(name) = codec::unsupported(magic) {
            return Err(Halt::Failed(ExtractError::UnsupportedCompression(name)));
        }
        let decoder = self.decoder.insert(Decoder::new(codec::sniff(magic)));
        let search = &mut self.search;
        decoder.push(magic, &mut self.warnings, &mut |plain| {
            search.feed(plain, on_content)
        })
    }
}

/// Where the search is.
enum State {
    /// Reading headers, looking for the path.
    Looking,
    /// The wanted file's content is streaming; `delivered` bytes handed out so far.
    Streaming { entry: TarEntry, delivered: u64 },
    /// The outcome; every later push repeats it.
    Settled(Extraction),
}

/// Receives the uncompressed tar stream and looks for the path.
struct Search {
    tar: TarParser,
    /// The wanted path, cleaned.
    wanted: Vec<u8>,
    max_bytes: u64,
    /// Each member's cleaned path, one buffer for all of them.
    scratch: Vec<u8>,
    state: State,
    uncompressed: u64,
}

impl Search {
    fn feed<F>(&mut self, plain: &[u8], on_content: &mut F) -> Result<(), Halt>
    where
        F: FnMut(&[u8]),
    {
        if matches!(self.state, State::Settled(_)) {
            return Err(Halt::Settled);
        }
        self.uncompressed += plain.len() as u64;
        let Search {
            tar,
            wanted,
            max_bytes,
            scratch,
            state,
            ..
        } = self;
        let max_bytes = *max_bytes;
        tar.push(plain, |event| {
            let current = std::mem::replace(state, State::Looking);
            *state = match (current, event) {
                (State::Looking, TarEvent::Entry(entry)) => {
                    normalize_path_into(&entry.path, scratch);
                    if scratch == wanted {
                        found(entry)
                    } else {
                        State::Looking
                    }
                }
                (State::Streaming { entry, delivered }, TarEvent::Data(bytes)) => {
                    let room = max_bytes - delivered;
                    let take = (bytes.len() as u64).min(room) as usize;
                    if take > 0 {
                        on_content(&bytes[..take]);
                    }
                    let delivered = delivered + take as u64;
                    if delivered == max_bytes && delivered < entry.size {
                        State::Settled(Extraction::File { entry, delivered })
                    } else {
                        State::Streaming { entry, delivered }
                    }
                }
                (State::Streaming { entry, delivered }, TarEvent::EntryEnd) => {
                    State::Settled(Extraction::File { entry, delivered })
                }
                (other, _) => other,
            };
        })
        .map_err(|e| Halt::Failed(ExtractError::Tar(e)))?;
        match self.state {
            State::Settled(_) => Err(Halt::Settled),
            _ => Ok(()),
        }
    }
}

/// What a member at the wanted path means: content to stream, or a settled outcome.
fn found(entry: TarEntry) -> State {
    match entry.kind {
        EntryKind::File | EntryKind::Other(_) => State::Streaming {
            entry,
            delivered: 0,
        },
        EntryKind::Symlink => State::Settled(Extraction::Symlink {
            target: entry.link_target.clone().unwrap_or_default(),
            entry,
        }),
        EntryKind::HardLink => {
            let mut source = Vec::new();
            normalize_path_into(
                entry.link_target.as_deref().unwrap_or_default(),
                &mut source,
            );
            State::Settled(Extraction::HardLink { entry, source })
        }
        EntryKind::Directory
        | EntryKind::CharDevice
        | EntryKind::BlockDevice
        | EntryKind::Fifo
        | EntryKind::GnuSparse => State::Settled(Extraction::NotRegular { entry }),
    }
}

/// The path a symlink at `link_path` points to, cleaned as paths are compared: an absolute
/// target from the image's root, a relative one from the link's directory. Links are not
/// followed further (the target may itself be a link, in this layer or another).
pub fn symlink_destination(link_path: &[u8], target: &[u8]) -> Vec<u8> {
    let mut joined = Vec::with_capacity(link_path.len() + target.len() + 1);
    if !target.starts_with(b"/") {
        let mut link = Vec::new();
        normalize_path_into(link_path, &mut link);
        if let Some(dir) = link.rsplitn(2, |&b| b == b'/').nth(1) {
            joined.extend_from_slice(dir);
            joined.push(b'/');
        }
    }
    joined.extend_from_slice(target);
    let mut clean = Vec::with_capacity(joined.len());
    normalize_path_into(&joined, &mut clean);
    clean
}

/// Extracts from a whole blob given as chunks, collecting the content: for tests and tools
/// that hold a layer in memory anyway. Stops reading chunks once the outcome is settled.
pub fn extract_from_chunks<I, B>(
    chunks: I,
    path: &[u8],
    max_bytes: u64,
) -> Result<(Extraction, Vec<u8>), ExtractError>
where
    I: IntoIterator<Item = B>,
    B: AsRef<[u8]>,
{
    let mut content = Vec::new();
    let mut collect = |bytes: &[u8]| content.extend_from_slice(bytes);
    let mut extractor = FileExtractor::new(path, max_bytes);
    for chunk in chunks {
        if let Pushed::Finished(outcome) = extractor.push(chunk.as_ref(), &mut collect)? {
            return Ok((outcome, content));
        }
    }
    let outcome = extractor.finish(&mut collect)?;
    Ok((outcome, content))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn finds_a_file_under_any_spelling_and_stops_early() {
        let big = vec![7u8; 100_000];
        let layer = tar_of(&[("./a/one", b"first"), ("a/two", b"second"), ("a/big", &big)]);
        for spelling in ["a/two", "/a/two", "./a//two", "a/x/../two"] {
            let (outcome, content) =
                extract_from_chunks([&layer], spelling.as_bytes(), u64::MAX).unwrap();
            assert_eq!(content, b"second", "{spelling}");
            assert!(
                matches!(outcome, Extraction::File { delivered: 6, .. }),
                "{outcome:?}"
            );
        }
        // Found before the big member: the extractor settles within the first 4 KiB.
        let mut extractor = FileExtractor::new(b"a/one", u64::MAX);
        let mut got = Vec::new();
        let mut pushed = Pushed::NeedMore;
        let mut used = 0;
        for chunk in layer.chunks(512) {
            used += chunk.len();
            pushed = extractor
                .push(chunk, &mut |b: &[u8]| got.extend_from_slice(b))
                .unwrap();
            if matches!(pushed, Pushed::Finished(_)) {
                break;
            }
        }
        assert!(matches!(pushed, Pushed::Finished(Extraction::File { .. })));
        assert_eq!(got, b"first");
        assert!(used <= 1024, "read {used} bytes");
    }

    #[test]
    fn the_limit_cuts_the_content_and_says_so() {
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let layer = tar_of(&[("f", &data)]);
        let (outcome, content) = extract_from_chunks(layer.chunks(100), b"f", 1234).unwrap();
        assert_eq!(content, &data[..1234]);
        assert!(outcome.is_truncated());
        let (outcome, content) = extract_from_chunks(layer.chunks(100), b"f", 5000).unwrap();
        assert_eq!(content, data);
        assert!(!outcome.is_truncated());
    }

    #[test]
    fn missing_paths_whiteouts_and_the_root_are_not_found() {
        let layer = tar_of(&[("etc/.wh.passwd", b""), ("etc/hosts", b"h")]);
        for path in ["etc/passwd", "etc/.wh.passwd", "", "/", "etc/host"] {
            let (outcome, content) =
                extract_from_chunks([&layer], path.as_bytes(), u64::MAX).unwrap();
            assert_eq!(outcome, Extraction::NotFound, "{path}");
            assert!(content.is_empty());
        }
    }

    #[test]
    fn symlink_destinations_resolve_from_the_links_directory() {
        assert_eq!(
            symlink_destination(b"usr/bin/sh", b"busybox"),
            b"usr/bin/busybox"
        );
        assert_eq!(
            symlink_destination(b"./lib/x", b"../usr/lib/x"),
            b"usr/lib/x"
        );
        assert_eq!(
            symlink_destination(b"bin/sh", b"/bin/busybox"),
            b"bin/busybox"
        );
        assert_eq!(symlink_destination(b"top", b"./other"), b"other");
    }

    #[test]
    fn a_layer_cut_short_is_an_error_not_a_miss() {
        let layer = tar_of(&[("a", &[1u8; 3000]), ("b", b"x")]);
        let err = extract_from_chunks([&layer[..2000]], b"b", u64::MAX).unwrap_err();
        assert!(matches!(err, ExtractError::Tar(_)), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn bzip2_layers_are_refused_by_name() {
        let err = extract_from_chunks([b"BZh91AY&SY".as_slice()], b"a", 10).unwrap_err();
        assert_eq!(err, ExtractError::UnsupportedCompression("bzip2"));
    }
}
