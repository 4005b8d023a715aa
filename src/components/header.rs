use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    /// Called with the text of the reference box on submit.
    pub on_submit: Callback<String>,
    /// A note to show under the box.
    pub note: Option<String>,
    /// The reference being shown, put in the box when it changes (opened from the URL, say).
    #[prop_or_default]
    pub current: Option<String>,
    /// The gear: opens or closes the settings.
    #[prop_or_default]
    pub on_settings: Callback<()>,
}

/// The header: the name and the reference box.
#[function_component(Header)]
pub fn header(props: &HeaderProps) -> Html {
    let input = use_node_ref();
    use_effect_with(props.current.clone(), {
        let input = input.clone();
        move |current: &Option<String>| {
            if let (Some(current), Some(input)) = (current, input.cast::<HtmlInputElement>()) {
                input.set_value(current);
            }
        }
    });
    let onsubmit = {
        let input = input.clone();
        let on_submit = props.on_submit.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if let Some(input) = input.cast::<HtmlInputElement>() {
                on_submit.emit(input.value());
            }
        })
    };
    html! {
        <header class="top">
            <form class="reference" {onsubmit}>
                <span class="brand">{"layerscope"}</span>
                <input ref={input} type="text" name="reference" data-testid="ref-input" spellcheck="false"
                    autocomplete="off" placeholder="image reference, e.g. nginx:1.17.6" aria-label="Image reference" />
                <button type="submit">{"Open"}</button>
                <button type="button" class="gear" data-testid="settings-open" title="Settings" aria-label="Settings"
                    onclick={props.on_settings.reform(|_: MouseEvent| ())}>{"⚙"}</button>
            </form>
            if let Some(note) = props.note.clone() {
                <p class="note" data-testid="ref-note" role="status">{note}</p>
            }
        </header>
    }
}
