use std::rc::Rc;

use layerscope_core::present::humanize;
use layerscope_core::present::report::ImageReport;
use yew::prelude::*;

use super::created::created;

#[derive(Properties, PartialEq)]
pub struct HistoryTableProps {
    /// The report without its layers (see `state::Report`).
    pub overview: Rc<ImageReport>,
}

/// The `docker history` table, newest first.
#[function_component(HistoryTable)]
pub fn history_table(props: &HistoryTableProps) -> Html {
    let complete = props.overview.complete;
    html! {
        <section class="history">
            <h2>{"History"}</h2>
            <table>
                <thead><tr><th>{"IMAGE"}</th><th>{"CREATED"}</th><th>{"CREATED BY"}</th><th class="num">{"SIZE"}</th><th>{"COMMENT"}</th></tr></thead>
                <tbody>
                    { for props.overview.history.iter().map(|row| html! {
                        <tr data-testid="history-row" tabindex="0" class={classes!(row.empty_layer.then_some("empty"))}>
                            <td class="mono">{row.image.clone()}</td>
                            <td>{created(row.created.as_deref())}</td>
                            <td class="mono command" title={row.created_by.clone()}>{row.created_by.clone()}</td>
                            if complete || row.empty_layer {
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
