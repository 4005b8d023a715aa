//! The page's keys, dive's where they fit, listened for on the whole document.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, KeyboardEvent};
use yew::prelude::*;

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAction {
    /// `?`: show or hide the key list.
    ToggleHelp,
    /// `Escape`: close what is open.
    Close,
    /// `[`: the layer below.
    PreviousLayer,
    /// `]`: the layer above.
    NextLayer,
    /// `1`..`9`: the tab at this position (0-based).
    Tab(usize),
}

impl KeyAction {
    /// The action of a key (as `KeyboardEvent.key` names it), if it has one.
    pub fn of(key: &str) -> Option<KeyAction> {
        match key {
            "?" => Some(KeyAction::ToggleHelp),
            "Escape" => Some(KeyAction::Close),
            "[" => Some(KeyAction::PreviousLayer),
            "]" => Some(KeyAction::NextLayer),
            _ => {
                let digit = key.parse::<usize>().ok().filter(|d| (1..=9).contains(d))?;
                Some(KeyAction::Tab(digit - 1))
            }
        }
    }
}

/// Calls `on_key` for the page's keys, except while the user types in a field or holds a
/// modifier (so the browser's own shortcuts and typing are left alone).
#[hook]
pub fn use_keys(on_key: Callback<KeyAction>) {
    // The listener is added once; it calls the latest callback, which sees the latest state.
    let latest = use_mut_ref(|| on_key.clone());
    *latest.borrow_mut() = on_key;
    use_effect_with((), move |()| {
        let latest: Rc<RefCell<Callback<KeyAction>>> = latest;
        let listener = Closure::<dyn FnMut(KeyboardEvent)>::new(move |event: KeyboardEvent| {
            if event.ctrl_key() || event.meta_key() || event.alt_key() || typing(&event) {
                return;
            }
            if let Some(action) = KeyAction::of(&event.key()) {
                event.prevent_default();
                latest.borrow().emit(action);
            }
        });
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
            drop(listener);
        }
    });
}

/// True when the key goes to a text field, a list box or an editable element.
pub fn typing(event: &KeyboardEvent) -> bool {
    let Some(element) = event
        .target()
        .and_then(|target| target.dyn_into::<Element>().ok())
    else {
        return false;
    };
    let tag = element.tag_name().to_ascii_lowercase();
    matches!(tag.as_str(), "input" | "textarea" | "select")
        || element.has_attribute("contenteditable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_actions() {
        assert_eq!(KeyAction::of("?"), Some(KeyAction::ToggleHelp));
        assert_eq!(KeyAction::of("]"), Some(KeyAction::NextLayer));
        assert_eq!(KeyAction::of("["), Some(KeyAction::PreviousLayer));
        assert_eq!(KeyAction::of("1"), Some(KeyAction::Tab(0)));
        assert_eq!(KeyAction::of("6"), Some(KeyAction::Tab(5)));
        assert_eq!(KeyAction::of("0"), None);
        assert_eq!(KeyAction::of("a"), None);
    }
}
