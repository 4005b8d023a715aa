//! One image's analysis, whatever its bytes come from: its config read and verified, each
//! layer's scan verified against the documents, and at the end the stacked trees, efficiency
//! and history as one [`ImageReport`].
//!
//! The archive reader and the registry client both plan an image ([`ImagePlan`]: a config
//! and layers, each with the digest the documents promise) and feed its layers' scans here,
//! so a `docker save` of an image and the same image pulled from a registry give the same
//! report.

use crate::engine::efficiency;
use crate::engine::scan::{Digests, LayerDigests, LayerError, LayerSummary, ScanOptions, Scanner};
use crate::engine::transfer::PackedEntries;
use crate::engine::tree::TreeError as StackError;
use crate::engine::tree::{FileTrees, Mark, MarkSet, SortOrder, StackedView, ViewKind};
use crate::model::config::ConfigError;
use crate::model::config::ImageConfig;
use crate::model::digest::{Digest, Hasher};
use crate::present::report::{
    DigestRole, DocumentText, EfficiencyReport, FileKind, ImageDocuments, ImageListing,
    ImageReport, InefficientFile, LayerReport, MergedFile, MergedFiles, SourceInfo, Verification,
};
use crate::present::verification::{checked, LayerVerifier};
use crate::present::{dive, history, inspect};

/// Where one blob of an image is and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobPlan {
    /// Where the blob is: the archive member's path, or the digest in a registry.
    pub path: String,
    /// Digest the content must hash to, when the documents say.
    pub expected: Option<Digest>,
    /// The media type the manifest gives, when it has one.
    pub media_type: Option<String>,
}

/// One image as planned from its documents: what to read to analyse it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePlan {
    /// How the image is listed (tags, digests, platform).
    pub listing: ImageListing,
    /// The document that listed this image, for messages.
    pub listed_by: String,
    /// The document that lists the layers, by the name the source gives it: an archive
    /// member (`manifest.json`, `blobs/sha256/...`), or a registry manifest's digest.
    pub manifest: String,
    /// The image config.
    pub config: BlobPlan,
    /// The layers, bottom first.
    pub layers: Vec<BlobPlan>,
    /// Checks made while planning, matched or not: the digests of the documents read to find
    /// this image (an OCI layout's index and manifest blobs), and the layer blobs' sizes that
    /// differ from their descriptors' (an archive member's size is known before it is read).
    /// They lead the report's verification rows.
    pub document_checks: Vec<Verification>,
}

/// Why an image's documents or layers could not be analysed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AnalysisError {
    /// The config is not a valid image config.
    #[error("{file} is not valid: {source}")]
    BadConfig {
        /// Where the config is.
        file: String,
        /// The parser's reason, with the field's path.
        source: ConfigError,
    },
    /// The config and the manifest disagree on the layers.
    #[error("{file} is not valid: {detail}")]
    LayerCount {
        /// Where the config is.
        file: String,
        /// Both counts, and who gave them.
        detail: String,
    },
    /// A layer could not be scanned.
    #[error("layer {index} ({file}): {source}")]
    Layer {
        /// Layer index, 0 for the bottom layer.
        index: usize,
        /// The layer's path.
        file: String,
        /// What the scanner found (it names the offset inside the layer).
        source: LayerError,
    },
    /// The analysis was finished before every layer was scanned.
    #[error("layer {index} was never scanned")]
    Unscanned {
        /// The first layer without a scan.
        index: usize,
    },
    /// The layers could not be stacked (a bound on entries was hit).
    #[error("{source}")]
    Stack {
        /// The tree's reason.
        source: StackError,
    },
    /// A scan or digests were given for a layer the image does not have.
    #[error("layer {index} does not exist; the image has {count} layers")]
    NoSuchLayer {
        /// The index given.
        index: usize,
        /// The image's layer count.
        count: usize,
    },
    /// A layer's digests were given a second time.
    #[error("layer {index}'s digests were given twice")]
    DigestsRepeated {
        /// The layer.
        index: usize,
    },
}

/// A finished analysis: the report, and the stacked trees the page's Files tab is drawn
/// from (only the compact per-layer operation lists; the scanners' entries are dropped).
pub struct FinishedImage {
    /// The finished report.
    pub report: ImageReport,
    /// Every layer's changes, for [`crate::present::tree_view`] and
    /// [`crate::present::search`].
    pub trees: FileTrees,
}

/// One image being analysed; see the module documentation.
pub struct Analysis {
    report: ImageReport,
    plan: ImagePlan,
    config: ImageConfig,
    image_id: Digest,
    diff_ids: Vec<Digest>,
    /// By layer index: layers may be scanned in any order (a page scans several at once).
    /// Each scanned layer's entries, packed until [`Analysis::finish`] stacks them.
    packed: Vec<Option<PackedEntries>>,
    /// What the layers' scanners are told to bound.
    limits: crate::limits::Limits,
    /// Each layer's digests, checked when they come (with the scan, or on their own).
    verifier: LayerVerifier,
}

impl Analysis {
    /// Reads and verifies the config; the report then has everything but the scan results.
    /// `images` are all the images the source lists, `selected` the one `plan` is for.
    pub fn new(
        plan: ImagePlan,
        config_bytes: &[u8],
        images: Vec<ImageListing>,
        selected: usize,
        source: SourceInfo,
    ) -> Result<Analysis, AnalysisError> {
        let file = plan.config.path.clone();
        let image_id = Digest::sha256_of(config_bytes);
        let mut verification = plan.document_checks.clone();
        if let Some(expected) = &plan.config.expected {
            let mut hasher = Hasher::for_digest(expected);
            hasher.update(config_bytes);
            // A config that is not what its name or descriptor says is still read and
            // shown; the row marks it.
            verification.push(checked(
                DigestRole::Config,
                &file,
                expected,
                &hasher.finish(),
            ));
        }
        let config =
            ImageConfig::parse(config_bytes).map_err(|source| AnalysisError::BadConfig {
                file: file.clone(),
                source,
            })?;
        let diff_ids = config.diff_ids().to_vec();
        if diff_ids.len() != plan.layers.len() {
            return Err(AnalysisError::LayerCount {
                file,
                detail: format!(
                    "rootfs.diff_ids lists {} layers but {} lists {}",
                    diff_ids.len(),
                    plan.listed_by,
                    plan.layers.len()
                ),
            });
        }
        let listing = images[selected].clone();
        let image_ls = inspect::image_ls_row(
            listing.tags.first().map(String::as_str),
            source.format.is_oci_layout(),
            &image_id,
            &config,
            0,
        );
        let commands = history::layer_commands(&config, plan.layers.len());
        let layers = plan
            .layers
            .iter()
            .enumerate()
            .map(|(index, layer)| LayerReport {
                index,
                path: layer.path.clone(),
                digest: layer.expected.clone(),
                diff_id: Some(diff_ids[index].clone()),
                media_type: layer.media_type.clone(),
                command: commands[index].clone(),
                ..Default::default()
            })
            .collect();
        let inspect_view = inspect_view(&config, &image_id, &listing, None);
        let mut report = ImageReport {
            source,
            selected,
            image_ls,
            history: history::report_rows(&config, &image_id, &[]).0,
            inspect: inspect_value(&inspect_view),
            run_config: inspect::run_config(&config),
            documents: ImageDocuments {
                inspect: inspect::to_docker_json(std::slice::from_ref(&inspect_view)),
                manifest: None,
                config: DocumentText::new(file.clone(), config_bytes),
                dockerfile: history::dockerfile(&config),
            },
            layers,
            images,
            verification,
            ..Default::default()
        };
        let layer_count = plan.layers.len();
        let verifier = LayerVerifier::new(
            plan.layers
                .iter()
                .map(|layer| layer.expected.clone())
                .collect(),
            diff_ids.clone(),
        );
        verifier.update_report(&mut report);
        Ok(Analysis {
            report,
            plan,
            config,
            image_id,
            diff_ids,
            packed: vec![None; layer_count],
            verifier,
            limits: crate::limits::Limits::DEFAULT,
        })
    }

    /// The same analysis, its layers scanned within `limits` (zstd window, names).
    pub fn with_limits(mut self, limits: crate::limits::Limits) -> Analysis {
        self.limits = limits;
        self
    }

    /// How many entries the config's history has.
    pub fn history_len(&self) -> usize {
        self.config.history.len()
    }

    /// Keeps the text of the manifest that listed the image (see [`ImagePlan::manifest`]).
    pub fn add_manifest(&mut self, bytes: &[u8]) {
        self.report.documents.manifest = Some(DocumentText::new(self.plan.manifest.clone(), bytes));
    }

    /// Names the index the image was chosen from.
    pub fn set_index_digest(&mut self, digest: Digest) {
        self.report.index_digest = Some(digest);
    }

    /// The report so far: the overview (documents, history, layer rows as scanned, the
    /// documents' checks); the layers' digest checks are written into it by
    /// [`Analysis::finish`].
    pub fn report(&self) -> &ImageReport {
        &self.report
    }

    /// Adds things the source found odd to the report.
    pub fn add_warnings(&mut self, warnings: impl IntoIterator<Item = String>) {
        self.report.warnings.extend(warnings);
    }

    /// How many layers the image has.
    pub fn layer_count(&self) -> usize {
        self.plan.layers.len()
    }

    /// The layer's member in the archive and the document that names it.
    pub fn layer_path(&self, layer: usize) -> (&str, &str) {
        (&self.plan.layers[layer].path, &self.plan.listed_by)
    }

    /// What the documents promise about layer `layer`, for its scanner.
    pub fn scan_options(&self, layer: usize) -> ScanOptions {
        let blob = &self.plan.layers[layer];
        ScanOptions {
            expected_blob_digest: blob.expected.clone(),
            expected_diff_id: Some(self.diff_ids[layer].clone()),
            declared_media_type: blob.media_type.clone(),
            hashing: Default::default(),
            limits: self.limits,
        }
    }

    /// A scanner told what the documents promise about layer `layer`.
    pub fn scanner(&self, layer: usize) -> Scanner {
        Scanner::new(self.scan_options(layer))
    }

    /// Ends layer `layer`'s scan; see [`Analysis::add_layer`].
    pub fn finish_layer(
        &mut self,
        layer: usize,
        name: &str,
        scanner: Scanner,
    ) -> Result<LayerReport, AnalysisError> {
        let result = match scanner.finish() {
            // The digests are checked in add_layer, with the archive's names in the message.
            Err(LayerError::DigestMismatch { summary, .. }) => Ok(*summary),
            other => other,
        };
        self.add_layer(layer, name, result)
    }

    /// Fills layer `layer`'s row from its scan; the scan's digests, when it has them, are
    /// checked against the documents (a summary whose digests were skipped leaves the layer
    /// unverified until [`Analysis::add_layer_digests`]).
    pub fn add_layer(
        &mut self,
        layer: usize,
        name: &str,
        result: Result<LayerSummary, LayerError>,
    ) -> Result<LayerReport, AnalysisError> {
        let count = self.layer_count();
        if layer >= count {
            return Err(AnalysisError::NoSuchLayer {
                index: layer,
                count,
            });
        }
        let summary = result.map_err(|source| AnalysisError::Layer {
            index: layer,
            file: name.into(),
            source,
        })?;
        if let Digests::Computed(digests) = &summary.digests {
            // Digests that came on their own first were checked then.
            if !self.verifier.is_checked(layer) {
                self.verifier.check(layer, name, digests)?;
            }
        }
        let row = &mut self.report.layers[layer];
        row.path = name.to_string();
        row.compression = Some(summary.compression);
        row.stored_size = summary.compressed_size;
        row.tar_size = summary.uncompressed_size;
        row.size_bytes = summary.entries_size;
        row.entry_count = summary.entries.len() as u64;
        row.file_list = summary
            .entries
            .iter()
            .filter_map(|entry| dive::layer_file(&entry))
            .collect();
        row.scanned = true;
        for warning in &summary.warnings {
            self.report
                .warnings
                .push(format!("layer {layer} ({name}): {warning}"));
        }
        // The entries are read again only when the layers are stacked, in order.
        self.packed[layer] = Some(summary.entries);
        // The verification rows are written once, in finish: writing them here, after
        // every layer, made an image of n layers cost n² row copies.
        Ok(self.report.layers[layer].clone())
    }

    /// Checks layer `layer`'s digests from a digest pass (before or after its entries); the
    /// layer counts as checked from here on; a mismatch is a row with `ok: false`.
    pub fn add_layer_digests(
        &mut self,
        layer: usize,
        name: &str,
        digests: &LayerDigests,
    ) -> Result<(), AnalysisError> {
        self.verifier.check(layer, name, digests)
    }

    /// The layers' digest checks so far, for a caller that takes digests after
    /// [`Analysis::finish`] (a tree shown before its hashes are done).
    pub fn verifier(&self) -> &LayerVerifier {
        &self.verifier
    }

    /// Stacks the layers and computes the image-wide figures: the finished report, with
    /// the stacked trees.
    pub fn finish(mut self, bytes_read: u64) -> Result<FinishedImage, AnalysisError> {
        let stack_error = |source: StackError| AnalysisError::Stack { source };
        if let Some(index) = self.packed.iter().position(Option::is_none) {
            return Err(AnalysisError::Unscanned { index });
        }
        self.verifier.update_report(&mut self.report);
        let mut trees = FileTrees::new();
        // dive's pass first, over every layer, and its trees freed before the layers are
        // stacked: the two are the largest things an analysis builds, and never needed at
        // once (a page's worker never gives memory back, so its peak is what it keeps).
        let mut figures = efficiency::EfficiencyBuilder::new();
        for (row, packed) in self.report.layers.iter_mut().zip(&self.packed) {
            let packed = packed.as_ref().expect("every layer was scanned");
            row.size_bytes = figures
                .add_layer(packed.iter(), &mut trees)
                .map_err(stack_error)?;
        }
        let figures = figures.finish_layers(&trees);
        // One layer at a time, each freed once stacked, so at most one is ever unpacked.
        for packed in &mut self.packed {
            let packed = packed.take().expect("every layer was scanned");
            trees.add_entries(packed.iter()).map_err(stack_error)?;
        }
        // Adding layers is over: free the name index before the views are stacked.
        trees.compact();
        let counts = trees.change_counts();
        for (row, counts) in self.report.layers.iter_mut().zip(counts) {
            row.added = counts.added;
            row.modified = counts.modified;
            row.removed = counts.removed;
        }
        let figures = figures.finish(&trees).map_err(stack_error)?;
        self.report.files = merged_files(&trees).map_err(stack_error)?;
        self.report.efficiency = Some(EfficiencyReport {
            size_bytes: figures.size_bytes,
            user_size_bytes: figures.user_size_bytes,
            wasted_bytes: figures.wasted_bytes,
            score: finite(figures.score),
            wasted_user_percent: finite(figures.wasted_user_percent),
            reclaimable_bytes: figures.reclaimable_bytes,
        });
        self.report.inefficient_files = figures
            .inefficiencies
            .iter()
            .map(|i| InefficientFile {
                path: i.path.clone(),
                count: i.count as u64,
                wasted_bytes: i.cumulative_bytes,
            })
            .collect();
        let listing = self.report.images[self.report.selected].clone();
        self.report.image_ls = inspect::image_ls_row(
            listing.tags.first().map(String::as_str),
            self.report.source.format.is_oci_layout(),
            &self.image_id,
            &self.config,
            figures.size_bytes,
        );
        let sizes: Vec<u64> = self.report.layers.iter().map(|l| l.size_bytes).collect();
        let (history, warnings) = history::report_rows(&self.config, &self.image_id, &sizes);
        self.report.history = history;
        self.report.warnings.extend(warnings);
        let inspect_view = inspect_view(
            &self.config,
            &self.image_id,
            &listing,
            Some(figures.size_bytes),
        );
        self.report.inspect = inspect_value(&inspect_view);
        self.report.documents.inspect =
            inspect::to_docker_json(std::slice::from_ref(&inspect_view));
        self.report.source.bytes_read = bytes_read;
        self.report.complete = true;
        Ok(FinishedImage {
            report: self.report,
            trees,
        })
    }
}

/// JSON has no NaN or infinity; dive's ratio is NaN when an image has one layer.
fn finite(value: f64) -> f64 {
    if value.is_finite() {
        value
    } else {
        0.0
    }
}

/// The file system after the last layer, one row per entry, built straight from the
/// stacked view so no second list of every path exists on the way. The view is in tree
/// order (each node after its parent), so each row's path is its parent's, kept on a
/// stack, plus its own name: the work is linear in the names' length, however deep the
/// tree (building every path from the root would be depth times length).
fn merged_files(trees: &FileTrees) -> Result<MergedFiles, StackError> {
    let Some(top) = trees.layer_count().checked_sub(1) else {
        return Ok(MergedFiles::new());
    };
    let live = MarkSet::ALL.without(Mark::Removed);
    let view = StackedView::build(trees, top, ViewKind::Aggregated, live, SortOrder::Name)?;
    let mut files = MergedFiles::new();
    // The ancestors of the next row: view index and the length of its path.
    let mut parents: Vec<(u32, usize)> = Vec::new();
    let mut added = String::new();
    for index in 0..view.len() as u32 {
        let parent = view.parent(index);
        while parents
            .last()
            .is_some_and(|&(node, _)| Some(node) != parent)
        {
            parents.pop();
        }
        let kept = parents.last().map_or(0, |&(_, len)| len);
        added.clear();
        if kept > 0 {
            added.push('/');
        }
        // Each name alone: a `/` ends any invalid sequence, so this is the whole path's
        // lossy text.
        added.push_str(&String::from_utf8_lossy(view.name(trees, index)));
        let info = view.info(trees, index);
        let row = MergedFile {
            path: String::new(),
            kind: FileKind::from(info.meta.kind),
            size: info.size,
            mode: info.meta.mode,
            link_name: info
                .meta
                .link_target
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .unwrap_or_default(),
            layer: info.layer,
        };
        files.push_extending(kept, &added, &row);
        parents.push((index, kept + added.len()));
    }
    files.shrink_to_fit();
    Ok(files)
}

#[cfg(test)]
mod merged_files_tests {
    use super::*;
    use crate::engine::scan::LayerEntry;
    use crate::engine::tar::EntryKind;

    fn entry(path: &[u8], kind: EntryKind) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            link_target: None,
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 3,
            mtime: 0,
            content_hash: (kind == EntryKind::File).then_some(3),
        }
    }

    /// The rows as they were built before: every path from the root.
    fn from_the_root(trees: &FileTrees) -> Vec<String> {
        let live = MarkSet::ALL.without(Mark::Removed);
        let top = trees.layer_count() - 1;
        let view =
            StackedView::build(trees, top, ViewKind::Aggregated, live, SortOrder::Name).unwrap();
        let mut path = Vec::new();
        (0..view.len() as u32)
            .map(|index| {
                view.path_into(trees, index, &mut path);
                String::from_utf8_lossy(&path[1..]).into_owned()
            })
            .collect()
    }

    #[test]
    fn rows_are_the_paths_from_the_root_and_the_same_bytes() {
        let mut trees = FileTrees::new();
        let first = [
            entry(b"usr/lib/a", EntryKind::File),
            entry(b"usr/lib/ab", EntryKind::File),
            entry(b"usr/libexec/x", EntryKind::File),
            entry(b"usr/l\xffb/\xe2\x82/c", EntryKind::File),
            entry(b"etc", EntryKind::Directory),
            entry(b"\xc3\xa9t\xc3\xa9/f", EntryKind::File),
        ];
        trees.add_layer(&first).unwrap();
        trees
            .add_layer(&[entry(b"usr/lib/.wh.a", EntryKind::File)])
            .unwrap();
        let merged = merged_files(&trees).unwrap();
        let paths: Vec<String> = merged.iter().map(|row| row.path).collect();
        assert_eq!(paths, from_the_root(&trees));
        assert!(paths.contains(&"usr/lib/ab".to_string()), "{paths:?}");
        assert!(
            !paths.contains(&"usr/lib/a".to_string()),
            "removed: {paths:?}"
        );
        // Row for row what pushing the whole paths stores.
        let whole: MergedFiles = merged.iter().collect();
        assert_eq!(whole, merged);
    }

    #[test]
    fn a_deep_path_costs_its_length_not_its_length_times_its_depth() {
        let depth = 50_000;
        let path = "d/".repeat(depth) + "f";
        let mut trees = FileTrees::new();
        trees
            .add_layer(&[entry(path.as_bytes(), EntryKind::File)])
            .unwrap();
        let merged = merged_files(&trees).unwrap();
        assert_eq!(merged.len(), depth + 1);
        // Stored as what each row adds: a few bytes a row, not the whole path.
        assert!(
            merged.heap_bytes() < 40 * depth + path.len(),
            "{}",
            merged.heap_bytes()
        );
    }
}

/// The `docker image inspect` view, from the inspect module.
fn inspect_view(
    config: &ImageConfig,
    id: &Digest,
    listing: &ImageListing,
    size: Option<u64>,
) -> inspect::ImageInspect {
    let reference = listing
        .tags
        .first()
        .and_then(|t| crate::model::reference::Reference::parse(t).ok());
    inspect::image_inspect(&inspect::InspectInput {
        config,
        image_id: id,
        reference: reference.as_ref(),
        repo_digest: None,
        size,
    })
}

/// The inspect view as the report's JSON value.
fn inspect_value(view: &inspect::ImageInspect) -> serde_json::Value {
    serde_json::to_value(view).unwrap_or(serde_json::Value::Null)
}
