use std::rc::Rc;

use layerscope_core::present::report::LayerReport;
use yew::prelude::*;

use crate::fragment::{TreeMode, ViewState};

#[derive(Properties, PartialEq)]
pub struct FileTreePaneProps {
    /// The layer whose tree is shown.
    pub layer: Option<Rc<LayerReport>>,
    /// The tree's settings from the URL (mode, filter, sort, selected path).
    pub view: ViewState,
}

/// The right pane of the Files tab: the tree of the selected layer. For now it names what it
/// will show; the windowed tree (asked of the worker a window of rows at a time) replaces
/// this body.
#[function_component(FileTreePane)]
pub fn file_tree_pane(props: &FileTreePaneProps) -> Html {
    let Some(layer) = &props.layer else {
        return html! {
            <section class="tree-pane" data-testid="file-tree-pane">
                <p class="empty">{"Pick a layer on the left to see its files."}</p>
            </section>
        };
    };
    let scope = match props.view.mode {
        TreeMode::All => "everything up to this layer",
        TreeMode::Changes => "this layer's changes",
    };
    html! {
        <section class="tree-pane" data-testid="file-tree-pane" aria-label={format!("Files of layer {}", layer.index)}>
            <h2>{format!("Tree of layer {}", layer.index)}</h2>
            <p class="muted">{format!("{scope}; {} entries in the layer", layer.entry_count)}</p>
            if let Some(path) = &props.view.path {
                <p>{"Selected: "}<code data-testid="tree-selected-path">{path.clone()}</code></p>
            }
        </section>
    }
}
