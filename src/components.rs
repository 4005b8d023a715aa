//! The page's components, one view each. Text from archives is always rendered as text (never as
//! HTML), and sizes and times are formatted by the core.

mod config_tab;
mod copy_button;
mod created;
mod drop_zone;
mod efficiency_tab;
mod error_box;
pub mod file_tree_pane;
mod file_view;
mod files_tab;
mod header;
mod history_tab;
mod history_table;
mod image_picker;
mod image_summary;
mod inspect_tab;
mod key_help;
mod layer_list;
mod login_form;
mod platform_table;
mod progress_bar;
mod restore_prompt;
mod settings;
mod tab_bar;
mod tag_list;
mod tags_tab;
mod verify_badge;
mod warm_up;

pub use config_tab::ConfigTab;
pub use drop_zone::DropZone;
pub use efficiency_tab::EfficiencyTab;
pub use error_box::ErrorBox;
pub use files_tab::FilesTab;
pub use header::Header;
pub use history_tab::HistoryTab;
pub use image_picker::ImagePicker;
pub use image_summary::ImageSummary;
pub use inspect_tab::InspectTab;
pub use key_help::KeyHelp;
pub use login_form::LoginForm;
pub use progress_bar::ProgressBar;
pub use restore_prompt::RestorePrompt;
pub use settings::{SettingsPanel, Theme};
pub use tab_bar::TabBar;
pub use tags_tab::TagsTab;
pub use warm_up::WarmUp;

/// Runs `then` in a task of its own after the current one: how the page splits work that
/// would make one long task.
pub(crate) fn after_this_task(then: impl FnOnce() + 'static) {
    use wasm_bindgen::JsCast;
    let callback = wasm_bindgen::closure::Closure::once_into_js(then);
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback(callback.unchecked_ref());
    }
}

/// Runs `then` in a task of its own after the next frame is drawn, so what the current task
/// changed is laid out and painted in a frame of its own before `then`'s changes are.
fn after_next_frame(then: impl FnOnce() + 'static) {
    use wasm_bindgen::JsCast;
    let frame = wasm_bindgen::closure::Closure::once_into_js(move || after_this_task(then));
    if let Some(window) = web_sys::window() {
        let _ = window.request_animation_frame(frame.unchecked_ref());
    }
}
