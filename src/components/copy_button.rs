use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct CopyButtonProps {
    /// What the button copies.
    pub text: String,
    /// What it copies, in words, for screen readers ("Copy the manifest digest").
    pub label: AttrValue,
    #[prop_or_default]
    pub testid: Option<AttrValue>,
    /// The button's word before it is pressed.
    #[prop_or(AttrValue::Static("copy"))]
    pub caption: AttrValue,
}

/// Where a copy is.
#[derive(Clone, Copy, PartialEq)]
enum Copied {
    Not,
    Done,
    Refused,
}

/// A small button that puts `text` on the clipboard and says whether it did.
#[function_component(CopyButton)]
pub fn copy_button(props: &CopyButtonProps) -> Html {
    let copied = use_state(|| Copied::Not);
    // Another text to copy: the button starts over.
    use_effect_with(props.text.clone(), {
        let copied = copied.clone();
        move |_| copied.set(Copied::Not)
    });
    let onclick = {
        let copied = copied.clone();
        let text = props.text.clone();
        Callback::from(move |_: MouseEvent| {
            let copied = copied.clone();
            let Some(window) = web_sys::window() else {
                return;
            };
            let promise = window.navigator().clipboard().write_text(&text);
            wasm_bindgen_futures::spawn_local(async move {
                copied.set(match JsFuture::from(promise).await {
                    Ok(_) => Copied::Done,
                    // The browser may refuse (no focus, no permission); the text stays selectable.
                    Err(_) => Copied::Refused,
                });
            });
        })
    };
    let shown = match *copied {
        Copied::Not => props.caption.clone(),
        Copied::Done => AttrValue::Static("copied"),
        Copied::Refused => AttrValue::Static("not copied: select it instead"),
    };
    html! {
        <button type="button" class="copy" aria-label={props.label.clone()} title={props.label.clone()}
            data-testid={props.testid.clone()} {onclick}>{shown}</button>
    }
}
