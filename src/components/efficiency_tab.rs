use std::rc::Rc;

use layerscope_core::present::humanize;
use layerscope_core::present::report::ImageReport;
use yew::prelude::*;

use crate::fragment::Route;

/// Most inefficient paths listed; dive's own list is as long, but a page of rows is what a
/// person reads.
const MOST_ROWS: usize = 500;

#[derive(Properties, PartialEq)]
pub struct EfficiencyTabProps {
    pub overview: Rc<ImageReport>,
    /// The route of this view, so each path can link to itself in Files.
    pub route: Option<Route>,
}

/// dive's figures (score, wasted bytes, user wasted percent), reclaimable bytes, and the
/// paths written more than once, largest waste first.
#[function_component(EfficiencyTab)]
pub fn efficiency_tab(props: &EfficiencyTabProps) -> Html {
    let Some(figures) = props.overview.efficiency.as_ref() else {
        return html! {
            <section class="efficiency">
                <p class="empty">{"The efficiency figures are known once every layer is read."}</p>
            </section>
        };
    };
    let files = &props.overview.inefficient_files;
    let bytes = |value: u64| {
        html! { <span title={format!("{value} bytes")}>{humanize::size(value)}</span> }
    };
    html! {
        <section class="efficiency" aria-label="Efficiency">
            <dl class="figures">
                <div class="figure">
                    <dt>{"efficiency score"}</dt>
                    <dd data-testid="efficiency-score" title={format!("{}", figures.score)}>{humanize::percent(figures.score)}</dd>
                </div>
                <div class="figure">
                    <dt>{"wasted (dive)"}</dt>
                    <dd data-testid="wasted-bytes" data-bytes={figures.wasted_bytes.to_string()}>{bytes(figures.wasted_bytes)}</dd>
                </div>
                <div class="figure">
                    <dt>{"wasted / user bytes"}</dt>
                    <dd data-testid="user-wasted-percent">{humanize::percent(figures.wasted_user_percent)}</dd>
                </div>
                <div class="figure">
                    <dt>{"reclaimable"}</dt>
                    <dd data-testid="reclaimable-bytes" data-bytes={figures.reclaimable_bytes.to_string()}>{bytes(figures.reclaimable_bytes)}</dd>
                </div>
                <div class="figure">
                    <dt>{"image / user bytes"}</dt>
                    <dd>{bytes(figures.size_bytes)}{" / "}{bytes(figures.user_size_bytes)}</dd>
                </div>
            </dl>
            <p class="muted explain">
                {"Reclaimable bytes count only the copies a flattened image would drop (every path stored once, in its final version), while dive's wasted bytes count every copy of a path written more than once, the kept one included."}
            </p>
            <h2>{format!("Paths written more than once ({})", files.len())}</h2>
            if files.is_empty() {
                <p class="empty">{"No path is written in more than one layer: nothing is wasted."}</p>
            } else {
                <table class="wasted">
                    <thead><tr><th class="num">{"COUNT"}</th><th class="num">{"WASTED"}</th><th>{"PATH"}</th></tr></thead>
                    <tbody>
                    { for files.iter().take(MOST_ROWS).map(|file| {
                        let href = props.route.as_ref().map(|route| {
                            route.with_view(route.view().on_path(&file.path)).to_hash()
                        });
                        html! {
                            <tr data-testid="wasted-row">
                                <td class="num">{file.count}</td>
                                <td class="num">{bytes(file.wasted_bytes)}</td>
                                <td class="mono path">
                                    if let Some(href) = href {
                                        <a {href} title="Show this path in Files">{file.path.clone()}</a>
                                    } else {
                                        {file.path.clone()}
                                    }
                                </td>
                            </tr>
                        }
                    }) }
                    </tbody>
                </table>
                if files.len() > MOST_ROWS {
                    <p class="muted">{format!("{} more in the downloaded report.", files.len() - MOST_ROWS)}</p>
                }
            }
        </section>
    }
}
