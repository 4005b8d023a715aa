use yew::prelude::*;

/// The keys and what they do.
pub const KEYS: [(&str, &str); 9] = [
    ("?", "show or hide this list"),
    ("[  ]", "previous / next layer"),
    ("/", "search paths in every layer"),
    ("j  k  ↑  ↓", "move in the file tree (click it first)"),
    ("→  ←  Space", "open, close, toggle a directory"),
    ("m", "this layer's changes / everything up to it"),
    ("1 … 6", "Files, History, Config, Inspect, Efficiency, Tags"),
    ("Esc", "close this list"),
    ("Tab", "move between controls; Enter or Space picks"),
];

#[derive(Properties, PartialEq)]
pub struct KeyHelpProps {
    pub on_close: Callback<()>,
}

/// The key list, opened with `?`.
#[function_component(KeyHelp)]
pub fn key_help(props: &KeyHelpProps) -> Html {
    html! {
        <aside class="key-help" data-testid="key-help" role="dialog" aria-label="Keyboard keys">
            <h2>{"Keys"}</h2>
            <dl>
            { for KEYS.iter().map(|(key, what)| html! {
                <div><dt><kbd>{*key}</kbd></dt><dd>{*what}</dd></div>
            }) }
            </dl>
            <p class="muted">{"Keys do nothing while you type in a field."}</p>
            <button type="button" onclick={props.on_close.reform(|_: MouseEvent| ())}>{"Close"}</button>
        </aside>
    }
}
