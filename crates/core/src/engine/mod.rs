//! Bytes to entries and trees: the work every layer goes through, whatever its source.
//!
//! [`codec`] undoes gzip or zstd as bytes are pushed, [`tar`] decodes headers, [`scan`]
//! hashes a layer while walking its tar, [`tree`] stacks the layers' entries with whiteouts,
//! and [`efficiency`] computes dive's figures from them; [`extract`] takes one file's bytes
//! back out of a layer, and [`transfer`] packs scan results into flat buffers for handing
//! between workers. Archives and registries feed this room; neither is known here.

pub mod codec;
pub mod efficiency;
pub mod extract;
pub mod scan;
pub mod tar;
pub mod transfer;
pub mod tree;
