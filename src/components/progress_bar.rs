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
    // The cancel button is the same element whatever the details, so a click aimed at it
    // lands even while progress updates re-render the bar.
    html! {
        <div class="progress" data-testid="progress" role="status">
            <span class="details">{details(props)}</span>
            {cancel}
        </div>
    }
}

/// Bytes done of the archive and of the current layer, or that the work is starting.
fn details(props: &ProgressBarProps) -> Html {
    let Some(progress) = props.progress.as_ref() else {
        return html! { <span>{format!("Opening {}…", props.source_name)}</span> };
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
        <>
            if max > 0 {
                <progress value={value.to_string()} max={max.to_string()}></progress>
            } else {
                <progress></progress>
            }
            if let Some(layer) = layer { <span class="layer">{layer}</span> }
            <span>{overall}</span>
            if progress.streamed { <span class="muted">{"compressed archive: read once, front to back"}</span> }
            <span class="muted">{progress.message.clone()}</span>
        </>
    }
}
