//! Per-layer file trees in a compact arena, stacked with whiteouts.
//!
//! [`FileTrees`] keeps, for every layer, the layer's changes as a list of
//! operations over interned path components (`u32` name ids; each distinct
//! name's bytes are stored once, in one buffer). A view is built on demand by
//! stacking layers in an arena of fixed-size nodes linked by `u32` indices,
//! so no node owns a heap string.
//!
//! Stacking follows the OCI image spec (image-layout `layer.md`, "Whiteouts"):
//! a file `.wh.NAME` removes `NAME` from the lower layers, `.wh..wh..opq`
//! removes every lower child of its directory, and whiteouts never hide
//! entries of their own layer. So within a layer, whiteouts are applied to
//! the lower layers first and the layer's other entries added afterwards,
//! whatever their order in the tar. Other names starting `.wh..wh.` are
//! reserved by the spec (aufs bookkeeping) and ignored.
//!
//! Two views, as dive shows them: [`ViewKind::LayerChanges`] (what one layer
//! adds, modifies or removes, with their parent directories) and
//! [`ViewKind::Aggregated`] (the whole file system up to and including that
//! layer, the layer's removals shown in place). Each entry is marked
//! [`Mark::Added`], [`Mark::Modified`], [`Mark::Removed`] or
//! [`Mark::Unchanged`] relative to the layers below. "Modified" means the type,
//! content hash (xxh3), size, mode, uid, gid or link target differ; a file
//! rewritten with the same bytes and metadata is "unchanged" (mtime is not
//! compared: rebuilds rewrite it without changing anything a user sees). A
//! directory whose own metadata is unchanged but under which something
//! changed is "modified", as in dive.

use std::collections::HashMap;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::engine::scan::LayerEntry;
use crate::engine::tar::EntryKind;

const NONE: u32 = u32::MAX;
const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const RESERVED_PREFIX: &[u8] = b".wh..wh.";

/// How an entry of a view differs from the layers below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    /// Not in the layers below.
    Added,
    /// In the layers below, with other content or metadata (or, for a directory, something below it changed).
    Modified,
    /// Removed by a whiteout or an opaque directory in this layer.
    Removed,
    /// As in the layers below (or written again identically).
    Unchanged,
}

/// Which of dive's two views to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewKind {
    /// Only what this layer changes (and the directories leading to it).
    LayerChanges,
    /// Everything up to and including this layer.
    Aggregated,
}

/// One row of a flattened view, in depth-first order, children sorted by
/// name bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ViewEntry {
    /// Slash-separated path without a leading slash, exact bytes.
    #[serde(serialize_with = "serialize_lossy")]
    pub path: Vec<u8>,
    /// 0 for top-level entries.
    pub depth: u32,
    /// What the entry is.
    pub kind: EntryKind,
    /// Files: their size. Directories: the sum of the file sizes below them
    /// (in this view; for a removed directory, what it held).
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    #[serde(serialize_with = "serialize_lossy_opt")]
    /// Symlink target or hard-link source, exact bytes.
    pub link_target: Option<Vec<u8>>,
    /// How this layer changed the entry.
    pub mark: Mark,
    /// Index of the layer that last wrote this entry.
    pub layer: usize,
    /// xxh3 of a regular file's content (in JSON: 16 hex digits, since
    /// JavaScript numbers cannot hold 64 bits).
    #[serde(serialize_with = "serialize_hash")]
    pub content_hash: Option<u64>,
    /// False for directories that no tar header described (implied by a
    /// deeper path).
    pub explicit: bool,
}

impl ViewEntry {
    /// The path for display, invalid UTF-8 replaced.
    pub fn path_lossy(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }

    /// The last path component.
    pub fn name(&self) -> &[u8] {
        match self.path.iter().rposition(|&b| b == b'/') {
            Some(i) => &self.path[i + 1..],
            None => &self.path,
        }
    }
}

fn serialize_lossy<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(bytes))
}

fn serialize_hash<S: serde::Serializer>(hash: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match hash {
        Some(h) => s.serialize_some(&format!("{h:016x}")),
        None => s.serialize_none(),
    }
}

fn serialize_lossy_opt<S: serde::Serializer>(
    bytes: &Option<Vec<u8>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(b) => s.serialize_some(&String::from_utf8_lossy(b)),
        None => s.serialize_none(),
    }
}

/// Why a layer could not be added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeError {
    /// More path components or names than 32-bit indices address.
    TooLarge {
        /// Index of the layer being added.
        layer: usize,
    },
}

impl std::fmt::Display for TreeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TreeError::TooLarge { layer } => write!(
                f,
                "layer {layer} has more paths than the tree can index (2^32)"
            ),
        }
    }
}

impl std::error::Error for TreeError {}

/// Interned path components: each distinct name stored once.
#[derive(Default)]
struct Names {
    bytes: Vec<u8>,
    spans: Vec<(u32, u32)>,
    /// xxh3 (seeded; the seed is bumped on the rare collision) -> id.
    index: HashMap<u64, u32>,
}

impl Names {
    fn get(&self, id: u32) -> &[u8] {
        let (start, len) = self.spans[id as usize];
        &self.bytes[start as usize..(start + len) as usize]
    }

    fn intern(&mut self, name: &[u8]) -> Option<u32> {
        for seed in 0.. {
            let key = xxh3_64_with_seed(name, seed);
            match self.index.get(&key) {
                Some(&id) if self.get(id) == name => return Some(id),
                Some(_) => continue,
                None => {
                    let start = u32::try_from(self.bytes.len()).ok()?;
                    let len = u32::try_from(name.len()).ok()?;
                    start.checked_add(len)?;
                    let id = u32::try_from(self.spans.len())
                        .ok()
                        .filter(|&i| i != NONE)?;
                    self.bytes.extend_from_slice(name);
                    self.spans.push((start, len));
                    self.index.insert(key, id);
                    return Some(id);
                }
            }
        }
        None
    }
}

/// Metadata of one written path.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Meta {
    kind: EntryKind,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    content_hash: Option<u64>,
    /// Span in the layer's link buffer, if any.
    link: Option<(u32, u32)>,
}

#[derive(Clone, Debug)]
enum Action {
    Write(Meta),
    /// `.wh.NAME`: the op's path is NAME's.
    Whiteout,
    /// `.wh..wh..opq`: the op's path is the directory's.
    Opaque,
}

#[derive(Clone, Debug)]
struct Op {
    /// Span in `LayerOps::components`.
    start: u32,
    len: u32,
    action: Action,
}

/// One layer's changes, as operations on interned paths.
#[derive(Default)]
struct LayerOps {
    components: Vec<u32>,
    ops: Vec<Op>,
    links: Vec<u8>,
}

impl LayerOps {
    fn path(&self, op: &Op) -> &[u32] {
        &self.components[op.start as usize..(op.start + op.len) as usize]
    }

    fn link(&self, span: Option<(u32, u32)>) -> Option<&[u8]> {
        span.map(|(s, l)| &self.links[s as usize..(s + l) as usize])
    }
}

/// Every layer's file tree, ready to be stacked into views.
#[derive(Default)]
pub struct FileTrees {
    names: Names,
    layers: Vec<LayerOps>,
}

impl FileTrees {
    /// No layers yet.
    pub fn new() -> FileTrees {
        FileTrees::default()
    }

    /// Number of layers added.
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    /// Adds the next layer (bottom first), from the scanner's entry list.
    /// Returns its index.
    pub fn add_layer(&mut self, entries: &[LayerEntry]) -> Result<usize, TreeError> {
        let layer = self.layers.len();
        let too_large = || TreeError::TooLarge { layer };
        let mut ops = LayerOps::default();
        let mut parts: Vec<&[u8]> = Vec::new();
        for entry in entries {
            clean_components(&entry.path, &mut parts);
            let Some((&last, parents)) = parts.split_last() else {
                continue;
            };
            let action = if last == OPAQUE_MARKER {
                Action::Opaque
            } else if last.starts_with(RESERVED_PREFIX) {
                continue;
            } else if last.starts_with(WHITEOUT_PREFIX) {
                Action::Whiteout
            } else {
                let link = match &entry.link_target {
                    Some(target) => {
                        let start = u32::try_from(ops.links.len()).map_err(|_| too_large())?;
                        ops.links.extend_from_slice(target);
                        Some((start, u32::try_from(target.len()).map_err(|_| too_large())?))
                    }
                    None => None,
                };
                Action::Write(Meta {
                    kind: entry.kind,
                    mode: entry.mode,
                    uid: entry.uid,
                    gid: entry.gid,
                    size: entry.size,
                    content_hash: entry.content_hash,
                    link,
                })
            };
            let start = u32::try_from(ops.components.len()).map_err(|_| too_large())?;
            for part in parents {
                ops.components
                    .push(self.names.intern(part).ok_or_else(too_large)?);
            }
            match action {
                Action::Opaque => {}
                Action::Whiteout => ops.components.push(
                    self.names
                        .intern(&last[WHITEOUT_PREFIX.len()..])
                        .ok_or_else(too_large)?,
                ),
                Action::Write(_) => ops
                    .components
                    .push(self.names.intern(last).ok_or_else(too_large)?),
            }
            let len = u32::try_from(ops.components.len()).map_err(|_| too_large())? - start;
            ops.ops.push(Op { start, len, action });
        }
        self.layers.push(ops);
        Ok(layer)
    }

    /// Builds one of the two views of layer `layer` (panics if out of range).
    pub fn view(&self, layer: usize, kind: ViewKind) -> Vec<ViewEntry> {
        assert!(
            layer < self.layers.len(),
            "layer {layer} out of range ({} layers)",
            self.layers.len()
        );
        let mut stack = Stack::new();
        for (index, ops) in self.layers[..layer].iter().enumerate() {
            stack.apply(index, ops, false);
        }
        stack.apply(layer, &self.layers[layer], true);
        stack.flatten(&self.names, kind)
    }

    /// The file system after the last layer: the aggregated view of the top
    /// layer without the entries it removes. Empty when there are no layers.
    pub fn final_view(&self) -> Vec<ViewEntry> {
        match self.layers.len() {
            0 => Vec::new(),
            n => self
                .view(n - 1, ViewKind::Aggregated)
                .into_iter()
                .filter(|e| e.mark != Mark::Removed)
                .collect(),
        }
    }
}

/// Splits a tar path into components the way a clean path reads: empty and
/// `.` components dropped, `..` steps up (never above the root).
fn clean_components<'a>(path: &'a [u8], parts: &mut Vec<&'a [u8]>) {
    parts.clear();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
}

#[derive(Clone)]
struct Node {
    name: u32,
    parent: u32,
    first_child: u32,
    next_sibling: u32,
    meta: Meta,
    /// Layer whose links buffer `meta.link` points into, and that wrote it.
    layer: u32,
    explicit: bool,
    mark: Mark,
    /// Written or created by the layer being viewed.
    touched: bool,
}

/// Layers stacked into one tree; the top layer's effects are recorded.
struct Stack {
    nodes: Vec<Node>,
    /// Link targets of the nodes (`Node::meta.link` spans point here).
    links: Vec<u8>,
    children: HashMap<(u32, u32), u32>,
    /// Subtrees the top layer removed: (parent, node).
    removed: Vec<(u32, u32)>,
}

const ROOT: u32 = 0;

fn directory_meta() -> Meta {
    Meta {
        kind: EntryKind::Directory,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        content_hash: None,
        link: None,
    }
}

impl Stack {
    fn new() -> Stack {
        let root = Node {
            name: NONE,
            parent: NONE,
            first_child: NONE,
            next_sibling: NONE,
            meta: directory_meta(),
            layer: 0,
            explicit: false,
            mark: Mark::Unchanged,
            touched: false,
        };
        Stack {
            nodes: vec![root],
            links: Vec::new(),
            children: HashMap::new(),
            removed: Vec::new(),
        }
    }

    fn link(&self, span: Option<(u32, u32)>) -> Option<&[u8]> {
        span.map(|(s, l)| &self.links[s as usize..(s + l) as usize])
    }

    /// The metadata with its link target copied into this stack's buffer.
    fn store_meta(&mut self, meta: &Meta, ops: &LayerOps) -> Meta {
        let mut stored = meta.clone();
        stored.link = ops.link(meta.link).map(|bytes| {
            let start = self.links.len() as u32;
            self.links.extend_from_slice(bytes);
            (start, bytes.len() as u32)
        });
        stored
    }

    fn lookup(&self, path: &[u32]) -> Option<u32> {
        path.iter().try_fold(ROOT, |node, name| {
            self.children.get(&(node, *name)).copied()
        })
    }

    fn apply(&mut self, layer: usize, ops: &LayerOps, top: bool) {
        // Whiteouts hide lower layers only, so they go first.
        for op in &ops.ops {
            let path = ops.path(op);
            match op.action {
                Action::Whiteout => {
                    if let Some(node) = self.lookup(path) {
                        self.detach(node, top);
                    }
                }
                Action::Opaque => {
                    if let Some(dir) = self.lookup(path) {
                        let mut child = self.nodes[dir as usize].first_child;
                        while child != NONE {
                            let next = self.nodes[child as usize].next_sibling;
                            self.detach(child, top);
                            child = next;
                        }
                        if top {
                            self.nodes[dir as usize].touched = true;
                        }
                    }
                }
                Action::Write(_) => {}
            }
        }
        for op in &ops.ops {
            if let Action::Write(meta) = &op.action {
                self.write(layer, ops, ops.path(op), meta, top);
            }
        }
    }

    fn write(&mut self, layer: usize, ops: &LayerOps, path: &[u32], meta: &Meta, top: bool) {
        let Some((&last, parents)) = path.split_last() else {
            return;
        };
        let mut dir = ROOT;
        for &name in parents {
            dir = match self.children.get(&(dir, name)) {
                Some(&child) if self.nodes[child as usize].meta.kind == EntryKind::Directory => {
                    child
                }
                existing => {
                    // A non-directory in the way is replaced by a directory.
                    if let Some(&child) = existing {
                        self.detach(child, top);
                    }
                    let node = self.create(dir, name, directory_meta(), layer, false, top);
                    if top {
                        self.nodes[node as usize].touched = true;
                    }
                    node
                }
            };
        }
        let existing = self.children.get(&(dir, last)).copied();
        match existing {
            Some(node) => {
                let old = &self.nodes[node as usize];
                let same = old.meta.kind == meta.kind
                    && old.meta.mode == meta.mode
                    && old.meta.uid == meta.uid
                    && old.meta.gid == meta.gid
                    && old.meta.size == meta.size
                    && old.meta.content_hash == meta.content_hash
                    && self.link(old.meta.link) == ops.link(meta.link);
                let was_dir = old.meta.kind == EntryKind::Directory;
                if was_dir && meta.kind != EntryKind::Directory {
                    // A file replacing a directory drops what it held.
                    let mut child = self.nodes[node as usize].first_child;
                    while child != NONE {
                        let next = self.nodes[child as usize].next_sibling;
                        self.detach(child, top);
                        child = next;
                    }
                }
                let n = &mut self.nodes[node as usize];
                if top {
                    n.touched = true;
                    // A second write by the same layer keeps "added".
                    if !(n.mark == Mark::Added && n.layer as usize == layer) {
                        n.mark = if same {
                            Mark::Unchanged
                        } else {
                            Mark::Modified
                        };
                    }
                }
                n.layer = layer as u32;
                n.explicit = true;
                let stored = self.store_meta(meta, ops);
                self.nodes[node as usize].meta = stored;
            }
            None => {
                let stored = self.store_meta(meta, ops);
                let node = self.create(dir, last, stored, layer, true, top);
                if top {
                    self.nodes[node as usize].touched = true;
                }
            }
        }
    }

    fn create(
        &mut self,
        parent: u32,
        name: u32,
        meta: Meta,
        layer: usize,
        explicit: bool,
        top: bool,
    ) -> u32 {
        let id = self.nodes.len() as u32;
        let first = self.nodes[parent as usize].first_child;
        self.nodes.push(Node {
            name,
            parent,
            first_child: NONE,
            next_sibling: first,
            meta,
            layer: layer as u32,
            explicit,
            mark: if top { Mark::Added } else { Mark::Unchanged },
            touched: false,
        });
        self.nodes[parent as usize].first_child = id;
        self.children.insert((parent, name), id);
        id
    }

    /// Unlinks a subtree from its parent; for the top layer, keeps it to show as removed.
    fn detach(&mut self, node: u32, top: bool) {
        let parent = self.nodes[node as usize].parent;
        let name = self.nodes[node as usize].name;
        self.children.remove(&(parent, name));
        let next = self.nodes[node as usize].next_sibling;
        let p = &mut self.nodes[parent as usize];
        if p.first_child == node {
            p.first_child = next;
        } else {
            let mut cur = p.first_child;
            while cur != NONE {
                let n = self.nodes[cur as usize].next_sibling;
                if n == node {
                    self.nodes[cur as usize].next_sibling = next;
                    break;
                }
                cur = n;
            }
        }
        self.nodes[node as usize].next_sibling = NONE;
        if top {
            self.removed.push((parent, node));
            self.nodes[parent as usize].touched = true;
        }
    }
}

/// A row being flattened, before sizes and derived marks are known.
struct Row {
    node: u32,
    parent_row: usize,
    depth: u32,
    removed: bool,
    path: Vec<u8>,
}

impl Stack {
    /// Children of `node` to show, sorted by name: live ones and, at the top
    /// layer, the ones it removed.
    fn sorted_children(
        &self,
        node: u32,
        removed_parent: bool,
        graveyard: &HashMap<u32, Vec<u32>>,
        names: &Names,
    ) -> Vec<(u32, bool)> {
        let mut out = Vec::new();
        let mut child = self.nodes[node as usize].first_child;
        while child != NONE {
            out.push((child, removed_parent));
            child = self.nodes[child as usize].next_sibling;
        }
        if !removed_parent {
            if let Some(gone) = graveyard.get(&node) {
                out.extend(gone.iter().map(|&g| (g, true)));
            }
        }
        // Removed before live for the same name (a path removed and re-added).
        out.sort_by(|a, b| {
            names
                .get(self.nodes[a.0 as usize].name)
                .cmp(names.get(self.nodes[b.0 as usize].name))
                .then(b.1.cmp(&a.1))
        });
        out
    }

    fn flatten(&self, names: &Names, kind: ViewKind) -> Vec<ViewEntry> {
        let mut graveyard: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(parent, node) in &self.removed {
            graveyard.entry(parent).or_default().push(node);
        }
        // Pre-order rows.
        let mut rows: Vec<Row> = Vec::new();
        let mut pending: Vec<(u32, usize, u32, bool)> = Vec::new();
        for (child, removed) in self
            .sorted_children(ROOT, false, &graveyard, names)
            .into_iter()
            .rev()
        {
            pending.push((child, usize::MAX, 0, removed));
        }
        while let Some((node, parent_row, depth, removed)) = pending.pop() {
            let name = names.get(self.nodes[node as usize].name);
            let mut path = if parent_row == usize::MAX {
                Vec::new()
            } else {
                rows[parent_row].path.clone()
            };
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(name);
            let row = rows.len();
            rows.push(Row {
                node,
                parent_row,
                depth,
                removed,
                path,
            });
            for (child, r) in self
                .sorted_children(node, removed, &graveyard, names)
                .into_iter()
                .rev()
            {
                pending.push((child, row, depth + 1, r));
            }
        }
        // Post-order: sizes, derived marks and which rows a layer view keeps.
        let mut sizes = vec![0u64; rows.len()];
        let mut changed_below = vec![false; rows.len()];
        let mut keep = vec![false; rows.len()];
        let mut marks = vec![Mark::Unchanged; rows.len()];
        for i in (0..rows.len()).rev() {
            let row = &rows[i];
            let node = &self.nodes[row.node as usize];
            let is_dir = node.meta.kind == EntryKind::Directory;
            if !is_dir {
                sizes[i] = node.meta.size;
            }
            marks[i] = if row.removed {
                Mark::Removed
            } else if node.mark == Mark::Unchanged && is_dir && changed_below[i] {
                Mark::Modified
            } else {
                node.mark
            };
            keep[i] |= node.touched || row.removed || node.mark != Mark::Unchanged;
            if row.parent_row != usize::MAX {
                let p = row.parent_row;
                if row.removed == rows[p].removed {
                    sizes[p] += sizes[i];
                }
                changed_below[p] |= marks[i] != Mark::Unchanged;
                keep[p] |= keep[i];
            }
        }
        rows.into_iter()
            .enumerate()
            .filter(|(i, _)| kind == ViewKind::Aggregated || keep[*i])
            .map(|(i, row)| {
                let node = &self.nodes[row.node as usize];
                ViewEntry {
                    path: row.path,
                    depth: row.depth,
                    kind: node.meta.kind,
                    size: sizes[i],
                    mode: node.meta.mode,
                    uid: node.meta.uid,
                    gid: node.meta.gid,
                    link_target: self.link(node.meta.link).map(<[u8]>::to_vec),
                    mark: marks[i],
                    layer: node.layer as usize,
                    content_hash: node.meta.content_hash,
                    explicit: node.explicit,
                }
            })
            .collect()
    }
}
