use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct RestorePromptProps {
    /// The file the link names.
    pub name: String,
}

/// An archive link opened without its file: dropped archives never leave the tab, so the
/// page asks for the file again.
#[function_component(RestorePrompt)]
pub fn restore_prompt(props: &RestorePromptProps) -> Html {
    html! {
        <div class="restore" data-testid="restore-prompt" role="status">
            <p><strong>{format!("Drop {} again to restore this view.", props.name)}</strong></p>
            <p class="muted">{"This link names a file from your disk; files never leave the browser tab they were dropped in, so the link holds only its name and the image's digest."}</p>
        </div>
    }
}
