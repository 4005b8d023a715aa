//! The outer tar walked by its headers: read a header, skip the member's content, read the
//! next header. This is how a dropped archive of gigabytes is listed from a few kilobytes.
//!
//! The headers are decoded by the engine's one tar decoder ([`TarParser`]), fed only the
//! header blocks and extension records; contents are jumped over with
//! [`TarParser::skip_content`], so the caller never reads them.

use super::members::{Member, Members};
use super::ArchiveError;
use crate::engine::tar::{NextRead, TarErrorKind, TarEvent, TarParser, BLOCK};
use crate::limits::Limits;

/// Where the header walk is; see the module documentation.
pub(super) struct HeaderWalk {
    parser: TarParser,
}

/// The read the walk needs next.
pub(super) enum WalkRead {
    /// Read `len` bytes at `offset` and hand them to [`HeaderWalk::supply`].
    Bytes { offset: u64, len: u64 },
    /// Every header has been read.
    End,
}

impl HeaderWalk {
    pub(super) fn new(limits: &Limits) -> HeaderWalk {
        HeaderWalk {
            parser: TarParser::new().with_limits(limits),
        }
    }

    /// The next range to read in an archive of `total_len` bytes, member contents skipped;
    /// `members` (those found so far) name the member an archive cut short ends inside.
    pub(super) fn next_read(
        &mut self,
        total_len: u64,
        members: &Members,
    ) -> Result<WalkRead, ArchiveError> {
        loop {
            match self.parser.next_read() {
                NextRead::Content(_) => {
                    let start = self.parser.offset();
                    let len = self.parser.content_remaining().unwrap_or(0);
                    self.parser.skip_content();
                    // The padding after the content may be left out; the content may not.
                    if start.saturating_add(len) > total_len {
                        let inside = members
                            .last()
                            .map_or_else(|| "a member".to_string(), |m| format!("{:?}", m.name));
                        return Err(ArchiveError::Truncated {
                            offset: total_len,
                            detail: format!(
                                "the content of {inside} needs {len} bytes from byte {start}, but the archive has only {total_len}"
                            ),
                        });
                    }
                }
                // Some writers leave out the end-of-archive blocks.
                NextRead::Bytes(_) if self.parser.offset() >= total_len => {
                    return Ok(WalkRead::End)
                }
                NextRead::Bytes(len) => {
                    return Ok(WalkRead::Bytes {
                        offset: self.parser.offset(),
                        len,
                    })
                }
                NextRead::End => return Ok(WalkRead::End),
                NextRead::Failed => {
                    return Err(ArchiveError::protocol(
                        "the header walk continued after an error",
                    ))
                }
            }
        }
    }

    /// Takes exactly the bytes of the last [`WalkRead::Bytes`]; the members whose headers
    /// they complete go into `members`.
    pub(super) fn supply(
        &mut self,
        bytes: &[u8],
        members: &mut Members,
    ) -> Result<(), ArchiveError> {
        let mut found = Vec::new();
        let pushed = self.parser.push(bytes, |event| {
            if let TarEvent::Entry(entry) = event {
                found.push(Member::from_tar(&entry, entry.header_offset + BLOCK as u64));
            }
        });
        pushed.map_err(|source| match source.kind {
            TarErrorKind::BadChecksum { .. } if source.offset == 0 => not_a_tar(),
            _ => ArchiveError::BadTar { source },
        })?;
        for member in found {
            members.add(member)?;
        }
        Ok(())
    }
}

/// The refusal for a file whose first block is no tar header.
fn not_a_tar() -> ArchiveError {
    ArchiveError::NotAnImage {
        detail: "The file is not a tar archive (no valid tar header at byte 0), so it is not a docker save or OCI layout archive.".into(),
    }
}
