use layerscope_core::present::report::ImageListing;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct PlatformTableProps {
    pub platforms: Vec<ImageListing>,
    pub selected: usize,
    /// Called with the chosen platform (`linux/arm64/v8`).
    pub on_pick: Callback<String>,
}

/// The platforms of a multi-arch image; choosing a row opens that platform.
#[function_component(PlatformTable)]
pub fn platform_table(props: &PlatformTableProps) -> Html {
    html! {
        <section class="platforms" aria-label="Platforms of this image">
            <h2>{format!("{} platforms", props.platforms.len())}</h2>
            <table>
                <thead><tr><th>{"OS"}</th><th>{"Architecture"}</th><th>{"Variant"}</th><th>{"Digest"}</th><th></th></tr></thead>
                <tbody>
                { for props.platforms.iter().enumerate().map(|(position, image)| {
                    let platform = image.platform.clone().unwrap_or_default();
                    let mut parts = platform.splitn(3, '/');
                    let (os, arch, variant) = (
                        parts.next().unwrap_or("").to_string(),
                        parts.next().unwrap_or("").to_string(),
                        parts.next().unwrap_or("").to_string(),
                    );
                    let digest = image.manifest_digest.as_ref().map(|d| d.to_string()).unwrap_or_default();
                    let short = image.manifest_digest.as_ref().map(|d| d.short().to_string()).unwrap_or_default();
                    let current = position == props.selected;
                    let onclick = {
                        let platform = platform.clone();
                        props.on_pick.reform(move |_: MouseEvent| platform.clone())
                    };
                    html! {
                        <tr data-testid="platform-row" data-platform={platform.clone()} class={classes!(current.then_some("current"))}>
                            <td>{os}</td><td>{arch}</td><td>{variant}</td>
                            <td class="digest" title={digest}>{short}</td>
                            <td>
                                if current {
                                    <span class="shown">{"shown"}</span>
                                } else {
                                    <button type="button" data-testid="platform-choice" {onclick}>{"Open"}</button>
                                }
                            </td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
        </section>
    }
}
