//! Container image formats and protocols for layerscope.
//!
//! Everything layerscope knows about images lives here: references, digests,
//! manifests and indexes, image configs, `docker history` and `docker image
//! inspect` shapes, tar streams, layer scanning, file trees and archives.
//!
//! The crate is sans-IO, in the manner of rustls and quinn-proto: callers push
//! bytes in and get events or summaries back, and callers perform any request
//! the crate describes. Nothing here touches a network, a file system, a
//! clock or a browser API, so the same code runs in a Web Worker and in the
//! native `layerscope` binary.

#![warn(missing_docs)]

pub mod archive;
pub mod ci;
pub mod config;
pub mod digest;
pub mod efficiency;
pub mod history;
pub mod humanize;
pub mod inspect;
pub mod layer;
pub mod manifest;
pub mod media;
pub mod platform;
pub mod reference;
pub mod report;
pub mod tar;
pub mod tree;
