//! The worker's side of the Files tab: it owns the analysed image's stacked trees and
//! answers the page's questions about them, a window of rows at a time.
//!
//! The page never holds a tree: for a layer of a million entries it asks for the hundred rows
//! on screen ([`TreeRequest`]) and draws what comes back ([`TreeAnswer`]). The worker keeps
//! one built view (the last one asked for, with its open and closed directories) and builds
//! another only when the layer, view kind, filter or sort changes. Everything a view is
//! (stacking, whiteouts, filters, sizes, search) is the core's `present::tree_view` and
//! `present::search`; this module only keeps them between messages.

use std::cell::RefCell;

use layerscope_core::engine::tree::FileTrees;
use layerscope_core::present::search::{search, PathPattern};
use layerscope_core::present::tree_view::{Expansion, TreeQuery, TreeView, MAX_WINDOW_ROWS};

use crate::protocol::{TreeAction, TreeAnswer, TreeRequest, ViewKey};

/// Most search hits one answer carries; the answer says when there were more.
pub const MAX_SEARCH_HITS: usize = 200;

/// The analysed image's trees, with the view last asked for.
struct Owned {
    trees: FileTrees,
    view: Option<TreeView>,
}

thread_local! {
    /// A worker analyses one image, and a worker is a thread of its own: one slot is enough.
    static OWNED: RefCell<Option<Owned>> = const { RefCell::new(None) };
}

/// Keeps the trees of the image the worker just finished, for the questions that follow.
pub fn keep(trees: FileTrees) {
    OWNED.with(|slot| *slot.borrow_mut() = Some(Owned { trees, view: None }));
}

/// Answers one request from the page.
pub fn answer(request: TreeRequest) -> TreeAnswer {
    OWNED.with(|slot| match slot.borrow_mut().as_mut() {
        Some(owned) => owned.answer(request),
        None => TreeAnswer::Failed {
            id: request.id(),
            message: "the file tree is not ready: it is built once every layer is read".into(),
        },
    })
}

impl Owned {
    fn answer(&mut self, request: TreeRequest) -> TreeAnswer {
        match request {
            TreeRequest::Window {
                id,
                view,
                start,
                count,
                action,
            } => match self.window(&view, start, count, action) {
                Ok(answer) => answer.with_id(id),
                Err(message) => TreeAnswer::Failed { id, message },
            },
            TreeRequest::Search { id, pattern } => match PathPattern::parse(&pattern) {
                Ok(parsed) => TreeAnswer::Hits {
                    id,
                    pattern,
                    results: search(&self.trees, &parsed, MAX_SEARCH_HITS),
                },
                Err(error) => TreeAnswer::Failed {
                    id,
                    message: error.to_string(),
                },
            },
        }
    }

    /// The view `key` names (the one held when it is the same), changed by `action`, and
    /// rows `start..start + count` of it.
    fn window(
        &mut self,
        key: &ViewKey,
        start: usize,
        count: usize,
        action: Option<TreeAction>,
    ) -> Result<TreeAnswer, String> {
        if key.layer >= self.trees.layer_count() {
            return Err(format!(
                "the image has {} layers; layer {} is not one of them",
                self.trees.layer_count(),
                key.layer
            ));
        }
        let reusable = self
            .view
            .as_ref()
            .is_some_and(|view| key.names(view.query()));
        if !reusable {
            let query = TreeQuery {
                layer: key.layer,
                kind: key.kind,
                filter: key.filter,
                sort: key.sort,
                expansion: Expansion::all_expanded(),
            };
            self.view = Some(TreeView::build(&self.trees, &query).map_err(|e| e.to_string())?);
        }
        let trees = &self.trees;
        let view = self.view.as_mut().expect("a view was just built or kept");
        let mut focus = None;
        let mut missing = None;
        match action {
            None => {}
            Some(TreeAction::Reveal { path }) => {
                focus = view
                    .reveal(trees, path.as_bytes())
                    .map_err(|e| e.to_string())?;
                if focus.is_none() {
                    missing = Some(path);
                }
            }
            Some(TreeAction::Toggle { path }) => {
                focus = view
                    .toggle(trees, path.as_bytes())
                    .map_err(|e| e.to_string())?
                    .row;
            }
            Some(TreeAction::SetOpen { path, open }) => {
                focus = view
                    .set_open(trees, path.as_bytes(), open)
                    .map_err(|e| e.to_string())?
                    .row;
            }
            Some(TreeAction::CollapseAll) => view.collapse_all(trees),
            Some(TreeAction::ExpandAll) => view.expand_all(trees),
        }
        // A reveal far down the tree moves the window to it, so the page need not ask twice.
        let start = match focus {
            Some(row) if row < start || row >= start + count => row.saturating_sub(count / 3),
            _ => start,
        };
        let total = view.len();
        let start = start.min(total.saturating_sub(1));
        let rows = view
            .rows(trees, start, count.min(MAX_WINDOW_ROWS))
            .into_iter()
            .map(|row| row.into_owned())
            .collect();
        Ok(TreeAnswer::Rows {
            id: 0,
            view: key.clone(),
            total,
            start,
            rows,
            focus,
            missing,
            entries: view.entry_count(),
        })
    }
}
