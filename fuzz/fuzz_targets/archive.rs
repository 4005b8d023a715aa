#![no_main]
//! Fuzz target `archive`: see `layerscope_core::fuzzing::archive`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_core::fuzzing::archive(data));
