use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct TagListProps {
    pub tags: Vec<String>,
    /// The registry has more tags than the pages shown.
    pub more: bool,
    /// The tag shown, if the reference has one.
    pub current: Option<String>,
    /// Called with the chosen tag.
    pub on_pick: Callback<String>,
    /// Asks for the next page.
    pub on_more: Callback<()>,
}

/// The repository's tags; each opens that tag. Tags are rendered as text.
#[function_component(TagList)]
pub fn tag_list(props: &TagListProps) -> Html {
    html! {
        <section class="tags" aria-label="Tags of this repository">
            <h2>{format!("Tags ({}{})", props.tags.len(), if props.more { "+" } else { "" })}</h2>
            <ul>
            { for props.tags.iter().map(|tag| {
                let current = props.current.as_deref() == Some(tag.as_str());
                let onclick = {
                    let tag = tag.clone();
                    props.on_pick.reform(move |_: MouseEvent| tag.clone())
                };
                html! {
                    <li data-testid="tag-row" class={classes!(current.then_some("current"))}>
                        <button type="button" {onclick} aria-pressed={current.to_string()}>{tag.clone()}</button>
                    </li>
                }
            }) }
            </ul>
            if props.more {
                <button type="button" data-testid="more-tags" onclick={props.on_more.reform(|_: MouseEvent| ())}>{"More tags"}</button>
            }
        </section>
    }
}
