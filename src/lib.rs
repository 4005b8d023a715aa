//! Shared pieces of the layerscope page and its layer worker.
//!
//! The page (`src/main.rs`) and the worker (`src/bin/layer-worker.rs`) are two wasm binaries
//! that talk through `postMessage`; [`protocol`] is the one place that defines what they say.
//! For a dropped archive the layer worker has a pool of scan workers
//! (`src/bin/scan-worker.rs`) scan its layers; [`pool`] defines what they say to it.

pub mod limit_advice;
pub mod owner;
pub mod pool;
pub mod protocol;
pub mod pull;
