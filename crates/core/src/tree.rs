//! Per-layer file trees in a compact arena, stacked with whiteouts.
