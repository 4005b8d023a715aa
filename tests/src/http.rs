//! HTTP clients for talking to processes on loopback.

use std::time::Duration;

/// A ureq agent for loopback servers: no proxy from the environment, HTTP error statuses
/// returned as responses (the tests assert on them), and a bound on every call.
pub fn loopback_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

pub use layerscope_test_support::HttpReply;

/// A ureq response as an [`HttpReply`], the body read up to `limit` bytes.
pub fn read_reply(
    response: &mut ureq::http::Response<ureq::Body>,
    limit: u64,
) -> Result<HttpReply, ureq::Error> {
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()?;
    Ok(HttpReply {
        status: response.status().as_u16(),
        headers,
        body,
    })
}
