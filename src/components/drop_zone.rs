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

/// The drop zone with its file input and the demo button.
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
            <p class="try">{"Try: "}<button type="button" data-testid="open-demo" onclick={on_demo}>{"Open demo image"}</button></p>
        </section>
    }
}
