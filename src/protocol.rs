//! What the page and the layer worker say to each other.
//!
//! The page posts one [`Request`] (a JS object holding the `Blob` itself, which the browser
//! hands over without copying) and the worker answers with [`WorkerEvent`]s serialized as JSON
//! strings. Nothing here knows an image format: reports come from `layerscope-core` as they are.

use layerscope_core::archive::Progress;
use layerscope_core::model::digest::Digest;
use layerscope_core::present::report::{ImageListing, ImageReport, LayerReport, Verification};
use layerscope_core::present::search::SearchResults;
use layerscope_core::present::tree_view::{MarkSet, SortOrder, TreeQuery, TreeRow, ViewKind};
use layerscope_core::registry::RateLimit;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;

/// Key of the request object's blob.
const BLOB_KEY: &str = "blob";
/// Key of the request object's image choice.
const SELECT_KEY: &str = "select";
/// Key of the request object's pool size.
const SCAN_WORKERS_KEY: &str = "scanWorkers";
/// Key of the request object's registry pull (JSON text of [`RegistryPull`]).
const REGISTRY_KEY: &str = "registry";
/// Key of a question about the finished image's trees (JSON text of [`TreeRequest`]).
const TREE_KEY: &str = "tree";
/// The text the page posts to a worker to stop it (its fetches are aborted).
pub const CANCEL: &str = "cancel";
/// The text the page posts to a registry worker for the next page of tags.
pub const MORE_TAGS: &str = "more-tags";
/// The text the page posts to a worker that is done, for the whole report as
/// `layerscope inspect --json` prints it (answered with [`WorkerEvent::Export`]).
pub const EXPORT: &str = "export";

/// One image from a registry, as the page asks the worker for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryPull {
    /// The reference as the user wrote it (`nginx:1.25`, `127.0.0.1:5000/demo/app:1.0`).
    pub reference: String,
    /// The platform to pick from an index (`linux/amd64`).
    pub platform: String,
    /// The login for the registry, if the user gave one. Posted to the worker (memory to
    /// memory), never put in a URL or logged.
    pub credentials: Option<Login>,
    /// How this tab reached the registry before, if it did.
    pub route: Option<Route>,
    /// Tags per page of the tag list; the worker's default when `None`.
    #[serde(default)]
    pub tag_page_size: Option<u32>,
    /// The proxy URL from the settings, for registries the browser cannot read directly;
    /// the page's own `./proxy/` when `None`.
    #[serde(default)]
    pub proxy: Option<String>,
    /// Scan workers for the layers ([`crate::pool`]): each layer's entries and digests are
    /// fetched and scanned in them, several layers at once; 0 or `None` has the layer worker
    /// stream the layers itself, one after the other, digests and all.
    #[serde(default)]
    pub scan_workers: Option<usize>,
}

/// A registry login as the page holds it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Login {
    pub username: String,
    pub secret: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret, not even in a debug message.
        write!(
            f,
            "Login {{ username: {:?}, secret: <hidden> }}",
            self.username
        )
    }
}

/// How the page reaches a registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Route {
    /// `fetch` straight to the registry (it sends CORS headers).
    Direct,
    /// Through `./proxy/{host}/...` on the page's own origin (`layerscope serve`).
    Proxy,
}

/// Which view of which layer the Files tab shows: everything of a [`TreeQuery`] but the
/// open directories, which the worker keeps for the view it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewKey {
    pub layer: usize,
    pub kind: ViewKind,
    pub filter: MarkSet,
    pub sort: SortOrder,
}

impl ViewKey {
    /// Whether `query` is this view (whatever its directories).
    pub fn names(&self, query: &TreeQuery) -> bool {
        self.layer == query.layer
            && self.kind == query.kind
            && self.filter == query.filter
            && self.sort == query.sort
    }
}

/// A question from the Files tab to the worker that owns the image's trees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TreeRequest {
    /// Rows `start..start + count` of `view`, after `action` (opening a path's directories,
    /// toggling one, collapsing all) when there is one.
    Window {
        id: u64,
        view: ViewKey,
        start: usize,
        count: usize,
        #[serde(default)]
        action: Option<TreeAction>,
    },
    /// Paths of every layer matching `pattern` (a substring, or `/re/`).
    Search { id: u64, pattern: String },
    /// The file at `path` as layer `layer` wrote it: a preview, or all of it to download.
    ReadFile {
        id: u64,
        layer: usize,
        path: String,
        want: FileWant,
    },
}

/// What the page wants of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FileWant {
    /// Its first bytes, as text when they read as text, else as a hex dump.
    Preview,
    /// Its first bytes as a hex dump, whatever they are.
    Hex,
    /// All of it, posted as bytes for the page to save.
    Download,
}

/// A file as the viewer shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum FileContent {
    /// Its first bytes read as UTF-8 text.
    Text { text: String },
    /// An `xxd`-style dump of its first bytes; `reason` says why it is not text, when that is
    /// why.
    Hex {
        dump: String,
        shown: u64,
        reason: Option<String>,
    },
    /// A symbolic link; its content is whatever `destination` (a path in the image) holds.
    Symlink { target: String, destination: String },
    /// A directory, device, pipe or sparse file: nothing to show as content.
    NotRegular { what: String },
    /// The whole file went to the page as bytes, to be saved.
    Downloaded { bytes: u64 },
}

impl TreeRequest {
    /// The number the page gave the request; its answer carries it back.
    pub fn id(&self) -> u64 {
        match self {
            TreeRequest::Window { id, .. }
            | TreeRequest::Search { id, .. }
            | TreeRequest::ReadFile { id, .. } => *id,
        }
    }

    /// The object posted to the worker.
    pub fn to_js(&self) -> JsValue {
        let object = js_sys::Object::new();
        let text = serde_json::to_string(self).unwrap_or_default();
        let _ = js_sys::Reflect::set(&object, &TREE_KEY.into(), &text.into());
        object.into()
    }

    /// Reads a request posted by [`TreeRequest::to_js`]; `None` when `value` is not one.
    pub fn from_js(value: &JsValue) -> Option<Result<TreeRequest, String>> {
        let text = js_sys::Reflect::get(value, &TREE_KEY.into())
            .ok()?
            .as_string()?;
        Some(
            serde_json::from_str(&text)
                .map_err(|error| format!("the page's tree request is unreadable: {error}")),
        )
    }
}

/// What a window request changes first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "camelCase")]
pub enum TreeAction {
    /// Opens every directory above `path`; the answer's `focus` is its row.
    Reveal { path: String },
    /// Opens a closed directory or closes an open one.
    Toggle { path: String },
    /// Opens or closes one directory (the Right and Left keys).
    SetOpen { path: String, open: bool },
    /// Closes every directory.
    CollapseAll,
    /// Opens every directory.
    ExpandAll,
}

/// The worker's answer to a [`TreeRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TreeAnswer {
    /// A window of a view's rows.
    Rows {
        id: u64,
        view: ViewKey,
        /// Visible rows in the whole view.
        total: usize,
        /// Row number of `rows[0]` (the worker moves the window to a revealed path).
        start: usize,
        rows: Vec<TreeRow<'static>>,
        /// The row the action was about (a revealed path, a toggled directory).
        focus: Option<usize>,
        /// A path asked to be revealed that this view does not hold.
        missing: Option<String>,
        /// Entries in the view, visible or not.
        entries: usize,
    },
    /// Search hits, in layer order.
    Hits {
        id: u64,
        pattern: String,
        results: SearchResults,
    },
    /// A file, as the viewer shows it.
    File {
        id: u64,
        /// The layer whose copy of the file this is.
        layer: usize,
        path: String,
        /// The file's size (from its tar header).
        size: u64,
        content: FileContent,
        /// True when only the first bytes are shown.
        truncated: bool,
    },
    /// A file read is under way: `received` bytes of its layer's `size` (0 when not known)
    /// have come in again.
    Reading { id: u64, received: u64, size: u64 },
    /// The question could not be answered; the message says why.
    Failed { id: u64, message: String },
}

impl TreeAnswer {
    /// The number of the request this answers.
    pub fn id(&self) -> u64 {
        match self {
            TreeAnswer::Rows { id, .. }
            | TreeAnswer::Hits { id, .. }
            | TreeAnswer::File { id, .. }
            | TreeAnswer::Reading { id, .. }
            | TreeAnswer::Failed { id, .. } => *id,
        }
    }

    /// The same answer for request `id`.
    pub fn with_id(mut self, number: u64) -> TreeAnswer {
        match &mut self {
            TreeAnswer::Rows { id, .. }
            | TreeAnswer::Hits { id, .. }
            | TreeAnswer::File { id, .. }
            | TreeAnswer::Reading { id, .. }
            | TreeAnswer::Failed { id, .. } => *id = number,
        }
        self
    }
}

/// A file's bytes posted by the worker for the page to save: a plain object holding the
/// request's id, the path and a `Uint8Array` whose buffer was transferred (no JSON, no copy).
pub struct FileBytes {
    pub id: u64,
    pub path: String,
    pub bytes: js_sys::Uint8Array,
}

/// Key of a file-bytes message's bytes.
const FILE_BYTES_KEY: &str = "fileBytes";

impl FileBytes {
    /// The object the worker posts.
    pub fn message(id: u64, path: &str, bytes: &js_sys::Uint8Array) -> JsValue {
        let object = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&object, &FILE_BYTES_KEY.into(), bytes);
        let _ = js_sys::Reflect::set(&object, &"id".into(), &(id as f64).into());
        let _ = js_sys::Reflect::set(&object, &"path".into(), &path.into());
        object.into()
    }

    /// Reads a message posted by [`FileBytes::message`]; `None` for any other message.
    pub fn from_js(value: &JsValue) -> Option<FileBytes> {
        if !value.is_object() {
            return None;
        }
        let bytes = js_sys::Reflect::get(value, &FILE_BYTES_KEY.into())
            .ok()?
            .dyn_into::<js_sys::Uint8Array>()
            .ok()?;
        let id = js_sys::Reflect::get(value, &"id".into()).ok()?.as_f64()? as u64;
        let path = js_sys::Reflect::get(value, &"path".into())
            .ok()?
            .as_string()?;
        Some(FileBytes { id, path, bytes })
    }
}

/// What a worker is asked to do.
pub enum Job {
    /// Analyse an archive.
    Archive(Request),
    /// Pull an image from a registry.
    Registry(RegistryPull),
}

impl Job {
    /// The object posted to the worker.
    pub fn to_js(&self) -> JsValue {
        match self {
            Job::Archive(request) => request.to_js(),
            Job::Registry(pull) => {
                let object = js_sys::Object::new();
                let text = serde_json::to_string(pull).unwrap_or_default();
                let _ = js_sys::Reflect::set(&object, &REGISTRY_KEY.into(), &text.into());
                object.into()
            }
        }
    }

    /// Reads a job posted by [`Job::to_js`].
    pub fn from_js(value: &JsValue) -> Result<Job, String> {
        if let Some(text) = js_sys::Reflect::get(value, &REGISTRY_KEY.into())
            .ok()
            .and_then(|text| text.as_string())
        {
            return serde_json::from_str(&text)
                .map(Job::Registry)
                .map_err(|error| format!("the page's registry request is unreadable: {error}"));
        }
        Request::from_js(value).map(Job::Archive)
    }
}

/// One piece of work for a worker: analyse image `select` of the archive in `blob`.
pub struct Request {
    /// The archive: a dropped `File`, a chosen file, or the fetched demo.
    pub blob: Blob,
    /// Position of the image to analyse in the archive's image list.
    pub select: usize,
    /// Scan workers to start for the layers ([`crate::pool`]); 0 has the layer worker scan
    /// them itself, one after the other, digests and all.
    pub scan_workers: usize,
}

impl Request {
    /// The object posted to the worker. A plain object keeps the `Blob` a real `Blob` on the
    /// other side (structured clone), which JSON could not.
    pub fn to_js(&self) -> JsValue {
        let object = js_sys::Object::new();
        // Setting a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&object, &BLOB_KEY.into(), &self.blob);
        let _ = js_sys::Reflect::set(&object, &SELECT_KEY.into(), &(self.select as f64).into());
        let workers = self.scan_workers as f64;
        let _ = js_sys::Reflect::set(&object, &SCAN_WORKERS_KEY.into(), &workers.into());
        object.into()
    }

    /// Reads a request posted by [`Request::to_js`].
    pub fn from_js(value: &JsValue) -> Result<Request, String> {
        let blob = js_sys::Reflect::get(value, &BLOB_KEY.into())
            .ok()
            .and_then(|blob| blob.dyn_into::<Blob>().ok())
            .ok_or("the page's request to the layer worker holds no Blob")?;
        let select = js_sys::Reflect::get(value, &SELECT_KEY.into())
            .ok()
            .and_then(|select| select.as_f64())
            .filter(|select| *select >= 0.0 && select.fract() == 0.0)
            .ok_or("the page's request to the layer worker has no image index")?;
        let scan_workers = js_sys::Reflect::get(value, &SCAN_WORKERS_KEY.into())
            .ok()
            .and_then(|workers| workers.as_f64())
            .filter(|workers| *workers >= 0.0 && workers.fract() == 0.0)
            .ok_or("the page's request to the layer worker has no scan worker count")?;
        Ok(Request {
            blob,
            select: select as usize,
            scan_workers: (scan_workers as usize).min(crate::pool::MAX_SCAN_WORKERS),
        })
    }
}

/// Everything a worker reports, in the order it happens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum WorkerEvent {
    /// The worker's code is loaded and it listens: the page may post its [`Request`] now.
    /// (Messages posted before this would arrive while no handler is installed and be lost.)
    Ready,
    /// Where the reader is.
    Progress(Progress),
    /// Every image in the archive, before any layer is read.
    ImagesListed { images: Vec<ImageListing> },
    /// The chosen image's row, history and layer list, no layer scanned yet.
    Overview { report: Box<ImageReport> },
    /// One layer is scanned and final.
    LayerScanned { layer: Box<LayerReport> },
    /// The finished report; the worker is idle afterwards, unless layers' digests are still
    /// being checked (`report.unverified_layers`): then a [`WorkerEvent::LayerVerified`] follows per layer.
    Done { report: Box<ImageReport> },
    /// One layer's digests checked after `Done` (the tree does not wait for them): that
    /// layer's verification rows only, its blob digest as read, and how many layers are
    /// still unchecked. A digest that does not match is a row with `ok: false`. Only the
    /// layer's own rows travel, so n layers cost n small messages, not n copies of every row.
    LayerVerified {
        layer: usize,
        rows: Vec<Verification>,
        blob_digest: Option<Digest>,
        unverified_layers: usize,
    },
    /// The archive was refused or could not be read; the message says what and where.
    Failed { message: String },
    /// The registry (`registry`, a host) wants a login; the page shows its form.
    NeedsLogin { registry: String, message: String },
    /// How the worker reached `registry`, for the page to remember in this tab; `via` names
    /// the proxy for [`Route::Proxy`] (`./proxy/` or the settings' URL).
    Routed {
        registry: String,
        route: Route,
        #[serde(default)]
        via: Option<String>,
    },
    /// The registry's pull allowance as its last answer stated it (Docker Hub's
    /// `ratelimit-*` headers), posted before `Done`.
    Allowance { limit: RateLimit },
    /// A page of the repository's tags, after the image is `Done`; `more` when the
    /// registry has further pages; `append` for a page after the first.
    Tags {
        tags: Vec<String>,
        more: bool,
        #[serde(default)]
        append: bool,
    },
    /// A listed tag's manifest digest (from `HEAD`), so tags of one digest show together.
    TagDigest { tag: String, digest: String },
    /// The platforms of a registry index (the pull goes on with `selected`).
    Platforms {
        images: Vec<ImageListing>,
        selected: usize,
    },
    /// The answer to [`EXPORT`]: the finished report as `layerscope inspect --json` prints
    /// it, file lists included.
    Export { json: String },
    /// The answer to [`EXPORT`] from a worker that has no finished report.
    ExportRefused { message: String },
    /// The answer to a [`TreeRequest`].
    Tree { answer: Box<TreeAnswer> },
}

impl WorkerEvent {
    /// The JSON text posted to the page.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|error| {
            // Only a non-string map key could fail here; still tell the page something useful.
            format!(r#"{{"kind":"failed","message":"the layer worker could not encode its answer: {error}"}}"#)
        })
    }

    /// Reads a message posted by a worker.
    pub fn from_json(text: &str) -> Result<WorkerEvent, String> {
        serde_json::from_str(text).map_err(|error| {
            format!("the layer worker sent a message the page cannot read: {error}")
        })
    }
}

thread_local! {
    /// The worker's finished report, whole, for [`EXPORT`]. A worker analyses one image, so
    /// one slot is enough; a worker is a thread of its own, so this is the worker's.
    static FINISHED: std::cell::RefCell<Option<Box<ImageReport>>> = const { std::cell::RefCell::new(None) };
}

/// Keeps the finished report whole for [`EXPORT`] and returns the `Done` event posting it
/// without its file lists (they are moved aside for the copy, not cloned).
pub fn finished(mut report: Box<ImageReport>) -> WorkerEvent {
    let files = std::mem::take(&mut report.files);
    let lists: Vec<_> = report
        .layers
        .iter_mut()
        .map(|layer| std::mem::take(&mut layer.file_list))
        .collect();
    let posted = report.clone();
    report.files = files;
    for (layer, list) in report.layers.iter_mut().zip(lists) {
        layer.file_list = list;
    }
    keep_finished(report);
    WorkerEvent::Done { report: posted }
}

/// Keeps `report` whole for [`EXPORT`], in place of the one kept before (the same image,
/// with more of its digests checked).
pub fn keep_finished(report: Box<ImageReport>) {
    FINISHED.with(|slot| *slot.borrow_mut() = Some(report));
}

/// The [`WorkerEvent::LayerVerified`] for layer `layer`, whose digests turned `before` (the
/// report's verification rows until then) into `report`'s: the rows the check added, which
/// the core writes in layer order, so they are the one run where the two lists differ.
pub fn layer_verified(layer: usize, before: &[Verification], report: &ImageReport) -> WorkerEvent {
    let after = &report.verification;
    let start = before
        .iter()
        .zip(after)
        .take_while(|(old, new)| old == new)
        .count();
    let added = after.len().saturating_sub(before.len());
    WorkerEvent::LayerVerified {
        layer,
        rows: after[start..(start + added).min(after.len())].to_vec(),
        blob_digest: report.layers.get(layer).and_then(|row| row.digest.clone()),
        unverified_layers: report.unverified_layers.len(),
    }
}

/// The answer to [`EXPORT`]: the report kept by [`finished`] as `layerscope inspect --json`
/// prints it.
pub fn export() -> WorkerEvent {
    FINISHED.with(|slot| match slot.borrow().as_deref() {
        Some(report) => WorkerEvent::Export {
            json: report.dive_export_json(),
        },
        None => WorkerEvent::ExportRefused {
            message: "the analysis has not finished, so there is no report to download yet".into(),
        },
    })
}

/// A report as posted to the page: without its file lists (`LayerReport::file_list`,
/// `ImageReport::files`). No view shows them, and they are most of a report's JSON.
pub fn without_file_lists(mut report: Box<ImageReport>) -> Box<ImageReport> {
    report.files = Default::default();
    for layer in &mut report.layers {
        layer.file_list = Default::default();
    }
    report
}

/// A layer as posted to the page: without its file list.
pub fn without_layer_files(mut layer: Box<LayerReport>) -> Box<LayerReport> {
    layer.file_list = Default::default();
    layer
}

/// Progress posts are throttled to one per this many milliseconds (the page repaints at
/// most that often anyway).
const PROGRESS_INTERVAL_MS: f64 = 80.0;

/// Posts progress at most every [`PROGRESS_INTERVAL_MS`], but always when the layer changes.
#[derive(Default)]
pub struct ProgressThrottle {
    last_posted_at: f64,
    last_layer: Option<(usize, usize)>,
}

impl ProgressThrottle {
    /// Hands `update` to `post` unless one for the same layer went out too recently.
    pub fn offer(&mut self, update: Progress, post: &dyn Fn(&WorkerEvent)) {
        let now = js_sys::Date::now();
        if update.layer == self.last_layer && now - self.last_posted_at < PROGRESS_INTERVAL_MS {
            return;
        }
        self.last_posted_at = now;
        self.last_layer = update.layer;
        post(&WorkerEvent::Progress(update));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use layerscope_core::archive::Phase;

    #[test]
    fn events_round_trip_through_json() {
        let events = vec![
            WorkerEvent::Ready,
            WorkerEvent::Progress(Progress {
                phase: Phase::ScanningLayers,
                bytes_read: 5,
                total_bytes: Some(9),
                streamed: false,
                layer: Some((1, 3)),
                layer_bytes: Some((2, 4)),
                message: "layer 2 of 3".into(),
            }),
            WorkerEvent::Failed {
                message: "no manifest.json".into(),
            },
            WorkerEvent::NeedsLogin {
                registry: "ghcr.io".into(),
                message: "401".into(),
            },
            WorkerEvent::Routed {
                registry: "docker.io".into(),
                route: Route::Proxy,
                via: Some("./proxy/".into()),
            },
            WorkerEvent::Allowance {
                limit: RateLimit {
                    limit: 100,
                    remaining: Some(76),
                    window_secs: Some(21600),
                    source: None,
                },
            },
            WorkerEvent::LayerVerified {
                layer: 1,
                rows: vec![
                    Verification::digest(
                        layerscope_core::model::digest::DigestRole::DiffId,
                        "layer 1 (blobs/sha256/ab)",
                        &Digest::sha256_of(b"said"),
                        &Digest::sha256_of(b"read"),
                    ),
                    Verification::size(
                        layerscope_core::present::report::SizeRole::Layer,
                        "layer 1 (blobs/sha256/ab)",
                        120,
                        20,
                    ),
                ],
                blob_digest: Some(Digest::sha256_of(b"blob")),
                unverified_layers: 1,
            },
        ];
        for event in events {
            assert_eq!(WorkerEvent::from_json(&event.to_json()).unwrap(), event);
        }
    }
}

#[cfg(test)]
mod verified_tests {
    use super::*;
    use layerscope_core::engine::scan::LayerDigests;
    use layerscope_core::model::digest::DigestRole;
    use layerscope_core::present::verification::LayerVerifier;

    #[test]
    fn a_late_layer_posts_its_own_rows_only() {
        let layers = 5;
        let said = |layer: usize| Digest::sha256_of(format!("tar {layer}").as_bytes());
        let blob = |layer: usize| Digest::sha256_of(format!("blob {layer}").as_bytes());
        let mut verifier = LayerVerifier::new(
            (0..layers).map(|l| Some(blob(l))).collect(),
            (0..layers).map(said).collect(),
        );
        let mut report = ImageReport {
            layers: (0..layers)
                .map(|index| LayerReport {
                    index,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        report.verification.push(Verification::digest(
            DigestRole::Config,
            "config",
            &Digest::sha256_of(b"c"),
            &Digest::sha256_of(b"c"),
        ));
        // Out of order, as a pool finishes them; layer 1's tar does not match.
        for layer in [3, 0, 4, 1, 2] {
            let before = report.verification.clone();
            let digests = LayerDigests {
                blob_digest: blob(layer),
                diff_id: if layer == 1 {
                    Digest::sha256_of(b"other")
                } else {
                    said(layer)
                },
                verifications: Vec::new(),
            };
            verifier
                .check(layer, &format!("l{layer}"), &digests)
                .unwrap();
            verifier.update_report(&mut report);
            let WorkerEvent::LayerVerified {
                layer: posted,
                rows,
                blob_digest,
                unverified_layers,
            } = layer_verified(layer, &before, &report)
            else {
                panic!("layer_verified posts LayerVerified");
            };
            assert_eq!(posted, layer);
            assert_eq!(
                rows.len(),
                2,
                "layer {layer}: its blob digest and its diff_id"
            );
            assert!(rows
                .iter()
                .all(|row| row.subject.starts_with(&format!("layer {layer} "))));
            assert_eq!(rows.iter().all(|row| row.ok), layer != 1);
            assert_eq!(blob_digest, Some(blob(layer)));
            assert_eq!(unverified_layers, report.unverified_layers.len());
        }
        assert_eq!(report.verification.len(), 1 + 2 * layers);
    }
}

#[cfg(test)]
mod export_tests {
    use super::*;
    use layerscope_core::present::report::{LayerFile, MergedFile};

    #[test]
    fn the_finished_report_is_posted_without_files_and_exported_with_them() {
        assert!(matches!(export(), WorkerEvent::ExportRefused { .. }));
        let report = ImageReport {
            layers: vec![LayerReport {
                index: 0,
                command: "COPY . /app".into(),
                file_list: vec![LayerFile {
                    path: "app/main".into(),
                    ..Default::default()
                }]
                .into(),
                ..Default::default()
            }],
            files: vec![MergedFile {
                path: "app/main".into(),
                ..Default::default()
            }]
            .into(),
            complete: true,
            ..Default::default()
        };
        let WorkerEvent::Done { report: posted } = finished(Box::new(report.clone())) else {
            panic!("finished() posts Done");
        };
        assert!(posted.files.is_empty() && posted.layers[0].file_list.is_empty());
        assert_eq!(posted.layers[0].command, "COPY . /app");
        let WorkerEvent::Export { json } = export() else {
            panic!("a finished report is exported");
        };
        assert_eq!(json, report.dive_export().to_pretty_json());
        assert!(json.contains("app/main") && json.ends_with("}\n"));
    }
}

#[cfg(test)]
mod login_tests {
    use super::*;

    #[test]
    fn a_login_never_prints_its_secret() {
        let login = Login {
            username: "me".into(),
            secret: "hunter2".into(),
        };
        assert!(!format!("{login:?}").contains("hunter2"));
        let pull = RegistryPull {
            reference: "a/b".into(),
            platform: "linux/amd64".into(),
            credentials: Some(login),
            route: None,
            tag_page_size: None,
            proxy: None,
            scan_workers: None,
        };
        assert!(!format!("{pull:?}").contains("hunter2"));
    }
}
