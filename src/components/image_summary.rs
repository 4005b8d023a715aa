use std::rc::Rc;

use layerscope_core::present::humanize;
use layerscope_core::present::report::{ImageListing, ImageReport};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::copy_button::CopyButton;
use super::created::created;
use super::verify_badge::VerifyBadge;
use crate::state::{Checks, ExportState};

#[derive(Properties, PartialEq)]
pub struct ImageSummaryProps {
    /// The report without its layers and checks (see `state::Report`).
    pub overview: Rc<ImageReport>,
    /// The digests checked so far.
    pub checks: Checks,
    /// Bytes of the layers as stored (compressed).
    pub packed: u64,
    /// Layers are still streaming.
    pub busy: bool,
    /// The layers' digests are being checked after the tree (in the worker pool).
    #[prop_or_default]
    pub verifying: bool,
    /// Other tags naming the same digest.
    #[prop_or_default]
    pub also: Vec<String>,
    /// The platforms of a registry index (empty otherwise), the shown one at `platform_selected`.
    #[prop_or_default]
    pub platforms: Vec<ImageListing>,
    #[prop_or_default]
    pub platform_selected: usize,
    /// Called with the platform picked (`linux/arm64/v8`).
    pub on_platform: Callback<String>,
    /// The fragment of this view (`#/image/...`), for "copy link".
    pub link: Option<String>,
    /// The reference pinned to its digest, when the shown one is a tag.
    pub pinned: Option<String>,
    pub on_pin: Callback<String>,
    pub export: ExportState,
    pub on_export: Callback<()>,
}

/// The image header: the `docker image ls` row, sizes, digests with copy buttons, the
/// platform picker, efficiency, the verification badge, and the link and report actions.
#[function_component(ImageSummary)]
pub fn image_summary(props: &ImageSummaryProps) -> Html {
    let report = &props.overview;
    let row = &report.image_ls;
    let listing = report.selected_image();
    let manifest_digest = listing.and_then(|image| image.manifest_digest.as_ref());
    // A legacy `docker save` archive has no manifest digest; its config digest is the image's name.
    let config_digest = listing.and_then(|image| image.config_digest.as_ref());
    let mut also: Vec<String> = listing
        .map(|image| image.tags.iter().skip(1).cloned().collect())
        .unwrap_or_default();
    also.extend(props.also.iter().cloned());
    let size = if report.complete {
        html! { <dd title={format!("{} bytes", row.size_bytes)}>{row.size.clone()}</dd> }
    } else {
        html! { <dd class="muted" title="known once every layer is scanned">{"…"}</dd> }
    };
    let packed = (props.packed > 0).then(|| {
        html! { <dd class="muted" title={format!("{} bytes as stored", props.packed)}>{format!("({} packed)", humanize::size(props.packed))}</dd> }
    });
    let digest_fact = |label: &'static str,
                       what: &'static str,
                       digest: String,
                       testid: &'static str| {
        html! {
            <div class="fact">
                <dt>{label}</dt>
                <dd class="mono digest" data-testid={testid} title={digest.clone()}>{digest.clone()}</dd>
                <dd><CopyButton text={digest} label={format!("Copy the {what} digest")} /></dd>
            </div>
        }
    };
    let platform_picker = (props.platforms.len() > 1).then(|| {
        let onchange = props.on_platform.reform(|event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            select.value()
        });
        html! {
            <label class="platform-picker">
                <span class="visually-hidden">{"Platform"}</span>
                <select data-testid="platform-picker" {onchange} aria-label="Platform">
                { for props.platforms.iter().enumerate().map(|(position, image)| {
                    let platform = image.platform.clone().unwrap_or_default();
                    html! {
                        <option value={platform.clone()} selected={position == props.platform_selected}>{platform}</option>
                    }
                }) }
                </select>
            </label>
        }
    });
    let efficiency = report.efficiency.as_ref().map(|figures| {
        html! {
            <div class="fact"><dt>{"EFFICIENCY"}</dt><dd title="dive's efficiency score">{humanize::percent(figures.score)}</dd></div>
        }
    });
    html! {
        <section class="summary" data-testid="image-summary">
            <div class="title">
                <h1>{format!("{}:{}", row.repository, row.tag)}</h1>
                if !also.is_empty() { <span class="muted" data-testid="also-tags">{format!("also: {}", also.join(", "))}</span> }
                {platform_picker}
                <span class="spacer"></span>
                <Actions link={props.link.clone()} pinned={props.pinned.clone()} on_pin={props.on_pin.clone()}
                    export={props.export.clone()} on_export={props.on_export.clone()} complete={report.complete} />
            </div>
            <dl class="facts">
                <div class="fact"><dt>{"IMAGE ID"}</dt><dd class="mono">{row.image_id.clone()}</dd></div>
                <div class="fact"><dt>{"CREATED"}</dt><dd>{created(row.created.as_deref())}</dd></div>
                <div class="fact"><dt>{"SIZE"}</dt>{size}{for packed}</div>
                if !report.run_config.platform.is_empty() && props.platforms.len() <= 1 {
                    <div class="fact"><dt>{"PLATFORM"}</dt><dd class="mono">{report.run_config.platform.clone()}</dd></div>
                }
                {for efficiency}
            </dl>
            <dl class="facts">
                if let Some(digest) = manifest_digest {
                    {digest_fact("DIGEST", "manifest", digest.to_string(), "manifest-digest")}
                } else if let Some(digest) = config_digest {
                    {digest_fact("CONFIG", "config", digest.to_string(), "config-digest")}
                }
                if let Some(digest) = &report.index_digest {
                    {digest_fact("INDEX", "index", digest.to_string(), "index-digest")}
                }
                <div class="fact">
                    <VerifyBadge checks={props.checks.clone()} complete={report.complete}
                        busy={props.busy || props.verifying} />
                </div>
            </dl>
            if !report.warnings.is_empty() {
                <ul class="warnings">{ for report.warnings.iter().map(|warning| html! { <li>{warning.clone()}</li> }) }</ul>
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ActionsProps {
    link: Option<String>,
    pinned: Option<String>,
    on_pin: Callback<String>,
    export: ExportState,
    on_export: Callback<()>,
    complete: bool,
}

/// "copy link", "pin" and "Download report".
#[function_component(Actions)]
fn actions(props: &ActionsProps) -> Html {
    let url = props.link.as_ref().map(|hash| {
        let here = web_sys::window()
            .and_then(|window| window.location().href().ok())
            .unwrap_or_default();
        let page = here.split('#').next().unwrap_or_default().to_string();
        format!("{page}{hash}")
    });
    let pin = props.pinned.clone().map(|reference| {
        let onclick = {
            let reference = reference.clone();
            props.on_pin.reform(move |_: MouseEvent| reference.clone())
        };
        html! {
            <button type="button" data-testid="pin" title={format!("Name the image by its digest: {reference}")} {onclick}>{"pin digest"}</button>
        }
    });
    let export = match &props.export {
        ExportState::Idle | ExportState::Failed(_) => html! {
            <button type="button" data-testid="export" disabled={!props.complete}
                title={if props.complete { "The same JSON document as layerscope inspect --json" } else { "Available once every layer is read" }}
                onclick={props.on_export.reform(|_: MouseEvent| ())}>{"Download report"}</button>
        },
        ExportState::Preparing => {
            html! { <button type="button" disabled=true>{"Preparing report…"}</button> }
        }
        ExportState::Ready {
            url,
            file_name,
            bytes,
        } => html! {
            <a class="button" data-testid="export-link" href={url.clone()} download={file_name.clone()}
                title={format!("{bytes} bytes")}>{format!("{file_name} ({})", layerscope_core::present::humanize::size(*bytes as u64))}</a>
        },
    };
    html! {
        <span class="actions">
            if let Some(url) = url {
                <CopyButton text={url} label="Copy a link to this view" testid="copy-link" caption="copy link" />
            }
            {for pin}
            {export}
            if let ExportState::Failed(message) = &props.export {
                <span class="export-error" data-testid="export-error" role="alert">{message.clone()}</span>
            }
        </span>
    }
}
