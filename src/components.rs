//! The page's components, one view each. Text from archives is always rendered as text (never as
//! HTML), and sizes and times are formatted by the core.

mod created;
mod drop_zone;
mod error_box;
mod header;
mod history_table;
mod image_picker;
mod image_summary;
mod layer_table;
mod login_form;
mod platform_table;
mod progress_bar;
mod settings;
mod tag_list;

pub use drop_zone::DropZone;
pub use error_box::ErrorBox;
pub use header::Header;
pub use history_table::HistoryTable;
pub use image_picker::ImagePicker;
pub use image_summary::ImageSummary;
pub use layer_table::LayerTable;
pub use login_form::LoginForm;
pub use platform_table::PlatformTable;
pub use progress_bar::ProgressBar;
pub use settings::{SettingsPanel, Theme};
pub use tag_list::TagList;
