//! Instants as image configs write them: RFC 3339 text, parsed to Unix seconds.
//!
//! Parsing a time is the model's job; turning it into "3 weeks ago" is
//! [`crate::present::humanize`]'s.

use std::fmt;

/// An instant parsed from RFC 3339 text, kept as Unix seconds plus nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
}

/// Why a string is not an RFC 3339 date-time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampError {
    /// The text that failed to parse.
    pub text: String,
    /// Which part is wrong.
    pub reason: &'static str,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an RFC 3339 date-time: {}",
            self.text, self.reason
        )
    }
}

impl std::error::Error for TimestampError {}

impl Timestamp {
    /// A timestamp at whole Unix seconds.
    pub fn from_unix(unix: i64) -> Timestamp {
        Timestamp { unix, nanos: 0 }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (lower-case `t`/`z` and a
    /// space separator are accepted too, as RFC 3339 allows).
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let err = |reason| TimestampError {
            text: text.to_string(),
            reason,
        };
        let b = text.as_bytes();
        if b.len() < 20 {
            return Err(err("too short"));
        }
        // Fields are read as bytes: slicing the text could split a multi-byte character.
        let num = |range: std::ops::Range<usize>, reason| -> Result<i64, TimestampError> {
            let digits = &b[range];
            if digits.iter().all(u8::is_ascii_digit) {
                Ok(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
            } else {
                Err(err(reason))
            }
        };
        if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return Err(err("expected YYYY-MM-DDTHH:MM:SS"));
        }
        if !matches!(b[10], b'T' | b't' | b' ') {
            return Err(err("expected 'T' between date and time"));
        }
        let year = num(0..4, "bad year")?;
        let month = num(5..7, "bad month")?;
        let day = num(8..10, "bad day")?;
        let hour = num(11..13, "bad hour")?;
        let minute = num(14..16, "bad minute")?;
        let second = num(17..19, "bad second")?;
        if !(1..=12).contains(&month) {
            return Err(err("month out of range"));
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err(err("day out of range"));
        }
        // 60 is a leap second; it folds into the next minute like Go does.
        if hour > 23 || minute > 59 || second > 60 {
            return Err(err("time of day out of range"));
        }
        let mut pos = 19;
        let mut nanos: u32 = 0;
        if b[pos] == b'.' {
            pos += 1;
            let start = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            if pos == start {
                return Err(err("empty fraction of a second"));
            }
            for (i, d) in text[start..pos].bytes().take(9).enumerate() {
                nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
            }
        }
        let offset = match &text[pos..] {
            "Z" | "z" => 0,
            zone if zone.len() == 6
                && matches!(zone.as_bytes()[0], b'+' | b'-')
                && zone.as_bytes()[3] == b':' =>
            {
                let h = num(pos + 1..pos + 3, "bad zone hours")?;
                let m = num(pos + 4..pos + 6, "bad zone minutes")?;
                if h > 23 || m > 59 {
                    return Err(err("zone offset out of range"));
                }
                let sign = if zone.as_bytes()[0] == b'-' { -1 } else { 1 };
                sign * (h * 3600 + m * 60)
            }
            _ => return Err(err("expected 'Z' or a ±HH:MM zone after the time")),
        };
        let days = days_from_civil(year, month, day);
        let unix = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
        Ok(Timestamp { unix, nanos })
    }

    /// Parses an HTTP date in the IMF-fixdate form RFC 9110 requires senders to use
    /// (`Sun, 06 Nov 1994 08:49:37 GMT`), as `Retry-After` and `Date` carry it.
    pub fn parse_http_date(text: &str) -> Option<Timestamp> {
        let (_, rest) = text.trim().split_once(", ")?;
        let fields: Vec<&str> = rest.split(' ').collect();
        let [day, month, year, time, "GMT"] = fields.as_slice() else {
            return None;
        };
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
        let year: i64 = year.parse().ok().filter(|_| year.len() == 4)?;
        let day: i64 = day
            .parse()
            .ok()
            .filter(|d| (1..=days_in_month(year, month)).contains(d))?;
        let hms: Vec<i64> = time
            .split(':')
            .map(|p| p.parse().ok())
            .collect::<Option<Vec<i64>>>()?;
        let [h, m, s] = hms.as_slice() else {
            return None;
        };
        if *h > 23 || *m > 59 || *s > 60 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(Timestamp::from_unix(days * 86_400 + h * 3600 + m * 60 + s))
    }

    /// RFC 3339 in UTC with whole seconds, as Go's `time.RFC3339` prints a UTC time.
    pub fn to_rfc3339(&self) -> String {
        let days = self.unix.div_euclid(86_400);
        let secs = self.unix.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }

    /// RFC 3339 in UTC with the fraction Go's `time.RFC3339Nano` keeps
    /// (trailing zeros dropped), which is how `docker image inspect` prints `Created`.
    pub fn to_rfc3339_nanos(&self) -> String {
        let whole = self.to_rfc3339();
        if self.nanos == 0 {
            return whole;
        }
        let frac = format!("{:09}", self.nanos);
        format!(
            "{}.{}Z",
            &whole[..whole.len() - 1],
            frac.trim_end_matches('0')
        )
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// well-known civil-calendar formula).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339() {
        let t = Timestamp::parse("2015-10-31T22:22:56.015925234Z").unwrap();
        assert_eq!(t.unix, 1_446_330_176);
        assert_eq!(t.nanos, 15_925_234);
        assert_eq!(t.to_rfc3339(), "2015-10-31T22:22:56Z");
        assert_eq!(t.to_rfc3339_nanos(), "2015-10-31T22:22:56.015925234Z");
        let zoned = Timestamp::parse("2015-11-01T00:22:56+02:00").unwrap();
        assert_eq!(zoned.unix, 1_446_330_176);
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z").unwrap().unix, 0);
        assert_eq!(
            Timestamp::parse("2000-02-29T00:00:00Z")
                .unwrap()
                .to_rfc3339(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix(-1).to_rfc3339(),
            "1969-12-31T23:59:59Z"
        );
    }

    #[test]
    fn rejects_bad_timestamps() {
        for bad in [
            "",
            "2015-10-31",
            "2015-13-01T00:00:00Z",
            "2015-02-29T00:00:00Z",
            "2015-10-31T25:00:00Z",
            "2015-10-31T22:22:56",
            "2015-10-31T22:22:56.Z",
            "2015-10-31T22:22:56+0200",
            "2015/10/31T22:22:56Z",
        ] {
            let e = Timestamp::parse(bad).unwrap_err();
            assert!(e.to_string().contains("RFC 3339"), "{bad}: {e}");
        }
    }

    #[test]
    fn parses_http_dates() {
        let t = Timestamp::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.to_rfc3339(), "1994-11-06T08:49:37Z");
        assert!(Timestamp::parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT").is_none());
        assert!(Timestamp::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").is_none());
    }
}
