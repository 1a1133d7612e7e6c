//! Event time. Rampart reasons in event time (when the request happened), never in the
//! wall-clock time of the process, so a replayed week behaves like a live week.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch, UTC. Serialized as RFC 3339; a value RFC 3339 cannot
/// write (outside the years 0000..=9999) is serialized as its number of milliseconds, so every
/// value reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// The event times Rampart accepts on intake: from [`SANE_MIN`] (inclusive) to [`SANE_MAX`]
/// (exclusive). A fixed range, not "now plus a margin": pure crates never read the clock, and a
/// replayed archive must be judged the same way on any day. Wide enough for any real log
/// (the web is younger than 1990) and narrow enough that every value is a plain RFC 3339 time
/// with a four-digit year, which every store and client can read back.
pub const SANE_MIN: Timestamp = Timestamp(631_152_000_000); // 1990-01-01T00:00:00Z
/// End (exclusive) of the accepted event times: 2200-01-01T00:00:00Z. See [`SANE_MIN`].
pub const SANE_MAX: Timestamp = Timestamp(7_258_118_400_000);

/// A time outside [`SANE_MIN`]..[`SANE_MAX`], named by the field that carried it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {value} is outside the accepted range 1990-01-01T00:00:00Z..2200-01-01T00:00:00Z")]
pub struct TimeRangeError {
    /// The field (`ts`, `first_seen`, `evidence[3].ts`, `time`, ...).
    pub field: String,
    /// The value as given: RFC 3339 when it has one, else milliseconds since the epoch.
    pub value: String,
}

/// Years RFC 3339 can write: 0000-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999Z.
const RFC3339_MIN_MS: i64 = -62_167_219_200_000;
const RFC3339_MAX_MS: i64 = 253_402_300_799_999;

impl Timestamp {
    /// Whether this time is in the accepted intake range ([`SANE_MIN`]..[`SANE_MAX`]).
    pub const fn is_sane(self) -> bool {
        self.0 >= SANE_MIN.0 && self.0 < SANE_MAX.0
    }
    /// This time, or an error naming `field` when it is outside the accepted range.
    pub fn check_sane(self, field: &str) -> Result<Self, TimeRangeError> {
        if self.is_sane() {
            return Ok(self);
        }
        let value = if (RFC3339_MIN_MS..=RFC3339_MAX_MS).contains(&self.0) {
            self.to_rfc3339()
        } else {
            format!("{} ms", self.0)
        };
        Err(TimeRangeError {
            field: field.to_string(),
            value,
        })
    }
    /// From milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    /// From seconds since the epoch.
    pub const fn from_secs(s: i64) -> Self {
        Timestamp(s * 1000)
    }
    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// Seconds since the epoch (floored).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }
    /// The current wall-clock time. Only for stamping records (audit, comments), never for
    /// detection or correlation windows.
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }
    /// As a chrono UTC date-time.
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
    /// RFC 3339 with milliseconds and `Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }
    /// Parse RFC 3339 (any offset).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| Timestamp(d.timestamp_millis()))
    }
    /// Add a number of milliseconds.
    pub const fn add_millis(self, ms: i64) -> Self {
        Timestamp(self.0 + ms)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if (RFC3339_MIN_MS..=RFC3339_MAX_MS).contains(&self.0) {
            s.serialize_str(&self.to_rfc3339())
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr<'a> {
            Num(i64),
            Str(&'a str),
            Owned(String),
        }
        match Repr::deserialize(d)? {
            Repr::Num(ms) => Ok(Timestamp(ms)),
            Repr::Str(s) => Timestamp::parse_rfc3339(s)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {s:?}"))),
            Repr::Owned(s) => Timestamp::parse_rfc3339(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {s:?}"))),
        }
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian civil date (Howard Hinnant's algorithm).
/// Decoders use it to turn log dates into timestamps without allocating.
pub const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_matches_chrono() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (2026, 11, 22)] {
            let c = Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap().timestamp() / 86400;
            assert_eq!(days_from_civil(y as i64, m, d), c, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn every_value_reads_back() {
        // Regression (issue 8.1): year 10000 and i64::MAX were written as text no parser
        // reads, so one stored alert broke every list.
        for ms in [
            i64::MIN,
            RFC3339_MIN_MS - 1,
            RFC3339_MIN_MS,
            -1,
            0,
            1_700_000_000_123,
            RFC3339_MAX_MS,
            RFC3339_MAX_MS + 1,
            253_402_300_800_000,
            i64::MAX,
        ] {
            let t = Timestamp(ms);
            let j = serde_json::to_string(&t).unwrap();
            let back: Timestamp = serde_json::from_str(&j).unwrap_or_else(|e| panic!("{j}: {e}"));
            assert_eq!(back, t, "{j}");
        }
    }

    #[test]
    fn sane_range() {
        fn check(ms: i64, expected: &str) {
            let got = match Timestamp(ms).check_sane("first_seen") {
                Ok(t) => format!("ok {t}"),
                Err(e) => e.to_string(),
            };
            assert_eq!(got, expected, "{ms}");
        }
        let range = "is outside the accepted range 1990-01-01T00:00:00Z..2200-01-01T00:00:00Z";
        check(SANE_MIN.0, "ok 1990-01-01T00:00:00.000Z");
        check(SANE_MAX.0 - 1, "ok 2199-12-31T23:59:59.999Z");
        check(
            SANE_MIN.0 - 1,
            &format!("first_seen 1989-12-31T23:59:59.999Z {range}"),
        );
        check(
            SANE_MAX.0,
            &format!("first_seen 2200-01-01T00:00:00.000Z {range}"),
        );
        check(0, &format!("first_seen 1970-01-01T00:00:00.000Z {range}"));
        check(
            253_402_300_800_000,
            &format!("first_seen 253402300800000 ms {range}"),
        );
        check(i64::MAX, &format!("first_seen {} ms {range}", i64::MAX));
        check(i64::MIN, &format!("first_seen {} ms {range}", i64::MIN));
        assert_eq!(
            (SANE_MIN.to_rfc3339(), SANE_MAX.to_rfc3339()),
            (
                "1990-01-01T00:00:00.000Z".into(),
                "2200-01-01T00:00:00.000Z".into()
            )
        );
    }

    #[test]
    fn rfc3339_roundtrip() {
        let t = Timestamp::parse_rfc3339("2020-01-04T08:41:43.250+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2020-01-04T07:41:43.250Z");
        let j = serde_json::to_string(&t).unwrap();
        let back: Timestamp = serde_json::from_str(&j).unwrap();
        assert_eq!(back, t);
    }
}
