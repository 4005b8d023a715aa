#![no_main]
//! Fuzz target `scan`: see `layerscope_core::fuzzing::scan`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_core::fuzzing::scan(data));
