//! OCI image layouts: `index.json`, nested indexes and manifests under `blobs/`, each
//! document verified against the digest that names it. Tags come from
//! `io.containerd.image.name` or `org.opencontainers.image.ref.name` annotations, inherited
//! by the manifests of an annotated index.

use super::members::{Members, Need};
use super::plan::{blob_path, parse_manifest, registered, Listing};
use super::{ArchiveError, SourceFormat, MAX_INDEX_DEPTH, MAX_MANIFESTS};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, Document, ImageManifest};
use crate::model::media::{self, MediaKind};
use crate::model::platform;
use crate::present::analysis::{BlobPlan, ImagePlan};
use crate::present::report::{DigestRole, ImageListing, Verification};
use crate::present::verification::{checked, layer_size_check};

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// The images reachable from `index.json`, depth first in index order.
pub(super) fn plan(members: &Members) -> Result<Listing, Need> {
    let bytes = members.document("index.json", "the archive")?;
    let root = match parse_manifest(bytes, Some(media::OCI_INDEX), "index.json")? {
        Document::Index(index) => index.manifests,
        Document::Manifest(_) => {
            return Err(ArchiveError::BadDocument {
                file: "index.json".into(),
                detail: "it is an image manifest, not an index".into(),
            }
            .into())
        }
    };
    if root.is_empty() {
        return Err(ArchiveError::NoImages {
            file: "index.json".into(),
            detail: "the index lists no manifests".into(),
        }
        .into());
    }
    let mut images = Vec::new();
    let mut warnings = Vec::new();
    let mut unknown: Option<ArchiveError> = None;
    let mut seen = 0usize;
    // Depth first, in index order: (descriptor, depth, tags from an annotated parent, parent
    // name, the digest checks of the indexes above it).
    let mut stack: Vec<(Descriptor, usize, Vec<String>, String, Vec<Verification>)> = root
        .into_iter()
        .rev()
        .map(|d| (d, 0, Vec::new(), "index.json".to_string(), Vec::new()))
        .collect();
    while let Some((descriptor, depth, inherited, parent, mut checks)) = stack.pop() {
        seen += 1;
        if seen > MAX_MANIFESTS {
            return Err(ArchiveError::TooLarge {
                what: "manifests reachable from index.json".into(),
                limit: MAX_MANIFESTS as u64,
            }
            .into());
        }
        let mut tags = descriptor_tags(&descriptor);
        if tags.is_empty() {
            tags = inherited;
        }
        let kind = media::classify(&descriptor.media_type);
        if !matches!(
            kind,
            MediaKind::OciManifest
                | MediaKind::DockerManifest
                | MediaKind::OciIndex
                | MediaKind::DockerManifestList
        ) {
            let error = ArchiveError::UnknownMediaType {
                media_type: descriptor.media_type.clone(),
                digest: descriptor.digest.to_string(),
                referenced_by: parent.clone(),
            };
            warnings.push(error.to_string());
            unknown.get_or_insert(error);
            continue;
        }
        let digest = registered(&descriptor.digest, &parent)?;
        let path = blob_path(&digest);
        let document = members.document(&path, &parent)?;
        let check = verify_document(&digest, document, &path);
        if check.ok {
            // The digest matched, so only the descriptor can be wrong about the size.
            check_size(&parent, &path, descriptor.size, document.len() as u64)?;
        }
        checks.push(check);
        // The document's own mediaType (or its shape) wins over the index entry's, as
        // go-containerregistry and containers/image read layouts; a disagreement is reported.
        let parsed = parse_manifest(document, None, &path)?;
        if media::classify(parsed.media_type()) != kind {
            warnings.push(format!(
                "{parent} lists {path} as {} but the document is {}",
                descriptor.media_type,
                parsed.media_type()
            ));
        }
        match parsed {
            Document::Index(index) => {
                if depth + 1 > MAX_INDEX_DEPTH {
                    return Err(ArchiveError::TooLarge {
                        what: "index nesting depth".into(),
                        limit: MAX_INDEX_DEPTH as u64,
                    }
                    .into());
                }
                for child in index.manifests.into_iter().rev() {
                    stack.push((child, depth + 1, tags.clone(), path.clone(), checks.clone()));
                }
            }
            Document::Manifest(manifest) => {
                if platform::is_attestation(&descriptor) {
                    continue;
                }
                if let Some(artifact) = manifest.artifact_kind() {
                    warnings.push(format!(
                        "{path} is an artifact ({artifact}), not an image; skipped"
                    ));
                    continue;
                }
                let plan = plan_image(
                    members,
                    images.len(),
                    &digest,
                    &path,
                    &manifest,
                    tags,
                    &descriptor,
                    checks,
                )?;
                images.push(plan);
            }
        }
    }
    if images.is_empty() {
        return Err(unknown
            .unwrap_or(ArchiveError::NoImages {
                file: "index.json".into(),
                detail: "no image manifest is reachable from the index".into(),
            })
            .into());
    }
    Ok(Listing {
        format: SourceFormat::OciLayout,
        images,
        warnings,
    })
}

fn plan_image(
    members: &Members,
    index: usize,
    digest: &Digest,
    path: &str,
    manifest: &ImageManifest,
    tags: Vec<String>,
    descriptor: &Descriptor,
    document_checks: Vec<Verification>,
) -> Result<ImagePlan, Need> {
    let config_digest = registered(&manifest.config.digest, path)?;
    let config_ref = BlobPlan {
        path: blob_path(&config_digest),
        expected: Some(config_digest.clone()),
        media_type: Some(manifest.config.media_type.clone()),
    };
    let config = members.document(&config_ref.path, path)?;
    if verify_document(&config_digest, config, &config_ref.path).ok {
        // As for manifests: a config that is not its digest is marked when it is read; one
        // that is can only be misdescribed by its descriptor's size.
        check_size(
            path,
            &config_ref.path,
            manifest.config.size,
            config.len() as u64,
        )?;
    }
    let mut layers = Vec::new();
    let mut stored_size = 0;
    let mut checks = document_checks;
    for (index, layer) in manifest.layers.iter().enumerate() {
        let layer_digest = registered(&layer.digest, path)?;
        let layer_path = blob_path(&layer_digest);
        let size = members.blob(&layer_path, path)?.size;
        stored_size += size;
        // The member's size is known before the blob is read: a descriptor that gives
        // another is marked now, and the blob is still read and shown.
        checks.extend(layer_size_check(index, &layer_path, layer.size, size));
        layers.push(BlobPlan {
            path: layer_path,
            expected: Some(layer_digest),
            media_type: Some(layer.media_type.clone()),
        });
    }
    Ok(ImagePlan {
        listing: ImageListing {
            index,
            tags,
            config_digest: Some(config_digest.clone()),
            manifest_digest: Some(digest.clone()),
            platform: descriptor.platform.as_ref().map(|p| p.to_string()),
            layer_count: layers.len(),
            stored_size,
        },
        listed_by: path.to_string(),
        manifest: path.to_string(),
        config: config_ref,
        layers,
        document_checks: checks,
    })
}

/// Refuses a blob whose size is not the one its descriptor gives (a descriptor's size is
/// part of what it promises, as its digest is).
fn check_size(referenced_by: &str, file: &str, declared: u64, actual: u64) -> Result<(), Need> {
    if declared != actual {
        return Err(ArchiveError::SizeMismatch {
            file: file.to_string(),
            referenced_by: referenced_by.to_string(),
            declared,
            actual,
        }
        .into());
    }
    Ok(())
}

fn descriptor_tags(descriptor: &Descriptor) -> Vec<String> {
    let get = |key: &str| descriptor.annotations.get(key).map(String::as_str);
    match (get(CONTAINERD_NAME), get(REF_NAME)) {
        (Some(name), _) => vec![name.to_string()],
        (None, Some(name)) => vec![name.to_string()],
        _ => Vec::new(),
    }
}

/// The check of a document against the digest that names it. A mismatch is kept, not
/// refused: the document is still read, and the report marks it.
fn verify_document(expected: &Digest, document: &[u8], path: &str) -> Verification {
    let mut hasher = crate::model::digest::Hasher::for_digest(expected);
    hasher.update(document);
    checked(DigestRole::Manifest, path, expected, &hasher.finish())
}
