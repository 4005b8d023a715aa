use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ErrorBoxProps {
    pub message: String,
    /// The failure was a registry pull's (the hint differs).
    #[prop_or_default]
    pub from_registry: bool,
}

/// What went wrong, and what to try next.
#[function_component(ErrorBox)]
pub fn error_box(props: &ErrorBoxProps) -> Html {
    html! {
        <div class="error" data-testid="error" role="alert">
            <p>{props.message.clone()}</p>
            if props.from_registry {
                <p class="hint">{"Check the reference and open it again, or drop an archive."}</p>
            } else {
                <p class="hint">{"Drop another archive or choose one to try again."}</p>
            }
        </div>
    }
}
