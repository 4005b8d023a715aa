use std::rc::Rc;

use layerscope_core::present::humanize;
use layerscope_core::present::report::LayerReport;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct LayerTableProps {
    pub layers: Vec<Rc<LayerReport>>,
    /// The layer being scanned now and the layer count.
    pub active: Option<(usize, usize)>,
}

/// One row per layer: index, size, digest, command.
#[function_component(LayerTable)]
pub fn layer_table(props: &LayerTableProps) -> Html {
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
                    { for props.layers.iter().map(|layer| html! {
                        <LayerRow layer={layer.clone()} {largest} streaming={active == Some(layer.index)} />
                    }) }
                </tbody>
            </table>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct LayerRowProps {
    layer: Rc<LayerReport>,
    /// Size of the largest layer, the full width of the size bar.
    largest: u64,
    /// True while this layer is being scanned.
    streaming: bool,
}

/// A component of its own so that a row whose layer, bar scale and state are unchanged is not
/// rendered again when another layer is scanned.
#[function_component(LayerRow)]
fn layer_row(props: &LayerRowProps) -> Html {
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
    html! {
        <tr data-testid="layer-row" tabindex="0" class={classes!(props.streaming.then_some("streaming"), (!layer.scanned).then_some("pending"))}>
            <td class="num">{layer.index}</td>
            <td class="num size" title={size_title}>
                <span class="bar" style={format!("width:{bar}%")}></span>{size}
            </td>
            <td class="mono digest" title={digest.clone()}>{digest}</td>
            <td class="mono command" title={layer.command.clone()}>{layer.command.clone()}</td>
        </tr>
    }
}
