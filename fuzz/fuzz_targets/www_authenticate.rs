#![no_main]
//! Fuzz target `www_authenticate`: see `layerscope_core::fuzzing::www_authenticate`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_core::fuzzing::www_authenticate(data));
