//! Starting, feeding and stopping layer workers from the page.
//!
//! A layer worker's code (2 MB of wasm) takes a tenth of a second to load and compile, so
//! one is started before it is needed: when the page opens and after each analysis ends,
//! a spare worker loads while the page is idle, and the next job takes it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use layerscope_web::protocol::{
    FileBytes, Job as Work, TreeRequest, WorkerEvent, CANCEL, EXPORT, MORE_TAGS,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker};
use yew::Callback;

/// The worker script, relative to the page so the app works under any sub-path
/// (static/layer-worker-loader.js: it imports `layer-worker.js` and starts its wasm).
const WORKER_SCRIPT: &str = "./layer-worker-loader.js";

/// One running analysis. Dropping it stops the worker, which is how work is cancelled: an
/// archive worker is terminated (it reads synchronously); a registry worker is told to cancel,
/// aborts its fetches with its `AbortController` and closes itself.
pub struct Job {
    worker: Worker,
    graceful: bool,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl Drop for Job {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        if !self.graceful || self.worker.post_message(&CANCEL.into()).is_err() {
            self.worker.terminate();
        }
    }
}

impl Job {
    /// Asks a registry worker for the next page of tags (it answers with a `Tags` event).
    pub fn more_tags(&self) {
        if self.graceful {
            let _ = self.worker.post_message(&MORE_TAGS.into());
        }
    }

    /// Asks the worker about the finished image's trees (it answers with a `Tree` event).
    pub fn ask(&self, request: &TreeRequest) -> Result<(), String> {
        self.worker
            .post_message(&request.to_js())
            .map_err(|error| format!("the layer worker could not be asked for the tree: {error:?}"))
    }

    /// Asks a worker that is done for its whole report (it answers with an `Export` event).
    pub fn export(&self) -> Result<(), String> {
        self.worker.post_message(&EXPORT.into()).map_err(|error| {
            format!("the layer worker could not be asked for the report: {error:?}")
        })
    }

    /// Starts a worker on `work`; every event goes to `on_event`, and a worker that cannot
    /// start or dies goes to `on_failure` with a message.
    pub fn start(
        work: Work,
        on_event: Callback<WorkerEvent>,
        on_failure: Callback<String>,
    ) -> Result<Job, String> {
        let (worker, ready) = match SPARE.with(|spare| spare.borrow_mut().take()) {
            Some(spare) => (spare.worker, spare.ready.get()),
            None => (new_worker()?, false),
        };
        let graceful = matches!(work, Work::Registry(_));
        // A spare that said it is ready gets its job now; any other worker once it says so.
        let pending = if ready {
            worker.post_message(&work.to_js()).map_err(|error| {
                format!("the archive could not be handed to the layer worker: {error:?}")
            })?;
            None
        } else {
            Some(work)
        };
        let on_message = message_handler(worker.clone(), pending, on_event, on_failure.clone());
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
            event.prevent_default();
            let detail = event.message();
            let detail = if detail.is_empty() {
                "it could not be loaded or crashed".to_string()
            } else {
                detail
            };
            on_failure.emit(format!("the layer worker stopped: {detail}"));
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Job {
            worker,
            graceful,
            _on_message: on_message,
            _on_error: on_error,
        })
    }
}

/// A layer worker started ahead of its job, and whether it has said it is ready.
struct Spare {
    worker: Worker,
    ready: Rc<Cell<bool>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

thread_local! {
    static SPARE: RefCell<Option<Spare>> = const { RefCell::new(None) };
}

fn new_worker() -> Result<Worker, String> {
    Worker::new(WORKER_SCRIPT).map_err(|error| {
        format!("the browser refused to start the layer worker ({WORKER_SCRIPT}): {error:?}")
    })
}

/// Starts a spare layer worker unless there is one, so the next job need not wait for its
/// code. A spare that cannot start is no error: the job then starts its own.
pub fn prepare_spare() {
    SPARE.with(|spare| {
        if spare.borrow().is_some() {
            return;
        }
        let Ok(worker) = new_worker() else {
            return;
        };
        let ready = Rc::new(Cell::new(false));
        let on_message = {
            let ready = ready.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if event.data().as_string().as_deref() == Some(&WorkerEvent::Ready.to_json()) {
                    ready.set(true);
                }
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        *spare.borrow_mut() = Some(Spare {
            worker,
            ready,
            _on_message: on_message,
        });
    });
}

/// Posts `pending` once the worker says it is ready, then relays its events.
fn message_handler(
    worker: Worker,
    mut pending: Option<Work>,
    on_event: Callback<WorkerEvent>,
    on_failure: Callback<String>,
) -> Closure<dyn FnMut(MessageEvent)> {
    Closure::new(move |event: MessageEvent| {
        if let Some(file) = FileBytes::from_js(&event.data()) {
            // A download the file viewer asked for: saved at once; its answer says so.
            let parts = js_sys::Array::of1(&file.bytes);
            let name = crate::download::file_name_of(&file.path);
            if let Ok(url) = crate::download::save(&parts, "application/octet-stream", &name) {
                revoke_later(url);
            }
            return;
        }
        let Some(text) = event.data().as_string() else {
            on_failure.emit("the layer worker sent a message that is not text".to_string());
            return;
        };
        match WorkerEvent::from_json(&text) {
            Ok(WorkerEvent::Ready) => {
                if let Some(request) = pending.take() {
                    if let Err(error) = worker.post_message(&request.to_js()) {
                        on_failure.emit(format!(
                            "the archive could not be handed to the layer worker: {error:?}"
                        ));
                    }
                }
            }
            Ok(event) => {
                // The analysis is over: the next one's worker loads while the page is idle.
                let over = matches!(event, WorkerEvent::Done { .. } | WorkerEvent::Failed { .. });
                on_event.emit(event);
                if over {
                    prepare_spare();
                }
            }
            Err(message) => on_failure.emit(message),
        }
    })
}

/// Frees a download's object URL once the browser has had time to start saving it.
fn revoke_later(url: String) {
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000);
    }
}
