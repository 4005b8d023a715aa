//! What the page and the layer worker say to each other.
//!
//! The page posts one [`Request`] (a JS object holding the `Blob` itself, which the browser
//! hands over without copying) and the worker answers with [`WorkerEvent`]s serialized as JSON
//! strings. Nothing here knows an image format: reports come from `layerscope-core` as they are.

use layerscope_core::archive::Progress;
use layerscope_core::present::report::{ImageListing, ImageReport, LayerReport};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;

/// Key of the request object's blob.
const BLOB_KEY: &str = "blob";
/// Key of the request object's image choice.
const SELECT_KEY: &str = "select";

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
        ];
        for event in events {
            assert_eq!(WorkerEvent::from_json(&event.to_json()).unwrap(), event);
        }
    }
}
