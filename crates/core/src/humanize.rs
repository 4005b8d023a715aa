//! Sizes and times the way the docker CLI prints them.
