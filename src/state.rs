//! The page's state: one reducer, fed by the user's actions and the worker's events.

use std::rc::Rc;

use layerscope_core::archive::Progress;
use layerscope_core::present::report::{ImageListing, ImageReport, LayerReport};
use layerscope_core::registry::RateLimit;
use layerscope_web::protocol::{Route, WorkerEvent};
use yew::Reducible;

/// Everything the page shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageState {
    /// Number of the current analysis; events of older ones are ignored.
    pub job: u64,
    /// Name of the archive being shown (a file name, or the demo's).
    pub source_name: Option<String>,
    /// True while a worker is reading.
    pub busy: bool,
    /// Every image in the archive.
    pub images: Vec<ImageListing>,
    /// Position of the shown image in `images`.
    pub selected: usize,
    /// The report as far as it is known (overview, then layer by layer, then complete).
    pub report: Option<Report>,
    /// The latest progress while busy.
    pub progress: Option<Progress>,
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
    /// The registry's pull allowance as it stated it (Docker Hub), for a registry image.
    pub allowance: Option<RateLimit>,
    /// How the registry is reached, when it is not directly: which proxy, in words.
    pub route_note: Option<String>,
    /// What the settings panel shows; it outlives every analysis.
    pub settings: Settings,
}

/// What the settings panel shows: the page's choices that outlive an analysis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The proxy URL set in the settings; the page's own `./proxy/` when `None`.
    pub proxy: Option<String>,
    /// Registries this tab holds a login for, with the user name (never the secret).
    pub logins: Vec<(String, String)>,
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
}

impl From<ImageReport> for Report {
    fn from(mut report: ImageReport) -> Report {
        let layers = std::mem::take(&mut report.layers)
            .into_iter()
            .map(Rc::new)
            .collect();
        Report {
            overview: Rc::new(report),
            layers,
        }
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
            } => {
                let same_repository = repository.is_some() && next.repository == repository;
                let same_source = next.source_name.as_deref() == Some(source_name.as_str());
                next = PageState {
                    job,
                    source_name: Some(source_name),
                    busy: true,
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
                    settings: next.settings,
                    ..PageState::default()
                };
            }
            Action::Worker { job, event } if job == next.job => next.apply(event),
            Action::Failed { job, message } if job == next.job => next.fail(message),
            Action::Cancelled { job } if job == next.job && next.busy => {
                next.busy = false;
                next.progress = None;
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
            WorkerEvent::Progress(progress) => self.progress = Some(progress),
            WorkerEvent::ImagesListed { images } => self.images = images,
            WorkerEvent::Overview { report } => self.report = Some(Report::from(*report)),
            WorkerEvent::LayerScanned { layer } => {
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
                self.report = Some(Report::from(*report));
                self.busy = false;
                self.progress = None;
            }
            WorkerEvent::Failed { message } => self.fail(message),
            WorkerEvent::NeedsLogin { registry, message } => {
                self.busy = false;
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
                    (Route::Proxy, Some(via)) => Some(proxy_note(&registry, &via)),
                    _ => None,
                }
            }
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
        }
    }

    fn fail(&mut self, message: String) {
        let name = self.source_name.as_deref().unwrap_or("the archive");
        self.error = Some(if self.from_registry {
            format!("Could not open {name}: {message}")
        } else {
            format!("Could not read {name}: {message}")
        });
        self.busy = false;
        self.progress = None;
    }
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
        assert!(state.busy);
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
        assert!(!state.busy);
    }

    #[test]
    fn cancelling_ends_the_work_and_says_so() {
        let state = started(3).reduce(Action::Cancelled { job: 3 });
        assert!(!state.busy);
        assert!(state
            .error
            .as_deref()
            .unwrap()
            .starts_with("Stopped reading a.tar"));
        let stale = started(4).reduce(Action::Cancelled { job: 3 });
        assert!(stale.busy);
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
        assert!(!state.busy);
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
        });
        assert!(next.allowance.is_none());
    }

    #[test]
    fn the_route_note_names_the_proxy_used() {
        let own = worker(
            pulling(),
            WorkerEvent::Routed {
                registry: "registry-1.docker.io".into(),
                route: Route::Proxy,
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
                route: Route::Proxy,
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
                route: Route::Direct,
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
