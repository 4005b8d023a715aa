//! The page's state: one reducer, fed by the user's actions and the worker's events.

use std::rc::Rc;

use layerscope_core::archive::Progress;
use layerscope_core::model::reference::Reference;
use layerscope_core::present::report::{ImageListing, ImageReport, LayerReport, Verification};
use layerscope_core::registry::RateLimit;
use layerscope_web::protocol::{Route as RegistryRoute, WorkerEvent};
use yew::Reducible;

use crate::fragment::{Route, Tab, ViewState};

/// Everything the page shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageState {
    /// Number of the current analysis; events of older ones are ignored.
    pub job: u64,
    /// Name of the archive being shown (a file name, or the demo's).
    pub source_name: Option<String>,
    /// How far the reading of the shown image got.
    pub reading: Reading,
    /// Every image in the archive.
    pub images: Vec<ImageListing>,
    /// Position of the shown image in `images`.
    pub selected: usize,
    /// The report as far as it is known (overview, then layer by layer, then complete).
    pub report: Option<Report>,
    /// The latest progress while busy.
    pub progress: Option<Progress>,
    /// The layers being scanned now, with their bytes read and stored size (several at once
    /// when a pool of workers scans them).
    pub streaming: Vec<(usize, (u64, u64))>,
    /// The tree is done and the layers' digests are still being checked beside it (they
    /// arrive as `WorkerEvent::LayerVerified`).
    pub verifying: bool,
    /// What went wrong, in words, with what to try next.
    pub error: Option<String>,
    /// A note for the reference box.
    pub reference_note: Option<String>,
    /// True when the source is a registry reference (not an archive).
    pub from_registry: bool,
    /// The platforms of a registry index, with the one shown at `platform_selected`.
    pub platforms: Vec<ImageListing>,
    pub platform_selected: usize,
    /// The registry that asked for a login, with what it said.
    pub login: Option<LoginPrompt>,
    /// Whether the running pull was given a login.
    pub with_login: bool,
    /// The repository's tags (registry images), and whether the registry has more.
    pub tags: Vec<String>,
    pub more_tags: bool,
    /// Manifest digests of listed tags, as they resolve.
    pub tag_digests: std::collections::BTreeMap<String, String>,
    /// The repository being shown (`domain/path`), for a registry image.
    pub repository: Option<String>,
    /// Where the shown image comes from, as the URL names it.
    pub origin: Origin,
    /// How the image is looked at: tab, layer, path, tree settings.
    pub view: ViewState,
    /// An archive link opened without its file: the page asks for the file and restores
    /// this view once an image with the link's digest is shown.
    pub awaiting: Option<AwaitedArchive>,
    /// Another image of the dropped archive is the one the awaited link names: the page
    /// opens it (position in the archive).
    pub reselect: Option<usize>,
    /// "Download report".
    pub export: ExportState,
    /// The registry's pull allowance as it stated it (Docker Hub), for a registry image.
    pub allowance: Option<RateLimit>,
    /// How the registry is reached, when it is not directly: which proxy, in words.
    pub route_note: Option<String>,
    /// What the settings panel shows; it outlives every analysis.
    pub settings: Settings,
}

/// How far the reading of the shown image got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reading {
    /// Nothing was opened (the home page, or an archive link waiting for its file).
    #[default]
    Idle,
    /// A worker is reading.
    Busy,
    /// Every layer was read.
    Done,
    /// The open failed; [`PageState::error`] says why.
    Failed,
    /// The user stopped it; what was read so far stays.
    Cancelled,
    /// The registry asked for a login (the login form shows).
    NeedsLogin,
}

/// What the Files tab's tree pane can show, and why not the tree when it cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeStatus {
    /// Every layer is read and the worker holds the stacked trees.
    Ready,
    /// Layers are still being read.
    Reading,
    /// The open failed before every layer was read; the error box says why.
    Failed,
    /// The user cancelled the open before every layer was read.
    Cancelled(SourceKind),
    /// The registry asked for a login before every layer was read.
    NeedsLogin,
}

/// Where the shown image is read from, for what a message tells the user to do again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A registry reference typed or linked.
    Registry,
    /// A dropped or chosen archive (or the demo).
    Archive,
}

/// What the settings panel shows: the page's choices that outlive an analysis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The proxy URL set in the settings; the page's own `./proxy/` when `None`.
    pub proxy: Option<String>,
    /// Registries this tab holds a login for, with the user name (never the secret).
    pub logins: Vec<(String, String)>,
}

/// Where the shown image comes from.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Origin {
    /// Nothing is shown.
    #[default]
    Nothing,
    /// The demo image the page ships.
    Demo,
    /// A dropped or chosen file.
    Archive { name: String },
    /// A registry reference, with the platform the link names, if any.
    Registry {
        reference: String,
        platform: Option<String>,
    },
}

/// An archive link waiting for its file.
#[derive(Clone, Debug, PartialEq)]
pub struct AwaitedArchive {
    /// The file name the link gives.
    pub name: String,
    /// The image's digest the link gives.
    pub digest: Option<String>,
    /// The view to restore.
    pub view: ViewState,
}

impl AwaitedArchive {
    /// True for an image of file `name` with `digest` (a link without a digest matches by
    /// name).
    fn matches(&self, name: &str, digest: Option<&str>) -> bool {
        match &self.digest {
            Some(wanted) => Some(wanted.as_str()) == digest,
            None => self.name == name,
        }
    }
}

/// Where "Download report" is.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ExportState {
    /// Nothing asked.
    #[default]
    Idle,
    /// The worker is writing the document.
    Preparing,
    /// The document is a Blob at `url` (an object URL), downloaded as `file_name`.
    Ready {
        url: String,
        file_name: String,
        bytes: usize,
    },
    /// The worker could not give it.
    Failed(String),
}

/// The view a new analysis starts with.
#[derive(Clone, Debug, PartialEq)]
pub enum OpenView {
    /// The Files tab, nothing selected.
    Fresh,
    /// The tab shown before; layer and path reset (another image or platform).
    KeepTab,
    /// The whole view shown before (the same image again, after a login).
    Keep,
    /// The view a link names.
    Restore(ViewState),
}

/// A registry's request for a login.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginPrompt {
    /// The registry host, as the reference names it.
    pub registry: String,
    /// True when a login was sent and refused.
    pub refused: bool,
    /// The registry's answer, in words.
    pub detail: String,
}

/// A report as the page holds it: the layers apart from the rest, each in its own `Rc`, so
/// that a scanned layer replaces one row and every other row stays shared with the state before.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Everything but the layers: image row, history, images, verification, warnings.
    /// Its own `layers` is always empty; read [`Report::layers`].
    pub overview: Rc<ImageReport>,
    /// One row per layer, bottom (index 0) to top.
    pub layers: Vec<Rc<LayerReport>>,
    /// The digests checked so far. The overview's own `verification` and
    /// `unverified_layers` are always empty; read this.
    pub checks: Checks,
}

impl From<ImageReport> for Report {
    fn from(mut report: ImageReport) -> Report {
        let layers = std::mem::take(&mut report.layers)
            .into_iter()
            .map(Rc::new)
            .collect();
        let mut checks = Checks {
            unverified_layers: std::mem::take(&mut report.unverified_layers).len(),
            ..Checks::default()
        };
        checks.add(std::mem::take(&mut report.verification));
        Report {
            overview: Rc::new(report),
            layers,
            checks,
        }
    }
}

/// The digests checked so far, as the verification badge shows them: a count of the rows
/// that matched and the rows that did not. Kept as a tally, not as every row, so that a
/// layer whose digests come in adds its own rows and copies nothing else (n layers checked
/// one after another would otherwise copy n² rows).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checks {
    /// Rows whose digest matched what the documents promise.
    pub matched: usize,
    /// Rows whose digest did not, in the order they came.
    pub mismatches: Vec<Verification>,
    /// Layers whose digests are not in yet (a tree can be complete before them).
    pub unverified_layers: usize,
}

impl Checks {
    /// Counts `rows` in.
    pub fn add(&mut self, rows: Vec<Verification>) {
        for row in rows {
            if row.ok {
                self.matched += 1;
            } else {
                self.mismatches.push(row);
            }
        }
    }

    /// Every row so far, matched or not.
    pub fn total(&self) -> usize {
        self.matched + self.mismatches.len()
    }
}

/// What can happen to the page.
pub enum Action {
    /// A new analysis started; everything shown before is replaced.
    Started {
        job: u64,
        source_name: String,
        selected: usize,
        from_registry: bool,
        /// Whether a login was given for this pull (a 401 then means it was refused).
        with_login: bool,
        /// The repository (`domain/path`) of a registry reference.
        repository: Option<String>,
        /// Where the image comes from.
        origin: Origin,
        /// The view to start with.
        view: OpenView,
    },
    /// The user (or the back button) changed the view; the image stays.
    View(ViewState),
    /// An archive link was opened without its file: nothing is shown, the page asks for it.
    AwaitArchive(AwaitedArchive),
    /// The home route: nothing is shown.
    Home,
    /// The shown tag was pinned: the same image, now named by `reference` (`name@digest`).
    Pinned { reference: String },
    /// "Download report" was pressed; the worker is asked.
    ExportRequested,
    /// The worker's document is a Blob at `url`.
    Exported {
        url: String,
        file_name: String,
        bytes: usize,
    },
    /// A worker of analysis `job` said something.
    Worker { job: u64, event: WorkerEvent },
    /// Analysis `job` could not even start or its worker died.
    Failed { job: u64, message: String },
    /// The user stopped analysis `job`; what is shown so far stays.
    Cancelled { job: u64 },
    /// The archive could not be loaded (the demo download failed, say); nothing else changes.
    LoadFailed { message: String },
    /// The user submitted an empty reference box.
    ReferenceSubmitted { reference: String },
    /// The user closed the login form.
    LoginDismissed,
    /// The settings changed (a proxy URL set, a login given or forgotten).
    Settings(Settings),
}

impl Reducible for PageState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Started {
                job,
                source_name,
                selected,
                from_registry,
                with_login,
                repository,
                origin,
                view,
            } => {
                let view = match view {
                    OpenView::Fresh => ViewState::default(),
                    OpenView::KeepTab => ViewState::default().with_tab(next.view.tab),
                    OpenView::Keep => next.view.clone(),
                    OpenView::Restore(view) => view,
                };
                // A link waiting for its file keeps waiting while a dropped archive is read.
                let awaiting = match origin {
                    Origin::Archive { .. } => next.awaiting.take(),
                    _ => None,
                };
                let same_repository = repository.is_some() && next.repository == repository;
                let same_source = next.source_name.as_deref() == Some(source_name.as_str());
                next = PageState {
                    job,
                    source_name: Some(source_name),
                    reading: Reading::Busy,
                    // Re-analysing another image of the same archive keeps its list visible.
                    images: if same_source { next.images } else { Vec::new() },
                    selected,
                    from_registry,
                    // Another platform of the same reference keeps the platform table.
                    platforms: if same_source {
                        next.platforms
                    } else {
                        Vec::new()
                    },
                    platform_selected: next.platform_selected,
                    // Another tag or platform of the same repository keeps the tag list.
                    tags: if same_repository {
                        next.tags
                    } else {
                        Vec::new()
                    },
                    more_tags: same_repository && next.more_tags,
                    tag_digests: if same_repository {
                        next.tag_digests
                    } else {
                        Default::default()
                    },
                    repository,
                    with_login,
                    origin,
                    view,
                    awaiting,
                    settings: next.settings,
                    ..PageState::default()
                };
            }
            Action::View(view) => next.view = view,
            Action::AwaitArchive(awaited) => {
                next = PageState {
                    job: next.job,
                    view: awaited.view.clone(),
                    awaiting: Some(awaited),
                    ..PageState::default()
                }
            }
            Action::Home => {
                next = PageState {
                    job: next.job,
                    ..PageState::default()
                }
            }
            Action::Pinned { reference } => {
                if let Origin::Registry {
                    reference: shown, ..
                } = &mut next.origin
                {
                    *shown = reference.clone();
                    next.source_name = Some(reference);
                }
            }
            Action::ExportRequested => next.export = ExportState::Preparing,
            Action::Exported {
                url,
                file_name,
                bytes,
            } => {
                next.export = ExportState::Ready {
                    url,
                    file_name,
                    bytes,
                }
            }
            Action::Worker { job, event } if job == next.job => next.apply(event),
            Action::Failed { job, message } if job == next.job => next.fail(message),
            Action::Cancelled { job } if job == next.job && next.busy() => {
                next.reading = Reading::Cancelled;
                next.progress = None;
                next.streaming.clear();
                let again = if next.from_registry {
                    "Open it again to read it all."
                } else {
                    "Drop the archive again to read it all."
                };
                next.error = Some(format!(
                    "Stopped reading {}; what was read so far is shown. {again}",
                    next.source_name.as_deref().unwrap_or("the archive")
                ));
            }
            Action::Worker { .. } | Action::Failed { .. } | Action::Cancelled { .. } => {
                return self
            }
            Action::LoadFailed { message } => next.error = Some(message),
            Action::ReferenceSubmitted { reference } => {
                next.reference_note = Some(reference_note(&reference))
            }
            Action::LoginDismissed => next.login = None,
            Action::Settings(settings) => next.settings = settings,
        }
        Rc::new(next)
    }
}

impl PageState {
    fn apply(&mut self, event: WorkerEvent) {
        match event {
            WorkerEvent::Ready => {}
            // A tick held for the next frame can come after the reading ended (cancelled
            // or done): it no longer says anything.
            WorkerEvent::Progress(_) if !self.busy() => {}
            WorkerEvent::Progress(progress) => {
                if let (Some((layer, _)), bytes) = (progress.layer, progress.layer_bytes) {
                    let bytes = bytes.unwrap_or((0, 0));
                    match self.streaming.iter_mut().find(|(index, _)| *index == layer) {
                        Some(streaming) => streaming.1 = bytes,
                        None => {
                            self.streaming.push((layer, bytes));
                            self.streaming.sort_unstable_by_key(|(index, _)| *index);
                        }
                    }
                }
                self.progress = Some(progress);
            }
            WorkerEvent::ImagesListed { images } => {
                if let Some(awaited) = &self.awaiting {
                    let name = self.source_name.clone().unwrap_or_default();
                    let wanted = images
                        .iter()
                        .position(|image| awaited.matches(&name, image_digest(image).as_deref()));
                    self.reselect = wanted.filter(|position| *position != self.selected);
                }
                self.images = images;
            }
            WorkerEvent::Overview { report } => {
                let report = Report::from(*report);
                // Another image of the archive is about to be opened: the link waits for it.
                if self.reselect.is_none() {
                    if let Some(awaited) = self.awaiting.take() {
                        let name = self.source_name.as_deref().unwrap_or_default();
                        let digest = report.overview.selected_image().and_then(image_digest);
                        if awaited.matches(name, digest.as_deref()) {
                            self.view = awaited.view;
                        }
                    }
                }
                self.report = Some(report);
            }
            WorkerEvent::LayerScanned { layer } => {
                self.streaming.retain(|(index, _)| *index != layer.index);
                // The progress line names a layer still being read, if one is.
                if let Some(progress) = self.progress.as_mut() {
                    if progress
                        .layer
                        .is_some_and(|(index, _)| index == layer.index)
                    {
                        let count = progress.layer.map_or(0, |(_, count)| count);
                        let next = self.streaming.first().copied();
                        progress.layer = next.map(|(index, _)| (index, count));
                        progress.layer_bytes = next.map(|(_, bytes)| bytes);
                    }
                }
                if let Some(slot) = self
                    .report
                    .as_mut()
                    .and_then(|report| report.layers.get_mut(layer.index))
                {
                    *slot = Rc::from(layer);
                }
            }
            WorkerEvent::Done { report } => {
                self.selected = report.selected;
                if self.images.is_empty() {
                    self.images = report.images.clone();
                }
                let report = Report::from(*report);
                self.verifying = report.checks.unverified_layers > 0;
                self.report = Some(report);
                self.reading = Reading::Done;
                self.progress = None;
                self.streaming.clear();
            }
            // Only the layer's own rows and row change: the overview and every other layer
            // stay the very values they were.
            WorkerEvent::LayerVerified {
                layer,
                rows,
                blob_digest,
                unverified_layers,
            } => {
                let Some(report) = self.report.as_mut() else {
                    return;
                };
                report.checks.add(rows);
                report.checks.unverified_layers = unverified_layers;
                // A mismatch ends the checking: the rest stays unverified.
                self.verifying = unverified_layers > 0 && report.checks.mismatches.is_empty();
                if let (Some(slot), Some(digest)) = (report.layers.get_mut(layer), blob_digest) {
                    if slot.digest.as_ref() != Some(&digest) {
                        *slot = Rc::new(LayerReport {
                            digest: Some(digest),
                            ..(**slot).clone()
                        });
                    }
                }
            }
            WorkerEvent::Failed { message } => self.fail(message),
            WorkerEvent::NeedsLogin { registry, message } => {
                self.reading = Reading::NeedsLogin;
                self.progress = None;
                self.login = Some(LoginPrompt {
                    registry,
                    refused: self.with_login,
                    detail: message,
                });
            }
            // The job runner keeps routes; the state shows which proxy is used.
            WorkerEvent::Routed {
                registry,
                route,
                via,
            } => {
                self.route_note = match (route, via) {
                    (RegistryRoute::Proxy, Some(via)) => Some(proxy_note(&registry, &via)),
                    _ => None,
                }
            }
            // The Files tab's tree hears these itself (see `Controls::listen_tree`).
            WorkerEvent::Tree { .. } => {}
            WorkerEvent::Allowance { limit } => self.allowance = Some(limit),
            WorkerEvent::Tags { tags, more, append } => {
                if append {
                    for tag in tags {
                        if !self.tags.contains(&tag) {
                            self.tags.push(tag);
                        }
                    }
                } else {
                    self.tags = tags;
                }
                self.more_tags = more;
            }
            WorkerEvent::TagDigest { tag, digest } => {
                self.tag_digests.insert(tag, digest);
            }
            WorkerEvent::Platforms { images, selected } => {
                self.platforms = images;
                self.platform_selected = selected;
            }
            // The job runner turns the document into a download.
            WorkerEvent::Export { .. } => {}
            WorkerEvent::ExportRefused { message } => self.export = ExportState::Failed(message),
        }
    }

    /// True while a worker is reading.
    pub fn busy(&self) -> bool {
        self.reading == Reading::Busy
    }

    /// What the Files tab's tree pane can show: the tree once every layer is read, else why
    /// not (still reading, or the open ended before it could be).
    pub fn tree_status(&self) -> TreeStatus {
        if self
            .report
            .as_ref()
            .is_some_and(|report| report.overview.complete)
        {
            return TreeStatus::Ready;
        }
        match self.reading {
            Reading::Failed => TreeStatus::Failed,
            Reading::Cancelled => TreeStatus::Cancelled(if self.from_registry {
                SourceKind::Registry
            } else {
                SourceKind::Archive
            }),
            Reading::NeedsLogin => TreeStatus::NeedsLogin,
            Reading::Idle | Reading::Busy | Reading::Done => TreeStatus::Reading,
        }
    }

    /// The route of what is shown, for the URL; `None` while it is not known yet (a dropped
    /// archive before its image's digest is read).
    pub fn route(&self) -> Option<Route> {
        let view = self.view.clone();
        match &self.origin {
            Origin::Nothing => Some(match &self.awaiting {
                Some(awaited) => Route::Archive {
                    name: awaited.name.clone(),
                    digest: awaited.digest.clone(),
                    view,
                },
                None => Route::Home,
            }),
            Origin::Demo => Some(Route::Demo { view }),
            Origin::Registry {
                reference,
                platform,
            } => Some(Route::Image {
                reference: reference.clone(),
                platform: platform.clone(),
                view,
            }),
            Origin::Archive { name } => {
                if let Some(awaited) = &self.awaiting {
                    return Some(Route::Archive {
                        name: awaited.name.clone(),
                        digest: awaited.digest.clone(),
                        view: awaited.view.clone(),
                    });
                }
                let report = self.report.as_ref()?;
                Some(Route::Archive {
                    name: name.clone(),
                    digest: report.overview.selected_image().and_then(image_digest),
                    view,
                })
            }
        }
    }

    /// The tabs this image has: Tags only for a registry image.
    pub fn tabs(&self) -> Vec<Tab> {
        Tab::ALL
            .into_iter()
            .filter(|tab| *tab != Tab::Tags || self.from_registry)
            .collect()
    }

    /// The tab shown: the view's, unless this image has no such tab.
    pub fn shown_tab(&self) -> Tab {
        if self.tabs().contains(&self.view.tab) {
            self.view.tab
        } else {
            Tab::Files
        }
    }

    /// The layer the Files tab shows: the view's, else the top one.
    pub fn shown_layer(&self) -> Option<usize> {
        let count = self.report.as_ref()?.layers.len();
        match self.view.layer {
            Some(layer) if layer < count => Some(layer),
            _ => count.checked_sub(1),
        }
    }

    /// The reference pinned to the digest its tag names now (`name@sha256:...`): the index's
    /// for a multi-platform image, else the manifest's. `None` when the reference has no tag
    /// or the digest is not known yet.
    pub fn pinned_reference(&self) -> Option<String> {
        let Origin::Registry { reference, .. } = &self.origin else {
            return None;
        };
        let parsed = Reference::parse(reference).ok()?;
        if parsed.digest().is_some() {
            return None;
        }
        let overview = &self.report.as_ref()?.overview;
        let digest = overview
            .index_digest
            .clone()
            .or_else(|| overview.selected_image()?.manifest_digest.clone())?;
        Some(format!("{}@{digest}", parsed.familiar_name()))
    }

    /// The other tags of the repository that name the shown image's digest (known once the
    /// tag list resolves them).
    pub fn tags_sharing_digest(&self) -> Vec<String> {
        let Some(overview) = self.report.as_ref().map(|r| &r.overview) else {
            return Vec::new();
        };
        let shown = overview
            .index_digest
            .clone()
            .or_else(|| overview.selected_image()?.manifest_digest.clone())
            .map(|digest| digest.to_string());
        let current = self
            .source_name
            .as_deref()
            .and_then(|name| Reference::parse(name).ok())
            .and_then(|r| r.tag().map(str::to_string));
        let Some(shown) = shown else {
            return Vec::new();
        };
        self.tags
            .iter()
            .filter(|tag| Some(tag.as_str()) != current.as_deref())
            .filter(|tag| self.tag_digests.get(*tag) == Some(&shown))
            .cloned()
            .collect()
    }

    fn fail(&mut self, message: String) {
        let name = self.source_name.as_deref().unwrap_or("the archive");
        self.error = Some(if self.from_registry {
            format!("Could not open {name}: {message}")
        } else {
            format!("Could not read {name}: {message}")
        });
        self.reading = Reading::Failed;
        self.progress = None;
        self.streaming.clear();
        self.verifying = false;
    }
}

/// The digest an archive link names an image by: its manifest's, or for a legacy
/// `docker save` (which has no manifest digest) its config's.
pub fn image_digest(image: &ImageListing) -> Option<String> {
    image
        .manifest_digest
        .as_ref()
        .or(image.config_digest.as_ref())
        .map(ToString::to_string)
}

/// The CORS message: the registry blocks web pages, so the proxy `via` is used.
fn proxy_note(registry: &str, via: &str) -> String {
    let note = format!(
        "{registry} does not let web pages read it directly, so layerscope goes through the proxy at {via}"
    );
    if via.starts_with("./") {
        format!("{note}. Hosting the page yourself? Run `layerscope serve`.")
    } else {
        format!("{note} (set in the settings).")
    }
}

fn reference_note(reference: &str) -> String {
    let reference = reference.trim();
    if reference.is_empty() {
        "Type an image reference (nginx:1.25, ghcr.io/owner/image:tag), or drop a `docker save` or OCI archive anywhere on the page.".to_string()
    } else {
        let why = layerscope_core::model::reference::Reference::parse(reference)
            .err()
            .map(|error| format!(": {error}"))
            .unwrap_or_default();
        format!("“{reference}” is not an image reference{why}. Try name:tag, e.g. nginx:1.25 or ghcr.io/owner/image:tag.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(job: u64) -> Rc<PageState> {
        Rc::new(PageState::default()).reduce(Action::Started {
            job,
            source_name: "a.tar".into(),
            selected: 0,
            from_registry: false,
            with_login: false,
            repository: None,
            origin: Origin::Archive {
                name: "a.tar".into(),
            },
            view: OpenView::Fresh,
        })
    }

    #[test]
    fn events_of_an_older_job_are_ignored() {
        let state = started(2).reduce(Action::Worker {
            job: 1,
            event: WorkerEvent::Failed {
                message: "x".into(),
            },
        });
        assert!(state.error.is_none());
        assert!(state.busy());
    }

    #[test]
    fn a_failure_names_the_archive_and_ends_the_work() {
        let state = started(1).reduce(Action::Worker {
            job: 1,
            event: WorkerEvent::Failed {
                message: "no manifest.json".into(),
            },
        });
        assert_eq!(
            state.error.as_deref(),
            Some("Could not read a.tar: no manifest.json")
        );
        assert!(!state.busy());
    }

    #[test]
    fn cancelling_ends_the_work_and_says_so() {
        let state = started(3).reduce(Action::Cancelled { job: 3 });
        assert!(!state.busy());
        assert!(state
            .error
            .as_deref()
            .unwrap()
            .starts_with("Stopped reading a.tar"));
        let stale = started(4).reduce(Action::Cancelled { job: 3 });
        assert!(stale.busy());
    }

    fn overview_of(layer_count: usize) -> WorkerEvent {
        WorkerEvent::Overview {
            report: Box::new(ImageReport {
                layers: (0..layer_count)
                    .map(|index| LayerReport {
                        index,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
        }
    }

    fn scanned(index: usize) -> WorkerEvent {
        WorkerEvent::LayerScanned {
            layer: Box::new(LayerReport {
                index,
                scanned: true,
                ..Default::default()
            }),
        }
    }

    fn on_worker_event(state: Rc<PageState>, event: WorkerEvent) -> Rc<PageState> {
        let job = state.job;
        state.reduce(Action::Worker { job, event })
    }

    #[test]
    fn a_scanned_layer_replaces_its_overview_row() {
        let state = on_worker_event(on_worker_event(started(1), overview_of(2)), scanned(1));
        let layers = &state.report.as_ref().unwrap().layers;
        assert!(!layers[0].scanned);
        assert!(layers[1].scanned);
    }

    #[test]
    fn a_scanned_layer_shares_every_other_row_and_the_overview() {
        let before = on_worker_event(started(1), overview_of(3));
        let after = on_worker_event(before.clone(), scanned(1));
        let (before, after) = (
            before.report.as_ref().unwrap(),
            after.report.as_ref().unwrap(),
        );
        assert!(Rc::ptr_eq(&before.overview, &after.overview));
        assert!(Rc::ptr_eq(&before.layers[0], &after.layers[0]));
        assert!(Rc::ptr_eq(&before.layers[2], &after.layers[2]));
        assert!(!Rc::ptr_eq(&before.layers[1], &after.layers[1]));
    }

    #[test]
    fn the_overview_holds_no_copy_of_the_layers() {
        let state = on_worker_event(started(1), overview_of(2));
        let report = state.report.as_ref().unwrap();
        assert!(report.overview.layers.is_empty());
        assert_eq!(report.layers.len(), 2);
    }

    #[test]
    fn the_tree_pane_says_why_there_is_no_tree_when_the_open_ended_early() {
        let reading = on_worker_event(on_worker_event(started(1), overview_of(2)), scanned(0));
        assert_eq!(reading.tree_status(), TreeStatus::Reading);
        let failed = on_worker_event(
            reading.clone(),
            WorkerEvent::Failed {
                message: "layer 1 is cut short".into(),
            },
        );
        assert_eq!(failed.reading, Reading::Failed);
        assert_eq!(failed.tree_status(), TreeStatus::Failed);
        let cancelled = reading.clone().reduce(Action::Cancelled { job: 1 });
        assert_eq!(cancelled.reading, Reading::Cancelled);
        assert_eq!(
            cancelled.tree_status(),
            TreeStatus::Cancelled(SourceKind::Archive)
        );
        let done = on_worker_event(
            reading,
            WorkerEvent::Done {
                report: Box::new(ImageReport {
                    complete: true,
                    ..Default::default()
                }),
            },
        );
        assert_eq!(done.reading, Reading::Done);
        assert_eq!(done.tree_status(), TreeStatus::Ready);
        // A failure after the tree is complete (a digest that does not match, say) keeps it.
        let late = on_worker_event(
            done,
            WorkerEvent::Failed {
                message: "x".into(),
            },
        );
        assert_eq!(late.tree_status(), TreeStatus::Ready);
    }

    #[test]
    fn a_layer_beyond_the_overview_is_ignored() {
        let state = on_worker_event(on_worker_event(started(1), overview_of(1)), scanned(5));
        assert_eq!(state.report.as_ref().unwrap().layers.len(), 1);
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;

    fn pulling(with_login: bool) -> Rc<PageState> {
        Rc::new(PageState::default()).reduce(Action::Started {
            job: 1,
            source_name: "ghcr.io/a/b:1".into(),
            selected: 0,
            from_registry: true,
            with_login,
            repository: Some("ghcr.io/a/b".into()),
            origin: Origin::Registry {
                reference: "ghcr.io/a/b:1".into(),
                platform: None,
            },
            view: OpenView::Fresh,
        })
    }

    #[test]
    fn a_401_shows_the_login_form_and_ends_the_work() {
        let state = pulling(false).reduce(Action::Worker {
            job: 1,
            event: WorkerEvent::NeedsLogin {
                registry: "ghcr.io".into(),
                message: "401".into(),
            },
        });
        let login = state.login.as_ref().unwrap();
        assert_eq!(login.registry, "ghcr.io");
        assert!(!login.refused);
        assert!(!state.busy());
        let refused = pulling(true).reduce(Action::Worker {
            job: 1,
            event: WorkerEvent::NeedsLogin {
                registry: "ghcr.io".into(),
                message: "401".into(),
            },
        });
        assert!(refused.login.as_ref().unwrap().refused);
    }

    #[test]
    fn a_cancelled_pull_says_to_open_the_reference_again() {
        let state = pulling(false).reduce(Action::Cancelled { job: 1 });
        assert_eq!(
            state.tree_status(),
            TreeStatus::Cancelled(SourceKind::Registry)
        );
        let login = pulling(false).reduce(Action::Worker {
            job: 1,
            event: WorkerEvent::NeedsLogin {
                registry: "ghcr.io".into(),
                message: "401".into(),
            },
        });
        assert_eq!(login.tree_status(), TreeStatus::NeedsLogin);
    }

    #[test]
    fn a_registry_failure_says_open() {
        let state = pulling(false).reduce(Action::Worker {
            job: 1,
            event: WorkerEvent::Failed {
                message: "x".into(),
            },
        });
        assert_eq!(
            state.error.as_deref(),
            Some("Could not open ghcr.io/a/b:1: x")
        );
    }
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    fn pulling() -> Rc<PageState> {
        Rc::new(PageState::default()).reduce(Action::Started {
            job: 1,
            source_name: "nginx".into(),
            selected: 0,
            from_registry: true,
            with_login: false,
            repository: Some("docker.io/library/nginx".into()),
            origin: Origin::Registry {
                reference: "nginx".into(),
                platform: None,
            },
            view: OpenView::Fresh,
        })
    }

    fn worker(state: Rc<PageState>, event: WorkerEvent) -> Rc<PageState> {
        let job = state.job;
        state.reduce(Action::Worker { job, event })
    }

    #[test]
    fn the_allowance_shows_for_the_pull_that_stated_it() {
        // Docker Hub's headers on a manifest answer: ratelimit-limit: 100;w=21600 and
        // ratelimit-remaining: 76;w=21600, as the core reads them.
        let headers = layerscope_core::registry::Response::new(200)
            .with_header("ratelimit-limit", "100;w=21600")
            .with_header("ratelimit-remaining", "76;w=21600");
        let limit = RateLimit::from_response(&headers).unwrap();
        let state = worker(pulling(), WorkerEvent::Allowance { limit });
        assert_eq!(
            state.allowance.as_ref().unwrap().to_string(),
            "76 of 100 pulls left in this 6-hour window"
        );
        let next = state.reduce(Action::Started {
            job: 2,
            source_name: "a.tar".into(),
            selected: 0,
            from_registry: false,
            with_login: false,
            repository: None,
            origin: Origin::Archive {
                name: "a.tar".into(),
            },
            view: OpenView::Fresh,
        });
        assert!(next.allowance.is_none());
    }

    #[test]
    fn the_route_note_names_the_proxy_used() {
        let own = worker(
            pulling(),
            WorkerEvent::Routed {
                registry: "registry-1.docker.io".into(),
                route: RegistryRoute::Proxy,
                via: Some("./proxy/".into()),
            },
        );
        assert_eq!(
            own.route_note.as_deref(),
            Some("registry-1.docker.io does not let web pages read it directly, so layerscope goes through the proxy at ./proxy/. Hosting the page yourself? Run `layerscope serve`.")
        );
        let set = worker(
            pulling(),
            WorkerEvent::Routed {
                registry: "ghcr.io".into(),
                route: RegistryRoute::Proxy,
                via: Some("https://tools.example/proxy/".into()),
            },
        );
        assert_eq!(
            set.route_note.as_deref(),
            Some("ghcr.io does not let web pages read it directly, so layerscope goes through the proxy at https://tools.example/proxy/ (set in the settings).")
        );
        let direct = worker(
            set,
            WorkerEvent::Routed {
                registry: "ghcr.io".into(),
                route: RegistryRoute::Direct,
                via: None,
            },
        );
        assert!(direct.route_note.is_none());
    }

    #[test]
    fn settings_outlive_an_analysis() {
        let settings = Settings {
            proxy: Some("http://127.0.0.1:9000/proxy/".into()),
            logins: vec![("ghcr.io".into(), "me".into())],
        };
        let state = pulling().reduce(Action::Settings(settings.clone()));
        let next = state.reduce(Action::Started {
            job: 2,
            source_name: "b".into(),
            selected: 0,
            from_registry: true,
            with_login: false,
            repository: Some("docker.io/library/b".into()),
            origin: Origin::Registry {
                reference: "b".into(),
                platform: None,
            },
            view: OpenView::Fresh,
        });
        assert_eq!(next.settings, settings);
    }
}

#[cfg(test)]
mod tag_tests {
    use super::*;

    fn started(state: Rc<PageState>, job: u64, reference: &str, repository: &str) -> Rc<PageState> {
        state.reduce(Action::Started {
            job,
            source_name: reference.into(),
            selected: 0,
            from_registry: true,
            with_login: false,
            repository: Some(repository.into()),
            origin: Origin::Registry {
                reference: reference.into(),
                platform: None,
            },
            view: OpenView::KeepTab,
        })
    }

    #[test]
    fn tags_stay_for_another_tag_of_the_same_repository_only() {
        let state = started(Rc::new(PageState::default()), 1, "a/b:1", "docker.io/a/b");
        let state = state.reduce(Action::Worker {
            job: 1,
            event: WorkerEvent::Tags {
                tags: vec!["1".into(), "2".into()],
                more: true,
                append: false,
            },
        });
        let state = state.reduce(Action::Worker {
            job: 1,
            event: WorkerEvent::Tags {
                tags: vec!["2".into(), "3".into()],
                more: false,
                append: true,
            },
        });
        assert_eq!(state.tags, ["1", "2", "3"]);
        assert!(!state.more_tags);
        let same = started(state.clone(), 2, "a/b:2", "docker.io/a/b");
        assert_eq!(same.tags.len(), 3);
        let other = started(state, 3, "c/d:1", "docker.io/c/d");
        assert!(other.tags.is_empty());
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;
    use crate::fragment::Tab;
    use layerscope_core::model::digest::Digest;

    fn listing(digest: &Digest) -> ImageListing {
        ImageListing {
            config_digest: Some(digest.clone()),
            ..Default::default()
        }
    }

    fn drop_archive(state: Rc<PageState>, job: u64, name: &str, selected: usize) -> Rc<PageState> {
        state.reduce(Action::Started {
            job,
            source_name: name.into(),
            selected,
            from_registry: false,
            with_login: false,
            repository: None,
            origin: Origin::Archive { name: name.into() },
            view: OpenView::Fresh,
        })
    }

    fn event(state: Rc<PageState>, event: WorkerEvent) -> Rc<PageState> {
        let job = state.job;
        state.reduce(Action::Worker { job, event })
    }

    fn overview(images: Vec<ImageListing>, selected: usize) -> WorkerEvent {
        WorkerEvent::Overview {
            report: Box::new(ImageReport {
                images,
                selected,
                layers: vec![LayerReport::default(), LayerReport::default()],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn an_archive_route_waits_for_its_digest() {
        let digest = Digest::sha256_of(b"config");
        let state = drop_archive(Rc::new(PageState::default()), 1, "a.tar", 0);
        assert_eq!(state.route(), None, "no link before the digest is known");
        let state = event(state, overview(vec![listing(&digest)], 0));
        let state = state.reduce(Action::View(ViewState::default().with_tab(Tab::History)));
        assert_eq!(
            state.route().unwrap().to_hash(),
            format!("#/archive/a.tar?digest={digest}&tab=history")
        );
    }

    #[test]
    fn a_dropped_archive_with_the_awaited_digest_restores_the_view() {
        let digest = Digest::sha256_of(b"config");
        let view = ViewState::default().with_tab(Tab::Efficiency);
        let awaited = AwaitedArchive {
            name: "a.tar".into(),
            digest: Some(digest.to_string()),
            view: view.clone(),
        };
        let state = Rc::new(PageState::default()).reduce(Action::AwaitArchive(awaited.clone()));
        assert_eq!(state.awaiting.as_ref(), Some(&awaited));
        let waiting_hash = state.route().unwrap().to_hash();
        assert!(waiting_hash.contains("tab=efficiency"), "{waiting_hash}");
        // The same file under another name still matches by digest.
        let state = drop_archive(state, 1, "renamed.tar", 0);
        assert!(state.awaiting.is_some());
        let state = event(state, overview(vec![listing(&digest)], 0));
        assert!(state.awaiting.is_none());
        assert_eq!(state.view, view);
        // Another image does not.
        let state = Rc::new(PageState::default()).reduce(Action::AwaitArchive(awaited));
        let state = drop_archive(state, 2, "a.tar", 0);
        let other = Digest::sha256_of(b"other");
        let state = event(state, overview(vec![listing(&other)], 0));
        assert_eq!(state.view, ViewState::default());
        assert!(state.awaiting.is_none());
    }

    #[test]
    fn the_awaited_image_further_down_the_archive_is_reselected() {
        let (first, second) = (Digest::sha256_of(b"1"), Digest::sha256_of(b"2"));
        let view = ViewState::default().with_tab(Tab::Inspect);
        let state = Rc::new(PageState::default()).reduce(Action::AwaitArchive(AwaitedArchive {
            name: "bundle.tar".into(),
            digest: Some(second.to_string()),
            view: view.clone(),
        }));
        let state = drop_archive(state, 1, "bundle.tar", 0);
        let images = vec![listing(&first), listing(&second)];
        let state = event(
            state,
            WorkerEvent::ImagesListed {
                images: images.clone(),
            },
        );
        assert_eq!(state.reselect, Some(1));
        // The first image's overview does not end the wait.
        let state = event(state, overview(images.clone(), 0));
        assert!(state.awaiting.is_some());
        let state = drop_archive(state, 2, "bundle.tar", 1);
        assert_eq!(state.reselect, None);
        let state = event(state, overview(images, 1));
        assert_eq!(state.view, view);
    }

    #[test]
    fn a_new_image_keeps_the_tab_only_when_asked() {
        let state = drop_archive(Rc::new(PageState::default()), 1, "a.tar", 0);
        let state = state.reduce(Action::View(
            ViewState::default().on_layer(1).with_tab(Tab::Config),
        ));
        let kept = state.clone().reduce(Action::Started {
            job: 2,
            source_name: "a.tar".into(),
            selected: 1,
            from_registry: false,
            with_login: false,
            repository: None,
            origin: Origin::Archive {
                name: "a.tar".into(),
            },
            view: OpenView::KeepTab,
        });
        assert_eq!(kept.view, ViewState::default().with_tab(Tab::Config));
        let fresh = drop_archive(state, 3, "b.tar", 0);
        assert_eq!(fresh.view, ViewState::default());
    }

    #[test]
    fn tags_have_their_tab_only_for_registry_images() {
        let state = drop_archive(Rc::new(PageState::default()), 1, "a.tar", 0);
        assert!(!state.tabs().contains(&Tab::Tags));
        let state = state.reduce(Action::View(ViewState::default().with_tab(Tab::Tags)));
        assert_eq!(state.shown_tab(), Tab::Files);
        let state = event(state, overview(vec![ImageListing::default()], 0));
        assert_eq!(state.shown_layer(), Some(1), "the top layer by default");
        let state = state.reduce(Action::View(ViewState::default().on_layer(7)));
        assert_eq!(
            state.shown_layer(),
            Some(1),
            "a layer beyond the image reads as the top"
        );
    }

    #[test]
    fn a_tag_pins_to_the_index_digest_and_lists_its_twins() {
        let index = Digest::sha256_of(b"index");
        let state = Rc::new(PageState::default()).reduce(Action::Started {
            job: 1,
            source_name: "127.0.0.1:5000/a/b:1.0".into(),
            selected: 0,
            from_registry: true,
            with_login: false,
            repository: Some("127.0.0.1:5000/a/b".into()),
            origin: Origin::Registry {
                reference: "127.0.0.1:5000/a/b:1.0".into(),
                platform: Some("linux/arm64".into()),
            },
            view: OpenView::Fresh,
        });
        let state = event(
            state,
            WorkerEvent::Overview {
                report: Box::new(ImageReport {
                    index_digest: Some(index.clone()),
                    images: vec![ImageListing {
                        manifest_digest: Some(Digest::sha256_of(b"arm")),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
        );
        let pinned = state.pinned_reference().unwrap();
        assert_eq!(pinned, format!("127.0.0.1:5000/a/b@{index}"));
        let state = event(
            state,
            WorkerEvent::Tags {
                tags: vec!["1.0".into(), "latest".into(), "2.0".into()],
                more: false,
                append: false,
            },
        );
        let mut state = state;
        for (tag, digest) in [("1.0", &index), ("latest", &index)] {
            state = event(
                state,
                WorkerEvent::TagDigest {
                    tag: tag.into(),
                    digest: digest.to_string(),
                },
            );
        }
        assert_eq!(state.tags_sharing_digest(), ["latest"]);
        let state = state.reduce(Action::Pinned {
            reference: pinned.clone(),
        });
        assert_eq!(
            state.route().unwrap().to_hash(),
            format!("#/image/{pinned}?platform=linux/arm64")
        );
        assert_eq!(state.pinned_reference(), None, "a digest needs no pin");
    }
}

#[cfg(test)]
mod pool_tests {
    use super::*;
    use layerscope_core::archive::Phase;
    use layerscope_core::model::digest::{Digest, DigestRole};
    use layerscope_core::present::report::Verification;

    fn archive_open() -> Rc<PageState> {
        Rc::new(PageState::default()).reduce(Action::Started {
            job: 1,
            source_name: "a.tar".into(),
            selected: 0,
            from_registry: false,
            with_login: false,
            repository: None,
            origin: Origin::Archive {
                name: "a.tar".into(),
            },
            view: OpenView::Fresh,
        })
    }

    fn worker(state: Rc<PageState>, event: WorkerEvent) -> Rc<PageState> {
        state.reduce(Action::Worker { job: 1, event })
    }

    fn progress(layer: usize, done: u64) -> WorkerEvent {
        WorkerEvent::Progress(Progress {
            phase: Phase::ScanningLayers,
            bytes_read: done,
            total_bytes: Some(100),
            streamed: false,
            layer: Some((layer, 3)),
            layer_bytes: Some((done, 40)),
            message: String::new(),
        })
    }

    fn report(unverified: Vec<usize>) -> ImageReport {
        ImageReport {
            layers: (0..3)
                .map(|index| LayerReport {
                    index,
                    scanned: true,
                    ..Default::default()
                })
                .collect(),
            unverified_layers: unverified,
            complete: true,
            ..Default::default()
        }
    }

    fn row(layer: usize, ok: bool) -> Verification {
        Verification::digest(
            DigestRole::DiffId,
            format!("layer {layer}"),
            &Digest::sha256_of(b"expected"),
            &Digest::sha256_of(if ok { b"expected" } else { b"other!!!" }),
        )
    }

    #[test]
    fn layers_scanned_at_once_each_show_their_progress_until_they_are_in() {
        let state = worker(archive_open(), progress(2, 10));
        let state = worker(state, progress(0, 5));
        let state = worker(state, progress(2, 30));
        assert_eq!(state.streaming, vec![(0, (5, 40)), (2, (30, 40))]);
        let state = worker(
            state,
            WorkerEvent::LayerScanned {
                layer: Box::new(LayerReport {
                    index: 2,
                    ..Default::default()
                }),
            },
        );
        assert_eq!(state.streaming, vec![(0, (5, 40))]);
        let line = state.progress.as_ref().unwrap();
        assert_eq!(
            (line.layer, line.layer_bytes),
            (Some((0, 3)), Some((5, 40))),
            "the progress line moves to a layer still read"
        );
        let state = worker(
            state,
            WorkerEvent::LayerScanned {
                layer: Box::new(LayerReport {
                    index: 0,
                    ..Default::default()
                }),
            },
        );
        let line = state.progress.as_ref().unwrap();
        assert_eq!((line.layer, line.layer_bytes), (None, None));
        let state = state.reduce(Action::Cancelled { job: 1 });
        assert!(state.streaming.is_empty());
    }

    #[test]
    fn digests_checked_after_the_tree_fill_in_the_verification() {
        let state = worker(
            archive_open(),
            WorkerEvent::Done {
                report: Box::new(report(vec![0, 1, 2])),
            },
        );
        assert!(!state.busy(), "the tree does not wait for the digests");
        assert!(state.verifying);
        let digest = Digest::sha256_of(b"blob");
        let state = worker(state, verified(1, true, Some(digest.clone()), 2));
        assert!(state.verifying);
        let shown = state.report.as_ref().unwrap();
        assert_eq!((shown.checks.matched, shown.checks.total()), (1, 1));
        assert_eq!(shown.checks.unverified_layers, 2);
        assert_eq!(shown.layers[1].digest, Some(digest));
        assert_eq!(shown.layers[0].digest, None);
        let state = worker(state, verified(0, true, None, 1));
        let state = worker(state, verified(2, true, None, 0));
        assert!(!state.verifying, "every layer is checked");
        assert_eq!(state.report.as_ref().unwrap().checks.matched, 3);
    }

    fn verified(layer: usize, ok: bool, digest: Option<Digest>, left: usize) -> WorkerEvent {
        WorkerEvent::LayerVerified {
            layer,
            rows: vec![row(layer, ok)],
            blob_digest: digest,
            unverified_layers: left,
        }
    }

    #[test]
    fn a_layer_checked_late_changes_its_own_row_and_nothing_else() {
        let layers = 200;
        let mut finished = ImageReport {
            layers: (0..layers)
                .map(|index| LayerReport {
                    index,
                    scanned: true,
                    ..Default::default()
                })
                .collect(),
            history: vec![Default::default(); layers],
            verification: vec![row(0, true)],
            unverified_layers: (1..layers).collect(),
            complete: true,
            ..Default::default()
        };
        finished.layers[0].digest = Some(Digest::sha256_of(b"0"));
        let mut state = worker(
            archive_open(),
            WorkerEvent::Done {
                report: Box::new(finished),
            },
        );
        for layer in 1..layers {
            let before = state.report.clone().unwrap();
            let digest = Digest::sha256_of(layer.to_string().as_bytes());
            state = worker(
                state,
                verified(layer, true, Some(digest.clone()), layers - 1 - layer),
            );
            let after = state.report.as_ref().unwrap();
            assert!(
                Rc::ptr_eq(&before.overview, &after.overview),
                "layer {layer}'s digests copied the overview"
            );
            for (index, (old, new)) in before.layers.iter().zip(&after.layers).enumerate() {
                assert_eq!(
                    Rc::ptr_eq(old, new),
                    index != layer,
                    "layer {layer}'s digests: row {index} replaced or not as it should be"
                );
            }
            assert_eq!(after.layers[layer].digest, Some(digest));
            assert_eq!(after.checks.matched, layer + 1);
        }
        assert!(!state.verifying, "every layer is checked");
    }

    #[test]
    fn a_progress_tick_after_cancel_or_done_is_not_applied() {
        let cancelled = worker(archive_open(), progress(0, 5)).reduce(Action::Cancelled { job: 1 });
        let state = worker(cancelled.clone(), progress(1, 9));
        assert_eq!(*state, *cancelled, "a tick after Cancel changed the page");
        assert!(state.streaming.is_empty() && state.progress.is_none());
        let done = worker(
            worker(archive_open(), progress(0, 5)),
            WorkerEvent::Done {
                report: Box::new(report(Vec::new())),
            },
        );
        let state = worker(done.clone(), progress(2, 30));
        assert_eq!(*state, *done, "a tick after Done changed the page");
    }

    #[test]
    fn a_mismatch_ends_the_checking() {
        let state = worker(
            archive_open(),
            WorkerEvent::Done {
                report: Box::new(report(vec![0, 1, 2])),
            },
        );
        let state = worker(state, verified(1, true, None, 2));
        assert!(state.verifying);
        let state = worker(state, verified(0, false, None, 1));
        assert!(!state.verifying);
        let checks = &state.report.as_ref().unwrap().checks;
        assert_eq!(checks.mismatches, vec![row(0, false)]);
        assert_eq!((checks.matched, checks.total()), (1, 2));
    }

    #[test]
    fn a_report_verified_with_its_scan_is_not_waited_for() {
        let state = worker(
            archive_open(),
            WorkerEvent::Done {
                report: Box::new(report(Vec::new())),
            },
        );
        assert!(!state.verifying);
    }
}
