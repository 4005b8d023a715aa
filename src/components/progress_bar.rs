use layerscope_core::archive::Progress;
use layerscope_core::present::humanize;
use yew::prelude::*;

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
