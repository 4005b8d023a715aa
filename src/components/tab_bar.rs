use yew::prelude::*;

use crate::fragment::Tab;

#[derive(Properties, PartialEq)]
pub struct TabBarProps {
    /// The tabs this image has.
    pub tabs: Vec<Tab>,
    pub shown: Tab,
    pub on_pick: Callback<Tab>,
}

/// The image's tabs; each is a route of its own (`tab=` in the fragment), keys `1`..`6`.
#[function_component(TabBar)]
pub fn tab_bar(props: &TabBarProps) -> Html {
    html! {
        <nav class="tab-bar" role="tablist" aria-label="Views of this image">
        { for props.tabs.iter().enumerate().map(|(position, tab)| {
            let selected = *tab == props.shown;
            let tab = *tab;
            let onclick = props.on_pick.reform(move |_: MouseEvent| tab);
            html! {
                <button type="button" role="tab" data-testid={format!("tab-{}", tab.key())}
                    aria-selected={selected.to_string()} class={classes!(selected.then_some("selected"))}
                    title={format!("{} (key {})", tab.label(), position + 1)} {onclick}>
                    {tab.label()}
                </button>
            }
        }) }
        </nav>
    }
}
