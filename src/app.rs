//! The page's root component: lays out the views and takes files dropped anywhere on the page.
//!
//! Home: the drop zone with the demo and a few well-known images. An image: its header
//! (`ImageSummary`), the tab bar and the shown tab, each tab a route of its own
//! (`fragment::Route`). Keys: `?` lists them, `[` `]` move between layers, `1`..`6` pick a tab.

use web_sys::DragEvent;
use yew::prelude::*;

use crate::components::{
    ConfigTab, DropZone, EfficiencyTab, ErrorBox, FilesTab, Header, HistoryTab, ImagePicker,
    ImageSummary, InspectTab, KeyHelp, LoginForm, ProgressBar, RestorePrompt, SettingsPanel,
    TabBar, TagsTab, WarmUp,
};
use crate::fragment::Tab;
use crate::hooks::{use_analysis, use_keys, KeyAction};
use crate::state::{Origin, PageState};

/// The whole page.
#[function_component(App)]
pub fn app() -> Html {
    let analysis = use_analysis();
    let controls = analysis.controls.clone();
    let dragging = use_state(|| false);
    let keys_shown = use_state(|| false);
    // Until the sample image has run through the page's code once (see `WarmUp`).
    let warming = use_state(|| true);
    let warmed = {
        let warming = warming.clone();
        Callback::from(move |()| warming.set(false))
    };

    let on_key = {
        let keys_shown = keys_shown.clone();
        let show_view = controls.show_view.clone();
        let view = analysis.view.clone();
        let shown_layer = analysis.shown_layer();
        let layer_count = analysis.report.as_ref().map_or(0, |r| r.layers.len());
        // No tab to pick before an image is shown.
        let tabs = if analysis.report.is_some() {
            analysis.tabs()
        } else {
            Vec::new()
        };
        Callback::from(move |action: KeyAction| match action {
            KeyAction::ToggleHelp => keys_shown.set(!*keys_shown),
            KeyAction::Close => keys_shown.set(false),
            KeyAction::PreviousLayer | KeyAction::NextLayer => {
                let Some(shown) = shown_layer else {
                    return;
                };
                let next = match action {
                    KeyAction::PreviousLayer => shown.checked_sub(1),
                    _ => Some(shown + 1).filter(|next| *next < layer_count),
                };
                if let Some(next) = next {
                    show_view.emit(view.on_layer(next));
                }
            }
            KeyAction::Tab(position) => {
                if let Some(tab) = tabs.get(position) {
                    show_view.emit(view.with_tab(*tab));
                }
            }
        })
    };
    use_keys(on_key);
    let settings_open = use_state(|| false);
    let toggle_settings = {
        let settings_open = settings_open.clone();
        Callback::from(move |()| settings_open.set(!*settings_open))
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
        let open_files = controls.open_files.clone();
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            dragging.set(false);
            if let Some(files) = event.data_transfer().and_then(|transfer| transfer.files()) {
                open_files.emit(files);
            }
        })
    };

    let showing = analysis.origin != Origin::Nothing || analysis.awaiting.is_some();
    let route = analysis.route();
    let on_tab = {
        let show_view = controls.show_view.clone();
        let view = analysis.view.clone();
        Callback::from(move |tab: Tab| show_view.emit(view.with_tab(tab)))
    };
    let on_export = {
        let export = controls.export.clone();
        let name = export_file_name(&analysis);
        Callback::from(move |()| export.emit(name.clone()))
    };
    let tab_panel = analysis.report.as_ref().map(|report| {
        let shown = analysis.shown_tab();
        let body = match shown {
            Tab::Files => html! {
                <FilesTab layers={report.layers.clone()} selected={analysis.shown_layer()}
                    streaming={analysis.streaming.clone()}
                    view={analysis.view.clone()} on_view={controls.show_view.clone()} counted={report.overview.complete}
                    tree={analysis.tree_status()}
                    job={analysis.job} ask_tree={controls.ask_tree.clone()} listen_tree={controls.listen_tree.clone()} />
            },
            Tab::History => html! { <HistoryTab overview={report.overview.clone()} /> },
            Tab::Config => html! { <ConfigTab config={report.overview.run_config.clone()} /> },
            Tab::Inspect => html! {
                <InspectTab overview={report.overview.clone()} layers={report.layers.clone()} route={route.clone()} />
            },
            Tab::Efficiency => html! { <EfficiencyTab overview={report.overview.clone()} route={route.clone()} /> },
            Tab::Tags => html! {
                <TagsTab platforms={analysis.platforms.clone()} platform_selected={analysis.platform_selected}
                    on_platform={controls.pick_platform.clone()} tags={analysis.tags.clone()}
                    digests={analysis.tag_digests.clone()} more={analysis.more_tags}
                    current={current_tag(analysis.source_name.as_deref())} on_tag={controls.pick_tag.clone()}
                    on_more={controls.more_tags.clone()} />
            },
        };
        html! {
            <>
                <TabBar tabs={analysis.tabs()} {shown} on_pick={on_tab.clone()} />
                // Keyed by the analysis: another image starts with fresh rows (nothing expanded).
                <div class="tab-panel" role="tabpanel" key={analysis.job.to_string()} data-testid={format!("tab-panel-{}", shown.key())}>{body}</div>
            </>
        }
    });
    let packed = analysis.report.as_ref().map_or(0, |report| {
        let listed = report
            .overview
            .selected_image()
            .map_or(0, |image| image.stored_size);
        if listed > 0 {
            listed
        } else {
            report.layers.iter().map(|layer| layer.stored_size).sum()
        }
    });
    html! {
        <div class={classes!("page", dragging.then_some("dragging"))} {ondragover} {ondragleave} {ondrop}>
            <Header on_submit={controls.open_reference.clone()} note={analysis.reference_note.clone()}
                current={analysis.from_registry.then(|| analysis.source_name.clone()).flatten()}
                on_settings={toggle_settings.clone()} />
            if *settings_open {
                <SettingsPanel settings={analysis.settings.clone()} on_proxy={controls.set_proxy.clone()}
                    on_forget={controls.forget_login.clone()} on_close={toggle_settings} />
            }
            <main>
                <DropZone on_files={controls.open_files.clone()} on_demo={controls.open_demo.clone()} compact={showing} />
                if let Some(awaited) = analysis.awaiting.clone() {
                    <RestorePrompt name={awaited.name} />
                }
                if let Some(message) = analysis.error.clone() {
                    <ErrorBox {message} from_registry={analysis.from_registry} />
                }
                if let Some(note) = analysis.route_note.clone() {
                    <p class="note" data-testid="route-note">{note}</p>
                }
                if let Some(limit) = analysis.allowance.as_ref().filter(|_| analysis.from_registry) {
                    <p class="note" data-testid="allowance">{format!("Pull allowance: {limit}.")}</p>
                }
                if let Some(prompt) = analysis.login.clone() {
                    <LoginForm {prompt} on_login={controls.login.clone()} on_dismiss={controls.dismiss_login.clone()} />
                }
                if analysis.busy() {
                    <ProgressBar progress={analysis.progress.clone()} source_name={analysis.source_name.clone().unwrap_or_default()} on_cancel={controls.cancel.clone()} />
                }
                if !analysis.from_registry && analysis.images.len() > 1 {
                    <ImagePicker images={analysis.images.clone()} selected={analysis.selected} busy={analysis.busy()} on_pick={controls.pick_image.clone()} />
                }
                if let Some(report) = analysis.report.as_ref() {
                    <ImageSummary overview={report.overview.clone()} checks={report.checks.clone()} {packed} busy={analysis.busy()} verifying={analysis.verifying}
                        also={analysis.tags_sharing_digest()}
                        platforms={if analysis.from_registry { analysis.platforms.clone() } else { Vec::new() }}
                        platform_selected={analysis.platform_selected} on_platform={controls.switch_platform.clone()}
                        link={route.as_ref().map(|route| route.to_hash())}
                        pinned={analysis.pinned_reference()} on_pin={controls.pin.clone()}
                        export={analysis.export.clone()} {on_export} />
                }
                {for tab_panel}
                if *keys_shown {
                    <KeyHelp on_close={{ let keys_shown = keys_shown.clone(); Callback::from(move |()| keys_shown.set(false)) }} />
                }
            </main>
            if *warming {
                <WarmUp on_done={warmed} />
            }
            <footer class="foot muted">{"Press "}<kbd>{"?"}</kbd>{" for keys. Nothing you drop leaves this tab."}</footer>
        </div>
    }
}

/// The tag a reference names, if any (`nginx:1.25` -> `1.25`).
fn current_tag(reference: Option<&str>) -> Option<String> {
    let reference = layerscope_core::model::reference::Reference::parse(reference?).ok()?;
    reference.tag().map(str::to_string)
}

/// The downloaded report's name: the image's `repository_tag`, else the archive's name, made
/// safe for a file system (`nginx_1.25.layerscope.json`).
fn export_file_name(state: &PageState) -> String {
    let named = state.report.as_ref().and_then(|report| {
        let row = &report.overview.image_ls;
        (row.repository != "<none>").then(|| format!("{}_{}", row.repository, row.tag))
    });
    let base = named
        .or_else(|| state.source_name.clone())
        .unwrap_or_else(|| "image".to_string());
    let safe: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.layerscope.json")
}
