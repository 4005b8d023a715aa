use std::rc::Rc;

use layerscope_core::present::report::ImageReport;
use yew::prelude::*;

use super::copy_button::CopyButton;
use super::history_table::HistoryTable;

#[derive(Properties, PartialEq)]
pub struct HistoryTabProps {
    pub overview: Rc<ImageReport>,
}

/// `docker history` (a row expands to its whole command, or all of them with `--no-trunc`)
/// and the history as a Dockerfile.
#[function_component(HistoryTab)]
pub fn history_tab(props: &HistoryTabProps) -> Html {
    let no_trunc = use_state(|| false);
    let on_no_trunc = {
        let no_trunc = no_trunc.clone();
        Callback::from(move |_: Event| no_trunc.set(!*no_trunc))
    };
    let dockerfile = props.overview.documents.dockerfile.clone();
    html! {
        <div class="history-tab">
            <section class="history" aria-label="docker history">
                <h2>
                    {format!("History ({} steps)", props.overview.history.len())}
                    <label class="toggle">
                        <input type="checkbox" data-testid="history-no-trunc" checked={*no_trunc} onchange={on_no_trunc} />
                        {" whole commands ("}<code>{"--no-trunc"}</code>{")"}
                    </label>
                </h2>
                <HistoryTable overview={props.overview.clone()} no_trunc={*no_trunc} />
            </section>
            <section class="dockerfile" aria-label="The history as a Dockerfile">
                <h2>{"As a Dockerfile"}<CopyButton text={dockerfile.clone()} label="Copy the Dockerfile" /></h2>
                if dockerfile.is_empty() {
                    <p class="empty">{"The config records no history, so there is no Dockerfile to show."}</p>
                } else {
                    <pre class="mono" data-testid="dockerfile">{dockerfile}</pre>
                }
            </section>
        </div>
    }
}
