use layerscope_core::present::report::ImageListing;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ImagePickerProps {
    pub images: Vec<ImageListing>,
    pub selected: usize,
    pub busy: bool,
    /// Called with the position of the picked image.
    pub on_pick: Callback<usize>,
}

/// The archive's images, when there are several; one click analyses another.
#[function_component(ImagePicker)]
pub fn image_picker(props: &ImagePickerProps) -> Html {
    html! {
        <nav class="images" aria-label="Images in this archive">
            <span class="label">{format!("{} images in this archive:", props.images.len())}</span>
            { for props.images.iter().enumerate().map(|(position, image)| {
                let on_pick = props.on_pick.reform(move |_: MouseEvent| position);
                let current = position == props.selected;
                html! {
                    <button type="button" data-testid="image-choice" class={classes!(current.then_some("current"))}
                        aria-pressed={current.to_string()} onclick={on_pick}>
                        {image_name(image)}
                    </button>
                }
            }) }
        </nav>
    }
}

fn image_name(image: &ImageListing) -> String {
    match image.tags.first() {
        Some(tag) => tag.clone(),
        None => image
            .config_digest
            .as_ref()
            .or(image.manifest_digest.as_ref())
            .map(|digest| digest.short().to_string())
            .unwrap_or_else(|| format!("image {}", image.index + 1)),
    }
}
