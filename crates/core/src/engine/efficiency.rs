//! Image efficiency: dive's score and wasted bytes, and reclaimable bytes.
//!
//! Two measures of the space an image spends on files it does not need:
//!
//! **dive's numbers** ([`Efficiency::score`], [`Efficiency::wasted_bytes`],
//! [`Efficiency::wasted_user_percent`]), computed as dive computes them
//! (wagoodman/dive, `dive/filetree/efficiency.go` `Efficiency`,
//! `dive/image/image.go` `Analyze`, `dive/image/docker/image_archive.go`
//! `processLayerTar`), so CI thresholds written for dive mean the same here:
//!
//! - each layer becomes a tree of its tar paths (`path.Clean`ed; missing
//!   parents become empty nodes; `.wh..wh..opq` markers are dropped, though
//!   their parent directories are created);
//! - every *leaf* of every layer's tree is visited, children in name order,
//!   and recorded under its path (a whiteout `.wh.NAME` under NAME's path).
//!   A leaf's size is its tar header size; a whiteout's size is 0, or, when
//!   the path was a directory in the layers below (stacked dive's way:
//!   whiteouts remove, nothing else does), the sum of the sizes in that
//!   directory. If a whiteout names a path absent below, dive stops
//!   visiting the rest of that layer, and the path counts with a minimum
//!   size of -1; reproduced here;
//! - per path: `cumulative` = sum of the recorded sizes, `minimum` = the
//!   smallest one. `score = Σ minimum / Σ cumulative` over all paths (1.0
//!   when nothing was recorded);
//! - `wasted_bytes` = Σ cumulative over paths recorded at least twice. It
//!   counts every copy, including the one the image keeps (dive#684);
//! - layer size = Σ tar header sizes of the layer's entries;
//!   `size_bytes` = Σ layer sizes, `user_size_bytes` = the same without the
//!   first layer, `wasted_user_percent = wasted_bytes / user_size_bytes` (a
//!   ratio, despite the name; NaN or infinite when there are no user bytes,
//!   as in dive).
//!
//! **reclaimable bytes** ([`Efficiency::reclaimable_bytes`]): what the image
//! would save if every path were stored once, in its final version: the
//! bytes of all non-directory entries written by all layers, minus the bytes
//! of the files present in the final file system (stacked with OCI whiteout
//! and opaque-directory rules). A file shadowed by a later copy counts once
//! per shadowed copy; a file later deleted counts fully; the copy that is
//! kept never counts.

use crate::engine::scan::LayerEntry;
use crate::engine::tar::EntryKind;
use crate::engine::tree::{step_hash, FileTrees, IdIndex, Names, TreeError, NONE};

/// dive's efficiency figures plus reclaimable bytes.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Efficiency {
    /// dive's efficiency score, 0..=1 (1 = nothing duplicated or removed).
    pub score: f64,
    /// Σ layer sizes (tar header sizes), dive's `SizeBytes`.
    pub size_bytes: u64,
    /// Σ layer sizes without the first layer, dive's `UserSizeByes`.
    pub user_size_bytes: u64,
    /// dive's wasted bytes (every copy of a path seen more than once).
    pub wasted_bytes: u64,
    /// `wasted_bytes / user_size_bytes`, a ratio, as dive computes it.
    pub wasted_user_percent: f64,
    /// Bytes saved if every path were stored once, in its final version.
    pub reclaimable_bytes: u64,
    /// dive's inefficient paths (seen at least twice), largest first.
    pub inefficiencies: Vec<Inefficiency>,
    /// Paths whose copies or deletion cost bytes, largest first.
    pub reclaimable: Vec<ReclaimablePath>,
}

/// One path dive counts as inefficient.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inefficiency {
    /// dive's form: a leading `/`, whiteout prefix stripped.
    pub path: String,
    /// How many layers recorded the path (writes and whiteouts).
    pub count: usize,
    /// Σ of the recorded sizes (dive's `CumulativeSize`).
    pub cumulative_bytes: u64,
}

/// One path and the bytes storing it once would save.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReclaimablePath {
    /// With a leading `/`, as in dive's lists.
    pub path: String,
    /// How many layers wrote the path.
    pub copies: usize,
    /// Bytes written at this path minus the bytes of its final version.
    pub reclaimable_bytes: u64,
}

/// Computes dive's figures and reclaimable bytes; `layers` bottom first.
pub fn analyze(layers: &[&[LayerEntry]]) -> Result<Efficiency, TreeError> {
    let mut trees = FileTrees::new();
    for entries in layers {
        trees.add_layer(entries)?;
    }
    analyze_stacked(layers, &mut trees)
}

/// [`analyze`] for layers already added to `trees` (the same entries, bottom first), so
/// the reclaimable bytes come from those trees instead of a second stack (and the path
/// names are interned once, in the trees).
pub fn analyze_stacked(
    layers: &[&[LayerEntry]],
    trees: &mut FileTrees,
) -> Result<Efficiency, TreeError> {
    let mut builder = EfficiencyBuilder::new();
    for entries in layers {
        builder.add_layer(entries.iter(), trees)?;
    }
    builder.finish(trees)
}

/// [`analyze`] fed one layer at a time, bottom first, so a layer's entries need not
/// outlive its turn (an analysis can keep them packed and decode them as it goes).
pub struct EfficiencyBuilder {
    dive: DiveStack,
    sizes: Vec<u64>,
}

impl Default for EfficiencyBuilder {
    fn default() -> Self {
        EfficiencyBuilder::new()
    }
}

impl EfficiencyBuilder {
    /// No layers yet.
    pub fn new() -> EfficiencyBuilder {
        EfficiencyBuilder {
            dive: DiveStack::default(),
            sizes: Vec::new(),
        }
    }

    /// Adds the next layer's entries; returns the layer's size as dive reports it
    /// ([`dive_layer_size`]). Path names are interned in `trees` (those [`Self::finish`] is
    /// given), which usually has them already.
    pub fn add_layer<E: std::borrow::Borrow<LayerEntry>>(
        &mut self,
        entries: impl IntoIterator<Item = E>,
        trees: &mut FileTrees,
    ) -> Result<u64, TreeError> {
        let size = self
            .dive
            .add_layer(self.sizes.len(), entries, trees.names_mut())?;
        self.sizes.push(size);
        Ok(size)
    }

    /// The figures, with the reclaimable bytes from `trees` (the same layers, stacked).
    pub fn finish(self, trees: &FileTrees) -> Result<Efficiency, TreeError> {
        self.finish_layers(trees).finish(trees)
    }

    /// Ends dive's pass over the layers: its figures, with its per-path state freed. A
    /// caller that has not stacked the layers yet can do so now, in the memory dive's
    /// trees held (the two never need to exist at once); `trees` gives the path names.
    pub fn finish_layers(self, trees: &FileTrees) -> DiveEfficiency {
        DiveEfficiency {
            dive: self.dive.finish(trees.names()),
            sizes: self.sizes,
        }
    }
}

/// dive's figures for every layer, waiting for the stacked trees' reclaimable bytes
/// ([`EfficiencyBuilder::finish_layers`]).
pub struct DiveEfficiency {
    dive: DiveFigures,
    sizes: Vec<u64>,
}

impl DiveEfficiency {
    /// The figures, with the reclaimable bytes from `trees` (the same layers, stacked).
    pub fn finish(self, trees: &FileTrees) -> Result<Efficiency, TreeError> {
        let DiveEfficiency { dive, sizes } = self;
        let (reclaimable_bytes, reclaimable) = reclaimable(trees)?;
        let size_bytes: u64 = sizes.iter().sum();
        let user_size_bytes: u64 = sizes.iter().skip(1).sum();
        Ok(Efficiency {
            score: dive.score,
            size_bytes,
            user_size_bytes,
            wasted_bytes: dive.wasted_bytes,
            wasted_user_percent: dive.wasted_bytes as f64 / user_size_bytes as f64,
            reclaimable_bytes,
            inefficiencies: dive.inefficiencies,
            reclaimable,
        })
    }
}

/// A layer's size as dive reports it: Σ tar header sizes, entries whose
/// cleaned path is `.` excluded (dive skips them).
pub fn dive_layer_size(entries: &[LayerEntry]) -> u64 {
    entries
        .iter()
        .filter(|e| go_path_clean(&e.path) != b".")
        .map(|e| e.size)
        .sum()
}

/// Paths as chains of `(parent path, name)` steps, each distinct path one `u32` id: keys
/// for per-path figures without an owned string per path. [`ROOT_PATH`] is the empty path.
#[derive(Default)]
struct PathIds {
    /// The ids, by their step.
    index: IdIndex,
    steps: Vec<(u32, u32)>,
}

/// The empty path, parent of the top-level paths.
const ROOT_PATH: u32 = NONE;

impl PathIds {
    /// The id of `parent` extended by the name `name`, made if new.
    fn intern(&mut self, parent: u32, name: u32) -> Option<u32> {
        if let Some(id) = self.get(parent, name) {
            return Some(id);
        }
        let id = u32::try_from(self.steps.len())
            .ok()
            .filter(|&id| id < NONE - 1)?;
        self.steps.push((parent, name));
        let steps = &self.steps;
        self.index.insert(step_hash(parent, name), id, |id| {
            let (parent, name) = steps[id as usize];
            step_hash(parent, name)
        });
        Some(id)
    }

    fn get(&self, parent: u32, name: u32) -> Option<u32> {
        self.index.find(step_hash(parent, name), |id| {
            self.steps[id as usize] == (parent, name)
        })
    }

    fn len(&self) -> usize {
        self.steps.len()
    }
}

/// Writes path `id` as bytes (`/` before each name) into `out`, cleared first.
fn path_bytes<'n>(ids: &PathIds, id: u32, name: impl Fn(u32) -> &'n [u8], out: &mut Vec<u8>) {
    out.clear();
    let mut cur = id;
    while cur != ROOT_PATH {
        let (parent, step) = ids.steps[cur as usize];
        out.extend(name(step).iter().rev());
        out.push(b'/');
        cur = parent;
    }
    out.reverse();
}

// ---------------------------------------------------------------------------
// reclaimable bytes

fn reclaimable(trees: &FileTrees) -> Result<(u64, Vec<ReclaimablePath>), TreeError> {
    let too_large = || TreeError::TooLarge {
        layer: trees.layer_count().saturating_sub(1),
    };
    // Bytes and copies written per cleaned path (the trees' interned components).
    let mut paths = PathIds::default();
    let mut written: Vec<(u64, usize)> = Vec::new();
    let mut failed = false;
    trees.visit_file_writes(|components, size| {
        if failed {
            return;
        }
        let mut id = ROOT_PATH;
        for &name in components {
            match paths.intern(id, name) {
                Some(next) => id = next,
                None => {
                    failed = true;
                    return;
                }
            }
        }
        if written.len() < paths.len() {
            written.resize(paths.len(), (0, 0));
        }
        let slot = &mut written[id as usize];
        slot.0 += size;
        slot.1 += 1;
    });
    if failed {
        return Err(too_large());
    }
    // What the final file system keeps at each written path: read off the stacked layers
    // directly, as laying out a view beside them held twice their memory.
    let mut kept: Vec<u64> = vec![0; paths.len()];
    // `NONE - 1`: no written path at or below the node.
    const UNWRITTEN: u32 = NONE - 1;
    let ids = trees.visit_final_entries(
        |nodes| vec![UNWRITTEN; nodes],
        |ids, node, parent, name, is_dir, size| {
            let parent = match parent {
                None => ROOT_PATH,
                Some(p) => ids[p as usize],
            };
            let id = match parent {
                UNWRITTEN => UNWRITTEN,
                parent => paths.get(parent, name).unwrap_or(UNWRITTEN),
            };
            ids[node as usize] = id;
            if id != UNWRITTEN && !is_dir {
                kept[id as usize] = size;
            }
        },
    );
    drop(ids);
    let mut total = 0u64;
    let mut list = Vec::new();
    let mut path = Vec::new();
    for (id, &(bytes, copies)) in written.iter().enumerate() {
        if copies == 0 {
            continue;
        }
        let wasted = bytes.saturating_sub(kept[id]);
        total += wasted;
        if wasted > 0 {
            path_bytes(&paths, id as u32, |n| trees.name_bytes(n), &mut path);
            list.push(ReclaimablePath {
                path: String::from_utf8_lossy(&path).into_owned(),
                copies,
                reclaimable_bytes: wasted,
            });
        }
    }
    list.sort_by(|a, b| {
        b.reclaimable_bytes
            .cmp(&a.reclaimable_bytes)
            .then_with(|| a.path.cmp(&b.path))
    });
    Ok((total, list))
}

// ---------------------------------------------------------------------------
// dive's model

struct DiveFigures {
    score: f64,
    wasted_bytes: u64,
    inefficiencies: Vec<Inefficiency>,
}

/// Per-path record (dive's `EfficiencyData`).
#[derive(Clone, Copy, Default)]
struct PathRecord {
    cumulative: i64,
    /// -1 until a size is recorded (and stays -1 in dive's abort case).
    minimum: i64,
    count: u32,
    /// dive made a record for the path (possibly without a size, in its abort case).
    exists: bool,
}

/// dive's per-path records over the layers added so far.
#[derive(Default)]
struct DiveStack {
    paths: PathIds,
    records: Vec<PathRecord>,
    /// Paths in the order they reached two records (dive's list).
    inefficient: Vec<u32>,
    /// The stack of layers below the current one, built dive's way: a copy of the first
    /// layer with layers 0..idx-1 stacked on it. Only the previous layer's tree is kept
    /// for that; the first layer is its own stack.
    below: Option<DiveTree>,
    previous: Option<DiveTree>,
    chain: Vec<u32>,
}

impl DiveStack {
    /// Records layer `idx`'s leaves; returns its dive size.
    fn add_layer<E: std::borrow::Borrow<LayerEntry>>(
        &mut self,
        idx: usize,
        entries: impl IntoIterator<Item = E>,
        names: &mut Names,
    ) -> Result<u64, TreeError> {
        let too_large = || TreeError::TooLarge { layer: idx };
        let DiveStack {
            paths,
            records,
            inefficient,
            below,
            previous,
            chain,
        } = self;
        let (tree, layer_size) = DiveTree::from_entries(entries, names).ok_or_else(too_large)?;
        if let Some(lower) = previous.take() {
            let stacked = below.get_or_insert_with(|| lower.clone());
            stacked.stack(&lower, names, chain).ok_or_else(too_large)?;
        }
        let stacked = below.as_ref().unwrap_or(&tree);
        let children = tree.children(names);
        let mut stacked_children: Option<Children> = None;
        // Path ids of the tree's inner nodes; nodes are made after their parents.
        let mut ids: Vec<u32> = Vec::with_capacity(tree.nodes.len());
        ids.push(ROOT_PATH);
        for node in 1..tree.nodes.len() {
            let n = &tree.nodes[node];
            let id = if children.is_leaf(node as u32) {
                // Leaves are keyed by their dive path (a whiteout's prefix stripped) below.
                NONE
            } else {
                paths
                    .intern(ids[n.parent as usize], n.name)
                    .ok_or_else(too_large)?
            };
            ids.push(id);
        }
        // Every leaf may make a record: room for them at once, not by doubling.
        records.reserve_exact((paths.len() + tree.nodes.len()).saturating_sub(records.len()));
        for leaf in children.post_order() {
            if !children.is_leaf(leaf) {
                continue;
            }
            let n = tree.nodes[leaf as usize];
            let whiteout = tree.is_whiteout(leaf, names);
            let name = if whiteout {
                let stripped = names.get(n.name)[WHITEOUT.len()..].to_vec();
                names.intern(&stripped).ok_or_else(too_large)?
            } else {
                n.name
            };
            let id = paths
                .intern(ids[n.parent as usize], name)
                .ok_or_else(too_large)?;
            if records.len() < paths.len() {
                records.resize(paths.len(), PathRecord::default());
            }
            let record = &mut records[id as usize];
            if !record.exists {
                *record = PathRecord {
                    minimum: -1,
                    exists: true,
                    ..Default::default()
                };
            }
            let size = if whiteout {
                tree.dive_components(leaf, names, chain)
                    .ok_or_else(too_large)?;
                match stacked.get(chain) {
                    // dive's visitor returns an error here, which ends the
                    // walk of this layer after creating the record.
                    None => break,
                    Some(node) if stacked.is_dir(node) => {
                        let kids = match (&*below, &mut stacked_children) {
                            (None, _) => &children,
                            (Some(b), slot) => slot.get_or_insert_with(|| b.children(names)),
                        };
                        stacked.subtree_size(node, kids)
                    }
                    Some(_) => 0,
                }
            } else {
                n.size
            };
            let record = &mut records[id as usize];
            record.cumulative += size;
            if record.minimum < 0 || size < record.minimum {
                record.minimum = size;
            }
            record.count += 1;
            if record.count == 2 {
                inefficient.push(id);
            }
        }
        drop(children);
        *previous = Some(tree);
        Ok(layer_size)
    }

    fn finish(self, names: &Names) -> DiveFigures {
        let DiveStack {
            paths,
            records,
            inefficient,
            ..
        } = self;
        let recorded = || records.iter().filter(|r| r.exists);
        let minimum: i64 = recorded().map(|r| r.minimum).sum();
        let discovered: i64 = recorded().map(|r| r.cumulative).sum();
        let score = if discovered == 0 {
            1.0
        } else {
            minimum as f64 / discovered as f64
        };
        let mut path = Vec::new();
        let mut inefficiencies: Vec<Inefficiency> = inefficient
            .iter()
            .map(|&id| {
                let r = &records[id as usize];
                path_bytes(&paths, id, |n| names.get(n), &mut path);
                Inefficiency {
                    path: String::from_utf8_lossy(&path).into_owned(),
                    count: r.count as usize,
                    cumulative_bytes: r.cumulative as u64,
                }
            })
            .collect();
        let wasted_bytes = inefficiencies.iter().map(|i| i.cumulative_bytes).sum();
        inefficiencies.sort_by(|a, b| {
            b.cumulative_bytes
                .cmp(&a.cumulative_bytes)
                .then_with(|| a.path.cmp(&b.path))
        });
        DiveFigures {
            score,
            wasted_bytes,
            inefficiencies,
        }
    }
}

/// Go's `path.Clean`, on bytes.
fn go_path_clean(path: &[u8]) -> Vec<u8> {
    let rooted = path.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|&p| p != b"..") {
                    parts.pop();
                } else if !rooted {
                    parts.push(part);
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join(&b'/');
    match (rooted, joined.is_empty()) {
        (true, _) => [b"/".as_slice(), &joined].concat(),
        (false, true) => b".".to_vec(),
        (false, false) => joined,
    }
}

/// dive's per-layer tree: names as stored (interned), payload (size, is-dir) per node;
/// nodes created for missing parents carry an empty payload. A removed node is unlinked
/// from its parent (its subtree stays in `nodes`, unreachable), as dive drops it.
#[derive(Clone)]
struct DiveTree {
    nodes: Vec<DiveNode>,
    /// Bit `n % 64` of word `n / 64`: node `n`'s payload is a directory's. Beside the
    /// nodes rather than in them, which keeps a node at 16 bytes.
    dirs: Vec<u64>,
    /// The linked children, by their parent and name.
    children: IdIndex,
}

#[derive(Clone, Copy)]
struct DiveNode {
    name: u32,
    parent: u32,
    size: i64,
}

/// One tree's children lists, each in name order (dive walks children sorted by name).
struct Children {
    /// Node `n`'s children are `list[offsets[n]..offsets[n + 1]]`.
    offsets: Vec<u32>,
    list: Vec<u32>,
}

impl Children {
    fn of(&self, node: u32) -> &[u32] {
        let n = node as usize;
        &self.list[self.offsets[n] as usize..self.offsets[n + 1] as usize]
    }

    fn is_leaf(&self, node: u32) -> bool {
        self.of(node).is_empty()
    }

    /// Nodes in dive's `VisitDepthChildFirst` order (children by name, then
    /// the node), root excluded.
    fn post_order(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.list.len());
        let mut stack: Vec<(u32, bool)> = vec![(0, false)];
        while let Some((node, expanded)) = stack.pop() {
            if expanded {
                if node != 0 {
                    out.push(node);
                }
                continue;
            }
            stack.push((node, true));
            for &child in self.of(node).iter().rev() {
                stack.push((child, false));
            }
        }
        out
    }
}

const WHITEOUT: &[u8] = b".wh.";
const DOUBLE_WHITEOUT: &[u8] = b".wh..wh..";

impl DiveTree {
    fn new() -> DiveTree {
        DiveTree {
            nodes: vec![DiveNode {
                name: NONE,
                parent: NONE,
                size: 0,
            }],
            dirs: vec![0],
            children: IdIndex::default(),
        }
    }

    /// Whether node `node`'s payload is a directory's.
    fn is_dir(&self, node: u32) -> bool {
        self.dirs[node as usize / 64] & (1 << (node % 64)) != 0
    }

    /// The hash of node `id`'s step, from its parent and name.
    fn node_hash(nodes: &[DiveNode], id: u32) -> u64 {
        let n = &nodes[id as usize];
        step_hash(n.parent, n.name)
    }

    /// The linked child of `parent` named `name`.
    fn child(&self, parent: u32, name: u32) -> Option<u32> {
        self.children.find(step_hash(parent, name), |id| {
            let n = &self.nodes[id as usize];
            n.parent == parent && n.name == name
        })
    }

    /// The layer's tree and its dive size (Σ header sizes of the entries it keeps).
    fn from_entries<E: std::borrow::Borrow<LayerEntry>>(
        entries: impl IntoIterator<Item = E>,
        names: &mut Names,
    ) -> Option<(DiveTree, u64)> {
        let mut tree = DiveTree::new();
        // About a node per entry: room for them at once, as doubling leaves the old halves
        // behind (and a page's worker never gives them back).
        let entries = entries.into_iter();
        let expected = entries.size_hint().0;
        tree.nodes.reserve_exact(expected);
        tree.dirs.reserve_exact(expected / 64 + 1);
        let nodes = &tree.nodes;
        tree.children
            .reserve(expected, |id| Self::node_hash(nodes, id));
        let mut size = 0u64;
        let mut ids = Vec::new();
        for e in entries {
            let e = e.borrow();
            // Rooted, so `..` stops at the root as it does when the layer is extracted, and
            // the path is the one the file list shows.
            let clean = go_path_clean(&[b"/".as_slice(), &e.path[..]].concat());
            if clean == b"/" {
                continue;
            }
            size += e.size;
            ids.clear();
            for part in clean.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
                ids.push(names.intern(part)?);
            }
            tree.add_path(&ids, names, e.size as i64, e.kind == EntryKind::Directory)?;
        }
        Some((tree, size))
    }

    /// dive's `AddPath`: walk or create nodes; the payload goes to the last.
    fn add_path(&mut self, ids: &[u32], names: &Names, size: i64, is_dir: bool) -> Option<()> {
        let mut node = 0u32;
        for (i, &name) in ids.iter().enumerate() {
            node = match self.child(node, name) {
                Some(child) => child,
                None => {
                    if names.get(name).starts_with(DOUBLE_WHITEOUT) {
                        return Some(());
                    }
                    let id = u32::try_from(self.nodes.len())
                        .ok()
                        .filter(|&id| id != NONE)?;
                    self.nodes.push(DiveNode {
                        name,
                        parent: node,
                        size: 0,
                    });
                    if self.dirs.len() * 64 < self.nodes.len() {
                        self.dirs.push(0);
                    }
                    let nodes = &self.nodes;
                    self.children
                        .insert(step_hash(node, name), id, |id| Self::node_hash(nodes, id));
                    id
                }
            };
            if i == ids.len() - 1 {
                self.nodes[node as usize].size = size;
                let (word, bit) = (node as usize / 64, 1u64 << (node % 64));
                if is_dir {
                    self.dirs[word] |= bit;
                } else {
                    self.dirs[word] &= !bit;
                }
            }
        }
        Some(())
    }

    fn get(&self, ids: &[u32]) -> Option<u32> {
        ids.iter()
            .try_fold(0u32, |node, &name| self.child(node, name))
    }

    /// dive's `Remove`; like dive, refuses to remove the root (a whiteout
    /// named just `.wh.`).
    fn remove(&mut self, node: u32) {
        if node == 0 {
            return;
        }
        let n = self.nodes[node as usize];
        self.children
            .remove(step_hash(n.parent, n.name), |id| id == node);
    }

    fn is_whiteout(&self, node: u32, names: &Names) -> bool {
        node != 0
            && names
                .get(self.nodes[node as usize].name)
                .starts_with(WHITEOUT)
    }

    /// The children lists of the nodes still linked, each sorted by name.
    fn children(&self, names: &Names) -> Children {
        let mut edges: Vec<(u32, u32)> = self
            .children
            .ids()
            .map(|child| (self.nodes[child as usize].parent, child))
            .collect();
        edges.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                names
                    .get(self.nodes[a.1 as usize].name)
                    .cmp(names.get(self.nodes[b.1 as usize].name))
            })
        });
        let mut offsets = vec![0u32; self.nodes.len() + 1];
        for &(parent, _) in &edges {
            offsets[parent as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        Children {
            offsets,
            list: edges.into_iter().map(|(_, child)| child).collect(),
        }
    }

    /// The names of dive's `Path()` of `node` split at `/` (empty names dropped): the
    /// names from the root, a whiteout's prefix stripped from the node's own.
    fn dive_components(&self, node: u32, names: &mut Names, out: &mut Vec<u32>) -> Option<()> {
        out.clear();
        let mut cur = node;
        while cur != 0 {
            let n = &self.nodes[cur as usize];
            let name = names.get(n.name);
            match name.strip_prefix(WHITEOUT) {
                Some(stripped) if cur == node => {
                    if !stripped.is_empty() {
                        let stripped = stripped.to_vec();
                        out.push(names.intern(&stripped)?);
                    }
                }
                _ => out.push(n.name),
            }
            cur = n.parent;
        }
        out.reverse();
        Some(())
    }

    /// Σ size of a node and everything under it.
    fn subtree_size(&self, node: u32, children: &Children) -> i64 {
        let mut total = 0;
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            total += self.nodes[n as usize].size;
            stack.extend_from_slice(children.of(n));
        }
        total
    }

    /// dive's `Stack`: every node of `upper`, children first; whiteouts
    /// remove their path, everything else is added with its payload (empty
    /// payloads included, which resets lower directories' payloads).
    fn stack(&mut self, upper: &DiveTree, names: &mut Names, chain: &mut Vec<u32>) -> Option<()> {
        let order = upper.children(names).post_order();
        for node in order {
            upper.dive_components(node, names, chain)?;
            if upper.is_whiteout(node, names) {
                if let Some(target) = self.get(chain) {
                    self.remove(target);
                }
            } else {
                let size = upper.nodes[node as usize].size;
                self.add_path(chain, names, size, upper.is_dir(node))?;
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::go_path_clean;

    #[test]
    fn cleans_like_go() {
        for (input, want) in [
            ("./etc/passwd", "etc/passwd"),
            ("etc//x/", "etc/x"),
            ("./", "."),
            ("a/../../b", "../b"),
            ("/../a", "/a"),
            ("a/./b/..", "a"),
        ] {
            assert_eq!(go_path_clean(input.as_bytes()), want.as_bytes(), "{input}");
        }
    }
}
