// Starts the layer worker: loads wasm-bindgen's glue and then the worker's wasm, both by paths
// relative to this script, so the page works from any sub-path of any static host.
importScripts("./layer-worker.js");
wasm_bindgen({ module_or_path: "./layer-worker_bg.wasm" });
