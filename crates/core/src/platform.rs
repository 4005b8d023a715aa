//! Platforms (os/arch/variant) and choosing a manifest from an index.
