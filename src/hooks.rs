//! The page's hooks: behaviour a component uses, apart from what it renders.

mod use_analysis;

pub use use_analysis::{use_analysis, LoginSubmit};
