//! The owner worker's pool of scan workers: which pass of which layer goes to which worker,
//! and what the owner and its scan workers say to each other.
//!
//! For a dropped archive that is read by ranges, the owner (`src/bin/layer-worker.rs`) has
//! the core's reader hand out every layer (`ArchiveReader::with_external_scans`) and runs
//! two passes over each in a pool of scan workers (`src/bin/scan-worker.rs`): the entries
//! pass (inflate and the tar walk, no SHA-256), which the tree waits for, and the digest
//! pass (inflate and the two digests, no tar walk), which only the verification waits for.
//! [`Schedule`] queues every entries pass before any digest pass, the largest layer first,
//! so the tree is complete as early as the pool allows and the digests fill the workers
//! left over. In a pool of two or fewer (a machine with two cores), the digest passes wait
//! until the tree is done: there a digest pass competes with the browser's own threads and
//! the owner's stacking of the trees (measured on the Debian root file system layer: its
//! entries pass took 0.85 s alone and 1.15 s beside its digest pass, and the owner's work
//! on the result 130 to 440 ms with a digest pass running, against 22 ms natively).
//!
//! A scan worker is sent the archive's `Blob` (a structured clone: a handle to the same
//! file, not a copy of its bytes) with one [`ScanTask`]; it reads the task's byte range a
//! chunk at a time (`Blob.slice`, the next chunk read while it scans one) and answers with
//! [`ScanReply`]s: progress, then the result as one transferred `ArrayBuffer` in the core's
//! transfer layout (`layerscope_core::engine::transfer`), never one message per file. A scan
//! worker talks to the owner only, and the page hears only the owner, so terminating the
//! owner (Cancel) silences its pool with it.
//!
//! A registry image gets the same two passes per layer, with the same [`Schedule`]: a scan
//! worker is sent the blob's `GET` as the owner's session authorized it ([`LayerFetch`])
//! instead of a `Blob`, and streams the response body through its scanner. Each pass fetches
//! the blob itself rather than one pass forwarding its chunks to the other: with queues
//! bounded, forwarding would hold the entries pass to the pace of the slower digest pass
//! (inflate and two SHA-256 against inflate and the tar walk), so the tree could come no
//! earlier than the digests. Two fetches keep the passes apart, each held back only by its
//! own stream (the browser reads no further ahead than its stream buffer); the second
//! fetch of a blob is often answered by the browser's HTTP cache. The owner drives such a
//! pool from async code ([`ReplyPool`]: the replies wait in a queue for it to take).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Promise, Reflect, Uint8Array};
use layerscope_core::archive::LayerScanJob;
use layerscope_core::engine::scan::{Hashing, LayerDigests, LayerError, LayerSummary, ScanOptions};
use layerscope_core::engine::transfer::TransferError;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ErrorEvent, MessageEvent, Worker};

/// Most scan workers a page may ask for (`?scan-workers=N`); the default is
/// min(`navigator.hardwareConcurrency`, [`DEFAULT_MAX_SCAN_WORKERS`]).
pub const MAX_SCAN_WORKERS: usize = 16;

/// Most scan workers started unless the page asks for more: beyond four, the owner's own
/// work (stacking the trees) and the memory of more parallel scans outweigh the gain.
pub const DEFAULT_MAX_SCAN_WORKERS: usize = 4;

/// The scan worker script, relative to the owner worker's script (so to the page's folder):
/// static/scan-worker-loader.js imports `scan-worker.js` and starts its wasm.
pub const SCAN_WORKER_SCRIPT: &str = "./scan-worker-loader.js";

/// Keys of the messages between the owner and its scan workers.
const BLOB_KEY: &str = "blob";
const TASK_KEY: &str = "scanTask";
const REPLY_KEY: &str = "scanReply";
const BYTES_KEY: &str = "bytes";
const FETCH_KEY: &str = "fetch";

/// How a scan worker reaches a registry layer's bytes: the blob's `GET` as the owner's
/// session authorized it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerFetch {
    /// Where to send it: the registry's URL, or the proxy's for it.
    pub url: String,
    /// The request's headers (`Authorization` when the registry wants it). They travel from
    /// worker to worker only, memory to memory.
    pub headers: Vec<(String, String)>,
    /// The registry as the reference names it, for messages.
    pub registry: String,
}

/// Where a task's layer bytes come from.
#[derive(Clone, Debug)]
pub enum TaskSource {
    /// A byte range of a dropped archive.
    Archive(Blob),
    /// A registry blob, fetched.
    Registry(LayerFetch),
}

/// One of the two passes over a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pass {
    /// Inflate and walk the tar, no digests: the entries the tree is built from.
    Entries,
    /// Inflate and hash, no tar walk: the blob digest and the diff_id, for the verification.
    Digests,
}

/// One pass over one layer, as the owner hands it to a scan worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanTask {
    /// The layer as the core's reader handed it out: byte range and scan options.
    pub job: LayerScanJob,
    pub pass: Pass,
}

impl ScanTask {
    /// What the pass's scanner is told: the entries pass leaves the digests to the other.
    pub fn options(&self) -> ScanOptions {
        match self.pass {
            Pass::Entries => self.job.options.clone().with_hashing(Hashing::EntriesOnly),
            Pass::Digests => self.job.options.clone(),
        }
    }

    /// The message posted to a scan worker: the archive's `Blob` (cloned as a handle, not
    /// copied) and the task as JSON.
    pub fn message(&self, blob: &Blob) -> JsValue {
        let object = js_sys::Object::new();
        let text = serde_json::to_string(self).unwrap_or_default();
        // Setting properties on a fresh plain object cannot fail.
        let _ = Reflect::set(&object, &BLOB_KEY.into(), blob);
        let _ = Reflect::set(&object, &TASK_KEY.into(), &text.into());
        object.into()
    }

    /// The message posted to a scan worker for a registry layer: the task and the fetch,
    /// as JSON.
    pub fn fetch_message(&self, fetch: &LayerFetch) -> JsValue {
        let object = js_sys::Object::new();
        let task = serde_json::to_string(self).unwrap_or_default();
        let fetch = serde_json::to_string(fetch).unwrap_or_default();
        let _ = Reflect::set(&object, &TASK_KEY.into(), &task.into());
        let _ = Reflect::set(&object, &FETCH_KEY.into(), &fetch.into());
        object.into()
    }

    /// Reads a message made by [`ScanTask::message`] or [`ScanTask::fetch_message`].
    pub fn from_message(value: &JsValue) -> Result<(TaskSource, ScanTask), String> {
        let text = Reflect::get(value, &TASK_KEY.into())
            .ok()
            .and_then(|text| text.as_string())
            .ok_or("the owner's message is not a scan task")?;
        let task = serde_json::from_str(&text)
            .map_err(|error| format!("the owner's scan task is unreadable: {error}"))?;
        if let Some(fetch) = Reflect::get(value, &FETCH_KEY.into())
            .ok()
            .and_then(|fetch| fetch.as_string())
        {
            let fetch = serde_json::from_str(&fetch)
                .map_err(|error| format!("the owner's layer fetch is unreadable: {error}"))?;
            return Ok((TaskSource::Registry(fetch), task));
        }
        let blob = Reflect::get(value, &BLOB_KEY.into())
            .ok()
            .and_then(|blob| blob.dyn_into::<Blob>().ok())
            .ok_or("the owner's scan task holds no Blob and no fetch")?;
        Ok((TaskSource::Archive(blob), task))
    }
}

/// What a scan worker says to the owner. Everything but the result buffer travels as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ScanReply {
    /// The worker's code is loaded and it listens: it takes a task now.
    Ready,
    /// `done` bytes of the task's layer are read.
    Progress { layer: usize, pass: Pass, done: u64 },
    /// The pass is over; the message's buffer holds its result ([`PassResult::to_bytes`]).
    Finished { layer: usize, pass: Pass, ok: bool },
    /// The pass could not run: the layer's bytes could not be read, or the task made no
    /// sense. The message says which and why.
    Failed {
        layer: Option<usize>,
        message: String,
    },
}

impl ScanReply {
    /// The message a scan worker posts, with `parts` (a finished pass's buffer, in pieces)
    /// copied one after the other into a `Uint8Array` whose buffer is to be transferred:
    /// the message and its transfer list. No parts, no buffer.
    pub fn message(&self, parts: &[&[u8]]) -> (JsValue, js_sys::Array) {
        let object = js_sys::Object::new();
        let text = serde_json::to_string(self).unwrap_or_default();
        let _ = Reflect::set(&object, &REPLY_KEY.into(), &text.into());
        let transfer = js_sys::Array::new();
        if !parts.is_empty() {
            let len: usize = parts.iter().map(|part| part.len()).sum();
            let array = Uint8Array::new_with_length(len as u32);
            let mut at = 0;
            for part in parts {
                array
                    .subarray(at as u32, (at + part.len()) as u32)
                    .copy_from(part);
                at += part.len();
            }
            let _ = Reflect::set(&object, &BYTES_KEY.into(), &array);
            transfer.push(&array.buffer());
        }
        (object.into(), transfer)
    }

    /// Reads a message made by [`ScanReply::message`]: the reply and the buffer it carries.
    pub fn from_message(value: &JsValue) -> Result<(ScanReply, Option<Vec<u8>>), String> {
        let text = Reflect::get(value, &REPLY_KEY.into())
            .ok()
            .and_then(|text| text.as_string())
            .ok_or("a scan worker sent a message that is not a scan reply")?;
        let reply = serde_json::from_str(&text)
            .map_err(|error| format!("a scan worker's reply is unreadable: {error}"))?;
        let bytes = Reflect::get(value, &BYTES_KEY.into())
            .ok()
            .and_then(|bytes| bytes.dyn_into::<Uint8Array>().ok())
            .map(|array| array.to_vec());
        Ok((reply, bytes))
    }
}

/// A finished pass: the entries pass's summary or the digest pass's digests, or why the
/// layer could not be scanned.
#[derive(Clone, Debug)]
pub enum PassResult {
    Entries(Result<LayerSummary, LayerError>),
    Digests(Result<LayerDigests, LayerError>),
}

impl PassResult {
    /// Whether the pass succeeded, and its result as one buffer (the core's transfer layout).
    pub fn to_bytes(&self) -> (bool, Vec<u8>) {
        let (ok, head, entries) = self.to_byte_parts();
        (ok, [head.as_slice(), entries].concat())
    }

    /// [`PassResult::to_bytes`] in two pieces, the second a summary's packed entries as the
    /// scanner holds them, for a worker that copies both into its transfer buffer.
    pub fn to_byte_parts(&self) -> (bool, Vec<u8>, &[u8]) {
        match self {
            PassResult::Entries(Ok(summary)) => {
                let (head, entries) = summary.to_byte_parts();
                (true, head, entries)
            }
            PassResult::Digests(Ok(digests)) => (true, digests.to_bytes(), &[]),
            PassResult::Entries(Err(error)) | PassResult::Digests(Err(error)) => {
                (false, error.to_bytes(), &[])
            }
        }
    }

    /// Reads back what [`PassResult::to_bytes`] wrote for `pass`.
    pub fn from_bytes(pass: Pass, ok: bool, bytes: &[u8]) -> Result<PassResult, TransferError> {
        Ok(match (pass, ok) {
            (Pass::Entries, true) => PassResult::Entries(Ok(LayerSummary::from_bytes(bytes)?)),
            (Pass::Digests, true) => PassResult::Digests(Ok(LayerDigests::from_bytes(bytes)?)),
            (Pass::Entries, false) => PassResult::Entries(Err(LayerError::from_bytes(bytes)?)),
            (Pass::Digests, false) => PassResult::Digests(Err(LayerError::from_bytes(bytes)?)),
        })
    }
}

/// What one scan worker of the pool is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Its code is loading; it takes a task once it says it is ready.
    Starting,
    /// Ready, with nothing to do.
    Idle,
    /// Running a pass.
    Busy { layer: usize, pass: Pass },
    /// Stopped by the owner (nothing was left for it) or dead.
    Stopped,
}

/// When a digest pass may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digesting {
    /// As soon as a worker is free (the entries passes are all out).
    Beside,
    /// Once the owner says the tree is done ([`Schedule::tree_done`]).
    AfterTree,
}

/// Most workers in a pool whose digest passes wait for the tree.
pub const DIGESTS_WAIT_UP_TO: usize = 2;

/// Which task goes to which scan worker; the owner does what it says.
#[derive(Clone, Debug)]
pub struct Schedule {
    queue: VecDeque<ScanTask>,
    workers: Vec<Slot>,
    digesting: Digesting,
    tree_done: bool,
}

impl Schedule {
    /// A schedule for `workers` scan workers, all starting, nothing queued; digests run
    /// beside the entries passes in a pool larger than [`DIGESTS_WAIT_UP_TO`].
    pub fn new(workers: usize) -> Schedule {
        let digesting = if workers > DIGESTS_WAIT_UP_TO {
            Digesting::Beside
        } else {
            Digesting::AfterTree
        };
        Schedule {
            queue: VecDeque::new(),
            workers: vec![Slot::Starting; workers],
            digesting,
            tree_done: false,
        }
    }

    /// When this schedule starts digest passes.
    pub fn digesting(&self) -> Digesting {
        self.digesting
    }

    /// The owner has posted the tree: digest passes held back may start (the owner offers
    /// the idle workers work again).
    pub fn tree_done(&mut self) {
        self.tree_done = true;
    }

    /// How many workers the schedule has (stopped ones included).
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// Queues both passes of every layer of `jobs`: every entries pass first, then every
    /// digest pass, the largest layer first within each (the longest tasks start first, so
    /// the last one to end ends soonest).
    pub fn add_layers(&mut self, jobs: &[LayerScanJob]) {
        let mut by_size: Vec<&LayerScanJob> = jobs.iter().collect();
        by_size.sort_by(|a, b| b.len.cmp(&a.len).then(a.index.cmp(&b.index)));
        for pass in [Pass::Entries, Pass::Digests] {
            for job in &by_size {
                self.queue.push_back(ScanTask {
                    job: (*job).clone(),
                    pass,
                });
            }
        }
    }

    /// Worker `worker` is ready for work (it started, or finished its pass): the task to
    /// post it, if one is queued and may start. The worker is busy with it from now on, or
    /// idle (the owner offers idle workers work again whenever a pass ends).
    pub fn next_for(&mut self, worker: usize) -> Option<ScanTask> {
        if self
            .workers
            .get(worker)
            .is_none_or(|slot| *slot == Slot::Stopped)
        {
            return None;
        }
        // Whatever it ran is over.
        self.workers[worker] = Slot::Idle;
        let waits = self.digesting == Digesting::AfterTree
            && !self.tree_done
            && self
                .queue
                .front()
                .is_some_and(|task| task.pass == Pass::Digests);
        let slot = &mut self.workers[worker];
        match if waits { None } else { self.queue.pop_front() } {
            Some(task) => {
                *slot = Slot::Busy {
                    layer: task.job.index,
                    pass: task.pass,
                };
                Some(task)
            }
            None => {
                *slot = Slot::Idle;
                None
            }
        }
    }

    /// Worker `worker` is ready before there is work for it (the pool was started ahead of
    /// its job); it waits, idle, for the layers.
    pub fn waiting(&mut self, worker: usize) {
        if let Some(slot) = self.workers.get_mut(worker) {
            if *slot == Slot::Starting {
                *slot = Slot::Idle;
            }
        }
    }

    /// The workers ready and waiting (a task queued later goes to them first).
    pub fn idle(&self) -> Vec<usize> {
        (0..self.workers.len())
            .filter(|&worker| self.workers[worker] == Slot::Idle)
            .collect()
    }

    /// The workers beyond what the queue needs: idle or still starting while fewer tasks are
    /// queued than there are such workers, the last ones first. The owner stops them, and
    /// they count as stopped from here on.
    pub fn release_unneeded(&mut self) -> Vec<usize> {
        let waiting: Vec<usize> = (0..self.workers.len())
            .filter(|&worker| matches!(self.workers[worker], Slot::Idle | Slot::Starting))
            .collect();
        let spare = waiting.len().saturating_sub(self.queue.len());
        let released: Vec<usize> = waiting.into_iter().rev().take(spare).collect();
        for &worker in &released {
            self.workers[worker] = Slot::Stopped;
        }
        released
    }

    /// Whether worker `worker` was stopped (released or lost): what it says is ignored.
    pub fn is_stopped(&self, worker: usize) -> bool {
        self.workers
            .get(worker)
            .is_none_or(|slot| *slot == Slot::Stopped)
    }

    /// Worker `worker` died; the pass it ran, if it ran one.
    pub fn lost(&mut self, worker: usize) -> Option<(usize, Pass)> {
        let slot = self.workers.get_mut(worker)?;
        let running = match *slot {
            Slot::Busy { layer, pass } => Some((layer, pass)),
            _ => None,
        };
        *slot = Slot::Stopped;
        running
    }

    /// Passes of `pass` not finished yet (queued or running).
    pub fn outstanding(&self, pass: Pass) -> usize {
        let queued = self.queue.iter().filter(|task| task.pass == pass).count();
        queued + self.running(pass)
    }

    /// Passes of `pass` running now.
    fn running(&self, pass: Pass) -> usize {
        self.workers
            .iter()
            .filter(|slot| matches!(slot, Slot::Busy { pass: running, .. } if *running == pass))
            .count()
    }

    /// The layers whose entries pass is running now, lowest first.
    pub fn scanning(&self) -> Vec<usize> {
        let mut layers: Vec<usize> = self
            .workers
            .iter()
            .filter_map(|slot| match slot {
                Slot::Busy {
                    layer,
                    pass: Pass::Entries,
                } => Some(*layer),
                _ => None,
            })
            .collect();
        layers.sort_unstable();
        layers
    }

    /// Forgets every queued task (the analysis failed or is over).
    pub fn clear(&mut self) {
        self.queue.clear();
    }
}

/// A scan worker started by someone else (the owner's warm pool), handed over with whether it
/// has said it is ready.
pub struct Adopted {
    pub worker: Worker,
    pub ready: bool,
}

/// One scan worker's message, as [`ReplyPool::next_reply`] hands it out.
pub type Reply = (usize, Result<(ScanReply, Option<Vec<u8>>), String>);

/// Replies of a pool's workers waiting for the owner's async code to take them.
#[derive(Default)]
struct Mailbox {
    queue: RefCell<VecDeque<Reply>>,
    /// Resolves the promise the owner awaits while the queue is empty.
    waiter: RefCell<Option<js_sys::Function>>,
}

impl Mailbox {
    fn push(&self, reply: Reply) {
        self.queue.borrow_mut().push_back(reply);
        if let Some(wake) = self.waiter.borrow_mut().take() {
            let _ = wake.call0(&JsValue::NULL);
        }
    }

    async fn pop(&self) -> Reply {
        loop {
            if let Some(reply) = self.queue.borrow_mut().pop_front() {
                return reply;
            }
            let promise = Promise::new(&mut |resolve, _reject| {
                *self.waiter.borrow_mut() = Some(resolve);
            });
            let _ = JsFuture::from(promise).await;
        }
    }
}

/// Scan workers for a registry image's layers, driven by the owner's async pull: each task
/// is posted with its [`LayerFetch`], and the replies are taken with
/// [`ReplyPool::next_reply`]. The queue of replies is bounded by the workers: each posts
/// progress at most every 60 ms and one result per task.
pub struct ReplyPool {
    workers: Vec<Worker>,
    mailbox: Rc<Mailbox>,
    _handlers: Vec<(
        Closure<dyn FnMut(MessageEvent)>,
        Closure<dyn FnMut(ErrorEvent)>,
    )>,
    /// Which pass of which layer goes to which worker.
    pub schedule: Schedule,
    /// Each layer's fetch, by layer index.
    fetches: Vec<Option<LayerFetch>>,
}

thread_local! {
    /// The workers of the pool at work, so the page's cancel stops them at once.
    static RUNNING: RefCell<Vec<Worker>> = const { RefCell::new(Vec::new()) };
    /// An error handler that keeps the error to itself; it lives as long as the owner.
    static SWALLOW_ERROR: js_sys::Function = Closure::<dyn FnMut(ErrorEvent)>::new(
        |event: ErrorEvent| event.prevent_default(),
    )
    .into_js_value()
    .unchecked_into();
}

/// Terminates every worker of the registry pool at work (the page cancelled).
pub fn stop_running() {
    RUNNING.with(|running| {
        for worker in running.borrow_mut().drain(..) {
            end_worker(&worker);
        }
    });
}

/// Terminates `worker`, deaf to it from now on (an aborted load's error, which would reach
/// the page through the owner, goes to a handler that swallows it).
pub fn end_worker(worker: &Worker) {
    worker.set_onmessage(None);
    SWALLOW_ERROR.with(|swallow| worker.set_onerror(Some(swallow)));
    worker.terminate();
}

impl ReplyPool {
    /// A pool of `size` workers: the `adopted` ones first (at most `size`; the rest are
    /// stopped), then new ones started from [`SCAN_WORKER_SCRIPT`].
    pub fn new(adopted: Vec<Adopted>, size: usize) -> Result<ReplyPool, String> {
        let mailbox = Rc::new(Mailbox::default());
        let mut pool = ReplyPool {
            workers: Vec::new(),
            mailbox,
            _handlers: Vec::new(),
            schedule: Schedule::new(size),
            fetches: Vec::new(),
        };
        let mut ready = Vec::new();
        for adopted in adopted {
            if pool.workers.len() < size {
                ready.push(adopted.ready);
                pool.listen(adopted.worker);
            } else {
                end_worker(&adopted.worker);
            }
        }
        while pool.workers.len() < size {
            let worker = Worker::new(SCAN_WORKER_SCRIPT).map_err(|error| {
                format!(
                    "the browser refused to start a scan worker ({SCAN_WORKER_SCRIPT}): {}",
                    crate::pull::describe(&error)
                )
            })?;
            ready.push(false);
            pool.listen(worker);
        }
        for (index, ready) in ready.into_iter().enumerate() {
            if ready {
                pool.schedule.waiting(index);
            }
        }
        RUNNING.with(|running| *running.borrow_mut() = pool.workers.clone());
        Ok(pool)
    }

    fn listen(&mut self, worker: Worker) {
        let index = self.workers.len();
        let mailbox = self.mailbox.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            mailbox.push((index, ScanReply::from_message(&event.data())));
        });
        let mailbox = self.mailbox.clone();
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
            event.prevent_default();
            let detail = event.message();
            let detail = if detail.is_empty() {
                "it could not be loaded or crashed".to_string()
            } else {
                detail
            };
            mailbox.push((index, Err(format!("a scan worker stopped: {detail}"))));
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        self.workers.push(worker);
        self._handlers.push((on_message, on_error));
    }

    /// Queues both passes of every layer, each fetched with `fetches[job.index]`, and hands
    /// them to the workers that wait.
    pub fn add_layers(
        &mut self,
        jobs: &[LayerScanJob],
        fetches: Vec<LayerFetch>,
    ) -> Result<(), String> {
        let count = jobs.iter().map(|job| job.index + 1).max().unwrap_or(0);
        self.fetches = vec![None; count];
        for (job, fetch) in jobs.iter().zip(fetches) {
            self.fetches[job.index] = Some(fetch);
        }
        self.schedule.add_layers(jobs);
        self.offer_idle()
    }

    /// Worker `worker` is free (it started, or finished its pass): posts it the next task,
    /// offers the idle workers theirs, and stops workers left without one.
    pub fn ready(&mut self, worker: usize) -> Result<(), String> {
        self.offer(worker)?;
        self.offer_idle()
    }

    /// The tree is posted: digest passes held back for it go to the idle workers.
    pub fn tree_done(&mut self) -> Result<(), String> {
        self.schedule.tree_done();
        self.offer_idle()
    }

    fn offer_idle(&mut self) -> Result<(), String> {
        for idle in self.schedule.idle() {
            self.offer(idle)?;
        }
        for worker in self.schedule.release_unneeded() {
            end_worker(&self.workers[worker]);
        }
        Ok(())
    }

    fn offer(&mut self, worker: usize) -> Result<(), String> {
        let Some(task) = self.schedule.next_for(worker) else {
            return Ok(());
        };
        let Some(fetch) = self.fetches.get(task.job.index).and_then(Option::as_ref) else {
            return Err(format!(
                "layer {} has no request to fetch it",
                task.job.index
            ));
        };
        self.workers[worker]
            .post_message(&task.fetch_message(fetch))
            .map_err(|error| {
                format!(
                    "layer {} could not be handed to a scan worker: {}",
                    task.job.index,
                    crate::pull::describe(&error)
                )
            })
    }

    /// The next message of a worker still at work (what stopped workers said is dropped).
    pub async fn next_reply(&self) -> Reply {
        loop {
            let reply = self.mailbox.pop().await;
            if !self.schedule.is_stopped(reply.0) {
                return reply;
            }
        }
    }

    /// How many workers the pool has.
    pub fn size(&self) -> usize {
        self.workers.len()
    }

    /// Stops every worker.
    pub fn stop(&mut self) {
        self.schedule.clear();
        for worker in &self.workers {
            end_worker(worker);
        }
        RUNNING.with(|running| running.borrow_mut().clear());
    }
}

impl Drop for ReplyPool {
    /// A pool dropped (the pull ended or failed) leaves no worker running.
    fn drop(&mut self) {
        self.stop();
    }
}

/// How many scan workers to start: `asked` when the page's query names a number
/// (`?scan-workers=N`, at most [`MAX_SCAN_WORKERS`]; 0 scans in the owner itself, one layer
/// after the other as before the pool), else min(`cores`, [`DEFAULT_MAX_SCAN_WORKERS`]) and
/// at least one.
pub fn pool_size(asked: Option<usize>, cores: usize) -> usize {
    match asked {
        Some(asked) => asked.min(MAX_SCAN_WORKERS),
        None => cores.clamp(1, DEFAULT_MAX_SCAN_WORKERS),
    }
}

/// The page query's `scan-workers=N` (`?scan-workers=1&...`), when it has a number.
pub fn asked_pool_size(search: &str) -> Option<usize> {
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("scan-workers="))
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(index: usize, len: u64) -> LayerScanJob {
        LayerScanJob {
            index,
            member: format!("blobs/sha256/{index}"),
            offset: index as u64 * 1000,
            len,
            options: ScanOptions::default(),
        }
    }

    #[test]
    fn every_entries_pass_goes_out_before_any_digest_pass_largest_first() {
        let mut schedule = Schedule::new(3);
        assert_eq!(schedule.digesting(), Digesting::Beside);
        schedule.add_layers(&[job(0, 10), job(1, 30), job(2, 20)]);
        let mut order = Vec::new();
        // Workers 0 and 1 are ready first, then they alternate as they finish.
        for worker in [0, 1, 2, 0, 1, 2] {
            let task = schedule.next_for(worker).expect("six tasks queued");
            order.push((task.job.index, task.pass));
        }
        assert_eq!(
            order,
            [
                (1, Pass::Entries),
                (2, Pass::Entries),
                (0, Pass::Entries),
                (1, Pass::Digests),
                (2, Pass::Digests),
                (0, Pass::Digests),
            ]
        );
        assert_eq!(schedule.next_for(0), None);
        assert_eq!(
            schedule.outstanding(Pass::Digests),
            2,
            "workers 1 and 2 run one each"
        );
        assert_eq!(schedule.outstanding(Pass::Entries), 0);
    }

    #[test]
    fn in_a_pool_of_two_the_digests_wait_for_the_tree() {
        let mut schedule = Schedule::new(2);
        assert_eq!(schedule.digesting(), Digesting::AfterTree);
        schedule.add_layers(&[job(0, 10)]);
        let first = schedule.next_for(0).unwrap();
        assert_eq!(first.pass, Pass::Entries);
        assert_eq!(schedule.next_for(1), None, "the digest pass waits");
        assert_eq!(
            schedule.release_unneeded(),
            Vec::<usize>::new(),
            "worker 1 is kept for it"
        );
        assert_eq!(
            schedule.next_for(0),
            None,
            "the entries are in, the tree is not done"
        );
        schedule.tree_done();
        // The owner offers both idle workers work again.
        assert_eq!(schedule.next_for(0).map(|t| t.pass), Some(Pass::Digests));
        assert_eq!(schedule.next_for(1), None);
        assert_eq!(schedule.release_unneeded(), vec![1]);
    }

    #[test]
    fn the_entries_pass_skips_the_digests_and_the_digest_pass_keeps_them() {
        let mut with_digests = job(0, 1);
        with_digests.options.hashing = Hashing::Digests;
        let entries = ScanTask {
            job: with_digests.clone(),
            pass: Pass::Entries,
        };
        let digests = ScanTask {
            job: with_digests,
            pass: Pass::Digests,
        };
        assert_eq!(entries.options().hashing, Hashing::EntriesOnly);
        assert_eq!(digests.options().hashing, Hashing::Digests);
    }

    #[test]
    fn workers_beyond_the_queued_tasks_are_released() {
        let mut schedule = Schedule::new(4);
        // One layer: two passes for four starting workers.
        schedule.add_layers(&[job(0, 5)]);
        assert_eq!(schedule.release_unneeded(), vec![3, 2]);
        assert_eq!(schedule.next_for(3), None, "a released worker gets nothing");
        assert!(schedule.is_stopped(3) && !schedule.is_stopped(0));
        assert!(schedule.next_for(0).is_some());
        assert_eq!(
            schedule.release_unneeded(),
            Vec::<usize>::new(),
            "one task for one worker"
        );
        assert!(schedule.next_for(1).is_some());
        assert_eq!(schedule.scanning(), vec![0]);
        assert_eq!(schedule.next_for(0), None, "nothing left");
        assert_eq!(schedule.idle(), vec![0]);
        assert_eq!(schedule.release_unneeded(), vec![0]);
        assert_eq!(schedule.lost(1), Some((0, Pass::Digests)));
        assert_eq!(schedule.outstanding(Pass::Digests), 0);
    }

    #[test]
    fn a_worker_ready_before_the_layers_waits_for_them() {
        let mut schedule = Schedule::new(3);
        schedule.waiting(1);
        assert_eq!(schedule.idle(), vec![1]);
        schedule.add_layers(&[job(0, 5), job(1, 9)]);
        let task = schedule
            .next_for(1)
            .expect("the idle worker takes the first task");
        assert_eq!((task.job.index, task.pass), (1, Pass::Entries));
        assert_eq!(schedule.release_unneeded(), Vec::<usize>::new());
    }

    #[test]
    fn a_task_and_a_reply_keep_their_fields_through_json() {
        let task = ScanTask {
            job: job(3, 77),
            pass: Pass::Digests,
        };
        let text = serde_json::to_string(&task).unwrap();
        assert_eq!(serde_json::from_str::<ScanTask>(&text).unwrap(), task);
        let reply = ScanReply::Finished {
            layer: 3,
            pass: Pass::Entries,
            ok: false,
        };
        let text = serde_json::to_string(&reply).unwrap();
        assert!(text.contains(r#""kind":"finished""#), "{text}");
        assert_eq!(serde_json::from_str::<ScanReply>(&text).unwrap(), reply);
    }

    #[test]
    fn a_pass_result_comes_back_from_its_buffer() {
        let summary = layerscope_core::engine::scan::scan_chunks(
            [&[0u8; 1024][..]],
            ScanOptions::default().with_hashing(Hashing::EntriesOnly),
        )
        .expect("an empty tar scans");
        let (ok, bytes) = PassResult::Entries(Ok(summary.clone())).to_bytes();
        assert!(ok);
        match PassResult::from_bytes(Pass::Entries, ok, &bytes).unwrap() {
            PassResult::Entries(Ok(back)) => assert_eq!(back, summary),
            other => panic!("read back as {other:?}"),
        }
        // A buffer read as the other pass is refused, not misread.
        assert!(PassResult::from_bytes(Pass::Digests, true, &bytes).is_err());
    }

    #[test]
    fn the_pool_size_follows_the_query_else_the_cores() {
        assert_eq!(pool_size(None, 8), 4);
        assert_eq!(pool_size(None, 2), 2);
        assert_eq!(pool_size(None, 0), 1);
        assert_eq!(pool_size(Some(1), 8), 1);
        assert_eq!(pool_size(Some(0), 8), 0);
        assert_eq!(pool_size(Some(99), 8), MAX_SCAN_WORKERS);
        assert_eq!(asked_pool_size("?tab=files&scan-workers=1"), Some(1));
        assert_eq!(asked_pool_size("?scan-workers=x"), None);
        assert_eq!(asked_pool_size(""), None);
    }
}
