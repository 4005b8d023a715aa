//! The whole analysis of one image as one serializable report (the page's and `layerscope inspect --json`'s shape).
//!
//! [`ImageReport`] is what [`crate::archive::ArchiveReader`] hands back when it is done
//! ([`crate::archive::Step::Done`]), and, partly filled, as soon as the image's config is
//! read ([`crate::archive::Step::Overview`]). It round-trips through serde so a Web Worker can
//! post it to the page as JSON and the page can read it back.
//!
//! Digests, compressions, formats and kinds are typed here and serialize to the same JSON
//! strings people read (`sha256:...`, `gzip`, `docker-save`, `dir`). dive's export of a
//! report is in [`crate::present::dive`].

use serde::{Deserialize, Serialize};

use crate::engine::tar::EntryKind;
use crate::model::digest::Digest;
pub use crate::model::digest::DigestRole;
use crate::model::media::Compression;

/// Everything the page and `layerscope inspect` show about one image of an archive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReport {
    /// Where the bytes came from and how much of them was read.
    pub source: SourceInfo,
    /// Every image the archive holds, with its tags; `selected` indexes into it.
    pub images: Vec<ImageListing>,
    /// Index into `images` of the image this report analyses.
    pub selected: usize,
    /// The `docker image ls` row.
    pub image_ls: ImageLsRow,
    /// `docker history` rows, newest first.
    pub history: Vec<HistoryRow>,
    /// One entry per layer, bottom (index 0) to top.
    pub layers: Vec<LayerReport>,
    /// Every digest that was checked, and every blob size that differs from its descriptor's,
    /// with the outcome.
    pub verification: Vec<Verification>,
    /// Layers whose digests are not checked yet (a tree can be complete before its hashes
    /// are); empty once every layer is verified, and then left out of the JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unverified_layers: Vec<usize>,
    /// dive's efficiency figures; `None` until every layer is scanned.
    pub efficiency: Option<EfficiencyReport>,
    /// Paths written more than once across layers, largest waste first (dive's `fileReference`).
    pub inefficient_files: Vec<InefficientFile>,
    /// The merged file system of the top layer, sorted by path.
    pub files: MergedFiles,
    /// The `docker image inspect` object for this image.
    pub inspect: serde_json::Value,
    /// The index (manifest list) the image was chosen from, when the source named one by
    /// digest (a registry reference to a multi-platform image).
    #[serde(default)]
    pub index_digest: Option<Digest>,
    /// What a container started from the image runs, and how: the config a person reads first.
    #[serde(default)]
    pub run_config: RunConfig,
    /// The image's documents as text: for the views that show them, not for `--json`.
    #[serde(default)]
    pub documents: ImageDocuments,
    /// Things that are odd but not fatal (e.g. several images and none chosen).
    pub warnings: Vec<String>,
    /// True once every layer has been scanned; false in the early overview.
    pub complete: bool,
}

/// Where an image was read from: an archive's container format, or a registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// `docker save` before Docker 25: `manifest.json` and `<id>/layer.tar`.
    #[default]
    DockerSave,
    /// Docker 25+ `docker save`: an OCI layout plus `manifest.json`.
    DockerSaveOci,
    /// An OCI image layout archive (`index.json`, `blobs/`), from skopeo, buildx, podman...
    OciLayout,
    /// An OCI image layout directory (the CLI reads one from disk).
    OciLayoutDirectory,
    /// A registry, over the Distribution API.
    Registry,
}

impl SourceFormat {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::DockerSave => "docker-save",
            SourceFormat::DockerSaveOci => "docker-save-oci",
            SourceFormat::OciLayout => "oci-layout",
            SourceFormat::OciLayoutDirectory => "oci-layout-directory",
            SourceFormat::Registry => "registry",
        }
    }

    /// True for the OCI layouts, whose ref names are often bare tags (`latest`, `1.0`).
    pub fn is_oci_layout(self) -> bool {
        matches!(
            self,
            SourceFormat::OciLayout | SourceFormat::OciLayoutDirectory
        )
    }
}

/// What a path in the merged file system is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A regular file (also sparse files and unknown tar types, as POSIX reads them).
    #[default]
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link.
    Hardlink,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A named pipe.
    Fifo,
}

impl From<EntryKind> for FileKind {
    fn from(kind: EntryKind) -> FileKind {
        match kind {
            EntryKind::File | EntryKind::GnuSparse | EntryKind::Other(_) => FileKind::File,
            EntryKind::Directory => FileKind::Dir,
            EntryKind::Symlink => FileKind::Symlink,
            EntryKind::HardLink => FileKind::Hardlink,
            EntryKind::CharDevice => FileKind::Char,
            EntryKind::BlockDevice => FileKind::Block,
            EntryKind::Fifo => FileKind::Fifo,
        }
    }
}

/// How the archive was read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    /// The archive's container format, or `registry`.
    pub format: SourceFormat,
    /// Compression of the outer archive.
    pub compression: Compression,
    /// True when the archive was read once front to back (compressed outer archive or a pipe).
    pub streamed: bool,
    /// Bytes the reader asked its caller for.
    pub bytes_read: u64,
    /// Size of the archive, when the caller knew it.
    pub total_bytes: Option<u64>,
}

/// One image found in an archive, as listed before any layer is read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageListing {
    /// Position in the archive's list (manifest.json order, or index.json order depth first).
    pub index: usize,
    /// `name:tag` references; empty for an untagged image.
    pub tags: Vec<String>,
    /// Digest of the image config (the image ID), when the archive names it by digest.
    pub config_digest: Option<Digest>,
    /// Digest of the manifest, for OCI layouts.
    pub manifest_digest: Option<Digest>,
    /// `os/arch[/variant]` from the index, when the index says.
    pub platform: Option<String>,
    /// Number of layers the manifest lists.
    pub layer_count: usize,
    /// Sum of the layer blob sizes as stored in the archive.
    pub stored_size: u64,
}

/// The `docker image ls` row.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageLsRow {
    /// Repository (`<none>` when untagged).
    pub repository: String,
    /// Tag (`<none>` when untagged).
    pub tag: String,
    /// Short image ID (first 12 hex digits of the config digest).
    pub image_id: String,
    /// Creation time from the config, RFC 3339, as written there.
    pub created: Option<String>,
    /// Sum of the uncompressed layer sizes, in bytes.
    pub size_bytes: u64,
    /// `size_bytes` the way the docker CLI prints it (`1.2MB`).
    pub size: String,
}

/// One `docker history` row.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRow {
    /// Image ID for the top row, `<missing>` for the others (as docker shows a pulled image).
    pub image: String,
    /// Creation time, RFC 3339, as written in the config.
    pub created: Option<String>,
    /// The command that made this step.
    pub created_by: String,
    /// Uncompressed size of the layer this step made (0 for an empty layer).
    pub size: u64,
    /// The history entry's comment.
    pub comment: String,
    /// True when the step made no layer.
    pub empty_layer: bool,
}

/// One layer of the image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerReport {
    /// 0 for the bottom layer.
    pub index: usize,
    /// Path of the layer inside the archive (after following a symlink).
    pub path: String,
    /// Digest of the stored (possibly compressed) blob.
    pub digest: Option<Digest>,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: Option<Digest>,
    /// Media type from the manifest, when it has one.
    pub media_type: Option<String>,
    /// As detected from the bytes; `None` until the layer is scanned.
    pub compression: Option<Compression>,
    /// Size of the stored blob.
    pub stored_size: u64,
    /// Size of the uncompressed tar stream.
    pub tar_size: u64,
    /// Sum of the sizes of the regular files in the layer (dive's layer size).
    pub size_bytes: u64,
    /// The history command that made this layer.
    pub command: String,
    /// Number of tar entries.
    pub entry_count: u64,
    /// Paths this layer adds to the image.
    pub added: u64,
    /// Paths this layer changes.
    pub modified: u64,
    /// Paths this layer removes (whiteouts).
    pub removed: u64,
    /// True once the layer has been scanned.
    pub scanned: bool,
    /// The layer's own entries in dive's `fileList` shape.
    pub file_list: LayerFiles,
}

/// One tar entry of one layer, in dive's `fileList` shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerFile {
    /// The tar name cleaned as Go's `path.Clean` does (`etc/passwd`), as dive writes it.
    pub path: String,
    /// The tar type flag byte (`'0'` = 48 for a file, `'5'` = 53 for a directory).
    pub type_flag: u8,
    /// Link target for links, empty otherwise.
    pub link_name: String,
    /// Size from the tar header.
    pub size: u64,
    /// Mode in Go's `os.FileMode` encoding (type bits high, permission bits low), as dive exports it.
    pub file_mode: u32,
    /// Owner user ID.
    pub uid: u64,
    /// Owner group ID.
    pub gid: u64,
    /// True for directories.
    pub is_dir: bool,
}

/// One check of the bytes read against what the documents promise: a digest, or a blob's
/// size against its descriptor's.
///
/// In JSON a row is `{"kind", "expected", "actual", "subject", "ok"}`: digest rows carry
/// digest strings (`"kind": "layer"`, `"sha256:..."`), size rows byte counts
/// (`"kind": "layer_size"`, `1234`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// What was compared, as promised and as read.
    #[serde(flatten)]
    pub compared: Compared,
    /// What was checked: an archive path, or `layer N (path)`.
    pub subject: String,
    /// The value read is the one promised.
    pub ok: bool,
}

/// What one verification row compared, with the value the documents promise and the value
/// of the bytes read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Compared {
    /// A digest.
    Digest {
        /// Which digest.
        kind: DigestRole,
        /// The digest the documents promise.
        expected: Digest,
        /// The digest of the bytes read.
        actual: Digest,
    },
    /// A blob's length.
    Size {
        /// Which blob's size.
        kind: SizeRole,
        /// The size its descriptor gives, in bytes.
        expected: u64,
        /// The bytes there are (an archive member's size, or what a registry sent).
        actual: u64,
    },
}

/// Which blob's size a [`Compared::Size`] row is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SizeRole {
    /// A stored (possibly compressed) layer blob, against the manifest's layer descriptor.
    #[serde(rename = "layer_size")]
    Layer,
}

impl SizeRole {
    /// The name used in reports (the JSON `kind`).
    pub fn name(self) -> &'static str {
        match self {
            SizeRole::Layer => "layer_size",
        }
    }
}

impl Verification {
    /// The row of a digest compared with the one the documents promise.
    pub fn digest(
        kind: DigestRole,
        subject: impl Into<String>,
        expected: &Digest,
        actual: &Digest,
    ) -> Verification {
        Verification {
            ok: expected == actual,
            compared: Compared::Digest {
                kind,
                expected: expected.clone(),
                actual: actual.clone(),
            },
            subject: subject.into(),
        }
    }

    /// The row of a blob's length compared with the size its descriptor gives.
    pub fn size(
        kind: SizeRole,
        subject: impl Into<String>,
        expected: u64,
        actual: u64,
    ) -> Verification {
        Verification {
            ok: expected == actual,
            compared: Compared::Size {
                kind,
                expected,
                actual,
            },
            subject: subject.into(),
        }
    }

    /// The row's `kind` as the JSON names it (`manifest`, `config`, `layer`, `diff_id`,
    /// `layer_size`).
    pub fn kind_name(&self) -> &'static str {
        match &self.compared {
            Compared::Digest { kind, .. } => kind.name(),
            Compared::Size { kind, .. } => kind.name(),
        }
    }

    /// The digest role, for a digest row.
    pub fn digest_role(&self) -> Option<DigestRole> {
        match &self.compared {
            Compared::Digest { kind, .. } => Some(*kind),
            Compared::Size { .. } => None,
        }
    }

    /// What was compared, in words for people: a layer's own digest is its blob's (the
    /// diff_id is its tar's), and its size the blob's too.
    pub fn what(&self) -> &'static str {
        match &self.compared {
            Compared::Digest {
                kind: DigestRole::Layer,
                ..
            } => "blob digest",
            Compared::Digest { kind, .. } => kind.name(),
            Compared::Size {
                kind: SizeRole::Layer,
                ..
            } => "blob size",
        }
    }

    /// The promised value as people read it: a digest, or `N bytes`.
    pub fn expected_text(&self) -> String {
        match &self.compared {
            Compared::Digest { expected, .. } => expected.to_string(),
            Compared::Size { expected, .. } => bytes(*expected),
        }
    }

    /// The value read, as [`Verification::expected_text`] writes it.
    pub fn actual_text(&self) -> String {
        match &self.compared {
            Compared::Digest { actual, .. } => actual.to_string(),
            Compared::Size { actual, .. } => bytes(*actual),
        }
    }
}

/// An exact byte count: a size row's two values can differ by one byte, which a rounded
/// size (`1.2MB`) would hide.
fn bytes(count: u64) -> String {
    if count == 1 {
        "1 byte".to_string()
    } else {
        format!("{count} bytes")
    }
}

/// dive's efficiency figures plus reclaimable bytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EfficiencyReport {
    /// dive's `sizeBytes`: total of all layers' file sizes.
    pub size_bytes: u64,
    /// Bytes added above the bottom layer.
    pub user_size_bytes: u64,
    /// dive's `inefficientBytes`.
    pub wasted_bytes: u64,
    /// dive's `efficiencyScore`, 0..=1.
    pub score: f64,
    /// wasted bytes / user bytes, as dive's `--ci` rule reads it.
    pub wasted_user_percent: f64,
    /// Bytes that flattening the image would save.
    pub reclaimable_bytes: u64,
}

/// A path written in more than one layer (dive's `fileReference`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InefficientFile {
    /// dive's form: a leading `/`.
    pub path: String,
    /// How many layers hold a copy.
    pub count: u64,
    /// Bytes all copies take.
    pub wasted_bytes: u64,
}

/// One path in the merged file system of the top layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergedFile {
    /// Path without a leading `/`.
    pub path: String,
    /// What the path is.
    #[serde(rename = "type")]
    pub kind: FileKind,
    /// Size in bytes (directories: 0).
    pub size: u64,
    /// Permission and special bits (`0o4755`), as in the tar header.
    pub mode: u32,
    /// Link target, empty when not a link.
    pub link_name: String,
    /// Index of the layer that last wrote this path.
    pub layer: usize,
}

/// The most bytes of one document a report keeps as text; real manifests and configs are a
/// few kilobytes, and a view has no use for megabytes of JSON.
pub const MAX_DOCUMENT_TEXT_BYTES: usize = 1024 * 1024;

/// One document as its bytes read, for display: the exact text, cut at
/// [`MAX_DOCUMENT_TEXT_BYTES`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentText {
    /// Where the document is: an archive member (`manifest.json`, `blobs/sha256/...`) or the
    /// registry's name for it (`manifest sha256:...`).
    pub name: String,
    /// The text, exactly as stored (invalid UTF-8 replaced), up to the limit.
    pub text: String,
    /// The document's whole size in bytes.
    pub size: u64,
    /// True when `text` holds only the first [`MAX_DOCUMENT_TEXT_BYTES`].
    pub truncated: bool,
}

impl DocumentText {
    /// The text of `bytes`, kept up to [`MAX_DOCUMENT_TEXT_BYTES`] (cut at a character
    /// boundary).
    pub fn new(name: impl Into<String>, bytes: &[u8]) -> DocumentText {
        let truncated = bytes.len() > MAX_DOCUMENT_TEXT_BYTES;
        let kept = &bytes[..bytes.len().min(MAX_DOCUMENT_TEXT_BYTES)];
        let mut text = String::from_utf8_lossy(kept).into_owned();
        if truncated {
            // A multi-byte character cut in two decodes as a replacement character: drop it.
            while text.ends_with(char::REPLACEMENT_CHARACTER) {
                text.pop();
            }
        }
        DocumentText {
            name: name.into(),
            text,
            size: bytes.len() as u64,
            truncated,
        }
    }
}

/// The documents of one image as text, and what the history reads as.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDocuments {
    /// `docker image inspect` of the image, printed as the docker CLI prints it.
    pub inspect: String,
    /// The manifest that lists the layers (`manifest.json` for a `docker save`), when the
    /// source kept it.
    pub manifest: Option<DocumentText>,
    /// The image config.
    pub config: DocumentText,
    /// The history as a Dockerfile, oldest step first.
    pub dockerfile: String,
}

/// The container defaults of an image's config, as a person reads them first. Absent
/// settings are empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunConfig {
    /// `os/arch[/variant]` the image is built for.
    pub platform: String,
    /// The entrypoint, exec form.
    pub entrypoint: Option<Vec<String>>,
    /// The default command (or arguments to the entrypoint), exec form.
    pub cmd: Option<Vec<String>>,
    /// Environment variables in the config's order.
    pub env: Vec<EnvVar>,
    /// Ports the image expects to listen on (`80/tcp`).
    pub exposed_ports: Vec<String>,
    /// Volume mount points.
    pub volumes: Vec<String>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// User (and group) the process runs as.
    pub user: Option<String>,
    /// Labels, sorted by name.
    pub labels: Vec<(String, String)>,
    /// The health check in words, when the image has one.
    pub healthcheck: Option<String>,
    /// The signal that stops the container.
    pub stop_signal: Option<String>,
    /// The shell of `RUN`'s shell form, when the image sets one.
    pub shell: Option<Vec<String>>,
    /// Triggers run when the image is used as a base.
    pub on_build: Vec<String>,
}

/// One `NAME=value` of a config's `Env`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value (empty when the entry has no `=`).
    pub value: String,
}

impl ImageReport {
    /// The listing of the analysed image.
    pub fn selected_image(&self) -> Option<&ImageListing> {
        self.images.get(self.selected)
    }

    /// True when every layer's digests are in and every check (digest or size) matched.
    pub fn verified(&self) -> bool {
        self.unverified_layers.is_empty() && self.verification.iter().all(|v| v.ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trips_through_json() {
        let report = ImageReport {
            images: vec![ImageListing {
                index: 0,
                tags: vec!["a:b".into()],
                ..Default::default()
            }],
            layers: vec![LayerReport {
                index: 0,
                diff_id: Some(Digest::sha256_of(b"x")),
                ..Default::default()
            }],
            efficiency: Some(EfficiencyReport {
                score: 0.5,
                ..Default::default()
            }),
            ..Default::default()
        };
        let text = serde_json::to_string(&report).unwrap();
        let back: ImageReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn digest_and_size_rows_keep_their_json_shape_and_read_back() {
        let promised = Digest::sha256_of(b"promised");
        let read = Digest::sha256_of(b"read");
        let rows = vec![
            Verification::digest(DigestRole::Layer, "layer 0 (a)", &promised, &read),
            Verification::size(SizeRole::Layer, "layer 0 (a)", 1234, 1200),
            Verification::size(SizeRole::Layer, "layer 1 (b)", 7, 7),
        ];
        let json = serde_json::to_value(&rows).unwrap();
        assert_eq!(
            json[0],
            serde_json::json!({
                "kind": "layer",
                "subject": "layer 0 (a)",
                "expected": promised.to_string(),
                "actual": read.to_string(),
                "ok": false,
            })
        );
        assert_eq!(
            json[1],
            serde_json::json!({
                "kind": "layer_size",
                "subject": "layer 0 (a)",
                "expected": 1234,
                "actual": 1200,
                "ok": false,
            })
        );
        assert_eq!(json[2]["ok"], true);
        let back: Vec<Verification> = serde_json::from_value(json).unwrap();
        assert_eq!(back, rows);
        assert_eq!(back[1].what(), "blob size");
        assert_eq!(back[1].expected_text(), "1234 bytes");
        assert_eq!(back[1].actual_text(), "1200 bytes");
        assert_eq!(back[0].what(), "blob digest");
        assert_eq!(back[0].actual_text(), read.to_string());
        // A size row is not a digest row, and a row of the wrong kind for its values is
        // not read back as either.
        assert_eq!(back[1].digest_role(), None);
        let mixed = serde_json::json!({"kind": "layer_size", "subject": "s",
            "expected": promised.to_string(), "actual": read.to_string(), "ok": false});
        assert!(serde_json::from_value::<Verification>(mixed).is_err());
    }
}

/// A layer's entries in dive's `fileList` shape, stored compactly ([`FileRows`]).
pub type LayerFiles = FileRows<LayerFile>;

/// The merged file system's rows, stored compactly ([`FileRows`]).
pub type MergedFiles = FileRows<MergedFile>;

/// A row of a [`FileRows`] list: written to and read back from its compact bytes.
pub trait FileRow: Sized {
    /// The row's path, which the list stores as the part it does not share with the
    /// previous row's path.
    fn path(&self) -> &str;
    /// Appends everything but the path.
    fn encode_rest(&self, out: &mut Vec<u8>);
    /// Reads back what [`FileRow::encode_rest`] wrote, with the path given.
    fn decode_rest(path: String, bytes: &mut &[u8]) -> Self;
}

/// A list of file rows kept as bytes: each path as the length of the prefix it shares
/// with the previous path and the rest, numbers as LEB128 varints. An image's file
/// lists have a row per entry, and owned strings per row would take most of a report's
/// memory; rows are decoded one at a time as they are read or serialized. Serializes
/// (and deserializes) as the JSON array of its rows.
#[derive(Clone, PartialEq, Eq)]
pub struct FileRows<T> {
    bytes: Vec<u8>,
    len: usize,
    /// The last row's path (the next row's path is stored as what it adds to it).
    last_path: String,
    row: std::marker::PhantomData<T>,
}

impl<T> Default for FileRows<T> {
    fn default() -> Self {
        FileRows {
            bytes: Vec::new(),
            len: 0,
            last_path: String::new(),
            row: std::marker::PhantomData,
        }
    }
}

impl<T: FileRow> FileRows<T> {
    /// No rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a row.
    pub fn push(&mut self, row: &T) {
        let path = row.path();
        let shared = path
            .bytes()
            .zip(self.last_path.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        // Keep the split on a character boundary so every suffix is UTF-8 by itself.
        let shared = (0..=shared)
            .rev()
            .find(|&i| path.is_char_boundary(i))
            .unwrap_or(0);
        put_varint(&mut self.bytes, shared as u64);
        put_varint(&mut self.bytes, (path.len() - shared) as u64);
        self.bytes.extend_from_slice(&path.as_bytes()[shared..]);
        row.encode_rest(&mut self.bytes);
        self.last_path.truncate(shared);
        self.last_path.push_str(&path[shared..]);
        self.len += 1;
    }

    /// Appends a row whose path is the previous row's path cut to `kept` bytes followed by
    /// `added`; `row`'s own path is not read. The same bytes as [`FileRows::push`] with the
    /// whole path, but the work is in `added` alone, not in the whole path: a tree's rows
    /// written in order (each after its parent's path) cost the length of their names, where
    /// whole paths would cost depth times length. `kept` must be at most the previous path's
    /// length and on a character boundary.
    pub fn push_extending(&mut self, kept: usize, added: &str, row: &T) {
        assert!(
            kept <= self.last_path.len() && self.last_path.is_char_boundary(kept),
            "push_extending: {kept} is not a prefix of the previous path"
        );
        // What `push` would find: `added` may repeat more of the previous path.
        let more = added
            .bytes()
            .zip(self.last_path.as_bytes()[kept..].iter().copied())
            .take_while(|(a, b)| a == b)
            .count();
        let more = (0..=more)
            .rev()
            .find(|&i| added.is_char_boundary(i))
            .unwrap_or(0);
        let shared = kept + more;
        put_varint(&mut self.bytes, shared as u64);
        put_varint(&mut self.bytes, (added.len() - more) as u64);
        self.bytes.extend_from_slice(&added.as_bytes()[more..]);
        row.encode_rest(&mut self.bytes);
        self.last_path.truncate(shared);
        self.last_path.push_str(&added[more..]);
        self.len += 1;
    }

    /// Frees spare capacity (a finished list).
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }

    /// Bytes the list holds on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.last_path.capacity()
    }

    /// The rows, decoded one at a time.
    pub fn iter(&self) -> FileRowsIter<'_, T> {
        FileRowsIter {
            bytes: &self.bytes,
            path: String::new(),
            left: self.len,
            row: std::marker::PhantomData,
        }
    }
}

/// The rows of a [`FileRows`], decoded in order.
pub struct FileRowsIter<'a, T> {
    bytes: &'a [u8],
    path: String,
    left: usize,
    row: std::marker::PhantomData<T>,
}

impl<T: FileRow> Iterator for FileRowsIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let shared = take_varint(&mut self.bytes) as usize;
        let rest = take_varint(&mut self.bytes) as usize;
        let (suffix, tail) = self.bytes.split_at(rest);
        self.bytes = tail;
        self.path.truncate(shared);
        // Written from a `&str` split on a character boundary.
        self.path
            .push_str(std::str::from_utf8(suffix).expect("rows store UTF-8 paths"));
        Some(T::decode_rest(self.path.clone(), &mut self.bytes))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T: FileRow> ExactSizeIterator for FileRowsIter<'_, T> {}

impl<'a, T: FileRow> IntoIterator for &'a FileRows<T> {
    type Item = T;
    type IntoIter = FileRowsIter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: FileRow> FromIterator<T> for FileRows<T> {
    fn from_iter<I: IntoIterator<Item = T>>(rows: I) -> Self {
        let mut list = FileRows::new();
        for row in rows {
            list.push(&row);
        }
        list.shrink_to_fit();
        list
    }
}

impl<T: FileRow> From<Vec<T>> for FileRows<T> {
    fn from(rows: Vec<T>) -> Self {
        rows.into_iter().collect()
    }
}

impl<T: FileRow + std::fmt::Debug> std::fmt::Debug for FileRows<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: FileRow + Serialize> Serialize for FileRows<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: FileRow + Deserialize<'de>> Deserialize<'de> for FileRows<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Rows<T>(std::marker::PhantomData<T>);
        impl<'de, T: FileRow + Deserialize<'de>> serde::de::Visitor<'de> for Rows<T> {
            type Value = FileRows<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of file rows")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FileRows<T>, A::Error> {
                let mut list = FileRows::new();
                while let Some(row) = seq.next_element::<T>()? {
                    list.push(&row);
                }
                list.shrink_to_fit();
                Ok(list)
            }
        }
        d.deserialize_seq(Rows(std::marker::PhantomData))
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a varint [`put_varint`] wrote (the list's own bytes, so never cut).
fn take_varint(bytes: &mut &[u8]) -> u64 {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let (&byte, rest) = bytes
            .split_first()
            .expect("rows end after their last varint");
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn take_text(bytes: &mut &[u8]) -> String {
    let len = take_varint(bytes) as usize;
    let (text, rest) = bytes.split_at(len);
    *bytes = rest;
    String::from_utf8(text.to_vec()).expect("rows store UTF-8 text")
}

fn take_byte(bytes: &mut &[u8]) -> u8 {
    let (&byte, rest) = bytes.split_first().expect("rows end after their last byte");
    *bytes = rest;
    byte
}

impl FileRow for LayerFile {
    fn path(&self) -> &str {
        &self.path
    }

    fn encode_rest(&self, out: &mut Vec<u8>) {
        out.push(self.type_flag);
        out.push(u8::from(self.is_dir));
        put_text(out, &self.link_name);
        put_varint(out, self.size);
        put_varint(out, u64::from(self.file_mode));
        put_varint(out, self.uid);
        put_varint(out, self.gid);
    }

    fn decode_rest(path: String, bytes: &mut &[u8]) -> LayerFile {
        let type_flag = take_byte(bytes);
        let is_dir = take_byte(bytes) != 0;
        LayerFile {
            path,
            type_flag,
            is_dir,
            link_name: take_text(bytes),
            size: take_varint(bytes),
            file_mode: take_varint(bytes) as u32,
            uid: take_varint(bytes),
            gid: take_varint(bytes),
        }
    }
}

const FILE_KINDS: [FileKind; 7] = [
    FileKind::File,
    FileKind::Dir,
    FileKind::Symlink,
    FileKind::Hardlink,
    FileKind::Char,
    FileKind::Block,
    FileKind::Fifo,
];

impl FileRow for MergedFile {
    fn path(&self) -> &str {
        &self.path
    }

    fn encode_rest(&self, out: &mut Vec<u8>) {
        let kind = FILE_KINDS
            .iter()
            .position(|&k| k == self.kind)
            .expect("every kind is listed");
        out.push(kind as u8);
        put_text(out, &self.link_name);
        put_varint(out, self.size);
        put_varint(out, u64::from(self.mode));
        put_varint(out, self.layer as u64);
    }

    fn decode_rest(path: String, bytes: &mut &[u8]) -> MergedFile {
        let kind = FILE_KINDS[take_byte(bytes) as usize];
        MergedFile {
            path,
            kind,
            link_name: take_text(bytes),
            size: take_varint(bytes),
            mode: take_varint(bytes) as u32,
            layer: take_varint(bytes) as usize,
        }
    }
}

#[cfg(test)]
mod file_rows_tests {
    use super::*;

    #[test]
    fn rows_read_back_as_written_and_serialize_as_the_list() {
        let rows = vec![
            LayerFile {
                path: "etc/ééa".into(),
                type_flag: b'0',
                size: 1 << 40,
                file_mode: 1 << 31 | 0o755,
                uid: u64::MAX,
                gid: 0,
                ..Default::default()
            },
            LayerFile {
                path: "etc/éèb".into(),
                link_name: "../x".into(),
                type_flag: b'2',
                ..Default::default()
            },
            LayerFile {
                path: String::new(),
                is_dir: true,
                ..Default::default()
            },
        ];
        let list = LayerFiles::from(rows.clone());
        assert_eq!(list.len(), 3);
        assert_eq!(list.iter().collect::<Vec<_>>(), rows);
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            serde_json::to_string(&rows).unwrap()
        );
        let back: LayerFiles =
            serde_json::from_str(&serde_json::to_string(&rows).unwrap()).unwrap();
        assert_eq!(back, list);
        let merged = vec![MergedFile {
            path: "a/b".into(),
            kind: FileKind::Fifo,
            size: 7,
            mode: 0o4755,
            link_name: "l".into(),
            layer: 300,
        }];
        assert_eq!(
            MergedFiles::from(merged.clone()).iter().collect::<Vec<_>>(),
            merged
        );
    }
}
