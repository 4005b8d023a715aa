//! The page's root component: wires user actions to workers and worker events to the reducer.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, DragEvent, FileList, Response};
use yew::prelude::*;

use crate::jobs::Job;
use crate::state::{Action, PageState};
use crate::views::{
    DropZone, ErrorBox, Header, HistoryTable, ImagePicker, ImageSummary, LayerList, ProgressBar,
};

/// The demo archive, relative to the page so it loads under any sub-path.
const DEMO_URL: &str = "./demo/layerscope-demo.tar";
/// How the demo is named in messages.
const DEMO_NAME: &str = "the demo image";

/// The archive being shown, kept so another image of it can be picked.
struct Current {
    blob: Blob,
    name: String,
    /// The running worker, if any: dropping it terminates the worker.
    job: Option<Job>,
}

/// The whole page.
#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(PageState::default);
    let current: Rc<RefCell<Option<Current>>> = use_mut_ref(|| None);
    let next_job = use_mut_ref(|| 0u64);
    let dragging = use_state(|| false);

    let open = {
        let state = state.dispatcher();
        let current = current.clone();
        Callback::from(move |(blob, name, select): (Blob, String, usize)| {
            let job = {
                let mut counter = next_job.borrow_mut();
                *counter += 1;
                *counter
            };
            // Stop the previous worker before starting the next one.
            current.borrow_mut().take();
            state.dispatch(Action::Started {
                job,
                source_name: name.clone(),
                selected: select,
            });
            let on_event = {
                let state = state.clone();
                Callback::from(move |event| state.dispatch(Action::Worker { job, event }))
            };
            let on_failure = {
                let state = state.clone();
                Callback::from(move |message| state.dispatch(Action::Failed { job, message }))
            };
            let started = Job::start(blob.clone(), select, on_event, on_failure);
            let job_handle = match started {
                Ok(handle) => Some(handle),
                Err(message) => {
                    state.dispatch(Action::Failed { job, message });
                    None
                }
            };
            *current.borrow_mut() = Some(Current {
                blob,
                name,
                job: job_handle,
            });
        })
    };

    let open_files = {
        let open = open.clone();
        Callback::from(move |files: FileList| {
            if let Some(file) = files.get(0) {
                let name = file.name();
                open.emit((file.into(), name, 0));
            }
        })
    };

    let open_demo = {
        let open = open.clone();
        let state = state.dispatcher();
        Callback::from(move |_| {
            let open = open.clone();
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match fetch_blob(DEMO_URL).await {
                    Ok(blob) => open.emit((blob, DEMO_NAME.to_string(), 0)),
                    Err(message) => state.dispatch(Action::LoadFailed { message }),
                }
            });
        })
    };

    let pick_image = {
        let open = open.clone();
        let current = current.clone();
        Callback::from(move |index: usize| {
            let archive = current
                .borrow()
                .as_ref()
                .map(|c| (c.blob.clone(), c.name.clone()));
            if let Some((blob, name)) = archive {
                open.emit((blob, name, index));
            }
        })
    };

    let cancel = {
        let dispatcher = state.dispatcher();
        let current = current.clone();
        let job = state.job;
        Callback::from(move |()| {
            if let Some(current) = current.borrow_mut().as_mut() {
                // Dropping the job terminates its worker; the archive stays for a re-pick.
                current.job.take();
            }
            dispatcher.dispatch(Action::Cancelled { job });
        })
    };

    let on_reference = {
        let state = state.dispatcher();
        Callback::from(move |reference| state.dispatch(Action::ReferenceSubmitted { reference }))
    };

    let ondragover = {
        let dragging = dragging.clone();
        Callback::from(move |event: DragEvent| {
            // Without this the browser opens the dropped file itself.
            event.prevent_default();
            if !*dragging {
                dragging.set(true);
            }
        })
    };
    let ondragleave = {
        let dragging = dragging.clone();
        Callback::from(move |event: DragEvent| {
            // Only leaving the window ends the drag; moving between children does not.
            if event.related_target().is_none() {
                dragging.set(false);
            }
        })
    };
    let ondrop = {
        let dragging = dragging.clone();
        let open_files = open_files.clone();
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            dragging.set(false);
            if let Some(files) = event.data_transfer().and_then(|transfer| transfer.files()) {
                open_files.emit(files);
            }
        })
    };

    let report = state.report.clone();
    html! {
        <div class={classes!("page", dragging.then_some("dragging"))} {ondragover} {ondragleave} {ondrop}>
            <Header on_submit={on_reference} note={state.reference_note.clone()} />
            <main>
                <DropZone on_files={open_files} on_demo={open_demo} compact={state.source_name.is_some()} />
                if let Some(message) = state.error.clone() {
                    <ErrorBox {message} />
                }
                if state.busy {
                    <ProgressBar progress={state.progress.clone()} source_name={state.source_name.clone().unwrap_or_default()} on_cancel={cancel} />
                }
                if state.images.len() > 1 {
                    <ImagePicker images={state.images.clone()} selected={state.selected} busy={state.busy} on_pick={pick_image} />
                }
                if let Some(report) = report {
                    <ImageSummary report={report.overview.clone()} />
                    <LayerList layers={report.layers} active={state.progress.as_ref().and_then(|p| p.layer)} />
                    <HistoryTable report={report.overview} />
                }
            </main>
        </div>
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
