//! The Files tab's tree, windowed: one layer's view (dive's two views, a mark filter, a
//! sort) with directories expanded or collapsed, asked for a few rows at a time.
//!
//! API summary:
//! - [`TreeQuery`]: layer, [`ViewKind`], [`MarkSet`] filter (URL letters `a m r u`),
//!   [`SortOrder`], [`Expansion`] (all open or all closed, plus up to
//!   [`MAX_TOGGLED`] directories toggled from that default).
//! - [`TreeView::build`]`(&FileTrees, &TreeQuery) -> Result<TreeView, TreeViewError>`;
//!   then [`TreeView::len`] (visible rows), [`TreeView::rows`]`(trees, start, count) ->
//!   Vec<TreeRow>` (at most [`MAX_WINDOW_ROWS`]), [`TreeView::reveal`]`(trees, path) ->
//!   Option<row>` (opens the ancestors), [`TreeView::toggle`] / [`TreeView::set_open`],
//!   [`TreeView::collapse_all`] / [`TreeView::expand_all`].
//! - [`TreeRow`]: what the page draws for one row, serializable (names borrowed from the
//!   trees when they are UTF-8); [`ModeText`]: `ls -l`'s mode column.
//!
//! Memory: the view is the [`StackedView`] arena (32 bytes a node, no paths), one bit a
//! node for "open", and the visible rows as `u32` indices. Paths exist only for the rows
//! a window returns. Collapsing a directory removes its visible range in one move;
//! opening one splices its visible rows in; neither revisits the rest of the tree.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use crate::engine::tar::EntryKind;
use crate::engine::tree::{FileTrees, StackedView, TreeError};
pub use crate::engine::tree::{Mark, MarkSet, SortOrder, ViewKind};
use crate::present::humanize;

/// The most rows one [`TreeView::rows`] call returns.
pub const MAX_WINDOW_ROWS: usize = 1000;

/// The most path bytes one [`TreeView::rows`] call returns: a window of very long paths
/// comes back shorter (never empty), so no window outgrows this whatever the names.
pub const MAX_WINDOW_PATH_BYTES: usize = 1 << 20;

/// The most directories an [`Expansion`] keeps toggled away from its default.
pub const MAX_TOGGLED: usize = 1024;

/// The most bytes the toggled directories' paths may take together.
pub const MAX_TOGGLED_BYTES: usize = 256 * 1024;

/// Whether directories start open or closed.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Openness {
    /// Every directory open (dive's start).
    #[default]
    Expanded,
    /// Every directory closed ("collapse all").
    Collapsed,
}

/// Which directories are open: a default for all, and a bounded set of paths toggled
/// away from it. Paths are kept in one form, `/a/b` (cleaned like tar paths), so they
/// carry over between layers, views and filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "ExpansionText", into = "ExpansionText")]
pub struct Expansion {
    default: Openness,
    toggled: BTreeSet<Box<[u8]>>,
    /// Σ of the toggled paths' lengths.
    toggled_bytes: usize,
}

/// How an [`Expansion`] reads in JSON: `{"default":"expanded","toggled":["/etc"]}`.
#[derive(serde::Serialize, serde::Deserialize)]
struct ExpansionText {
    default: Openness,
    #[serde(default)]
    toggled: Vec<String>,
}

impl From<Expansion> for ExpansionText {
    fn from(e: Expansion) -> ExpansionText {
        ExpansionText {
            default: e.default,
            toggled: e
                .toggled
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect(),
        }
    }
}

impl TryFrom<ExpansionText> for Expansion {
    type Error = TreeViewError;

    fn try_from(text: ExpansionText) -> Result<Expansion, TreeViewError> {
        let mut expansion = Expansion {
            default: text.default,
            ..Expansion::default()
        };
        for path in &text.toggled {
            let open = expansion.default == Openness::Collapsed;
            expansion.set_open(path.as_bytes(), open)?;
        }
        Ok(expansion)
    }
}

impl Expansion {
    /// Every directory open.
    pub fn all_expanded() -> Expansion {
        Expansion::default()
    }

    /// Every directory closed.
    pub fn all_collapsed() -> Expansion {
        Expansion {
            default: Openness::Collapsed,
            ..Expansion::default()
        }
    }

    /// The default for directories not toggled.
    pub fn default_openness(&self) -> Openness {
        self.default
    }

    /// The toggled paths, in the form `/a/b`, sorted.
    pub fn toggled(&self) -> impl Iterator<Item = &[u8]> {
        self.toggled.iter().map(|p| &**p)
    }

    /// Whether the directory at `path` is open.
    pub fn is_open(&self, path: &[u8]) -> bool {
        let toggled = self.toggled.contains(&*normalize(path));
        (self.default == Openness::Expanded) != toggled
    }

    /// Opens or closes the directory at `path`. Refused, changing nothing, when it would
    /// toggle more than [`MAX_TOGGLED`] directories or [`MAX_TOGGLED_BYTES`] of paths.
    pub fn set_open(&mut self, path: &[u8], open: bool) -> Result<(), TreeViewError> {
        self.set_open_normalized(normalize(path), open)
    }

    fn set_open_normalized(&mut self, key: Vec<u8>, open: bool) -> Result<(), TreeViewError> {
        if open == (self.default == Openness::Expanded) {
            if self.toggled.remove(&*key) {
                self.toggled_bytes -= key.len();
            }
        } else if !self.toggled.contains(&*key) {
            if self.toggled.len() >= MAX_TOGGLED
                || self.toggled_bytes + key.len() > MAX_TOGGLED_BYTES
            {
                return Err(TreeViewError::TooManyToggled { limit: MAX_TOGGLED });
            }
            self.toggled_bytes += key.len();
            self.toggled.insert(key.into_boxed_slice());
        }
        Ok(())
    }
}

/// `a//b/./c/` and `/a/b/c` alike: `/a/b/c`.
fn normalize(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    let mut out = Vec::with_capacity(path.len() + 1);
    for part in parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    out
}

/// Which view of the tree to show; see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TreeQuery {
    /// The layer, 0 for the bottom one.
    pub layer: usize,
    /// This layer's changes, or everything up to it.
    pub kind: ViewKind,
    /// The marks shown (with the directories above them).
    pub filter: MarkSet,
    /// The order of each directory's children.
    pub sort: SortOrder,
    /// Which directories are open.
    pub expansion: Expansion,
}

impl TreeQuery {
    /// Everything up to `layer`, nothing filtered, by name, every directory open.
    pub fn new(layer: usize) -> TreeQuery {
        TreeQuery {
            layer,
            kind: ViewKind::Aggregated,
            filter: MarkSet::ALL,
            sort: SortOrder::Name,
            expansion: Expansion::all_expanded(),
        }
    }
}

/// Why a tree view could not be built or changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TreeViewError {
    /// The layer does not exist (or the trees could not be stacked).
    #[error("{0}")]
    Tree(#[from] TreeError),
    /// The path is not in this view (not in the layer, or filtered out).
    #[error("{path} is not in this view")]
    NotFound {
        /// The path asked for, lossily.
        path: String,
    },
    /// The path has nothing below it in this view to open or close.
    #[error("{path} has nothing below it to open or close in this view")]
    NothingToToggle {
        /// The path asked for, lossily.
        path: String,
    },
    /// Too many directories are toggled away from the default.
    #[error(
        "more than {limit} directories (or 256 KiB of their paths) opened or closed one by one; use expand all or collapse all"
    )]
    TooManyToggled {
        /// [`MAX_TOGGLED`].
        limit: usize,
    },
}

/// A file mode as `ls -l` prints it: type letter, then `rwx` three times, with `s`/`S`
/// for setuid and setgid and `t`/`T` for the sticky bit (`drwxr-xr-x`, `-rwsr-xr-x`,
/// `lrwxrwxrwx`, `drwxrwxrwt`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModeText([u8; 10]);

impl ModeText {
    /// The text for an entry of `kind` with permission bits `mode`.
    pub fn new(kind: EntryKind, mode: u32) -> ModeText {
        let mut text = [b'-'; 10];
        text[0] = kind.ls_char() as u8;
        let rwx = [b'r', b'w', b'x'];
        for (i, slot) in text[1..].iter_mut().enumerate() {
            if mode & (0o400 >> i) != 0 {
                *slot = rwx[i % 3];
            }
        }
        // (bit, position of the x it shares, letter when x is set).
        for (bit, at, letter) in [(0o4000, 3, b's'), (0o2000, 6, b's'), (0o1000, 9, b't')] {
            if mode & bit != 0 {
                text[at] = if text[at] == b'x' {
                    letter
                } else {
                    letter.to_ascii_uppercase()
                };
            }
        }
        ModeText(text)
    }

    /// The ten characters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("mode text is ASCII")
    }
}

impl std::fmt::Display for ModeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for ModeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModeText({:?})", self.as_str())
    }
}

impl serde::Serialize for ModeText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Reads the text back (the page reads rows a worker posted): ten ASCII characters.
impl<'de> serde::Deserialize<'de> for ModeText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ModeText, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes: [u8; 10] = text
            .as_bytes()
            .try_into()
            .ok()
            .filter(|bytes: &[u8; 10]| bytes.is_ascii())
            .ok_or_else(|| serde::de::Error::custom("a mode text is ten ASCII characters"))?;
        Ok(ModeText(bytes))
    }
}

/// One visible row, as the page draws it. Names and link targets borrow from the trees
/// when they are UTF-8; invalid bytes show as U+FFFD.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeRow<'t> {
    /// The row's index among the visible rows.
    pub row: usize,
    /// The last path component.
    pub name: Cow<'t, str>,
    /// The full path, `/etc/ssl/certs`.
    pub path: String,
    /// 0 for top-level entries.
    pub depth: u32,
    /// What the entry is.
    pub kind: EntryKind,
    /// `ls -l`'s mode column.
    pub mode: ModeText,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Files: their size; directories: the total of the files below them in this view.
    pub size: u64,
    /// The size as docker prints it (`1.2MB`).
    pub size_text: String,
    /// Symlink target or hard-link source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<Cow<'t, str>>,
    /// How the view's layer changed the entry.
    pub mark: Mark,
    /// The layer that last wrote it.
    pub layer: usize,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Whether anything in this view is below it.
    pub has_children: bool,
    /// Whether its children are shown (false when it has none).
    pub expanded: bool,
}

impl TreeRow<'_> {
    /// The row with its borrowed names copied, to keep or send once the trees are gone.
    pub fn into_owned(self) -> TreeRow<'static> {
        TreeRow {
            row: self.row,
            name: Cow::Owned(self.name.into_owned()),
            path: self.path,
            depth: self.depth,
            kind: self.kind,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            size: self.size,
            size_text: self.size_text,
            link_target: self
                .link_target
                .map(|target| Cow::Owned(target.into_owned())),
            mark: self.mark,
            layer: self.layer,
            is_dir: self.is_dir,
            has_children: self.has_children,
            expanded: self.expanded,
        }
    }
}

/// What a toggle did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Toggled {
    /// The directory's row; `None` while a closed directory above it hides it.
    pub row: Option<usize>,
    /// Whether it is open now.
    pub expanded: bool,
}

/// One layer's tree as the Files tab shows it; see the module documentation.
#[derive(Clone, Debug)]
pub struct TreeView {
    query: TreeQuery,
    view: StackedView,
    /// One bit a node: its children are shown.
    open: Vec<u64>,
    /// The visible nodes in order; ascending, since the arena is in pre-order.
    visible: Vec<u32>,
}

impl TreeView {
    /// Stacks the query's layer and lays out its rows.
    pub fn build(trees: &FileTrees, query: &TreeQuery) -> Result<TreeView, TreeViewError> {
        let view = StackedView::build(trees, query.layer, query.kind, query.filter, query.sort)?;
        let mut tree = TreeView {
            query: query.clone(),
            open: Vec::new(),
            visible: Vec::new(),
            view,
        };
        tree.reset_open(trees);
        Ok(tree)
    }

    /// The query the view answers, with its expansion as toggled since.
    pub fn query(&self) -> &TreeQuery {
        &self.query
    }

    /// Rows visible now.
    pub fn len(&self) -> usize {
        self.visible.len()
    }

    /// True when the view shows nothing.
    pub fn is_empty(&self) -> bool {
        self.visible.is_empty()
    }

    /// Entries in the view, whatever is collapsed.
    pub fn entry_count(&self) -> usize {
        self.view.len()
    }

    /// The view's arena, for callers that walk it themselves.
    pub fn stacked(&self) -> &StackedView {
        &self.view
    }

    /// Bytes the view holds on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.view.heap_bytes() + self.open.capacity() * 8 + self.visible.capacity() * 4
    }

    /// Rows `start..start + count`: fewer at the end, at most [`MAX_WINDOW_ROWS`], and
    /// fewer when their paths pass [`MAX_WINDOW_PATH_BYTES`] (at least one row, if any).
    pub fn rows<'t>(&self, trees: &'t FileTrees, start: usize, count: usize) -> Vec<TreeRow<'t>> {
        let end = start
            .saturating_add(count.min(MAX_WINDOW_ROWS))
            .min(self.visible.len());
        let mut path = Vec::new();
        let mut path_bytes = 0;
        (start.min(end)..end)
            .map_while(|row| {
                if path_bytes >= MAX_WINDOW_PATH_BYTES {
                    return None;
                }
                let node = self.visible[row];
                let info = self.view.info(trees, node);
                self.view.path_into(trees, node, &mut path);
                path_bytes += path.len();
                let has_children = self.view.has_children(node);
                // Names hold no slash: one per level.
                let depth = path.iter().filter(|&&b| b == b'/').count() as u32 - 1;
                Some(TreeRow {
                    row,
                    name: String::from_utf8_lossy(info.name),
                    path: String::from_utf8_lossy(&path).into_owned(),
                    depth,
                    kind: info.meta.kind,
                    mode: ModeText::new(info.meta.kind, info.meta.mode),
                    uid: info.meta.uid,
                    gid: info.meta.gid,
                    size: info.size,
                    size_text: humanize::size(info.size),
                    link_target: info.meta.link_target.map(String::from_utf8_lossy),
                    mark: info.mark,
                    layer: info.layer,
                    is_dir: info.meta.kind == EntryKind::Directory,
                    has_children,
                    expanded: has_children && self.is_open(node),
                })
            })
            .collect()
    }

    /// The visible row of `path`, if it is shown now (nothing is opened).
    pub fn row_of(&self, trees: &FileTrees, path: &[u8]) -> Option<usize> {
        let node = self.view.find(trees, path)?;
        self.visible.binary_search(&node).ok()
    }

    /// Opens every directory above `path` and returns its row; `None` when the path is
    /// not in this view (not in the layer, or filtered out). For search hits and links
    /// from the efficiency tab.
    pub fn reveal(
        &mut self,
        trees: &FileTrees,
        path: &[u8],
    ) -> Result<Option<usize>, TreeViewError> {
        let Some(node) = self.view.find(trees, path) else {
            return Ok(None);
        };
        let mut ancestors = Vec::new();
        let mut cur = self.view.parent(node);
        while let Some(p) = cur {
            ancestors.push(p);
            cur = self.view.parent(p);
        }
        let mut full = Vec::new();
        self.view.path_into(trees, node, &mut full);
        // Each ancestor's path is a prefix of the node's: it ends before the next slash.
        let ends = full
            .iter()
            .enumerate()
            .skip(1)
            .filter(|&(_, &b)| b == b'/')
            .map(|(i, _)| i);
        // Outermost first, so each opening splices into rows that are visible.
        for (&dir, end) in ancestors.iter().rev().zip(ends) {
            if !self.is_open(dir) {
                self.open_node(dir, full[..end].to_vec(), true)?;
            }
        }
        Ok(self.visible.binary_search(&node).ok())
    }

    /// Opens a closed directory or closes an open one.
    pub fn toggle(&mut self, trees: &FileTrees, path: &[u8]) -> Result<Toggled, TreeViewError> {
        let node = self.expandable(trees, path)?;
        let open = !self.is_open(node);
        self.open_node(node, self.path_of(trees, node), open)?;
        Ok(self.toggled(node))
    }

    /// Opens or closes the directory at `path` (the page's Right and Left keys).
    pub fn set_open(
        &mut self,
        trees: &FileTrees,
        path: &[u8],
        open: bool,
    ) -> Result<Toggled, TreeViewError> {
        let node = self.expandable(trees, path)?;
        if self.is_open(node) != open {
            self.open_node(node, self.path_of(trees, node), open)?;
        }
        Ok(self.toggled(node))
    }

    /// Closes every directory (dive's "collapse all").
    pub fn collapse_all(&mut self, trees: &FileTrees) {
        self.query.expansion = Expansion::all_collapsed();
        self.reset_open(trees);
    }

    /// Opens every directory.
    pub fn expand_all(&mut self, trees: &FileTrees) {
        self.query.expansion = Expansion::all_expanded();
        self.reset_open(trees);
    }

    fn toggled(&self, node: u32) -> Toggled {
        Toggled {
            row: self.visible.binary_search(&node).ok(),
            expanded: self.is_open(node),
        }
    }

    fn expandable(&self, trees: &FileTrees, path: &[u8]) -> Result<u32, TreeViewError> {
        let lossy = || String::from_utf8_lossy(path).into_owned();
        let node = self
            .view
            .find(trees, path)
            .ok_or_else(|| TreeViewError::NotFound { path: lossy() })?;
        if !self.view.has_children(node) {
            return Err(TreeViewError::NothingToToggle { path: lossy() });
        }
        Ok(node)
    }

    fn is_open(&self, node: u32) -> bool {
        self.open[node as usize / 64] & (1 << (node % 64)) != 0
    }

    fn set_bit(&mut self, node: u32, open: bool) {
        let word = &mut self.open[node as usize / 64];
        if open {
            *word |= 1 << (node % 64);
        } else {
            *word &= !(1 << (node % 64));
        }
    }

    fn path_of(&self, trees: &FileTrees, node: u32) -> Vec<u8> {
        let mut path = Vec::new();
        self.view.path_into(trees, node, &mut path);
        path
    }

    /// Records the change in the query's expansion (`path` is the node's, as
    /// [`StackedView::path_into`] writes it), flips the node, and splices its rows in or
    /// out when it is visible.
    fn open_node(&mut self, node: u32, path: Vec<u8>, open: bool) -> Result<(), TreeViewError> {
        self.query.expansion.set_open_normalized(path, open)?;
        self.set_bit(node, open);
        let Ok(row) = self.visible.binary_search(&node) else {
            return Ok(());
        };
        let end = self.view.subtree_end(node);
        if open {
            let mut rows = Vec::new();
            self.visible_range(node + 1, end, &mut rows);
            self.visible.splice(row + 1..row + 1, rows);
        } else {
            let upto = row + 1 + self.visible[row + 1..].partition_point(|&n| n < end);
            self.visible.drain(row + 1..upto);
        }
        Ok(())
    }

    /// Pushes the visible nodes of the index range `from..to` (whole subtrees).
    fn visible_range(&self, from: u32, to: u32, out: &mut Vec<u32>) {
        let mut i = from;
        while i < to {
            out.push(i);
            i = if self.view.has_children(i) && !self.is_open(i) {
                self.view.subtree_end(i)
            } else {
                i + 1
            };
        }
    }

    /// Sets every node's bit from the query's expansion and lays out the visible rows.
    fn reset_open(&mut self, trees: &FileTrees) {
        let len = self.view.len();
        let fill = match self.query.expansion.default {
            Openness::Expanded => u64::MAX,
            Openness::Collapsed => 0,
        };
        self.open = vec![fill; len.div_ceil(64)];
        if !self.query.expansion.toggled.is_empty() {
            self.apply_toggled(trees);
        }
        let mut visible = Vec::new();
        self.visible_range(0, len as u32, &mut visible);
        visible.shrink_to_fit();
        self.visible = visible;
    }

    /// One pass over the arena with the path built as it goes: O(entries), whatever the
    /// number of toggled paths.
    fn apply_toggled(&mut self, trees: &FileTrees) {
        let toggled: HashSet<&[u8]> = self.query.expansion.toggled().collect();
        let mut flip = Vec::new();
        let mut path: Vec<u8> = Vec::new();
        let mut open_dirs: Vec<(u32, usize)> = Vec::new();
        for i in 0..self.view.len() as u32 {
            while let Some(&(end, len)) = open_dirs.last() {
                if i < end {
                    break;
                }
                path.truncate(len);
                open_dirs.pop();
            }
            let before = path.len();
            path.push(b'/');
            path.extend_from_slice(self.view.name(trees, i));
            if self.view.has_children(i) {
                if toggled.contains(&path[..]) {
                    flip.push(i);
                }
                open_dirs.push((self.view.subtree_end(i), before));
            } else {
                path.truncate(before);
            }
        }
        let open = self.query.expansion.default == Openness::Collapsed;
        for node in flip {
            self.set_bit(node, open);
        }
    }
}
