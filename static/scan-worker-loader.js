// Starts a scan worker of the layer worker's pool: loads wasm-bindgen's glue and then the
// worker's wasm, both by paths relative to this script, so the page works from any sub-path.
importScripts("./scan-worker.js");
wasm_bindgen({ module_or_path: "./scan-worker_bg.wasm" });
