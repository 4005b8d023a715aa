//! One image analysed from a registry: the tag resolved, the manifest (and, for an index,
//! the chosen platform's manifest) fetched and verified, the config read, then every layer
//! streamed by the caller through the scanner, into the same [`Analysis`] an archive feeds.
//!
//! [`ImagePull`] is a state machine on top of [`Session`](super::Session): it names the
//! [`Operation`]s to run, the caller runs each with its session (which answers challenges
//! and keeps the tokens) and hands the [`Outcome`] back. Layers are handed out all at once
//! ([`PullStep::ScanLayers`]) so a page can stream several in parallel workers and report
//! them in any order; the CLI scans them one after the other.
//!
//! ```text
//!  tag ──HEAD──> digest ──GET──> index ──choose platform──> manifest ──> config ──> layers
//!  digest ──────────────GET──> manifest ─────────────────────────────────^
//! ```
//!
//! Layer paths in the report are `blobs/<alg>/<hex>`, as an OCI layout names them, so an
//! image pulled from a registry and the same image copied into an OCI archive give the same
//! layer table.

use std::collections::VecDeque;

use super::api::{FetchedBlob, FetchedManifest, ManifestRef, Repository};
use super::error::RegistryError;
use super::session::{Operation, Outcome};
use crate::engine::scan::{LayerDigests, LayerError, LayerSummary, ScanOptions};
use crate::engine::tree::FileTrees;
use crate::limits::{Limit, LimitExceeded, Limits};
use crate::model::digest::{AnyDigest, Digest, DigestRole};
use crate::model::manifest::{Document, ImageManifest};
use crate::model::platform::{self, Platform};
use crate::model::reference::Reference;
use crate::present::analysis::{Analysis, AnalysisError, BlobPlan, FinishedImage, ImagePlan};
use crate::present::report::{
    ImageListing, ImageReport, LayerReport, SourceFormat, SourceInfo, Verification,
};
use crate::present::verification::{insert_before_layer_digests, layer_size_check, LayerVerifier};

/// What the caller of an [`ImagePull`] does next.
#[derive(Debug, Clone)]
pub enum PullStep {
    /// Run this operation with the session and hand its outcome to [`ImagePull::receive`].
    Run(Operation),
    /// The images the reference names: one, or every platform of an index (attestations
    /// left out), with the one being analysed at `selected`.
    ImagesListed {
        /// The images, in index order.
        images: Vec<ImageListing>,
        /// The one the pull goes on with.
        selected: usize,
    },
    /// The config is read: the report has everything but the layer scans.
    Overview(Box<ImageReport>),
    /// Every layer to stream: run [`LayerJob::operation`] for the authorized request, push the
    /// body into a scanner made with [`LayerJob::options`], and hand the result to
    /// [`ImagePull::layer_scanned`], in any order.
    ScanLayers(Vec<LayerJob>),
    /// One layer has been scanned and verified.
    LayerScanned(Box<LayerReport>),
    /// The finished report; later calls return it again.
    Done(Box<ImageReport>),
    /// The image could not be analysed; later calls return the same error.
    Failed(PullError),
}

/// One layer for the caller to stream and scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerJob {
    /// Layer index, 0 for the bottom layer.
    pub index: usize,
    /// The blob's digest.
    pub digest: Digest,
    /// The blob's size, as the manifest says.
    pub size: u64,
    /// The operation that yields the authorized request for the blob.
    pub operation: Operation,
    /// What the scanner is told (expected digests, declared media type).
    pub options: ScanOptions,
}

impl LayerJob {
    /// The most body bytes to read for the blob; see [`blob_read_limit`].
    pub fn max_body_bytes(&self) -> u64 {
        blob_read_limit(self.size)
    }

    /// Why the blob is refused when the body went past [`LayerJob::max_body_bytes`].
    pub fn oversized(&self, path: &str) -> String {
        oversized_layer(self.index, path, self.size, self.max_body_bytes())
    }
}

/// The most body bytes to read for a blob its manifest says is `declared` bytes long: that
/// and one byte more, which is enough to know that a registry sends more than the manifest
/// says (a registry that lies about a blob cannot make the reader stream forever).
pub fn blob_read_limit(declared: u64) -> u64 {
    declared.saturating_add(1)
}

/// Why layer `index`'s blob (`path`) is refused once its body went past
/// [`blob_read_limit`]; `stopped_at` is how many bytes were read when reading stopped.
pub fn oversized_layer(index: usize, path: &str, declared: u64, stopped_at: u64) -> String {
    format!(
        "layer {index} ({path}): the registry sent more than the {declared} bytes its manifest declares; reading stopped at {stopped_at} bytes"
    )
}

/// Why an image could not be pulled and analysed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PullError {
    /// The registry refused or failed an operation.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The config or a layer could not be analysed.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// The manifest or config went past one of the pull's [`Limits`] (layers, history);
    /// the error's source, so a front end finds it ([`crate::limits::exceeded_in`]).
    #[error("{0}")]
    Limit(#[from] LimitExceeded),
    /// The index has no manifest for the platform asked for.
    #[error("{reference} has no image for {wanted}; it has: {}", if available.is_empty() { "no platforms".to_string() } else { available.join(", ") })]
    NoPlatform {
        /// The reference.
        reference: String,
        /// The platform asked for.
        wanted: String,
        /// The platforms the index lists.
        available: Vec<String>,
    },
    /// The reference names something that is not a runnable image.
    #[error("{reference}: {detail}")]
    NotAnImage {
        /// The reference.
        reference: String,
        /// What it is instead.
        detail: String,
    },
    /// The caller answered with the wrong outcome or at the wrong time.
    #[error("image pull misuse: {detail}")]
    Protocol {
        /// What the caller did.
        detail: String,
    },
}

enum Stage {
    /// The tag's `HEAD` is out.
    Resolving,
    /// The reference's own manifest (or index) is out.
    Manifest {
        asked: Digest,
    },
    /// The chosen platform's manifest is out.
    PlatformManifest {
        images: Vec<ImageListing>,
        selected: usize,
        asked: Digest,
        verification: Vec<Verification>,
    },
    /// The config is out.
    Config {
        manifest: ImageManifest,
        /// The manifest's bytes as received, for the report's documents.
        manifest_bytes: Vec<u8>,
        images: Vec<ImageListing>,
        selected: usize,
        verification: Vec<Verification>,
    },
    /// The layers are with the caller.
    Layers {
        analysis: Box<Analysis>,
        left: usize,
        sizes: LayerSizes,
    },
    Finished(Result<Box<FinishedImage>, PullError>),
}

/// The layers' sizes as the manifest declares them, and the layers whose blobs the registry
/// sent with another length (shorter, or the one byte longer that [`blob_read_limit`] lets
/// through: more is refused as it streams).
#[derive(Debug, Default)]
struct LayerSizes {
    declared: Vec<u64>,
    /// (layer, its size row), in the order the scans ended.
    mismatched: Vec<(usize, Verification)>,
}

/// One image pulled from a registry; see the module documentation.
pub struct ImagePull {
    reference: Reference,
    repository: Repository,
    platform: Platform,
    stage: Stage,
    outbox: VecDeque<PullStep>,
    bytes_read: u64,
    /// The digest of the index the image was chosen from, once one was fetched.
    index_digest: Option<Digest>,
    /// Digests from digest passes run beside the entries scans ([`ImagePull::layer_digests`]).
    digests: SeparateDigests,
    /// Bounds on the layers, the history and the layers' contents.
    limits: Limits,
}

/// Layers' digests that come apart from their entries (a page hashing in another worker).
/// They are checked only once the image is finished, so a layer that does not match its
/// digest cannot keep the tree from being shown: the report then names the mismatch.
#[derive(Default)]
struct SeparateDigests {
    /// Digests that came before the image was finished, at most one per layer.
    early: Vec<(usize, LayerDigests)>,
    /// From [`PullStep::Done`] on: the layers' checks so far.
    verifier: LayerVerifier,
    /// Each layer's blob path, for the verification's subjects.
    paths: Vec<String>,
}

impl ImagePull {
    /// A pull of `reference`; from an index, the image for `platform` is analysed.
    pub fn new(reference: Reference, platform: Platform) -> ImagePull {
        let repository = Repository::of(&reference);
        let (first, stage) = match ManifestRef::of(&reference) {
            // Docker Hub counts a manifest GET as a pull, a HEAD not: resolve tags with HEAD.
            ManifestRef::Tag(tag) => (
                Operation::ResolveTag {
                    repository: repository.clone(),
                    tag,
                },
                Stage::Resolving,
            ),
            ManifestRef::Digest(digest) => (
                Operation::Manifest {
                    repository: repository.clone(),
                    reference: ManifestRef::Digest(digest.clone()),
                },
                Stage::Manifest { asked: digest },
            ),
        };
        ImagePull {
            reference,
            repository,
            platform,
            stage,
            outbox: VecDeque::from([PullStep::Run(first)]),
            bytes_read: 0,
            index_digest: None,
            digests: SeparateDigests::default(),
            limits: Limits::DEFAULT,
        }
    }

    /// The same pull within `limits` instead of [`Limits::DEFAULT`], as an archive is read
    /// ([`crate::archive::ArchiveReader::with_limits`]): the manifest's layer count, the
    /// config's history, and in the layers the path bounds and the zstd window. Documents'
    /// sizes are the [`super::Session`]'s to bound ([`super::Session::with_limits`]), where
    /// the body is read.
    pub fn with_limits(mut self, limits: Limits) -> ImagePull {
        self.limits = limits;
        self
    }

    /// What the caller must do next.
    pub fn next_step(&mut self) -> Option<PullStep> {
        if let Some(step) = self.outbox.pop_front() {
            return Some(step);
        }
        match &self.stage {
            Stage::Finished(Ok(finished)) => {
                Some(PullStep::Done(Box::new(finished.report.clone())))
            }
            Stage::Finished(Err(error)) => Some(PullStep::Failed(error.clone())),
            // Waiting for an outcome or for layer scans.
            _ => None,
        }
    }

    /// The stacked file trees of the analysed image, for tree views and searches
    /// ([`crate::present::tree_view`], [`crate::present::search`]), once [`PullStep::Done`] has been returned; `None`
    /// before. The trees move out: a second call returns empty trees.
    pub fn take_file_trees(&mut self) -> Option<FileTrees> {
        match &mut self.stage {
            Stage::Finished(Ok(finished)) => Some(std::mem::take(&mut finished.trees)),
            _ => None,
        }
    }

    /// The outcome of the last [`PullStep::Run`] (or why it failed).
    pub fn receive(&mut self, outcome: Result<Outcome, RegistryError>) {
        let result = outcome
            .map_err(PullError::from)
            .and_then(|outcome| self.on_outcome(outcome));
        if let Err(error) = result {
            self.stage = Stage::Finished(Err(error));
        }
    }

    /// The scan of layer `index` from a [`PullStep::ScanLayers`] job.
    pub fn layer_scanned(&mut self, index: usize, result: Result<LayerSummary, LayerError>) {
        if let Err(error) = self.on_layer(index, result) {
            self.stage = Stage::Finished(Err(error));
        }
    }

    /// Layer `index`'s digests from a digest pass ([`crate::engine::scan::DigestScanner`])
    /// run beside a scan told [`crate::engine::scan::Hashing::EntriesOnly`], before or after
    /// its entries and also after [`PullStep::Done`]: later `Done` steps carry the updated
    /// verification. Digests are checked once the image is finished (until then they are
    /// held), so a mismatch never keeps the tree from being shown. A digest that does not
    /// match does not end the pull either: the report's verification gets a row with
    /// `ok: false` naming both digests.
    pub fn layer_digests(&mut self, index: usize, digests: LayerDigests) -> Result<(), PullError> {
        match &mut self.stage {
            Stage::Layers { analysis, .. } => {
                let count = analysis.layer_count();
                if index >= count {
                    return Err(AnalysisError::NoSuchLayer { index, count }.into());
                }
                if self.digests.early.iter().any(|(layer, _)| *layer == index) {
                    return Err(AnalysisError::DigestsRepeated { index }.into());
                }
                self.digests.early.push((index, digests));
                Ok(())
            }
            Stage::Finished(Ok(finished)) => {
                let result = self.digests.check(index, &digests);
                self.digests.update_report(&mut finished.report);
                result
            }
            Stage::Finished(Err(error)) => Err(error.clone()),
            _ => Err(PullError::Protocol {
                detail: format!("layer {index}'s digests given before the layers were handed out"),
            }),
        }
    }

    fn on_outcome(&mut self, outcome: Outcome) -> Result<(), PullError> {
        match (
            std::mem::replace(&mut self.stage, Stage::Resolving),
            outcome,
        ) {
            (Stage::Resolving, Outcome::Resolved(resolved)) => {
                self.run(Operation::Manifest {
                    repository: self.repository.clone(),
                    reference: ManifestRef::Digest(resolved.digest.clone()),
                });
                self.stage = Stage::Manifest {
                    asked: resolved.digest,
                };
                Ok(())
            }
            (Stage::Manifest { asked }, Outcome::Manifest(fetched)) => {
                self.on_top_manifest(asked, *fetched)
            }
            (
                Stage::PlatformManifest {
                    images,
                    selected,
                    asked,
                    mut verification,
                },
                Outcome::Manifest(fetched),
            ) => match fetched.document {
                Document::Manifest(manifest) => {
                    verification.push(manifest_check(&self.repository, &asked, &fetched.digest));
                    self.start_config(manifest, fetched.bytes, images, selected, verification)
                }
                Document::Index(_) => Err(self.not_an_image(
                    "the platform's entry is another index (nested indexes are not followed)",
                )),
            },
            (
                Stage::Config {
                    manifest,
                    manifest_bytes,
                    images,
                    selected,
                    verification,
                },
                Outcome::ConfigBlob(blob),
            ) => self.start_layers(
                (manifest, manifest_bytes),
                images,
                selected,
                verification,
                blob,
            ),
            (_, other) => Err(PullError::Protocol {
                detail: format!("unexpected outcome {}", outcome_name(&other)),
            }),
        }
    }

    fn on_top_manifest(
        &mut self,
        asked: Digest,
        fetched: FetchedManifest,
    ) -> Result<(), PullError> {
        let check = manifest_check(&self.repository, &asked, &fetched.digest);
        match fetched.document {
            Document::Manifest(manifest) => {
                let listing = ImageListing {
                    index: 0,
                    tags: self.tags(),
                    config_digest: manifest.config.digest.registered().cloned(),
                    manifest_digest: Some(fetched.digest.clone()),
                    platform: None,
                    layer_count: manifest.layers.len(),
                    stored_size: manifest.layers_size(),
                };
                self.start_config(manifest, fetched.bytes, vec![listing], 0, vec![check])
            }
            Document::Index(index) => {
                self.index_digest = Some(fetched.digest.clone());
                let entries = platform::list(&index).images;
                let images: Vec<ImageListing> = entries
                    .iter()
                    .enumerate()
                    .map(|(i, d)| ImageListing {
                        index: i,
                        tags: self.tags(),
                        config_digest: None,
                        manifest_digest: d.digest.registered().cloned(),
                        platform: d.platform.as_ref().map(Platform::to_string),
                        layer_count: 0,
                        stored_size: 0,
                    })
                    .collect();
                let Some(chosen) = platform::choose(&index, &self.platform) else {
                    return Err(PullError::NoPlatform {
                        reference: self.reference.familiar(),
                        wanted: self.platform.to_string(),
                        available: images.iter().filter_map(|i| i.platform.clone()).collect(),
                    });
                };
                let selected = entries
                    .iter()
                    .position(|d| std::ptr::eq(*d, chosen))
                    .unwrap_or(0);
                let asked = registered(&chosen.digest, &self.reference)?;
                self.outbox.push_back(PullStep::ImagesListed {
                    images: images.clone(),
                    selected,
                });
                self.run(Operation::Manifest {
                    repository: self.repository.clone(),
                    reference: ManifestRef::Digest(asked.clone()),
                });
                // The index's own check comes first in the report, the platform's after.
                self.stage = Stage::PlatformManifest {
                    images,
                    selected,
                    asked,
                    verification: vec![check],
                };
                Ok(())
            }
        }
    }

    fn start_config(
        &mut self,
        manifest: ImageManifest,
        manifest_bytes: Vec<u8>,
        mut images: Vec<ImageListing>,
        selected: usize,
        verification: Vec<Verification>,
    ) -> Result<(), PullError> {
        if let Some(kind) = manifest.artifact_kind() {
            return Err(self.not_an_image(&format!("it is an artifact ({kind}), not an image")));
        }
        self.limits.check(
            Limit::Layers,
            // The registry is not named: the front ends put the message after the
            // reference, which names it.
            &format!(
                "the manifest {}",
                ManifestRef::of(&self.reference).in_repository(self.reference.path())
            ),
            manifest.layers.len() as u64,
        )?;
        let config = registered(&manifest.config.digest, &self.reference)?;
        if let Some(listing) = images.get_mut(selected) {
            listing.config_digest = Some(config.clone());
            listing.layer_count = manifest.layers.len();
            listing.stored_size = manifest.layers_size();
        }
        if images.len() == 1 {
            self.outbox.push_back(PullStep::ImagesListed {
                images: images.clone(),
                selected,
            });
        }
        self.run(Operation::ConfigBlob {
            repository: self.repository.clone(),
            digest: config,
        });
        self.stage = Stage::Config {
            manifest,
            manifest_bytes,
            images,
            selected,
            verification,
        };
        Ok(())
    }

    fn start_layers(
        &mut self,
        (manifest, manifest_bytes): (ImageManifest, Vec<u8>),
        images: Vec<ImageListing>,
        selected: usize,
        verification: Vec<Verification>,
        config: FetchedBlob,
    ) -> Result<(), PullError> {
        let mut layers = Vec::with_capacity(manifest.layers.len());
        let mut digests = Vec::with_capacity(manifest.layers.len());
        for layer in &manifest.layers {
            let digest = registered(&layer.digest, &self.reference)?;
            layers.push(BlobPlan {
                path: blob_path(&digest),
                expected: Some(digest.clone()),
                media_type: Some(layer.media_type.clone()),
            });
            digests.push(digest);
        }
        let manifest_name = match &images[selected].manifest_digest {
            Some(digest) => format!("manifest {digest}"),
            None => format!("manifest of {}", self.reference.familiar()),
        };
        let plan = ImagePlan {
            listing: images[selected].clone(),
            listed_by: format!("manifest {}", self.reference.familiar()),
            manifest: manifest_name,
            config: BlobPlan {
                path: blob_path(&config.asked),
                // The analysis hashes the bytes and marks a config that is not this digest.
                expected: Some(config.asked.clone()),
                media_type: Some(manifest.config.media_type.clone()),
            },
            layers,
            document_checks: verification,
        };
        let source = SourceInfo {
            format: SourceFormat::Registry,
            compression: Default::default(),
            streamed: true,
            bytes_read: self.bytes_read,
            total_bytes: Some(manifest.layers_size()),
        };
        let mut analysis =
            Analysis::new(plan, &config.bytes, images, selected, source)?.with_limits(self.limits);
        self.limits.check(
            Limit::History,
            &format!("the history in the config {}", config.asked),
            analysis.history_len() as u64,
        )?;
        analysis.add_manifest(&manifest_bytes);
        if let Some(index) = self.index_digest.clone() {
            analysis.set_index_digest(index);
        }
        self.outbox
            .push_back(PullStep::Overview(Box::new(analysis.report().clone())));
        let declared = manifest.layers.iter().map(|layer| layer.size).collect();
        let jobs: Vec<LayerJob> = digests
            .into_iter()
            .zip(&manifest.layers)
            .enumerate()
            .map(|(index, (digest, layer))| LayerJob {
                index,
                size: layer.size,
                operation: Operation::LayerBlob {
                    repository: self.repository.clone(),
                    digest: digest.clone(),
                },
                options: analysis.scan_options(index),
                digest,
            })
            .collect();
        let left = jobs.len();
        self.outbox.push_back(PullStep::ScanLayers(jobs));
        self.stage = Stage::Layers {
            analysis: Box::new(analysis),
            left,
            sizes: LayerSizes {
                declared,
                mismatched: Vec::new(),
            },
        };
        if left == 0 {
            self.finish();
        }
        Ok(())
    }

    fn on_layer(
        &mut self,
        index: usize,
        result: Result<LayerSummary, LayerError>,
    ) -> Result<(), PullError> {
        let Stage::Layers {
            analysis,
            left,
            sizes,
        } = &mut self.stage
        else {
            return Err(PullError::Protocol {
                detail: format!("layer {index} scanned outside the layer stage"),
            });
        };
        if index >= analysis.layer_count() {
            return Err(PullError::Protocol {
                detail: format!("layer {index} does not exist"),
            });
        }
        let result = match result {
            // The digests are checked by the analysis, which names the layer.
            Err(LayerError::DigestMismatch { summary, .. }) => Ok(*summary),
            other => other,
        };
        let path = blob_path_of(analysis, index);
        if let Ok(summary) = &result {
            self.bytes_read += summary.compressed_size;
            // A stream that ended before the declared size (or went one byte past it: more
            // is refused as it streams) is shown as sent, and the report marks the size.
            if let Some(row) = sizes.declared.get(index).and_then(|&declared| {
                layer_size_check(index, &path, declared, summary.compressed_size)
            }) {
                sizes.mismatched.push((index, row));
            }
        }
        let row = analysis.add_layer(index, &path, result)?;
        *left -= 1;
        let done = *left == 0;
        self.outbox.push_back(PullStep::LayerScanned(Box::new(row)));
        if done {
            self.finish();
        }
        Ok(())
    }

    fn finish(&mut self) {
        let Stage::Layers {
            analysis,
            mut sizes,
            ..
        } = std::mem::replace(&mut self.stage, Stage::Resolving)
        else {
            return;
        };
        self.digests.verifier = analysis.verifier().clone();
        self.digests.paths = (0..analysis.layer_count())
            .map(|index| blob_path_of(&analysis, index))
            .collect();
        let mut finished = analysis.finish(self.bytes_read).map(Box::new);
        if let Ok(finished) = &mut finished {
            sizes.mismatched.sort_by_key(|(index, _)| *index);
            let rows = sizes.mismatched.into_iter().map(|(_, row)| row).collect();
            insert_before_layer_digests(&mut finished.report, rows);
            let early = std::mem::take(&mut self.digests.early);
            if !early.is_empty() {
                for (index, digests) in early {
                    // A mismatch is kept as a row of the report.
                    let _ = self.digests.check(index, &digests);
                }
                self.digests.update_report(&mut finished.report);
            }
        }
        self.stage = Stage::Finished(finished.map_err(PullError::from));
    }

    fn run(&mut self, operation: Operation) {
        self.outbox.push_back(PullStep::Run(operation));
    }

    /// The reference as an image list shows it: `name:tag`, or nothing for a digest.
    fn tags(&self) -> Vec<String> {
        match self.reference.tag() {
            Some(_) => vec![self.reference.familiar()],
            None if self.reference.digest().is_none() => {
                vec![format!("{}:latest", self.reference.familiar_name())]
            }
            None => Vec::new(),
        }
    }

    fn not_an_image(&self, detail: &str) -> PullError {
        PullError::NotAnImage {
            reference: self.reference.familiar(),
            detail: detail.to_string(),
        }
    }
}

impl SeparateDigests {
    /// Checks layer `index`'s digests; a mismatch becomes a row with `ok: false`.
    fn check(&mut self, index: usize, digests: &LayerDigests) -> Result<(), PullError> {
        let path = self.paths.get(index).map_or("", String::as_str);
        Ok(self.verifier.check(index, path, digests)?)
    }

    /// Writes the layers' checks into `report`.
    fn update_report(&self, report: &mut ImageReport) {
        self.verifier.update_report(report);
    }
}

fn blob_path_of(analysis: &Analysis, index: usize) -> String {
    analysis.layer_path(index).0.to_string()
}

/// `blobs/<alg>/<hex>`, the layer's name in an OCI layout.
fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().name(), digest.hex())
}

fn registered(digest: &AnyDigest, reference: &Reference) -> Result<Digest, PullError> {
    digest.registered().cloned().ok_or_else(|| PullError::NotAnImage {
        reference: reference.familiar(),
        detail: format!("digest {digest} uses an algorithm this client cannot verify (only sha256 and sha512)"),
    })
}

/// The manifest's bytes against the digest asked for: matched, or marked in the report.
fn manifest_check(repository: &Repository, asked: &Digest, actual: &Digest) -> Verification {
    Verification::digest(
        DigestRole::Manifest,
        format!("{repository}@{asked}"),
        asked,
        actual,
    )
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Pinged(_) => "ping",
        Outcome::Resolved(_) => "resolved tag",
        Outcome::Manifest(_) => "manifest",
        Outcome::ConfigBlob(_) => "config blob",
        Outcome::LayerBlob(_) => "layer blob",
        Outcome::Tags(_) => "tag page",
        Outcome::Catalog(_) => "catalog page",
    }
}
