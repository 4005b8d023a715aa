//! Media types of manifests, indexes, configs and layers.
//!
//! API summary:
//! - constants for every media type layerscope meets (`DOCKER_MANIFEST`,
//!   `OCI_INDEX`, `OCI_LAYER_GZIP`, ...) and [`MANIFEST_ACCEPT`] for registry
//!   `Accept` headers;
//! - [`validate`]`(&str) -> Result<(), MediaTypeError>`: the image-spec syntax
//!   (`type/subtype`, each 1-127 characters of the RFC 6838 set);
//! - [`essence`]`(&str) -> &str`: a `Content-Type` value without parameters;
//! - [`classify`]`(&str) -> MediaKind` and [`layer_compression`]`(&str) -> Option<Compression>`.

use std::fmt;

/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (multi-platform).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 1 (unsigned form).
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker image manifest, schema 1, signed with JWS.
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// Docker image configuration.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker gzip-compressed layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker layer that registries must not redistribute (Windows base layers).
pub const DOCKER_LAYER_FOREIGN_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// Docker uncompressed layer (rare, but written by some tools).
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker zstd-compressed layer (what `docker buildx --output compression=zstd` pushes).
pub const DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image configuration.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI uncompressed layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI gzip layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI zstd layer.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI non-distributable uncompressed layer (deprecated by the spec, still met).
pub const OCI_LAYER_NONDIST_TAR: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// OCI non-distributable gzip layer.
pub const OCI_LAYER_NONDIST_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/// OCI non-distributable zstd layer.
pub const OCI_LAYER_NONDIST_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
/// The OCI empty descriptor's media type (`{}`, used as artifact config).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The `oci-layout` file's media type.
pub const OCI_LAYOUT_HEADER: &str = "application/vnd.oci.layout.header.v1+json";
/// A bare OCI content descriptor.
pub const OCI_DESCRIPTOR: &str = "application/vnd.oci.descriptor.v1+json";
/// In-toto attestation layers (BuildKit provenance and SBOM).
pub const IN_TOTO: &str = "application/vnd.in-toto+json";

/// The `Accept` header value for fetching any manifest or index layerscope reads.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// The longest `type` or `subtype` the image-spec schema allows.
const MAX_PART_LEN: usize = 127;

/// What a media type names, as far as layerscope cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// An OCI image manifest.
    OciManifest,
    /// A Docker schema 2 manifest.
    DockerManifest,
    /// An OCI image index.
    OciIndex,
    /// A Docker manifest list.
    DockerManifestList,
    /// A Docker schema 1 manifest (refused).
    DockerSchema1,
    /// An image configuration (Docker or OCI).
    Config,
    /// A filesystem layer.
    Layer(Compression),
    /// The OCI empty descriptor (`{}`).
    Empty,
    /// Anything else (artifact payloads, attestations, ...).
    Other,
}

/// How a stream is compressed: a layer blob (by its media type or its magic bytes), or a
/// whole archive (`docker save | gzip`). The one compression type of the crate.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain tar.
    #[default]
    None,
    /// gzip, one member or several.
    Gzip,
    /// Zstandard, one frame or several.
    Zstd,
}

impl Compression {
    /// Lower-case name, as media type suffixes and reports spell it (`none` for plain).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// How a person would call the bytes.
    pub fn describe(self) -> &'static str {
        match self {
            Compression::None => "an uncompressed tar",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a string is not a media type by the image-spec syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaTypeError {
    /// The offending text.
    pub media_type: String,
    /// Which part is wrong.
    pub reason: &'static str,
}

impl fmt::Display for MediaTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "media type {:?} is invalid: {}",
            self.media_type, self.reason
        )
    }
}

impl std::error::Error for MediaTypeError {}

/// Checks the image-spec media type syntax: `type/subtype`, each starting with
/// a letter or digit and holding at most 127 of `A-Za-z0-9!#$&^_.+-`.
pub fn validate(media_type: &str) -> Result<(), MediaTypeError> {
    let bad = |reason| MediaTypeError {
        media_type: media_type.to_string(),
        reason,
    };
    if media_type.is_empty() {
        return Err(bad("empty"));
    }
    let (kind, subtype) = media_type
        .split_once('/')
        .ok_or_else(|| bad("no '/' between type and subtype"))?;
    validate_part(kind).map_err(|why| bad(why.for_type()))?;
    validate_part(subtype).map_err(|why| bad(why.for_subtype()))?;
    Ok(())
}

enum PartProblem {
    Empty,
    BadFirst,
    TooLong,
    BadChar,
}

impl PartProblem {
    fn for_type(self) -> &'static str {
        match self {
            PartProblem::Empty => "empty type before '/'",
            PartProblem::BadFirst => "type must start with a letter or digit",
            PartProblem::TooLong => "type is longer than 127 characters",
            PartProblem::BadChar => "type has a character outside A-Za-z0-9!#$&^_.+-",
        }
    }

    fn for_subtype(self) -> &'static str {
        match self {
            PartProblem::Empty => "empty subtype after '/'",
            PartProblem::BadFirst => "subtype must start with a letter or digit",
            PartProblem::TooLong => "subtype is longer than 127 characters",
            PartProblem::BadChar => {
                "subtype has a character outside A-Za-z0-9!#$&^_.+- (or a second '/')"
            }
        }
    }
}

fn validate_part(part: &str) -> Result<(), PartProblem> {
    let first = *part.as_bytes().first().ok_or(PartProblem::Empty)?;
    if !first.is_ascii_alphanumeric() {
        return Err(PartProblem::BadFirst);
    }
    if part.len() > MAX_PART_LEN {
        return Err(PartProblem::TooLong);
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b);
    if !part.bytes().all(allowed) {
        return Err(PartProblem::BadChar);
    }
    Ok(())
}

/// The media type without parameters and surrounding blanks, as a
/// `Content-Type` header may carry them (`...+json; charset=utf-8`).
pub fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// True for `Content-Type` values that say nothing about the document
/// (servers and archives that do not know the manifest format send these).
pub fn is_generic(content_type: &str) -> bool {
    matches!(
        essence(content_type),
        "" | "application/json" | "application/octet-stream" | "text/plain"
    )
}

/// What `media_type` names.
pub fn classify(media_type: &str) -> MediaKind {
    match essence(media_type) {
        OCI_MANIFEST => MediaKind::OciManifest,
        DOCKER_MANIFEST => MediaKind::DockerManifest,
        OCI_INDEX => MediaKind::OciIndex,
        DOCKER_MANIFEST_LIST => MediaKind::DockerManifestList,
        DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => MediaKind::DockerSchema1,
        OCI_CONFIG | DOCKER_CONFIG => MediaKind::Config,
        OCI_EMPTY => MediaKind::Empty,
        other => layer_compression(other).map_or(MediaKind::Other, MediaKind::Layer),
    }
}

/// The compression of a layer media type, or `None` when it is not a layer type.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match essence(media_type) {
        OCI_LAYER_TAR | OCI_LAYER_NONDIST_TAR | DOCKER_LAYER_TAR => Some(Compression::None),
        OCI_LAYER_GZIP | OCI_LAYER_NONDIST_GZIP | DOCKER_LAYER_GZIP | DOCKER_LAYER_FOREIGN_GZIP => {
            Some(Compression::Gzip)
        }
        OCI_LAYER_ZSTD | OCI_LAYER_NONDIST_ZSTD | DOCKER_LAYER_ZSTD => Some(Compression::Zstd),
        _ => None,
    }
}

/// A short human name for a media type, for labels in the UI and CLI.
pub fn describe(media_type: &str) -> &'static str {
    match classify(media_type) {
        MediaKind::OciManifest => "OCI image manifest",
        MediaKind::DockerManifest => "Docker image manifest (schema 2)",
        MediaKind::OciIndex => "OCI image index",
        MediaKind::DockerManifestList => "Docker manifest list",
        MediaKind::DockerSchema1 => "Docker image manifest (schema 1)",
        MediaKind::Config => "image configuration",
        MediaKind::Layer(Compression::None) => "layer (tar)",
        MediaKind::Layer(Compression::Gzip) => "layer (tar+gzip)",
        MediaKind::Layer(Compression::Zstd) => "layer (tar+zstd)",
        MediaKind::Empty => "empty descriptor",
        MediaKind::Other => "other content",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_follows_the_schema_pattern() {
        let longest = format!("{}/{}", "a".repeat(127), "b".repeat(127));
        for ok in [
            OCI_MANIFEST,
            DOCKER_SCHEMA1_SIGNED,
            "text/plain",
            "a/b",
            "1/2",
            "x!#$&^_.+-/y",
            longest.as_str(),
        ] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        let too_long_type = format!("{}/b", "a".repeat(128));
        let too_long_sub = format!("a/{}", "b".repeat(128));
        let cases = [
            ("", "empty"),
            ("application", "no '/'"),
            (".foo/bar", "type must start"),
            ("foo/.bar", "subtype must start"),
            ("/bar", "empty type"),
            ("foo/", "empty subtype"),
            ("foo/bar/baz", "second '/'"),
            ("foo bar/baz", "type has a character"),
            (too_long_type.as_str(), "type is longer"),
            (too_long_sub.as_str(), "subtype is longer"),
        ];
        for (bad, needle) in cases {
            let e = validate(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad:?}: {e}");
        }
    }

    #[test]
    fn classifies() {
        assert_eq!(classify(OCI_INDEX), MediaKind::OciIndex);
        assert_eq!(
            classify("application/vnd.docker.distribution.manifest.v2+json; charset=utf-8"),
            MediaKind::DockerManifest
        );
        assert_eq!(classify(DOCKER_SCHEMA1_SIGNED), MediaKind::DockerSchema1);
        assert_eq!(
            classify(OCI_LAYER_ZSTD),
            MediaKind::Layer(Compression::Zstd)
        );
        assert_eq!(
            classify(DOCKER_LAYER_FOREIGN_GZIP),
            MediaKind::Layer(Compression::Gzip)
        );
        assert_eq!(classify(IN_TOTO), MediaKind::Other);
        assert_eq!(layer_compression(OCI_CONFIG), None);
        assert!(is_generic("application/json; charset=utf-8"));
        assert!(!is_generic(OCI_MANIFEST));
        assert_eq!(describe(DOCKER_MANIFEST_LIST), "Docker manifest list");
    }
}
