use std::collections::BTreeSet;
use std::rc::Rc;

use layerscope_core::present::humanize;
use layerscope_core::present::report::ImageReport;
use yew::prelude::*;

use super::created::created;

#[derive(Properties, PartialEq)]
pub struct HistoryTableProps {
    /// The report without its layers (see `state::Report`).
    pub overview: Rc<ImageReport>,
    /// Every command whole, as `docker history --no-trunc` prints them.
    pub no_trunc: bool,
}

/// The `docker history` table, newest first; a row expands to its whole command.
#[function_component(HistoryTable)]
pub fn history_table(props: &HistoryTableProps) -> Html {
    let expanded = use_state(BTreeSet::<usize>::new);
    let complete = props.overview.complete;
    html! {
        <table class={classes!("history-table", props.no_trunc.then_some("no-trunc"))}>
            <thead><tr><th>{"IMAGE"}</th><th>{"CREATED"}</th><th>{"CREATED BY"}</th><th class="num">{"SIZE"}</th><th>{"COMMENT"}</th></tr></thead>
            <tbody>
                { for props.overview.history.iter().enumerate().map(|(position, row)| {
                    let open = props.no_trunc || expanded.contains(&position);
                    let toggle = {
                        let expanded = expanded.clone();
                        move || {
                            let mut next = (*expanded).clone();
                            if !next.remove(&position) {
                                next.insert(position);
                            }
                            expanded.set(next);
                        }
                    };
                    let onclick = {
                        let toggle = toggle.clone();
                        Callback::from(move |_: MouseEvent| toggle())
                    };
                    let onkeydown = Callback::from(move |event: KeyboardEvent| {
                        if event.key() == "Enter" || event.key() == " " {
                            event.prevent_default();
                            toggle();
                        }
                    });
                    html! {
                        <tr data-testid="history-row" tabindex="0" aria-expanded={open.to_string()}
                            class={classes!(row.empty_layer.then_some("empty"), open.then_some("open"))} {onclick} {onkeydown}>
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
                    }
                }) }
            </tbody>
        </table>
    }
}
