//! The worker's registry pull: the core's [`ImagePull`] and [`Session`] driven with `fetch`.
//!
//! The core decides every request (which operation, which URL, which headers, which token);
//! this module only performs them, the way `crates/cli/src/pull.rs` does with ureq, and
//! streams each layer body from `response.body().getReader()` into the core's scanner a chunk
//! at a time, so no blob is ever whole in memory.
//!
//! Reaching the registry: the first request goes straight to it. When the browser blocks that
//! (`fetch` rejects with a TypeError: no CORS headers, or no network), the worker asks the
//! proxy (the page's own `./proxy/{host}/v2/`, what `layerscope serve` answers, or the proxy
//! URL from the settings) and, if a registry answers there, sends everything through it from
//! then on. The proxy points Bearer
//! realms at `/proxy-token/{realm host}/{path}`; the worker hands the core the realm as the
//! registry named it (`https://{realm host}/{path}`), so the core's checks on where tokens and
//! credentials go see the real hosts, and sends the token request to `./proxy-token/...`.
//!
//! With a pool of scan workers (the page's default; `?scan-workers=0` streams every layer
//! here), the layers go to the pool instead ([`crate::pool::ReplyPool`]): this worker has the
//! session authorize each blob's `GET`, the scan workers fetch and scan several layers at
//! once, the entries passes first (no SHA-256), and the tree is posted as soon as every
//! layer's entries are in. The digest passes fetch the blobs again beside or after them, and
//! their checks follow the tree as [`WorkerEvent::LayerVerified`], a mismatch named with both
//! digests while the image stays shown.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Reflect, Uint8Array};
use layerscope_core::archive::{LayerScanJob, Phase, Progress};
use layerscope_core::engine::extract::{Extraction, FileExtractor, Pushed};
use layerscope_core::engine::scan::{LayerDigests, LayerError, LayerSummary, Scanner};
use layerscope_core::model::digest::Digest;
use layerscope_core::model::platform::Platform;
use layerscope_core::model::reference::Reference;
use layerscope_core::present::report::Verification;
use layerscope_core::registry::proxy::{challenges_from_proxy, ProxyRoot};
use layerscope_core::registry::pull::{blob_read_limit, oversized_layer};
use layerscope_core::registry::LayerJob;
use layerscope_core::registry::{
    Action, Credentials, Cursor, Endpoint, ImagePull, InsecureRegistries, Method, Operation,
    Outcome, PullError, PullStep, RegistryError, Repository, Request, Response, Session,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, ReadableStreamDefaultReader, RequestCredentials, RequestInit, RequestMode,
    WorkerGlobalScope,
};

use crate::owner::{FileSearch, FoundFile, SearchStep};
use crate::pool::{Adopted, LayerFetch, Pass, PassResult, ReplyPool, ScanReply};
use crate::protocol::{
    without_file_lists, without_layer_files, ProgressThrottle, RegistryPull, Route, WorkerEvent,
};

/// Most `HEAD` requests resolving tags to digests at once.
const RESOLVE_LANES: usize = 6;

/// Tags asked for in one page of the tag list, unless the page asks for another size.
pub const TAG_PAGE: u32 = 100;

/// Least time between two progress messages.
/// Longest server text quoted in a message.
const MAX_QUOTED: usize = 200;

/// Why a pull stops before the core has its say.
enum Stop {
    /// The page cancelled: nothing more is posted.
    Aborted,
    /// The registry cannot be reached at all; the message says what to do.
    Unreachable(String),
}

/// The tag list of a pulled image's repository, page after page, with the session that
/// pulled it (its token, its route); the same session reads a file of a layer again for the
/// file viewer.
pub struct TagPages {
    session: Session,
    http: Fetcher,
    repository: Repository,
    /// The pulled image's layer blobs, bottom first.
    layers: Vec<Option<Digest>>,
    cursor: TagCursor,
    resolver: Resolver,
}

/// The page's own tag pages over whatever pages the registry sends. The registry is asked
/// for `?n=PAGE`; one that ignores `n` (Distribution 2.8 does) answers with every tag, and
/// the tags beyond the page are held and handed out a page at a time before the registry's
/// `Link` (if it sent one) is followed. Held tags are bounded by the tag list's body limit
/// ([`layerscope_core::registry::api::MAX_LIST_BYTES`]).
#[derive(Debug)]
struct TagCursor {
    page_size: usize,
    held: VecDeque<String>,
    registry: RegistryPages,
}

/// Where the registry's own pages stand.
#[derive(Debug)]
enum RegistryPages {
    /// No page asked for yet.
    NotAsked,
    /// The registry said where its next page is.
    Next(Cursor),
    /// The registry has no further page.
    End,
}

/// What the next page of tags takes.
#[derive(Debug, PartialEq)]
enum NextTags {
    /// Tags held from an earlier answer: no request.
    Held(Vec<String>),
    /// A request to the registry, continuing at the cursor (the first page at `None`).
    Ask(Option<Cursor>),
    /// No more tags.
    End,
}

impl TagCursor {
    fn new(page_size: u32) -> TagCursor {
        TagCursor {
            page_size: page_size.max(1) as usize,
            held: VecDeque::new(),
            registry: RegistryPages::NotAsked,
        }
    }

    fn next(&mut self) -> NextTags {
        if !self.held.is_empty() {
            let n = self.page_size.min(self.held.len());
            return NextTags::Held(self.held.drain(..n).collect());
        }
        match std::mem::replace(&mut self.registry, RegistryPages::End) {
            RegistryPages::NotAsked => NextTags::Ask(None),
            RegistryPages::Next(cursor) => NextTags::Ask(Some(cursor)),
            RegistryPages::End => NextTags::End,
        }
    }

    /// Takes the registry's page and returns the part to show now, holding the rest.
    fn received(&mut self, mut tags: Vec<String>, next: Option<Cursor>) -> Vec<String> {
        if tags.len() > self.page_size {
            self.held.extend(tags.split_off(self.page_size));
        }
        self.registry = match next {
            Some(cursor) => RegistryPages::Next(cursor),
            None => RegistryPages::End,
        };
        tags
    }

    /// Whether another page follows (held tags, or a registry page to ask for).
    fn more(&self) -> bool {
        !self.held.is_empty() || !matches!(self.registry, RegistryPages::End)
    }
}

/// Resolves listed tags to digests with `HEAD`, on at most [`RESOLVE_LANES`] sessions at once
/// (a session runs one exchange at a time), posting a `TagDigest` for each.
struct Resolver {
    queue: Rc<RefCell<VecDeque<String>>>,
    /// Lanes not running; each runs until the queue is empty, then comes back here.
    idle: Rc<RefCell<Vec<Lane>>>,
    /// Lanes made so far (running or idle).
    created: usize,
    endpoint: Endpoint,
    credentials: Option<Credentials>,
    /// The pull's fetcher, its route known, copied into each lane.
    http: Fetcher,
    repository: Repository,
}

struct Lane {
    session: Session,
    http: Fetcher,
}

impl Resolver {
    fn new(
        http: &Fetcher,
        session: &Session,
        credentials: Option<&Credentials>,
        repository: Repository,
    ) -> Resolver {
        Resolver {
            queue: Rc::default(),
            idle: Rc::default(),
            created: 0,
            endpoint: session.endpoint().clone(),
            credentials: credentials.cloned(),
            http: http.clone(),
            repository,
        }
    }

    /// Queues `tags` and starts as many lanes as they need, up to [`RESOLVE_LANES`] in all
    /// (a lane is made on first need: on a token registry, each fetches its own token).
    fn resolve(&mut self, tags: &[String], post: fn(&WorkerEvent)) {
        self.queue.borrow_mut().extend(tags.iter().cloned());
        let wanted = self.queue.borrow().len();
        let mut lanes = Vec::new();
        while lanes.len() < wanted {
            let idle = self.idle.borrow_mut().pop();
            if let Some(lane) = idle {
                lanes.push(lane);
            } else if self.created < RESOLVE_LANES {
                self.created += 1;
                let mut session = Session::new(self.endpoint.clone());
                if let Some(credentials) = &self.credentials {
                    session = session.with_credentials(credentials.clone());
                }
                lanes.push(Lane {
                    session,
                    http: self.http.clone(),
                });
            } else {
                break;
            }
        }
        for lane in lanes {
            let queue = self.queue.clone();
            let idle = self.idle.clone();
            let repository = self.repository.clone();
            wasm_bindgen_futures::spawn_local(run_lane(lane, queue, idle, repository, post));
        }
    }
}

async fn run_lane(
    mut lane: Lane,
    queue: Rc<RefCell<VecDeque<String>>>,
    idle: Rc<RefCell<Vec<Lane>>>,
    repository: Repository,
    post: fn(&WorkerEvent),
) {
    loop {
        let next = queue.borrow_mut().pop_front();
        let Some(tag) = next else {
            break;
        };
        let operation = Operation::ResolveTag {
            repository: repository.clone(),
            tag: tag.clone(),
        };
        match lane.http.run(&mut lane.session, operation, &post).await {
            Ok(Ok(Outcome::Resolved(resolved))) => post(&WorkerEvent::TagDigest {
                tag,
                digest: resolved.digest.to_string(),
            }),
            // The page cancelled: nothing more is asked or posted.
            Err(Stop::Aborted) => return,
            // A tag that does not resolve stays a row of its own.
            _ => {}
        }
    }
    idle.borrow_mut().push(lane);
}

impl TagPages {
    /// The next page of tags (the first when none was shown) as a `Tags` event; `None` when
    /// there is no further page, the page cancelled, or the registry refused.
    pub async fn next_page(&mut self, post: fn(&WorkerEvent)) -> Option<WorkerEvent> {
        let first = matches!(self.cursor.registry, RegistryPages::NotAsked);
        let tags = match self.cursor.next() {
            NextTags::Held(tags) => tags,
            NextTags::Ask(after) => {
                let operation = Operation::Tags {
                    repository: self.repository.clone(),
                    page_size: Some(self.cursor.page_size as u32),
                    after,
                };
                match self.http.run(&mut self.session, operation, &post).await {
                    Ok(Ok(Outcome::Tags(page))) => {
                        self.cursor.received(page.tags, page.next.map(Cursor::Link))
                    }
                    _ => return None,
                }
            }
            NextTags::End => return None,
        };
        self.resolver.resolve(&tags, post);
        Some(WorkerEvent::Tags {
            tags,
            more: self.cursor.more(),
            append: !first,
        })
    }
}

impl TagPages {
    /// Reads `path` as layer `layer` holds it, streaming the layer blob again (the browser's
    /// HTTP cache usually has it) only up to the file, following hard links into the layers
    /// below. `on_progress` hears the layer bytes received and the blob's size.
    pub async fn read_file(
        &mut self,
        layer: usize,
        path: &str,
        limit: u64,
        on_progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FoundFile, String> {
        let mut search = FileSearch::new(layer, path, self.layers.len());
        loop {
            let Some((candidate, wanted)) = search.next() else {
                return Err(format!("the image has no layer {layer}"));
            };
            let Some(digest) = self.layers[candidate].clone() else {
                return Err(format!("layer {candidate} has no digest to fetch it by"));
            };
            let extractor = FileExtractor::new(wanted, limit);
            let operation = Operation::LayerBlob {
                repository: self.repository.clone(),
                digest,
            };
            let mut content = Vec::new();
            let extraction = match self
                .http
                .extract_from_layer(
                    &mut self.session,
                    operation,
                    extractor,
                    &mut content,
                    on_progress,
                )
                .await
            {
                Ok(Ok(extraction)) => extraction,
                Ok(Err(message)) => return Err(message),
                Err(_) => return Err("the page stopped the read".into()),
            };
            match search.found(extraction, content) {
                SearchStep::Continue => {}
                SearchStep::Found(file) => return Ok(file),
                SearchStep::Missing(message) => return Err(message),
            }
        }
    }
}

/// Pulls `job` and returns the final event (`Done`, `Failed` or `NeedsLogin`); `None` when
/// the page cancelled. `post` hears every event on the way. After `Done` the first page of
/// tags is posted, and the [`TagPages`] returned fetch the following ones.
/// `workers` are scan workers already started (the owner's warm pool), taken into the pool
/// the job asks for.
pub async fn pull(
    job: RegistryPull,
    scope: WorkerGlobalScope,
    signal: AbortSignal,
    post: fn(&WorkerEvent),
    workers: Vec<Adopted>,
) -> (Option<WorkerEvent>, Option<TagPages>) {
    let page_size = job.tag_page_size.filter(|n| *n > 0).unwrap_or(TAG_PAGE);
    match pull_image(job, scope, signal, post, page_size, workers).await {
        Ok(mut pages) => {
            let event = pages.next_page(post).await;
            (event, Some(pages))
        }
        Err(event) => (event, None),
    }
}

async fn pull_image(
    job: RegistryPull,
    scope: WorkerGlobalScope,
    signal: AbortSignal,
    post_fn: fn(&WorkerEvent),
    page_size: u32,
    workers: Vec<Adopted>,
) -> Result<TagPages, Option<WorkerEvent>> {
    let post: &dyn Fn(&WorkerEvent) = &post_fn;
    let failed = |message: String| Err(Some(WorkerEvent::Failed { message }));
    let pool_size = job
        .scan_workers
        .unwrap_or(0)
        .min(crate::pool::MAX_SCAN_WORKERS);
    // Started now, so the workers' code loads while the documents are fetched; the warm
    // workers' next messages (their readiness) come to it from here on.
    let mut pool = None;
    if pool_size == 0 {
        for adopted in workers {
            crate::pool::end_worker(&adopted.worker);
        }
    } else {
        match ReplyPool::new(workers, pool_size) {
            Ok(started) => pool = Some(started),
            Err(message) => return failed(message),
        }
    }
    // The pool the layers went to, until their digests are in.
    let mut pooled: Option<PooledScans> = None;
    let reference = match Reference::parse(job.reference.trim()) {
        Ok(reference) => reference,
        Err(error) => {
            return failed(format!(
                "“{}” is not an image reference: {error}",
                job.reference.trim()
            ))
        }
    };
    let platform = match Platform::parse(&job.platform) {
        Ok(platform) => platform,
        Err(error) => return failed(format!("“{}”: {error}", job.platform)),
    };
    let endpoint = match Endpoint::for_reference(&reference, &InsecureRegistries::none()) {
        Ok(endpoint) => endpoint,
        Err(error) => return failed(error.to_string()),
    };
    let proxy = match job.proxy.as_deref().map(ProxyRoot::parse) {
        None => ProxyRoot::same_origin(&page_base(&scope)),
        Some(Ok(proxy)) => proxy,
        Some(Err(error)) => return failed(format!("the proxy URL in the settings: {error}")),
    };
    let registry = reference.domain().to_string();
    let mut session = Session::new(endpoint.clone());
    let credentials = job
        .credentials
        .map(|login| Credentials::new(login.username, login.secret));
    if let Some(credentials) = &credentials {
        session = session.with_credentials(credentials.clone());
    }
    let mut http = Fetcher {
        scope: scope.clone(),
        proxy,
        signal,
        registry: registry.clone(),
        host: endpoint.host(),
        route: job.route,
        buffer: Vec::new(),
    };
    // A route this tab found before is announced again, so the page says which proxy it uses.
    if let Some(route) = http.route {
        http.routed(route, post);
    }
    let mut progress = ProgressThrottle::default();
    let repository = Repository::of(&reference);
    // The image as `layerscope inspect` would be given it, for the advice on a limit.
    let shown = reference.familiar();
    let mut pull = ImagePull::new(reference, platform);
    loop {
        let Some(step) = pull.next_step() else {
            return failed("the image pull stalled (no step and no result)".into());
        };
        match step {
            PullStep::Run(operation) => match http.run(&mut session, operation, post).await {
                Ok(outcome) => pull.receive(outcome),
                Err(stop) => return Err(stopped(stop)),
            },
            PullStep::ImagesListed { images, selected } => {
                post(&WorkerEvent::Platforms { images, selected })
            }
            PullStep::Overview(report) => post(&WorkerEvent::Overview {
                report: without_file_lists(report),
            }),
            PullStep::ScanLayers(jobs) if pool.is_some() && !jobs.is_empty() => {
                let Some(pool) = pool.take() else {
                    return failed("the scan workers are gone".into());
                };
                let mut scans =
                    match PooledScans::start(&mut http, &mut session, &jobs, pool, post).await {
                        Ok(Ok(scans)) => scans,
                        Ok(Err(LayerStart::Refused(error))) => {
                            return Err(final_error(
                                &registry,
                                &shown,
                                PullError::Registry(error),
                                &session,
                            ))
                        }
                        Ok(Err(LayerStart::Pool(message))) => return failed(message),
                        Err(stop) => return Err(stopped(stop)),
                    };
                if let Err(message) = scans.entries(&mut pull, &http.signal, post).await {
                    scans.pool.stop();
                    return match message {
                        Some(message) => failed(message),
                        None => Err(None),
                    };
                }
                pooled = Some(scans);
            }
            PullStep::ScanLayers(jobs) => {
                let count = jobs.len();
                let total: u64 = jobs.iter().map(|job| job.size).sum();
                let mut before = 0u64;
                for job in jobs {
                    let scanned = http
                        .scan_layer(
                            &mut session,
                            (job.index, job.size),
                            job.operation,
                            Scanner::new(job.options),
                            post,
                            &mut |received| {
                                progress.offer(
                                    Progress {
                                        phase: Phase::ScanningLayers,
                                        bytes_read: before + received,
                                        total_bytes: Some(total),
                                        streamed: true,
                                        layer: Some((job.index, count)),
                                        layer_bytes: Some((received, job.size)),
                                        message: format!("layer {} of {count}", job.index + 1),
                                    },
                                    post,
                                )
                            },
                        )
                        .await;
                    before += job.size;
                    match scanned {
                        Ok(Ok(result)) => pull.layer_scanned(job.index, result),
                        Ok(Err(error)) => {
                            return Err(final_error(
                                &registry,
                                &shown,
                                PullError::Registry(error),
                                &session,
                            ))
                        }
                        Err(stop) => return Err(stopped(stop)),
                    }
                }
            }
            PullStep::LayerScanned(layer) => post(&WorkerEvent::LayerScanned {
                layer: without_layer_files(layer),
            }),
            PullStep::Done(report) => {
                if let Some(limit) = session.rate_limit() {
                    post(&WorkerEvent::Allowance {
                        limit: limit.clone(),
                    });
                }
                if let Some(trees) = pull.take_file_trees() {
                    crate::owner::keep(trees);
                }
                let layers = report
                    .layers
                    .iter()
                    .map(|layer| layer.digest.clone())
                    .collect();
                let shown = report.verification.clone();
                // Kept whole for "Download report"; posted without the file lists.
                post(&crate::protocol::finished(report));
                if let Some(scans) = pooled.take() {
                    // The digests follow the tree.
                    let signal = http.signal.clone();
                    wasm_bindgen_futures::spawn_local(scans.verify(pull, shown, signal, post_fn));
                }
                // The image is shown; the tag list follows (a registry may refuse it: then
                // there is simply no list).
                let resolver =
                    Resolver::new(&http, &session, credentials.as_ref(), repository.clone());
                return Ok(TagPages {
                    session,
                    http,
                    repository,
                    layers,
                    cursor: TagCursor::new(page_size),
                    resolver,
                });
            }
            PullStep::Failed(error) => {
                if let Some(mut scans) = pooled.take() {
                    scans.pool.stop();
                }
                return Err(final_error(&registry, &shown, error, &session));
            }
        }
    }
}

/// Why the layers could not be handed to the pool.
enum LayerStart {
    /// The registry refused to authorize a blob's `GET`.
    Refused(RegistryError),
    /// The pool could not be started or given the work.
    Pool(String),
}

/// A registry image's layers in a pool of scan workers: the entries passes, then the
/// digest passes (see the module documentation).
struct PooledScans {
    pool: ReplyPool,
    /// Stored size of each layer.
    sizes: Vec<u64>,
    /// Bytes each layer's running entries pass has read.
    read: Vec<u64>,
    /// Bytes of the layers whose entries are in.
    finished_bytes: u64,
    total: u64,
}

impl PooledScans {
    /// Has the session authorize every layer's `GET` and hands the layers to the pool.
    async fn start(
        http: &mut Fetcher,
        session: &mut Session,
        jobs: &[LayerJob],
        mut pool: ReplyPool,
        post: &dyn Fn(&WorkerEvent),
    ) -> Result<Result<PooledScans, LayerStart>, Stop> {
        let mut fetches = Vec::with_capacity(jobs.len());
        for job in jobs {
            let request = match http.run(session, job.operation.clone(), post).await? {
                Ok(Outcome::LayerBlob(blob)) => blob.request,
                Ok(_) => {
                    return Ok(Err(LayerStart::Pool(
                        "the registry session answered a layer request with something else".into(),
                    )))
                }
                Err(error) => return Ok(Err(LayerStart::Refused(error))),
            };
            fetches.push(http.layer_fetch(&request));
        }
        let scan_jobs: Vec<LayerScanJob> = jobs
            .iter()
            .map(|job| LayerScanJob {
                index: job.index,
                member: job.digest.to_string(),
                offset: 0,
                len: job.size,
                options: job.options.clone(),
            })
            .collect();
        let count = jobs.iter().map(|job| job.index + 1).max().unwrap_or(0);
        let mut sizes = vec![0; count];
        for job in jobs {
            sizes[job.index] = job.size;
        }
        if let Err(message) = pool.add_layers(&scan_jobs, fetches) {
            pool.stop();
            return Ok(Err(LayerStart::Pool(message)));
        }
        Ok(Ok(PooledScans {
            pool,
            read: vec![0; count],
            total: sizes.iter().sum(),
            sizes,
            finished_bytes: 0,
        }))
    }

    /// Takes the pool's replies until every layer's entries are in (or the pull failed),
    /// handing each to the pull and posting its row and the layers' progress. Digests that
    /// come first are handed over too (the pull holds them until the image is finished).
    /// The error is the message to fail with, `None` when the page cancelled.
    async fn entries(
        &mut self,
        pull: &mut ImagePull,
        signal: &AbortSignal,
        post: &dyn Fn(&WorkerEvent),
    ) -> Result<(), Option<String>> {
        while self.pool.schedule.outstanding(Pass::Entries) > 0 {
            let (worker, reply) = self.pool.next_reply().await;
            if signal.aborted() {
                return Err(None);
            }
            match self.on_reply(worker, reply, post)? {
                Some((layer, PassResult::Entries(summary))) => {
                    pull.layer_scanned(layer, summary);
                    loop {
                        match pull.next_step() {
                            Some(PullStep::LayerScanned(layer)) => {
                                post(&WorkerEvent::LayerScanned {
                                    layer: without_layer_files(layer),
                                })
                            }
                            // The caller's loop takes the failure.
                            Some(PullStep::Failed(_)) => return Ok(()),
                            _ => break,
                        }
                    }
                }
                Some((layer, PassResult::Digests(digests))) => digests_in(pull, layer, digests)?,
                None => {}
            }
        }
        Ok(())
    }

    /// Takes the digest passes' replies once the tree is posted, posting each layer's
    /// verification rows (`shown` is what the page has); then stops the pool. Nothing is
    /// posted once the page cancelled.
    async fn verify(
        mut self,
        mut pull: ImagePull,
        mut shown: Vec<Verification>,
        signal: AbortSignal,
        post: fn(&WorkerEvent),
    ) {
        if let Err(message) = self.pool.tree_done() {
            self.pool.stop();
            return post(&WorkerEvent::Failed { message });
        }
        while self.pool.schedule.outstanding(Pass::Digests) > 0 {
            let (worker, reply) = self.pool.next_reply().await;
            if signal.aborted() {
                return self.pool.stop();
            }
            let (checked, result) = match self.on_reply(worker, reply, &post) {
                Ok(Some((layer, PassResult::Digests(digests)))) => {
                    (Some(layer), digests_in(&mut pull, layer, digests))
                }
                Ok(_) => (None, Ok(())),
                Err(message) => (None, Err(message)),
            };
            if let Err(message) = result {
                self.pool.stop();
                if let Some(message) = message {
                    post(&WorkerEvent::Failed { message });
                }
                return;
            }
            let Some(layer) = checked else { continue };
            if let Some(PullStep::Done(report)) = pull.next_step() {
                post(&crate::protocol::layer_verified(layer, &shown, &report));
                shown.clone_from(&report.verification);
                crate::protocol::keep_finished(report);
            }
        }
        self.pool.stop();
    }

    /// Handles one reply: a worker ready for work, a layer's progress (posted), or a
    /// finished pass (returned with its layer). The error is the message to fail with.
    fn on_reply(
        &mut self,
        worker: usize,
        reply: Result<(ScanReply, Option<Vec<u8>>), String>,
        post: &dyn Fn(&WorkerEvent),
    ) -> Result<Option<(usize, PassResult)>, Option<String>> {
        let (reply, bytes) = reply.map_err(Some)?;
        match reply {
            ScanReply::Ready => {
                self.pool.ready(worker).map_err(Some)?;
                Ok(None)
            }
            ScanReply::Progress {
                layer,
                pass: Pass::Entries,
                done,
            } => {
                if let Some(read) = self.read.get_mut(layer) {
                    *read = done;
                    post(&WorkerEvent::Progress(self.progress(layer)));
                }
                Ok(None)
            }
            // The digests' progress is not shown: the tree is what is waited for.
            ScanReply::Progress { .. } => Ok(None),
            ScanReply::Finished { layer, pass, ok } => {
                let result = bytes
                    .ok_or_else(|| format!("a scan worker's result for layer {layer} has no bytes"))
                    .and_then(|bytes| {
                        PassResult::from_bytes(pass, ok, &bytes).map_err(|error| {
                            format!(
                                "a scan worker's result for layer {layer} is unreadable: {error}"
                            )
                        })
                    })
                    .map_err(Some)?;
                // The worker is free again before anything else happens.
                self.pool.ready(worker).map_err(Some)?;
                if pass == Pass::Entries {
                    if let Some(read) = self.read.get_mut(layer) {
                        *read = 0;
                        self.finished_bytes += self.sizes[layer];
                    }
                }
                Ok(Some((layer, result)))
            }
            ScanReply::Failed { message, .. } => Err(Some(message)),
        }
    }

    /// The progress to show after layer `layer`'s entries pass read more.
    fn progress(&self, layer: usize) -> Progress {
        let scanning = self.pool.schedule.scanning().len();
        let workers = self.pool.size();
        let in_flight: u64 = self.read.iter().sum();
        let message = if scanning > 1 {
            format!("{scanning} layers at once in {workers} scan workers")
        } else {
            format!("layer {} of {}", layer + 1, self.sizes.len())
        };
        Progress {
            phase: Phase::ScanningLayers,
            bytes_read: (self.finished_bytes + in_flight).min(self.total),
            total_bytes: Some(self.total),
            streamed: true,
            layer: Some((layer, self.sizes.len())),
            layer_bytes: Some((self.read[layer], self.sizes[layer])),
            message,
        }
    }
}

/// Hands layer `layer`'s digests to the pull. A mismatch is kept in the pull's report (the
/// image stays shown); anything else ends the pull with the message.
fn digests_in(
    pull: &mut ImagePull,
    layer: usize,
    digests: Result<LayerDigests, LayerError>,
) -> Result<(), Option<String>> {
    let digests = digests.map_err(|error| {
        Some(format!(
            "the digests of layer {layer} could not be computed: {error}"
        ))
    })?;
    pull.layer_digests(layer, digests)
        .map_err(|error| Some(error.to_string()))
}

fn stopped(stop: Stop) -> Option<WorkerEvent> {
    match stop {
        Stop::Aborted => None,
        Stop::Unreachable(message) => Some(WorkerEvent::Failed { message }),
    }
}

/// The last event for a failed pull: a login prompt for a 401, a 429 with its reset in the
/// viewer's local time, else the error in words.
/// `registry_reference` is the image as the CLI would be told it, for the advice on a limit.
fn final_error(
    registry: &str,
    registry_reference: &str,
    error: PullError,
    session: &Session,
) -> Option<WorkerEvent> {
    let needs_login = matches!(
        &error,
        PullError::Registry(RegistryError::Unauthorized { .. })
            | PullError::Registry(RegistryError::TokenRefused { status: 401, .. })
    );
    if let PullError::Registry(registry_error) = &error {
        let at = registry_error
            .limit_reset()
            .map_or_else(now, |reset| reset.at());
        if let Some(message) = registry_error.limit_message(now(), utc_offset_minutes_at(at)) {
            return Some(WorkerEvent::Failed { message });
        }
    }
    let mut message =
        crate::limit_advice::with_limit_advice(error.to_string(), &error, registry_reference);
    if let Some(limit) = session.rate_limit() {
        message = format!("{message} ({limit})");
    }
    Some(if needs_login {
        WorkerEvent::NeedsLogin {
            registry: registry.to_string(),
            message,
        }
    } else {
        WorkerEvent::Failed { message }
    })
}

/// Performs the core's requests with `fetch`, directly or through the proxy.
#[derive(Clone)]
struct Fetcher {
    scope: WorkerGlobalScope,
    /// The proxy for registries the browser cannot read directly.
    proxy: ProxyRoot,
    signal: AbortSignal,
    /// The registry as the reference names it (`docker.io`), for messages.
    registry: String,
    /// The API host (`registry-1.docker.io`), as the proxy path names it.
    host: String,
    /// `None` until the first request shows which way works.
    route: Option<Route>,
    buffer: Vec<u8>,
}

impl Fetcher {
    /// Runs one operation with the session, performing each request it asks for.
    async fn run(
        &mut self,
        session: &mut Session,
        operation: Operation,
        post: &dyn Fn(&WorkerEvent),
    ) -> Result<Result<Outcome, RegistryError>, Stop> {
        let mut exchange = session.start(operation, now());
        loop {
            match exchange.next_action() {
                Action::Send(request) => {
                    let limit = exchange.body_limit();
                    let response = match self.fetch(&request, post).await? {
                        Ok(response) => response,
                        Err(detail) => return Ok(Err(self.transport(detail))),
                    };
                    let answer = match self.read_small(&request, response, limit).await? {
                        Ok(answer) => answer,
                        Err(detail) => return Ok(Err(self.transport(detail))),
                    };
                    if let Err(error) = exchange.receive(answer, now()) {
                        return Ok(Err(error));
                    }
                }
                Action::Done(outcome) => return Ok(outcome),
            }
        }
    }

    /// The blob `GET` `request` as a scan worker sends it: by the route this worker found.
    fn layer_fetch(&self, request: &Request) -> LayerFetch {
        let url = match self.route {
            Some(Route::Proxy) => self.proxy.route(&self.host, &request.url),
            _ => request.url.clone(),
        };
        LayerFetch {
            url,
            headers: request.headers.clone(),
            registry: self.registry.clone(),
        }
    }

    /// Streams one layer (its index and the size its manifest declares) into `scanner`, no
    /// further than [`blob_read_limit`] of that size; `on_bytes` hears the bytes received so
    /// far.
    async fn scan_layer(
        &mut self,
        session: &mut Session,
        (index, declared): (usize, u64),
        operation: Operation,
        mut scanner: Scanner,
        post: &dyn Fn(&WorkerEvent),
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<Result<Result<LayerSummary, LayerError>, RegistryError>, Stop> {
        let request = match self.run(session, operation, post).await? {
            Ok(Outcome::LayerBlob(blob)) => blob.request,
            Ok(_) => {
                return Ok(Err(self.transport(
                    "the registry session answered a layer request with something else".into(),
                )))
            }
            Err(error) => return Ok(Err(error)),
        };
        let response = match self.fetch(&request, post).await? {
            Ok(response) => response,
            Err(detail) => return Ok(Err(self.transport(detail))),
        };
        if response.status() != 200 {
            return Ok(Err(RegistryError::Status {
                registry: self.registry.clone(),
                status: response.status(),
                subject: format!("layer {}", blob_name(&request.url)),
                errors: Vec::new(),
            }));
        }
        let Some(reader) = body_reader(&response) else {
            return Ok(Ok(scanner.finish()));
        };
        let mut received = 0u64;
        loop {
            let chunk = match self.next_chunk(&reader).await? {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(detail) => {
                    return Ok(Err(self.transport(format!(
                        "reading layer {}: {detail}",
                        blob_name(&request.url)
                    ))))
                }
            };
            received += chunk as u64;
            if received > blob_read_limit(declared) {
                let _ = reader.cancel();
                return Ok(Err(self.transport(oversized_layer(
                    index,
                    blob_name(&request.url),
                    declared,
                    received,
                ))));
            }
            if let Err(error) = scanner.push(&self.buffer[..chunk]) {
                let _ = reader.cancel();
                return Ok(Ok(Err(error)));
            }
            on_bytes(received);
        }
        Ok(Ok(scanner.finish()))
    }

    /// Streams one layer into `extractor` until the file is settled (the rest of the blob is
    /// not read); its content goes to `content`.
    async fn extract_from_layer(
        &mut self,
        session: &mut Session,
        operation: Operation,
        mut extractor: FileExtractor,
        content: &mut Vec<u8>,
        on_progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Result<Extraction, String>, Stop> {
        let ignore = |_: &WorkerEvent| {};
        let request = match self.run(session, operation, &ignore).await? {
            Ok(Outcome::LayerBlob(blob)) => blob.request,
            Ok(_) => {
                return Ok(Err(
                    "the registry session answered a layer request with something else".into(),
                ))
            }
            Err(error) => return Ok(Err(error.to_string())),
        };
        let response = match self.fetch(&request, &ignore).await? {
            Ok(response) => response,
            Err(detail) => return Ok(Err(self.transport(detail).to_string())),
        };
        if response.status() != 200 {
            return Ok(Err(format!(
                "{} answered {} for layer {}",
                self.registry,
                response.status(),
                blob_name(&request.url)
            )));
        }
        let size = response
            .headers()
            .get("content-length")
            .ok()
            .flatten()
            .and_then(|length| length.parse().ok())
            .unwrap_or(0);
        let mut keep = |chunk: &[u8]| content.extend_from_slice(chunk);
        let Some(reader) = body_reader(&response) else {
            return Ok(extractor.finish(&mut keep).map_err(|e| e.to_string()));
        };
        let mut received = 0u64;
        loop {
            let chunk = match self.next_chunk(&reader).await? {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(detail) => {
                    return Ok(Err(format!(
                        "reading layer {}: {detail}",
                        blob_name(&request.url)
                    )))
                }
            };
            received += chunk as u64;
            on_progress(received, size);
            match extractor.push(&self.buffer[..chunk], &mut keep) {
                Ok(Pushed::NeedMore) => {}
                Ok(Pushed::Finished(extraction)) => {
                    // The file is whole: the rest of the blob is not needed.
                    let _ = reader.cancel();
                    return Ok(Ok(extraction));
                }
                Err(error) => {
                    let _ = reader.cancel();
                    return Ok(Err(error.to_string()));
                }
            }
        }
        Ok(extractor.finish(&mut keep).map_err(|e| e.to_string()))
    }

    /// Sends `request` the way that works for this registry, finding it on the first request.
    async fn fetch(
        &mut self,
        request: &Request,
        post: &dyn Fn(&WorkerEvent),
    ) -> Result<Result<web_sys::Response, String>, Stop> {
        match self.route {
            Some(Route::Direct) => self.send(request, &request.url).await,
            Some(Route::Proxy) => {
                let url = self.proxy.route(&self.host, &request.url);
                self.send(request, &url).await
            }
            None => match self.send(request, &request.url).await? {
                Ok(response) => {
                    self.routed(Route::Direct, post);
                    Ok(Ok(response))
                }
                Err(direct) => {
                    self.find_proxy(&direct).await?;
                    self.routed(Route::Proxy, post);
                    let url = self.proxy.route(&self.host, &request.url);
                    self.send(request, &url).await
                }
            },
        }
    }

    fn routed(&mut self, route: Route, post: &dyn Fn(&WorkerEvent)) {
        self.route = Some(route);
        post(&WorkerEvent::Routed {
            registry: self.host.clone(),
            route,
            via: (route == Route::Proxy).then(|| self.proxy.to_string()),
        });
    }

    /// Asks the proxy's `{host}/v2/` whether a registry answers there (200 or 401).
    async fn find_proxy(&mut self, direct: &str) -> Result<(), Stop> {
        let url = self.proxy.probe_url(&self.host);
        let probe = Request::new(Method::Get, url.clone());
        let answer = match self.send(&probe, &url).await? {
            Ok(response) => response,
            Err(_) => {
                return Err(Stop::Unreachable(no_proxy_message(
                    &self.registry,
                    &self.proxy,
                    direct,
                )))
            }
        };
        let status = answer.status();
        if status == 200 || status == 401 {
            return Ok(());
        }
        if status == 403 || status == 502 || status == 504 {
            // The proxy is there but refused or could not reach the registry: say its words.
            let text = self.read_small(&probe, answer, MAX_QUOTED).await?;
            let said = text
                .ok()
                .map(|answer| quoted(&answer.body))
                .filter(|text| !text.is_empty())
                .unwrap_or_else(|| format!("it answered {status}"));
            return Err(Stop::Unreachable(format!(
                "{} does not let web pages read it directly, and the layerscope proxy at {} could not relay it: {said}",
                self.registry, self.proxy
            )));
        }
        Err(Stop::Unreachable(no_proxy_message(
            &self.registry,
            &self.proxy,
            direct,
        )))
    }

    /// One `fetch`. The outer error is a cancel; the inner is the browser's reason.
    async fn send(
        &self,
        request: &Request,
        url: &str,
    ) -> Result<Result<web_sys::Response, String>, Stop> {
        let init = RequestInit::new();
        init.set_method(request.method.as_str());
        init.set_mode(RequestMode::Cors);
        // Cookies of the page's origin have no business with a registry.
        init.set_credentials(RequestCredentials::Omit);
        init.set_signal(Some(&self.signal));
        let headers = match web_sys::Headers::new() {
            Ok(headers) => headers,
            Err(error) => return Ok(Err(describe(&error))),
        };
        for (name, value) in &request.headers {
            if let Err(error) = headers.append(name, value) {
                return Ok(Err(format!("header {name}: {}", describe(&error))));
            }
        }
        init.set_headers(&headers);
        let result = JsFuture::from(self.scope.fetch_with_str_and_init(url, &init)).await;
        match result {
            Ok(response) => Ok(Ok(response.unchecked_into())),
            Err(_) if self.signal.aborted() => Err(Stop::Aborted),
            Err(error) => Ok(Err(describe(&error))),
        }
    }

    /// The response as the core reads it: status, headers, and for a `GET` at most `limit`
    /// + 1 body bytes (the session refuses a body over its limit, so one more is enough).
    async fn read_small(
        &mut self,
        request: &Request,
        response: web_sys::Response,
        limit: usize,
    ) -> Result<Result<Response, String>, Stop> {
        let mut answer = Response::new(response.status());
        let proxied = self.route == Some(Route::Proxy);
        if let Ok(Some(entries)) = js_sys::try_iter(&response.headers()) {
            for entry in entries.flatten() {
                let name = Reflect::get(&entry, &0.into())
                    .ok()
                    .and_then(|v| v.as_string());
                let value = Reflect::get(&entry, &1.into())
                    .ok()
                    .and_then(|v| v.as_string());
                if let (Some(name), Some(mut value)) = (name, value) {
                    if proxied && name.eq_ignore_ascii_case("www-authenticate") {
                        if let Some(original) = challenges_from_proxy(&value) {
                            value = original;
                        }
                    }
                    answer.headers.push((name, value));
                }
            }
        }
        if request.method == Method::Get {
            if let Some(reader) = body_reader(&response) {
                let mut body = Vec::new();
                while body.len() <= limit {
                    match self.next_chunk(&reader).await? {
                        Ok(Some(len)) => body.extend_from_slice(&self.buffer[..len]),
                        Ok(None) => break,
                        Err(detail) => return Ok(Err(format!("reading the body: {detail}"))),
                    }
                }
                if body.len() > limit {
                    let _ = reader.cancel();
                    body.truncate(limit + 1);
                }
                answer.body = body;
            }
        }
        Ok(Ok(answer))
    }

    /// Reads the next chunk into `self.buffer`; `None` at the end.
    async fn next_chunk(
        &mut self,
        reader: &ReadableStreamDefaultReader,
    ) -> Result<Result<Option<usize>, String>, Stop> {
        let result = match JsFuture::from(reader.read()).await {
            Ok(result) => result,
            Err(_) if self.signal.aborted() => return Err(Stop::Aborted),
            Err(error) => return Ok(Err(describe(&error))),
        };
        let done = Reflect::get(&result, &"done".into())
            .ok()
            .and_then(|done| done.as_bool())
            .unwrap_or(true);
        if done {
            return Ok(Ok(None));
        }
        let Ok(value) = Reflect::get(&result, &"value".into()) else {
            return Ok(Ok(None));
        };
        let bytes: Uint8Array = value.unchecked_into();
        let len = bytes.length() as usize;
        self.buffer.resize(len, 0);
        bytes.copy_to(&mut self.buffer[..len]);
        Ok(Ok(Some(len)))
    }

    fn transport(&self, detail: String) -> RegistryError {
        let via = match self.route {
            Some(Route::Proxy) => format!(" through the layerscope proxy at {}", self.proxy),
            _ => String::new(),
        };
        RegistryError::Transport {
            registry: self.registry.clone(),
            detail: format!("{detail}{via}"),
        }
    }
}

fn body_reader(response: &web_sys::Response) -> Option<ReadableStreamDefaultReader> {
    let stream = response.body()?;
    Some(stream.get_reader().unchecked_into())
}

/// What the user reads when neither the registry nor the proxy answers.
pub fn no_proxy_message(registry: &str, proxy: &ProxyRoot, direct: &str) -> String {
    let _ = direct; // The browser says only "Failed to fetch"; it adds nothing for the user.
    let what_to_do = if proxy.is_same_origin() {
        "Run `layerscope serve` and open the page it serves, or set a proxy URL in the settings."
    } else {
        "Check the proxy URL in the settings: it must be a `layerscope serve` started with \
         `--allow-origin` for this page's origin."
    };
    format!(
        "{registry} does not let web pages read it directly (or this browser cannot reach it), \
         and no layerscope proxy answered at {proxy}. {what_to_do}"
    )
}

/// The directory of the page that started this worker (the loader script sits beside it).
fn page_base(scope: &WorkerGlobalScope) -> String {
    let href = scope.location().href();
    match href.rfind('/') {
        Some(slash) => href[..=slash].to_string(),
        None => href,
    }
}

/// The digest at the end of a blob URL, for messages.
fn blob_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Server text as one short line for a message (rendered as text by the page).
fn quoted(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_QUOTED)
        .collect();
    line.trim().to_string()
}

fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// How far the viewer's local clock is ahead of UTC at `unix` (daylight saving included).
fn utc_offset_minutes_at(unix: i64) -> i32 {
    let date = js_sys::Date::new(&JsValue::from_f64(unix as f64 * 1000.0));
    // JavaScript counts the other way: minutes to add to local time to get UTC.
    -(date.get_timezone_offset() as i32)
}

/// A JS exception as one line of text (its message, not its stack).
pub fn describe(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unreachable_message_names_the_host_the_proxy_and_what_to_run() {
        let own = ProxyRoot::same_origin("http://127.0.0.1:8080/");
        let message = no_proxy_message("docker.io", &own, "Failed to fetch");
        assert!(message.starts_with("docker.io does not let web pages read it directly"));
        assert!(message.contains("no layerscope proxy answered at ./proxy/."));
        assert!(message.contains("`layerscope serve`"));
        let set = ProxyRoot::parse("http://127.0.0.1:9000").unwrap();
        let message = no_proxy_message("docker.io", &set, "Failed to fetch");
        assert!(message.contains("answered at http://127.0.0.1:9000/proxy/."));
        assert!(message.contains("`--allow-origin`"));
    }

    fn tags(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn a_registry_that_ignores_n_is_paged_by_the_worker() {
        let mut cursor = TagCursor::new(2);
        assert_eq!(cursor.next(), NextTags::Ask(None));
        // Five tags for `n=2`: two shown, three held.
        let shown = cursor.received(tags(&["a", "b", "c", "d", "e"]), None);
        assert_eq!(shown, tags(&["a", "b"]));
        assert!(cursor.more());
        assert_eq!(cursor.next(), NextTags::Held(tags(&["c", "d"])));
        assert!(cursor.more());
        assert_eq!(cursor.next(), NextTags::Held(tags(&["e"])));
        assert!(!cursor.more());
        assert_eq!(cursor.next(), NextTags::End);
    }

    #[test]
    fn a_registry_that_honours_n_is_followed_by_its_link() {
        let mut cursor = TagCursor::new(2);
        assert_eq!(cursor.next(), NextTags::Ask(None));
        let link = Cursor::Last("b".into());
        assert_eq!(
            cursor.received(tags(&["a", "b"]), Some(link.clone())),
            tags(&["a", "b"])
        );
        assert!(cursor.more());
        assert_eq!(cursor.next(), NextTags::Ask(Some(link)));
        // A registry that sends more than asked and a Link: held tags go first.
        let link = Cursor::Last("e".into());
        cursor.received(tags(&["c", "d", "e"]), Some(link.clone()));
        assert_eq!(cursor.next(), NextTags::Held(tags(&["e"])));
        assert!(cursor.more());
        assert_eq!(cursor.next(), NextTags::Ask(Some(link)));
        cursor.received(Vec::new(), None);
        assert!(!cursor.more());
    }

    #[test]
    fn quoted_text_is_one_short_line() {
        assert_eq!(quoted(b"refused:\nloopback\r\n"), "refused: loopback");
        assert_eq!(quoted(&[b'x'; 500]).len(), MAX_QUOTED);
    }
}
