#![no_main]
//! Fuzz target `reference`: see `layerscope_core::fuzzing::reference`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_core::fuzzing::reference(data));
