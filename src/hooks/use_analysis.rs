//! One analysis at a time: starting a layer worker on an archive or a registry reference,
//! feeding its events to the page's reducer, and stopping it.
//!
//! Registry logins live here, in memory (and in `sessionStorage` only when the user ticks
//! "remember in this tab"); they go to the worker in its job message, never into a URL or a
//! log. How each registry was reached (directly or through the proxy) is remembered for the
//! tab the same way, so later opens skip the failed direct attempt.
//!
//! The URL fragment follows the state: whenever what is shown or how it is looked at changes,
//! the fragment is set to its [`Route`] (a new history entry, so back and forward move between
//! views), and a fragment the user changes (back, forward, a pasted link) is applied: only the
//! view when it names the image already shown, else the image it names is opened. Dropped
//! archives are remembered for the tab by name and digest, so back and forward between them
//! need no second drop; a link to one in a fresh tab asks for the file.
//!
//! The proxy URL from the settings is kept for the tab in `sessionStorage` too.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ops::Deref;
use std::rc::Rc;

use layerscope_core::model::reference::Reference;
use layerscope_web::pool;
use layerscope_web::protocol::{
    Job as Work, Login, RegistryPull, Request, Route as RegistryRoute, TreeAnswer, TreeRequest,
    WorkerEvent,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, FileList, Response};
use yew::prelude::*;

use crate::fragment::{Route, ViewState};
use crate::jobs::Job;
use crate::state::{Action, AwaitedArchive, OpenView, Origin, PageState, Settings};

/// `sessionStorage` key prefixes: a remembered login, a registry's route; and the key of the
/// proxy URL from the settings.
const LOGIN_KEY: &str = "layerscope.login.";
const ROUTE_KEY: &str = "layerscope.route.";
const PROXY_KEY: &str = "layerscope.proxy";

/// What the login form hands back.
#[derive(Clone, PartialEq)]
pub struct LoginSubmit {
    pub registry: String,
    pub username: String,
    pub secret: String,
    pub remember: bool,
}

/// The demo archive, relative to the page so it loads under any sub-path.
const DEMO_URL: &str = "./demo/layerscope-demo.tar";
/// How the demo is named in messages.
const DEMO_NAME: &str = "the demo image";
/// Dropped archives remembered for back and forward (each is a `File` handle, not a copy).
const REMEMBERED_ARCHIVES: usize = 8;

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
    /// Opens what the reference box names (and puts it in the URL fragment).
    pub open_reference: Callback<String>,
    /// Opens the shown reference for another platform (`linux/arm64`), on the Files tab.
    pub pick_platform: Callback<String>,
    /// Shows another platform of the shown reference in the same tab (the header's picker).
    pub switch_platform: Callback<String>,
    /// Keeps a login for a registry and opens the reference again.
    pub login: Callback<LoginSubmit>,
    /// Closes the login form.
    pub dismiss_login: Callback<()>,
    /// Opens another tag of the shown repository.
    pub pick_tag: Callback<String>,
    /// Asks the registry for the next page of tags.
    pub more_tags: Callback<()>,
    /// Shows the image another way (tab, layer, path...); the URL follows.
    pub show_view: Callback<ViewState>,
    /// Asks the worker for the whole report and downloads it under the given file name.
    pub export: Callback<String>,
    /// Names the shown image by its digest (`name@sha256:...`) instead of its tag.
    pub pin: Callback<String>,
    /// Asks the worker about the shown image's trees; the answer goes to the tree listener.
    pub ask_tree: Callback<TreeRequest>,
    /// Sets (or with `None` removes) the one listener of the worker's tree answers: the
    /// Files tab's tree, which keeps its rows to itself rather than in the page's state.
    pub listen_tree: Callback<Option<Callback<Box<TreeAnswer>>>>,
    /// Sets the proxy URL of the settings (`None`: the page's own `./proxy/`).
    pub set_proxy: Callback<Option<String>>,
    /// Forgets the login for a registry, in memory and in `sessionStorage`.
    pub forget_login: Callback<String>,
}

/// The worker's progress ticks of one job, held until the next animation frame: a pool of
/// workers posts many a frame, and each applied on its own would draw the page again. The
/// latest tick of each layer is kept (in the order they came), so every streaming layer's
/// bytes are still shown, and they are applied together, before any other event of the
/// job, so the order of events is the worker's.
#[derive(Clone)]
struct ProgressBatch {
    dispatcher: UseReducerDispatcher<PageState>,
    job: u64,
    held: Rc<RefCell<HeldProgress>>,
}

/// Held ticks, at most one per layer (and one without a layer).
#[derive(Default)]
struct HeldProgress {
    ticks: Vec<layerscope_core::archive::Progress>,
    frame_asked: bool,
}

impl ProgressBatch {
    fn new(dispatcher: UseReducerDispatcher<PageState>, job: u64) -> ProgressBatch {
        ProgressBatch {
            dispatcher,
            job,
            held: Rc::default(),
        }
    }

    /// Keeps `progress` for the next frame, in place of its layer's previous tick.
    fn hold(&self, progress: layerscope_core::archive::Progress) {
        let ask_frame = {
            let mut held = self.held.borrow_mut();
            let layer = progress.layer.map(|(index, _)| index);
            held.ticks
                .retain(|tick| tick.layer.map(|(index, _)| index) != layer);
            held.ticks.push(progress);
            !std::mem::replace(&mut held.frame_asked, true)
        };
        if ask_frame {
            let batch = self.clone();
            let frame = Closure::once_into_js(move || batch.on_frame());
            let asked = web_sys::window().map(|window| {
                window
                    .request_animation_frame(frame.unchecked_ref())
                    .is_ok()
            });
            if asked != Some(true) {
                // No frames to wait for: applied now.
                self.on_frame();
            }
        }
    }

    /// The frame asked for has come: the next tick asks for another.
    fn on_frame(&self) {
        self.held.borrow_mut().frame_asked = false;
        self.flush();
    }

    /// Applies the held ticks, oldest first.
    fn flush(&self) {
        let ticks = std::mem::take(&mut self.held.borrow_mut().ticks);
        for progress in ticks {
            self.dispatcher.dispatch(Action::Worker {
                job: self.job,
                event: WorkerEvent::Progress(progress),
            });
        }
    }
}

/// The page's state, fed by the running worker, with the controls that start and stop work.
#[hook]
pub fn use_analysis() -> UseAnalysisHandle {
    let state = use_reducer(PageState::default);
    let dispatcher = state.dispatcher();
    let runner = use_memo((), move |()| Rc::new(JobRunner::new(dispatcher)));
    let controls = use_memo((), {
        let runner = (*runner).clone();
        move |()| Controls::new(runner)
    });
    // The URL follows what is shown.
    use_effect_with(state.route(), {
        let runner = (*runner).clone();
        move |route: &Option<Route>| {
            if let Some(route) = route {
                runner.sync_route(route);
            }
        }
    });
    // The image an awaited link names is further down the dropped archive: open that one.
    use_effect_with((state.job, state.reselect), {
        let runner = (*runner).clone();
        move |(_, reselect): &(u64, Option<usize>)| {
            if let Some(position) = *reselect {
                runner.reopen(position, OpenView::Fresh);
            }
        }
    });
    // The fragment names an image: open it now and whenever it changes.
    use_effect_with((), {
        let runner = (*runner).clone();
        move |()| {
            runner.publish_settings();
            runner.open_fragment();
            // The first analysis's worker loads now, unless the fragment started one.
            crate::jobs::prepare_spare();
            let on_change = Closure::<dyn FnMut(web_sys::HashChangeEvent)>::new(
                move |_: web_sys::HashChangeEvent| runner.open_fragment(),
            );
            let window = web_sys::window();
            if let Some(window) = &window {
                window.set_onhashchange(Some(on_change.as_ref().unchecked_ref()));
            }
            move || {
                if let Some(window) = window {
                    window.set_onhashchange(None);
                }
                drop(on_change);
            }
        }
    });
    UseAnalysisHandle { state, controls }
}

impl Controls {
    fn new(runner: Rc<JobRunner>) -> Controls {
        let open_files = {
            let runner = runner.clone();
            Callback::from(move |files: FileList| {
                if let Some(file) = files.get(0) {
                    let name = file.name();
                    runner.start(
                        Source::Archive {
                            blob: file.into(),
                            name: name.clone(),
                        },
                        0,
                        Origin::Archive { name },
                        OpenView::Fresh,
                    );
                }
            })
        };
        let open_demo = {
            let runner = runner.clone();
            Callback::from(move |()| JobRunner::open_demo(&runner, OpenView::Fresh))
        };
        let pick_image = {
            let runner = runner.clone();
            Callback::from(move |index: usize| runner.reopen(index, OpenView::KeepTab))
        };
        let cancel = {
            let runner = runner.clone();
            Callback::from(move |()| runner.cancel())
        };
        let open_reference = {
            let runner = runner.clone();
            Callback::from(move |reference: String| {
                let reference = reference.trim().to_string();
                if Reference::parse(&reference).is_err() {
                    runner
                        .dispatcher
                        .dispatch(Action::ReferenceSubmitted { reference });
                    return;
                }
                runner.open_registry(reference, None, OpenView::Fresh);
            })
        };
        let pick_platform = {
            let runner = runner.clone();
            Callback::from(move |platform: String| {
                let reference = match runner.current.borrow().as_ref().map(|c| &c.source) {
                    Some(Source::Registry { reference, .. }) => reference.clone(),
                    _ => return,
                };
                runner.open_registry(reference, Some(platform), OpenView::Fresh);
            })
        };
        let switch_platform = {
            let runner = runner.clone();
            Callback::from(move |platform: String| {
                let reference = match runner.current.borrow().as_ref().map(|c| &c.source) {
                    Some(Source::Registry { reference, .. }) => reference.clone(),
                    _ => return,
                };
                runner.open_registry(reference, Some(platform), OpenView::KeepTab);
            })
        };
        let pick_tag = {
            let runner = runner.clone();
            Callback::from(move |tag: String| {
                let current = match runner.current.borrow().as_ref().map(|c| &c.source) {
                    Some(Source::Registry { reference, .. }) => reference.clone(),
                    _ => return,
                };
                let Ok(reference) = Reference::parse(&current).and_then(|r| r.with_tag(&tag))
                else {
                    return;
                };
                // A tag opens like a link to it: on the Files tab.
                runner.open_registry(reference.familiar(), None, OpenView::Fresh);
            })
        };
        let more_tags = {
            let runner = runner.clone();
            Callback::from(move |()| {
                if let Some(Current {
                    worker: Some(worker),
                    ..
                }) = runner.current.borrow().as_ref()
                {
                    worker.more_tags();
                }
            })
        };
        let login = {
            let runner = runner.clone();
            Callback::from(move |submit: LoginSubmit| runner.log_in(submit))
        };
        let dismiss_login = {
            let runner = runner.clone();
            Callback::from(move |()| runner.dispatcher.dispatch(Action::LoginDismissed))
        };
        let show_view = {
            let runner = runner.clone();
            Callback::from(move |view: ViewState| runner.dispatcher.dispatch(Action::View(view)))
        };
        let export = {
            let runner = runner.clone();
            Callback::from(move |file_name: String| runner.export(file_name))
        };
        let ask_tree = {
            let runner = runner.clone();
            Callback::from(move |request: TreeRequest| runner.ask_tree(request))
        };
        let listen_tree = {
            let runner = runner.clone();
            Callback::from(move |listener: Option<Callback<Box<TreeAnswer>>>| {
                *runner.tree_listener.borrow_mut() = listener;
            })
        };
        let set_proxy = {
            let runner = runner.clone();
            Callback::from(move |proxy: Option<String>| runner.set_proxy(proxy))
        };
        let forget_login = {
            let runner = runner.clone();
            Callback::from(move |registry: String| runner.forget_login(&registry))
        };
        let pin = Callback::from(move |reference: String| runner.pin(reference));
        Controls {
            ask_tree,
            listen_tree,
            open_files,
            open_demo,
            pick_image,
            cancel,
            open_reference,
            pick_platform,
            switch_platform,
            login,
            dismiss_login,
            pick_tag,
            more_tags,
            show_view,
            export,
            pin,
            set_proxy,
            forget_login,
        }
    }
}

/// Starts, restarts and stops the workers behind the controls.
struct JobRunner {
    dispatcher: UseReducerDispatcher<PageState>,
    /// Number of the latest analysis started: the reducer ignores events of any other.
    last_job: Cell<u64>,
    current: RefCell<Option<Current>>,
    /// The fragment last read or set, as `location.hash` gives it.
    last_hash: RefCell<String>,
    /// The route of what the page shows (the state's, kept here for the `hashchange` handler).
    shown: RefCell<Route>,
    /// Dropped archives of this tab, newest first, by the name and digest their links give.
    archives: RefCell<Vec<RememberedArchive>>,
    /// The file name of the report asked for, and the object URL of the last one made.
    export_name: Rc<RefCell<String>>,
    export_url: Rc<RefCell<Option<String>>>,
    /// How each registry API host was reached in this tab.
    routes: Rc<RefCell<HashMap<String, RegistryRoute>>>,
    /// Logins by registry (as references name it), in memory.
    logins: RefCell<HashMap<String, Login>>,
    /// Where the worker's tree answers go (see [`Controls::listen_tree`]).
    tree_listener: Rc<RefCell<Option<Callback<Box<TreeAnswer>>>>>,
    /// The proxy URL from the settings; the page's own `./proxy/` when `None`.
    proxy: RefCell<Option<String>>,
}

/// What is being shown, kept so another image or platform of it can be picked.
struct Current {
    source: Source,
    origin: Origin,
    /// Position of the shown image in its archive.
    select: usize,
    /// The running worker, if any: dropping it stops the worker.
    worker: Option<Job>,
}

/// A dropped archive, for back and forward.
#[derive(Clone)]
struct RememberedArchive {
    blob: Blob,
    name: String,
    digest: Option<String>,
    select: usize,
    origin: Origin,
}

#[derive(Clone)]
enum Source {
    Archive { blob: Blob, name: String },
    Registry { reference: String, platform: String },
}

impl JobRunner {
    fn new(dispatcher: UseReducerDispatcher<PageState>) -> JobRunner {
        JobRunner {
            dispatcher,
            last_job: Cell::new(0),
            current: RefCell::new(None),
            last_hash: RefCell::new(String::new()),
            shown: RefCell::new(Route::Home),
            archives: RefCell::new(Vec::new()),
            export_name: Rc::default(),
            export_url: Rc::default(),
            routes: Rc::new(RefCell::new(HashMap::new())),
            logins: RefCell::new(remembered_logins()),
            proxy: RefCell::new(load(PROXY_KEY).filter(|proxy| !proxy.is_empty())),
            tree_listener: Rc::default(),
        }
    }

    /// What the settings panel shows, handed to the reducer.
    fn publish_settings(&self) {
        let mut logins: Vec<(String, String)> = self
            .logins
            .borrow()
            .iter()
            .map(|(registry, login)| (registry.clone(), login.username.clone()))
            .collect();
        logins.sort();
        self.dispatcher.dispatch(Action::Settings(Settings {
            proxy: self.proxy.borrow().clone(),
            logins,
        }));
    }

    fn set_proxy(&self, proxy: Option<String>) {
        store(PROXY_KEY, proxy.as_deref());
        *self.proxy.borrow_mut() = proxy;
        self.publish_settings();
    }

    fn forget_login(&self, registry: &str) {
        self.logins.borrow_mut().remove(registry);
        store(&format!("{LOGIN_KEY}{registry}"), None);
        self.publish_settings();
    }

    /// Posts a tree question to the worker of the shown image; when there is none, the
    /// listener hears why at once.
    fn ask_tree(&self, request: TreeRequest) {
        let asked = match self.current.borrow().as_ref() {
            Some(Current {
                worker: Some(worker),
                ..
            }) => worker.ask(&request),
            _ => Err("the worker that read this image has stopped; open the image again to browse its files".into()),
        };
        if let Err(message) = asked {
            let listener = self.tree_listener.borrow().clone();
            if let Some(listener) = listener {
                listener.emit(Box::new(TreeAnswer::Failed {
                    id: request.id(),
                    message,
                }));
            }
        }
    }

    /// Downloads the demo image and analyses it.
    fn open_demo(runner: &Rc<JobRunner>, view: OpenView) {
        let runner = runner.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match fetch_blob(DEMO_URL).await {
                Ok(blob) => runner.start(
                    Source::Archive {
                        blob,
                        name: DEMO_NAME.to_string(),
                    },
                    0,
                    Origin::Demo,
                    view,
                ),
                Err(message) => runner.dispatcher.dispatch(Action::LoadFailed { message }),
            }
        });
    }

    /// Pulls `reference` from its registry, for `platform` (the browser's own when `None`).
    fn open_registry(&self, reference: String, platform: Option<String>, view: OpenView) {
        let origin = Origin::Registry {
            reference: reference.clone(),
            platform: platform.clone(),
        };
        let source = Source::Registry {
            reference,
            platform: platform.unwrap_or_else(default_platform),
        };
        self.start(source, 0, origin, view);
    }

    fn start(&self, source: Source, select: usize, origin: Origin, view: OpenView) {
        let job = self.last_job.get() + 1;
        self.last_job.set(job);
        // Stop the previous worker before starting the next one.
        self.current.borrow_mut().take();
        let (work, name, from_registry, with_login, repository) = match &source {
            Source::Archive { blob, name } => (
                Work::Archive(Request {
                    blob: blob.clone(),
                    select,
                    scan_workers: scan_workers(),
                }),
                name.clone(),
                false,
                false,
                None,
            ),
            Source::Registry {
                reference,
                platform,
            } => {
                let parsed = Reference::parse(reference).ok();
                let domain = parsed
                    .as_ref()
                    .map(|r| r.domain().to_string())
                    .unwrap_or_default();
                let api_host = parsed
                    .as_ref()
                    .map(|r| r.registry_api_host().to_string())
                    .unwrap_or_default();
                let credentials = self.login_for(&domain);
                let with_login = credentials.is_some();
                (
                    Work::Registry(RegistryPull {
                        reference: reference.clone(),
                        platform: platform.clone(),
                        credentials,
                        route: self.route_for(&api_host),
                        tag_page_size: tag_page_size(),
                        proxy: self.proxy.borrow().clone(),
                        scan_workers: Some(scan_workers()),
                    }),
                    reference.clone(),
                    true,
                    with_login,
                    parsed.as_ref().map(|r| r.name()),
                )
            }
        };
        self.dispatcher.dispatch(Action::Started {
            job,
            source_name: name,
            selected: select,
            from_registry,
            with_login,
            repository,
            origin: origin.clone(),
            view,
        });
        let batch = ProgressBatch::new(self.dispatcher.clone(), job);
        let on_event = {
            let dispatcher = self.dispatcher.clone();
            let routes = self.routes.clone();
            let export_name = self.export_name.clone();
            let export_url = self.export_url.clone();
            let tree_listener = self.tree_listener.clone();
            Callback::from(move |event: WorkerEvent| {
                let event = match event {
                    WorkerEvent::Progress(progress) => return batch.hold(progress),
                    // Whatever follows a progress tick is applied after it, as it came.
                    other => {
                        batch.flush();
                        other
                    }
                };
                if let WorkerEvent::Tree { answer } = event {
                    let listener = tree_listener.borrow().clone();
                    if let Some(listener) = listener {
                        listener.emit(answer);
                    }
                    return;
                }
                if let WorkerEvent::Routed {
                    registry, route, ..
                } = &event
                {
                    routes.borrow_mut().insert(registry.clone(), *route);
                    let text = serde_json::to_string(route).unwrap_or_default();
                    store(&format!("{ROUTE_KEY}{registry}"), Some(&text));
                }
                if let WorkerEvent::Export { json } = &event {
                    let file_name = export_name.borrow().clone();
                    match download(json, &file_name) {
                        Ok(url) => {
                            if let Some(old) = export_url.borrow_mut().replace(url.clone()) {
                                let _ = web_sys::Url::revoke_object_url(&old);
                            }
                            dispatcher.dispatch(Action::Exported {
                                url,
                                file_name,
                                bytes: json.len(),
                            });
                        }
                        Err(message) => dispatcher.dispatch(Action::Worker {
                            job,
                            event: WorkerEvent::ExportRefused { message },
                        }),
                    }
                    return;
                }
                dispatcher.dispatch(Action::Worker { job, event })
            })
        };
        let on_failure = {
            let dispatcher = self.dispatcher.clone();
            Callback::from(move |message| dispatcher.dispatch(Action::Failed { job, message }))
        };
        let worker = match Job::start(work, on_event, on_failure) {
            Ok(worker) => Some(worker),
            Err(message) => {
                self.dispatcher.dispatch(Action::Failed { job, message });
                None
            }
        };
        *self.current.borrow_mut() = Some(Current {
            source,
            origin,
            select,
            worker,
        });
    }

    /// Analyses image `select` of what is shown again (another image of the archive, or the
    /// same after a login).
    fn reopen(&self, select: usize, view: OpenView) {
        let shown = self
            .current
            .borrow()
            .as_ref()
            .map(|current| (current.source.clone(), current.origin.clone()));
        if let Some((source, origin)) = shown {
            self.start(source, select, origin, view);
        }
    }

    /// Stops the running worker and forgets what is shown.
    fn stop(&self) {
        self.current.borrow_mut().take();
    }

    /// Puts `route`, what the state shows, in the fragment unless it is there already.
    /// Nothing shown needs no fragment: the page starts that way (before the fragment is
    /// read), and the home route is only ever reached from the fragment itself.
    fn sync_route(&self, route: &Route) {
        if *route == Route::Home {
            return;
        }
        *self.shown.borrow_mut() = route.clone();
        if let Route::Archive {
            name,
            digest: Some(digest),
            ..
        } = route
        {
            self.remember_archive(name, digest);
        }
        let Some(window) = web_sys::window() else {
            return;
        };
        let location = window.location();
        let raw = location.hash().unwrap_or_default();
        let hash = route.to_hash();
        if Route::parse(&raw).to_hash() == hash {
            return;
        }
        let _ = location.set_hash(&hash);
        // As the browser writes it back (it may encode more), so its `hashchange` is known.
        *self.last_hash.borrow_mut() = location.hash().unwrap_or(hash);
    }

    fn remember_archive(&self, name: &str, digest: &str) {
        let current = self.current.borrow();
        let Some(Current {
            source: Source::Archive { blob, .. },
            origin: origin @ Origin::Archive { .. },
            select,
            ..
        }) = current.as_ref()
        else {
            return;
        };
        let mut archives = self.archives.borrow_mut();
        archives.retain(|a| !(a.name == name && a.digest.as_deref() == Some(digest)));
        archives.insert(
            0,
            RememberedArchive {
                blob: blob.clone(),
                name: name.to_string(),
                digest: Some(digest.to_string()),
                select: *select,
                origin: origin.clone(),
            },
        );
        archives.truncate(REMEMBERED_ARCHIVES);
    }

    /// Applies a fragment the user changed (back, forward, a pasted link): only the view when
    /// it names what is shown, else it opens what it names.
    fn open_fragment(self: &Rc<Self>) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let raw = window.location().hash().unwrap_or_default();
        if *self.last_hash.borrow() == raw {
            return;
        }
        *self.last_hash.borrow_mut() = raw.clone();
        let route = Route::parse(&raw);
        if route.same_image(&self.shown.borrow()) {
            *self.shown.borrow_mut() = route.clone();
            self.dispatcher.dispatch(Action::View(route.view()));
            return;
        }
        *self.shown.borrow_mut() = route.clone();
        match route {
            Route::Home => {
                self.stop();
                self.dispatcher.dispatch(Action::Home);
            }
            Route::Image {
                reference,
                platform,
                view,
            } => self.open_registry(reference, platform, OpenView::Restore(view)),
            Route::Demo { view } => JobRunner::open_demo(self, OpenView::Restore(view)),
            Route::Archive { name, digest, view } => {
                let remembered = self
                    .archives
                    .borrow()
                    .iter()
                    .find(|a| a.name == name && a.digest == digest)
                    .cloned();
                match remembered {
                    Some(archive) => self.start(
                        Source::Archive {
                            blob: archive.blob,
                            name: archive.name,
                        },
                        archive.select,
                        archive.origin,
                        OpenView::Restore(view),
                    ),
                    None => {
                        self.stop();
                        self.dispatcher
                            .dispatch(Action::AwaitArchive(AwaitedArchive { name, digest, view }));
                    }
                }
            }
        }
    }

    /// Asks the worker for the whole report; it arrives as an `Export` event.
    fn export(&self, file_name: String) {
        *self.export_name.borrow_mut() = file_name;
        let asked = match self.current.borrow().as_ref() {
            Some(Current {
                worker: Some(worker),
                ..
            }) => worker.export(),
            _ => Err("the worker that read this image has stopped; open the image again to download its report".into()),
        };
        match asked {
            Ok(()) => self.dispatcher.dispatch(Action::ExportRequested),
            Err(message) => self.dispatcher.dispatch(Action::Worker {
                job: self.last_job.get(),
                event: WorkerEvent::ExportRefused { message },
            }),
        }
    }

    /// Names the shown registry image by `reference` (its digest) from now on.
    fn pin(&self, reference: String) {
        if let Some(Current {
            source: Source::Registry {
                reference: shown, ..
            },
            origin: Origin::Registry {
                reference: named, ..
            },
            ..
        }) = self.current.borrow_mut().as_mut()
        {
            *shown = reference.clone();
            *named = reference.clone();
        }
        self.dispatcher.dispatch(Action::Pinned { reference });
    }

    fn log_in(&self, submit: LoginSubmit) {
        let login = Login {
            username: submit.username,
            secret: submit.secret,
        };
        let key = format!("{LOGIN_KEY}{}", submit.registry);
        if submit.remember {
            store(&key, serde_json::to_string(&login).ok().as_deref());
        } else {
            store(&key, None);
        }
        self.logins.borrow_mut().insert(submit.registry, login);
        self.publish_settings();
        self.reopen(0, OpenView::Keep);
    }

    fn login_for(&self, registry: &str) -> Option<Login> {
        if let Some(login) = self.logins.borrow().get(registry) {
            return Some(login.clone());
        }
        let login: Login = serde_json::from_str(&load(&format!("{LOGIN_KEY}{registry}"))?).ok()?;
        self.logins
            .borrow_mut()
            .insert(registry.to_string(), login.clone());
        Some(login)
    }

    fn route_for(&self, api_host: &str) -> Option<RegistryRoute> {
        if let Some(route) = self.routes.borrow().get(api_host) {
            return Some(*route);
        }
        serde_json::from_str(&load(&format!("{ROUTE_KEY}{api_host}"))?).ok()
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

/// Makes `json` a Blob and has the browser download it as `file_name`; returns its object
/// URL (kept, so the page can offer the same file again).
fn download(json: &str, file_name: &str) -> Result<String, String> {
    let parts = js_sys::Array::of1(&JsValue::from_str(json));
    crate::download::save(&parts, "application/json", file_name)
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

/// The platform to show first: the browser's own when it says, else linux/amd64.
/// Tags per page when the page's query asks for it (`?tags-per-page=N`), else the worker's.
fn tag_page_size() -> Option<u32> {
    let search = web_sys::window()?.location().search().ok()?;
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("tags-per-page="))
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
}

/// Scan workers for an archive's layers: the page query's `?scan-workers=N` (0 scans them in
/// the layer worker, one after the other), else min(`navigator.hardwareConcurrency`, 4).
fn scan_workers() -> usize {
    let window = web_sys::window();
    let search = window
        .as_ref()
        .and_then(|window| window.location().search().ok())
        .unwrap_or_default();
    let cores = window.map_or(1.0, |window| window.navigator().hardware_concurrency());
    pool::pool_size(pool::asked_pool_size(&search), cores as usize)
}

fn default_platform() -> String {
    let agent = web_sys::window()
        .and_then(|window| window.navigator().user_agent().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if agent.contains("aarch64") || agent.contains("arm64") {
        "linux/arm64".to_string()
    } else {
        "linux/amd64".to_string()
    }
}

/// The logins a previous page of this tab kept in `sessionStorage` ("remember in this tab").
fn remembered_logins() -> HashMap<String, Login> {
    let mut logins = HashMap::new();
    let Some(storage) = session_storage() else {
        return logins;
    };
    let count = storage.length().unwrap_or(0);
    for index in 0..count {
        let Some(key) = storage.key(index).ok().flatten() else {
            continue;
        };
        let Some(registry) = key.strip_prefix(LOGIN_KEY) else {
            continue;
        };
        let login = load(&key).and_then(|text| serde_json::from_str::<Login>(&text).ok());
        if let Some(login) = login {
            logins.insert(registry.to_string(), login);
        }
    }
    logins
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

fn load(key: &str) -> Option<String> {
    session_storage()?.get_item(key).ok()?
}

/// Sets (or with `None` removes) a `sessionStorage` item; storage may be off, which is fine.
fn store(key: &str, value: Option<&str>) {
    if let Some(storage) = session_storage() {
        let _ = match value {
            Some(value) => storage.set_item(key, value),
            None => storage.remove_item(key),
        };
    }
}
