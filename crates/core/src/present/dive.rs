//! dive's `--json` export, and dive's per-layer `fileList` entries.
//!
//! [`DiveExport`] is the `layerscope inspect --json` document: dive's export shape
//! (`layer[]`, `image`) plus layerscope's extras (`history`, `inspect`, `files`,
//! `verification`, `images`). [`ImageReport::dive_export`] builds it from a report;
//! [`layer_file`] writes one tar entry the way dive's `fileList` does.

use serde::{Deserialize, Serialize};

use crate::engine::scan::LayerEntry;
use crate::engine::tar::EntryKind;
use crate::model::digest::Digest;
use crate::present::report::{
    HistoryRow, ImageListing, ImageReport, LayerFile, LayerFiles, LayerReport, MergedFiles,
    Verification,
};

/// The `layerscope inspect --json` document: dive's export shape plus layerscope's extras,
/// borrowing the report's lists (a 1M-entry image's file lists are not copied to print it).
#[derive(Clone, Debug, Serialize)]
pub struct DiveExport<'a> {
    /// dive's `layer[]`, bottom first.
    pub layer: Vec<DiveLayer<'a>>,
    /// dive's `image` plus layerscope's figures.
    pub image: DiveImage,
    /// `docker history` rows, newest first.
    pub history: &'a [HistoryRow],
    /// The `docker image inspect` object.
    pub inspect: &'a serde_json::Value,
    /// The merged file system of the top layer.
    pub files: &'a MergedFiles,
    /// Every digest checked.
    pub verification: &'a [Verification],
    /// Every image in the archive, with its tags.
    pub images: &'a [ImageListing],
    /// Non-fatal oddities.
    pub warnings: &'a [String],
}

/// One entry of dive's `layer[]`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiveLayer<'a> {
    /// 0 for the bottom layer.
    pub index: usize,
    /// The layer's path in the archive, as dive's `id`.
    pub id: &'a str,
    /// dive's `digestId`: the layer's diff_id (falls back to the blob digest).
    pub digest_id: String,
    /// Σ tar header sizes of the layer's entries.
    pub size_bytes: u64,
    /// The history command that made the layer.
    pub command: &'a str,
    /// The layer's entries.
    pub file_list: &'a LayerFiles,
}

/// dive's `image` object plus `userSizeBytes`, `wastedUserPercent`, `reclaimableBytes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiveImage {
    /// Σ layer sizes.
    pub size_bytes: u64,
    /// dive's wasted bytes.
    pub inefficient_bytes: u64,
    /// dive's score, 0..=1.
    pub efficiency_score: f64,
    /// Paths written more than once, largest waste first.
    pub file_reference: Vec<DiveFileReference>,
    /// Σ layer sizes above the bottom layer.
    pub user_size_bytes: u64,
    /// Wasted bytes / user bytes, a ratio as dive's `--ci` rule reads it.
    pub wasted_user_percent: f64,
    /// Bytes flattening the image would save.
    pub reclaimable_bytes: u64,
}

/// One entry of dive's `fileReference[]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiveFileReference {
    /// How many layers hold a copy.
    pub count: u64,
    /// Bytes all copies take.
    pub size_bytes: u64,
    /// The path, with a leading `/`.
    pub file: String,
}

impl ImageReport {
    /// The `layerscope inspect --json` document for this report.
    pub fn dive_export(&self) -> DiveExport<'_> {
        let efficiency = self.efficiency.clone().unwrap_or_default();
        DiveExport {
            layer: self
                .layers
                .iter()
                .map(|layer| DiveLayer {
                    index: layer.index,
                    id: &layer.path,
                    digest_id: digest_id(layer),
                    size_bytes: layer.size_bytes,
                    command: &layer.command,
                    file_list: &layer.file_list,
                })
                .collect(),
            image: DiveImage {
                size_bytes: efficiency.size_bytes,
                inefficient_bytes: efficiency.wasted_bytes,
                efficiency_score: efficiency.score,
                file_reference: self
                    .inefficient_files
                    .iter()
                    .map(|f| DiveFileReference {
                        count: f.count,
                        size_bytes: f.wasted_bytes,
                        file: f.path.clone(),
                    })
                    .collect(),
                user_size_bytes: efficiency.user_size_bytes,
                wasted_user_percent: efficiency.wasted_user_percent,
                reclaimable_bytes: efficiency.reclaimable_bytes,
            },
            history: &self.history,
            inspect: &self.inspect,
            files: &self.files,
            verification: &self.verification,
            images: &self.images,
            warnings: &self.warnings,
        }
    }

    /// Writes the `layerscope inspect --json` document ([`DiveExport::to_pretty_json`]'s
    /// bytes, without the final newline).
    pub fn write_dive_export<W: std::io::Write>(&self, out: W) -> serde_json::Result<()> {
        serde_json::to_writer_pretty(out, &self.dive_export())
    }

    /// The `layerscope inspect --json` document as text, with its final newline.
    pub fn dive_export_json(&self) -> String {
        self.dive_export().to_pretty_json()
    }
}

impl DiveExport<'_> {
    /// The document exactly as `layerscope inspect --json` prints it: pretty JSON and a
    /// final newline.
    pub fn to_pretty_json(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(self).expect("the export holds no non-string map keys");
        text.push('\n');
        text
    }
}

/// dive's `digestId`: the layer's diff_id, else its blob digest.
fn digest_id(layer: &LayerReport) -> String {
    layer
        .diff_id
        .as_ref()
        .or(layer.digest.as_ref())
        .map(Digest::to_string)
        .unwrap_or_default()
}

/// dive exports modes in Go's `os.FileMode` encoding: type bits high, permissions low.
fn go_file_mode(kind: EntryKind, mode: u32) -> u32 {
    use EntryKind as K;
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const NAMED_PIPE: u32 = 1 << 25;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHAR_DEVICE: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let mut go = mode & 0o777;
    if mode & 0o4000 != 0 {
        go |= SETUID;
    }
    if mode & 0o2000 != 0 {
        go |= SETGID;
    }
    if mode & 0o1000 != 0 {
        go |= STICKY;
    }
    go | match kind {
        K::Directory => DIR,
        K::Symlink => SYMLINK,
        K::CharDevice => DEVICE | CHAR_DEVICE,
        K::BlockDevice => DEVICE,
        K::Fifo => NAMED_PIPE,
        _ => 0,
    }
}

fn type_flag(kind: EntryKind) -> u8 {
    use EntryKind as K;
    match kind {
        K::File => b'0',
        K::HardLink => b'1',
        K::Symlink => b'2',
        K::CharDevice => b'3',
        K::BlockDevice => b'4',
        K::Directory => b'5',
        K::Fifo => b'6',
        K::GnuSparse => b'S',
        K::Other(flag) => flag,
    }
}

/// dive's `fileList` entry; `None` for the `./` entry, which dive leaves out.
pub fn layer_file(entry: &LayerEntry) -> Option<LayerFile> {
    let raw = entry.path_lossy();
    // dive keeps Go's `path.Clean` of the tar name: relative, unless the name was rooted.
    let clean = crate::engine::tar::normalize_path(&raw);
    if clean.is_empty() {
        return None;
    }
    let path = if raw.starts_with('/') {
        format!("/{clean}")
    } else {
        clean
    };
    Some(LayerFile {
        path,
        type_flag: type_flag(entry.kind),
        link_name: entry
            .link_target
            .as_ref()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .unwrap_or_default(),
        size: entry.size,
        file_mode: go_file_mode(entry.kind, entry.mode),
        uid: entry.uid,
        gid: entry.gid,
        is_dir: entry.kind == EntryKind::Directory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::present::report::InefficientFile;

    #[test]
    fn dive_export_uses_dive_field_names() {
        let report = ImageReport {
            layers: vec![LayerReport {
                index: 0,
                path: "x/layer.tar".into(),
                diff_id: Some(Digest::sha256_of(b"d")),
                ..Default::default()
            }],
            inefficient_files: vec![InefficientFile {
                path: "/a".into(),
                count: 2,
                wasted_bytes: 9,
            }],
            ..Default::default()
        };
        let value = serde_json::to_value(report.dive_export()).unwrap();
        assert_eq!(
            value["layer"][0]["digestId"],
            Digest::sha256_of(b"d").to_string()
        );
        assert_eq!(value["layer"][0]["fileList"], serde_json::json!([]));
        assert_eq!(value["image"]["fileReference"][0]["file"], "/a");
        assert_eq!(value["image"]["fileReference"][0]["sizeBytes"], 9);
        assert!(value["image"].get("efficiencyScore").is_some());
        assert!(value["image"].get("userSizeBytes").is_some());
    }
}
