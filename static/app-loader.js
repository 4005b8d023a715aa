// Starts the page from a file rather than an inline script, so the page's
// Content-Security-Policy needs no 'unsafe-inline': Trunk writes the names of wasm-bindgen's
// glue and of the wasm (both carry content hashes) on this script's own tag.
const tag = document.querySelector("script[data-glue]");
const glue = await import(new URL(tag.dataset.glue, document.baseURI).href);
await glue.default({ module_or_path: tag.dataset.wasm });
