use std::collections::BTreeMap;

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct TagListProps {
    pub tags: Vec<String>,
    /// Manifest digests of the tags resolved so far.
    pub digests: BTreeMap<String, String>,
    /// The registry has more tags than the pages shown.
    pub more: bool,
    /// The tag shown, if the reference has one.
    pub current: Option<String>,
    /// Called with the chosen tag.
    pub on_pick: Callback<String>,
    /// Asks for the next page.
    pub on_more: Callback<()>,
}

/// Tags in list order, those of one digest together (a tag not resolved yet is a group of
/// its own).
pub fn groups<'a>(
    tags: &'a [String],
    digests: &'a BTreeMap<String, String>,
) -> Vec<(Option<&'a str>, Vec<&'a str>)> {
    let mut groups: Vec<(Option<&str>, Vec<&str>)> = Vec::new();
    for tag in tags {
        let digest = digests.get(tag).map(String::as_str);
        match digest.and_then(|d| groups.iter_mut().find(|(g, _)| *g == Some(d))) {
            Some((_, members)) => members.push(tag),
            None => groups.push((digest, vec![tag])),
        }
    }
    groups
}

/// `sha256:` and the first 12 hex digits.
fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) => {
            format!("{algorithm}:{}", hex.chars().take(12).collect::<String>())
        }
        None => digest.chars().take(19).collect(),
    }
}

/// The repository's tags, one row per digest; each tag opens that tag. Tags are rendered as
/// text.
#[function_component(TagList)]
pub fn tag_list(props: &TagListProps) -> Html {
    html! {
        <section class="tags" aria-label="Tags of this repository">
            <h2 data-testid="tags-heading">{format!("Tags ({}{})", props.tags.len(), if props.more { "+" } else { "" })}</h2>
            <ul>
            { for groups(&props.tags, &props.digests).into_iter().map(|(digest, members)| {
                let current = members.iter().any(|tag| props.current.as_deref() == Some(*tag));
                html! {
                    <li data-testid="tag-row" data-current={current.to_string()} class={classes!(current.then_some("current"))}>
                    { for members.iter().map(|tag| {
                        let pressed = props.current.as_deref() == Some(*tag);
                        let onclick = {
                            let tag = tag.to_string();
                            props.on_pick.reform(move |_: MouseEvent| tag.clone())
                        };
                        html! {
                            <button type="button" data-testid="tag-name" {onclick} aria-pressed={pressed.to_string()}>{tag.to_string()}</button>
                        }
                    }) }
                    if let Some(digest) = digest {
                        <code class="muted" data-testid="tag-digest" title={digest.to_string()}>{short_digest(digest)}</code>
                    }
                    if current {
                        <span class="muted">{" (shown)"}</span>
                    }
                    </li>
                }
            }) }
            </ul>
            if props.more {
                <button type="button" data-testid="more-tags" onclick={props.on_more.reform(|_: MouseEvent| ())}>{"More tags"}</button>
            }
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_of_one_digest_are_one_group_in_list_order() {
        let tags: Vec<String> = ["1.0", "2.0", "latest", "x"].map(String::from).to_vec();
        let digests: BTreeMap<String, String> = [
            ("1.0", "sha256:a"),
            ("latest", "sha256:a"),
            ("2.0", "sha256:b"),
        ]
        .map(|(t, d)| (t.to_string(), d.to_string()))
        .into_iter()
        .collect();
        assert_eq!(
            groups(&tags, &digests),
            [
                (Some("sha256:a"), vec!["1.0", "latest"]),
                (Some("sha256:b"), vec!["2.0"]),
                (None, vec!["x"]),
            ]
        );
        assert_eq!(
            short_digest("sha256:0123456789abcdef"),
            "sha256:0123456789ab"
        );
    }
}
