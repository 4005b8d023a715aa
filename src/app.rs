//! The page's root component: lays out the views and takes files dropped anywhere on the page.

use web_sys::DragEvent;
use yew::prelude::*;

use crate::components::{
    DropZone, ErrorBox, Header, HistoryTable, ImagePicker, ImageSummary, LayerTable, LoginForm,
    PlatformTable, ProgressBar, SettingsPanel, TagList,
};
use crate::hooks::use_analysis;

/// The whole page.
#[function_component(App)]
pub fn app() -> Html {
    let analysis = use_analysis();
    let controls = analysis.controls.clone();
    let dragging = use_state(|| false);
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

    let report = analysis.report.clone();
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
                <DropZone on_files={controls.open_files.clone()} on_demo={controls.open_demo.clone()} compact={analysis.source_name.is_some()} />
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
                if analysis.busy {
                    <ProgressBar progress={analysis.progress.clone()} source_name={analysis.source_name.clone().unwrap_or_default()} on_cancel={controls.cancel.clone()} />
                }
                if analysis.from_registry && analysis.platforms.len() > 1 {
                    <PlatformTable platforms={analysis.platforms.clone()} selected={analysis.platform_selected} on_pick={controls.pick_platform.clone()} />
                }
                if !analysis.from_registry && analysis.images.len() > 1 {
                    <ImagePicker images={analysis.images.clone()} selected={analysis.selected} busy={analysis.busy} on_pick={controls.pick_image.clone()} />
                }
                if let Some(report) = report {
                    <ImageSummary overview={report.overview.clone()} />
                    <LayerTable layers={report.layers} active={analysis.progress.as_ref().and_then(|p| p.layer)} />
                    <HistoryTable overview={report.overview} />
                }
                if analysis.from_registry && !analysis.tags.is_empty() {
                    <TagList tags={analysis.tags.clone()} digests={analysis.tag_digests.clone()} more={analysis.more_tags} current={current_tag(analysis.source_name.as_deref())} on_pick={controls.pick_tag.clone()} on_more={controls.more_tags.clone()} />
                }
            </main>
        </div>
    }
}

/// The tag a reference names, if any (`nginx:1.25` -> `1.25`).
fn current_tag(reference: Option<&str>) -> Option<String> {
    let reference = layerscope_core::model::reference::Reference::parse(reference?).ok()?;
    reference.tag().map(str::to_string)
}
