//! What docker and dive print: the analysis as rows, documents and verdicts.
//!
//! [`analysis`] turns any source's config and layer scans into a report; [`report`] is
//! the serializable result of an analysis (the page's and `--json`'s shape),
//! [`dive`] its dive-compatible export, [`history`] and [`inspect`] the `docker history` and
//! `docker image inspect` shapes, [`humanize`] docker's sizes and relative times, [`ci`]
//! dive's CI rules; [`tree_view`] windows one layer's file tree for the page and [`search`]
//! finds paths across all layers; [`file_view`] a file's preview as text or a hex dump, and
//! [`verification`] each layer's digests checked whenever they arrive. Nothing here reads
//! bytes; it only shapes what the other rooms found.

pub mod analysis;
pub mod ci;
pub mod dive;
pub mod file_view;
pub mod history;
pub mod humanize;
pub mod inspect;
pub mod report;
pub mod search;
pub mod terminal;
pub mod tree_view;
pub mod verification;
