//! Text forms some peers put inside tags 0 (RFC 3339 datetime) and 13 (SurrealQL
//! duration). Kept here, small and strict, so the decoder does not depend on the value
//! module's richer parsers.

use crate::value::{Datetime, Duration};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (RFC 3339; `t`/space accepted for `T`,
/// `z` for `Z`, up to 9 fraction digits).
pub(super) fn parse_rfc3339(s: &str) -> Result<Datetime, &'static str> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Result<i64, &'static str> {
        let digits = b.get(from..from + len).ok_or("too short")?;
        digits.iter().try_fold(0i64, |acc, &c| {
            if c.is_ascii_digit() {
                Ok(acc * 10 + i64::from(c - b'0'))
            } else {
                Err("expected a digit")
            }
        })
    };
    let sep = |at: usize, ok: &[u8]| -> Result<(), &'static str> {
        match b.get(at) {
            Some(c) if ok.contains(c) => Ok(()),
            _ => Err("unexpected separator"),
        }
    };
    let year = num(0, 4)?;
    sep(4, b"-")?;
    let month = num(5, 2)?;
    sep(7, b"-")?;
    let day = num(8, 2)?;
    sep(10, b"Tt ")?;
    let hour = num(11, 2)?;
    sep(13, b":")?;
    let minute = num(14, 2)?;
    sep(16, b":")?;
    let second = num(17, 2)?;
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day out of range for the month");
    }
    // 60 is a leap second; like most parsers we fold it into the next second.
    if hour > 23 || minute > 59 || second > 60 {
        return Err("time of day out of range");
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start >= 9 {
                return Err("more than 9 fraction digits");
            }
            nanos = nanos * 10 + u32::from(c - b'0');
            i += 1;
        }
        if i == start {
            return Err("empty fraction");
        }
        nanos *= 10u32.pow(9 - (i - start) as u32);
    }
    let offset_secs = match b.get(i) {
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(&c @ (b'+' | b'-')) => {
            let h = num(i + 1, 2)?;
            sep(i + 3, b":")?;
            let m = num(i + 4, 2)?;
            if h > 23 || m > 59 {
                return Err("offset out of range");
            }
            i += 6;
            let off = h * 3600 + m * 60;
            if c == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return Err("missing time zone (Z or ±HH:MM)"),
    };
    if i != b.len() {
        return Err("trailing characters");
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Ok(Datetime { secs, nanos })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a SurrealQL duration such as `1h30m` (fractions like `1.5s` are not accepted: the server's
/// syntax is integer amounts with units `ns us µs ms s m h d w y`).
pub(super) fn parse_duration(s: &str) -> Result<Duration, &'static str> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err("empty duration");
    }
    let mut total: u128 = 0;
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let mut amount: u128 = 0;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            amount = amount
                .checked_mul(10)
                .and_then(|a| a.checked_add(u128::from(c - b'0')))
                .ok_or("amount too large")?;
            i += 1;
        }
        if i == start {
            return Err("expected a number before each unit");
        }
        let rest = s.get(i..).unwrap_or("");
        let (unit_nanos, unit_len): (u128, usize) = if rest.starts_with("ns") {
            (1, 2)
        } else if rest.starts_with("us") {
            (1_000, 2)
        } else if rest.starts_with("µs") {
            (1_000, "µs".len())
        } else if rest.starts_with("ms") {
            (1_000_000, 2)
        } else if rest.starts_with('s') {
            (1_000_000_000, 1)
        } else if rest.starts_with('m') {
            (60_000_000_000, 1)
        } else if rest.starts_with('h') {
            (3_600_000_000_000, 1)
        } else if rest.starts_with('d') {
            (86_400_000_000_000, 1)
        } else if rest.starts_with('w') {
            (604_800_000_000_000, 1)
        } else if rest.starts_with('y') {
            (31_536_000_000_000_000, 1)
        } else {
            return Err("unknown unit (expected ns, us, µs, ms, s, m, h, d, w or y)");
        };
        i += unit_len;
        total = amount
            .checked_mul(unit_nanos)
            .and_then(|n| n.checked_add(total))
            .ok_or("duration too large")?;
    }
    let secs =
        u64::try_from(total / u128::from(NANOS_PER_SEC)).map_err(|_| "duration too large")?;
    Ok(Duration {
        secs,
        nanos: (total % u128::from(NANOS_PER_SEC)) as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        let dt = |secs, nanos| Ok(Datetime { secs, nanos });
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), dt(0, 0));
        assert_eq!(
            parse_rfc3339("2024-01-01T00:00:00.5Z"),
            dt(1_704_067_200, 500_000_000)
        );
        assert_eq!(
            parse_rfc3339("2024-01-01T01:00:00+01:00"),
            dt(1_704_067_200, 0)
        );
        assert_eq!(
            parse_rfc3339("1969-12-31T23:59:59.999999999Z"),
            dt(-1, 999_999_999)
        );
        assert_eq!(parse_rfc3339("2000-02-29t12:00:00z"), dt(951_825_600, 0));
        assert_eq!(
            parse_rfc3339("0000-03-01T00:00:00Z"),
            dt(-62_162_035_200, 0)
        );
        for bad in [
            "",
            "2024-01-01",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.1234567890Z",
            "2024-01-01T00:00:00Zx",
            "2024-01-01T00:00:00+1:00",
            "２024-01-01T00:00:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn durations() {
        let d = |secs, nanos| Ok(Duration { secs, nanos });
        assert_eq!(parse_duration("1h30m"), d(5400, 0));
        assert_eq!(parse_duration("1s1ms1us1ns"), d(1, 1_001_001));
        assert_eq!(parse_duration("2µs"), d(0, 2_000));
        assert_eq!(
            parse_duration("1y1w1d"),
            d(31_536_000 + 604_800 + 86_400, 0)
        );
        assert_eq!(parse_duration("0ns"), d(0, 0));
        for bad in [
            "",
            "1",
            "h",
            "1x",
            "1.5s",
            "-1s",
            "99999999999999999999999999999999999999999y",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
