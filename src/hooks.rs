//! The page's hooks: behaviour a component uses, apart from what it renders.

mod use_analysis;
mod use_keys;

pub use use_analysis::{use_analysis, LoginSubmit};
pub use use_keys::{typing, use_keys, KeyAction};
