use web_sys::{FileList, HtmlInputElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct DropZoneProps {
    /// Called with the files chosen in the file input.
    pub on_files: Callback<FileList>,
    /// Called when "Open demo image" is pressed.
    pub on_demo: Callback<()>,
    /// True once something is shown: the zone shrinks to one line.
    pub compact: bool,
}

/// Images nearly everyone knows, offered on the home page (each opens from Docker Hub).
const WELL_KNOWN: [&str; 4] = ["nginx", "alpine", "ubuntu", "postgres"];

/// The drop zone with its file input, the demo button and a few well-known images.
#[function_component(DropZone)]
pub fn drop_zone(props: &DropZoneProps) -> Html {
    let onchange = {
        let on_files = props.on_files.clone();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            if let Some(files) = input.files() {
                on_files.emit(files);
            }
            // Choosing the same file again should read it again.
            input.set_value("");
        })
    };
    let on_demo = props.on_demo.reform(|_: MouseEvent| ());
    html! {
        <section class={classes!("drop-zone", props.compact.then_some("compact"))} data-testid="drop-zone">
            <label class="choose">
                <span>{"Drop a "}<code>{"docker save"}</code>{" or OCI archive anywhere on this page, or "}
                    <span class="link">{"choose a file"}</span></span>
                <input type="file" data-testid="file-input" {onchange} />
            </label>
            <p class="private">{"Nothing you drop leaves this tab."}</p>
            <p class="try">{"Try: "}<button type="button" data-testid="open-demo" onclick={on_demo}>{"Open demo image"}</button>
                if !props.compact {
                    { for WELL_KNOWN.iter().map(|name| html! {
                        <a class="well-known" data-testid="try-image" href={format!("#/image/{name}")}>{*name}</a>
                    }) }
                }
            </p>
        </section>
    }
}
