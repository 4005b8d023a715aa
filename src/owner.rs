//! The worker's side of the Files tab: it owns the analysed image's stacked trees and
//! answers the page's questions about them, a window of rows at a time.
//!
//! The page never holds a tree: for a layer of a million entries it asks for the hundred rows
//! on screen ([`TreeRequest`]) and draws what comes back ([`TreeAnswer`]). The worker keeps
//! one built view (the last one asked for, with its open and closed directories) and builds
//! another only when the layer, view kind, filter or sort changes. Everything a view is
//! (stacking, whiteouts, filters, sizes, search) is the core's `present::tree_view` and
//! `present::search`; this module only keeps them between messages.

use std::cell::RefCell;

use layerscope_core::engine::tree::FileTrees;
use layerscope_core::present::search::{search, PathPattern};
use layerscope_core::present::tree_view::{Expansion, TreeQuery, TreeView, MAX_WINDOW_ROWS};

use layerscope_core::archive::{FetchStep, FileFetch, LayerLocation};
use layerscope_core::engine::extract::{symlink_destination, Extraction};
use layerscope_core::present::file_view::{classify, hex_dump, BinaryReason, Preview};

use crate::protocol::{FileContent, FileWant, TreeAction, TreeAnswer, TreeRequest, ViewKey};

/// Most search hits one answer carries; the answer says when there were more.
pub const MAX_SEARCH_HITS: usize = 200;

/// The analysed image's trees, with the view last asked for.
struct Owned {
    trees: FileTrees,
    view: Option<TreeView>,
}

thread_local! {
    /// A worker analyses one image, and a worker is a thread of its own: one slot is enough.
    static OWNED: RefCell<Option<Owned>> = const { RefCell::new(None) };
}

/// Keeps the trees of the image the worker just finished, for the questions that follow.
pub fn keep(trees: FileTrees) {
    OWNED.with(|slot| *slot.borrow_mut() = Some(Owned { trees, view: None }));
}

/// Answers one request from the page.
pub fn answer(request: TreeRequest) -> TreeAnswer {
    OWNED.with(|slot| match slot.borrow_mut().as_mut() {
        Some(owned) => owned.answer(request),
        None => TreeAnswer::Failed {
            id: request.id(),
            message: "the file tree is not ready: it is built once every layer is read".into(),
        },
    })
}

impl Owned {
    fn answer(&mut self, request: TreeRequest) -> TreeAnswer {
        match request {
            TreeRequest::Window {
                id,
                view,
                start,
                count,
                action,
            } => match self.window(&view, start, count, action) {
                Ok(answer) => answer.with_id(id),
                Err(message) => TreeAnswer::Failed { id, message },
            },
            TreeRequest::ReadFile { id, .. } => TreeAnswer::Failed {
                id,
                message: "this worker cannot read files again".into(),
            },
            TreeRequest::Search { id, pattern } => match PathPattern::parse(&pattern) {
                Ok(parsed) => TreeAnswer::Hits {
                    id,
                    pattern,
                    results: search(&self.trees, &parsed, MAX_SEARCH_HITS),
                },
                Err(error) => TreeAnswer::Failed {
                    id,
                    message: error.to_string(),
                },
            },
        }
    }

    /// The view `key` names (the one held when it is the same), changed by `action`, and
    /// rows `start..start + count` of it.
    fn window(
        &mut self,
        key: &ViewKey,
        start: usize,
        count: usize,
        action: Option<TreeAction>,
    ) -> Result<TreeAnswer, String> {
        if key.layer >= self.trees.layer_count() {
            return Err(format!(
                "the image has {} layers; layer {} is not one of them",
                self.trees.layer_count(),
                key.layer
            ));
        }
        let reusable = self
            .view
            .as_ref()
            .is_some_and(|view| key.names(view.query()));
        if !reusable {
            let query = TreeQuery {
                layer: key.layer,
                kind: key.kind,
                filter: key.filter,
                sort: key.sort,
                expansion: Expansion::all_expanded(),
            };
            self.view = Some(TreeView::build(&self.trees, &query).map_err(|e| e.to_string())?);
        }
        let trees = &self.trees;
        let view = self.view.as_mut().expect("a view was just built or kept");
        let mut focus = None;
        let mut missing = None;
        match action {
            None => {}
            Some(TreeAction::Reveal { path }) => {
                focus = view
                    .reveal(trees, path.as_bytes())
                    .map_err(|e| e.to_string())?;
                if focus.is_none() {
                    missing = Some(path);
                }
            }
            Some(TreeAction::Toggle { path }) => {
                focus = view
                    .toggle(trees, path.as_bytes())
                    .map_err(|e| e.to_string())?
                    .row;
            }
            Some(TreeAction::SetOpen { path, open }) => {
                focus = view
                    .set_open(trees, path.as_bytes(), open)
                    .map_err(|e| e.to_string())?
                    .row;
            }
            Some(TreeAction::CollapseAll) => view.collapse_all(trees),
            Some(TreeAction::ExpandAll) => view.expand_all(trees),
        }
        // A reveal far down the tree moves the window to it, so the page need not ask twice.
        let start = match focus {
            Some(row) if row < start || row >= start + count => row.saturating_sub(count / 3),
            _ => start,
        };
        let total = view.len();
        let start = start.min(total.saturating_sub(1));
        let rows = view
            .rows(trees, start, count.min(MAX_WINDOW_ROWS))
            .into_iter()
            .map(|row| row.into_owned())
            .collect();
        Ok(TreeAnswer::Rows {
            id: 0,
            view: key.clone(),
            total,
            start,
            rows,
            focus,
            missing,
            entries: view.entry_count(),
        })
    }
}

/// Most bytes of a file the worker hands to the page to save (it holds them once, in memory).
pub const MAX_DOWNLOAD_BYTES: u64 = 512 * 1024 * 1024;

/// Most hard links followed to reach a file's content (a link to a link is not valid tar,
/// but a hostile archive may hold one).
pub const MAX_LINK_HOPS: usize = 4;

/// Byte ranges of an archive, read synchronously (the worker's `Blob` reader).
pub trait ArchiveBytes {
    /// Up to `len` bytes at `offset`; empty at the end.
    fn read_at(&mut self, offset: u64, len: u64) -> Result<&[u8], String>;
}

/// What a file read found, with the bytes handed out.
pub struct FoundFile {
    /// The layer the content came from (a hard link's source may be in a lower one).
    pub layer: usize,
    pub extraction: Extraction,
    pub content: Vec<u8>,
}

/// Which layer and path to read next on the way to a file's content: the file where the
/// tree says it is, then, for a hard link, its source in that layer or the ones below (a
/// hard link's source was written by its own layer or a lower one). Both the archive and
/// the registry reads drive it; it does no IO itself.
pub struct FileSearch {
    top: usize,
    wanted: Vec<u8>,
    /// The next layer to try; `None` once nothing is left to try.
    next: Option<usize>,
    hops: usize,
}

/// What a [`FileSearch`] says after a read.
pub enum SearchStep {
    /// Read [`FileSearch::next`] and report it again.
    Continue,
    /// The file (or what stands at its path) is found.
    Found(FoundFile),
    /// It is not there; the message says what is missing.
    Missing(String),
}

impl FileSearch {
    /// A search for `path` as layer `layer` (of `layers`) holds it.
    pub fn new(layer: usize, path: &str, layers: usize) -> FileSearch {
        FileSearch {
            top: layer,
            wanted: path.as_bytes().to_vec(),
            next: (layers > 0).then(|| layer.min(layers - 1)),
            hops: 0,
        }
    }

    /// The layer and path to read next, if any.
    pub fn next(&self) -> Option<(usize, &[u8])> {
        Some((self.next?, &self.wanted))
    }

    /// Takes what reading [`FileSearch::next`] found.
    pub fn found(&mut self, extraction: Extraction, content: Vec<u8>) -> SearchStep {
        let Some(layer) = self.next else {
            return SearchStep::Missing("the file search has nothing left to read".into());
        };
        match extraction {
            Extraction::NotFound if self.hops > 0 && layer > 0 => {
                self.next = Some(layer - 1);
                SearchStep::Continue
            }
            Extraction::NotFound => SearchStep::Missing(format!(
                "{} is not in layer {} of the image",
                String::from_utf8_lossy(&self.wanted),
                self.top
            )),
            Extraction::HardLink { source, .. } if self.hops < MAX_LINK_HOPS => {
                self.wanted = source;
                self.hops += 1;
                SearchStep::Continue
            }
            extraction => SearchStep::Found(FoundFile {
                layer,
                extraction,
                content,
            }),
        }
    }
}

/// Reads `path` as layer `layer` of a dropped archive holds it, following hard links,
/// handing out at most `limit` bytes.
pub fn read_archive_file(
    archive: &mut dyn ArchiveBytes,
    locations: &[LayerLocation],
    layer: usize,
    path: &str,
    limit: u64,
) -> Result<FoundFile, String> {
    let mut search = FileSearch::new(layer, path, locations.len());
    loop {
        let Some((candidate, wanted)) = search.next() else {
            return Err(format!("the archive has no layer {layer}"));
        };
        let mut content = Vec::new();
        let extraction = fetch_one(archive, &locations[candidate], wanted, limit, &mut content)?;
        match search.found(extraction, content) {
            SearchStep::Continue => {}
            SearchStep::Found(file) => return Ok(file),
            SearchStep::Missing(message) => return Err(message),
        }
    }
}

fn fetch_one(
    archive: &mut dyn ArchiveBytes,
    location: &LayerLocation,
    path: &[u8],
    limit: u64,
    content: &mut Vec<u8>,
) -> Result<Extraction, String> {
    let mut fetch = FileFetch::new(location, path, limit);
    loop {
        match fetch.next_step() {
            FetchStep::Read { offset, len } => {
                let bytes = archive.read_at(offset, len)?;
                // Errors come back from the next step too, with the member named.
                let _ = fetch.supply(offset, bytes, &mut |chunk: &[u8]| {
                    content.extend_from_slice(chunk)
                });
            }
            FetchStep::Done(extraction) => return Ok(extraction),
            FetchStep::Failed(error) => return Err(error.to_string()),
        }
    }
}

/// The viewer's answer for a file read, and for a download the bytes to post beside it.
pub fn file_answer(
    id: u64,
    path: String,
    want: FileWant,
    found: FoundFile,
) -> (TreeAnswer, Option<Vec<u8>>) {
    let FoundFile {
        layer,
        extraction,
        content,
    } = found;
    let truncated = extraction.is_truncated();
    let (size, shown) = match &extraction {
        Extraction::File { entry, .. } => (entry.size, Some(content)),
        Extraction::Symlink { entry, target } => {
            let destination = symlink_destination(path.as_bytes(), target);
            let content = FileContent::Symlink {
                target: String::from_utf8_lossy(target).into_owned(),
                destination: format!("/{}", String::from_utf8_lossy(&destination)),
            };
            return (file(id, layer, path, entry.size, content, false), None);
        }
        Extraction::NotRegular { entry } => {
            let content = FileContent::NotRegular {
                what: entry.kind.describe().to_string(),
            };
            return (file(id, layer, path, entry.size, content, false), None);
        }
        Extraction::HardLink { entry, source } => {
            let message = format!(
                "{path} is a hard link to {} through more links than are followed",
                String::from_utf8_lossy(source)
            );
            let _ = entry;
            return (TreeAnswer::Failed { id, message }, None);
        }
        Extraction::NotFound => {
            let message = format!("{path} is not in layer {layer}");
            return (TreeAnswer::Failed { id, message }, None);
        }
    };
    let bytes = shown.unwrap_or_default();
    match want {
        FileWant::Download => {
            let content = FileContent::Downloaded {
                bytes: bytes.len() as u64,
            };
            (file(id, layer, path, size, content, truncated), Some(bytes))
        }
        FileWant::Hex => {
            let content = hex(&bytes, None);
            (file(id, layer, path, size, content, truncated), None)
        }
        FileWant::Preview => {
            let content = match classify(&bytes, truncated) {
                Preview::Text(text) => FileContent::Text {
                    text: text.to_string(),
                },
                Preview::Binary(reason) => hex(&bytes, Some(describe_binary(reason))),
            };
            (file(id, layer, path, size, content, truncated), None)
        }
    }
}

/// Bytes shown in a hex dump: a dump is about four times the bytes' size in text.
pub const HEX_VIEW_BYTES: usize = 64 * 1024;

fn hex(bytes: &[u8], reason: Option<String>) -> FileContent {
    let shown = &bytes[..bytes.len().min(HEX_VIEW_BYTES)];
    FileContent::Hex {
        dump: hex_dump(shown, 0),
        shown: shown.len() as u64,
        reason,
    }
}

fn describe_binary(reason: BinaryReason) -> String {
    match reason {
        BinaryReason::NulByte { offset } => format!("a NUL byte at offset {offset}"),
        BinaryReason::InvalidUtf8 { offset } => {
            format!("bytes that are not UTF-8 at offset {offset}")
        }
    }
}

fn file(
    id: u64,
    layer: usize,
    path: String,
    size: u64,
    content: FileContent,
    truncated: bool,
) -> TreeAnswer {
    TreeAnswer::File {
        id,
        layer,
        path,
        size,
        content,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use layerscope_core::engine::tar::{EntryKind, TarEntry};

    fn entry(path: &str, kind: EntryKind) -> TarEntry {
        TarEntry {
            path: path.as_bytes().to_vec(),
            link_target: None,
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 3,
            mtime: 0,
            header_offset: 0,
        }
    }

    #[test]
    fn a_file_is_looked_for_only_in_its_own_layer() {
        let mut search = FileSearch::new(2, "/etc/passwd", 3);
        assert_eq!(search.next(), Some((2, &b"/etc/passwd"[..])));
        let SearchStep::Missing(message) = search.found(Extraction::NotFound, Vec::new()) else {
            panic!("a file missing from its layer is missing");
        };
        assert_eq!(message, "/etc/passwd is not in layer 2 of the image");
    }

    #[test]
    fn a_hard_link_is_followed_down_to_the_layer_holding_its_source() {
        let mut search = FileSearch::new(2, "/bin/[[", 3);
        let link = Extraction::HardLink {
            entry: entry("bin/[[", EntryKind::HardLink),
            source: b"bin/[".to_vec(),
        };
        assert!(matches!(
            search.found(link, Vec::new()),
            SearchStep::Continue
        ));
        assert_eq!(search.next(), Some((2, &b"bin/["[..])));
        assert!(matches!(
            search.found(Extraction::NotFound, Vec::new()),
            SearchStep::Continue
        ));
        assert_eq!(search.next(), Some((1, &b"bin/["[..])));
        let file = Extraction::File {
            entry: entry("bin/[", EntryKind::File),
            delivered: 3,
        };
        let SearchStep::Found(found) = search.found(file, b"ELF".to_vec()) else {
            panic!("the source is found");
        };
        assert_eq!((found.layer, &found.content[..]), (1, &b"ELF"[..]));
    }

    #[test]
    fn links_are_followed_a_bounded_number_of_times() {
        let mut search = FileSearch::new(0, "/a", 1);
        let mut steps = 0;
        loop {
            let link = Extraction::HardLink {
                entry: entry("a", EntryKind::HardLink),
                source: b"a".to_vec(),
            };
            match search.found(link, Vec::new()) {
                SearchStep::Continue => steps += 1,
                SearchStep::Found(found) => {
                    assert!(matches!(found.extraction, Extraction::HardLink { .. }));
                    break;
                }
                SearchStep::Missing(message) => panic!("{message}"),
            }
        }
        assert_eq!(steps, MAX_LINK_HOPS);
    }
}
