use std::rc::Rc;

use layerscope_core::present::report::ImageReport;
use yew::prelude::*;

use super::created::created;

#[derive(Properties, PartialEq)]
pub struct ImageSummaryProps {
    /// The report without its layers (see `state::Report`).
    pub overview: Rc<ImageReport>,
}

/// The `docker image ls` row of the image, with its digest.
#[function_component(ImageSummary)]
pub fn image_summary(props: &ImageSummaryProps) -> Html {
    let report = &props.overview;
    let row = &report.image_ls;
    let listing = report.selected_image();
    // A legacy `docker save` archive has no manifest digest; its config digest is the image's name.
    let digest = listing.and_then(|image| {
        image
            .manifest_digest
            .as_ref()
            .map(|digest| ("DIGEST", digest.to_string()))
            .or(image
                .config_digest
                .as_ref()
                .map(|digest| ("CONFIG", digest.to_string())))
    });
    let other_tags: Vec<String> = listing
        .map(|image| image.tags.iter().skip(1).cloned().collect())
        .unwrap_or_default();
    let checked = report.verification.len();
    let verified = report.verification.iter().filter(|check| check.ok).count();
    html! {
        <section class="summary" data-testid="image-summary">
            <div class="title">
                <h1>{format!("{}:{}", row.repository, row.tag)}</h1>
                if !other_tags.is_empty() { <span class="muted">{format!("also: {}", other_tags.join(", "))}</span> }
            </div>
            <dl class="facts">
                <div class="fact"><dt>{"IMAGE ID"}</dt><dd class="mono">{row.image_id.clone()}</dd></div>
                <div class="fact"><dt>{"CREATED"}</dt><dd>{created(row.created.as_deref())}</dd></div>
                <div class="fact"><dt>{"SIZE"}</dt>{size_cell(report.complete, row.size_bytes, &row.size)}</div>
                if let Some((label, digest)) = digest {
                    <div class="fact"><dt>{label}</dt><dd class="mono digest" title={digest.clone()}>{digest}</dd></div>
                }
                if checked > 0 {
                    <div class="fact">
                        <dt>{"VERIFIED"}</dt>
                        <dd class={classes!((verified < checked).then_some("bad"))}>{format!("{verified} of {checked} digests")}</dd>
                    </div>
                }
            </dl>
            if !report.warnings.is_empty() {
                <ul class="warnings">{ for report.warnings.iter().map(|warning| html! { <li>{warning.clone()}</li> }) }</ul>
            }
        </section>
    }
}

/// The image size, or a placeholder while layers are still being scanned.
fn size_cell(complete: bool, bytes: u64, text: &str) -> Html {
    if complete {
        html! { <dd title={format!("{bytes} bytes")}>{text.to_string()}</dd> }
    } else {
        html! { <dd class="muted" title="known once every layer is scanned">{"…"}</dd> }
    }
}
