//! Sizes and times the way the docker CLI prints them.
//!
//! API summary:
//! - [`size`]`(bytes: u64) -> String`: `docker image ls` / `docker history` SIZE (`126MB`, `5.59MB`, `0B`).
//! - [`duration`]`(seconds: i64) -> String`: docker's human duration (`About a minute`, `4 weeks`).
//! - [`ago`]`(then_unix: i64, now_unix: i64) -> String`: CREATED column (`4 weeks ago`).
//! - [`percent`]`(ratio: f64) -> String`: a ratio as dive's figures read (`98.44 %`).
//!
//! The formats are facts learned from docker's go-units library: sizes use
//! decimal units (base 1000, `B kB MB GB TB PB EB ZB YB`) printed with Go's
//! `%.3g`, so three significant digits, trailing zeros dropped, and Go's
//! exponent form when rounding reaches 1000 within a unit (`1e+03kB`).
//! Durations follow go-units `HumanDuration`: whole seconds below a minute,
//! minutes below an hour, hours rounded to nearest below 48, then days below
//! two weeks, weeks below two 30-day months, months below two 365-day years,
//! then years. No clock is read here: callers pass "now".

use crate::model::time::Timestamp;

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// Formats a byte count the way `docker image ls` and `docker history` do.
pub fn size(bytes: u64) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < DECIMAL_UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", go_g_format(value, 3), DECIMAL_UNITS[unit])
}

/// A ratio (0.9844) as a percentage with two decimals, as dive's efficiency reads
/// (`98.44 %`); not-a-number (dive's ratio for an image without user bytes) reads `n/a`.
pub fn percent(ratio: f64) -> String {
    if ratio.is_finite() {
        format!("{:.2} %", ratio * 100.0)
    } else {
        "n/a".to_string()
    }
}

/// Renders `value` like Go's `%.{precision}g` for finite, non-negative values.
///
/// Rust's `{:.Ne}` rounds the exact binary value half-to-even, as Go's strconv
/// does, so the significant digits agree; only the layout needs Go's rules:
/// exponent form when the exponent is below -4 or reaches the precision.
fn go_g_format(value: f64, precision: usize) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("{:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    if exponent < -4 || exponent >= precision as i32 {
        let mut m = digits[..1].to_string();
        let rest = digits[1..].trim_end_matches('0');
        if !rest.is_empty() {
            m.push('.');
            m.push_str(rest);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exponent.abs());
    }
    let text = if exponent >= 0 {
        let int_len = exponent as usize + 1;
        let (int_part, frac) = digits.split_at(int_len.min(digits.len()));
        format!("{int_part}.{frac}")
    } else {
        format!("0.{}{}", "0".repeat((-exponent - 1) as usize), digits)
    };
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// docker's human duration (go-units `HumanDuration`) for a span in seconds.
///
/// Negative spans (a timestamp in the future) read as "Less than a second",
/// as docker prints them.
pub fn duration(seconds: i64) -> String {
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = seconds / 60;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // go-units rounds hours to nearest here, and only here.
    let hours = ((seconds as f64) / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", seconds / 3600 / 24 / 365)
}

/// The CREATED column: `duration(now - then) + " ago"`.
pub fn ago(then_unix: i64, now_unix: i64) -> String {
    format!("{} ago", duration(now_unix.saturating_sub(then_unix)))
}

/// `ago` for an RFC 3339 time as configs and reports carry it; the text
/// itself when it does not parse, so a display never loses what was there.
pub fn ago_rfc3339(text: &str, now_unix: i64) -> String {
    match Timestamp::parse(text) {
        Ok(t) => ago(t.unix, now_unix),
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_read_as_percentages() {
        assert_eq!(percent(0.9844212134184309), "98.44 %");
        assert_eq!(percent(1.0), "100.00 %");
        assert_eq!(percent(f64::NAN), "n/a");
    }

    #[test]
    fn sizes_match_docker() {
        let cases: &[(u64, &str)] = &[
            (0, "0B"),
            (1, "1B"),
            (999, "999B"),
            (1000, "1kB"),
            (1024, "1.02kB"),
            (1125, "1.12kB"), // exact tie rounds to even, as Go does
            (1135, "1.14kB"),
            (5_590_000, "5.59MB"),
            (5_585_000, "5.58MB"),
            (126_000_000, "126MB"),
            (125_999_999, "126MB"),
            (7_800_000, "7.8MB"),
            (999_499, "999kB"),
            (999_500, "1e+03kB"), // Go's %.3g switches to exponent form here
            (1_000_000, "1MB"),
            (4_294_967_296, "4.29GB"),
            (u64::MAX, "18.4EB"),
        ];
        for (bytes, want) in cases {
            assert_eq!(size(*bytes), *want, "size({bytes})");
        }
    }

    #[test]
    fn durations_match_go_units() {
        let cases: &[(i64, &str)] = &[
            (-5, "Less than a second"),
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (119, "About a minute"),
            (120, "2 minutes"),
            (3599, "59 minutes"),
            (3600, "About an hour"),
            (5399, "About an hour"),
            (5400, "2 hours"),
            (47 * 3600, "47 hours"),
            (48 * 3600, "2 days"),
            (13 * 86400, "13 days"),
            (14 * 86400, "2 weeks"),
            (28 * 86400, "4 weeks"),
            (59 * 86400, "8 weeks"),
            (60 * 86400, "2 months"),
            (729 * 86400, "24 months"),
            (730 * 86400, "2 years"),
            (3 * 365 * 86400 + 100, "3 years"),
        ];
        for (secs, want) in cases {
            assert_eq!(duration(*secs), *want, "duration({secs})");
        }
        assert_eq!(ago(1000, 1000 + 28 * 86400), "4 weeks ago");
    }

    #[test]
    fn ago_from_rfc3339_text() {
        let now = Timestamp::parse("2020-01-01T00:00:00Z").unwrap().unix;
        assert_eq!(
            ago_rfc3339("2018-12-28T20:44:23.030424642Z", now),
            "12 months ago"
        );
        assert_eq!(ago_rfc3339("not a time", now), "not a time");
    }
}
