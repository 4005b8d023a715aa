//! Per-layer file trees in a compact arena, stacked with whiteouts.
//!
//! [`FileTrees`] keeps, for every layer, the layer's changes as a list of
//! operations over interned path components (`u32` name ids; each distinct
//! name's bytes are stored once, in one buffer; owners interned the same way).
//! A view is built on demand by stacking layers in an arena of fixed-size
//! nodes linked by `u32` indices that point back at the operation that wrote
//! them, so no node owns a heap string or a copy of its metadata.
//!
//! [`StackedView`] is one layer's view laid out in pre-order (a node's subtree
//! is the index range after it), filtered by marks and sorted by name or size;
//! `present::tree_view` windows it for the page. [`FileTrees::change_counts`]
//! and [`FileTrees::visit_changed_paths`] stack every layer once, in order, and
//! report what each one changed.
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
use std::ops::ControlFlow;

use xxhash_rust::xxh3::xxh3_64;

use crate::engine::scan::LayerEntry;
use crate::engine::tar::EntryKind;

pub(crate) const NONE: u32 = u32::MAX;
const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const RESERVED_PREFIX: &[u8] = b".wh..wh.";

/// How an entry of a view differs from the layers below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

/// Which of dive's two views to build. In URLs and JSON: `changes` or `aggregated`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ViewKind {
    /// Only what this layer changes (and the directories leading to it).
    #[serde(rename = "changes")]
    LayerChanges,
    /// Everything up to and including this layer.
    #[serde(rename = "aggregated")]
    Aggregated,
}

impl ViewKind {
    /// `changes` or `aggregated`, as URLs write it.
    pub fn as_str(self) -> &'static str {
        match self {
            ViewKind::LayerChanges => "changes",
            ViewKind::Aggregated => "aggregated",
        }
    }
}

impl std::str::FromStr for ViewKind {
    type Err = String;

    fn from_str(s: &str) -> Result<ViewKind, String> {
        match s {
            "changes" => Ok(ViewKind::LayerChanges),
            "aggregated" => Ok(ViewKind::Aggregated),
            other => Err(format!(
                "mode {:?}: expected changes or aggregated",
                other.chars().take(64).collect::<String>()
            )),
        }
    }
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
    /// that this view shows (for a removed directory, what it held; removed
    /// entries do not count towards a directory that stays).
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

/// Why a layer could not be added, or a view built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeError {
    /// More path components or names than 32-bit indices address.
    TooLarge {
        /// Index of the layer being added.
        layer: usize,
    },
    /// A view of a layer the trees do not have.
    NoSuchLayer {
        /// The layer asked for.
        layer: usize,
        /// How many layers there are.
        layers: usize,
    },
}

impl std::fmt::Display for TreeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TreeError::TooLarge { layer } => write!(
                f,
                "layer {layer} has more paths than the tree can index (2^32)"
            ),
            TreeError::NoSuchLayer { layer, layers } => match layers {
                0 => write!(f, "there is no layer {layer}: the image has no layers"),
                n => write!(
                    f,
                    "there is no layer {layer}: the image has {n} (0 to {})",
                    n - 1
                ),
            },
        }
    }
}

impl std::error::Error for TreeError {}

/// splitmix64's finalizer: a bijection that spreads neighbouring ids over a whole table,
/// far cheaper than SipHash per lookup.
fn mix(key: u64) -> u64 {
    let mut z = key;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The hash of a `(parent, name)` step, for the indexes of children by their parent and name.
pub(crate) fn step_hash(parent: u32, name: u32) -> u64 {
    mix((u64::from(parent) << 32) | u64::from(name))
}

/// A hash index of `u32` ids whose keys are what the ids stand for (a node's parent and
/// name, a name's bytes), so the table holds the ids alone: 5 bytes a slot where a map
/// from a `u64` key to the id takes 17. Each call is given the key's hash and how to tell
/// (or rehash) an id, from the arena the ids index.
#[derive(Clone, Default)]
pub(crate) struct IdIndex {
    table: hashbrown::HashTable<u32>,
}

impl IdIndex {
    /// The id whose key hashes to `hash` and for which `is` holds.
    pub(crate) fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        self.table.find(hash, |&id| is(id)).copied()
    }

    /// Adds `id`, whose key hashes to `hash` and is not in the index yet.
    pub(crate) fn insert(&mut self, hash: u64, id: u32, rehash: impl Fn(u32) -> u64) {
        self.table.insert_unique(hash, id, |&id| rehash(id));
    }

    /// Takes out the id for which `is` holds, if there is one.
    pub(crate) fn remove(&mut self, hash: u64, mut is: impl FnMut(u32) -> bool) {
        if let Ok(entry) = self.table.find_entry(hash, |&id| is(id)) {
            entry.remove();
        }
    }

    /// Room for `additional` more ids without growing.
    pub(crate) fn reserve(&mut self, additional: usize, rehash: impl Fn(u32) -> u64) {
        self.table.reserve(additional, |&id| rehash(id));
    }

    /// The ids, in no particular order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.table.iter().copied()
    }

    /// How many ids it holds.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Bytes held on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.table.allocation_size()
    }
}

/// Interned path components: each distinct name stored once.
#[derive(Default)]
pub(crate) struct Names {
    bytes: Vec<u8>,
    spans: Vec<(u32, u32)>,
    /// The ids by their name's xxh3. Only adding layers needs it, so
    /// [`FileTrees::compact`] drops it; it is rebuilt on the next intern.
    index: IdIndex,
}

/// Name `id`'s bytes, from the two halves of [`Names`] (so its index can be borrowed beside).
fn name_in<'a>(bytes: &'a [u8], spans: &[(u32, u32)], id: u32) -> &'a [u8] {
    let (start, len) = spans[id as usize];
    &bytes[start as usize..(start + len) as usize]
}

impl Names {
    pub(crate) fn get(&self, id: u32) -> &[u8] {
        name_in(&self.bytes, &self.spans, id)
    }

    pub(crate) fn intern(&mut self, name: &[u8]) -> Option<u32> {
        if self.index.len() < self.spans.len() {
            self.rebuild_index();
        }
        let Names {
            bytes,
            spans,
            index,
        } = self;
        let hash = xxh3_64(name);
        if let Some(id) = index.find(hash, |id| name_in(bytes, spans, id) == name) {
            return Some(id);
        }
        let start = u32::try_from(bytes.len()).ok()?;
        let len = u32::try_from(name.len()).ok()?;
        start.checked_add(len)?;
        let id = u32::try_from(spans.len()).ok().filter(|&i| i != NONE)?;
        bytes.extend_from_slice(name);
        spans.push((start, len));
        index.insert(hash, id, |id| xxh3_64(name_in(bytes, spans, id)));
        Some(id)
    }

    fn rebuild_index(&mut self) {
        let Names {
            bytes,
            spans,
            index,
        } = self;
        *index = IdIndex::default();
        let rehash = |id| xxh3_64(name_in(bytes, spans, id));
        index.reserve(spans.len(), rehash);
        for id in 0..spans.len() as u32 {
            index.insert(rehash(id), id, rehash);
        }
    }

    fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.spans.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.index.heap_bytes()
    }
}

/// Interned `(uid, gid)` pairs: images use a handful, so entries keep a `u32`.
#[derive(Default)]
struct Owners {
    pairs: Vec<(u64, u64)>,
    index: HashMap<(u64, u64), u32>,
}

impl Owners {
    fn intern(&mut self, owner: (u64, u64)) -> Option<u32> {
        if let Some(&id) = self.index.get(&owner) {
            return Some(id);
        }
        let id = u32::try_from(self.pairs.len())
            .ok()
            .filter(|&i| i != NONE)?;
        self.pairs.push(owner);
        self.index.insert(owner, id);
        Some(id)
    }

    fn heap_bytes(&self) -> usize {
        self.pairs.capacity() * 16
            + self.index.capacity() * (std::mem::size_of::<((u64, u64), u32)>() + 1)
    }
}

/// An entry's metadata, borrowed from the layer that wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryMeta<'t> {
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits (with setuid, setgid and sticky).
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Size from the tar header.
    pub size: u64,
    /// xxh3 of a regular file's content.
    pub content_hash: Option<u64>,
    /// Symlink target or hard-link source, exact bytes.
    pub link_target: Option<&'t [u8]>,
}

/// What a directory no tar header described looks like.
const IMPLIED_DIRECTORY: EntryMeta<'static> = EntryMeta {
    kind: EntryKind::Directory,
    mode: 0o755,
    uid: 0,
    gid: 0,
    size: 0,
    content_hash: None,
    link_target: None,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Write,
    /// `.wh.NAME`: the op's path is NAME's.
    Whiteout,
    /// `.wh..wh..opq`: the op's path is the directory's.
    Opaque,
}

/// One tar entry as an operation on an interned path. Whiteouts and opaque
/// markers leave the metadata fields unused.
#[derive(Clone, Copy, Debug)]
struct Op {
    /// Start of the op's path in `LayerOps::components`; it ends where the next op's starts.
    start: u32,
    action: Action,
    kind: EntryKind,
    /// [`HAS_HASH`] and [`HAS_LINK`]: one byte for both keeps an op at 32 bytes.
    flags: u8,
    mode: u32,
    /// Index in `FileTrees::owners`.
    owner: u32,
    size: u64,
    content_hash: u64,
}

/// `Op::content_hash` holds the content's hash.
const HAS_HASH: u8 = 1;
/// The op has a link target, in `LayerOps::link_spans`.
const HAS_LINK: u8 = 2;

// A million entries cost a million ops: keep each at 32 bytes.
const _: () = assert!(std::mem::size_of::<Op>() == 32);

/// One layer's changes, as operations on interned paths.
#[derive(Default)]
struct LayerOps {
    components: Vec<u32>,
    ops: Vec<Op>,
    links: Vec<u8>,
    /// `(op, start, len)` of each link target in `links`, by op: few entries are links, so
    /// the ops keep a flag rather than a span each.
    link_spans: Vec<(u32, u32, u32)>,
}

impl LayerOps {
    fn path(&self, op: usize) -> &[u32] {
        let start = self.ops[op].start as usize;
        let end = self
            .ops
            .get(op + 1)
            .map_or(self.components.len(), |next| next.start as usize);
        &self.components[start..end]
    }

    /// The link target of op `op`, which has one.
    fn link(&self, op: u32) -> &[u8] {
        let at = self
            .link_spans
            .binary_search_by_key(&op, |&(owner, _, _)| owner)
            .expect("an op with a link has a span");
        let (_, start, len) = self.link_spans[at];
        &self.links[start as usize..(start + len) as usize]
    }

    fn heap_bytes(&self) -> usize {
        self.components.capacity() * 4
            + self.ops.capacity() * std::mem::size_of::<Op>()
            + self.links.capacity()
            + self.link_spans.capacity() * std::mem::size_of::<(u32, u32, u32)>()
    }
}

/// How many entries one layer adds, modifies and removes, as its
/// [`ViewKind::LayerChanges`] view shows them (directories only implied by
/// deeper paths are context, not changes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChangeCounts {
    /// Entries marked [`Mark::Added`].
    pub added: u64,
    /// Entries marked [`Mark::Modified`].
    pub modified: u64,
    /// Entries marked [`Mark::Removed`].
    pub removed: u64,
}

/// A path one layer wrote, created or removed, met by [`FileTrees::visit_changed_paths`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangedPath<'a> {
    /// The layer, 0 for the bottom one.
    pub layer: usize,
    /// The path with a leading `/`, exact bytes.
    pub path: &'a [u8],
    /// How many leading bytes of `path` are those of the previous call's path (0 at the
    /// first): a matcher that keeps its state at each `/` resumes there instead of
    /// reading the whole path again, which keeps a search over deep trees linear.
    pub shared: usize,
    /// How the layer changed it ([`Mark::Unchanged`]: written again identically).
    pub mark: Mark,
    /// What the entry is (for a removed entry, what it was).
    pub kind: EntryKind,
}

/// Every layer's file tree, ready to be stacked into views.
#[derive(Default)]
pub struct FileTrees {
    names: Names,
    owners: Owners,
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

    /// Number of tar entries kept over all layers (writes, whiteouts and opaque markers).
    pub fn entry_count(&self) -> usize {
        self.layers.iter().map(|l| l.ops.len()).sum()
    }

    /// Bytes the trees hold on the heap (allocated capacity), for memory budgets.
    pub fn heap_bytes(&self) -> usize {
        self.names.heap_bytes()
            + self.owners.heap_bytes()
            + self.layers.iter().map(LayerOps::heap_bytes).sum::<usize>()
            + self.layers.capacity() * std::mem::size_of::<LayerOps>()
    }

    /// Frees what only adding layers needs (the name index) and spare capacity. Views and
    /// searches are unaffected; a later [`FileTrees::add_layer`] rebuilds the index.
    pub fn compact(&mut self) {
        self.names.index = IdIndex::default();
        self.names.bytes.shrink_to_fit();
        self.names.spans.shrink_to_fit();
        for layer in &mut self.layers {
            layer.components.shrink_to_fit();
            layer.ops.shrink_to_fit();
            layer.links.shrink_to_fit();
            layer.link_spans.shrink_to_fit();
        }
    }

    /// Adds the next layer (bottom first), from the scanner's entry list.
    /// Returns its index.
    pub fn add_layer(&mut self, entries: &[LayerEntry]) -> Result<usize, TreeError> {
        self.add_entries(entries)
    }

    /// [`FileTrees::add_layer`] from entries given one at a time (decoded from a compact
    /// form, say, so the whole list never exists at once).
    pub fn add_entries<E: std::borrow::Borrow<LayerEntry>>(
        &mut self,
        entries: impl IntoIterator<Item = E>,
    ) -> Result<usize, TreeError> {
        let layer = self.layers.len();
        let too_large = || TreeError::TooLarge { layer };
        let mut ops = LayerOps::default();
        let entries = entries.into_iter();
        ops.ops.reserve_exact(entries.size_hint().0);
        for entry in entries {
            let entry = entry.borrow();
            // Per entry: the components borrow this entry, which may be a temporary.
            let mut parts: Vec<&[u8]> = Vec::new();
            clean_components(&entry.path, &mut parts);
            let Some((&last, parents)) = parts.split_last() else {
                continue;
            };
            let (action, name) = if last == OPAQUE_MARKER {
                (Action::Opaque, None)
            } else if last.starts_with(RESERVED_PREFIX) {
                continue;
            } else if let Some(hidden) = last.strip_prefix(WHITEOUT_PREFIX) {
                (Action::Whiteout, Some(hidden))
            } else {
                (Action::Write, Some(last))
            };
            if ops.ops.len() >= NONE as usize {
                return Err(too_large());
            }
            let start = u32::try_from(ops.components.len()).map_err(|_| too_large())?;
            for part in parents.iter().copied().chain(name) {
                let id = self.names.intern(part).ok_or_else(too_large)?;
                ops.components.push(id);
            }
            if u32::try_from(ops.components.len()).is_err() {
                return Err(too_large());
            }
            let mut op = Op {
                start,
                action,
                kind: entry.kind,
                flags: 0,
                mode: 0,
                owner: NONE,
                size: 0,
                content_hash: 0,
            };
            if action == Action::Write {
                op.mode = entry.mode;
                op.size = entry.size;
                if entry.content_hash.is_some() {
                    op.flags |= HAS_HASH;
                }
                op.content_hash = entry.content_hash.unwrap_or(0);
                op.owner = self
                    .owners
                    .intern((entry.uid, entry.gid))
                    .ok_or_else(too_large)?;
                if let Some(target) = &entry.link_target {
                    let link_start = u32::try_from(ops.links.len()).map_err(|_| too_large())?;
                    let link_len = u32::try_from(target.len()).map_err(|_| too_large())?;
                    let index = u32::try_from(ops.ops.len()).map_err(|_| too_large())?;
                    op.flags |= HAS_LINK;
                    ops.link_spans.push((index, link_start, link_len));
                    ops.links.extend_from_slice(target);
                    if u32::try_from(ops.links.len()).is_err() {
                        return Err(too_large());
                    }
                }
            }
            ops.ops.push(op);
        }
        self.layers.push(ops);
        Ok(layer)
    }

    /// Calls `visit` with the path (interned name ids, root first) and header size of
    /// every entry other than a directory that each layer writes, bottom layer first.
    pub(crate) fn visit_file_writes(&self, mut visit: impl FnMut(&[u32], u64)) {
        for ops in &self.layers {
            for (index, op) in ops.ops.iter().enumerate() {
                if op.action == Action::Write && op.kind != EntryKind::Directory {
                    visit(ops.path(index), op.size);
                }
            }
        }
    }

    /// Calls `visit(node, parent, name, is_dir, size)` for every entry of the file system
    /// all the layers make (what the top layer's aggregated view shows, removed entries
    /// left out), each parent before its children; `parent` is `None` at the top level.
    /// `start` makes the visit's state from how many node numbers there are; the state is
    /// returned. Nothing is laid out or sorted, so this takes the memory of the stack
    /// alone, not of a view beside it.
    pub(crate) fn visit_final_entries<S>(
        &self,
        start: impl FnOnce(usize) -> S,
        mut visit: impl FnMut(&mut S, u32, Option<u32>, u32, bool, u64),
    ) -> S {
        let Some(top) = self.layers.len().checked_sub(1) else {
            return start(0);
        };
        let capacity = self.layers.iter().map(|l| l.ops.len()).sum();
        let mut stack = Stack::new(self, capacity);
        for layer in 0..=top {
            stack.apply(layer, layer == top);
        }
        stack.children = IdIndex::default();
        let mut state = start(stack.nodes.len());
        let mut pending: Vec<u32> = stack.children_of(ROOT).collect();
        while let Some(node) = pending.pop() {
            let n = stack.nodes[node as usize];
            let meta = stack.meta(node);
            let parent = Some(n.parent).filter(|&p| p != ROOT);
            let is_dir = meta.kind == EntryKind::Directory;
            visit(&mut state, node, parent, n.name, is_dir, meta.size);
            pending.extend(stack.children_of(node));
        }
        state
    }

    /// The interned names, for the engine's other rooms.
    pub(crate) fn names(&self) -> &Names {
        &self.names
    }

    /// The interned names, to intern more (ids stay valid; views are unaffected).
    pub(crate) fn names_mut(&mut self) -> &mut Names {
        &mut self.names
    }

    /// The bytes of an interned name, for the engine's other rooms.
    pub(crate) fn name_bytes(&self, id: u32) -> &[u8] {
        self.names.get(id)
    }

    /// The bytes of an interned name.
    fn name(&self, id: u32) -> &[u8] {
        self.names.get(id)
    }

    /// The metadata op `op` of layer `layer` wrote, or an implied directory's for `NONE`.
    fn meta(&self, layer: u32, op: u32) -> EntryMeta<'_> {
        if op == NONE {
            return IMPLIED_DIRECTORY;
        }
        let ops = &self.layers[layer as usize];
        let o = &ops.ops[op as usize];
        let (uid, gid) = self.owners.pairs[o.owner as usize];
        EntryMeta {
            kind: o.kind,
            mode: o.mode,
            uid,
            gid,
            size: o.size,
            content_hash: (o.flags & HAS_HASH != 0).then_some(o.content_hash),
            link_target: (o.flags & HAS_LINK != 0).then(|| ops.link(op)),
        }
    }

    fn check_layer(&self, layer: usize) -> Result<(), TreeError> {
        if layer < self.layers.len() {
            Ok(())
        } else {
            Err(TreeError::NoSuchLayer {
                layer,
                layers: self.layers.len(),
            })
        }
    }

    /// Builds one of the two views of layer `layer` as a list with owned paths (panics if
    /// the layer is out of range). For large trees prefer [`StackedView::build`], which
    /// keeps no path per entry.
    pub fn view(&self, layer: usize, kind: ViewKind) -> Vec<ViewEntry> {
        let view = StackedView::build(self, layer, kind, MarkSet::ALL, SortOrder::Name)
            .unwrap_or_else(|e| panic!("{e}"));
        view.entries(self)
    }

    /// The file system after the last layer: the aggregated view of the top
    /// layer without the entries it removes. Empty when there are no layers.
    pub fn final_view(&self) -> Vec<ViewEntry> {
        let Some(top) = self.layers.len().checked_sub(1) else {
            return Vec::new();
        };
        let live = MarkSet::ALL.without(Mark::Removed);
        StackedView::build(self, top, ViewKind::Aggregated, live, SortOrder::Name)
            .unwrap_or_else(|e| panic!("{e}"))
            .entries(self)
    }

    /// Every layer's change counts, bottom first, stacking each layer once.
    pub fn change_counts(&self) -> Vec<ChangeCounts> {
        let mut counts = vec![ChangeCounts::default(); self.layers.len()];
        self.walk_changes(|stack, layer, node, mark, _| {
            let n = &stack.nodes[node as usize];
            // Directories only implied by deeper paths are context, not changes.
            if n.op != NONE || !stack.is_dir(node) {
                let c = &mut counts[layer];
                match mark {
                    Mark::Added => c.added += 1,
                    Mark::Modified => c.modified += 1,
                    Mark::Removed => c.removed += 1,
                    Mark::Unchanged => {}
                }
            }
            ControlFlow::Continue(())
        });
        counts
    }

    /// Calls `visit` with every path each layer wrote, created (a directory implied by a
    /// deeper path) or removed (by a whiteout, an opaque directory, or a file put where a
    /// directory was: each removed entry, not only the top of what went), layer by layer,
    /// bottom first. Directories that only lead to changes are not visited. Stops when
    /// `visit` breaks.
    pub fn visit_changed_paths(&self, mut visit: impl FnMut(&ChangedPath<'_>) -> ControlFlow<()>) {
        let mut paths = PathCache::default();
        self.walk_changes(|stack, layer, node, mark, role| {
            if role == Role::Context {
                return ControlFlow::Continue(());
            }
            let (path, shared) = paths.path_of(stack, node);
            visit(&ChangedPath {
                layer,
                path,
                shared,
                mark,
                kind: stack.meta(node).kind,
            })
        });
    }

    /// Stacks every layer once, bottom first, and calls `visit` with each layer's changes.
    fn walk_changes(
        &self,
        mut visit: impl FnMut(&Stack<'_>, usize, u32, Mark, Role) -> ControlFlow<()>,
    ) {
        let mut stack = Stack::new(self, self.entry_count());
        for layer in 0..self.layers.len() {
            stack.apply(layer, true);
            if stack.visit_top(layer, &mut visit).is_break() {
                return;
            }
            stack.end_top();
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

/// A set of marks: a view's filter. In URLs and messages it is written with
/// one letter per mark, `a` added, `m` modified, `r` removed, `u` unchanged,
/// always in that order (`"amr"`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MarkSet(u8);

const MARK_LETTERS: [(char, Mark); 4] = [
    ('a', Mark::Added),
    ('m', Mark::Modified),
    ('r', Mark::Removed),
    ('u', Mark::Unchanged),
];

impl MarkSet {
    /// Every mark: nothing filtered out.
    pub const ALL: MarkSet = MarkSet(0b1111);
    /// No mark: an empty view.
    pub const EMPTY: MarkSet = MarkSet(0);

    fn bit(mark: Mark) -> u8 {
        match mark {
            Mark::Added => 1,
            Mark::Modified => 2,
            Mark::Removed => 4,
            Mark::Unchanged => 8,
        }
    }

    /// Whether `mark` is in the set.
    pub fn contains(self, mark: Mark) -> bool {
        self.0 & Self::bit(mark) != 0
    }

    /// The set with `mark` added.
    pub fn with(self, mark: Mark) -> MarkSet {
        MarkSet(self.0 | Self::bit(mark))
    }

    /// The set with `mark` taken out.
    pub fn without(self, mark: Mark) -> MarkSet {
        MarkSet(self.0 & !Self::bit(mark))
    }

    /// The set of `marks`.
    pub fn of(marks: &[Mark]) -> MarkSet {
        marks.iter().fold(MarkSet::EMPTY, |set, &m| set.with(m))
    }

    /// Parses the letters `a m r u`, in any order (`""` is the empty set). An unknown
    /// letter is refused with a message naming it.
    pub fn parse_letters(text: &str) -> Result<MarkSet, MarkLettersError> {
        text.chars().try_fold(MarkSet::EMPTY, |set, c| {
            MARK_LETTERS
                .iter()
                .find(|(letter, _)| *letter == c)
                .map(|&(_, mark)| set.with(mark))
                .ok_or_else(|| MarkLettersError {
                    text: text.chars().take(64).collect(),
                    letter: c,
                })
        })
    }

    /// The set's letters, in the order `a m r u`.
    pub fn letters(self) -> String {
        MARK_LETTERS
            .iter()
            .filter(|(_, mark)| self.contains(*mark))
            .map(|(letter, _)| *letter)
            .collect()
    }
}

impl std::fmt::Debug for MarkSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MarkSet({:?})", self.letters())
    }
}

impl std::fmt::Display for MarkSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.letters())
    }
}

impl std::str::FromStr for MarkSet {
    type Err = MarkLettersError;

    fn from_str(s: &str) -> Result<MarkSet, MarkLettersError> {
        MarkSet::parse_letters(s)
    }
}

impl serde::Serialize for MarkSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.letters())
    }
}

impl<'de> serde::Deserialize<'de> for MarkSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MarkSet, D::Error> {
        let text = String::deserialize(d)?;
        MarkSet::parse_letters(&text).map_err(serde::de::Error::custom)
    }
}

/// A filter's text has a letter that names no mark.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("filter {text:?}: {letter:?} is not a mark letter (a added, m modified, r removed, u unchanged)")]
pub struct MarkLettersError {
    /// The text given (its first 64 characters).
    pub text: String,
    /// The first letter that is not `a`, `m`, `r` or `u`.
    pub letter: char,
}

/// How the children of a directory are ordered in a view.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// By name bytes.
    #[default]
    Name,
    /// By size, largest first (a directory by the total shown below it); equal sizes by
    /// name.
    Size,
}

impl SortOrder {
    /// `name` or `size`, as URLs write it.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Name => "name",
            SortOrder::Size => "size",
        }
    }
}

impl std::str::FromStr for SortOrder {
    type Err = String;

    fn from_str(s: &str) -> Result<SortOrder, String> {
        match s {
            "name" => Ok(SortOrder::Name),
            "size" => Ok(SortOrder::Size),
            other => Err(format!(
                "sort {:?}: expected name or size",
                other.chars().take(64).collect::<String>()
            )),
        }
    }
}

const ROOT: u32 = 0;

#[derive(Clone, Copy)]
struct Node {
    name: u32,
    parent: u32,
    first_child: u32,
    next_sibling: u32,
    /// Doubly linked, so removing one of many siblings costs O(1).
    prev_sibling: u32,
    /// The layer that last wrote (or created) the node; with `op`, where its metadata is.
    layer: u32,
    /// The writing op in that layer, `NONE` for a directory no header described.
    op: u32,
    /// How the top layer changed it (only the top layer sets marks).
    mark: Mark,
    /// What the top layer did to it.
    touched: Touch,
    /// In a subtree the top layer removed.
    removed: bool,
    /// Scratch while deriving marks: something below changed.
    changed_below: bool,
}

/// What the top layer did to a node, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Touch {
    No,
    /// Something in it was removed (it is context for the change, not changed itself).
    Emptied,
    /// Written, created, or made opaque.
    Written,
}

/// What a node is among one layer's changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Written or created by the layer.
    Written,
    /// In a subtree the layer removed.
    Removed,
    /// A directory the layer did not write, only changed below.
    Context,
}

/// Layers stacked into one tree; the top layer's effects are recorded.
struct Stack<'t> {
    trees: &'t FileTrees,
    nodes: Vec<Node>,
    /// The live children, by their parent and name.
    children: IdIndex,
    /// Roots of the subtrees the top layer removed (each keeps its `parent`).
    removed: Vec<u32>,
    /// Nodes with `touched` set, to clear them when the next layer becomes the top.
    touched: Vec<u32>,
    /// Nodes with `changed_below` set, likewise.
    flagged: Vec<u32>,
    /// The directory the last write's parent components led to: consecutive tar entries
    /// mostly share a directory, so their parents are not looked up again. Cleared
    /// whenever a node is unlinked or a directory turns into something else.
    last_dir: Option<(&'t [u32], u32)>,
}

/// The path of the node visited last, kept as a chain of nodes with where each one's
/// path ends, so the next node's path reuses the part it shares: a walk that goes
/// parent before child, or along siblings, builds each path in time proportional to
/// its last component, not its depth.
#[derive(Default)]
struct PathCache {
    bytes: Vec<u8>,
    /// Root first: (node, length of `bytes` up to and including its name).
    chain: Vec<(u32, usize)>,
    /// Node -> its index in `chain`.
    index: HashMap<u32, usize>,
    /// Scratch: the nodes between a node and its nearest ancestor in the chain.
    missing: Vec<u32>,
}

impl PathCache {
    /// The node's path, and how many of its leading bytes the previous path had.
    fn path_of(&mut self, stack: &Stack<'_>, node: u32) -> (&[u8], usize) {
        self.missing.clear();
        let mut cur = node;
        let keep = loop {
            if cur == ROOT || cur == NONE {
                break 0;
            }
            if let Some(&at) = self.index.get(&cur) {
                break at + 1;
            }
            self.missing.push(cur);
            cur = stack.nodes[cur as usize].parent;
        };
        for (gone, _) in self.chain.drain(keep..) {
            self.index.remove(&gone);
        }
        let shared = self.chain.last().map_or(0, |&(_, end)| end);
        self.bytes.truncate(shared);
        for &n in self.missing.iter().rev() {
            self.bytes.push(b'/');
            self.bytes
                .extend_from_slice(stack.trees.name(stack.nodes[n as usize].name));
            self.index.insert(n, self.chain.len());
            self.chain.push((n, self.bytes.len()));
        }
        (&self.bytes, shared)
    }
}

/// Appends `/name` backwards: a path built leaf first and reversed once at the end reads
/// root first, with no list of the components in between.
fn push_reversed(out: &mut Vec<u8>, name: &[u8]) {
    out.extend(name.iter().rev());
    out.push(b'/');
}

/// The hash of node `id`'s step, from its parent and name.
fn node_hash(nodes: &[Node], id: u32) -> u64 {
    let n = &nodes[id as usize];
    step_hash(n.parent, n.name)
}

impl<'t> Stack<'t> {
    fn new(trees: &'t FileTrees, capacity: usize) -> Stack<'t> {
        let root = Node {
            name: NONE,
            parent: NONE,
            first_child: NONE,
            next_sibling: NONE,
            prev_sibling: NONE,
            layer: 0,
            op: NONE,
            mark: Mark::Unchanged,
            touched: Touch::No,
            removed: false,
            changed_below: false,
        };
        // Room for a few directories no header names; past that, growth is by an eighth
        // (see `create`), never by doubling a million-node arena.
        let mut nodes = Vec::with_capacity(capacity + capacity / 64 + 64);
        nodes.push(root);
        let mut children = IdIndex::default();
        children.reserve(capacity, |id| node_hash(&nodes, id));
        Stack {
            trees,
            nodes,
            children,
            removed: Vec::new(),
            touched: Vec::new(),
            flagged: Vec::new(),
            last_dir: None,
        }
    }

    fn meta(&self, node: u32) -> EntryMeta<'t> {
        let n = &self.nodes[node as usize];
        self.trees.meta(n.layer, n.op)
    }

    fn is_dir(&self, node: u32) -> bool {
        self.meta(node).kind == EntryKind::Directory
    }

    /// The live child of `parent` named `name`.
    fn child(&self, parent: u32, name: u32) -> Option<u32> {
        self.children.find(step_hash(parent, name), |id| {
            let n = &self.nodes[id as usize];
            n.parent == parent && n.name == name
        })
    }

    fn lookup(&self, path: &[u32]) -> Option<u32> {
        path.iter()
            .try_fold(ROOT, |node, &name| self.child(node, name))
    }

    fn touch(&mut self, node: u32, how: Touch) {
        let n = &mut self.nodes[node as usize];
        if n.touched == Touch::No {
            self.touched.push(node);
        }
        n.touched = n.touched.max(how);
    }

    fn apply(&mut self, layer: usize, top: bool) {
        let trees = self.trees;
        let ops = &trees.layers[layer];
        // Whiteouts hide lower layers only, so they go first.
        for (index, op) in ops.ops.iter().enumerate() {
            match op.action {
                Action::Whiteout => {
                    if let Some(node) = self.lookup(ops.path(index)) {
                        self.detach(node, top);
                    }
                }
                Action::Opaque => {
                    if let Some(dir) = self.lookup(ops.path(index)) {
                        self.detach_children(dir, top);
                        if top {
                            self.touch(dir, Touch::Written);
                        }
                    }
                }
                Action::Write => {}
            }
        }
        for (index, op) in ops.ops.iter().enumerate() {
            if op.action == Action::Write {
                self.write(layer, index, top);
            }
        }
    }

    fn write(&mut self, layer: usize, index: usize, top: bool) {
        let trees = self.trees;
        let path = trees.layers[layer].path(index);
        let Some((&last, parents)) = path.split_last() else {
            return;
        };
        let dir = match self.last_dir {
            Some((cached, dir)) if cached == parents => dir,
            _ => {
                let mut dir = ROOT;
                for &name in parents {
                    dir = match self.child(dir, name) {
                        Some(child) if self.is_dir(child) => child,
                        existing => {
                            // A non-directory in the way is replaced by a directory.
                            if let Some(child) = existing {
                                self.detach(child, top);
                            }
                            self.create(dir, name, layer, NONE, top)
                        }
                    };
                }
                dir
            }
        };
        self.last_dir = Some((parents, dir));
        let meta = trees.meta(layer as u32, index as u32);
        match self.child(dir, last) {
            Some(node) => {
                let old = self.meta(node);
                if old.kind == EntryKind::Directory && meta.kind != EntryKind::Directory {
                    // A file replacing a directory drops what it held.
                    self.detach_children(node, top);
                    self.last_dir = None;
                }
                if top {
                    self.touch(node, Touch::Written);
                    let n = &mut self.nodes[node as usize];
                    // A second write by the same layer keeps "added".
                    if !(n.mark == Mark::Added && n.layer as usize == layer) {
                        n.mark = if old == meta {
                            Mark::Unchanged
                        } else {
                            Mark::Modified
                        };
                    }
                }
                let n = &mut self.nodes[node as usize];
                n.layer = layer as u32;
                n.op = index as u32;
            }
            None => {
                self.create(dir, last, layer, index as u32, top);
            }
        }
    }

    fn create(&mut self, parent: u32, name: u32, layer: usize, op: u32, top: bool) -> u32 {
        if self.nodes.len() == self.nodes.capacity() {
            self.nodes.reserve_exact(self.nodes.len() / 8 + 64);
        }
        let id = self.nodes.len() as u32;
        let first = self.nodes[parent as usize].first_child;
        self.nodes.push(Node {
            name,
            parent,
            first_child: NONE,
            next_sibling: first,
            prev_sibling: NONE,
            layer: layer as u32,
            op,
            mark: if top { Mark::Added } else { Mark::Unchanged },
            touched: Touch::No,
            removed: false,
            changed_below: false,
        });
        if first != NONE {
            self.nodes[first as usize].prev_sibling = id;
        }
        self.nodes[parent as usize].first_child = id;
        let nodes = &self.nodes;
        self.children
            .insert(step_hash(parent, name), id, |id| node_hash(nodes, id));
        if top {
            self.touch(id, Touch::Written);
        }
        id
    }

    fn detach_children(&mut self, dir: u32, top: bool) {
        let mut child = self.nodes[dir as usize].first_child;
        while child != NONE {
            let next = self.nodes[child as usize].next_sibling;
            self.detach(child, top);
            child = next;
        }
    }

    /// Unlinks a subtree from its parent; for the top layer, keeps it to show as removed.
    fn detach(&mut self, node: u32, top: bool) {
        let Node {
            parent,
            name,
            prev_sibling: prev,
            next_sibling: next,
            ..
        } = self.nodes[node as usize];
        self.children
            .remove(step_hash(parent, name), |id| id == node);
        self.last_dir = None;
        if prev == NONE {
            self.nodes[parent as usize].first_child = next;
        } else {
            self.nodes[prev as usize].next_sibling = next;
        }
        if next != NONE {
            self.nodes[next as usize].prev_sibling = prev;
        }
        let n = &mut self.nodes[node as usize];
        n.next_sibling = NONE;
        n.prev_sibling = NONE;
        if top {
            self.removed.push(node);
            self.touch(parent, Touch::Emptied);
        }
    }

    fn children_of(&self, node: u32) -> impl Iterator<Item = u32> + '_ {
        let mut cur = self.nodes[node as usize].first_child;
        std::iter::from_fn(move || {
            let this = cur;
            if this == NONE {
                return None;
            }
            cur = self.nodes[this as usize].next_sibling;
            Some(this)
        })
    }

    /// Sets `changed_below` on `from` and its ancestors, up to one already set.
    fn flag_up(&mut self, from: u32) {
        let mut cur = from;
        while cur != NONE && !self.nodes[cur as usize].changed_below {
            self.nodes[cur as usize].changed_below = true;
            self.flagged.push(cur);
            cur = self.nodes[cur as usize].parent;
        }
    }

    /// The mark a view shows for a node that is not removed: its own, or "modified" for an
    /// untouched-looking directory with a change below it.
    fn derived_mark(&self, node: u32) -> Mark {
        let n = &self.nodes[node as usize];
        if n.mark == Mark::Unchanged && n.changed_below && self.is_dir(node) {
            Mark::Modified
        } else {
            n.mark
        }
    }

    /// Derives the top layer's marks and calls `visit` for each change: written nodes,
    /// every node of the removed subtrees, and the directories changed below.
    fn visit_top(
        &mut self,
        layer: usize,
        visit: &mut impl FnMut(&Stack<'_>, usize, u32, Mark, Role) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        // Depth first, parents before children, so each path extends the one before.
        let mut gone = Vec::new();
        let mut pending = Vec::new();
        for i in 0..self.removed.len() {
            let root = self.removed[i];
            pending.push(root);
            while let Some(node) = pending.pop() {
                gone.push(node);
                self.nodes[node as usize].removed = true;
                pending.extend(self.children_of(node));
            }
            let parent = self.nodes[root as usize].parent;
            self.flag_up(parent);
        }
        for i in 0..self.touched.len() {
            let node = self.touched[i];
            let n = &self.nodes[node as usize];
            if !n.removed && n.mark != Mark::Unchanged && n.parent != NONE {
                let parent = n.parent;
                self.flag_up(parent);
            }
        }
        for &node in &self.touched {
            let n = &self.nodes[node as usize];
            if node != ROOT && !n.removed && n.touched == Touch::Written {
                visit(self, layer, node, self.derived_mark(node), Role::Written)?;
            }
        }
        for &node in &gone {
            visit(self, layer, node, Mark::Removed, Role::Removed)?;
        }
        for &node in &self.flagged {
            let n = &self.nodes[node as usize];
            if node != ROOT && n.touched != Touch::Written && !n.removed {
                visit(self, layer, node, self.derived_mark(node), Role::Context)?;
            }
        }
        ControlFlow::Continue(())
    }

    /// Forgets the top layer's marks so the next layer can be stacked as the top. The
    /// removed subtrees stay in the arena, unreachable.
    fn end_top(&mut self) {
        for &node in &self.touched {
            let n = &mut self.nodes[node as usize];
            n.touched = Touch::No;
            n.mark = Mark::Unchanged;
        }
        for &node in &self.flagged {
            self.nodes[node as usize].changed_below = false;
        }
        self.touched.clear();
        self.flagged.clear();
        self.removed.clear();
    }

    /// Hangs the removed subtrees back under the directories they were removed from, so a
    /// view shows them in place, and marks every node in them removed.
    fn hang_removed(&mut self) {
        for i in 0..self.removed.len() {
            let node = self.removed[i];
            let parent = self.nodes[node as usize].parent;
            let first = self.nodes[parent as usize].first_child;
            let n = &mut self.nodes[node as usize];
            n.removed = true;
            n.next_sibling = first;
            n.prev_sibling = NONE;
            if first != NONE {
                self.nodes[first as usize].prev_sibling = node;
            }
            self.nodes[parent as usize].first_child = node;
        }
        self.removed.clear();
    }
}

/// One node of a [`StackedView`].
#[derive(Clone, Copy, Debug)]
struct ViewNode {
    name: u32,
    /// Index of the parent in the view, `NONE` at the top level.
    parent: u32,
    /// One past the last index of the node's subtree (pre-order).
    end: u32,
    layer: u32,
    op: u32,
    size: u64,
    kind: EntryKind,
    mark: Mark,
}

/// What one node of a [`StackedView`] shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewNodeInfo<'t> {
    /// The last path component, exact bytes.
    pub name: &'t [u8],
    /// The node's metadata, as the layer that wrote it gave it (for a directory no
    /// header described: `0755`, root-owned).
    pub meta: EntryMeta<'t>,
    /// Files: their size; directories: the total of the files below them in this view.
    pub size: u64,
    /// How the view's layer changed it.
    pub mark: Mark,
    /// The layer that last wrote it.
    pub layer: usize,
    /// False for a directory no tar header described.
    pub explicit: bool,
}

// Per-node flags while a view is derived.
const CHANGED_BELOW: u8 = 1;
const IN_VIEW_BELOW: u8 = 2;
const KEPT_BELOW: u8 = 4;
const KEPT: u8 = 8;

/// One layer's view, filtered and sorted, as a pre-order arena: node `i`'s subtree is the
/// index range `i + 1 .. subtree_end(i)`, so windows over it need no paths and no
/// recursion. Nodes keep `u32` indices into the [`FileTrees`] they were built from, so
/// every accessor takes those trees again (passing other trees is a bug: wrong names or a
/// panic).
///
/// Filtering keeps the directories above every entry that passes, as dive does, and a
/// directory's size is the total of the files below it that pass.
#[derive(Clone, Debug)]
pub struct StackedView {
    layer: usize,
    kind: ViewKind,
    nodes: Vec<ViewNode>,
}

impl StackedView {
    /// Stacks layers `0..=layer` and lays out the view of `layer`: the entries whose mark
    /// is in `filter` with their ancestors, children in `order`.
    pub fn build(
        trees: &FileTrees,
        layer: usize,
        kind: ViewKind,
        filter: MarkSet,
        order: SortOrder,
    ) -> Result<StackedView, TreeError> {
        trees.check_layer(layer)?;
        let capacity = trees.layers[..=layer].iter().map(|l| l.ops.len()).sum();
        let mut stack = Stack::new(trees, capacity);
        for lower in 0..layer {
            stack.apply(lower, false);
        }
        stack.apply(layer, true);
        stack.hang_removed();
        // The index is only needed while stacking.
        stack.children = IdIndex::default();

        // Pre-order over everything reachable, carrying "removed" down.
        let mut order_list: Vec<u32> = Vec::with_capacity(stack.nodes.len());
        let mut pending = vec![ROOT];
        while let Some(node) = pending.pop() {
            order_list.push(node);
            let removed = stack.nodes[node as usize].removed;
            let mut child = stack.nodes[node as usize].first_child;
            while child != NONE {
                if removed {
                    stack.nodes[child as usize].removed = true;
                }
                pending.push(child);
                child = stack.nodes[child as usize].next_sibling;
            }
        }
        drop(pending);

        // Children before parents: marks, membership, sizes.
        let count = stack.nodes.len();
        let mut bits = vec![0u8; count];
        let mut marks = vec![Mark::Unchanged; count];
        let mut sizes = vec![0u64; count];
        let mut kept = 0usize;
        for &node in order_list.iter().rev() {
            if node == ROOT {
                continue;
            }
            let i = node as usize;
            let n = stack.nodes[i];
            let meta = stack.meta(node);
            let is_dir = meta.kind == EntryKind::Directory;
            let b = bits[i];
            let mark = if n.removed {
                Mark::Removed
            } else if n.mark == Mark::Unchanged && is_dir && b & CHANGED_BELOW != 0 {
                Mark::Modified
            } else {
                n.mark
            };
            let own_change = n.touched != Touch::No || n.removed || n.mark != Mark::Unchanged;
            let in_view = match kind {
                ViewKind::Aggregated => true,
                ViewKind::LayerChanges => own_change || b & IN_VIEW_BELOW != 0,
            };
            let passes = in_view && filter.contains(mark);
            let keep = passes || b & KEPT_BELOW != 0;
            if passes && !is_dir {
                sizes[i] += meta.size;
            }
            marks[i] = mark;
            if keep {
                bits[i] |= KEPT;
                kept += 1;
            }
            let p = n.parent as usize;
            if mark != Mark::Unchanged {
                bits[p] |= CHANGED_BELOW;
            }
            if in_view {
                bits[p] |= IN_VIEW_BELOW;
            }
            if keep {
                bits[p] |= KEPT_BELOW;
            }
            if n.removed == stack.nodes[p].removed {
                sizes[p] += sizes[i];
            }
        }
        drop(order_list);

        // Sorted pre-order of the kept nodes.
        enum Work {
            Enter { node: u32, parent: u32 },
            Exit(u32),
        }
        let mut nodes: Vec<ViewNode> = Vec::with_capacity(kept);
        let mut work: Vec<Work> = Vec::new();
        let mut scratch: Vec<u32> = Vec::new();
        let sorted_children = |node: u32, scratch: &mut Vec<u32>| {
            scratch.clear();
            scratch.extend(
                stack
                    .children_of(node)
                    .filter(|&c| bits[c as usize] & KEPT != 0),
            );
            let by_name = |a: &u32, b: &u32| {
                let (na, nb) = (&stack.nodes[*a as usize], &stack.nodes[*b as usize]);
                trees
                    .name(na.name)
                    .cmp(trees.name(nb.name))
                    // Removed before live for the same name (a path removed and re-added).
                    .then(nb.removed.cmp(&na.removed))
            };
            match order {
                SortOrder::Name => scratch.sort_unstable_by(by_name),
                SortOrder::Size => scratch.sort_unstable_by(|a, b| {
                    sizes[*b as usize]
                        .cmp(&sizes[*a as usize])
                        .then_with(|| by_name(a, b))
                }),
            }
        };
        sorted_children(ROOT, &mut scratch);
        work.extend(
            scratch
                .iter()
                .rev()
                .map(|&node| Work::Enter { node, parent: NONE }),
        );
        while let Some(item) = work.pop() {
            match item {
                Work::Enter { node, parent } => {
                    let index = nodes.len() as u32;
                    let n = &stack.nodes[node as usize];
                    nodes.push(ViewNode {
                        name: n.name,
                        parent,
                        end: NONE,
                        layer: n.layer,
                        op: n.op,
                        size: sizes[node as usize],
                        kind: stack.meta(node).kind,
                        mark: marks[node as usize],
                    });
                    work.push(Work::Exit(index));
                    sorted_children(node, &mut scratch);
                    work.extend(scratch.iter().rev().map(|&child| Work::Enter {
                        node: child,
                        parent: index,
                    }));
                }
                Work::Exit(index) => nodes[index as usize].end = nodes.len() as u32,
            }
        }
        Ok(StackedView { layer, kind, nodes })
    }

    /// The layer this is a view of.
    pub fn layer(&self) -> usize {
        self.layer
    }

    /// Which of the two views it is.
    pub fn kind(&self) -> ViewKind {
        self.kind
    }

    /// Number of nodes (rows with every directory expanded).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when nothing passed the filter.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Bytes the view holds on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<ViewNode>()
    }

    /// What node `index` shows (panics if out of range).
    pub fn info<'t>(&self, trees: &'t FileTrees, index: u32) -> ViewNodeInfo<'t> {
        let n = &self.nodes[index as usize];
        ViewNodeInfo {
            name: trees.name(n.name),
            meta: trees.meta(n.layer, n.op),
            size: n.size,
            mark: n.mark,
            layer: n.layer as usize,
            explicit: n.op != NONE,
        }
    }

    /// The node's name, exact bytes.
    pub fn name<'t>(&self, trees: &'t FileTrees, index: u32) -> &'t [u8] {
        trees.name(self.nodes[index as usize].name)
    }

    /// The node's parent, `None` at the top level.
    pub fn parent(&self, index: u32) -> Option<u32> {
        Some(self.nodes[index as usize].parent).filter(|&p| p != NONE)
    }

    /// One past the last index of the node's subtree.
    pub fn subtree_end(&self, index: u32) -> u32 {
        self.nodes[index as usize].end
    }

    /// Whether anything in the view is below the node.
    pub fn has_children(&self, index: u32) -> bool {
        self.nodes[index as usize].end > index + 1
    }

    /// Whether the node is a directory.
    pub fn is_dir(&self, index: u32) -> bool {
        self.nodes[index as usize].kind == EntryKind::Directory
    }

    /// How many directories are above the node (0 at the top level).
    pub fn depth(&self, index: u32) -> u32 {
        let mut depth = 0;
        let mut cur = self.nodes[index as usize].parent;
        while cur != NONE {
            depth += 1;
            cur = self.nodes[cur as usize].parent;
        }
        depth
    }

    /// Writes the node's path, with a leading `/`, into `out` (cleared first).
    pub fn path_into(&self, trees: &FileTrees, index: u32, out: &mut Vec<u8>) {
        out.clear();
        let mut cur = index;
        while cur != NONE {
            push_reversed(out, trees.name(self.nodes[cur as usize].name));
            cur = self.nodes[cur as usize].parent;
        }
        out.reverse();
    }

    /// The node at `path` (slash-separated, leading slash optional, cleaned like a tar
    /// path). Where a path was removed and written again, the live entry.
    pub fn find(&self, trees: &FileTrees, path: &[u8]) -> Option<u32> {
        let mut parts = Vec::new();
        clean_components(path, &mut parts);
        let (mut start, mut end) = (0u32, self.nodes.len() as u32);
        let mut found = None;
        for part in parts {
            let mut hit = None;
            let mut i = start;
            while i < end {
                let n = &self.nodes[i as usize];
                if trees.name(n.name) == part {
                    hit = Some(i);
                    if n.mark != Mark::Removed {
                        break;
                    }
                }
                i = n.end;
            }
            let node = hit?;
            found = Some(node);
            (start, end) = (node + 1, self.nodes[node as usize].end);
        }
        found
    }

    /// Every node as a [`ViewEntry`] with an owned path, in order.
    fn entries(&self, trees: &FileTrees) -> Vec<ViewEntry> {
        let mut out: Vec<ViewEntry> = Vec::with_capacity(self.nodes.len());
        for (index, n) in self.nodes.iter().enumerate() {
            let info = self.info(trees, index as u32);
            let (mut path, depth) = match self.parent(index as u32) {
                Some(p) => {
                    let parent = &out[p as usize];
                    let mut path = Vec::with_capacity(parent.path.len() + 1 + info.name.len());
                    path.extend_from_slice(&parent.path);
                    path.push(b'/');
                    (path, parent.depth + 1)
                }
                None => (Vec::new(), 0),
            };
            path.extend_from_slice(info.name);
            out.push(ViewEntry {
                path,
                depth,
                kind: n.kind,
                size: n.size,
                mode: info.meta.mode,
                uid: info.meta.uid,
                gid: info.meta.gid,
                link_target: info.meta.link_target.map(<[u8]>::to_vec),
                mark: n.mark,
                layer: info.layer,
                content_hash: info.meta.content_hash,
                explicit: info.explicit,
            });
        }
        out
    }
}
