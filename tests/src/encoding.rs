//! Base64 for HTTP basic auth headers and JWTs: the core's (RFC 4648), under the names the
//! harness uses.

use layerscope_core::registry::base64;

/// Standard alphabet with `=` padding (Basic auth, x5c certificates).
pub fn base64_standard(bytes: &[u8]) -> String {
    base64::encode(bytes)
}

/// URL-safe alphabet without padding (JWT segments).
pub fn base64_url(bytes: &[u8]) -> String {
    base64::encode_url(bytes)
}

/// Decodes standard base64 (padding optional; whitespace skipped); `None` on a bad character.
pub fn base64_standard_decode(text: &str) -> Option<Vec<u8>> {
    base64::decode(text)
}
