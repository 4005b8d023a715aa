#![no_main]
//! Fuzz target `tar`: see `layerscope_core::fuzzing::tar`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_core::fuzzing::tar(data));
