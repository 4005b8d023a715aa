//! Runs the page's code for a shown image once, on sample data, before the first image comes.
//!
//! Chromium compiles a wasm function the first time it is called, on the thread that calls
//! it. Without this the first overview, progress tick and tree window each paid for compiling
//! the hundreds of functions they run inside the task that handled the worker's message: in a
//! trace of the Debian open, 57 ms of a 67 ms task were `wasm.CompileLazy`. Here the same
//! code runs while the page is idle after its load: the worker's messages are parsed and
//! reduced, then the progress line, the header, the tab bar, the layer list and the Files tab
//! with a window of tree rows are drawn, one stage per task (the compiling is spread over
//! small tasks: the same work in three stages made tasks of 83-120 ms under load, which a
//! user clicking early feels too), into an element that is never put in the document (so no
//! style or layout is done for it and no query finds it), and then taken down.
//!
//! The stages start after the page's first frame, not beside it, and each worker message is
//! parsed in a stage of its own (the small ones first) and applied in another: building the
//! sample, then parsing and reducing all six messages, in one task compiled some 300
//! functions (serde's, the reducer's, sha2's) and took 46-77 ms on a loaded two-core
//! machine. Each stage sets a `performance` mark (`layerscope warm-up: STAGE`), so a trace
//! or a benchmark can tell which stage a task was.

use std::cell::RefCell;
use std::rc::Rc;

use layerscope_core::archive::{Phase, Progress};
use layerscope_core::engine::tar::EntryKind;
use layerscope_core::model::digest::{Digest, DigestRole};
use layerscope_core::present::report::{
    HistoryRow, ImageListing, ImageReport, LayerReport, Verification,
};
use layerscope_core::present::tree_view::{Mark, ModeText, TreeRow};
use layerscope_web::protocol::{TreeAnswer, TreeRequest, WorkerEvent};
use yew::prelude::*;

use super::files_tab::FilesTab;
use super::image_summary::ImageSummary;
use super::layer_list::LayerList;
use super::progress_bar::ProgressBar;
use super::tab_bar::TabBar;
use super::{after_next_frame, after_this_task};
use crate::fragment::ViewState;
use crate::state::{Action, ExportState, OpenView, Origin, PageState, TreeStatus};

/// Rows of the sample tree window: enough to run every kind of row.
const SAMPLE_ROWS: usize = 12;
/// The worker's messages about the sample image (see [`sample_messages`]).
const SAMPLE_MESSAGES: usize = 6;
/// The order the messages are parsed in: the small ones first, so that parsing the overview
/// (an `ImageReport`, the largest decoder) compiles only what they did not.
const PARSE_ORDER: [usize; SAMPLE_MESSAGES] = [1, 2, 5, 0, 4, 3];

#[derive(Properties, PartialEq)]
pub struct WarmUpProps {
    /// Called once every stage has run; the page then stops rendering this.
    pub on_done: Callback<()>,
}

/// What runs next, in order, each in a task of its own.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Stage {
    /// The page's first paint comes first.
    Waiting,
    /// The sample image's report and the worker's messages about it, as JSON.
    Sample,
    /// Worker message [`PARSE_ORDER`]`[n]`, parsed from its JSON.
    Parse(usize),
    /// Worker message `n`, applied to the scratch state.
    Apply(usize),
    /// The progress line.
    Progress,
    /// The image header.
    Summary,
    /// The tab bar.
    Tabs,
    /// The layer list alone (the Files tab's left half).
    Layers,
    /// The Files tab: the layer list and the tree pane, with a window of rows.
    Files,
    /// Everything ran.
    Done,
}

impl Stage {
    fn next(self) -> Stage {
        match self {
            Stage::Waiting => Stage::Sample,
            Stage::Sample => Stage::Parse(0),
            Stage::Parse(n) if n + 1 < SAMPLE_MESSAGES => Stage::Parse(n + 1),
            Stage::Parse(_) => Stage::Apply(0),
            Stage::Apply(n) if n + 1 < SAMPLE_MESSAGES => Stage::Apply(n + 1),
            Stage::Apply(_) => Stage::Progress,
            Stage::Progress => Stage::Summary,
            Stage::Summary => Stage::Tabs,
            Stage::Tabs => Stage::Layers,
            Stage::Layers => Stage::Files,
            Stage::Files | Stage::Done => Stage::Done,
        }
    }
}

/// Draws nothing the user sees; see the module's documentation.
#[function_component(WarmUp)]
pub fn warm_up(props: &WarmUpProps) -> Html {
    let stage = use_state(|| Stage::Waiting);
    let sample = use_mut_ref(Sample::default);
    // Never attached to the document.
    let host = use_memo((), |()| {
        web_sys::window()
            .and_then(|window| window.document())
            .and_then(|document| document.create_element("div").ok())
    });
    {
        let stage = stage.clone();
        let on_done = props.on_done.clone();
        use_effect_with(*stage, move |shown: &Stage| {
            let next = shown.next();
            match *shown {
                Stage::Done => on_done.emit(()),
                Stage::Waiting => after_next_frame(move || stage.set(next)),
                _ => after_this_task(move || stage.set(next)),
            }
        });
    }
    mark(*stage);
    match *stage {
        Stage::Sample => *sample.borrow_mut() = Sample::new(),
        Stage::Parse(n) => sample.borrow_mut().parse(PARSE_ORDER[n]),
        Stage::Apply(n) => sample.borrow_mut().apply(n),
        _ => {}
    }
    let (Some(host), Some(state)) = ((*host).clone(), sample.borrow().shown()) else {
        return Html::default();
    };
    let Some(report) = state.report.as_ref() else {
        return Html::default();
    };
    let drawn = match *stage {
        Stage::Waiting | Stage::Sample | Stage::Parse(_) | Stage::Apply(_) | Stage::Done => {
            Html::default()
        }
        Stage::Progress => html! {
            <ProgressBar progress={state.progress.clone()} source_name="sample" on_cancel={Callback::noop()} />
        },
        Stage::Summary => html! {
            <ImageSummary overview={report.overview.clone()} checks={report.checks.clone()} packed={1} busy=true verifying=true
                on_platform={Callback::noop()} link={Some("#/".to_string())} pinned={None::<String>}
                on_pin={Callback::noop()} export={ExportState::Idle} on_export={Callback::noop()} />
        },
        Stage::Tabs => html! {
            <TabBar tabs={state.tabs()} shown={state.shown_tab()} on_pick={Callback::noop()} />
        },
        Stage::Layers => html! {
            <LayerList layers={report.layers.clone()} selected={state.shown_layer()}
                streaming={vec![(0, (1, 2))]} on_select={Callback::noop()} counted=true />
        },
        Stage::Files => {
            let listener = Rc::new(RefCell::new(None::<Callback<Box<TreeAnswer>>>));
            let listen_tree = {
                let listener = listener.clone();
                Callback::from(move |set: Option<Callback<Box<TreeAnswer>>>| {
                    *listener.borrow_mut() = set;
                })
            };
            let ask_tree = Callback::from(move |request: TreeRequest| {
                let listener = listener.borrow().clone();
                if let (Some(listener), Some(answer)) = (listener, sample_window(request)) {
                    listener.emit(answer);
                }
            });
            html! {
                <FilesTab layers={report.layers.clone()} selected={state.shown_layer()}
                    streaming={vec![(0, (1, 2))]} view={ViewState::default()} on_view={Callback::noop()}
                    counted=true tree={TreeStatus::Ready} job={0} {ask_tree} {listen_tree} />
            }
        }
    };
    create_portal(drawn, host)
}

/// Sets the `performance` mark naming `stage`, for traces and the page benchmark.
fn mark(stage: Stage) {
    if let Some(performance) = web_sys::window().and_then(|window| window.performance()) {
        let _ = performance.mark(&format!("layerscope warm-up: {stage:?}"));
    }
}

/// The scratch state the sample's messages are applied to, one message a stage.
#[derive(Default)]
struct Sample {
    /// The worker's messages as it would post them (JSON), in order.
    messages: Vec<String>,
    /// The messages parsed so far, not applied yet, by their place in `messages`.
    parsed: Vec<Option<WorkerEvent>>,
    /// The state after the messages applied so far.
    state: Option<Rc<PageState>>,
    /// The state before `Done`, while a layer still streams: what the stages draw (the
    /// header is drawn busy, as it is while layers stream).
    streaming: Option<Rc<PageState>>,
}

impl Sample {
    /// The sample's messages, none applied yet.
    fn new() -> Sample {
        let state = Rc::new(PageState::default()).reduce(Action::Started {
            job: 1,
            source_name: "sample".into(),
            selected: 0,
            from_registry: true,
            with_login: false,
            repository: None,
            origin: Origin::Registry {
                reference: "sample:1".into(),
                platform: None,
            },
            view: OpenView::Fresh,
        });
        Sample {
            messages: sample_messages().iter().map(WorkerEvent::to_json).collect(),
            parsed: Vec::new(),
            state: Some(state),
            streaming: None,
        }
    }

    /// Parses message `n` from its JSON.
    fn parse(&mut self, n: usize) {
        if self.parsed.len() < self.messages.len() {
            self.parsed.resize_with(self.messages.len(), || None);
        }
        if let (Some(slot), Some(json)) = (self.parsed.get_mut(n), self.messages.get(n)) {
            *slot = WorkerEvent::from_json(json).ok();
        }
    }

    /// Applies message `n`, parsed before.
    fn apply(&mut self, n: usize) {
        let Some(event) = self.parsed.get_mut(n).and_then(Option::take) else {
            return;
        };
        let Some(state) = self.state.take() else {
            return;
        };
        let done = matches!(event, WorkerEvent::Done { .. });
        let state = state.reduce(Action::Worker { job: 1, event });
        if !done && self.streaming.is_none() && state.progress.is_some() {
            self.streaming = Some(state.clone());
        }
        let _ = state.route().map(|route| route.to_hash());
        self.state = Some(state);
    }

    /// The state the stages draw, once the messages are applied.
    fn shown(&self) -> Option<Rc<PageState>> {
        self.streaming.clone().or_else(|| self.state.clone())
    }
}

/// The worker's messages for an image of two layers, in the order it posts them:
/// [`SAMPLE_MESSAGES`] of them.
fn sample_messages() -> [WorkerEvent; SAMPLE_MESSAGES] {
    let digest = Digest::sha256_of(b"layerscope warm-up");
    let layers: Vec<LayerReport> = (0..2)
        .map(|index| LayerReport {
            index,
            digest: Some(digest.clone()),
            diff_id: Some(digest.clone()),
            stored_size: 1,
            size_bytes: 2,
            command: "RUN true".into(),
            scanned: index == 0,
            ..Default::default()
        })
        .collect();
    let report = ImageReport {
        images: vec![ImageListing {
            manifest_digest: Some(digest.clone()),
            config_digest: Some(digest.clone()),
            tags: vec!["sample:1".into(), "sample:2".into()],
            ..Default::default()
        }],
        history: vec![HistoryRow::default(); 2],
        layers,
        verification: vec![Verification::digest(
            DigestRole::DiffId,
            "layer 0",
            &digest,
            &digest,
        )],
        unverified_layers: vec![1],
        warnings: vec!["sample".into()],
        ..Default::default()
    };
    let progress = Progress {
        phase: Phase::ScanningLayers,
        bytes_read: 1,
        total_bytes: Some(2),
        streamed: true,
        layer: Some((1, 2)),
        layer_bytes: Some((1, 2)),
        message: "sample".into(),
    };
    [
        WorkerEvent::Overview {
            report: Box::new(report.clone()),
        },
        WorkerEvent::Progress(progress.clone()),
        WorkerEvent::LayerScanned {
            layer: Box::new(report.layers[1].clone()),
        },
        WorkerEvent::Progress(progress),
        WorkerEvent::Done {
            report: Box::new(ImageReport {
                complete: true,
                ..report.clone()
            }),
        },
        WorkerEvent::LayerVerified {
            layer: 1,
            rows: report.verification.clone(),
            blob_digest: Some(digest),
            unverified_layers: 0,
        },
    ]
}

/// The worker's answer to a window request, parsed from its JSON: a few rows of every kind.
fn sample_window(request: TreeRequest) -> Option<Box<TreeAnswer>> {
    let TreeRequest::Window { id, view, .. } = request else {
        return None;
    };
    let marks = [Mark::Added, Mark::Modified, Mark::Removed, Mark::Unchanged];
    let rows = (0..SAMPLE_ROWS)
        .map(|row| {
            let is_dir = row % 3 == 0;
            let kind = match row % 3 {
                0 => EntryKind::Directory,
                1 => EntryKind::File,
                _ => EntryKind::Symlink,
            };
            TreeRow {
                row,
                name: format!("entry-{row}").into(),
                path: format!("/sample/entry-{row}"),
                depth: (row % 2) as u32,
                kind,
                mode: ModeText::new(kind, 0o755),
                uid: 0,
                gid: 0,
                size: row as u64,
                size_text: format!("{row}B"),
                link_target: (kind == EntryKind::Symlink).then(|| "entry-1".into()),
                mark: marks[row % marks.len()],
                layer: 0,
                is_dir,
                has_children: is_dir,
                expanded: row == 0,
            }
        })
        .collect();
    let event = WorkerEvent::Tree {
        answer: Box::new(TreeAnswer::Rows {
            id,
            view,
            total: SAMPLE_ROWS,
            start: 0,
            rows,
            focus: None,
            missing: None,
            entries: SAMPLE_ROWS,
        }),
    };
    match WorkerEvent::from_json(&event.to_json()) {
        Ok(WorkerEvent::Tree { answer }) => Some(answer),
        _ => None,
    }
}
