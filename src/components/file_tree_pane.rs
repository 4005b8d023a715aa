//! The right pane of the Files tab: the selected layer's tree, drawn a window at a time.
//!
//! The pane never holds the tree. It asks the worker that owns the image for the rows in
//! view (plus a margin) and draws only those, inside a spacer as tall as the whole tree, so
//! a layer of a million entries puts about a hundred `tree-row` elements in the page. Open
//! and closed directories live in the worker's view; the pane sends what the user does to
//! them (toggle, collapse all, reveal a path) and draws the window that comes back.

use std::rc::Rc;

use layerscope_core::present::report::LayerReport;
use layerscope_core::present::search::SearchResults;
use layerscope_core::present::tree_view::{Mark, MarkSet, SortOrder, TreeRow, ViewKind};
use layerscope_web::protocol::{FileWant, TreeAction, TreeAnswer, TreeRequest, ViewKey};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlInputElement, KeyboardEvent};
use yew::prelude::*;

use super::after_next_frame;
use super::file_view::{FileView, Viewed};
use crate::fragment::{MarkFilter, SortOrder as RouteSort, TreeMode, ViewState};
use crate::hooks::typing;
use crate::state::{SourceKind, TreeStatus};

/// Height of one row in CSS pixels (static/style.css `.tree-row` has the same).
const ROW_HEIGHT: f64 = 22.0;
/// Rows asked for beyond the visible ones, above and below.
const OVERSCAN: usize = 40;
/// Rows asked for when the pane's height is not known yet.
const DEFAULT_VISIBLE: usize = 30;
/// Rows drawn beyond the visible ones in the first frame of a view (see [`Staged`]).
const FIRST_FRAME_MARGIN: usize = 2;

#[derive(Properties, PartialEq)]
pub struct FileTreePaneProps {
    /// The layer whose tree is shown.
    pub layer: Option<Rc<LayerReport>>,
    /// The tree's settings from the URL (mode, filter, sort, selected path).
    pub view: ViewState,
    /// Changes the view (a selected path, another filter): the URL follows.
    pub on_view: Callback<ViewState>,
    /// The analysis being shown: a new one starts a new tree.
    pub job: u64,
    /// Whether the worker holds the stacked trees (every layer is read), and why not when
    /// it does not.
    pub tree: TreeStatus,
    /// Posts a question to the image's worker.
    pub ask_tree: Callback<TreeRequest>,
    /// Sets the listener of the worker's answers.
    pub listen_tree: Callback<Option<Callback<Box<TreeAnswer>>>>,
    /// Every layer's command, for the file viewer's "from layer N".
    #[prop_or_default]
    pub commands: Vec<String>,
}

/// The window of rows last drawn.
#[derive(Debug, PartialEq)]
struct Window {
    view: ViewKey,
    total: usize,
    start: usize,
    rows: Vec<TreeRow<'static>>,
    entries: usize,
}

impl Window {
    fn row_at(&self, index: usize) -> Option<&TreeRow<'static>> {
        index
            .checked_sub(self.start)
            .and_then(|offset| self.rows.get(offset))
    }

    /// Whether rows `first..last` are drawn with a margin to spare, so the next window is
    /// asked for while the current one still fills the view (the answer takes a frame or
    /// two to arrive, and the scroll event is a frame late already).
    fn covers(&self, first: usize, last: usize) -> bool {
        let end = self.start + self.rows.len();
        let margin = OVERSCAN / 2;
        let top_ok = self.start == 0 || first >= self.start + margin;
        let bottom_ok = end >= self.total || last + margin <= end;
        top_ok && bottom_ok
    }
}

/// How much of a window is drawn. The first window of a view is drawn in two frames: the
/// rows in view first, the margin above and below after that frame. Drawing and laying out all of
/// a window's rows (about 110) at once took one task over 50 ms on a loaded machine; the
/// margin is only needed once the user scrolls.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Staged {
    /// Only the rows in view; `focus` is the row the worker moved the window to, which the
    /// pane scrolls into view.
    InView { focus: Option<usize> },
    /// Every row of the window.
    All,
}

/// What the search box found.
#[derive(Debug, PartialEq)]
struct Hits {
    pattern: String,
    results: SearchResults,
}

/// The Files tab's tree.
#[function_component(FileTreePane)]
pub fn file_tree_pane(props: &FileTreePaneProps) -> Html {
    let window = use_state(|| None::<Rc<Window>>);
    let staged = use_state(|| Staged::All);
    // The view of the window drawn last (the listener reads it: see `file_asked`).
    let drawn_view = use_mut_ref(|| None::<ViewKey>);
    let hits = use_state(|| None::<Rc<Hits>>);
    let problem = use_state(|| None::<String>);
    let next_id = use_mut_ref(|| 0u64);
    // The newest window and search asked for: older answers are dropped.
    let wanted_window = use_mut_ref(|| 0u64);
    let wanted_search = use_mut_ref(|| 0u64);
    let wanted_file = use_mut_ref(|| 0u64);
    // The file asked for last (the listener reads it: a state handle it captured would be
    // the first render's).
    let file_asked = use_mut_ref(|| None::<(usize, String, FileWant)>);
    let viewed = use_state(|| None::<Viewed>);
    // A row to scroll into view once its window is drawn.
    let scroll_to = use_mut_ref(|| None::<usize>);
    let last_start = use_mut_ref(|| None::<(ViewKey, usize)>);
    let scroller = use_node_ref();
    let search_box = use_node_ref();

    let key = props
        .layer
        .as_ref()
        .map(|layer| view_key(layer.index, &props.view));

    // Hear the worker's answers while the pane is shown.
    {
        let window = window.clone();
        let staged = staged.clone();
        let drawn_view = drawn_view.clone();
        let hits = hits.clone();
        let problem = problem.clone();
        let wanted_window = wanted_window.clone();
        let wanted_search = wanted_search.clone();
        let wanted_file = wanted_file.clone();
        let file_asked = file_asked.clone();
        let viewed = viewed.clone();
        let scroll_to = scroll_to.clone();
        let listen = props.listen_tree.clone();
        use_effect_with((), move |()| {
            listen.emit(Some(Callback::from(
                move |answer: Box<TreeAnswer>| match *answer {
                    TreeAnswer::Rows {
                        id,
                        view,
                        total,
                        start,
                        rows,
                        focus,
                        missing,
                        entries,
                    } if id == *wanted_window.borrow() => {
                        if let Some(row) = focus {
                            *scroll_to.borrow_mut() = Some(row);
                        }
                        problem.set(
                            missing.map(|path| format!("{path} is not in this view of the layer")),
                        );
                        let first_of_view = drawn_view.borrow().as_ref() != Some(&view);
                        if first_of_view {
                            *drawn_view.borrow_mut() = Some(view.clone());
                            staged.set(Staged::InView { focus });
                            let staged = staged.clone();
                            after_next_frame(move || staged.set(Staged::All));
                        }
                        window.set(Some(Rc::new(Window {
                            view,
                            total,
                            start,
                            rows,
                            entries,
                        })));
                    }
                    TreeAnswer::Hits {
                        id,
                        pattern,
                        results,
                    } if id == *wanted_search.borrow() => {
                        hits.set(Some(Rc::new(Hits { pattern, results })));
                    }
                    TreeAnswer::File {
                        id,
                        layer,
                        path,
                        size,
                        content,
                        truncated,
                    } if id == *wanted_file.borrow() => {
                        viewed.set(Some(Viewed::Shown {
                            layer,
                            path,
                            size,
                            content,
                            truncated,
                        }));
                    }
                    TreeAnswer::Reading { id, received, size } if id == *wanted_file.borrow() => {
                        if let Some((layer, path, want)) = file_asked.borrow().clone() {
                            viewed.set(Some(Viewed::Loading {
                                layer,
                                path,
                                want,
                                progress: Some((received, size)),
                            }));
                        }
                    }
                    TreeAnswer::Failed { id, message } if id == *wanted_file.borrow() => {
                        let path = file_asked
                            .borrow()
                            .as_ref()
                            .map(|(_, path, _)| path.clone())
                            .unwrap_or_default();
                        viewed.set(Some(Viewed::Failed { path, message }));
                    }
                    TreeAnswer::Failed { id, message }
                        if id == *wanted_window.borrow() || id == *wanted_search.borrow() =>
                    {
                        problem.set(Some(message));
                    }
                    _ => {}
                },
            )));
            let listen = listen.clone();
            move || listen.emit(None)
        });
    }

    // Asks for the window starting at `start`, after `action`.
    let ask_window = {
        let ask = props.ask_tree.clone();
        let next_id = next_id.clone();
        let wanted_window = wanted_window.clone();
        let last_start = last_start.clone();
        let scroller = scroller.clone();
        Rc::new(
            move |view: ViewKey, start: usize, action: Option<TreeAction>| {
                let id = {
                    let mut next = next_id.borrow_mut();
                    *next += 1;
                    *next
                };
                *wanted_window.borrow_mut() = id;
                *last_start.borrow_mut() = Some((view.clone(), start));
                let count = visible_rows(&scroller) + 2 * OVERSCAN;
                ask.emit(TreeRequest::Window {
                    id,
                    view,
                    start,
                    count,
                    action,
                });
            },
        )
    };

    // A new image, layer or view: ask for its first window (at the selected path if any).
    {
        let ask_window = ask_window.clone();
        let path = props.view.path.clone();
        let problem = problem.clone();
        use_effect_with(
            (
                props.job,
                props.tree == TreeStatus::Ready,
                key.clone(),
                path,
            ),
            move |(_, ready, key, path)| {
                if let (true, Some(key)) = (*ready, key.clone()) {
                    problem.set(None);
                    let action = path.clone().map(|path| TreeAction::Reveal { path });
                    ask_window(key, 0, action);
                }
            },
        );
    }

    // Once a revealed row's window is drawn, scroll it into view (unless it is in view).
    {
        let scroll_to = scroll_to.clone();
        let scroller = scroller.clone();
        use_effect_with(window.clone(), move |_| {
            if let (Some(row), Some(element)) =
                (scroll_to.borrow_mut().take(), scroller.cast::<Element>())
            {
                let top = row as f64 * ROW_HEIGHT;
                let shown = element.scroll_top() as f64;
                let height = element.client_height() as f64;
                if top < shown || top + ROW_HEIGHT > shown + height {
                    element.set_scroll_top((top - height / 3.0).max(0.0) as i32);
                }
            }
        });
    }

    // `/` anywhere on the page (not while typing) puts the cursor in the search box.
    {
        let search_box = search_box.clone();
        use_effect_with((), move |()| {
            let listener = wasm_bindgen::closure::Closure::<dyn FnMut(KeyboardEvent)>::new(
                move |event: KeyboardEvent| {
                    if event.key() != "/" || typing(&event) {
                        return;
                    }
                    if let Some(input) = search_box.cast::<HtmlInputElement>() {
                        event.prevent_default();
                        let _ = input.focus();
                    }
                },
            );
            let document = web_sys::window().and_then(|window| window.document());
            if let Some(document) = &document {
                let _ = document
                    .add_event_listener_with_callback("keydown", listener.as_ref().unchecked_ref());
            }
            move || {
                if let Some(document) = document {
                    let _ = document.remove_event_listener_with_callback(
                        "keydown",
                        listener.as_ref().unchecked_ref(),
                    );
                }
            }
        });
    }

    let Some(layer) = &props.layer else {
        return html! {
            <section class="tree-pane" data-testid="file-tree-pane">
                <p class="empty">{"Pick a layer on the left to see its files."}</p>
            </section>
        };
    };
    let key = key.expect("a layer is shown");

    let onscroll = {
        let window = window.clone();
        let scroller = scroller.clone();
        let ask_window = ask_window.clone();
        let last_start = last_start.clone();
        let key = key.clone();
        Callback::from(move |_: Event| {
            let Some(element) = scroller.cast::<Element>() else {
                return;
            };
            let first = (element.scroll_top() as f64 / ROW_HEIGHT) as usize;
            let last = first + visible_rows(&scroller);
            let held = window.as_ref().filter(|held| held.view == key);
            if held.is_some_and(|held| held.covers(first, last)) {
                return;
            }
            let start = first.saturating_sub(OVERSCAN);
            if last_start.borrow().as_ref() == Some(&(key.clone(), start)) {
                return;
            }
            ask_window(key.clone(), start, None);
        })
    };

    let select_path = {
        let on_view = props.on_view.clone();
        let view = props.view.clone();
        Callback::from(move |path: String| on_view.emit(view.on_path(&path)))
    };
    let act = {
        let ask_window = ask_window.clone();
        let window = window.clone();
        let key = key.clone();
        let act: Rc<dyn Fn(TreeAction)> = Rc::new(move |action: TreeAction| {
            let start = window
                .as_ref()
                .filter(|held| held.view == key)
                .map_or(0, |held| held.start);
            ask_window(key.clone(), start, Some(action));
        });
        act
    };

    // Opens a file in the viewer (asked of the worker, which reads the layer again).
    let read_file = {
        let ask = props.ask_tree.clone();
        let next_id = next_id.clone();
        let wanted_file = wanted_file.clone();
        let file_asked = file_asked.clone();
        let viewed = viewed.clone();
        Callback::from(move |(layer, path, want): (usize, String, FileWant)| {
            *file_asked.borrow_mut() = Some((layer, path.clone(), want));
            let id = {
                let mut next = next_id.borrow_mut();
                *next += 1;
                *next
            };
            *wanted_file.borrow_mut() = id;
            viewed.set(Some(Viewed::Loading {
                layer,
                path: path.clone(),
                want,
                progress: None,
            }));
            ask.emit(TreeRequest::ReadFile {
                id,
                layer,
                path,
                want,
            });
        })
    };

    let held = window.as_ref().filter(|held| held.view == key).cloned();
    let selected = props.view.path.clone();
    let selected_row = held.as_ref().and_then(|held| {
        let path = selected.as_deref()?;
        held.rows
            .iter()
            .find(|row| row.path == path)
            .map(|row| row.row)
    });

    let onkeydown = {
        let held = held.clone();
        let select_path = select_path.clone();
        let act = act.clone();
        let toggle_mode = {
            let on_view = props.on_view.clone();
            let view = props.view.clone();
            move || {
                let mode = match view.mode {
                    TreeMode::All => TreeMode::Changes,
                    TreeMode::Changes => TreeMode::All,
                };
                on_view.emit(ViewState {
                    mode,
                    ..view.clone()
                });
            }
        };
        Callback::from(move |event: KeyboardEvent| {
            if event.key() == "m" {
                toggle_mode();
                event.prevent_default();
                return;
            }
            let Some(held) = &held else {
                return;
            };
            let current = selected_row.and_then(|row| held.row_at(row));
            let step = |by: isize| {
                let from = selected_row.unwrap_or(held.start) as isize;
                let to = (from + by).clamp(0, held.total.saturating_sub(1) as isize) as usize;
                held.row_at(to).map(|row| row.path.clone())
            };
            let handled = match event.key().as_str() {
                "ArrowDown" | "j" => step(1).map(|path| select_path.emit(path)).is_some(),
                "ArrowUp" | "k" => step(-1).map(|path| select_path.emit(path)).is_some(),
                "ArrowRight" => current.is_some_and(|row| {
                    row.has_children && {
                        act(TreeAction::SetOpen {
                            path: row.path.clone(),
                            open: true,
                        });
                        true
                    }
                }),
                "ArrowLeft" => current.is_some_and(|row| {
                    row.has_children && {
                        act(TreeAction::SetOpen {
                            path: row.path.clone(),
                            open: false,
                        });
                        true
                    }
                }),
                " " | "Enter" => current.is_some_and(|row| {
                    row.has_children && {
                        act(TreeAction::Toggle {
                            path: row.path.clone(),
                        });
                        true
                    }
                }),
                _ => false,
            };
            if handled {
                event.prevent_default();
            }
        })
    };

    let toolbar = toolbar(props, &key, &act, &search_box, {
        let ask = props.ask_tree.clone();
        let next_id = next_id.clone();
        let wanted_search = wanted_search.clone();
        let hits = hits.clone();
        Callback::from(move |pattern: String| {
            if pattern.trim().is_empty() {
                hits.set(None);
                return;
            }
            let id = {
                let mut next = next_id.borrow_mut();
                *next += 1;
                *next
            };
            *wanted_search.borrow_mut() = id;
            ask.emit(TreeRequest::Search { id, pattern });
        })
    });

    let body = if let Some(why) = no_tree(props.tree) {
        why
    } else if let Some(held) = &held {
        let drawn = drawn_rows(held, *staged, &scroller);
        let drawn_start = held.start + drawn.start;
        let rows = held.rows[drawn].iter().map(|row| {
            let path = row.path.clone();
            let on_select = select_path.clone();
            let act = act.clone();
            let read_file = read_file.clone();
            let file = (!row.is_dir && row.mark != Mark::Removed).then_some(row.layer);
            let onclick = Callback::from(move |_: MouseEvent| {
                on_select.emit(path.clone());
                if let Some(layer) = file {
                    read_file.emit((layer, path.clone(), FileWant::Preview));
                }
            });
            let twisty_path = row.path.clone();
            let ontoggle = Callback::from(move |event: MouseEvent| {
                event.stop_propagation();
                act(TreeAction::Toggle {
                    path: twisty_path.clone(),
                });
            });
            tree_row(
                row,
                selected.as_deref() == Some(row.path.as_str()),
                onclick,
                ontoggle,
            )
        });
        let height = format!("height: {}px", held.total as f64 * ROW_HEIGHT);
        let offset = format!(
            "transform: translateY({}px)",
            drawn_start as f64 * ROW_HEIGHT
        );
        html! {
            <>
                <p class="tree-status muted" data-testid="tree-status">
                    {format!("{} rows shown of {} entries in this view · layer {}", held.total, held.entries, layer.index)}
                </p>
                if let Some(path) = &selected {
                    <p class="tree-status">{"Selected: "}<code data-testid="tree-selected-path">{path.clone()}</code></p>
                }
                if held.total == 0 {
                    <p class="empty">{"Nothing in this view matches the filter."}</p>
                }
                <div class="tree-header" aria-hidden="true">
                    <span class="mark"></span><span class="mode">{"Permission"}</span>
                    <span class="owner">{"UID:GID"}</span><span class="size">{"Size"}</span>
                    <span class="name">{"Name"}</span>
                </div>
                <div class="tree-scroll" ref={scroller.clone()} {onscroll} tabindex="0" {onkeydown}
                    role="tree" aria-label={format!("Files of layer {}", layer.index)}>
                    <div class="tree-spacer" style={height}>
                        <div class="tree-rows" style={offset}>{for rows}</div>
                    </div>
                </div>
            </>
        }
    } else {
        html! { <p class="empty muted">{"Loading the tree…"}</p> }
    };

    html! {
        <section class="tree-pane" data-testid="file-tree-pane" aria-label={format!("Files of layer {}", layer.index)}>
            {toolbar}
            if let Some(found) = hits.as_ref() {
                {search_hits(found, &props.view, &props.on_view, {
                    let hits = hits.clone();
                    Callback::from(move |_| hits.set(None))
                })}
            }
            if let Some(message) = problem.as_ref() {
                <p class="tree-problem" data-testid="tree-problem" role="status">{message.clone()}</p>
            }
            {body}
            if let Some(shown) = viewed.as_ref() {
                {file_drawer(shown, &props.commands, &read_file, &select_path, &viewed)}
            }
        </section>
    }
}

/// What the pane says in place of the tree when the worker holds none: it is still being
/// read, or the open ended before every layer was (and then what to do next).
fn no_tree(status: TreeStatus) -> Option<Html> {
    let stopped = |text: String| {
        html! { <p class="empty tree-stopped" data-testid="tree-stopped" role="status">{text}</p> }
    };
    match status {
        TreeStatus::Ready => None,
        TreeStatus::Reading => Some(html! {
            <p class="empty" data-testid="tree-waiting">
                {"The tree appears once every layer is read."}
            </p>
        }),
        TreeStatus::Failed => Some(stopped(
            "No tree: the open failed before every layer was read (the message above says why). \
             Drop another archive or type another reference to open something else."
                .to_string(),
        )),
        TreeStatus::Cancelled(source) => {
            let again = match source {
                SourceKind::Registry => "Open the reference again",
                SourceKind::Archive => "Drop the archive again",
            };
            Some(stopped(format!(
                "No tree: the open was cancelled before every layer was read; the layers read \
                 so far are listed on the left. {again} to see the tree."
            )))
        }
        TreeStatus::NeedsLogin => Some(stopped(
            "No tree: the registry asks for a login before the layers can be read. Log in \
             above to read them."
                .to_string(),
        )),
    }
}

/// The view key for `layer` under the URL's settings.
fn view_key(layer: usize, view: &ViewState) -> ViewKey {
    ViewKey {
        layer,
        kind: match view.mode {
            TreeMode::All => ViewKind::Aggregated,
            TreeMode::Changes => ViewKind::LayerChanges,
        },
        filter: MarkSet::parse_letters(&view.filter.letters()).unwrap_or(MarkSet::ALL),
        sort: match view.sort {
            RouteSort::Name => SortOrder::Name,
            RouteSort::Size => SortOrder::Size,
        },
    }
}

/// Rows that fit in the scrolling box.
fn visible_rows(scroller: &NodeRef) -> usize {
    scroller
        .cast::<Element>()
        .map(|element| (element.client_height() as f64 / ROW_HEIGHT).ceil() as usize)
        .filter(|rows| *rows > 0)
        .unwrap_or(DEFAULT_VISIBLE)
}

/// The positions in `held.rows` to draw: all of them, or while `staged` says so only those
/// in view (around the focused row, else at the scroll position), with a small margin.
fn drawn_rows(held: &Window, staged: Staged, scroller: &NodeRef) -> std::ops::Range<usize> {
    let all = 0..held.rows.len();
    let Staged::InView { focus } = staged else {
        return all;
    };
    let visible = visible_rows(scroller);
    let first = match focus {
        // The pane scrolls the focused row to a third of the way down.
        Some(row) => row.saturating_sub(visible / 3),
        None => scroller.cast::<Element>().map_or(0, |element| {
            (element.scroll_top() as f64 / ROW_HEIGHT) as usize
        }),
    };
    let from = first
        .saturating_sub(FIRST_FRAME_MARGIN)
        .saturating_sub(held.start)
        .min(held.rows.len());
    let to = (first + visible + FIRST_FRAME_MARGIN)
        .saturating_sub(held.start)
        .clamp(from, held.rows.len());
    if from == to {
        // The window is not where the view is (it is about to move): draw its start.
        return 0..visible.min(held.rows.len());
    }
    from..to
}

/// The view switch, filter chips, sort, collapse and expand, and the search box.
fn toolbar(
    props: &FileTreePaneProps,
    key: &ViewKey,
    act: &Rc<dyn Fn(TreeAction)>,
    search_box: &NodeRef,
    on_search: Callback<String>,
) -> Html {
    let view = &props.view;
    let set = |next: ViewState| {
        let on_view = props.on_view.clone();
        Callback::from(move |_: MouseEvent| on_view.emit(next.clone()))
    };
    let modes = [
        (TreeMode::All, "Up to this layer", "Everything up to and including this layer"),
        (TreeMode::Changes, "This layer's changes", "Only what this layer adds, changes or removes"),
    ]
    .map(|(mode, label, title)| {
        let pressed = view.mode == mode;
        html! {
            <button type="button" class={classes!("chip", pressed.then_some("on"))} aria-pressed={pressed.to_string()}
                {title} data-testid={format!("tree-mode-{}", if mode == TreeMode::All { "all" } else { "changes" })}
                onclick={set(ViewState { mode, ..view.clone() })}>{label}</button>
        }
    });
    let chips = [
        (Mark::Added, "+ added"),
        (Mark::Modified, "~ modified"),
        (Mark::Removed, "- removed"),
        (Mark::Unchanged, "unchanged"),
    ]
    .map(|(mark, label)| {
        let shown = key.filter.contains(mark);
        let next = if shown {
            key.filter.without(mark)
        } else {
            key.filter.with(mark)
        };
        let filter = route_filter(next);
        html! {
            <button type="button" class={classes!("chip", mark_class(mark), shown.then_some("on"))}
                aria-pressed={shown.to_string()} data-testid={format!("filter-{}", mark_name(mark))}
                onclick={set(ViewState { filter, ..view.clone() })}>{label}</button>
        }
    });
    let sort_by_size = view.sort == RouteSort::Size;
    let sort = set(ViewState {
        sort: if sort_by_size {
            RouteSort::Name
        } else {
            RouteSort::Size
        },
        ..view.clone()
    });
    let collapse = {
        let act = act.clone();
        Callback::from(move |_: MouseEvent| act(TreeAction::CollapseAll))
    };
    let expand = {
        let act = act.clone();
        Callback::from(move |_: MouseEvent| act(TreeAction::ExpandAll))
    };
    let onsubmit = {
        let search_box = search_box.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if let Some(input) = search_box.cast::<HtmlInputElement>() {
                on_search.emit(input.value());
            }
        })
    };
    html! {
        <div class="tree-toolbar" data-testid="tree-toolbar">
            <span class="group" role="group" aria-label="View">{for modes}</span>
            <span class="group" role="group" aria-label="Show">{for chips}</span>
            <button type="button" class="chip" data-testid="tree-sort" onclick={sort}
                title="Order each directory by name or by size">
                {if sort_by_size { "Sorted by size" } else { "Sorted by name" }}
            </button>
            <button type="button" class="chip" data-testid="tree-collapse-all" onclick={collapse}>{"Collapse all"}</button>
            <button type="button" class="chip" data-testid="tree-expand-all" onclick={expand}>{"Expand all"}</button>
            <form class="tree-search" {onsubmit} role="search">
                <input ref={search_box.clone()} type="search" data-testid="tree-search" spellcheck="false"
                    placeholder="Search paths in every layer (/regex/)" aria-label="Search paths in every layer" />
            </form>
        </div>
    }
}

/// The URL's filter for a set of marks.
fn route_filter(marks: MarkSet) -> MarkFilter {
    MarkFilter {
        added: marks.contains(Mark::Added),
        modified: marks.contains(Mark::Modified),
        removed: marks.contains(Mark::Removed),
        unchanged: marks.contains(Mark::Unchanged),
    }
}

/// The search results, each a link to its layer and path.
fn search_hits(
    found: &Hits,
    view: &ViewState,
    on_view: &Callback<ViewState>,
    on_close: Callback<MouseEvent>,
) -> Html {
    let count = found.results.hits.len();
    let summary = match (count, found.results.truncated) {
        (0, _) => format!("No path in any layer matches {}", found.pattern),
        (n, true) => format!("The first {n} paths matching {}", found.pattern),
        (1, false) => format!("1 path matches {}", found.pattern),
        (n, false) => format!("{n} paths match {}", found.pattern),
    };
    let items = found.results.hits.iter().map(|hit| {
        let next = ViewState {
            layer: Some(hit.layer),
            ..view.on_path(&hit.path)
        };
        let on_view = on_view.clone();
        let onclick = Callback::from(move |_: MouseEvent| on_view.emit(next.clone()));
        html! {
            <li>
                <button type="button" class="link" data-testid="search-hit" {onclick}>
                    <span class={classes!("mark", mark_class(hit.mark))}>{mark_symbol(hit.mark)}</span>
                    <span class="muted">{format!("layer {} ", hit.layer)}</span>
                    <code>{hit.path.clone()}</code>
                </button>
            </li>
        }
    });
    html! {
        <div class="search-hits" data-testid="search-hits">
            <p><span data-testid="search-summary">{summary}</span>
                {" "}<button type="button" class="link" onclick={on_close}>{"close"}</button></p>
            <ul>{for items}</ul>
        </div>
    }
}

/// One row of the tree.
fn tree_row(
    row: &TreeRow<'static>,
    selected: bool,
    onclick: Callback<MouseEvent>,
    ontoggle: Callback<MouseEvent>,
) -> Html {
    let indent = format!("padding-left: {}px", row.depth as f64 * 16.0);
    let twisty = if row.has_children {
        html! {
            <button type="button" class="twisty" tabindex="-1" onclick={ontoggle}
                aria-label={if row.expanded { "Collapse" } else { "Expand" }}>
                {if row.expanded { "▾" } else { "▸" }}
            </button>
        }
    } else {
        html! { <span class="twisty"></span> }
    };
    html! {
        <div class={classes!("tree-row", mark_class(row.mark), selected.then_some("selected"))}
            data-testid="tree-row" data-path={row.path.clone()} data-mark={mark_name(row.mark)}
            role="treeitem" aria-level={(row.depth + 1).to_string()} aria-selected={selected.to_string()}
            aria-expanded={row.has_children.then(|| row.expanded.to_string())} {onclick}>
            <span class="mark" title={mark_name(row.mark)}>{mark_symbol(row.mark)}</span>
            <span class="mode">{row.mode.as_str().to_string()}</span>
            <span class="owner">{format!("{}:{}", row.uid, row.gid)}</span>
            <span class="size" title={format!("{} bytes", row.size)}>{row.size_text.clone()}</span>
            <span class="name" style={indent}>
                {twisty}
                {shown_name(&row.name, classes!("entry-name", row.is_dir.then_some("dir")))}
                if let Some(target) = &row.link_target {
                    <span class="link-target">{" → "}{shown_name(target, classes!())}</span>
                }
            </span>
        </div>
    }
}

/// A name from the image as text. One holding control or bidirectional characters (a
/// newline, `ESC`, U+202E) is drawn escaped (`\n`, `\x1b`, `\u{202e}`) and marked, so
/// `exe.txt` cannot pose as `txt.exe`; the exact name stays in the tree and in the JSON.
pub fn shown_name(name: &str, class: Classes) -> Html {
    match layerscope_core::present::terminal::escape(name) {
        std::borrow::Cow::Borrowed(plain) => html! { <span {class}>{plain.to_string()}</span> },
        std::borrow::Cow::Owned(escaped) => html! {
            <span class={classes!(class, "escaped")} data-testid="escaped-name"
                title="This name holds control or direction characters, shown escaped">{escaped}</span>
        },
    }
}

/// The symbol beside an entry: colour never carries a mark alone.
fn mark_symbol(mark: Mark) -> &'static str {
    match mark {
        Mark::Added => "+",
        Mark::Modified => "~",
        Mark::Removed => "-",
        Mark::Unchanged => " ",
    }
}

fn mark_name(mark: Mark) -> &'static str {
    match mark {
        Mark::Added => "added",
        Mark::Modified => "modified",
        Mark::Removed => "removed",
        Mark::Unchanged => "unchanged",
    }
}

fn mark_class(mark: Mark) -> &'static str {
    match mark {
        Mark::Added => "mark-added",
        Mark::Modified => "mark-modified",
        Mark::Removed => "mark-removed",
        Mark::Unchanged => "mark-unchanged",
    }
}

/// The viewer drawer for `shown`, wired to ask for the same file another way.
fn file_drawer(
    shown: &Viewed,
    commands: &[String],
    read_file: &Callback<(usize, String, FileWant)>,
    select_path: &Callback<String>,
    viewed: &UseStateHandle<Option<Viewed>>,
) -> Html {
    let (layer, path) = match shown {
        Viewed::Loading { layer, path, .. } | Viewed::Shown { layer, path, .. } => {
            (*layer, path.clone())
        }
        Viewed::Failed { path, .. } => (0, path.clone()),
    };
    let on_want = read_file.reform(move |want: FileWant| (layer, path.clone(), want));
    let on_close = {
        let viewed = viewed.clone();
        Callback::from(move |()| viewed.set(None))
    };
    html! {
        <FileView viewed={shown.clone()} commands={commands.to_vec()} {on_want}
            on_open_path={select_path.clone()} {on_close} />
    }
}
