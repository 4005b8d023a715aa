//! The layer worker: reads an archive `Blob` off the main thread and reports what the core finds.
//!
//! It answers the core's [`ArchiveReader`] read requests synchronously with `FileReaderSync`
//! over `Blob.slice`, so only the ranges the reader asks for are ever in memory, and posts
//! [`WorkerEvent`]s back to the page. It knows nothing about formats: it moves bytes.
//!
//! An archive read by ranges has its layers scanned by a pool of scan workers
//! ([`layerscope_web::pool`]): the reader hands them out, each layer's entries pass and digest
//! pass run in the pool, and this worker hands the results back to the reader. The tree
//! (`Done`) does not wait for the digests; they come after it as [`WorkerEvent::LayerVerified`].
//! A compressed archive is read once front to back, so its layers are scanned here as they
//! stream past; the page's `?scan-workers=0` scans every archive that way. The default pool
//! starts with this worker ([`warm_up`]; the page starts a spare layer worker before the
//! drop), so the scan workers' code is loaded when the layers are handed out.
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
use layerscope_core::archive::{ArchiveReader, ImageSelector, LayerScanJob, Phase, Progress, Step};
use layerscope_core::engine::scan::{LayerDigests, LayerError};
use layerscope_core::present::file_view::PREVIEW_BYTES;
use layerscope_core::present::report::{ImageReport, Verification};
use layerscope_web::owner::{self, ArchiveBytes};
use layerscope_web::pool::{Pass, PassResult, ScanReply, Schedule, SCAN_WORKER_SCRIPT};
use layerscope_web::protocol::{
    export, finished, keep_finished, without_file_lists, without_layer_files, Job, Request,
    WorkerEvent, CANCEL, EXPORT, MORE_TAGS,
};
use layerscope_web::protocol::{FileBytes, FileWant, TreeAnswer, TreeRequest};
use layerscope_web::pull::TagPages;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    AbortController, Blob, DedicatedWorkerGlobalScope, ErrorEvent, FileReaderSync, MessageEvent,
    Worker, WorkerGlobalScope,
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
            // A registry image's scan workers fetch on their own: stop them now.
            layerscope_web::pool::stop_running();
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
                // The pull's pool takes the warm workers when it has their number; with
                // none, the layers stream through this worker.
                let size = pull.scan_workers.unwrap_or(0);
                let workers = take_warm_pool(size).into_adopted();
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
                        layerscope_web::pull::pull(pull, scope, signal, post, workers).await;
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
    warm_up();
    post(&WorkerEvent::Ready);
}

thread_local! {
    /// Scan workers started with this worker, before its job: a dropped archive's analysis
    /// takes them loaded; a registry pull, the layer worker scanning alone or another pool
    /// size stops them.
    static WARM: RefCell<Option<ScanPool>> = const { RefCell::new(None) };
}

/// Starts the pool a dropped archive would get by default (min(cores, 4) scan workers), so
/// their code loads while this worker waits for its job (the page starts a spare layer
/// worker ahead of the drop).
fn warm_up() {
    let cores = scope().navigator().hardware_concurrency() as usize;
    let mut pool = ScanPool::new(layerscope_web::pool::pool_size(None, cores));
    if pool.start().is_ok() {
        WARM.with(|slot| *slot.borrow_mut() = Some(pool));
    }
}

/// The warm pool when it has `size` workers and none of them failed, else a new pool (not
/// started yet); a warm pool not taken is stopped. Not called from a scan worker's handler,
/// so dropping the warm pool's handlers here is safe (stopping them replaced them).
fn take_warm_pool(size: usize) -> ScanPool {
    match WARM.with(|slot| slot.borrow_mut().take()) {
        Some(pool) if pool.size() == size && !pool.stopped => pool,
        Some(mut pool) => {
            pool.stop();
            ScanPool::new(size)
        }
        None => ScanPool::new(size),
    }
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

/// Analyses the archive: in this worker alone, or with a pool of scan workers.
fn analyse(request: Request) {
    let source = match BlobSource::new(request.blob.clone()) {
        Ok(source) => source,
        Err(message) => return post(&WorkerEvent::Failed { message }),
    };
    let pool = take_warm_pool(request.scan_workers);
    if request.scan_workers == 0 {
        return analyse_alone(source, request.select);
    }
    let pooled = Pooled {
        reader: ArchiveReader::new(source.size).with_external_scans(),
        source,
        blob: request.blob,
        select: request.select,
        pool,
        progress: LayerProgress::default(),
        stage: PoolStage::Scanning { early: Vec::new() },
    };
    POOLED.with(|slot| {
        let mut slot = slot.borrow_mut();
        slot.insert(pooled).advance();
    });
}

/// Drives the reader to the end, scanning every layer here; the final event is `Done` or
/// `Failed`.
fn analyse_alone(mut source: BlobSource, select: usize) {
    let mut reader = ArchiveReader::new(source.size);
    let event = match drive(&mut reader, &mut source, select, None) {
        Driven::Finished(report) => {
            keep_archive(&mut reader, source);
            finished(report)
        }
        Driven::Failed(message) => WorkerEvent::Failed { message },
        // Only a reader with external scans waits for them.
        Driven::Waiting => WorkerEvent::Failed {
            message: "the archive reader waits for layer scans it was not asked to hand out".into(),
        },
    };
    post(&event);
}

/// Keeps the finished image's trees for the Files tab and the archive for the file viewer.
fn keep_archive(reader: &mut ArchiveReader, source: BlobSource) {
    if let Some(trees) = reader.take_file_trees() {
        owner::keep(trees);
    }
    let locations = reader.layer_locations().unwrap_or_default();
    ARCHIVE.with(|slot| *slot.borrow_mut() = Some((source, locations)));
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

/// Where [`drive`] stopped.
enum Driven {
    /// The reader waits for layer scans handed to the pool.
    Waiting,
    /// The report is done (its digests may still be due).
    Finished(Box<ImageReport>),
    /// The archive was refused or could not be read.
    Failed(String),
}

/// Drives the reader as far as it goes, posting every event on the way. Layers handed out go
/// to `pool`; a reader that hands them out with no pool fails.
fn drive(
    reader: &mut ArchiveReader,
    source: &mut BlobSource,
    select: usize,
    mut pool: Option<(&mut ScanPool, &Blob, &mut LayerProgress)>,
) -> Driven {
    let mut progress = layerscope_web::protocol::ProgressThrottle::default();
    loop {
        match reader.next_step() {
            Step::Read { offset, len } => {
                let supplied = source.read(offset, len).and_then(|bytes| {
                    reader.supply(offset, bytes).map_err(|error| {
                        layerscope_web::limit_advice::with_limit_advice(
                            error.to_string(),
                            &error,
                            "ARCHIVE",
                        )
                    })
                });
                if let Err(message) = supplied {
                    return Driven::Failed(message);
                }
                // Once the first block says the archive is read by ranges, the pool's
                // workers load while the documents are read.
                if let Some((pool, ..)) = pool.as_mut() {
                    if !pool.started() && !reader.is_streaming() {
                        if let Err(message) = pool.start() {
                            return Driven::Failed(message);
                        }
                    }
                }
            }
            Step::Progress(update) => progress.offer(update, &post),
            Step::ImagesListed(images) => {
                let count = images.len();
                post(&WorkerEvent::ImagesListed { images });
                if select > 0 {
                    if select >= count {
                        return Driven::Failed(format!(
                            "the archive holds {count} images; image {} is not one of them",
                            select + 1
                        ));
                    }
                    if let Err(error) = reader.select_image(&ImageSelector::Index(select)) {
                        return Driven::Failed(error.to_string());
                    }
                }
            }
            Step::Overview(report) => post(&WorkerEvent::Overview {
                report: without_file_lists(report),
            }),
            Step::LayerScanned(layer) => post(&WorkerEvent::LayerScanned {
                layer: without_layer_files(layer),
            }),
            Step::ScanLayers(jobs) => {
                let Some((pool, blob, layer_progress)) = pool.as_mut() else {
                    return Driven::Failed(
                        "the archive reader handed out layer scans it was not asked to".into(),
                    );
                };
                layer_progress.plan(&jobs, reader.total_len().unwrap_or_default());
                if let Err(message) = pool.add_layers(&jobs, blob) {
                    return Driven::Failed(message);
                }
            }
            Step::AwaitingScans { .. } => return Driven::Waiting,
            Step::Done(report) => return Driven::Finished(report),
            Step::Failed(error) => {
                let message = layerscope_web::limit_advice::with_limit_advice(
                    error.to_string(),
                    &error,
                    "ARCHIVE",
                );
                return Driven::Failed(message);
            }
        }
    }
}

thread_local! {
    /// The archive being analysed with a pool of scan workers, between their messages.
    static POOLED: RefCell<Option<Pooled>> = const { RefCell::new(None) };
}

/// An archive analysed with a pool of scan workers.
struct Pooled {
    reader: ArchiveReader,
    source: BlobSource,
    /// The archive, handed to each scan worker with its task.
    blob: Blob,
    select: usize,
    pool: ScanPool,
    progress: LayerProgress,
    stage: PoolStage,
}

/// Where a pooled analysis is.
enum PoolStage {
    /// Layers are out in the pool; digests that come before the tree is done wait for it,
    /// so a mismatch cannot stop the tree.
    Scanning {
        early: Vec<(usize, Result<LayerDigests, LayerError>)>,
    },
    /// The tree is done and kept; the layers' digests are checked as they come, and
    /// `shown` is the verification rows the page has.
    Verifying { shown: Vec<Verification> },
    /// Nothing more is posted: verified, failed, or verification stopped at a mismatch.
    /// The pool is stopped.
    Over,
}

impl Pooled {
    /// Drives the reader as far as it goes and posts what follows.
    fn advance(&mut self) {
        let pool = Some((&mut self.pool, &self.blob, &mut self.progress));
        match drive(&mut self.reader, &mut self.source, self.select, pool) {
            Driven::Waiting => {}
            Driven::Failed(message) => self.fail(message),
            Driven::Finished(report) => {
                let source = match BlobSource::new(self.blob.clone()) {
                    Ok(source) => source,
                    Err(message) => return self.fail(message),
                };
                keep_archive(&mut self.reader, source);
                let shown = report.verification.clone();
                let due = !report.unverified_layers.is_empty();
                post(&finished(report));
                if let Err(message) = self.pool.tree_done(&self.blob) {
                    return self.fail(message);
                }
                let early = match std::mem::replace(&mut self.stage, PoolStage::Over) {
                    PoolStage::Scanning { early } => early,
                    _ => Vec::new(),
                };
                if !due {
                    // A compressed archive: scanned here, digests and all.
                    self.pool.stop();
                    return;
                }
                self.stage = PoolStage::Verifying { shown };
                for (layer, digests) in early {
                    self.check_digests(layer, digests);
                }
            }
        }
    }

    /// Posts `message` as the analysis's end and stops the pool.
    fn fail(&mut self, message: String) {
        self.stage = PoolStage::Over;
        self.pool.stop();
        post(&WorkerEvent::Failed { message });
    }

    /// Handles a message from scan worker `worker`.
    fn on_reply(&mut self, worker: usize, reply: Result<(ScanReply, Option<Vec<u8>>), String>) {
        if matches!(self.stage, PoolStage::Over) || self.pool.schedule.is_stopped(worker) {
            return;
        }
        let (reply, bytes) = match reply {
            Ok(reply) => reply,
            Err(message) => return self.fail(message),
        };
        match reply {
            ScanReply::Ready => self.next_task(worker),
            ScanReply::Progress {
                layer,
                pass: Pass::Entries,
                done,
            } => {
                let scanning = self.pool.scanning().len();
                let read = self.reader.bytes_read();
                let workers = self.pool.size();
                if let Some(update) = self.progress.update(layer, done, read, scanning, workers) {
                    post(&WorkerEvent::Progress(update));
                }
            }
            // The digests' progress is not shown: the tree is what is waited for.
            ScanReply::Progress { .. } => {}
            ScanReply::Finished { layer, pass, ok } => {
                let result = bytes
                    .ok_or_else(|| format!("a scan worker's result for layer {layer} has no bytes"))
                    .and_then(|bytes| {
                        PassResult::from_bytes(pass, ok, &bytes).map_err(|error| {
                            format!(
                                "a scan worker's result for layer {layer} is unreadable: {error}"
                            )
                        })
                    });
                // The worker is free again before anything else happens.
                self.next_task(worker);
                match result {
                    Ok(PassResult::Entries(summary)) => {
                        self.progress.finish(layer);
                        // A refusal comes back from the reader's next step too, with the layer
                        // named: the drive posts it.
                        let _ = self.reader.layer_scanned(layer, summary);
                        self.advance();
                    }
                    Ok(PassResult::Digests(digests)) => match &mut self.stage {
                        PoolStage::Scanning { early } => early.push((layer, digests)),
                        PoolStage::Verifying { .. } => self.check_digests(layer, digests),
                        PoolStage::Over => {}
                    },
                    Err(message) => self.fail(message),
                }
            }
            ScanReply::Failed { message, .. } => self.fail(message),
        }
    }

    /// Gives scan worker `worker` its next task, if any is left.
    fn next_task(&mut self, worker: usize) {
        if let Err(message) = self.pool.ready(worker, &self.blob) {
            self.fail(message);
        }
    }

    /// Checks layer `layer`'s digests against the documents and posts the verification.
    fn check_digests(&mut self, layer: usize, digests: Result<LayerDigests, LayerError>) {
        let PoolStage::Verifying { shown } = &mut self.stage else {
            return;
        };
        let digests = match digests {
            Ok(digests) => digests,
            Err(error) => {
                return self.fail(format!(
                    "the digests of layer {layer} could not be computed: {error}"
                ))
            }
        };
        match self.reader.layer_digests(layer, &digests) {
            Ok(()) => {
                let Step::Done(report) = self.reader.next_step() else {
                    return self.fail(format!(
                        "the archive reader gave no report after layer {layer}'s digests"
                    ));
                };
                post(&layerscope_web::protocol::layer_verified(
                    layer, shown, &report,
                ));
                shown.clone_from(&report.verification);
                let all_in = report.unverified_layers.is_empty();
                keep_finished(report);
                if all_in {
                    self.stage = PoolStage::Over;
                    self.pool.stop();
                }
            }
            Err(error) => self.fail(error.to_string()),
        }
    }
}

/// Handles a message from scan worker `worker` (its handlers call this).
fn on_scan_reply(worker: usize, reply: Result<(ScanReply, Option<Vec<u8>>), String>) {
    if POOLED.with(|slot| slot.borrow().is_some()) {
        POOLED.with(|slot| {
            if let Some(pooled) = slot.borrow_mut().as_mut() {
                pooled.on_reply(worker, reply);
            }
        });
        return;
    }
    // Before the job: a warm worker is ready, or the warm pool is of no use.
    WARM.with(|slot| {
        if let Some(pool) = slot.borrow_mut().as_mut() {
            if pool.stopped {
                return;
            }
            match reply {
                Ok((ScanReply::Ready, _)) => pool.schedule.waiting(worker),
                _ => pool.stop(),
            }
        }
    });
}

/// The scan workers and which of them does what.
struct ScanPool {
    size: usize,
    /// Empty until [`ScanPool::start`].
    workers: Vec<ScanWorker>,
    schedule: Schedule,
    /// Stopped: its workers are terminated.
    stopped: bool,
}

/// One scan worker, with the handlers that must live as long as it does.
struct ScanWorker {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl ScanPool {
    fn new(size: usize) -> ScanPool {
        ScanPool {
            size,
            workers: Vec::new(),
            schedule: Schedule::new(0),
            stopped: false,
        }
    }

    fn size(&self) -> usize {
        self.size
    }

    fn started(&self) -> bool {
        !self.workers.is_empty()
    }

    /// Starts the scan workers; each says when it is ready.
    fn start(&mut self) -> Result<(), String> {
        for index in 0..self.size {
            let worker = Worker::new(SCAN_WORKER_SCRIPT).map_err(|error| {
                format!(
                    "the browser refused to start a scan worker ({SCAN_WORKER_SCRIPT}): {}",
                    layerscope_web::pull::describe(&error)
                )
            })?;
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                on_scan_reply(index, ScanReply::from_message(&event.data()));
            });
            let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
                event.prevent_default();
                let detail = event.message();
                let detail = if detail.is_empty() {
                    "it could not be loaded or crashed".to_string()
                } else {
                    detail
                };
                on_scan_reply(index, Err(format!("a scan worker stopped: {detail}")));
            });
            worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            self.workers.push(ScanWorker {
                worker,
                _on_message: on_message,
                _on_error: on_error,
            });
        }
        self.schedule = Schedule::new(self.size);
        Ok(())
    }

    /// Queues both passes of every layer and hands them to the workers that wait.
    fn add_layers(&mut self, jobs: &[LayerScanJob], blob: &Blob) -> Result<(), String> {
        if !self.started() {
            self.start()?;
        }
        self.schedule.add_layers(jobs);
        for worker in self.schedule.idle() {
            self.offer(worker, blob)?;
        }
        self.release_unneeded();
        Ok(())
    }

    /// Worker `worker` is free: posts it the next task, offers the idle workers theirs (a
    /// digest pass held back may start now), and stops workers left without one.
    fn ready(&mut self, worker: usize, blob: &Blob) -> Result<(), String> {
        self.offer(worker, blob)?;
        for idle in self.schedule.idle() {
            self.offer(idle, blob)?;
        }
        self.release_unneeded();
        Ok(())
    }

    fn offer(&mut self, worker: usize, blob: &Blob) -> Result<(), String> {
        let Some(task) = self.schedule.next_for(worker) else {
            return Ok(());
        };
        self.workers[worker]
            .worker
            .post_message(&task.message(blob))
            .map_err(|error| {
                format!(
                    "layer {} could not be handed to a scan worker: {}",
                    task.job.index,
                    layerscope_web::pull::describe(&error)
                )
            })
    }

    /// The tree is posted: digest passes held back for it go to the idle workers.
    fn tree_done(&mut self, blob: &Blob) -> Result<(), String> {
        self.schedule.tree_done();
        for idle in self.schedule.idle() {
            self.offer(idle, blob)?;
        }
        self.release_unneeded();
        Ok(())
    }

    fn release_unneeded(&mut self) {
        for worker in self.schedule.release_unneeded() {
            self.workers[worker].end();
        }
    }

    /// The layers whose entries are being read now.
    fn scanning(&self) -> Vec<usize> {
        self.schedule.scanning()
    }

    /// Hands the started workers over, each with whether it said it is ready; their
    /// handlers here are kept alive (leaked) for the new owner to replace, since one of them
    /// may be running now. A pool stopped or not started hands over nothing.
    fn into_adopted(self) -> Vec<layerscope_web::pool::Adopted> {
        if self.stopped {
            return Vec::new();
        }
        let idle = self.schedule.idle();
        self.workers
            .into_iter()
            .enumerate()
            .map(|(index, worker)| {
                let ScanWorker {
                    worker,
                    _on_message,
                    _on_error,
                } = worker;
                _on_message.forget();
                _on_error.forget();
                layerscope_web::pool::Adopted {
                    worker,
                    ready: idle.contains(&index),
                }
            })
            .collect()
    }

    /// Stops every scan worker. (Their handlers stay until this worker ends: one of them may
    /// be running now.)
    fn stop(&mut self) {
        self.stopped = true;
        self.schedule.clear();
        for worker in &self.workers {
            worker.end();
        }
    }
}

impl ScanWorker {
    /// Terminates the worker, deaf to it from now on. A worker stopped while its script loads
    /// reports the aborted load as an error, and an error a nested worker's parent does not
    /// handle is raised again in the parent, here, and so reaches the page: the error goes to
    /// a handler that only swallows it.
    fn end(&self) {
        self.worker.set_onmessage(None);
        SWALLOW_ERROR.with(|swallow| self.worker.set_onerror(Some(swallow)));
        self.worker.terminate();
    }
}

thread_local! {
    /// An error handler that keeps the error to itself; it lives as long as this worker.
    static SWALLOW_ERROR: js_sys::Function = Closure::<dyn FnMut(ErrorEvent)>::new(
        |event: ErrorEvent| event.prevent_default(),
    )
    .into_js_value()
    .unchecked_into();
}

/// Each layer's bytes read by its entries pass, for the page's progress.
#[derive(Default)]
struct LayerProgress {
    /// Stored size of each layer.
    lens: Vec<u64>,
    /// Bytes read by each layer's running entries pass.
    done: Vec<u64>,
    archive_len: u64,
}

impl LayerProgress {
    /// The layers handed out, with the archive's size.
    fn plan(&mut self, jobs: &[LayerScanJob], archive_len: u64) {
        let count = jobs.iter().map(|job| job.index + 1).max().unwrap_or(0);
        self.lens = vec![0; count];
        self.done = vec![0; count];
        for job in jobs {
            self.lens[job.index] = job.len;
        }
        self.archive_len = archive_len;
    }

    /// Layer `layer`'s entries pass has read `done` bytes: the progress to post. `read` is
    /// what the reader counts as read (documents and finished layers).
    fn update(
        &mut self,
        layer: usize,
        done: u64,
        read: u64,
        scanning: usize,
        workers: usize,
    ) -> Option<Progress> {
        *self.done.get_mut(layer)? = done;
        let count = self.lens.len();
        let in_flight: u64 = self.done.iter().sum();
        let at_once = if scanning > 1 {
            format!("{scanning} layers at once in {workers} scan workers")
        } else {
            format!("{workers} scan workers")
        };
        Some(Progress {
            phase: Phase::ScanningLayers,
            bytes_read: read.saturating_add(in_flight).min(self.archive_len),
            total_bytes: Some(self.archive_len),
            streamed: false,
            layer: Some((layer, count)),
            layer_bytes: Some((done, self.lens[layer])),
            message: at_once,
        })
    }

    /// Layer `layer`'s entries are in: the reader counts its bytes from now on.
    fn finish(&mut self, layer: usize) {
        if let Some(done) = self.done.get_mut(layer) {
            *done = 0;
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
            }]
            .into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_posted_report_keeps_everything_but_the_file_lists() {
        let report = ImageReport {
            layers: vec![layer_with_a_file(0), layer_with_a_file(1)],
            files: vec![MergedFile::default()].into(),
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
                file_list: Default::default(),
                ..layer
            }
        );
    }
}
