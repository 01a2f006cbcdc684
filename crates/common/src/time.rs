//! UTC timestamps from [`SystemTime`], so the lessons need no date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
}

impl Utc {
    /// The current time. A clock set before 1970 reads as 1970.
    pub fn now() -> Utc {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Utc::from_unix(since.as_secs(), since.subsec_micros())
    }

    /// From seconds (and microseconds) since 1970-01-01T00:00:00Z.
    pub fn from_unix(secs: u64, micros: u32) -> Utc {
        let days = (secs / 86_400) as i64;
        let rem = (secs % 86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Utc {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            micros,
        }
    }

    /// ISO 8601, as the tutorial's `TIME` command answers:
    /// `2026-11-21T09:37:00.123456Z`.
    pub fn iso8601(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros
        )
    }

    /// `09:37:00.123`, for log lines.
    pub fn clock(&self) -> String {
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            self.hour,
            self.minute,
            self.second,
            self.micros / 1000
        )
    }
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(
            Utc::from_unix(0, 0).iso8601(),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            Utc::from_unix(951_782_400, 5).iso8601(),
            "2000-02-29T00:00:00.000005Z"
        );
        assert_eq!(
            Utc::from_unix(1_795_253_820, 0).iso8601(),
            "2026-11-21T09:37:00.000000Z"
        );
        assert_eq!(
            Utc::from_unix(1_795_253_820, 123_456).clock(),
            "09:37:00.123"
        );
    }
}
