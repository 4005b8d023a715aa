//! The file viewer: a drawer beside the tree with one file of the shown layer, as text or as
//! a hex dump, with its size, the layer it came from, and a download.
//!
//! The worker reads the file again from the layer (for a dropped archive, only the range of
//! the layer up to the file) and sends the first bytes already shaped by the core: text, or
//! an `xxd`-style dump. Everything here is rendered as text; nothing from the image becomes
//! markup.

use layerscope_core::present::humanize;
use layerscope_web::protocol::{FileContent, FileWant};
use yew::prelude::*;

/// What the viewer shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Viewed {
    /// Asked for, not here yet.
    Loading {
        layer: usize,
        path: String,
        want: FileWant,
        /// Bytes of the layer read again so far, and its size (0 when not known).
        progress: Option<(u64, u64)>,
    },
    /// The worker's answer.
    Shown {
        layer: usize,
        path: String,
        size: u64,
        content: FileContent,
        truncated: bool,
    },
    /// Why the file could not be read.
    Failed { path: String, message: String },
}

impl Viewed {
    fn path(&self) -> &str {
        match self {
            Viewed::Loading { path, .. }
            | Viewed::Shown { path, .. }
            | Viewed::Failed { path, .. } => path,
        }
    }
}

#[derive(Properties, PartialEq)]
pub struct FileViewProps {
    pub viewed: Viewed,
    /// The command of the layer the file came from, by layer index.
    pub commands: Vec<String>,
    /// Asks for the shown file again, another way (text, hex, download).
    pub on_want: Callback<FileWant>,
    /// Selects a path in the tree (a symlink's destination).
    pub on_open_path: Callback<String>,
    pub on_close: Callback<()>,
}

/// The drawer.
#[function_component(FileView)]
pub fn file_view(props: &FileViewProps) -> Html {
    let want = |want: FileWant| {
        let on_want = props.on_want.clone();
        Callback::from(move |_: MouseEvent| on_want.emit(want))
    };
    let close = {
        let on_close = props.on_close.clone();
        Callback::from(move |_: MouseEvent| on_close.emit(()))
    };
    let onkeydown = {
        let on_close = props.on_close.clone();
        Callback::from(move |event: KeyboardEvent| {
            if event.key() == "Escape" {
                on_close.emit(());
            }
        })
    };
    let path = props.viewed.path().to_string();
    let body = match &props.viewed {
        Viewed::Loading {
            layer,
            want,
            progress,
            ..
        } => html! {
            <p class="muted" data-testid="file-loading">
                {match want {
                    FileWant::Download => format!("Reading the whole file from layer {layer} to save it…"),
                    _ => format!("Reading layer {layer} up to this file…"),
                }}
                if let Some((received, size)) = progress {
                    {format!(" The layer is streamed again (your browser's cache usually has it): {}{}.",
                        humanize::size(*received),
                        if *size > 0 { format!(" of {}", humanize::size(*size)) } else { String::new() })}
                }
            </p>
        },
        Viewed::Failed { message, .. } => html! {
            <p class="tree-problem" data-testid="file-error" role="alert">{message.clone()}</p>
        },
        Viewed::Shown {
            layer,
            size,
            content,
            truncated,
            ..
        } => {
            let command = props.commands.get(*layer).cloned().unwrap_or_default();
            let facts = html! {
                <p class="file-facts">
                    <span data-testid="file-size" title={format!("{size} bytes")}>{humanize::size(*size)}</span>
                    {" · from "}<span data-testid="file-layer">{format!("layer {layer}")}</span>
                    if !command.is_empty() {
                        {" "}<code class="muted" title={command.clone()}>{ellipsis(&command, 60)}</code>
                    }
                </p>
            };
            let shown = match content {
                FileContent::Text { text } => html! {
                    <>
                        if *truncated {
                            <p class="muted" data-testid="file-truncated">{format!("The first {} of {} are shown.", humanize::size(text.len() as u64), humanize::size(*size))}</p>
                        }
                        <pre class="file-text" data-testid="file-content" data-format="text">{text.clone()}</pre>
                    </>
                },
                FileContent::Hex {
                    dump,
                    shown,
                    reason,
                } => html! {
                    <>
                        <p class="muted">
                            {match reason {
                                Some(reason) => format!("Not text ({reason}): shown as hex. "),
                                None => String::new(),
                            }}
                            if *shown < *size {
                                {format!("The first {} of {} are shown.", humanize::size(*shown), humanize::size(*size))}
                            }
                        </p>
                        <pre class="file-hex" data-testid="file-content" data-format="hex">{dump.clone()}</pre>
                    </>
                },
                FileContent::Symlink {
                    target,
                    destination,
                } => {
                    let on_open = props.on_open_path.clone();
                    let destination = destination.clone();
                    let shown_destination = destination.clone();
                    let onclick =
                        Callback::from(move |_: MouseEvent| on_open.emit(destination.clone()));
                    html! {
                        <p data-testid="file-content" data-format="symlink">
                            {"A symbolic link to "}<code>{target.clone()}</code>{". "}
                            <button type="button" class="link" {onclick}>{format!("Show {shown_destination}")}</button>
                        </p>
                    }
                }
                FileContent::NotRegular { what } => html! {
                    <p data-testid="file-content" data-format="none">{format!("This is {what}: it has no content to show.")}</p>
                },
                FileContent::Downloaded { bytes } => html! {
                    <p data-testid="file-saved">{format!("Saved {} ({bytes} bytes) to your downloads.", crate::download::file_name_of(props.viewed.path()))}</p>
                },
            };
            html! { <>{facts}{shown}</> }
        }
    };
    let is_file = matches!(
        &props.viewed,
        Viewed::Shown {
            content: FileContent::Text { .. }
                | FileContent::Hex { .. }
                | FileContent::Downloaded { .. },
            ..
        }
    );
    let as_hex = matches!(
        &props.viewed,
        Viewed::Shown {
            content: FileContent::Hex { .. },
            ..
        }
    );
    html! {
        <aside class="file-view" data-testid="file-view" aria-label={format!("File {path}")} {onkeydown} tabindex="-1">
            <header>
                <code class="file-path" data-testid="file-path">{crate::components::file_tree_pane::shown_name(&path, classes!())}</code>
                <span class="actions">
                    if is_file {
                        if as_hex {
                            <button type="button" class="chip" data-testid="file-as-text" onclick={want(FileWant::Preview)}>{"Text"}</button>
                        } else {
                            <button type="button" class="chip" data-testid="file-as-hex" onclick={want(FileWant::Hex)}>{"Hex"}</button>
                        }
                        <button type="button" class="chip" data-testid="file-download" onclick={want(FileWant::Download)}>{"Download"}</button>
                    }
                    <button type="button" class="chip" data-testid="file-close" onclick={close} aria-label="Close the file">{"Close"}</button>
                </span>
            </header>
            {body}
        </aside>
    }
}

/// `text` cut to `width` characters with an ellipsis, for a one-line command.
fn ellipsis(text: &str, width: usize) -> String {
    layerscope_core::present::history::ellipsis(text, width)
}
