//! Shared pieces of the layerscope page and its layer worker.
//!
//! The page (`src/main.rs`) and the worker (`src/bin/layer-worker.rs`) are two wasm binaries
//! that talk through `postMessage`; [`protocol`] is the one place that defines what they say.

pub mod owner;
pub mod protocol;
pub mod pull;
