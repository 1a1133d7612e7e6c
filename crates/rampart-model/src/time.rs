//! Event time. Rampart reasons in event time (when the request happened), never in the
//! wall-clock time of the process, so a replayed week behaves like a live week.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch, UTC. Serialized as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
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
        s.serialize_str(&self.to_rfc3339())
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
    fn rfc3339_roundtrip() {
        let t = Timestamp::parse_rfc3339("2020-01-04T08:41:43.250+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2020-01-04T07:41:43.250Z");
        let j = serde_json::to_string(&t).unwrap();
        let back: Timestamp = serde_json::from_str(&j).unwrap();
        assert_eq!(back, t);
    }
}
