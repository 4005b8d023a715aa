//! The documents: what an image *says* about itself, before any layer byte is read.
//!
//! Digests, references, the one media-type table, manifests and indexes, image configs,
//! platforms and timestamps. Everything here parses and validates; nothing reads bytes from
//! anywhere or formats anything for a person.

pub mod config;
pub mod digest;
pub mod manifest;
pub mod media;
pub mod platform;
pub mod reference;
pub mod time;
