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

use std::collections::{BTreeMap, HashMap};

use crate::engine::scan::LayerEntry;
use crate::engine::tar::EntryKind;
use crate::engine::tree::{FileTrees, TreeError};

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
    let dive = dive_efficiency(layers);
    let (reclaimable_bytes, reclaimable) = reclaimable(layers)?;
    let sizes: Vec<u64> = layers.iter().map(|l| dive_layer_size(l)).collect();
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

/// A layer's size as dive reports it: Σ tar header sizes, entries whose
/// cleaned path is `.` excluded (dive skips them).
pub fn dive_layer_size(entries: &[LayerEntry]) -> u64 {
    entries
        .iter()
        .filter(|e| go_path_clean(&e.path) != b".")
        .map(|e| e.size)
        .sum()
}

// ---------------------------------------------------------------------------
// reclaimable bytes

fn reclaimable(layers: &[&[LayerEntry]]) -> Result<(u64, Vec<ReclaimablePath>), TreeError> {
    let mut trees = FileTrees::new();
    // Bytes written per cleaned path (no leading slash, like tree views).
    let mut written: HashMap<Vec<u8>, (u64, usize)> = HashMap::new();
    let mut parts: Vec<&[u8]> = Vec::new();
    for entries in layers {
        trees.add_layer(entries)?;
        for e in entries.iter().filter(|e| e.kind != EntryKind::Directory) {
            parts.clear();
            for part in e.path.split(|&b| b == b'/') {
                match part {
                    b"" | b"." => {}
                    b".." => {
                        parts.pop();
                    }
                    p => parts.push(p),
                }
            }
            if parts.last().is_none_or(|last| last.starts_with(b".wh.")) {
                continue;
            }
            let slot = written.entry(parts.join(&b'/')).or_default();
            slot.0 += e.size;
            slot.1 += 1;
        }
    }
    let mut kept: HashMap<Vec<u8>, u64> = HashMap::new();
    for entry in trees.final_view() {
        if entry.kind != EntryKind::Directory {
            kept.insert(entry.path, entry.size);
        }
    }
    let mut total = 0u64;
    let mut list = Vec::new();
    for (path, (bytes, copies)) in written {
        let wasted = bytes.saturating_sub(kept.get(&path).copied().unwrap_or(0));
        total += wasted;
        if wasted > 0 {
            list.push(ReclaimablePath {
                path: format!("/{}", String::from_utf8_lossy(&path)),
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
#[derive(Default)]
struct PathRecord {
    cumulative: i64,
    /// -1 until a size is recorded (and stays -1 in dive's abort case).
    minimum: i64,
    count: usize,
}

fn dive_efficiency(layers: &[&[LayerEntry]]) -> DiveFigures {
    let mut records: HashMap<Vec<u8>, PathRecord> = HashMap::new();
    // Paths in the order they reached two records (dive's list).
    let mut inefficient: Vec<Vec<u8>> = Vec::new();
    let trees: Vec<DiveTree> = layers
        .iter()
        .map(|entries| DiveTree::from_entries(entries))
        .collect();
    // The stack of layers below the current one, built dive's way: a copy
    // of the first layer with layers 0..idx-1 stacked on it.
    let mut below: Option<DiveTree> = None;
    for (idx, tree) in trees.iter().enumerate() {
        if idx == 0 {
            below = Some(trees[0].clone());
        } else {
            let stacked = below.as_mut().expect("first layer stacked");
            stacked.stack(&trees[idx - 1]);
        }
        let stacked = below.as_ref().expect("stack exists");
        for leaf in tree.leaves() {
            let path = tree.dive_path(leaf);
            let record = records.entry(path.clone()).or_insert(PathRecord {
                minimum: -1,
                ..Default::default()
            });
            let size = if tree.is_whiteout(leaf) {
                match stacked.get(&path) {
                    // dive's visitor returns an error here, which ends the
                    // walk of this layer after creating the record.
                    None => break,
                    Some(node) if stacked.nodes[node].is_dir => stacked.subtree_size(node),
                    Some(_) => 0,
                }
            } else {
                tree.nodes[leaf].size
            };
            record.cumulative += size;
            if record.minimum < 0 || size < record.minimum {
                record.minimum = size;
            }
            record.count += 1;
            if record.count == 2 {
                inefficient.push(path);
            }
        }
    }
    let minimum: i64 = records.values().map(|r| r.minimum).sum();
    let discovered: i64 = records.values().map(|r| r.cumulative).sum();
    let score = if discovered == 0 {
        1.0
    } else {
        minimum as f64 / discovered as f64
    };
    let mut inefficiencies: Vec<Inefficiency> = inefficient
        .iter()
        .map(|path| {
            let r = &records[path];
            Inefficiency {
                path: String::from_utf8_lossy(path).into_owned(),
                count: r.count,
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

/// dive's per-layer tree: names as stored, payload (size, is-dir) per node;
/// nodes created for missing parents carry an empty payload.
#[derive(Clone)]
struct DiveTree {
    nodes: Vec<DiveNode>,
}

#[derive(Clone)]
struct DiveNode {
    name: Vec<u8>,
    parent: usize,
    children: BTreeMap<Vec<u8>, usize>,
    size: i64,
    is_dir: bool,
}

const WHITEOUT: &[u8] = b".wh.";
const DOUBLE_WHITEOUT: &[u8] = b".wh..wh..";

impl DiveTree {
    fn new() -> DiveTree {
        DiveTree {
            nodes: vec![DiveNode {
                name: Vec::new(),
                parent: usize::MAX,
                children: BTreeMap::new(),
                size: 0,
                is_dir: false,
            }],
        }
    }

    fn from_entries(entries: &[LayerEntry]) -> DiveTree {
        let mut tree = DiveTree::new();
        for e in entries {
            // Rooted, so `..` stops at the root as it does when the layer is extracted, and
            // the path is the one the file list shows.
            let clean = go_path_clean(&[b"/".as_slice(), &e.path[..]].concat());
            if clean == b"/" {
                continue;
            }
            let names: Vec<Vec<u8>> = split_names(&clean);
            tree.add_path(&names, e.size as i64, e.kind == EntryKind::Directory);
        }
        tree
    }

    /// dive's `AddPath`: walk or create nodes; the payload goes to the last.
    fn add_path(&mut self, names: &[Vec<u8>], size: i64, is_dir: bool) {
        let mut node = 0;
        for (i, name) in names.iter().enumerate() {
            node = match self.nodes[node].children.get(name) {
                Some(&child) => child,
                None => {
                    if name.starts_with(DOUBLE_WHITEOUT) {
                        return;
                    }
                    let id = self.nodes.len();
                    self.nodes.push(DiveNode {
                        name: name.clone(),
                        parent: node,
                        children: BTreeMap::new(),
                        size: 0,
                        is_dir: false,
                    });
                    self.nodes[node].children.insert(name.clone(), id);
                    id
                }
            };
            if i == names.len() - 1 {
                self.nodes[node].size = size;
                self.nodes[node].is_dir = is_dir;
            }
        }
    }

    fn get(&self, path: &[u8]) -> Option<usize> {
        split_names(path)
            .iter()
            .try_fold(0, |node, name| self.nodes[node].children.get(name).copied())
    }

    /// dive's `Remove`; like dive, refuses to remove the root (a whiteout
    /// named just `.wh.`).
    fn remove(&mut self, node: usize) {
        if node == 0 {
            return;
        }
        let parent = self.nodes[node].parent;
        let name = self.nodes[node].name.clone();
        self.nodes[parent].children.remove(&name);
    }

    fn is_whiteout(&self, node: usize) -> bool {
        self.nodes[node].name.starts_with(WHITEOUT)
    }

    /// dive's `Path()`: `/`-joined names, a leaf's whiteout prefix stripped.
    fn dive_path(&self, node: usize) -> Vec<u8> {
        let mut names = Vec::new();
        let mut cur = node;
        while cur != 0 {
            let name = &self.nodes[cur].name;
            names.push(if cur == node {
                name.strip_prefix(WHITEOUT).unwrap_or(name)
            } else {
                name.as_slice()
            });
            cur = self.nodes[cur].parent;
        }
        let mut path = Vec::new();
        for name in names.iter().rev() {
            path.push(b'/');
            path.extend_from_slice(name);
        }
        // dive collapses "//" (left by a leaf named exactly ".wh.").
        while let Some(i) = path.windows(2).position(|w| w == b"//") {
            path.remove(i);
        }
        if path.is_empty() {
            path.push(b'/');
        }
        path
    }

    /// Nodes in dive's `VisitDepthChildFirst` order (children by name, then
    /// the node), root excluded.
    fn post_order(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(usize, bool)> = vec![(0, false)];
        while let Some((node, expanded)) = stack.pop() {
            if expanded {
                if node != 0 {
                    out.push(node);
                }
                continue;
            }
            stack.push((node, true));
            for &child in self.nodes[node].children.values().rev() {
                stack.push((child, false));
            }
        }
        out
    }

    fn leaves(&self) -> Vec<usize> {
        self.post_order()
            .into_iter()
            .filter(|&n| self.nodes[n].children.is_empty())
            .collect()
    }

    /// Σ size of a node and everything under it.
    fn subtree_size(&self, node: usize) -> i64 {
        let mut total = 0;
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            total += self.nodes[n].size;
            stack.extend(self.nodes[n].children.values().copied());
        }
        total
    }

    /// dive's `Stack`: every node of `upper`, children first; whiteouts
    /// remove their path, everything else is added with its payload (empty
    /// payloads included, which resets lower directories' payloads).
    fn stack(&mut self, upper: &DiveTree) {
        for node in upper.post_order() {
            let path = upper.dive_path(node);
            if upper.is_whiteout(node) {
                if let Some(target) = self.get(&path) {
                    self.remove(target);
                }
            } else {
                let n = &upper.nodes[node];
                self.add_path(&split_names(&path), n.size, n.is_dir);
            }
        }
    }
}

fn split_names(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|p| !p.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
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
