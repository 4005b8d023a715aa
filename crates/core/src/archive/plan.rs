//! From the documents to a plan: which images the archive holds, and for each the config
//! and the layers to read. [`plan_listing`] tells the two layouts apart; `docker_save` and
//! `oci_layout` read their own documents.

use super::members::{Members, Need};
use super::{docker_save, oci_layout, ArchiveError, SourceFormat};
use crate::engine::tar::normalize_path;
use crate::model::digest::{AnyDigest, Digest};
use crate::model::manifest::Document;
use crate::present::analysis::ImagePlan;
use crate::present::report::ImageListing;

/// Everything the documents say about the archive's images.
#[derive(Debug, Clone)]
pub(super) struct Listing {
    pub(super) format: SourceFormat,
    pub(super) images: Vec<ImagePlan>,
    pub(super) warnings: Vec<String>,
}

impl Listing {
    pub(super) fn image_listings(&self) -> Vec<ImageListing> {
        self.images.iter().map(|i| i.listing.clone()).collect()
    }
}

/// The archive's images from its documents, or the document still to be read.
pub(super) fn plan_listing(members: &Members) -> Result<Listing, Need> {
    if members.contains("manifest.json") {
        let oci = members.contains("index.json") || members.contains("oci-layout");
        let format = if oci {
            SourceFormat::DockerSaveOci
        } else {
            SourceFormat::DockerSave
        };
        return docker_save::plan(members, format);
    }
    if members.contains("index.json") {
        return oci_layout::plan(members);
    }
    let detail = if members.contains("repositories") {
        "This archive has a repositories file but no manifest.json or index.json: it is a docker save from before Docker 1.10 (or an incomplete one), which lists no layers per image.".to_string()
    } else {
        "This archive has no manifest.json or index.json: it looks like a plain file system tar, not an image.".to_string()
    };
    Err(ArchiveError::NotAnImage { detail }.into())
}

/// A manifest or index through the manifest module, refusals naming the archive file.
pub(super) fn parse_manifest(
    bytes: &[u8],
    declared: Option<&str>,
    file: &str,
) -> Result<Document, Need> {
    crate::model::manifest::parse(bytes, declared).map_err(|source| {
        Need::Fail(ArchiveError::BadManifest {
            file: file.into(),
            source,
        })
    })
}

/// Only sha256 and sha512 blobs can be found and verified.
pub(super) fn registered(digest: &AnyDigest, file: &str) -> Result<Digest, Need> {
    match digest {
        AnyDigest::Registered(digest) => Ok(digest.clone()),
        other => Err(ArchiveError::BadDocument {
            file: file.into(),
            detail: format!("digest {other} uses an algorithm this reader cannot verify (only sha256 and sha512)"),
        }
        .into()),
    }
}

pub(super) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// `blobs/<alg>/<hex>`, `<hex>.json` (legacy config) and `sha256:<hex>` (kaniko) name their digest.
pub(super) fn digest_from_name(name: &str) -> Option<Digest> {
    let name = normalize_path(name);
    if let Some(rest) = name.strip_prefix("blobs/") {
        let (alg, hex) = rest.split_once('/')?;
        return Digest::parse(&format!("{alg}:{hex}")).ok();
    }
    if let Some(hex) = name.strip_suffix(".json") {
        return Digest::parse(&format!("sha256:{hex}")).ok();
    }
    Digest::parse(&name).ok()
}

pub(super) fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().name(), digest.hex())
}
