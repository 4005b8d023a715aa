//! Manifests and indexes (Docker schema2, OCI), recognized by media type or by shape.
//!
//! API summary:
//! - [`parse`]`(bytes: &[u8], declared_media_type: Option<&str>) -> Result<Document, ManifestError>`:
//!   the one entry point for the app, the CLI and the archive reader;
//! - [`Document`]`::{Manifest(ImageManifest), Index(ImageIndex)}` with
//!   [`Document::media_type`], [`Document::media_type_source`] (document,
//!   declared `Content-Type`, or shape) and [`Document::declared_mismatch`];
//! - [`ImageManifest`] `{ media_type, media_type_source, declared_mismatch, schema_version, artifact_type,
//!   config, layers, subject, annotations }`, [`ImageIndex`] `{ media_type,
//!   media_type_source, declared_mismatch, schema_version, artifact_type, manifests,
//!   subject, annotations }`;
//! - [`Descriptor`] `{ media_type, digest: AnyDigest, size, urls, annotations,
//!   platform, artifact_type, data }`;
//! - [`parse_descriptor`] (a standalone descriptor document) and
//!   [`parse_layout_header`] (the `oci-layout` file);
//! - [`ManifestError`]: every variant names the field path (`layers[2].size`)
//!   or the reason a document is refused.
//!
//! Why our own types and not the `oci-spec` crate: the app must name the exact
//! field that is wrong (serde errors give a line and column, not a path),
//! validate what the image-spec JSON schemas validate (media type syntax,
//! digest grammar, URI and base64 formats, required fields, integer sizes),
//! recognize documents that carry no `mediaType` by their shape, refuse Docker
//! schema 1 with an explanation, and keep the wasm small. The documents are
//! first read as generic JSON, then each field is checked and converted by hand
//! with its path, which gives all of that in a few hundred lines.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::model::digest::AnyDigest;
use crate::model::media::{self, MediaKind};
use crate::model::platform::Platform;

/// The largest manifest or index accepted. Registries cap manifests at a few
/// MiB (containers/image uses 4 MiB); anything bigger is not a manifest.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// Where the recognized media type came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaTypeSource {
    /// The document's own `mediaType` field.
    Document,
    /// The media type the server or archive declared (e.g. `Content-Type`).
    Declared,
    /// Neither said: recognized by which fields the document has.
    Shape,
}

/// A content descriptor: what a manifest says about a blob or another manifest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: AnyDigest,
    /// Size in bytes of the referenced content.
    pub size: u64,
    /// Alternative download locations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Free-form annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Platform of an index entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Artifact type of the referenced manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Embedded content, base64 (checked to decode to `size` bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// An image manifest (Docker schema 2 or OCI), including OCI artifact manifests.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// The media type as recognized.
    pub media_type: String,
    /// Where [`ImageManifest::media_type`] came from.
    pub media_type_source: MediaTypeSource,
    /// The declared media type, when it disagreed with the document's own
    /// `mediaType` (the document's wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub declared_mismatch: Option<String>,
    /// Always 2.
    pub schema_version: u32,
    /// OCI artifact type, when the manifest describes an artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob (the image config, or an artifact's config or empty descriptor).
    pub config: Descriptor,
    /// Layers, base first.
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (signatures, SBOMs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Free-form annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageManifest {
    /// True for Docker schema 2, false for OCI.
    pub fn is_docker(&self) -> bool {
        media::classify(&self.media_type) == MediaKind::DockerManifest
    }

    /// The artifact type when this is not a runnable image: `artifactType`, or
    /// else a config media type that is not an image config.
    pub fn artifact_kind(&self) -> Option<&str> {
        if let Some(t) = &self.artifact_type {
            return Some(t);
        }
        match media::classify(&self.config.media_type) {
            MediaKind::Config => None,
            _ => Some(&self.config.media_type),
        }
    }

    /// Sum of the compressed layer sizes, as registries store them.
    pub fn layers_size(&self) -> u64 {
        self.layers
            .iter()
            .map(|l| l.size)
            .fold(0, u64::saturating_add)
    }
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// The media type as recognized.
    pub media_type: String,
    /// Where [`ImageIndex::media_type`] came from.
    pub media_type_source: MediaTypeSource,
    /// The declared media type, when it disagreed with the document's own
    /// `mediaType` (the document's wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub declared_mismatch: Option<String>,
    /// Always 2.
    pub schema_version: u32,
    /// OCI artifact type of the index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The entries, in document order.
    pub manifests: Vec<Descriptor>,
    /// The manifest this index refers to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Free-form annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A parsed and validated manifest or index.
// Few documents exist at a time, so the size gap between variants costs nothing
// and boxing would only burden every match.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Document {
    /// A single image (or artifact) manifest.
    Manifest(ImageManifest),
    /// An index of manifests.
    Index(ImageIndex),
}

impl Document {
    /// The media type as recognized.
    pub fn media_type(&self) -> &str {
        match self {
            Document::Manifest(m) => &m.media_type,
            Document::Index(i) => &i.media_type,
        }
    }

    /// The declared media type when it disagreed with the document's own.
    pub fn declared_mismatch(&self) -> Option<&str> {
        match self {
            Document::Manifest(m) => m.declared_mismatch.as_deref(),
            Document::Index(i) => i.declared_mismatch.as_deref(),
        }
    }

    /// Where the media type came from.
    pub fn media_type_source(&self) -> MediaTypeSource {
        match self {
            Document::Manifest(m) => m.media_type_source,
            Document::Index(i) => i.media_type_source,
        }
    }
}

/// Why a document is not a usable manifest or index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestError {
    /// Bigger than [`MAX_MANIFEST_BYTES`].
    TooLarge {
        /// Bytes given.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON at all.
    NotJson {
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
        /// The parser's message.
        message: String,
        /// A guess at what the bytes are instead, e.g. gzip data.
        hint: Option<&'static str>,
    },
    /// JSON, but not an object.
    NotAnObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// A Docker schema 1 manifest, which layerscope refuses.
    Schema1 {
        /// Whether it carries JWS signatures.
        signed: bool,
    },
    /// A `schemaVersion` other than 2 (or 1).
    UnsupportedSchemaVersion {
        /// The value found, as JSON.
        found: String,
    },
    /// A field is missing, of the wrong type or malformed.
    Field {
        /// Path to the field, e.g. `layers[2].size`.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// No `mediaType`, no useful declared type, and no manifest or index fields.
    UnrecognizedShape,
    /// The media type names something that is not a manifest or an index.
    NotAManifest {
        /// The media type.
        media_type: String,
        /// Where it came from.
        source: MediaTypeSource,
    },
    /// The fields contradict the media type (an index with `layers`, ...).
    ShapeMismatch {
        /// The media type.
        media_type: String,
        /// What contradicts it.
        problem: &'static str,
    },
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ManifestError::*;
        match self {
            TooLarge { size, limit } => {
                write!(f, "manifest is {size} bytes, larger than the {limit}-byte limit for manifests")
            }
            NotJson { line, column, message, hint } => {
                write!(f, "manifest is not valid JSON (line {line}, column {column}: {message})")?;
                if let Some(h) = hint {
                    write!(f, "; {h}")?;
                }
                Ok(())
            }
            NotAnObject { found } => write!(f, "manifest must be a JSON object, found {found}"),
            Schema1 { signed } => write!(
                f,
                "this is a Docker schema 1 manifest ({}), which layerscope does not support: the format \
                 was deprecated in 2017, carries no image config or layer diff IDs, and cannot be \
                 verified like schema 2 or OCI; pull the image with a current docker or skopeo and \
                 push it again to convert it",
                if *signed { "signed with JWS" } else { "unsigned" }
            ),
            UnsupportedSchemaVersion { found } => write!(
                f,
                "schemaVersion {found} is not supported (only 2: Docker schema 2 and OCI)"
            ),
            Field { path, problem } => write!(f, "{path}: {problem}"),
            UnrecognizedShape => write!(
                f,
                "document has no mediaType and neither 'manifests' (an index) nor 'config' and \
                 'layers' (a manifest), so it is not a manifest layerscope recognizes"
            ),
            NotAManifest { media_type, source } => {
                let from = match source {
                    MediaTypeSource::Document => "the document's mediaType",
                    MediaTypeSource::Declared => "the declared media type",
                    MediaTypeSource::Shape => "its shape",
                };
                write!(
                    f,
                    "{from} {media_type:?} ({}) is not an image manifest or index",
                    media::describe(media_type)
                )
            }
            ShapeMismatch { media_type, problem } => write!(f, "document says {media_type:?} but {problem}"),
        }
    }
}

impl std::error::Error for ManifestError {}

/// Parses and validates a manifest or index.
///
/// `declared_media_type` is what the server or archive said the document is
/// (a `Content-Type` header, an index entry's `mediaType`); generic values
/// such as `application/json` count as absent.
pub fn parse(bytes: &[u8], declared_media_type: Option<&str>) -> Result<Document, ManifestError> {
    let root = read_json_object(bytes)?;
    let declared = declared_media_type
        .map(media::essence)
        .filter(|d| !media::is_generic(d));
    let document_type = opt_str(&root, "", "mediaType")?;
    if is_schema1(&root, document_type, declared) {
        return Err(ManifestError::Schema1 {
            signed: root.contains_key("signatures"),
        });
    }
    let schema_version = schema_version(&root)?;
    let (media_type, source) = recognize(&root, document_type, declared)?;
    // The document's own mediaType wins over a disagreeing declaration (tools
    // write index entries with the wrong type); the disagreement is kept so
    // callers can show it.
    let declared_mismatch = declared
        .filter(|d| *d != media_type && is_manifest_kind(d))
        .map(str::to_string);
    match media::classify(&media_type) {
        MediaKind::OciManifest | MediaKind::DockerManifest => {
            let mut m = manifest_from(&root, media_type, source, schema_version)?;
            m.declared_mismatch = declared_mismatch;
            Ok(Document::Manifest(m))
        }
        MediaKind::OciIndex | MediaKind::DockerManifestList => {
            let mut i = index_from(&root, media_type, source, schema_version)?;
            i.declared_mismatch = declared_mismatch;
            Ok(Document::Index(i))
        }
        _ => Err(ManifestError::NotAManifest { media_type, source }),
    }
}

/// Parses a standalone descriptor document (`application/vnd.oci.descriptor.v1+json`).
pub fn parse_descriptor(bytes: &[u8]) -> Result<Descriptor, ManifestError> {
    let root = read_json_object(bytes)?;
    descriptor_from_map(&root, "")
}

/// Validates an `oci-layout` file: `{"imageLayoutVersion": "1.0.0"}`.
pub fn parse_layout_header(bytes: &[u8]) -> Result<(), ManifestError> {
    let root = read_json_object(bytes)?;
    match req_str(&root, "", "imageLayoutVersion")? {
        "1.0.0" => Ok(()),
        other => Err(field_error(
            "",
            "imageLayoutVersion",
            format!("{other:?} is not a supported OCI layout version (expected \"1.0.0\")"),
        )),
    }
}

fn read_json_object(bytes: &[u8]) -> Result<Map<String, Value>, ManifestError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge {
            size: bytes.len(),
            limit: MAX_MANIFEST_BYTES,
        });
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ManifestError::NotJson {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
        hint: sniff_non_json(bytes),
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ManifestError::NotAnObject {
            found: type_name(&other),
        }),
    }
}

fn sniff_non_json(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x1f, 0x8b, ..] => Some("the bytes are gzip-compressed (a layer blob, not a manifest?)"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => {
            Some("the bytes are zstd-compressed (a layer blob, not a manifest?)")
        }
        b if b.len() > 262 && &b[257..262] == b"ustar" => Some("the bytes are a tar archive"),
        b if std::str::from_utf8(b).is_err() => Some("the bytes are not UTF-8 text"),
        _ => None,
    }
}

fn is_schema1(
    root: &Map<String, Value>,
    document_type: Option<&str>,
    declared: Option<&str>,
) -> bool {
    let named = |t: Option<&str>| t.is_some_and(|t| media::classify(t) == MediaKind::DockerSchema1);
    root.get("schemaVersion").and_then(Value::as_u64) == Some(1)
        || named(document_type)
        || (document_type.is_none() && named(declared))
        || (document_type.is_none() && root.contains_key("fsLayers"))
}

fn schema_version(root: &Map<String, Value>) -> Result<u32, ManifestError> {
    match root.get("schemaVersion") {
        None => Err(field_error(
            "",
            "schemaVersion",
            "missing (required, must be 2)".into(),
        )),
        Some(Value::Number(n)) if n.as_u64() == Some(2) => Ok(2),
        Some(v @ Value::Number(_)) => Err(ManifestError::UnsupportedSchemaVersion {
            found: v.to_string(),
        }),
        Some(other) => Err(field_error(
            "",
            "schemaVersion",
            format!("expected the integer 2, found {}", describe_value(other)),
        )),
    }
}

/// Decides the document's media type: its own field first, then the declared
/// type, then its shape.
fn recognize(
    root: &Map<String, Value>,
    document_type: Option<&str>,
    declared: Option<&str>,
) -> Result<(String, MediaTypeSource), ManifestError> {
    if let Some(doc) = document_type {
        media::validate(doc).map_err(|e| field_error("", "mediaType", e.to_string()))?;
        return Ok((doc.to_string(), MediaTypeSource::Document));
    }
    if let Some(decl) = declared {
        return Ok((decl.to_string(), MediaTypeSource::Declared));
    }
    if root.contains_key("manifests") {
        return Ok((media::OCI_INDEX.to_string(), MediaTypeSource::Shape));
    }
    if root.contains_key("config") || root.contains_key("layers") {
        let config_type = root
            .get("config")
            .and_then(|c| c.get("mediaType"))
            .and_then(Value::as_str);
        let guess = if config_type == Some(media::DOCKER_CONFIG) {
            media::DOCKER_MANIFEST
        } else {
            media::OCI_MANIFEST
        };
        return Ok((guess.to_string(), MediaTypeSource::Shape));
    }
    Err(ManifestError::UnrecognizedShape)
}

fn is_manifest_kind(media_type: &str) -> bool {
    matches!(
        media::classify(media_type),
        MediaKind::OciManifest
            | MediaKind::DockerManifest
            | MediaKind::OciIndex
            | MediaKind::DockerManifestList
    )
}

fn manifest_from(
    root: &Map<String, Value>,
    media_type: String,
    source: MediaTypeSource,
    schema_version: u32,
) -> Result<ImageManifest, ManifestError> {
    if root.contains_key("manifests") {
        return Err(ManifestError::ShapeMismatch {
            media_type,
            problem: "it has 'manifests', as an index does",
        });
    }
    let config = match root.get("config") {
        Some(v) => descriptor(v, "config")?,
        None => {
            return Err(field_error(
                "",
                "config",
                "missing (a manifest requires a config descriptor)".into(),
            ))
        }
    };
    let layers = match root.get("layers") {
        Some(Value::Array(items)) => descriptors(items, "layers")?,
        Some(other) => {
            return Err(field_error(
                "",
                "layers",
                format!(
                    "expected an array of descriptors, found {}",
                    describe_value(other)
                ),
            ))
        }
        None => return Err(field_error("", "layers", "missing (required)".into())),
    };
    let is_oci = media::classify(&media_type) == MediaKind::OciManifest;
    if is_oci && layers.is_empty() {
        return Err(field_error(
            "",
            "layers",
            "empty; an OCI manifest needs at least one layer (artifacts without content use the empty descriptor)".into(),
        ));
    }
    Ok(ImageManifest {
        media_type,
        media_type_source: source,
        declared_mismatch: None,
        schema_version,
        artifact_type: opt_media_type(root, "", "artifactType")?,
        config,
        layers,
        subject: opt_descriptor(root, "subject")?,
        annotations: annotations(root, "", "annotations")?,
    })
}

fn index_from(
    root: &Map<String, Value>,
    media_type: String,
    source: MediaTypeSource,
    schema_version: u32,
) -> Result<ImageIndex, ManifestError> {
    if root.contains_key("config") || root.contains_key("layers") {
        return Err(ManifestError::ShapeMismatch {
            media_type,
            problem: "it has 'config' or 'layers', as a manifest does",
        });
    }
    let manifests = match root.get("manifests") {
        Some(Value::Array(items)) => descriptors(items, "manifests")?,
        // Go writes an empty slice as null; docker 25's `docker save` index.json does.
        Some(Value::Null) => Vec::new(),
        Some(other) => {
            return Err(field_error(
                "",
                "manifests",
                format!(
                    "expected an array of descriptors, found {}",
                    describe_value(other)
                ),
            ))
        }
        None => {
            return Err(field_error(
                "",
                "manifests",
                "missing (an index requires a manifests array)".into(),
            ))
        }
    };
    Ok(ImageIndex {
        media_type,
        media_type_source: source,
        declared_mismatch: None,
        schema_version,
        artifact_type: opt_media_type(root, "", "artifactType")?,
        manifests,
        subject: opt_descriptor(root, "subject")?,
        annotations: annotations(root, "", "annotations")?,
    })
}

fn descriptors(items: &[Value], path: &str) -> Result<Vec<Descriptor>, ManifestError> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| descriptor(v, &format!("{path}[{i}]")))
        .collect()
}

fn opt_descriptor(
    root: &Map<String, Value>,
    key: &str,
) -> Result<Option<Descriptor>, ManifestError> {
    root.get(key).map(|v| descriptor(v, key)).transpose()
}

fn descriptor(value: &Value, path: &str) -> Result<Descriptor, ManifestError> {
    match value {
        Value::Object(map) => descriptor_from_map(map, path),
        other => Err(ManifestError::Field {
            path: path.to_string(),
            problem: format!(
                "expected a descriptor object, found {}",
                describe_value(other)
            ),
        }),
    }
}

fn descriptor_from_map(map: &Map<String, Value>, path: &str) -> Result<Descriptor, ManifestError> {
    let media_type = req_str(map, path, "mediaType")?;
    media::validate(media_type).map_err(|e| field_error(path, "mediaType", e.to_string()))?;
    let digest_text = req_str(map, path, "digest")?;
    let digest =
        AnyDigest::parse(digest_text).map_err(|e| field_error(path, "digest", e.to_string()))?;
    let size = size(map, path)?;
    let data = opt_str(map, path, "data")?;
    if let Some(data) = data {
        check_data(data, size).map_err(|p| field_error(path, "data", p))?;
    }
    Ok(Descriptor {
        media_type: media_type.to_string(),
        digest,
        size,
        urls: urls(map, path)?,
        annotations: annotations(map, path, "annotations")?,
        platform: map
            .get("platform")
            .map(|p| platform(p, &join(path, "platform")))
            .transpose()?,
        artifact_type: opt_media_type(map, path, "artifactType")?,
        data: data.map(str::to_string),
    })
}

fn size(map: &Map<String, Value>, path: &str) -> Result<u64, ManifestError> {
    let problem = match map.get("size") {
        None => "missing (required)".to_string(),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
            (Some(v), _) if v <= i64::MAX as u64 => return Ok(v),
            (Some(_), _) => "larger than the int64 maximum".to_string(),
            (None, Some(neg)) => format!("must not be negative, found {neg}"),
            (None, None) => format!("must be an integer, found {n}"),
        },
        Some(other) => format!("expected an integer, found {}", describe_value(other)),
    };
    Err(field_error(path, "size", problem))
}

fn urls(map: &Map<String, Value>, path: &str) -> Result<Vec<String>, ManifestError> {
    let Some(value) = map.get("urls") else {
        return Ok(Vec::new());
    };
    let items = value.as_array().ok_or_else(|| {
        field_error(
            path,
            "urls",
            format!("expected an array of URLs, found {}", describe_value(value)),
        )
    })?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{}[{i}]", join(path, "urls"));
        let url = item.as_str().ok_or_else(|| ManifestError::Field {
            path: item_path.clone(),
            problem: format!("expected a URL string, found {}", describe_value(item)),
        })?;
        if !is_uri(url) {
            return Err(ManifestError::Field {
                path: item_path,
                problem: format!("{url:?} is not an absolute URI (scheme:rest)"),
            });
        }
        out.push(url.to_string());
    }
    Ok(out)
}

/// An absolute URI as JSON Schema's `uri` format requires: a scheme, a colon,
/// and no blanks or control characters.
fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut scheme_bytes = scheme.bytes();
    let scheme_ok = scheme_bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme_bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'));
    scheme_ok && !rest.is_empty() && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Checks standard padded base64 and that it decodes to `size` bytes.
fn check_data(data: &str, size: u64) -> Result<(), String> {
    let bytes = data.as_bytes();
    let unpadded_tail = bytes.len() % 4;
    if unpadded_tail != 0 {
        return Err(format!(
            "base64 length {} is not a multiple of 4 (missing padding?)",
            bytes.len()
        ));
    }
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &bytes[..bytes.len() - padding];
    if padding > 2
        || !body
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    {
        return Err(
            "not standard base64 (A-Z a-z 0-9 + / with '=' padding at the end)".to_string(),
        );
    }
    let decoded = (bytes.len() / 4 * 3 - padding) as u64;
    if decoded != size {
        return Err(format!("decodes to {decoded} bytes but size says {size}"));
    }
    Ok(())
}

fn platform(value: &Value, path: &str) -> Result<Platform, ManifestError> {
    let map = value.as_object().ok_or_else(|| ManifestError::Field {
        path: path.to_string(),
        problem: format!(
            "expected a platform object, found {}",
            describe_value(value)
        ),
    })?;
    let os_features = match map.get("os.features") {
        None => Vec::new(),
        Some(v) => string_array(v, &join(path, "os.features"))?,
    };
    Ok(Platform {
        architecture: req_str(map, path, "architecture")?.to_string(),
        os: req_str(map, path, "os")?.to_string(),
        variant: opt_str(map, path, "variant")?.map(str::to_string),
        os_version: opt_str(map, path, "os.version")?.map(str::to_string),
        os_features,
    })
}

fn string_array(value: &Value, path: &str) -> Result<Vec<String>, ManifestError> {
    let items = value.as_array().ok_or_else(|| ManifestError::Field {
        path: path.to_string(),
        problem: format!(
            "expected an array of strings, found {}",
            describe_value(value)
        ),
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| ManifestError::Field {
                    path: format!("{path}[{i}]"),
                    problem: format!("expected a string, found {}", describe_value(item)),
                })
        })
        .collect()
}

fn annotations(
    map: &Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<BTreeMap<String, String>, ManifestError> {
    let Some(value) = map.get(key) else {
        return Ok(BTreeMap::new());
    };
    let object = value.as_object().ok_or_else(|| {
        field_error(
            path,
            key,
            format!(
                "expected an object of strings, found {}",
                describe_value(value)
            ),
        )
    })?;
    let mut out = BTreeMap::new();
    for (k, v) in object {
        let s = v.as_str().ok_or_else(|| ManifestError::Field {
            path: format!("{}[{k:?}]", join(path, key)),
            problem: format!(
                "annotation values must be strings, found {}",
                describe_value(v)
            ),
        })?;
        out.insert(k.clone(), s.to_string());
    }
    Ok(out)
}

fn opt_media_type(
    map: &Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<String>, ManifestError> {
    let Some(value) = opt_str(map, path, key)? else {
        return Ok(None);
    };
    media::validate(value).map_err(|e| field_error(path, key, e.to_string()))?;
    Ok(Some(value.to_string()))
}

fn opt_str<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, ManifestError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(field_error(
            path,
            key,
            format!("expected a string, found {}", describe_value(other)),
        )),
    }
}

fn req_str<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'a str, ManifestError> {
    opt_str(map, path, key)?.ok_or_else(|| field_error(path, key, "missing (required)".into()))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn field_error(path: &str, key: &str, problem: String) -> ManifestError {
    ManifestError::Field {
        path: join(path, key),
        problem,
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The type plus a short excerpt of the value, for messages.
pub(crate) fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!(
                "the string {:?}",
                format!("{}...", s.chars().take(40).collect::<String>())
            )
        }
        Value::String(s) => format!("the string {s:?}"),
        other => type_name(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7";

    fn oci_manifest(layers: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":7023,"digest":"{D1}"}},
            "layers":{layers}}}"#
        )
    }

    fn layer(size: &str, digest: &str) -> String {
        format!(
            r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":{size},"digest":"{digest}"}}"#
        )
    }

    fn err(doc: &str, declared: Option<&str>) -> String {
        parse(doc.as_bytes(), declared).unwrap_err().to_string()
    }

    #[test]
    fn parses_an_oci_manifest() {
        let doc = oci_manifest(&format!("[{}]", layer("32654", D1)));
        let Document::Manifest(m) = parse(doc.as_bytes(), None).unwrap() else {
            panic!("not a manifest")
        };
        assert_eq!(m.media_type, media::OCI_MANIFEST);
        assert_eq!(m.media_type_source, MediaTypeSource::Document);
        assert_eq!(m.config.size, 7023);
        assert_eq!(m.layers[0].digest.to_string(), D1);
        assert_eq!(m.layers_size(), 32654);
        assert!(!m.is_docker());
        assert_eq!(m.artifact_kind(), None);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (oci_manifest(&format!("[{}]", layer("\"1470\"", D1))), "layers[0].size: expected an integer, found the string \"1470\""),
            (oci_manifest(&format!("[{}]", layer("-1", D1))), "layers[0].size: must not be negative"),
            (oci_manifest(&format!("[{}]", layer("1.5", D1))), "layers[0].size: must be an integer"),
            (oci_manifest(&format!("[{}]", layer("1", "sha256:abc"))), "layers[0].digest: sha256 digest must have 64"),
            (oci_manifest("[]"), "layers: empty"),
            (oci_manifest("null"), "layers: expected an array of descriptors, found null"),
            (oci_manifest(r#"[{"size":1,"digest":"sha256:x"}]"#), "layers[0].mediaType: missing"),
            (r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#.to_string(), "config: missing"),
            (r#"{"schemaVersion":"2","manifests":[]}"#.to_string(), "schemaVersion: expected the integer 2, found the string \"2\""),
            (r#"{"manifests":[]}"#.to_string(), "schemaVersion: missing"),
            (r#"{"schemaVersion":2,"mediaType":"foo","manifests":[]}"#.to_string(), "mediaType: media type \"foo\" is invalid"),
            (r#"{"schemaVersion":2,"manifests":[{"mediaType":"a/b","size":1,"digest":"sha256:x","platform":{"os":"linux"}}]}"#.to_string(), "manifests[0].digest"),
            (format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"a/b","size":1,"digest":"{D1}","platform":{{"os":"linux"}}}}]}}"#), "manifests[0].platform.architecture: missing"),
            (format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"a/b","size":1,"digest":"{D1}","annotations":{{"k":1}}}}]}}"#), "manifests[0].annotations[\"k\"]"),
            (format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"a/b","size":1,"digest":"{D1}","urls":["value"]}}]}}"#), "manifests[0].urls[0]: \"value\" is not an absolute URI"),
            (format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"a/b","size":2,"digest":"{D1}","data":"e30"}}]}}"#), "manifests[0].data: base64 length 3"),
            (format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"a/b","size":3,"digest":"{D1}","data":"e30="}}]}}"#), "decodes to 2 bytes but size says 3"),
            (r#"{"schemaVersion":2,"manifests":[],"subject":"nope"}"#.to_string(), "subject: expected a descriptor object"),
            ("[1]".to_string(), "must be a JSON object, found an array"),
            ("{".to_string(), "not valid JSON (line 1"),
            (r#"{"schemaVersion":3,"manifests":[]}"#.to_string(), "schemaVersion 3 is not supported"),
            (r#"{"schemaVersion":2}"#.to_string(), "neither 'manifests'"),
            (r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.config.v1+json"}"#.to_string(), "image configuration) is not an image manifest or index"),
            (r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"layers":[]}"#.to_string(), "has 'config' or 'layers'"),
        ];
        for (doc, needle) in cases {
            let e = err(&doc, None);
            assert!(
                e.contains(needle),
                "{doc}\n  error: {e}\n  wanted: {needle}"
            );
        }
    }

    #[test]
    fn recognizes_by_declared_type_and_by_shape() {
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","size":1,"digest":"{D1}"}}]}}"#,
            media::OCI_MANIFEST
        );
        let by_shape = parse(index.as_bytes(), Some("application/json")).unwrap();
        assert_eq!(
            (by_shape.media_type(), by_shape.media_type_source()),
            (media::OCI_INDEX, MediaTypeSource::Shape)
        );
        let declared = parse(
            index.as_bytes(),
            Some(&format!("{}; charset=utf-8", media::DOCKER_MANIFEST_LIST)),
        )
        .unwrap();
        assert_eq!(
            (declared.media_type(), declared.media_type_source()),
            (media::DOCKER_MANIFEST_LIST, MediaTypeSource::Declared)
        );

        let docker_shape = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","size":1,"digest":"{D1}"}},"layers":[]}}"#,
            media::DOCKER_CONFIG
        );
        let doc = parse(docker_shape.as_bytes(), None).unwrap();
        assert_eq!(
            doc.media_type(),
            media::DOCKER_MANIFEST,
            "docker config implies a docker manifest; empty layers allowed there"
        );

        let conflict = oci_manifest(&format!("[{}]", layer("1", D1)));
        let doc = parse(conflict.as_bytes(), Some(media::DOCKER_MANIFEST)).unwrap();
        assert_eq!(
            doc.media_type(),
            media::OCI_MANIFEST,
            "the document's own type wins"
        );
        assert_eq!(doc.declared_mismatch(), Some(media::DOCKER_MANIFEST));
        let agreeing = parse(conflict.as_bytes(), Some(media::OCI_MANIFEST)).unwrap();
        assert_eq!(agreeing.declared_mismatch(), None);
        let null_list = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}"#;
        let Document::Index(i) = parse(null_list, None).unwrap() else {
            panic!()
        };
        assert!(i.manifests.is_empty());
    }

    #[test]
    fn refuses_schema1_with_a_reason() {
        let signed = r#"{"schemaVersion":1,"name":"a","tag":"t","fsLayers":[],"signatures":[{}]}"#;
        let e = err(signed, None);
        assert!(
            e.contains("schema 1") && e.contains("signed with JWS") && e.contains("not support"),
            "{e}"
        );
        let unsigned = r#"{"schemaVersion":1,"name":"a","tag":"t","fsLayers":[]}"#;
        assert!(err(unsigned, None).contains("(unsigned)"));
        assert!(err(r#"{"fsLayers":[]}"#, Some(media::DOCKER_SCHEMA1_SIGNED)).contains("schema 1"));
    }

    #[test]
    fn artifacts_are_told_apart_from_images() {
        let empty = format!(
            r#"{{"mediaType":"{}","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","data":"e30="}}"#,
            media::OCI_EMPTY
        );
        let with_type = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"application/vnd.example.sbom","config":{empty},"layers":[{empty}],
            "subject":{{"mediaType":"{}","size":7,"digest":"{D1}"}}}}"#,
            media::OCI_MANIFEST,
            media::OCI_MANIFEST
        );
        let Document::Manifest(m) = parse(with_type.as_bytes(), None).unwrap() else {
            panic!()
        };
        assert_eq!(m.artifact_kind(), Some("application/vnd.example.sbom"));
        assert_eq!(m.subject.as_ref().map(|s| s.size), Some(7));
        assert_eq!(media::classify(&m.config.media_type), MediaKind::Empty);

        let helm = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.cncf.helm.config.v1+json","size":3,"digest":"{D1}"}},
            "layers":[{{"mediaType":"application/tar+gzip","size":1,"digest":"{D1}"}}]}}"#
        );
        let Document::Manifest(m) = parse(helm.as_bytes(), None).unwrap() else {
            panic!()
        };
        assert_eq!(
            m.artifact_kind(),
            Some("application/vnd.cncf.helm.config.v1+json")
        );
        assert_eq!(m.media_type_source, MediaTypeSource::Shape);

        let bad_type = with_type.replace("application/vnd.example.sbom", "sbom");
        assert!(err(&bad_type, None).contains("artifactType: media type \"sbom\" is invalid"));
    }

    #[test]
    fn unregistered_digest_algorithms_are_kept() {
        let doc = oci_manifest(&format!(
            "[{}]",
            layer(
                "1",
                "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"
            )
        ));
        let Document::Manifest(m) = parse(doc.as_bytes(), None).unwrap() else {
            panic!()
        };
        assert_eq!(m.layers[0].digest.algorithm_name(), "multihash+base58");
        assert!(m.layers[0].digest.registered().is_none());
    }

    #[test]
    fn not_json_hints_at_what_it_is() {
        let e = err("\u{1f}\u{8b}\u{8}", None);
        assert!(e.contains("not valid JSON"), "{e}");
        let gz = [0x1f_u8, 0x8b, 8, 0, 0];
        assert!(parse(&gz, None).unwrap_err().to_string().contains("gzip"));
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(parse(&big, None).unwrap_err().to_string().contains("limit"));
    }

    #[test]
    fn layout_header_and_descriptor() {
        assert!(parse_layout_header(br#"{"imageLayoutVersion":"1.0.0"}"#).is_ok());
        assert!(parse_layout_header(br#"{"imageLayoutVersion":"2.0.0"}"#)
            .unwrap_err()
            .to_string()
            .contains("imageLayoutVersion"));
        assert!(parse_layout_header(br#"{"imageLayoutVersion":1.0}"#)
            .unwrap_err()
            .to_string()
            .contains("expected a string"));
        let d = parse_descriptor(format!(r#"{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{D1}","size":2,"data":"e30="}}"#).as_bytes()).unwrap();
        assert_eq!(d.data.as_deref(), Some("e30="));
    }
}
