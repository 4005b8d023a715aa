#![no_main]
//! Fuzz target `documents`: see `layerscope_core::fuzzing::documents`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_core::fuzzing::documents(data));
