use std::rc::Rc;

use layerscope_core::present::report::LayerReport;
use layerscope_web::protocol::{TreeAnswer, TreeRequest};
use yew::prelude::*;

use super::file_tree_pane::FileTreePane;
use super::layer_list::LayerList;
use crate::fragment::ViewState;
use crate::state::TreeStatus;

#[derive(Properties, PartialEq)]
pub struct FilesTabProps {
    pub layers: Vec<Rc<LayerReport>>,
    /// The layer shown (the view's, else the top one).
    pub selected: Option<usize>,
    /// The layers being scanned, with their bytes done and total.
    pub streaming: Vec<(usize, (u64, u64))>,
    pub view: ViewState,
    pub on_view: Callback<ViewState>,
    /// The finished report's change counts are in the rows (and the worker holds the trees).
    pub counted: bool,
    /// Whether the tree can be shown, and why not when it cannot.
    pub tree: TreeStatus,
    /// The analysis shown, so a new one starts a new tree.
    pub job: u64,
    /// Questions to the image's worker, and where its answers go.
    pub ask_tree: Callback<TreeRequest>,
    pub listen_tree: Callback<Option<Callback<Box<TreeAnswer>>>>,
}

/// Layers on the left, the selected layer's tree on the right.
#[function_component(FilesTab)]
pub fn files_tab(props: &FilesTabProps) -> Html {
    let on_select = {
        let view = props.view.clone();
        props
            .on_view
            .reform(move |layer: usize| view.on_layer(layer))
    };
    let layer = props
        .selected
        .and_then(|index| props.layers.get(index).cloned());
    html! {
        <div class="files-tab">
            <LayerList layers={props.layers.clone()} selected={props.selected} streaming={props.streaming.clone()}
                {on_select} counted={props.counted} />
            <FileTreePane {layer} view={props.view.clone()} on_view={props.on_view.clone()} job={props.job}
                tree={props.tree} ask_tree={props.ask_tree.clone()} listen_tree={props.listen_tree.clone()}
                commands={props.layers.iter().map(|layer| layer.command.clone()).collect::<Vec<_>>()} />
        </div>
    }
}
