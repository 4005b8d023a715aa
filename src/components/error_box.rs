use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ErrorBoxProps {
    pub message: String,
}

/// What went wrong, and what to try next.
#[function_component(ErrorBox)]
pub fn error_box(props: &ErrorBoxProps) -> Html {
    html! {
        <div class="error" data-testid="error" role="alert">
            <p>{props.message.clone()}</p>
            <p class="hint">{"Drop another archive or choose one to try again."}</p>
        </div>
    }
}
