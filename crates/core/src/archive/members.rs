//! The archive's member index: names to offsets, links followed, small documents kept.
//!
//! Both ways of reading an archive fill it: the header walk adds members as it passes their
//! headers, the stream adds them (and the documents' contents) as they stream by. The
//! planners then ask it for documents and blobs by the names the documents use.

use std::collections::HashMap;

use super::{ArchiveError, MAX_DOCUMENT_CACHE_BYTES, MAX_LINK_HOPS};
use crate::engine::tar::{normalize_path, EntryKind, TarEntry};
use crate::limits::{Limit, Limits};

/// One member of the outer archive, as its header describes it.
#[derive(Debug, Clone)]
pub(super) struct Member {
    /// Normalized name: no leading `./` or `/`, no trailing `/`.
    pub(super) name: String,
    pub(super) kind: EntryKind,
    /// Offset of the content: in the archive, or, for a compressed archive read as a
    /// stream, in its decompressed bytes.
    pub(super) data_offset: u64,
    pub(super) size: u64,
    /// Symlink target, or hard-link source (already normalized for hard links).
    pub(super) link: Option<String>,
}

impl Member {
    /// The member a tar header describes, its content at `data_offset`.
    pub(super) fn from_tar(entry: &TarEntry, data_offset: u64) -> Member {
        let link = entry
            .link_target
            .as_ref()
            .map(|l| String::from_utf8_lossy(l).into_owned());
        let link = match (entry.kind, link) {
            (EntryKind::HardLink, Some(l)) => Some(normalize_path(&l)),
            (_, l) => l,
        };
        let kind = match entry.kind {
            // POSIX reads sparse and unknown types' content as a regular file's.
            EntryKind::GnuSparse | EntryKind::Other(_) => EntryKind::File,
            kind => kind,
        };
        Member {
            name: normalize_path(&entry.path_lossy()),
            kind,
            data_offset,
            size: entry.size,
            link,
        }
    }
}

/// Why a document could not be handed out yet: it still has to be read, or a refusal.
#[derive(Debug)]
pub(super) enum Need {
    /// Read this member whole, then ask again.
    Document(String),
    /// The archive cannot be used.
    Fail(ArchiveError),
}

impl From<ArchiveError> for Need {
    fn from(error: ArchiveError) -> Need {
        Need::Fail(error)
    }
}

/// Every member seen so far, and the contents of the documents read.
#[derive(Default)]
pub(super) struct Members {
    entries: Vec<Member>,
    by_name: HashMap<String, usize>,
    documents: HashMap<String, Vec<u8>>,
    document_bytes: u64,
    /// Bounds on the member count and the documents' sizes.
    pub(super) limits: Limits,
}

impl Members {
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The member added last.
    pub(super) fn last(&self) -> Option<&Member> {
        self.entries.last()
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    pub(super) fn get(&self, name: &str) -> Option<&Member> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    pub(super) fn add(&mut self, member: Member) -> Result<(), ArchiveError> {
        self.limits.check(
            Limit::ArchiveEntries,
            "the archive",
            self.entries.len() as u64 + 1,
        )?;
        if member.name.is_empty() {
            return Ok(());
        }
        // A later member of the same name replaces an earlier one, as tar extraction would.
        self.by_name.insert(member.name.clone(), self.entries.len());
        self.entries.push(member);
        Ok(())
    }

    pub(super) fn store_document(
        &mut self,
        name: String,
        data: Vec<u8>,
    ) -> Result<(), ArchiveError> {
        self.document_bytes += data.len() as u64;
        if self.document_bytes > MAX_DOCUMENT_CACHE_BYTES {
            return Err(ArchiveError::too_large(
                "total size of the archive's JSON documents",
                MAX_DOCUMENT_CACHE_BYTES,
            ));
        }
        self.documents.insert(name, data);
        Ok(())
    }

    /// For a layout directory: the member a virtual offset falls in (members laid end to end).
    pub(super) fn at_offset(&self, offset: u64) -> Option<&Member> {
        let index = self
            .entries
            .partition_point(|e| e.data_offset + e.size <= offset);
        let entry = self.entries.get(index)?;
        (offset >= entry.data_offset).then_some(entry)
    }

    /// Follows symlinks and hard links inside the archive to the member holding the content.
    pub(super) fn resolve(&self, name: &str) -> Option<&Member> {
        let mut name = normalize_path(name);
        for _ in 0..MAX_LINK_HOPS {
            let entry = self.get(&name)?;
            name = match (&entry.kind, &entry.link) {
                (EntryKind::Symlink, Some(target)) => join_link(&entry.name, target),
                (EntryKind::HardLink, Some(target)) => normalize_path(target),
                _ => return Some(entry),
            };
        }
        None
    }

    /// The content of a small JSON document, or the read that fetches it.
    pub(super) fn document(&self, name: &str, referenced_by: &str) -> Result<&[u8], Need> {
        let entry = self
            .resolve(name)
            .ok_or_else(|| ArchiveError::MissingFile {
                file: name.to_string(),
                referenced_by: referenced_by.to_string(),
            })?;
        if entry.kind != EntryKind::File {
            return Err(ArchiveError::bad_document(name, "it is not a regular file").into());
        }
        self.limits
            .check(Limit::DocumentBytes, name, entry.size)
            .map_err(ArchiveError::from)?;
        if entry.size == 0 {
            return Err(ArchiveError::bad_document(
                name,
                "it is empty (0 bytes), where a JSON document was expected",
            )
            .into());
        }
        match self.documents.get(&entry.name) {
            Some(bytes) => Ok(bytes),
            None => Err(Need::Document(entry.name.clone())),
        }
    }

    /// The member that holds a blob's content, or a refusal naming who referred to it.
    pub(super) fn blob(&self, path: &str, referenced_by: &str) -> Result<&Member, ArchiveError> {
        match self.resolve(path) {
            Some(entry) if entry.kind == EntryKind::File => Ok(entry),
            Some(_) => Err(ArchiveError::bad_document(
                referenced_by,
                format!("{path} is not a regular file"),
            )),
            None => Err(ArchiveError::MissingFile {
                file: path.into(),
                referenced_by: referenced_by.into(),
            }),
        }
    }
}

/// A symlink's target, relative to the directory holding the link.
fn join_link(link_name: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalize_path(target);
    }
    match link_name.rsplit_once('/') {
        Some((dir, _)) => normalize_path(&format!("{dir}/{target}")),
        None => normalize_path(target),
    }
}
