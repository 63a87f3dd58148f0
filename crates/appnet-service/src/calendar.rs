//! A `SystemTime` as UTC calendar fields, for output that must look exactly like other
//! programs' (dig's `;; WHEN:` line, the access log's Common Log Format time) without pulling
//! in a date library for two format strings.

use std::time::{SystemTime, UNIX_EPOCH};

/// Three-letter English month names, January first.
pub const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Three-letter English weekday names, Monday first.
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A moment in UTC, to the second. Times before 1970 read as 1970-01-01 00:00:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    /// The year, e.g. 2026.
    pub year: u64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 (Monday) to 6 (Sunday).
    pub weekday: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
}

impl Utc {
    /// The calendar fields of `time`.
    pub fn of(time: SystemTime) -> Self {
        let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let (days, of_day) = (seconds / 86_400, seconds % 86_400);
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            // 1970-01-01 was a Thursday.
            weekday: ((days + 3) % 7) as u32,
            hour: (of_day / 3600) as u32,
            minute: (of_day / 60 % 60) as u32,
            second: (of_day % 60) as u32,
        }
    }

    /// The month's three-letter name.
    pub fn month_name(&self) -> &'static str {
        MONTHS[(self.month - 1) as usize]
    }

    /// The weekday's three-letter name.
    pub fn weekday_name(&self) -> &'static str {
        WEEKDAYS[self.weekday as usize]
    }
}

/// The proleptic Gregorian (year, month 1-12, day 1-31) of `days` since 1970-01-01, by Howard
/// Hinnant's days-to-civil algorithm (eras of 400 years).
fn civil_from_days(days: u64) -> (u64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 } as u32;
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(seconds: u64) -> Utc {
        Utc::of(UNIX_EPOCH + Duration::from_secs(seconds))
    }

    #[test]
    fn fields_match_gnu_date() {
        // `date -u -d @1798761599`: Thu Dec 31 23:59:59 UTC 2026.
        let end_of_2026 = at(1_798_761_599);
        assert_eq!((end_of_2026.year, end_of_2026.month, end_of_2026.day), (2026, 12, 31));
        assert_eq!((end_of_2026.hour, end_of_2026.minute, end_of_2026.second), (23, 59, 59));
        assert_eq!((end_of_2026.weekday_name(), end_of_2026.month_name()), ("Thu", "Dec"));
        assert_eq!(at(0).weekday_name(), "Thu");
        // Leap days, and 2100, which is not a leap year.
        let leap = at(951_782_400);
        assert_eq!((leap.year, leap.month, leap.day, leap.weekday_name()), (2000, 2, 29, "Tue"));
        let march_2100 = at(4_107_542_400);
        assert_eq!((march_2100.year, march_2100.month, march_2100.day), (2100, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn before_the_epoch_reads_as_the_epoch() {
        assert_eq!(Utc::of(UNIX_EPOCH - Duration::from_secs(5)), at(0));
    }
}
