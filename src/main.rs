//! The layerscope page: a Yew app that hands archives to a layer worker and renders its reports.
//!
//! State lives in one reducer ([`state::PageState`]), fed by [`hooks::use_analysis`]; the
//! [`components`] only render it and report clicks. The page never decompresses or
//! hashes: a worker does ([`jobs`]).

mod app;
mod components;
mod download;
mod fragment;
mod hooks;
mod jobs;
mod state;

fn main() {
    // The theme chosen on an earlier visit, before the first paint.
    components::Theme::saved().show();
    // The first render in a task of its own: this one already finished the wasm module's
    // streaming compile and instantiated it (8-27 ms in a trace), and the first render
    // compiles some 250 wasm functions as it first calls them (about 20 ms more); in one
    // task the two made the page's longest start-up task, 54-175 ms on a loaded two-core
    // machine.
    components::after_this_task(|| {
        yew::Renderer::<app::App>::new().render();
    });
}
