//! The layer worker: reads an archive `Blob` off the main thread and reports what the core finds.
//!
//! It answers the core's [`ArchiveReader`] read requests synchronously with `FileReaderSync`
//! over `Blob.slice`, so only the ranges the reader asks for are ever in memory, and posts
//! [`WorkerEvent`]s back to the page. It knows nothing about formats: it moves bytes.
//!
//! For a registry image it drives the core's pull with `fetch` instead ([`layerscope_web::pull`]),
//! every request under one `AbortController`: the page's `cancel` message aborts them and the
//! worker closes itself.
//!
//! Reports go to the page without their file lists (`LayerReport::file_list`,
//! `ImageReport::files`): no view shows them, and they are most of a report's JSON, which the
//! page would parse and hold for nothing. A file view will ask for the files it shows. The
//! finished report is kept whole, so "Download report" gets `layerscope inspect --json`'s
//! document from the worker ([`layerscope_web::protocol::EXPORT`]).

use js_sys::Uint8Array;
use layerscope_core::archive::LayerLocation;
use layerscope_core::archive::{ArchiveReader, ImageSelector, Step};
use layerscope_core::present::file_view::PREVIEW_BYTES;
use layerscope_web::owner::{self, ArchiveBytes};
use layerscope_web::protocol::{
    export, finished, without_file_lists, without_layer_files, Job, Request, WorkerEvent, CANCEL,
    EXPORT, MORE_TAGS,
};
use layerscope_web::protocol::{FileBytes, FileWant, TreeAnswer, TreeRequest};
use layerscope_web::pull::TagPages;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    AbortController, Blob, DedicatedWorkerGlobalScope, FileReaderSync, MessageEvent,
    WorkerGlobalScope,
};

fn main() {
    std::panic::set_hook(Box::new(|info| {
        post(&WorkerEvent::Failed {
            message: format!("the layer worker stopped on an internal error: {info}"),
        });
    }));
    let controller = AbortController::new().ok();
    // The pulled image's tag list, between pages (taken out while a page is fetched).
    let tag_pages: Rc<RefCell<Option<TagPages>>> = Rc::default();
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data();
        if data.as_string().as_deref() == Some(CANCEL) {
            if let Some(controller) = &controller {
                controller.abort();
            }
            scope().close();
            return;
        }
        if let Some(request) = TreeRequest::from_js(&data) {
            let answer = match request {
                Ok(TreeRequest::ReadFile {
                    id,
                    layer,
                    path,
                    want,
                }) if !holds_archive() => {
                    // A registry image: the layer is fetched again, asynchronously.
                    let Some(mut pages) = tag_pages.borrow_mut().take() else {
                        post(&WorkerEvent::Tree {
                            answer: Box::new(TreeAnswer::Failed {
                                id,
                                message: "the worker is busy with the registry (or holds no image); try again in a moment".into(),
                            }),
                        });
                        return;
                    };
                    let tag_pages = tag_pages.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let answer = read_registry_file(&mut pages, id, layer, path, want).await;
                        *tag_pages.borrow_mut() = Some(pages);
                        post(&WorkerEvent::Tree {
                            answer: Box::new(answer),
                        });
                    });
                    return;
                }
                Ok(TreeRequest::ReadFile {
                    id,
                    layer,
                    path,
                    want,
                }) => read_file(id, layer, path, want),
                Ok(request) => owner::answer(request),
                Err(message) => TreeAnswer::Failed { id: 0, message },
            };
            post(&WorkerEvent::Tree {
                answer: Box::new(answer),
            });
            return;
        }
        if data.as_string().as_deref() == Some(EXPORT) {
            post(&export());
            return;
        }
        if data.as_string().as_deref() == Some(MORE_TAGS) {
            let Some(mut pages) = tag_pages.borrow_mut().take() else {
                return;
            };
            let tag_pages = tag_pages.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(event) = pages.next_page(post).await {
                    post(&event);
                }
                *tag_pages.borrow_mut() = Some(pages);
            });
            return;
        }
        match Job::from_js(&data) {
            Ok(Job::Archive(request)) => analyse(request),
            Ok(Job::Registry(pull)) => {
                let Some(signal) = controller.as_ref().map(|c| c.signal()) else {
                    post(&WorkerEvent::Failed {
                        message: "this browser offers no AbortController in workers".into(),
                    });
                    return;
                };
                let tag_pages = tag_pages.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
                    let (event, pages) =
                        layerscope_web::pull::pull(pull, scope, signal, post).await;
                    if let Some(event) = event {
                        post(&event);
                    }
                    *tag_pages.borrow_mut() = pages;
                });
            }
            Err(message) => post(&WorkerEvent::Failed { message }),
        }
    });
    scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as the worker; the page terminates the worker to stop it.
    onmessage.forget();
    post(&WorkerEvent::Ready);
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(event: &WorkerEvent) {
    // Posting a string to the page cannot fail while the worker runs.
    let _ = scope().post_message(&JsValue::from_str(&event.to_json()));
}

thread_local! {
    /// The analysed archive and where its layers are, so the file viewer can read a file
    /// again (a worker analyses one image).
    static ARCHIVE: RefCell<Option<(BlobSource, Vec<LayerLocation>)>> = const { RefCell::new(None) };
}

/// Drives the reader to the end, posting every event; the final event is `Done` or `Failed`.
fn analyse(request: Request) {
    let final_event = match BlobSource::new(request.blob) {
        Ok(mut source) => {
            let mut locations = Vec::new();
            let event = drive(&mut source, request.select, &mut locations);
            if matches!(event, WorkerEvent::Done { .. }) {
                ARCHIVE.with(|slot| *slot.borrow_mut() = Some((source, locations)));
            }
            event
        }
        Err(message) => WorkerEvent::Failed { message },
    };
    post(&final_event);
}

/// Reads a file of the analysed archive again, for the viewer; a download's bytes are posted
/// beside the answer, transferred, not copied.
fn read_file(id: u64, layer: usize, path: String, want: FileWant) -> TreeAnswer {
    let limit = match want {
        FileWant::Download => owner::MAX_DOWNLOAD_BYTES,
        FileWant::Preview | FileWant::Hex => PREVIEW_BYTES,
    };
    let found = ARCHIVE.with(|slot| match slot.borrow_mut().as_mut() {
        Some((source, locations)) => {
            owner::read_archive_file(source, locations, layer, &path, limit)
        }
        None => Err("the archive is not held by this worker any more; drop it again".into()),
    });
    let found = match found {
        Ok(found) => found,
        Err(message) => return TreeAnswer::Failed { id, message },
    };
    let (answer, bytes) = owner::file_answer(id, path.clone(), want, found);
    if let Some(bytes) = bytes {
        post_file_bytes(id, &path, &bytes);
    }
    answer
}

fn holds_archive() -> bool {
    ARCHIVE.with(|slot| slot.borrow().is_some())
}

/// Reads a file of a pulled registry image again, posting how much of the layer came in.
async fn read_registry_file(
    pages: &mut TagPages,
    id: u64,
    layer: usize,
    path: String,
    want: FileWant,
) -> TreeAnswer {
    let limit = match want {
        FileWant::Download => owner::MAX_DOWNLOAD_BYTES,
        FileWant::Preview | FileWant::Hex => PREVIEW_BYTES,
    };
    let mut last_post = 0.0;
    let mut on_progress = |received: u64, size: u64| {
        let now = js_sys::Date::now();
        if now - last_post >= 100.0 {
            last_post = now;
            post(&WorkerEvent::Tree {
                answer: Box::new(TreeAnswer::Reading { id, received, size }),
            });
        }
    };
    match pages.read_file(layer, &path, limit, &mut on_progress).await {
        Ok(found) => {
            let (answer, bytes) = owner::file_answer(id, path.clone(), want, found);
            if let Some(bytes) = bytes {
                post_file_bytes(id, &path, &bytes);
            }
            answer
        }
        Err(message) => TreeAnswer::Failed { id, message },
    }
}

/// Posts a file's bytes to the page as one transferred buffer.
fn post_file_bytes(id: u64, path: &str, bytes: &[u8]) {
    let array = Uint8Array::new_with_length(bytes.len() as u32);
    array.copy_from(bytes);
    let message = FileBytes::message(id, path, &array);
    let transfer = js_sys::Array::of1(&array.buffer());
    let _ = scope().post_message_with_transfer(&message, &transfer);
}

fn drive(
    source: &mut BlobSource,
    select: usize,
    locations: &mut Vec<LayerLocation>,
) -> WorkerEvent {
    let mut reader = ArchiveReader::new(source.size);
    let mut progress = layerscope_web::protocol::ProgressThrottle::default();
    loop {
        match reader.next_step() {
            Step::Read { offset, len } => {
                let supplied = source.read(offset, len).and_then(|bytes| {
                    reader
                        .supply(offset, bytes)
                        .map_err(|error| error.to_string())
                });
                if let Err(message) = supplied {
                    return WorkerEvent::Failed { message };
                }
            }
            Step::Progress(update) => progress.offer(update, &post),
            Step::ImagesListed(images) => {
                let count = images.len();
                post(&WorkerEvent::ImagesListed { images });
                if select > 0 {
                    if select >= count {
                        return WorkerEvent::Failed {
                            message: format!(
                                "the archive holds {count} images; image {} is not one of them",
                                select + 1
                            ),
                        };
                    }
                    if let Err(error) = reader.select_image(&ImageSelector::Index(select)) {
                        return WorkerEvent::Failed {
                            message: error.to_string(),
                        };
                    }
                }
            }
            Step::Overview(report) => post(&WorkerEvent::Overview {
                report: without_file_lists(report),
            }),
            Step::LayerScanned(layer) => post(&WorkerEvent::LayerScanned {
                layer: without_layer_files(layer),
            }),
            Step::Done(report) => {
                if let Some(trees) = reader.take_file_trees() {
                    owner::keep(trees);
                }
                *locations = reader.layer_locations().unwrap_or_default();
                return finished(report);
            }
            Step::Failed(error) => {
                return WorkerEvent::Failed {
                    message: error.to_string(),
                }
            }
            // This reader scans its layers itself (no `with_external_scans`).
            Step::ScanLayers(_) | Step::AwaitingScans { .. } => {
                return WorkerEvent::Failed {
                    message: "the archive reader handed out layer scans it was not asked to".into(),
                }
            }
        }
    }
}

/// Byte ranges of a `Blob`, read synchronously (workers may block; the page never does).
struct BlobSource {
    blob: Blob,
    size: u64,
    reader: FileReaderSync,
    buffer: Vec<u8>,
}

impl BlobSource {
    fn new(blob: Blob) -> Result<BlobSource, String> {
        let reader = FileReaderSync::new().map_err(|error| {
            format!(
                "this browser offers no FileReaderSync in workers: {}",
                layerscope_web::pull::describe(&error)
            )
        })?;
        let size = blob.size() as u64;
        Ok(BlobSource {
            blob,
            size,
            reader,
            buffer: Vec::new(),
        })
    }

    /// Up to `len` bytes at `offset`; empty at or past the end, as the reader expects.
    fn read(&mut self, offset: u64, len: u64) -> Result<&[u8], String> {
        let end = offset.saturating_add(len).min(self.size);
        if offset >= end {
            return Ok(&[]);
        }
        let failed = |error: JsValue| {
            format!("reading bytes {offset}..{end} of the archive failed: {} (was the file changed or removed?)", layerscope_web::pull::describe(&error))
        };
        let slice = self
            .blob
            .slice_with_f64_and_f64(offset as f64, end as f64)
            .map_err(failed)?;
        let buffer = self.reader.read_as_array_buffer(&slice).map_err(failed)?;
        let bytes = Uint8Array::new(&buffer);
        self.buffer.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut self.buffer);
        Ok(&self.buffer)
    }
}

impl ArchiveBytes for BlobSource {
    fn read_at(&mut self, offset: u64, len: u64) -> Result<&[u8], String> {
        self.read(offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use layerscope_core::present::report::{ImageReport, LayerFile, LayerReport, MergedFile};

    fn layer_with_a_file(index: usize) -> LayerReport {
        LayerReport {
            index,
            command: "COPY . /app".into(),
            file_list: vec![LayerFile {
                path: "app/main".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_posted_report_keeps_everything_but_the_file_lists() {
        let report = ImageReport {
            layers: vec![layer_with_a_file(0), layer_with_a_file(1)],
            files: vec![MergedFile::default()],
            warnings: vec!["odd".into()],
            complete: true,
            ..Default::default()
        };
        let posted = without_file_lists(Box::new(report.clone()));
        assert!(posted.files.is_empty());
        assert!(posted.layers.iter().all(|layer| layer.file_list.is_empty()));
        assert_eq!(posted.layers[1].command, report.layers[1].command);
        assert_eq!(posted.warnings, report.warnings);
        assert!(posted.complete);
    }

    #[test]
    fn a_posted_layer_keeps_everything_but_its_files() {
        let layer = layer_with_a_file(3);
        let posted = without_layer_files(Box::new(layer.clone()));
        assert!(posted.file_list.is_empty());
        assert_eq!(
            *posted,
            LayerReport {
                file_list: Vec::new(),
                ..layer
            }
        );
    }
}
