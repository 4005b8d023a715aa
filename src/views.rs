//! The page's components. Each renders one part of the state; text from archives is always
//! rendered as text (never as HTML), and sizes and times are formatted by the core.

use std::rc::Rc;

use layerscope_core::archive::Progress;
use layerscope_core::digest::Digest;
use layerscope_core::humanize::{self, Timestamp};
use layerscope_core::report::{ImageListing, ImageReport, LayerReport};
use web_sys::{FileList, HtmlInputElement};
use yew::prelude::*;

/// Props of [`Header`].
#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    /// Called with the text of the reference box on submit.
    pub on_submit: Callback<String>,
    /// A note to show under the box.
    pub note: Option<String>,
}

/// The header: the name and the reference box.
#[function_component(Header)]
pub fn header(props: &HeaderProps) -> Html {
    let input = use_node_ref();
    let onsubmit = {
        let input = input.clone();
        let on_submit = props.on_submit.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if let Some(input) = input.cast::<HtmlInputElement>() {
                on_submit.emit(input.value());
            }
        })
    };
    html! {
        <header class="top">
            <form class="reference" {onsubmit}>
                <span class="brand">{"layerscope"}</span>
                <input ref={input} type="text" name="reference" data-testid="ref-input" spellcheck="false"
                    autocomplete="off" placeholder="image reference, e.g. nginx:1.17.6" aria-label="Image reference" />
                <button type="submit">{"Open"}</button>
            </form>
            if let Some(note) = props.note.clone() {
                <p class="note" data-testid="ref-note" role="status">{note}</p>
            }
        </header>
    }
}

/// Props of [`DropZone`].
#[derive(Properties, PartialEq)]
pub struct DropZoneProps {
    /// Called with the files chosen in the file input.
    pub on_files: Callback<FileList>,
    /// Called when "Open demo image" is pressed.
    pub on_demo: Callback<()>,
    /// True once something is shown: the zone shrinks to one line.
    pub compact: bool,
}

/// The drop zone with its file input and the demo button.
#[function_component(DropZone)]
pub fn drop_zone(props: &DropZoneProps) -> Html {
    let onchange = {
        let on_files = props.on_files.clone();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            if let Some(files) = input.files() {
                on_files.emit(files);
            }
            // Choosing the same file again should read it again.
            input.set_value("");
        })
    };
    let on_demo = props.on_demo.reform(|_: MouseEvent| ());
    html! {
        <section class={classes!("drop-zone", props.compact.then_some("compact"))} data-testid="drop-zone">
            <label class="choose">
                <span>{"Drop a "}<code>{"docker save"}</code>{" or OCI archive anywhere on this page, or "}
                    <span class="link">{"choose a file"}</span></span>
                <input type="file" data-testid="file-input" {onchange} />
            </label>
            <p class="private">{"Nothing you drop leaves this tab."}</p>
            <p class="try">{"Try: "}<button type="button" data-testid="open-demo" onclick={on_demo}>{"Open demo image"}</button></p>
        </section>
    }
}

/// Props of [`ErrorBox`].
#[derive(Properties, PartialEq)]
pub struct ErrorBoxProps {
    pub message: String,
}

/// What went wrong, and what to try next.
#[function_component(ErrorBox)]
pub fn error_box(props: &ErrorBoxProps) -> Html {
    html! {
        <div class="error" data-testid="error" role="alert">
            <p>{props.message.clone()}</p>
            <p class="hint">{"Drop another archive or choose one to try again."}</p>
        </div>
    }
}

/// Props of [`ProgressBar`].
#[derive(Properties, PartialEq)]
pub struct ProgressBarProps {
    /// The latest progress, if any arrived yet.
    pub progress: Option<Progress>,
    pub source_name: String,
    /// Called when the user stops the work.
    pub on_cancel: Callback<()>,
}

/// Bytes done of the archive and of the current layer while a worker reads.
#[function_component(ProgressBar)]
pub fn progress_bar(props: &ProgressBarProps) -> Html {
    let cancel = html! {
        <button type="button" class="cancel" data-testid="cancel" onclick={props.on_cancel.reform(|_: MouseEvent| ())}>{"Cancel"}</button>
    };
    let Some(progress) = props.progress.as_ref() else {
        return html! {
            <div class="progress" data-testid="progress" role="status">
                <span>{format!("Opening {}…", props.source_name)}</span>{cancel}
            </div>
        };
    };
    let overall = match progress.total_bytes {
        Some(total) => format!(
            "{} / {} read",
            humanize::size(progress.bytes_read),
            humanize::size(total)
        ),
        None => format!("{} read", humanize::size(progress.bytes_read)),
    };
    let layer = progress.layer.map(|(index, count)| {
        let bytes = progress
            .layer_bytes
            .map(|(done, total)| format!(": {} / {}", humanize::size(done), humanize::size(total)))
            .unwrap_or_default();
        format!("layer {} of {count}{bytes}", index + 1)
    });
    let (value, max) = match (progress.layer_bytes, progress.total_bytes) {
        (Some((done, total)), _) if total > 0 => (done, total),
        (_, Some(total)) if total > 0 => (progress.bytes_read, total),
        _ => (0, 0),
    };
    html! {
        <div class="progress" data-testid="progress" role="status">
            if max > 0 {
                <progress value={value.to_string()} max={max.to_string()}></progress>
            } else {
                <progress></progress>
            }
            if let Some(layer) = layer { <span class="layer">{layer}</span> }
            <span>{overall}</span>
            if progress.streamed { <span class="muted">{"compressed archive: read once, front to back"}</span> }
            <span class="muted">{progress.message.clone()}</span>
            {cancel}
        </div>
    }
}

/// Props of [`ImagePicker`].
#[derive(Properties, PartialEq)]
pub struct ImagePickerProps {
    pub images: Vec<ImageListing>,
    pub selected: usize,
    pub busy: bool,
    /// Called with the position of the picked image.
    pub on_pick: Callback<usize>,
}

/// The archive's images, when there are several; one click analyses another.
#[function_component(ImagePicker)]
pub fn image_picker(props: &ImagePickerProps) -> Html {
    html! {
        <nav class="images" aria-label="Images in this archive">
            <span class="label">{format!("{} images in this archive:", props.images.len())}</span>
            { for props.images.iter().enumerate().map(|(position, image)| {
                let on_pick = props.on_pick.reform(move |_: MouseEvent| position);
                let current = position == props.selected;
                html! {
                    <button type="button" data-testid="image-choice" class={classes!(current.then_some("current"))}
                        aria-pressed={current.to_string()} onclick={on_pick}>
                        {image_name(image)}
                    </button>
                }
            }) }
        </nav>
    }
}

fn image_name(image: &ImageListing) -> String {
    match image.tags.first() {
        Some(tag) => tag.clone(),
        None => image
            .config_digest
            .as_deref()
            .or(image.manifest_digest.as_deref())
            .map(short_digest)
            .unwrap_or_else(|| format!("image {}", image.index + 1)),
    }
}

/// Props shared by the views of one report.
#[derive(Properties, PartialEq)]
pub struct ReportProps {
    pub report: Rc<ImageReport>,
}

/// The `docker image ls` row of the image, with its digest.
#[function_component(ImageSummary)]
pub fn image_summary(props: &ReportProps) -> Html {
    let report = &props.report;
    let row = &report.image_ls;
    let listing = report.selected_image();
    // A legacy `docker save` archive has no manifest digest; its config digest is the image's name.
    let digest = listing.and_then(|image| {
        image
            .manifest_digest
            .clone()
            .map(|digest| ("DIGEST", digest))
            .or(image.config_digest.clone().map(|digest| ("CONFIG", digest)))
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

/// Props of [`LayerList`].
#[derive(Properties, PartialEq)]
pub struct LayerListProps {
    pub layers: Vec<Rc<LayerReport>>,
    /// The layer being scanned now and the layer count.
    pub active: Option<(usize, usize)>,
}

/// One row per layer: index, size, digest, command.
#[function_component(LayerList)]
pub fn layer_list(props: &LayerListProps) -> Html {
    let largest = props
        .layers
        .iter()
        .map(|layer| layer.size_bytes)
        .max()
        .unwrap_or(0);
    let active = props.active.map(|(index, _)| index);
    html! {
        <section class="layers">
            <h2>{format!("Layers ({})", props.layers.len())}</h2>
            <table>
                <thead><tr><th class="num">{"#"}</th><th class="num">{"SIZE"}</th><th>{"DIGEST"}</th><th>{"COMMAND"}</th></tr></thead>
                <tbody>
                    { for props.layers.iter().map(|layer| layer_row(layer, largest, active == Some(layer.index))) }
                </tbody>
            </table>
        </section>
    }
}

fn layer_row(layer: &LayerReport, largest: u64, streaming: bool) -> Html {
    let digest = layer
        .digest
        .clone()
        .or(layer.diff_id.clone())
        .unwrap_or_default();
    let (size, size_title) = if layer.scanned {
        (
            humanize::size(layer.size_bytes),
            format!(
                "{} bytes of files; {} bytes stored",
                layer.size_bytes, layer.stored_size
            ),
        )
    } else {
        (
            "…".to_string(),
            format!("{} bytes stored; not scanned yet", layer.stored_size),
        )
    };
    let bar = layer
        .size_bytes
        .saturating_mul(100)
        .checked_div(largest)
        .unwrap_or(0);
    html! {
        <tr data-testid="layer-row" tabindex="0" class={classes!(streaming.then_some("streaming"), (!layer.scanned).then_some("pending"))}>
            <td class="num">{layer.index}</td>
            <td class="num size" title={size_title}>
                <span class="bar" style={format!("width:{bar}%")}></span>{size}
            </td>
            <td class="mono digest" title={digest.clone()}>{digest}</td>
            <td class="mono command" title={layer.command.clone()}>{layer.command.clone()}</td>
        </tr>
    }
}

/// The `docker history` table, newest first.
#[function_component(HistoryTable)]
pub fn history_table(props: &ReportProps) -> Html {
    html! {
        <section class="history">
            <h2>{"History"}</h2>
            <table>
                <thead><tr><th>{"IMAGE"}</th><th>{"CREATED"}</th><th>{"CREATED BY"}</th><th class="num">{"SIZE"}</th><th>{"COMMENT"}</th></tr></thead>
                <tbody>
                    { for props.report.history.iter().map(|row| html! {
                        <tr data-testid="history-row" tabindex="0" class={classes!(row.empty_layer.then_some("empty"))}>
                            <td class="mono">{row.image.clone()}</td>
                            <td>{created(row.created.as_deref())}</td>
                            <td class="mono command" title={row.created_by.clone()}>{row.created_by.clone()}</td>
                            if props.report.complete || row.empty_layer {
                                <td class="num" title={format!("{} bytes", row.size)}>{humanize::size(row.size)}</td>
                            } else {
                                <td class="num muted" title="not scanned yet">{"…"}</td>
                            }
                            <td>{row.comment.clone()}</td>
                        </tr>
                    }) }
                </tbody>
            </table>
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

/// A creation time, relative (`4 weeks ago`) with the absolute time on hover.
fn created(rfc3339: Option<&str>) -> Html {
    let Some(text) = rfc3339 else {
        return html! { <span class="muted">{"unknown"}</span> };
    };
    let now = (js_sys::Date::now() / 1000.0) as i64;
    match Timestamp::parse(text) {
        Ok(time) => {
            html! { <time datetime={text.to_string()} title={text.to_string()}>{humanize::ago(time.unix, now)}</time> }
        }
        Err(_) => html! { <span title="not an RFC 3339 time">{text.to_string()}</span> },
    }
}

/// The 12-digit short form docker prints, from the core's digest parser.
fn short_digest(digest: &str) -> String {
    Digest::parse(digest)
        .map(|digest| digest.short().to_string())
        .unwrap_or_else(|_| digest.to_string())
}
