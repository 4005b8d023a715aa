//! Platforms (os/arch/variant) and choosing a manifest from an index.
//!
//! API summary:
//! - [`Platform`] `{ os, architecture, variant, os_version, os_features }`;
//!   [`Platform::parse`]`("linux/arm64/v8")`, [`Platform::new`],
//!   [`Platform::normalized`], `Display` (`linux/arm/v7`);
//! - [`choose`]`(&ImageIndex, &Platform) -> Option<&Descriptor>`: the image
//!   manifest for a platform, never an attestation;
//! - [`list`]`(&ImageIndex) -> PlatformList { images, attestations }`;
//! - [`is_attestation`]`(&Descriptor) -> bool`.
//!
//! Normalization follows the conventions containerd and docker apply (facts,
//! not code): `x86_64`/`x86-64` are `amd64`; `aarch64` is `arm64`, and arm64's
//! `v8` is its default variant; `armhf` is `arm/v7`, `armel` is `arm/v6`, and
//! `arm` alone means `arm/v7`; `i386` is `386`; `macos` is `darwin`; os names are
//! lower-cased. When the wanted variant is absent, any variant of the same
//! os/arch will do; arm, arm64 and amd64 variants accept older ones too
//! (`arm/v7` can run `arm/v6`), preferring the newest that fits.

use std::fmt;

use crate::model::manifest::{Descriptor, ImageIndex};

/// The annotation BuildKit sets on attestation manifests in an index.
pub const REFERENCE_TYPE_ANNOTATION: &str = "vnd.docker.reference.type";
/// The value of [`REFERENCE_TYPE_ANNOTATION`] for attestations.
pub const ATTESTATION_MANIFEST: &str = "attestation-manifest";

/// A platform as an index or an image config states it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Platform {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU architecture, e.g. `amd64`.
    pub architecture: String,
    /// CPU variant, e.g. `v7` for arm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version (Windows builds).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required OS features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

/// Why a `--platform` string does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformError {
    /// The text given.
    pub text: String,
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "platform {:?} is not os/arch or os/arch/variant (e.g. linux/arm64/v8)",
            self.text
        )
    }
}

impl std::error::Error for PlatformError {}

impl Platform {
    /// A platform from os, architecture and optional variant.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_string),
            ..Platform::default()
        }
    }

    /// Parses `os/arch[/variant]`.
    pub fn parse(text: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = text.split('/').collect();
        let bad = || PlatformError {
            text: text.to_string(),
        };
        if parts
            .iter()
            .any(|p| p.is_empty() || p.contains(char::is_whitespace))
        {
            return Err(bad());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] => Ok(Platform::new(os, arch, Some(variant))),
            _ => Err(bad()),
        }
    }

    /// The canonical spelling, so that equal platforms compare equal.
    pub fn normalized(&self) -> Platform {
        let os = match self.os.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_string(),
            other => other.to_string(),
        };
        let arch = self.architecture.to_ascii_lowercase();
        let variant = self.variant.as_deref().unwrap_or("").to_ascii_lowercase();
        let (architecture, variant) = normalize_arch(&arch, &variant);
        Platform {
            os,
            architecture,
            variant: if variant.is_empty() {
                None
            } else {
                Some(variant)
            },
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
        }
    }

    /// True for the `unknown/unknown` platform BuildKit gives attestations.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let (arch, variant) = match (arch, variant) {
        ("i386", v) => ("386", v.to_string()),
        ("x86_64" | "x86-64" | "amd64", "v1") => ("amd64", String::new()),
        ("x86_64" | "x86-64" | "amd64", v) => ("amd64", v.to_string()),
        ("aarch64" | "arm64", "8" | "v8" | "v8.0") => ("arm64", String::new()),
        ("aarch64" | "arm64", v) => ("arm64", v.to_string()),
        ("armhf", _) => ("arm", "v7".to_string()),
        ("armel", _) => ("arm", "v6".to_string()),
        ("arm", "" | "7") => ("arm", "v7".to_string()),
        ("arm", v @ ("5" | "6" | "8")) => ("arm", format!("v{v}")),
        (a, v) => (a, v.to_string()),
    };
    (arch.to_string(), variant)
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::parse(s)
    }
}

/// True when an index entry is an attestation (SBOM, provenance), not a runnable image.
pub fn is_attestation(descriptor: &Descriptor) -> bool {
    let annotated = descriptor
        .annotations
        .get(REFERENCE_TYPE_ANNOTATION)
        .map(String::as_str)
        == Some(ATTESTATION_MANIFEST);
    annotated
        || descriptor
            .platform
            .as_ref()
            .is_some_and(Platform::is_unknown)
}

/// The entries of an index, images and attestations apart.
#[derive(Debug, Default)]
pub struct PlatformList<'a> {
    /// Image manifests (and nested indexes) in index order, with their platform if stated.
    pub images: Vec<&'a Descriptor>,
    /// Attestation manifests in index order.
    pub attestations: Vec<&'a Descriptor>,
}

/// Splits an index's entries into images and attestations.
pub fn list(index: &ImageIndex) -> PlatformList<'_> {
    let mut out = PlatformList::default();
    for d in &index.manifests {
        if is_attestation(d) {
            out.attestations.push(d);
        } else {
            out.images.push(d);
        }
    }
    out
}

/// Picks the image manifest for `wanted` from `index`.
///
/// An exact (normalized) match wins; otherwise the newest compatible variant.
/// An index with a single non-attestation entry that states no platform (as
/// OCI layouts often write) yields that entry, since nothing contradicts it.
pub fn choose<'a>(index: &'a ImageIndex, wanted: &Platform) -> Option<&'a Descriptor> {
    let wanted = wanted.normalized();
    let images = list(index).images;
    let mut best: Option<(u32, &Descriptor)> = None;
    for d in &images {
        let Some(have) = &d.platform else { continue };
        let Some(score) = compatibility(&wanted, &have.normalized()) else {
            continue;
        };
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, d));
        }
    }
    if let Some((_, d)) = best {
        return Some(d);
    }
    match images.as_slice() {
        [only] if only.platform.is_none() => Some(only),
        _ => None,
    }
}

/// How well `have` serves `wanted` (higher is better), or `None` if it cannot run there.
fn compatibility(wanted: &Platform, have: &Platform) -> Option<u32> {
    if wanted.os != have.os || wanted.architecture != have.architecture {
        return None;
    }
    let (w, h) = (wanted.variant.as_deref(), have.variant.as_deref());
    if w == h {
        return Some(1000);
    }
    match w {
        // No variant asked for: any will do, the default (absent) one first.
        None => Some(if h.is_none() { 999 } else { 1 }),
        Some(w) => {
            let (wn, hn) = (
                variant_rank(&wanted.architecture, Some(w))?,
                variant_rank(&have.architecture, h)?,
            );
            (hn <= wn).then_some(hn)
        }
    }
}

/// Orders variants of architectures whose newer CPUs run older code.
fn variant_rank(arch: &str, variant: Option<&str>) -> Option<u32> {
    let v = variant.unwrap_or("");
    match arch {
        "arm" => v.strip_prefix('v')?.parse().ok(),
        "arm64" if v.is_empty() => Some(80),
        "arm64" => {
            let n: f32 = v.strip_prefix('v')?.parse().ok()?;
            Some((n * 10.0).round() as u32)
        }
        "amd64" if v.is_empty() => Some(1),
        "amd64" => v.strip_prefix('v')?.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::manifest::{parse, Document};

    fn index(entries: &[(&str, &str, Option<&str>, bool)]) -> ImageIndex {
        let manifests: Vec<String> = entries
            .iter()
            .enumerate()
            .map(|(i, (os, arch, variant, attestation))| {
                let variant = variant.map(|v| format!(r#","variant":"{v}""#)).unwrap_or_default();
                let annotations = if *attestation {
                    r#","annotations":{"vnd.docker.reference.type":"attestation-manifest"}"#
                } else {
                    ""
                };
                format!(
                    r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":{i},"digest":"sha256:{:064x}","platform":{{"os":"{os}","architecture":"{arch}"{variant}}}{annotations}}}"#,
                    i + 1
                )
            })
            .collect();
        let doc = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
            manifests.join(",")
        );
        match parse(doc.as_bytes(), None).unwrap() {
            Document::Index(i) => i,
            other => panic!("not an index: {other:?}"),
        }
    }

    fn chosen(idx: &ImageIndex, wanted: &str) -> Option<u64> {
        choose(idx, &Platform::parse(wanted).unwrap()).map(|d| d.size)
    }

    #[test]
    fn normalizes_common_spellings() {
        let n = |s: &str| Platform::parse(s).unwrap().normalized().to_string();
        assert_eq!(n("linux/x86_64"), "linux/amd64");
        assert_eq!(n("linux/aarch64"), "linux/arm64");
        assert_eq!(n("linux/arm64/v8"), "linux/arm64");
        assert_eq!(n("linux/armhf"), "linux/arm/v7");
        assert_eq!(n("linux/arm"), "linux/arm/v7");
        assert_eq!(n("linux/arm/6"), "linux/arm/v6");
        assert_eq!(n("Linux/i386"), "linux/386");
        assert_eq!(n("macos/arm64"), "darwin/arm64");
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//v7").is_err());
        assert!(Platform::parse("a/b/c/d")
            .unwrap_err()
            .to_string()
            .contains("os/arch"));
    }

    #[test]
    fn chooses_by_platform_with_normalization() {
        let idx = index(&[
            ("linux", "amd64", None, false),
            ("linux", "arm64", Some("v8"), false),
            ("linux", "arm", Some("v6"), false),
            ("linux", "arm", Some("v7"), false),
            ("unknown", "unknown", None, true),
            ("linux", "amd64", None, true),
        ]);
        assert_eq!(chosen(&idx, "linux/x86_64"), Some(0));
        assert_eq!(chosen(&idx, "linux/amd64"), Some(0));
        assert_eq!(chosen(&idx, "linux/aarch64"), Some(1));
        assert_eq!(chosen(&idx, "linux/arm64"), Some(1));
        assert_eq!(chosen(&idx, "linux/arm/v7"), Some(3));
        assert_eq!(chosen(&idx, "linux/arm"), Some(3));
        assert_eq!(chosen(&idx, "linux/arm/v6"), Some(2));
        assert_eq!(chosen(&idx, "linux/arm/v5"), None);
        assert_eq!(chosen(&idx, "windows/amd64"), None);
        assert_eq!(
            chosen(&idx, "unknown/unknown"),
            None,
            "attestations are never chosen"
        );

        let listed = list(&idx);
        assert_eq!(
            listed.images.iter().map(|d| d.size).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(
            listed
                .attestations
                .iter()
                .map(|d| d.size)
                .collect::<Vec<_>>(),
            vec![4, 5]
        );
    }

    #[test]
    fn older_variants_serve_newer_requests() {
        let idx = index(&[
            ("linux", "arm", Some("v6"), false),
            ("linux", "amd64", Some("v2"), false),
        ]);
        assert_eq!(chosen(&idx, "linux/arm/v7"), Some(0));
        assert_eq!(chosen(&idx, "linux/amd64/v3"), Some(1));
        assert_eq!(
            chosen(&idx, "linux/amd64"),
            Some(1),
            "no variant wanted: any will do"
        );
        let arm64_only = index(&[("linux", "arm64", None, false)]);
        assert_eq!(chosen(&arm64_only, "linux/arm64/v8"), Some(0));
    }
}
