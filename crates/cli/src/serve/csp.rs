//! The page's Content-Security-Policy, sent by `layerscope serve` on every file it serves;
//! `www/index.html` carries the same policy as a `<meta>` for static hosting.
//!
//! Why each directive:
//! - `script-src 'self' 'wasm-unsafe-eval'`: the page, its workers and wasm-bindgen's glue are
//!   files of the page's own origin (Trunk's inline loader is replaced by `app-loader.js`);
//!   compiling the wasm needs `'wasm-unsafe-eval'`, and nothing needs `eval` or inline script.
//! - `style-src 'self'; style-src-attr 'unsafe-inline'`: style sheets are files, but the
//!   windowed tree and the layer bars set `style` attributes (heights, offsets, widths);
//!   attribute styles carry no selectors, so they cannot read the page.
//! - `img-src 'self' data:`: the favicon is a `data:` SVG, so the browser asks for no file.
//! - `connect-src 'self' blob: https: http://localhost:* http://127.0.0.1:*`: the page reads any
//!   registry the user types, directly with CORS, and the core sends plain HTTP only to
//!   loopback registries (as Docker does); `'self'` is the page's own `./proxy/`, `https:`
//!   any proxy named in the settings, and a plain-HTTP proxy must be on loopback (the core's
//!   proxy setting refuses others). CSP cannot name `[::1]`; such registries go through the
//!   proxy. `blob:` reads back what the page itself made, such as the report it offers for
//!   download (the tests read it so); it reaches no server.
//! - `worker-src 'self'`: workers start from the loader scripts of the page's origin.
//! - `object-src 'none'; base-uri 'none'; form-action 'none'`: no plugins, no `<base>` that
//!   would move relative script paths, no form posts anywhere.
//! - `frame-ancestors 'none'` (header only; a `<meta>` cannot carry it): no site may frame the
//!   page to trick clicks on it.

/// The policy as `www/index.html` writes it in its `<meta http-equiv>` (a macro, so that the
/// header's policy is built from it at compile time).
macro_rules! meta_policy {
    () => {
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self' blob: https: http://localhost:* http://127.0.0.1:*; worker-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'none'"
    };
}

/// The policy sent as a header: the `<meta>` one plus what only a header can carry.
pub const HEADER_POLICY: &str = concat!(meta_policy!(), "; frame-ancestors 'none'");

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy in `www/index.html`'s `<meta http-equiv="Content-Security-Policy">`.
    fn page_meta_policy() -> String {
        let page = include_str!("../../../../www/index.html");
        let marker = "http-equiv=\"Content-Security-Policy\" content=\"";
        let start = page.find(marker).expect("www/index.html has a CSP meta") + marker.len();
        let length = page[start..].find('"').expect("the meta's content ends");
        page[start..start + length].to_string()
    }

    #[test]
    fn the_page_meta_and_the_header_say_the_same() {
        assert_eq!(page_meta_policy(), meta_policy!());
        assert_eq!(
            HEADER_POLICY,
            format!("{}; frame-ancestors 'none'", page_meta_policy())
        );
    }

    #[test]
    fn no_inline_script_and_no_eval_are_allowed() {
        for policy in [meta_policy!(), HEADER_POLICY] {
            let script = policy
                .split(';')
                .map(str::trim)
                .find(|directive| directive.starts_with("script-src "))
                .expect("a script-src");
            assert_eq!(script, "script-src 'self' 'wasm-unsafe-eval'");
            assert!(!policy.contains("'unsafe-eval'"), "{policy}");
            assert!(policy.contains("object-src 'none'"), "{policy}");
            assert!(policy.contains("base-uri 'none'"), "{policy}");
        }
        assert!(!meta_policy!().contains("frame-ancestors"));
    }
}
