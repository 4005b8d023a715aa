//! What the page and the layer worker say to each other.
//!
//! The page posts one [`Request`] (a JS object holding the `Blob` itself, which the browser
//! hands over without copying) and the worker answers with [`WorkerEvent`]s serialized as JSON
//! strings. Nothing here knows an image format: reports come from `layerscope-core` as they are.

use layerscope_core::archive::Progress;
use layerscope_core::present::report::{ImageListing, ImageReport, LayerReport};
use layerscope_core::registry::RateLimit;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;

/// Key of the request object's blob.
const BLOB_KEY: &str = "blob";
/// Key of the request object's image choice.
const SELECT_KEY: &str = "select";
/// Key of the request object's registry pull (JSON text of [`RegistryPull`]).
const REGISTRY_KEY: &str = "registry";
/// The text the page posts to a worker to stop it (its fetches are aborted).
pub const CANCEL: &str = "cancel";
/// The text the page posts to a registry worker for the next page of tags.
pub const MORE_TAGS: &str = "more-tags";

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
}

impl Request {
    /// The object posted to the worker. A plain object keeps the `Blob` a real `Blob` on the
    /// other side (structured clone), which JSON could not.
    pub fn to_js(&self) -> JsValue {
        let object = js_sys::Object::new();
        // Setting a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&object, &BLOB_KEY.into(), &self.blob);
        let _ = js_sys::Reflect::set(&object, &SELECT_KEY.into(), &(self.select as f64).into());
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
        Ok(Request {
            blob,
            select: select as usize,
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
    /// The finished report; the worker is idle afterwards.
    Done { report: Box<ImageReport> },
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

/// A report as posted to the page: without its file lists (`LayerReport::file_list`,
/// `ImageReport::files`). No view shows them, and they are most of a report's JSON.
pub fn without_file_lists(mut report: Box<ImageReport>) -> Box<ImageReport> {
    report.files = Vec::new();
    for layer in &mut report.layers {
        layer.file_list = Vec::new();
    }
    report
}

/// A layer as posted to the page: without its file list.
pub fn without_layer_files(mut layer: Box<LayerReport>) -> Box<LayerReport> {
    layer.file_list = Vec::new();
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
        ];
        for event in events {
            assert_eq!(WorkerEvent::from_json(&event.to_json()).unwrap(), event);
        }
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
        };
        assert!(!format!("{pull:?}").contains("hunter2"));
    }
}
