#![no_main]
//! Fuzz target `registry_responses`: see `layerscope_core::fuzzing::registry_responses`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_core::fuzzing::registry_responses(data));
