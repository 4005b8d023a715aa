//! Container image formats and protocols for layerscope.
//!
//! Everything layerscope knows about images lives here, in rooms that follow the data:
//!
//! ```text
//!  model      documents: digest, reference, media types, manifest, config, platform, time
//!    |
//!  archive    where bytes come from: a docker save / OCI layout archive, read by ranges
//!  registry   or by stream, planned into "this config, these layers"; or a registry,
//!    |        through Distribution API requests and responses as values (auth
//!    |        challenges, tokens, pagination, errors) that the caller performs
//!    v
//!  engine     bytes to entries: codec (gzip/zstd/plain), tar headers, the layer scanner,
//!    |        stacked trees with whiteouts, dive's efficiency figures
//!    v
//!  present    what docker and dive print: the report, history, inspect, sizes and
//!             times, dive's JSON export and CI rules
//! ```
//!
//! A new archive flavour goes in [`archive`], a new way of reaching bytes beside it, a new
//! view of the results in [`present`]; formats of documents in [`model`].
//!
//! The crate is sans-IO, in the manner of rustls and quinn-proto: callers push
//! bytes in and get events or summaries back, and callers perform any request
//! the crate describes. Nothing here touches a network, a file system, a
//! clock or a browser API, so the same code runs in a Web Worker and in the
//! native `layerscope` binary.

#![warn(missing_docs)]

pub mod archive;
pub mod engine;
pub mod fuzzing;
pub mod limits;
pub mod model;
pub mod present;
pub mod registry;
