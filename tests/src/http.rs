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
