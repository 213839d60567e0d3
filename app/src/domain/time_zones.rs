//! A tenant's time zone: what analytics buckets days, hours and months in.

use jiff::tz::TimeZone;
use jiff::{civil, Timestamp, Zoned};

use super::{Error, Result};

/// An IANA zone name as a tenant admin would type it ("Europe/Berlin").
pub fn parse(name: &str) -> Result<TimeZone> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid_field("time_zone", "Choose a time zone."));
    }
    TimeZone::get(name).map_err(|_| {
        Error::invalid_field(
            "time_zone",
            format!(
                "{name:?} is not a time zone name; use an IANA name such as Europe/Berlin or UTC"
            ),
        )
    })
}

/// The zone stored on a tenant; names are validated when set, so an unknown
/// one (an older tz database) falls back to UTC rather than failing a request.
pub fn stored(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|_| {
        tracing::warn!(zone = name, "unknown stored time zone; using UTC");
        TimeZone::UTC
    })
}

pub fn at(unix: i64, zone: &TimeZone) -> Zoned {
    Timestamp::from_second(unix)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(zone.clone())
}

pub fn local_date(unix: i64, zone: &TimeZone) -> civil::Date {
    at(unix, zone).date()
}

/// "2026-11" for the month containing `unix` in `zone`.
pub fn month_label(date: civil::Date) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

/// The unix time at which `date` starts in `zone` (a day that starts in a DST
/// gap starts at the first instant after it).
pub fn day_start(date: civil::Date, zone: &TimeZone) -> i64 {
    date.to_zoned(zone.clone())
        .map(|z| z.timestamp().as_second())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(parse("Europe/Berlin").is_ok());
        assert!(parse(" UTC ").is_ok());
        assert!(matches!(parse("Mars/Olympus"), Err(Error::Invalid(_))));
        assert!(matches!(parse(""), Err(Error::Invalid(_))));
    }

    #[test]
    fn a_day_that_loses_an_hour_is_23_hours_long() {
        let berlin = parse("Europe/Berlin").unwrap();
        let d = civil::date(2026, 3, 29);
        let len = day_start(d.tomorrow().unwrap(), &berlin) - day_start(d, &berlin);
        assert_eq!(len, 23 * 3600);
        let d = civil::date(2026, 10, 25);
        let len = day_start(d.tomorrow().unwrap(), &berlin) - day_start(d, &berlin);
        assert_eq!(len, 25 * 3600);
    }

    #[test]
    fn months_follow_the_zone() {
        // 2026-11-30 23:30 UTC is already December in Tokyo.
        let t = 1_796_081_400;
        assert_eq!(month_label(local_date(t, &TimeZone::UTC)), "2026-11");
        assert_eq!(
            month_label(local_date(t, &parse("Asia/Tokyo").unwrap())),
            "2026-12"
        );
    }
}
