//! Calendar arithmetic on millisecond timestamps: days, weekdays and ISO week labels.

pub(crate) const SECOND_MS: i64 = 1_000;
pub(crate) const MINUTE_MS: i64 = 60 * SECOND_MS;
pub(crate) const HOUR_MS: i64 = 60 * MINUTE_MS;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;

/// The UTC day (days since 1970-01-01) a millisecond timestamp falls on.
pub(crate) fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// 0 for Monday through 6 for Sunday.
pub(crate) fn weekday(day: i64) -> i64 {
    // 1970-01-01 was a Thursday.
    (day + 3).rem_euclid(7)
}

pub(crate) fn is_weekend(day: i64) -> bool {
    weekday(day) >= 5
}

/// The proleptic Gregorian date of a day (H. Hinnant's `civil_from_days`).
pub(crate) fn civil(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The ISO 8601 week a day belongs to, as `2026-W14`: the week's Thursday decides the year.
pub(crate) fn iso_week_label(day: i64) -> String {
    let thursday = day - weekday(day) + 3;
    let (year, _, _) = civil(thursday);
    let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
    format!("{year}-W{week:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil(0), (1970, 1, 1));
        for day in [-800_000, -1, 0, 59, 10_957, 20_544, 2_932_896] {
            let (y, m, d) = civil(day);
            assert_eq!(days_from_civil(y, m, d), day, "day {day}");
        }
        assert_eq!(civil(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn weekdays_and_iso_weeks_match_the_calendar() {
        let day = days_from_civil(2026, 4, 1);
        assert_eq!(weekday(day), 2, "2026-04-01 is a Wednesday");
        assert_eq!(iso_week_label(day), "2026-W14");
        assert_eq!(iso_week_label(days_from_civil(2021, 1, 3)), "2020-W53");
        assert_eq!(iso_week_label(days_from_civil(2024, 12, 30)), "2025-W01");
        assert_eq!(iso_week_label(days_from_civil(2026, 1, 1)), "2026-W01");
        assert!(is_weekend(days_from_civil(2026, 4, 5)));
        assert!(!is_weekend(days_from_civil(2026, 4, 6)));
    }
}
