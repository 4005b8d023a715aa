use std::rc::Rc;

use layerscope_core::model::digest::find_digests;
use layerscope_core::present::humanize;
use layerscope_core::present::report::{DocumentText, ImageReport, LayerReport};
use yew::prelude::*;

use super::copy_button::CopyButton;
use crate::fragment::Route;

#[derive(Properties, PartialEq)]
pub struct InspectTabProps {
    /// The report without its layers; its documents are shown.
    pub overview: Rc<ImageReport>,
    pub layers: Vec<Rc<LayerReport>>,
    /// The route of this view, so a digest can link to its layer.
    pub route: Option<Route>,
}

/// `docker image inspect`, the raw manifest and the raw config, each collapsible and with a
/// copy button; a digest in them that names a layer links to that layer in Files.
#[function_component(InspectTab)]
pub fn inspect_tab(props: &InspectTabProps) -> Html {
    let documents = &props.overview.documents;
    let manifest = documents.manifest.clone();
    html! {
        <div class="inspect-tab">
            <InspectBlock title="docker image inspect" note={AttrValue::Static("as the docker CLI prints it")}
                text={documents.inspect.clone()} layers={props.layers.clone()} route={props.route.clone()} />
            if let Some(manifest) = manifest {
                <InspectBlock title={format!("Manifest: {}", manifest.name)} note={size_note(&manifest)}
                    text={manifest.text.clone()} layers={props.layers.clone()} route={props.route.clone()} />
            }
            <InspectBlock title={format!("Config: {}", documents.config.name)} note={size_note(&documents.config)}
                text={documents.config.text.clone()} layers={props.layers.clone()} route={props.route.clone()} />
        </div>
    }
}

fn size_note(document: &DocumentText) -> AttrValue {
    let size = humanize::size(document.size);
    AttrValue::from(if document.truncated {
        format!(
            "exact bytes as stored; {size}, only the first {} shown",
            humanize::size(document.text.len() as u64)
        )
    } else {
        format!("exact bytes as stored, {size}")
    })
}

#[derive(Properties, PartialEq)]
struct InspectBlockProps {
    title: AttrValue,
    note: AttrValue,
    text: String,
    layers: Vec<Rc<LayerReport>>,
    route: Option<Route>,
}

/// One document, open by default.
#[function_component(InspectBlock)]
fn inspect_block(props: &InspectBlockProps) -> Html {
    let body = linked(&props.text, &props.layers, props.route.as_ref());
    html! {
        <details class="document" open=true>
            <summary>
                <span class="title">{props.title.clone()}</span>
                <span class="muted">{props.note.clone()}</span>
                <CopyButton text={props.text.clone()} label={format!("Copy {}", props.title)} />
            </summary>
            <pre class="mono" data-testid="inspect-json">{body}</pre>
        </details>
    }
}

/// The text with every digest that names a layer (its blob digest or diff_id) made a link to
/// that layer in the Files tab.
fn linked(text: &str, layers: &[Rc<LayerReport>], route: Option<&Route>) -> Html {
    let Some(route) = route else {
        return html! { {text.to_string()} };
    };
    let mut parts = Vec::new();
    let mut at = 0;
    for (range, digest) in find_digests(text) {
        let layer = layers.iter().find(|layer| {
            layer.diff_id.as_ref() == Some(&digest) || layer.digest.as_ref() == Some(&digest)
        });
        let Some(layer) = layer else { continue };
        parts.push(html! { {text[at..range.start].to_string()} });
        let href = route
            .with_view(route.view().on_layer(layer.index))
            .to_hash();
        parts.push(html! {
            <a href={href} data-testid="digest-link" data-layer={layer.index.to_string()}
                title={format!("layer {} in Files", layer.index)}>{text[range.clone()].to_string()}</a>
        });
        at = range.end;
    }
    parts.push(html! { {text[at..].to_string()} });
    parts.into_iter().collect::<Html>()
}
