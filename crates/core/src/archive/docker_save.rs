//! `docker save`'s `manifest.json`: a list of images, each a config file, tags and layer
//! files (legacy `<id>/layer.tar`, kaniko's `sha256:<hex>`, or Docker 25's `blobs/sha256/..`).

use super::members::{Members, Need};
use super::oci_layout;
use super::plan::{digest_from_name, json_kind, Listing};
use super::{ArchiveError, SourceFormat, MAX_MANIFESTS};
use crate::engine::tar::normalize_path;
use crate::present::analysis::{BlobPlan, ImagePlan};
use crate::present::report::{Compared, ImageListing};

/// The images `manifest.json` lists.
pub(super) fn plan(members: &Members, format: SourceFormat) -> Result<Listing, Need> {
    const FILE: &str = "manifest.json";
    let bytes = members.document(FILE, "the archive")?;
    let bad = |detail: String| {
        Need::Fail(ArchiveError::BadDocument {
            file: FILE.into(),
            detail,
        })
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let items = match value {
        serde_json::Value::Null => {
            return Err(ArchiveError::NoImages {
                file: FILE.into(),
                detail: "the manifest is `null`: it lists no images".into(),
            }
            .into())
        }
        serde_json::Value::Array(items) if items.is_empty() => {
            return Err(ArchiveError::NoImages {
                file: FILE.into(),
                detail: "the manifest is an empty list".into(),
            }
            .into())
        }
        serde_json::Value::Array(items) => items,
        other => {
            return Err(bad(format!(
                "expected a list of images, found {}",
                json_kind(&other)
            )))
        }
    };
    if items.len() > MAX_MANIFESTS {
        return Err(ArchiveError::TooLarge {
            what: "images in manifest.json".into(),
            limit: MAX_MANIFESTS as u64,
        }
        .into());
    }
    let mut images = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let listed_by = format!("{FILE} (image {index})");
        let config = item
            .get("Config")
            .and_then(|c| c.as_str())
            .ok_or_else(|| bad(format!("image {index} has no \"Config\" string")))?;
        let tags = match item.get("RepoTags") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(tags)) => tags
                .iter()
                .map(|t| t.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad(format!("image {index}: \"RepoTags\" holds a non-string")))?,
            Some(other) => {
                return Err(bad(format!(
                    "image {index}: \"RepoTags\" is {}",
                    json_kind(other)
                )))
            }
        };
        let layer_names = item
            .get("Layers")
            .and_then(|l| l.as_array())
            .ok_or_else(|| bad(format!("image {index} has no \"Layers\" list")))?;
        let config_ref = BlobPlan {
            path: normalize_path(config),
            expected: digest_from_name(config),
            media_type: None,
        };
        members.blob(&config_ref.path, &listed_by)?;
        let mut layers = Vec::new();
        let mut stored_size = 0u64;
        for (i, layer) in layer_names.iter().enumerate() {
            let name = layer
                .as_str()
                .ok_or_else(|| bad(format!("image {index}: layer {i} is not a string")))?;
            let entry = members.blob(name, &listed_by)?;
            stored_size += entry.size;
            layers.push(BlobPlan {
                path: normalize_path(name),
                expected: digest_from_name(name),
                media_type: None,
            });
        }
        images.push(ImagePlan {
            listing: ImageListing {
                index,
                tags,
                config_digest: config_ref.expected.clone(),
                manifest_digest: None,
                platform: None,
                layer_count: layers.len(),
                stored_size,
            },
            listed_by,
            manifest: FILE.to_string(),
            config: config_ref,
            layers,
            // manifest.json names no digest of itself.
            document_checks: Vec::new(),
        });
    }
    if format == SourceFormat::DockerSaveOci {
        oci_layer_sizes(members, &mut images)?;
    }
    Ok(Listing {
        format,
        images,
        warnings: Vec::new(),
    })
}

/// A Docker 25+ save is also an OCI layout, whose manifests give each layer's size: an image
/// whose layers are the same blobs as an OCI manifest's gets that manifest's layer size rows
/// ([`oci_layout::plan`] checks them). manifest.json is what the image is read from, so an
/// OCI side that cannot be planned adds nothing and refuses nothing.
fn oci_layer_sizes(members: &Members, images: &mut [ImagePlan]) -> Result<(), Need> {
    let oci = match oci_layout::plan(members) {
        Ok(listing) => listing,
        Err(Need::Document(name)) => return Err(Need::Document(name)),
        Err(Need::Fail(_)) => return Ok(()),
    };
    let same_blobs = |a: &ImagePlan, b: &ImagePlan| {
        a.config.path == b.config.path
            && a.layers.len() == b.layers.len()
            && a.layers
                .iter()
                .zip(&b.layers)
                .all(|(x, y)| x.path == y.path)
    };
    for image in images {
        if let Some(described) = oci.images.iter().find(|oci| same_blobs(oci, image)) {
            image.document_checks.extend(
                described
                    .document_checks
                    .iter()
                    .filter(|row| matches!(row.compared, Compared::Size { .. }))
                    .cloned(),
            );
        }
    }
    Ok(())
}
