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
