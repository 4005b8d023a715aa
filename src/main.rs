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
    yew::Renderer::<app::App>::new().render();
}
