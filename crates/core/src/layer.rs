//! The layer scanner: decompression, hashing and tar events over pushed chunks.
