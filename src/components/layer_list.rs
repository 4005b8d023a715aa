use std::rc::Rc;

use layerscope_core::present::humanize;
use layerscope_core::present::report::LayerReport;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct LayerListProps {
    pub layers: Vec<Rc<LayerReport>>,
    /// The layer the tree shows.
    pub selected: Option<usize>,
    /// The layers being scanned now (several at once in a pool of workers), with their bytes
    /// done and total (0 when not known).
    pub streaming: Vec<(usize, (u64, u64))>,
    /// Called with a layer's index when it is picked.
    pub on_select: Callback<usize>,
    /// The change counts are known (they come with the finished report).
    pub counted: bool,
}

/// The layers, bottom (0) first: index, a size bar proportional to the largest layer, the
/// change counts, the command on one line (the whole of it on expand) and the digest.
#[function_component(LayerList)]
pub fn layer_list(props: &LayerListProps) -> Html {
    let largest = props
        .layers
        .iter()
        .map(|layer| layer.size_bytes)
        .max()
        .unwrap_or(0);
    html! {
        <section class="layers" aria-label="Layers">
            <h2>{format!("Layers ({})", props.layers.len())}<span class="keys muted">{" [ and ] move"}</span></h2>
            <ol class="layer-list">
                { for props.layers.iter().map(|layer| {
                    let streaming = props.streaming.iter().find(|(index, _)| *index == layer.index).map(|(_, bytes)| *bytes);
                    html! {
                        <LayerRow layer={layer.clone()} {largest} selected={props.selected == Some(layer.index)}
                            {streaming} on_select={props.on_select.clone()}
                            counted={props.counted} />
                    }
                }) }
            </ol>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct LayerRowProps {
    layer: Rc<LayerReport>,
    /// Size of the largest layer, the full width of the size bar.
    largest: u64,
    selected: bool,
    /// Bytes done and total while this layer is being scanned.
    streaming: Option<(u64, u64)>,
    on_select: Callback<usize>,
    counted: bool,
}

/// A component of its own so that a row whose layer, bar scale and state are unchanged is not
/// rendered again when another layer is scanned.
#[function_component(LayerRow)]
fn layer_row(props: &LayerRowProps) -> Html {
    let expanded = use_state(|| false);
    let layer = &props.layer;
    let digest = layer
        .digest
        .as_ref()
        .or(layer.diff_id.as_ref())
        .map(ToString::to_string)
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
        .checked_div(props.largest)
        .unwrap_or(0);
    let index = layer.index;
    let onclick = props.on_select.reform(move |_: MouseEvent| index);
    let onkeydown = {
        let on_select = props.on_select.clone();
        Callback::from(move |event: KeyboardEvent| {
            if event.key() == "Enter" || event.key() == " " {
                event.prevent_default();
                on_select.emit(index);
            }
        })
    };
    let toggle = {
        let expanded = expanded.clone();
        Callback::from(move |event: MouseEvent| {
            // Expanding a row does not select it.
            event.stop_propagation();
            expanded.set(!*expanded);
        })
    };
    let command = if layer.command.is_empty() {
        html! { <span class="muted">{"(no history entry)"}</span> }
    } else {
        html! { {layer.command.clone()} }
    };
    html! {
        <li data-testid="layer-row" tabindex="0" aria-current={props.selected.then_some("true")}
            class={classes!(props.selected.then_some("selected"), props.streaming.is_some().then_some("streaming"),
                (!layer.scanned).then_some("pending"), (*expanded).then_some("expanded"))}
            {onclick} {onkeydown}>
            <div class="layer-line">
                <span class="index">{layer.index}</span>
                <span class="size" title={size_title}><span class="bar" style={format!("width:{bar}%")}></span><span class="value">{size}</span></span>
                if props.counted {
                    <span class="changes mono" data-testid="layer-changes" title={format!("{} added, {} modified, {} removed", layer.added, layer.modified, layer.removed)}>
                        <span class="added">{format!("+{}", layer.added)}</span>{" "}
                        <span class="modified">{format!("~{}", layer.modified)}</span>{" "}
                        <span class="removed">{format!("-{}", layer.removed)}</span>
                    </span>
                }
                <span class="command mono" data-testid="layer-command" title={layer.command.clone()}>{command}</span>
                <button type="button" class="expand" aria-expanded={expanded.to_string()} data-testid="layer-expand"
                    aria-label={if *expanded { "Show the command on one line" } else { "Show the whole command" }}
                    onclick={toggle}>{if *expanded { "▾" } else { "▸" }}</button>
            </div>
            <div class="digest mono muted" title={digest.clone()}>{digest}</div>
            if let Some((done, total)) = props.streaming {
                if total > 0 {
                    <progress class="layer-progress" value={done.to_string()} max={total.to_string()}
                        title={format!("{} of {}", humanize::size(done), humanize::size(total))}></progress>
                } else {
                    <progress class="layer-progress"></progress>
                }
            }
        </li>
    }
}
