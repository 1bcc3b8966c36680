//! Timestamps: milliseconds since the Unix epoch, always UTC.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use crate::FieldError;

/// A point in time in UTC with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, format = DateTime)
)]
pub struct Timestamp(i64);

/// Earliest accepted time (1970-01-01) and latest (9999-12-31): anything outside is a typo.
const MAX_MS: i64 = 253_402_300_799_999;

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 (`2026-03-01T09:30:00Z`, any offset; converted to UTC).
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        let parsed = DateTime::parse_from_rfc3339(text).map_err(|e| {
            FieldError::new(
                field,
                format!("must be an RFC 3339 timestamp such as 2026-03-01T09:30:00Z ({e})"),
            )
        })?;
        let ms = parsed.with_timezone(&Utc).timestamp_millis();
        if !(0..=MAX_MS).contains(&ms) {
            return Err(FieldError::new(field, "must be between 1970 and 9999"));
        }
        Ok(Self(ms))
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }

    pub fn plus_days(self, days: i64) -> Self {
        Self(self.0 + days * 86_400_000)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse("timestamp", &text).map_err(|e| serde::de::Error::custom(e.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_into_utc() {
        let t = Timestamp::parse("t", "2026-03-01T10:30:00+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-03-01T09:30:00.000Z");
    }

    #[test]
    fn rejects_non_rfc3339_with_the_field_name() {
        let e = Timestamp::parse("occurred_at", "01/03/2026").unwrap_err();
        assert_eq!(e.field, "occurred_at");
        assert!(e.reason.contains("RFC 3339"));
    }
}
