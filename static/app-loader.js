// Starts the page from a file rather than an inline script, so the page's
// Content-Security-Policy needs no 'unsafe-inline': Trunk writes the names of wasm-bindgen's
// glue and of the wasm (both carry content hashes) on this script's own tag. The marks let
// a trace or the page benchmark tell the start-up's tasks apart.
const tag = document.querySelector("script[data-glue]");
const glue = await import(new URL(tag.dataset.glue, document.baseURI).href);
performance.mark("layerscope start: glue loaded");
await glue.default({ module_or_path: tag.dataset.wasm });
performance.mark("layerscope start: wasm instantiated");
