//! Registry rate limits: Docker Hub's pull allowance headers, when a `429` lets pulls again,
//! and both in words a person reads in their own clock.
//!
//! Docker Hub sends `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600`
//! on manifest answers (`w` is the window in seconds) and, once the allowance is spent,
//! answers `429` with `ratelimit-remaining: 0;w=21600` and no reset time at all: its
//! documentation says pulls are refused "until the six hour window elapses". Other
//! services send `Retry-After` (RFC 9110) or a reset header. [`LimitReset::of`] takes the
//! most exact one the answer has, in this order:
//!
//! 1. `Retry-After`, delay seconds or an HTTP date;
//! 2. `RateLimit-Reset`, delay seconds (the IETF RateLimit header fields draft);
//! 3. `X-RateLimit-Reset`, Unix seconds (as GitHub and Docker Hub's own web API send it);
//! 4. the window of `ratelimit-remaining`/`ratelimit-limit`, counted from the answer's
//!    `Date` (else the caller's clock): the latest the allowance can be back, since the
//!    window may be a rolling one.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::api::ErrorEntry;
use super::error::sanitize;
use super::http::Response;
use crate::model::reference::{DOCKER_HUB_API_HOST, DOCKER_HUB_DOMAIN};
use crate::model::time::Timestamp;

/// Docker Hub's pull allowance, from `ratelimit-limit: 100;w=21600` and
/// `ratelimit-remaining: 76;w=21600` (`w` is the window in seconds), with
/// `docker-ratelimit-source` (the IP or account counted) when sent.
///
/// Docker documents these headers on manifest requests, including `HEAD`, which is how a
/// client checks its allowance without spending a pull.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// Pulls allowed per window.
    pub limit: u64,
    /// Pulls left in the current window, when the registry said.
    pub remaining: Option<u64>,
    /// The window, in seconds.
    pub window_secs: Option<u64>,
    /// Who is counted (an IP address or an account ID), sanitized.
    pub source: Option<String>,
}

impl RateLimit {
    /// Reads the headers; `None` when `ratelimit-limit` is absent or unreadable.
    pub fn from_response(response: &Response) -> Option<RateLimit> {
        let (limit, window) = parse_quota(response.header("ratelimit-limit")?)?;
        let remaining = response.header("ratelimit-remaining").and_then(parse_quota);
        Some(RateLimit {
            limit,
            remaining: remaining.map(|(r, _)| r),
            window_secs: window.or(remaining.and_then(|(_, w)| w)),
            source: response.header("docker-ratelimit-source").map(sanitize),
        })
    }

    /// The window as words (`6-hour`), `None` when unknown or zero.
    fn window_words(&self) -> Option<String> {
        Some(match self.window_secs? {
            0 => return None,
            w if w % 3600 == 0 => format!("{}-hour", w / 3600),
            w if w % 60 == 0 => format!("{}-minute", w / 60),
            w => format!("{w}-second"),
        })
    }
}

/// `100;w=21600` -> (100, Some(21600)).
fn parse_quota(value: &str) -> Option<(u64, Option<u64>)> {
    let mut parts = value.split(';');
    let count = parts.next()?.trim().parse().ok()?;
    let window = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("w")
            .then(|| v.trim().parse().ok())
            .flatten()
    });
    Some((count, window))
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.remaining {
            Some(r) => write!(f, "{r} of {} pulls left", self.limit)?,
            None => write!(f, "{} pulls allowed", self.limit)?,
        }
        if let Some(window) = self.window_words() {
            write!(f, " in this {window} window")?;
        }
        Ok(())
    }
}

/// When `Retry-After` says to try again, as Unix seconds, given the time the answer came
/// (`now`). Both forms of RFC 9110 section 10.2.3 are read: delay seconds and an
/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); the obsolete date forms are not.
pub fn retry_after(response: &Response, now: i64) -> Option<i64> {
    let value = response.header("retry-after")?;
    if let Ok(secs) = value.parse::<u32>() {
        return Some(now.saturating_add(i64::from(secs)));
    }
    Timestamp::parse_http_date(value).map(|t| t.unix)
}

/// When a rate-limited registry lets requests through again, as Unix seconds, and which
/// part of the answer said so (see the module's order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitReset {
    /// From `Retry-After`.
    RetryAfter(i64),
    /// From `RateLimit-Reset` (delay seconds) or `X-RateLimit-Reset` (Unix seconds).
    ResetHeader(i64),
    /// The quota's window counted from the answer: the allowance is back by then at the
    /// latest.
    WindowEnd(i64),
}

impl LimitReset {
    /// The most exact reset time `response` gives; `now` is the caller's clock, used when
    /// the answer has no readable `Date`.
    pub fn of(response: &Response, now: i64) -> Option<LimitReset> {
        let answered = response
            .header("date")
            .and_then(Timestamp::parse_http_date)
            .map_or(now, |t| t.unix);
        if let Some(at) = retry_after(response, answered) {
            return Some(LimitReset::RetryAfter(at));
        }
        let delay = |name| response.header(name)?.trim().parse::<u32>().ok();
        if let Some(secs) = delay("ratelimit-reset") {
            return Some(LimitReset::ResetHeader(answered + i64::from(secs)));
        }
        if let Some(at) = response
            .header("x-ratelimit-reset")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|at| *at > 0)
        {
            return Some(LimitReset::ResetHeader(at));
        }
        let window = RateLimit::from_response(response)?.window_secs?;
        (window > 0).then(|| LimitReset::WindowEnd(answered.saturating_add(window as i64)))
    }

    /// The instant, Unix seconds.
    pub fn at(&self) -> i64 {
        match *self {
            LimitReset::RetryAfter(at)
            | LimitReset::ResetHeader(at)
            | LimitReset::WindowEnd(at) => at,
        }
    }

    /// `at 14:05`, `by 14:05 at the latest`, `at 00:10 tomorrow`, `at 09:00 on 2027-01-16`:
    /// the reset in a clock `utc_offset_minutes` ahead of UTC (the viewer's local time at
    /// the reset), rounded up to the minute, with the day when it is not `now`'s.
    pub fn in_clock(&self, now: i64, utc_offset_minutes: i32) -> String {
        let offset = i64::from(utc_offset_minutes) * 60;
        // Rounded up: "resets at 14:05" must not name a minute before the reset.
        let local = (self.at() + offset + 59).div_euclid(60) * 60;
        let day = local.div_euclid(86_400);
        let minute_of_day = local.rem_euclid(86_400) / 60;
        let clock = format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60);
        let today = (now + offset).div_euclid(86_400);
        let when = match day - today {
            0 => clock,
            1 => format!("{clock} tomorrow"),
            _ => {
                let date = Timestamp::from_unix(local).to_rfc3339();
                format!("{clock} on {}", &date[..10])
            }
        };
        match self {
            LimitReset::WindowEnd(_) => format!("by {when} at the latest"),
            _ => format!("at {when}"),
        }
    }
}

/// A registry's name for people: "Docker Hub" for its hosts, else the host.
pub fn registry_name(host: &str) -> &str {
    match host {
        DOCKER_HUB_API_HOST | DOCKER_HUB_DOMAIN | "index.docker.io" => "Docker Hub",
        other => other,
    }
}

/// A `429` in words for the person who asked, in their clock: "Docker Hub's pull limit is
/// reached (0 of 100 pulls left in this 6-hour window); it resets by 00:17 at the latest."
/// The registry's own words follow when it sent any.
pub fn limit_message(
    registry: &str,
    reset: Option<&LimitReset>,
    rate_limit: Option<&RateLimit>,
    errors: &[ErrorEntry],
    now: i64,
    utc_offset_minutes: i32,
) -> String {
    let mut message = format!("{}'s pull limit is reached", registry_name(registry));
    if let Some(limit) = rate_limit {
        message.push_str(&format!(" ({limit})"));
    }
    match reset {
        Some(reset) => {
            message.push_str("; it resets ");
            message.push_str(&reset.in_clock(now, utc_offset_minutes));
        }
        None => message.push_str("; it sent no reset time, so try again later"),
    }
    message.push('.');
    if let Some(said) = errors.first() {
        message.push_str(&format!(" It says: {said}"));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker Hub's answer once the anonymous allowance is spent, with the headers Docker
    /// Hub sends (as quoted in docker/hub-feedback#2464, 2025-05-12): no `Retry-After`, no
    /// reset header, the 6-hour window only.
    fn docker_hub_429() -> Response {
        Response::new(429)
            .with_header("date", "Mon, 12 May 2025 18:16:34 GMT")
            .with_header("ratelimit-limit", "100;w=21600")
            .with_header("ratelimit-remaining", "0;w=21600")
            .with_header("docker-ratelimit-source", "2001:41d0:801:2000::")
            .with_body(&br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"}]}"#[..])
    }

    #[test]
    fn docker_hub_rate_limit() {
        let r = Response::new(200)
            .with_header("ratelimit-limit", "100;w=21600")
            .with_header("ratelimit-remaining", "76;w=21600")
            .with_header("docker-ratelimit-source", "203.0.113.9");
        let limit = RateLimit::from_response(&r).unwrap();
        assert_eq!(limit.limit, 100);
        assert_eq!(limit.remaining, Some(76));
        assert_eq!(limit.window_secs, Some(21600));
        assert_eq!(limit.source.as_deref(), Some("203.0.113.9"));
        assert_eq!(
            limit.to_string(),
            "76 of 100 pulls left in this 6-hour window"
        );
        let r = Response::new(200).with_header("RateLimit-Limit", "200 ; W=60");
        assert_eq!(
            RateLimit::from_response(&r).unwrap().to_string(),
            "200 pulls allowed in this 1-minute window"
        );
        let r = Response::new(200).with_header("ratelimit-limit", "10;w=90");
        assert_eq!(
            RateLimit::from_response(&r).unwrap().to_string(),
            "10 pulls allowed in this 90-second window"
        );
        assert!(RateLimit::from_response(&Response::new(200)).is_none());
        let r = Response::new(200).with_header("ratelimit-limit", "lots");
        assert!(RateLimit::from_response(&r).is_none());
    }

    #[test]
    fn retry_after_both_forms() {
        let now = 1_000;
        let r = Response::new(429).with_header("Retry-After", "120");
        assert_eq!(retry_after(&r, now), Some(1_120));
        let r = Response::new(429).with_header("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(retry_after(&r, now), Some(784_111_777));
        let r = Response::new(429).with_header("retry-after", "Thu, 29 Feb 2024 00:00:00 GMT");
        assert_eq!(retry_after(&r, now), Some(1_709_164_800));
        for bad in [
            "-5",
            "soon",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
        ] {
            let r = Response::new(429).with_header("retry-after", bad);
            assert_eq!(retry_after(&r, now), None, "{bad}");
        }
        assert_eq!(retry_after(&Response::new(429), now), None);
    }

    #[test]
    fn the_reset_comes_from_the_most_exact_header() {
        let now = 1_800_000_000;
        let hub = docker_hub_429();
        // 2025-05-12T18:16:34Z + 6 hours, counted from the answer's Date, not the clock.
        assert_eq!(
            LimitReset::of(&hub, now),
            Some(LimitReset::WindowEnd(1_747_095_394))
        );
        let with_retry = hub.clone().with_header("retry-after", "600");
        assert_eq!(
            LimitReset::of(&with_retry, now),
            Some(LimitReset::RetryAfter(1_747_073_794 + 600))
        );
        let draft = Response::new(429).with_header("RateLimit-Reset", "90");
        assert_eq!(
            LimitReset::of(&draft, now),
            Some(LimitReset::ResetHeader(now + 90))
        );
        let epoch = Response::new(429).with_header("X-RateLimit-Reset", "1800003600");
        assert_eq!(
            LimitReset::of(&epoch, now),
            Some(LimitReset::ResetHeader(1_800_003_600))
        );
        assert_eq!(LimitReset::of(&Response::new(429), now), None);
        let no_window = Response::new(429).with_header("ratelimit-limit", "100");
        assert_eq!(LimitReset::of(&no_window, now), None);
    }

    #[test]
    fn a_docker_hub_429_names_the_reset_in_the_viewers_clock() {
        let hub = docker_hub_429();
        // Read a minute after the answer, in Berlin's summer time (UTC+2).
        let now = 1_747_073_794 + 60;
        let reset = LimitReset::of(&hub, now);
        let limit = RateLimit::from_response(&hub);
        let errors = super::super::api::parse_errors(&hub.body);
        let message = limit_message(
            "registry-1.docker.io",
            reset.as_ref(),
            limit.as_ref(),
            &errors,
            now,
            120,
        );
        // 00:16:34Z + 2 h = 02:16:34 the next day, rounded up to 02:17.
        assert_eq!(
            message,
            "Docker Hub's pull limit is reached (0 of 100 pulls left in this 6-hour window); \
             it resets by 02:17 tomorrow at the latest. It says: TOOMANYREQUESTS: You have \
             reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"
        );
        // The same answer in New York (UTC-4) is still the same day there.
        assert!(
            limit_message("docker.io", reset.as_ref(), None, &[], now, -240).starts_with(
                "Docker Hub's pull limit is reached; it resets by 20:17 at the latest."
            )
        );
    }

    #[test]
    fn clock_times_round_up_and_name_other_days() {
        let now = 1_800_000_000; // 2027-01-15T08:00:00Z
        assert_eq!(
            LimitReset::RetryAfter(now + 3_900).in_clock(now, 0),
            "at 09:05"
        );
        assert_eq!(
            LimitReset::RetryAfter(now + 3_901).in_clock(now, 0),
            "at 09:06"
        );
        assert_eq!(
            LimitReset::ResetHeader(now + 3_600).in_clock(now, 330),
            "at 14:30"
        );
        assert_eq!(
            LimitReset::RetryAfter(now + 2 * 86_400).in_clock(now, 0),
            "at 08:00 on 2027-01-17"
        );
        assert_eq!(
            LimitReset::WindowEnd(now + 60).in_clock(now, 0),
            "by 08:01 at the latest"
        );
        assert_eq!(
            limit_message("ghcr.io", None, None, &[], now, 0),
            "ghcr.io's pull limit is reached; it sent no reset time, so try again later."
        );
    }
}
