//! Image efficiency: dive's score and wasted bytes, and reclaimable bytes.
