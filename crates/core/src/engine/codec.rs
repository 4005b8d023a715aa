//! Push decompression (filled in by the next commit).
