use std::collections::BTreeMap;

use layerscope_core::present::report::ImageListing;
use yew::prelude::*;

use super::platform_table::PlatformTable;
use super::tag_list::TagList;

#[derive(Properties, PartialEq)]
pub struct TagsTabProps {
    /// The platforms of an index (empty or one for a single image).
    pub platforms: Vec<ImageListing>,
    pub platform_selected: usize,
    pub on_platform: Callback<String>,
    pub tags: Vec<String>,
    pub digests: BTreeMap<String, String>,
    pub more: bool,
    pub current: Option<String>,
    pub on_tag: Callback<String>,
    pub on_more: Callback<()>,
}

/// A registry image's platforms and its repository's tags.
#[function_component(TagsTab)]
pub fn tags_tab(props: &TagsTabProps) -> Html {
    html! {
        <div class="tags-tab">
            if props.platforms.len() > 1 {
                <PlatformTable platforms={props.platforms.clone()} selected={props.platform_selected} on_pick={props.on_platform.clone()} />
            }
            if props.tags.is_empty() {
                <p class="empty">{"The tag list comes once the image is read (some registries do not list tags)."}</p>
            } else {
                <TagList tags={props.tags.clone()} digests={props.digests.clone()} more={props.more}
                    current={props.current.clone()} on_pick={props.on_tag.clone()} on_more={props.on_more.clone()} />
            }
        </div>
    }
}
