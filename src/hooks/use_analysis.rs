//! One analysis at a time: starting a layer worker on an archive, feeding its events to the
//! page's reducer, and stopping it.

use std::cell::{Cell, RefCell};
use std::ops::Deref;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, FileList, Response};
use yew::prelude::*;

use crate::jobs::Job;
use crate::state::{Action, PageState};

/// The demo archive, relative to the page so it loads under any sub-path.
const DEMO_URL: &str = "./demo/layerscope-demo.tar";
/// How the demo is named in messages.
const DEMO_NAME: &str = "the demo image";

/// The page's state and what the user can do to it.
#[derive(Clone)]
pub struct UseAnalysisHandle {
    state: UseReducerHandle<PageState>,
    pub controls: Rc<Controls>,
}

impl Deref for UseAnalysisHandle {
    type Target = PageState;

    fn deref(&self) -> &PageState {
        &self.state
    }
}

/// What the user can do. Made once per page, so the callbacks compare equal from render to
/// render and the components that take them re-render only when their other props change.
pub struct Controls {
    /// JobRunner the first image of the first file (dropped or chosen).
    pub open_files: Callback<FileList>,
    /// Downloads the demo image and analyses it.
    pub open_demo: Callback<()>,
    /// JobRunner another image of the archive shown, by its position in the archive.
    pub pick_image: Callback<usize>,
    /// Stops the running analysis; what was read so far stays shown.
    pub cancel: Callback<()>,
    /// Opens what the reference box names.
    pub open_reference: Callback<String>,
}

/// The page's state, fed by the running worker, with the controls that start and stop work.
#[hook]
pub fn use_analysis() -> UseAnalysisHandle {
    let state = use_reducer(PageState::default);
    let dispatcher = state.dispatcher();
    let controls = use_memo((), move |()| Controls::new(dispatcher));
    UseAnalysisHandle { state, controls }
}

impl Controls {
    fn new(dispatcher: UseReducerDispatcher<PageState>) -> Controls {
        let runner = Rc::new(JobRunner {
            dispatcher,
            last_job: Cell::new(0),
            current: RefCell::new(None),
        });
        let open_files = {
            let runner = runner.clone();
            Callback::from(move |files: FileList| {
                if let Some(file) = files.get(0) {
                    let name = file.name();
                    runner.open(file.into(), name, 0);
                }
            })
        };
        let open_demo = {
            let runner = runner.clone();
            Callback::from(move |()| {
                let runner = runner.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    match fetch_blob(DEMO_URL).await {
                        Ok(blob) => runner.open(blob, DEMO_NAME.to_string(), 0),
                        Err(message) => runner.dispatcher.dispatch(Action::LoadFailed { message }),
                    }
                });
            })
        };
        let pick_image = {
            let runner = runner.clone();
            Callback::from(move |index: usize| runner.reopen(index))
        };
        let cancel = {
            let runner = runner.clone();
            Callback::from(move |()| runner.cancel())
        };
        let open_reference = Callback::from(move |reference| {
            runner
                .dispatcher
                .dispatch(Action::ReferenceSubmitted { reference })
        });
        Controls {
            open_files,
            open_demo,
            pick_image,
            cancel,
            open_reference,
        }
    }
}

/// Starts, restarts and stops the workers behind the controls.
struct JobRunner {
    dispatcher: UseReducerDispatcher<PageState>,
    /// Number of the latest analysis started: the reducer ignores events of any other.
    last_job: Cell<u64>,
    current: RefCell<Option<Current>>,
}

/// The archive being shown, kept so another image of it can be picked.
struct Current {
    blob: Blob,
    name: String,
    /// The running worker, if any: dropping it terminates the worker.
    worker: Option<Job>,
}

impl JobRunner {
    fn open(&self, blob: Blob, name: String, select: usize) {
        let job = self.last_job.get() + 1;
        self.last_job.set(job);
        // Stop the previous worker before starting the next one.
        self.current.borrow_mut().take();
        self.dispatcher.dispatch(Action::Started {
            job,
            source_name: name.clone(),
            selected: select,
        });
        let on_event = {
            let dispatcher = self.dispatcher.clone();
            Callback::from(move |event| dispatcher.dispatch(Action::Worker { job, event }))
        };
        let on_failure = {
            let dispatcher = self.dispatcher.clone();
            Callback::from(move |message| dispatcher.dispatch(Action::Failed { job, message }))
        };
        let worker = match Job::start(blob.clone(), select, on_event, on_failure) {
            Ok(worker) => Some(worker),
            Err(message) => {
                self.dispatcher.dispatch(Action::Failed { job, message });
                None
            }
        };
        *self.current.borrow_mut() = Some(Current { blob, name, worker });
    }

    fn reopen(&self, select: usize) {
        let archive = self
            .current
            .borrow()
            .as_ref()
            .map(|current| (current.blob.clone(), current.name.clone()));
        if let Some((blob, name)) = archive {
            self.open(blob, name, select);
        }
    }

    fn cancel(&self) {
        if let Some(current) = self.current.borrow_mut().as_mut() {
            // The archive stays, so another of its images can still be picked.
            current.worker.take();
        }
        self.dispatcher.dispatch(Action::Cancelled {
            job: self.last_job.get(),
        });
    }
}

/// Downloads `url` (relative to the page) as a Blob.
async fn fetch_blob(url: &str) -> Result<Blob, String> {
    let failed = |error: wasm_bindgen::JsValue| format!("Could not load {url}: {error:?}");
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(failed)?
        .unchecked_into();
    if !response.ok() {
        return Err(format!(
            "Could not load {url}: the server answered {} {}. Is the page served with its demo/ folder?",
            response.status(),
            response.status_text()
        ));
    }
    let blob = JsFuture::from(response.blob().map_err(failed)?)
        .await
        .map_err(failed)?;
    Ok(blob.unchecked_into())
}
