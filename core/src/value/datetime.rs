//! UTC datetimes with nanosecond precision and durations, with RFC 3339 / SurrealQL text forms.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

const NANOS_PER_SEC: u32 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// A UTC instant: seconds since the Unix epoch plus nanoseconds (0..1e9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Datetime {
    /// Seconds since 1970-01-01T00:00:00Z (may be negative).
    pub secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
}

/// A non-negative span of time with nanosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Duration {
    /// Whole seconds.
    pub secs: u64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
}

/// Text that is not a valid datetime or duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct ParseTemporalError {
    /// "datetime" or "duration".
    pub what: &'static str,
    /// The rejected text.
    pub input: String,
    /// What was wrong.
    pub reason: &'static str,
}

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d`
/// (Howard Hinnant's `days_from_civil`). `m` is 1..=12, `d` 1..=31.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of `z` days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Datetime {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Datetime = Datetime { secs: 0, nanos: 0 };

    /// The instant `secs` seconds and `nanos` nanoseconds after the Unix epoch;
    /// `None` if `nanos` is not below one second.
    pub fn from_unix(secs: i64, nanos: u32) -> Option<Self> {
        (nanos < NANOS_PER_SEC).then_some(Datetime { secs, nanos })
    }

    /// Parses RFC 3339 text (`2024-01-01T12:00:00.5+02:00`, `…Z`), normalising any offset
    /// to UTC. Up to 9 fraction digits; `t`/space separators and a lowercase `z` are
    /// accepted; years outside `0000..=9999` need a sign (`+10000-01-01T00:00:00Z`).
    pub fn parse(s: &str) -> Result<Self, ParseTemporalError> {
        let err = |reason| ParseTemporalError {
            what: "datetime",
            input: s.to_owned(),
            reason,
        };
        let mut p = Cursor {
            b: s.as_bytes(),
            i: 0,
        };
        let year = match p.peek() {
            Some(sign @ (b'+' | b'-')) => {
                p.i += 1;
                // Up to 12 digits: every `i64` second count has a year that fits (and prints back).
                let digits = p
                    .digits_between(4, 12)
                    .ok_or(err("expected a 4 to 12 digit year"))?;
                if sign == b'-' {
                    -(digits as i64)
                } else {
                    digits as i64
                }
            }
            _ => p.digits(4).ok_or(err("expected a 4-digit year"))? as i64,
        };
        p.expect(b'-').ok_or(err("expected `-` after the year"))?;
        let month = p.digits(2).ok_or(err("expected a 2-digit month"))? as u32;
        p.expect(b'-').ok_or(err("expected `-` after the month"))?;
        let day = p.digits(2).ok_or(err("expected a 2-digit day"))? as u32;
        if !(1..=12).contains(&month) {
            return Err(err("month must be 01..=12"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(err("day does not exist in that month"));
        }
        match p.peek() {
            Some(b'T' | b't' | b' ') => p.i += 1,
            _ => return Err(err("expected `T` between date and time")),
        }
        let hour = p.digits(2).ok_or(err("expected a 2-digit hour"))? as i64;
        p.expect(b':').ok_or(err("expected `:` after the hour"))?;
        let minute = p.digits(2).ok_or(err("expected 2-digit minutes"))? as i64;
        p.expect(b':')
            .ok_or(err("expected `:` after the minutes"))?;
        let second = p.digits(2).ok_or(err("expected 2-digit seconds"))? as i64;
        if hour > 23 || minute > 59 {
            return Err(err("time of day out of range"));
        }
        if second > 59 {
            return Err(err(
                "seconds must be 00..=59 (leap seconds are not supported)",
            ));
        }
        let mut nanos = 0u32;
        if p.peek() == Some(b'.') {
            p.i += 1;
            let start = p.i;
            while let Some(c @ b'0'..=b'9') = p.peek() {
                if p.i - start == 9 {
                    return Err(err("more than 9 fraction digits"));
                }
                nanos = nanos * 10 + u32::from(c - b'0');
                p.i += 1;
            }
            let n = p.i - start;
            if n == 0 {
                return Err(err("expected fraction digits after `.`"));
            }
            nanos *= 10u32.pow(9 - n as u32);
        }
        let offset = match p.peek() {
            Some(b'Z' | b'z') => {
                p.i += 1;
                0
            }
            Some(sign @ (b'+' | b'-')) => {
                p.i += 1;
                let oh = p.digits(2).ok_or(err("expected a 2-digit offset hour"))? as i64;
                p.expect(b':').ok_or(err("expected `:` in the offset"))?;
                let om = p.digits(2).ok_or(err("expected 2-digit offset minutes"))? as i64;
                if oh > 23 || om > 59 {
                    return Err(err("offset out of range"));
                }
                let o = oh * 3600 + om * 60;
                if sign == b'-' {
                    -o
                } else {
                    o
                }
            }
            _ => return Err(err("expected `Z` or an offset like `+02:00`")),
        };
        if p.i != p.b.len() {
            return Err(err("unexpected text after the datetime"));
        }
        let days = i128::from(days_from_civil(year, month, day));
        let secs = days * i128::from(SECS_PER_DAY)
            + i128::from(hour * 3600 + minute * 60 + second - offset);
        let secs = i64::try_from(secs).map_err(|_| err("out of the representable range"))?;
        Ok(Datetime { secs, nanos })
    }

    /// This instant as a [`SystemTime`]; `None` if the platform cannot represent it.
    pub fn to_system_time(&self) -> Option<SystemTime> {
        let nanos = std::time::Duration::from_nanos(u64::from(self.nanos));
        if self.secs >= 0 {
            UNIX_EPOCH.checked_add(std::time::Duration::from_secs(self.secs.unsigned_abs()) + nanos)
        } else {
            UNIX_EPOCH
                .checked_sub(std::time::Duration::from_secs(self.secs.unsigned_abs()))?
                .checked_add(nanos)
        }
    }
}

impl From<SystemTime> for Datetime {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Datetime {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            Err(before) => {
                let d = before.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() == 0 {
                    Datetime {
                        secs: -secs,
                        nanos: 0,
                    }
                } else {
                    Datetime {
                        secs: -secs - 1,
                        nanos: NANOS_PER_SEC - d.subsec_nanos(),
                    }
                }
            }
        }
    }
}

impl fmt::Display for Datetime {
    /// RFC 3339 in UTC with as few fraction digits as needed: `2024-01-01T00:00:00Z`,
    /// `2024-01-01T00:00:00.5Z`, `2024-01-01T00:00:00.000000001Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(SECS_PER_DAY);
        let sod = self.secs.rem_euclid(SECS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        if (0..=9999).contains(&y) {
            write!(f, "{y:04}")?;
        } else {
            write!(f, "{y:+05}")?;
        }
        write!(
            f,
            "-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        )?;
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

impl std::str::FromStr for Datetime {
    type Err = ParseTemporalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Datetime::parse(s)
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.i += 1)
    }
    fn digits(&mut self, n: usize) -> Option<u64> {
        self.digits_between(n, n)
    }
    fn digits_between(&mut self, min: usize, max: usize) -> Option<u64> {
        let start = self.i;
        let mut v = 0u64;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if self.i - start == max {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
            self.i += 1;
        }
        (self.i - start >= min).then_some(v)
    }
}

const UNITS: [(&str, u64, u32); 10] = [
    // (suffix, seconds, nanoseconds) per unit; longer suffixes first so `ms` wins over `m`.
    ("ns", 0, 1),
    ("us", 0, 1_000),
    ("µs", 0, 1_000),
    ("ms", 0, 1_000_000),
    ("s", 1, 0),
    ("m", 60, 0),
    ("h", 3_600, 0),
    ("d", 86_400, 0),
    ("w", 604_800, 0),
    ("y", 31_536_000, 0),
];

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration { secs: 0, nanos: 0 };

    /// `secs` seconds plus `nanos` nanoseconds (carrying whole seconds out of `nanos`);
    /// `None` on overflow.
    pub fn new(secs: u64, nanos: u32) -> Option<Self> {
        let secs = secs.checked_add(u64::from(nanos / NANOS_PER_SEC))?;
        Some(Duration {
            secs,
            nanos: nanos % NANOS_PER_SEC,
        })
    }

    /// Parses SurrealQL duration text: one or more `<digits><unit>` parts, units
    /// `ns us µs ms s m h d w y` (`y` = 365 days), e.g. `1h30m`, `1y2w3d4h5m6s7ms8us9ns`.
    pub fn parse(s: &str) -> Result<Self, ParseTemporalError> {
        let err = |reason| ParseTemporalError {
            what: "duration",
            input: s.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(err("empty text; expected e.g. `1h30m`"));
        }
        let mut rest = s;
        let mut total: u128 = 0; // nanoseconds; u128 so that overflow is checked once, at the end
        while !rest.is_empty() {
            let n_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if n_digits == 0 {
                return Err(err("expected digits before each unit"));
            }
            let (digits, after) = rest.split_at(n_digits);
            let n: u128 = digits.parse().map_err(|_| err("number too large"))?;
            let (unit, secs, nanos) = UNITS
                .iter()
                .filter(|(u, _, _)| after.starts_with(u))
                .max_by_key(|(u, _, _)| u.len())
                .ok_or(err("expected a unit: ns, us, µs, ms, s, m, h, d, w or y"))?;
            let per = u128::from(*secs) * u128::from(NANOS_PER_SEC) + u128::from(*nanos);
            total = n
                .checked_mul(per)
                .and_then(|x| total.checked_add(x))
                .ok_or(err("duration too large"))?;
            rest = &after[unit.len()..];
        }
        let secs = u64::try_from(total / u128::from(NANOS_PER_SEC))
            .map_err(|_| err("duration too large"))?;
        Ok(Duration {
            secs,
            nanos: (total % u128::from(NANOS_PER_SEC)) as u32,
        })
    }
}

impl fmt::Display for Duration {
    /// The server's canonical form: `1h30m`, `1y2w3d`, `1s500ms`, `0ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secs == 0 && self.nanos == 0 {
            return f.write_str("0ns");
        }
        let mut secs = self.secs;
        for (unit, per) in [
            ("y", 31_536_000),
            ("w", 604_800),
            ("d", 86_400),
            ("h", 3_600),
            ("m", 60),
            ("s", 1),
        ] {
            let n = secs / per;
            secs %= per;
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        let mut nanos = self.nanos;
        for (unit, per) in [("ms", 1_000_000), ("µs", 1_000), ("ns", 1)] {
            let n = nanos / per;
            nanos %= per;
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Duration {
    type Err = ParseTemporalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Duration::parse(s)
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration {
            secs: d.as_secs(),
            nanos: d.subsec_nanos(),
        }
    }
}

impl From<Duration> for std::time::Duration {
    /// Nanoseconds at or above one second (impossible for parsed values) carry over.
    fn from(d: Duration) -> Self {
        std::time::Duration::from_secs(d.secs)
            .saturating_add(std::time::Duration::from_nanos(u64::from(d.nanos)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_table() {
        for (y, m, d, days) in [
            (1970, 1, 1, 0),
            (1970, 1, 2, 1),
            (1969, 12, 31, -1),
            (2000, 1, 1, 10_957),
            (2000, 2, 29, 11_016),
            (2000, 3, 1, 11_017),
            (1900, 3, 1, -25_508),
            (1600, 2, 29, -135_081),
            (2024, 2, 29, 19_782),
            (0, 1, 1, -719_528),
            (-1, 12, 31, -719_529),
            (-4, 2, 29, -720_930),
            (9999, 12, 31, 2_932_896),
        ] {
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
            assert_eq!(civil_from_days(days), (y, m, d), "{days}");
        }
    }

    #[test]
    fn civil_days_round_trip_every_day_of_many_years() {
        let start = days_from_civil(-401, 1, 1);
        let end = days_from_civil(2401, 1, 1);
        let mut prev = civil_from_days(start - 1);
        for z in start..end {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
            assert!(d >= 1 && d <= days_in_month(y, m));
            assert!((y, m, d) > prev);
            prev = (y, m, d);
        }
    }

    #[test]
    fn leap_years() {
        assert!(is_leap(2000));
        assert!(is_leap(2024));
        assert!(!is_leap(1900));
        assert!(!is_leap(2023));
        assert!(is_leap(0));
        assert!(is_leap(-4));
        assert!(!is_leap(-100));
    }

    fn dt(s: &str) -> Datetime {
        Datetime::parse(s).unwrap()
    }

    #[test]
    fn datetime_display() {
        assert_eq!(Datetime::UNIX_EPOCH.to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Datetime::from_unix(1_704_067_200, 500_000_000)
                .unwrap()
                .to_string(),
            "2024-01-01T00:00:00.5Z"
        );
        assert_eq!(
            Datetime::from_unix(1_704_067_200, 1).unwrap().to_string(),
            "2024-01-01T00:00:00.000000001Z"
        );
        assert_eq!(
            Datetime::from_unix(-1, 999_999_999).unwrap().to_string(),
            "1969-12-31T23:59:59.999999999Z"
        );
        assert_eq!(
            Datetime::from_unix(-62_167_219_200, 0).unwrap().to_string(),
            "0000-01-01T00:00:00Z"
        );
        assert_eq!(
            Datetime::from_unix(-62_167_219_201, 0).unwrap().to_string(),
            "-0001-12-31T23:59:59Z"
        );
        assert_eq!(
            Datetime::from_unix(253_402_300_800, 0).unwrap().to_string(),
            "+10000-01-01T00:00:00Z"
        );
        assert_eq!(Datetime::from_unix(0, 1_000_000_000), None);
    }

    #[test]
    fn datetime_parse() {
        assert_eq!(dt("1970-01-01T00:00:00Z"), Datetime::UNIX_EPOCH);
        assert_eq!(
            dt("2024-01-01T00:00:00.5Z"),
            Datetime {
                secs: 1_704_067_200,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            dt("2024-01-01T02:00:00+02:00"),
            Datetime {
                secs: 1_704_067_200,
                nanos: 0
            }
        );
        assert_eq!(
            dt("2023-12-31T19:30:00-04:30"),
            Datetime {
                secs: 1_704_067_200,
                nanos: 0
            }
        );
        assert_eq!(
            dt("2024-01-01t00:00:00.000000001z"),
            Datetime {
                secs: 1_704_067_200,
                nanos: 1
            }
        );
        assert_eq!(dt("2024-01-01 00:00:00.123Z").nanos, 123_000_000);
        assert_eq!(
            dt("1969-12-31T23:59:59.999999999Z"),
            Datetime {
                secs: -1,
                nanos: 999_999_999
            }
        );
        assert_eq!(dt("-0001-12-31T23:59:59Z").secs, -62_167_219_201);
        assert_eq!(dt("+10000-01-01T00:00:00Z").secs, 253_402_300_800);
        assert_eq!(
            dt("2024-02-29T00:00:00Z").to_string(),
            "2024-02-29T00:00:00Z"
        );
        for bad in [
            "",
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.1234567891Z",
            "2024-01-01T00:00:00Zjunk",
            "2024-01-01T00:00:00+2:00",
            "999999999-01-01T00:00:00Z",
            "+9999999999999-01-01T00:00:00Z",
            "+999999999999-01-01T00:00:00Z",
        ] {
            let e = Datetime::parse(bad).unwrap_err();
            assert_eq!(e.input, bad);
            assert_eq!(e.what, "datetime");
        }
    }

    #[test]
    fn extreme_datetimes_print_and_parse_back() {
        for secs in [
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            -62_167_219_201,
            253_402_300_800,
        ] {
            let d = Datetime {
                secs,
                nanos: 999_999_999,
            };
            assert_eq!(Datetime::parse(&d.to_string()), Ok(d), "{d}");
        }
    }

    #[test]
    fn datetime_system_time() {
        let t = UNIX_EPOCH + std::time::Duration::new(5, 7);
        let d = Datetime::from(t);
        assert_eq!(d, Datetime { secs: 5, nanos: 7 });
        assert_eq!(d.to_system_time(), Some(t));
        let t = UNIX_EPOCH - std::time::Duration::new(5, 7);
        let d = Datetime::from(t);
        assert_eq!(
            d,
            Datetime {
                secs: -6,
                nanos: 999_999_993
            }
        );
        assert_eq!(d.to_system_time(), Some(t));
    }

    fn dur(s: &str) -> Duration {
        Duration::parse(s).unwrap()
    }

    #[test]
    fn duration_parse_and_display() {
        assert_eq!(
            dur("1h30m"),
            Duration {
                secs: 5400,
                nanos: 0
            }
        );
        assert_eq!(dur("1h30m").to_string(), "1h30m");
        assert_eq!(dur("90m").to_string(), "1h30m");
        assert_eq!(Duration::ZERO.to_string(), "0ns");
        assert_eq!(dur("0s"), Duration::ZERO);
        let all = dur("1y2w3d4h5m6s7ms8us9ns");
        assert_eq!(
            all,
            Duration {
                secs: 31_536_000 + 2 * 604_800 + 3 * 86_400 + 4 * 3600 + 5 * 60 + 6,
                nanos: 7_008_009
            }
        );
        assert_eq!(all.to_string(), "1y2w3d4h5m6s7ms8µs9ns");
        assert_eq!(dur("8µs"), dur("8us"));
        assert_eq!(dur("1500ms").to_string(), "1s500ms");
        assert_eq!(dur("365d").to_string(), "1y");
        for bad in [
            "",
            "h",
            "1",
            "1x",
            "1h30",
            "-1s",
            "1.5s",
            "99999999999999999999999y",
            " 1s",
        ] {
            let e = Duration::parse(bad).unwrap_err();
            assert_eq!(e.input, bad);
        }
    }

    #[test]
    fn duration_std_conversions() {
        let d = std::time::Duration::new(3, 4);
        assert_eq!(Duration::from(d), Duration { secs: 3, nanos: 4 });
        assert_eq!(std::time::Duration::from(Duration { secs: 3, nanos: 4 }), d);
    }
}
