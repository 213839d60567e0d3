//! What the Analytics page and the analytics API show: a tenant's usage over
//! the last N days in its time zone, against the N days before, and per agent
//! for the current month. Reads only the rollups the meter writes.

use super::metering::Counts;
use super::{tenants, time_zones, Db, Error, Result};
use jiff::civil::Date;
use jiff::tz::TimeZone;

mod month;

pub use month::{agents_this_month, AgentsMonth, Page};

pub const DEFAULT_DAYS: u32 = 30;
pub const MAX_DAYS: u32 = 90;

/// `?days=N`: 1 to 90, 30 when absent.
pub fn parse_days(raw: Option<&str>) -> Result<u32> {
    let Some(raw) = raw.map(str::trim) else {
        return Ok(DEFAULT_DAYS);
    };
    match raw.parse::<u32>() {
        Ok(days) if (1..=MAX_DAYS).contains(&days) => Ok(days),
        _ => Err(Error::invalid(format!(
            "days must be a whole number from 1 to {MAX_DAYS} (got {raw:?})"
        ))),
    }
}

/// The last `days` local days up to today (today included, partial), and the
/// `days` local days before them.
#[derive(Debug, Clone)]
pub struct Window {
    pub zone: TimeZone,
    pub days: u32,
    pub today: Date,
    /// First day of the current period.
    pub first: Date,
    /// First day of the previous period.
    pub previous_first: Date,
    pub now: i64,
}

impl Window {
    pub fn new(zone: TimeZone, days: u32, now: i64) -> Window {
        let today = time_zones::local_date(now, &zone);
        let first = add_days(today, -(days as i64 - 1));
        let previous_first = add_days(first, -(days as i64));
        Window {
            zone,
            days,
            today,
            first,
            previous_first,
            now,
        }
    }

    /// Unix time the previous period starts: the earliest slot read.
    fn read_from(&self) -> i64 {
        time_zones::day_start(self.previous_first, &self.zone)
    }

    pub fn current_dates(&self) -> Vec<Date> {
        (0..self.days as i64)
            .map(|i| add_days(self.first, i))
            .collect()
    }

    pub fn previous_dates(&self) -> Vec<Date> {
        (0..self.days as i64)
            .map(|i| add_days(self.previous_first, i))
            .collect()
    }

    pub fn zone_name(&self) -> String {
        self.zone.iana_name().unwrap_or("UTC").to_owned()
    }
}

fn add_days(date: Date, days: i64) -> Date {
    date.checked_add(jiff::Span::new().days(days))
        .unwrap_or(date)
}

/// One local day's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyUsage {
    pub date: Date,
    pub counts: Counts,
}

/// Agent activity (tokens issued + API calls) by local weekday (0 = Sunday)
/// and hour.
pub type Heatmap = [[u64; 24]; 7];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub tokens_issued: u64,
    pub api_calls: u64,
    pub refused: u64,
    pub active_agents: u64,
}

/// Quarter-hour counts bucketed into local days (both periods, every day
/// present) and the heatmap of the current period.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucketed {
    pub current: Vec<DailyUsage>,
    pub previous: Vec<DailyUsage>,
    pub heatmap: Heatmap,
}

/// Pure: `slots` are (quarter-hour start, counts) in any order.
pub fn bucket(window: &Window, slots: &[(i64, Counts)]) -> Bucketed {
    let current_dates = window.current_dates();
    let previous_dates = window.previous_dates();
    let mut current: Vec<DailyUsage> = current_dates
        .iter()
        .map(|&date| DailyUsage {
            date,
            counts: Counts::default(),
        })
        .collect();
    let mut previous: Vec<DailyUsage> = previous_dates
        .iter()
        .map(|&date| DailyUsage {
            date,
            counts: Counts::default(),
        })
        .collect();
    let mut heatmap = [[0u64; 24]; 7];
    for &(slot, counts) in slots {
        if slot > window.now {
            continue;
        }
        let local = time_zones::at(slot, &window.zone);
        let date = local.date();
        if date >= window.first && date <= window.today {
            let i = date_index(window.first, date);
            current[i].counts.merge(counts);
            let weekday = local.weekday().to_sunday_zero_offset() as usize;
            heatmap[weekday][local.hour() as usize] +=
                (counts.tokens_issued + counts.api_calls) as u64;
        } else if date >= window.previous_first && date < window.first {
            let i = date_index(window.previous_first, date);
            previous[i].counts.merge(counts);
        }
    }
    Bucketed {
        current,
        previous,
        heatmap,
    }
}

fn date_index(first: Date, date: Date) -> usize {
    first
        .until(date)
        .map(|span| span.get_days() as usize)
        .unwrap_or_default()
}

fn totals(days: &[DailyUsage], active_agents: u64) -> Totals {
    Totals {
        tokens_issued: days.iter().map(|d| d.counts.tokens_issued as u64).sum(),
        api_calls: days.iter().map(|d| d.counts.api_calls as u64).sum(),
        refused: days.iter().map(|d| d.counts.refused as u64).sum(),
        active_agents,
    }
}

/// A tenant's usage over a window.
#[derive(Debug, Clone)]
pub struct Overview {
    pub window: Window,
    pub current: Vec<DailyUsage>,
    pub previous: Vec<DailyUsage>,
    pub heatmap: Heatmap,
    pub totals: Totals,
    pub previous_totals: Totals,
    /// False for a tenant that has never been counted anything.
    pub ever_used: bool,
}

/// The tenant's usage over the last `days` (see [`RecentReads`]: read at
/// most once a second while nothing is written).
///
/// [`RecentReads`]: crate::domain::recent_reads::RecentReads
pub async fn overview(db: &Db, tenant_id: &str, days: u32, now: i64) -> Result<Overview> {
    let view = format!("overview {days}");
    let read = db
        .recent
        .get_or_read(tenant_id, view, now, || {
            read_overview(db, tenant_id, days, now)
        })
        .await?;
    Ok(Overview::clone(&read))
}

async fn read_overview(db: &Db, tenant_id: &str, days: u32, now: i64) -> Result<Overview> {
    let tenant = tenants::get(db, tenant_id).await?;
    let window = Window::new(time_zones::stored(&tenant.time_zone), days, now);
    // Where the zone keeps whole-hour offsets (most do), the database sums
    // quarters into hours: a quarter of the rows to ship and bucket.
    let sql = if whole_hour_offsets(&window.zone, window.read_from(), now) {
        "SELECT slot - slot % 3600 AS slot, CAST(SUM(tokens_issued) AS BIGINT) AS tokens_issued, \
         CAST(SUM(api_calls) AS BIGINT) AS api_calls, CAST(SUM(refused) AS BIGINT) AS refused \
         FROM usage_tenant_quarter WHERE tenant_id = $1 AND slot >= $2 AND slot <= $3 GROUP BY 1"
    } else {
        "SELECT slot, tokens_issued, api_calls, refused FROM usage_tenant_quarter \
         WHERE tenant_id = $1 AND slot >= $2 AND slot <= $3"
    };
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(sql)
        .bind(tenant_id)
        .bind(window.read_from())
        .bind(now)
        .fetch_all(&db.pool)
        .await?;
    let slots: Vec<(i64, Counts)> = rows
        .into_iter()
        .map(|(slot, tokens_issued, api_calls, refused)| {
            let counts = Counts {
                tokens_issued,
                api_calls,
                refused,
            };
            (slot, counts)
        })
        .collect();
    let Bucketed {
        current,
        previous,
        heatmap,
    } = bucket(&window, &slots);
    let active_now = active_agents(db, tenant_id, window.first, window.today).await?;
    let active_before = active_agents(
        db,
        tenant_id,
        window.previous_first,
        add_days(window.first, -1),
    )
    .await?;
    let ever_used = !slots.is_empty()
        || sqlx::query("SELECT slot FROM usage_tenant_quarter WHERE tenant_id = $1 LIMIT 1")
            .bind(tenant_id)
            .fetch_optional(&db.pool)
            .await?
            .is_some();
    Ok(Overview {
        totals: totals(&current, active_now),
        previous_totals: totals(&previous, active_before),
        window,
        current,
        previous,
        heatmap,
        ever_used,
    })
}

fn whole_hour_offsets(zone: &TimeZone, from: i64, to: i64) -> bool {
    [from, to].iter().all(|&t| {
        let ts = jiff::Timestamp::from_second(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        zone.to_offset(ts).seconds() % 3600 == 0
    })
}

/// Agents that made any counted request on the local days `first..=last`:
/// one index probe per agent, where a DISTINCT over the days would grow with
/// the range's activity.
async fn active_agents(db: &Db, tenant_id: &str, first: Date, last: Date) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM agents a WHERE a.tenant_id = $1 AND EXISTS ( \
           SELECT 1 FROM usage_agent_day d WHERE d.tenant_id = a.tenant_id \
           AND d.agent_id = a.id AND d.local_date >= $2 AND d.local_date <= $3)",
    )
    .bind(tenant_id)
    .bind(first.to_string())
    .bind(last.to_string())
    .fetch_one(&db.pool)
    .await?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use crate::domain::metering::QUARTER;

    use super::*;

    fn counts(tokens: i64) -> Counts {
        Counts {
            tokens_issued: tokens,
            api_calls: 0,
            refused: 0,
        }
    }

    fn unix(zoned: &str) -> i64 {
        zoned
            .parse::<jiff::Zoned>()
            .unwrap()
            .timestamp()
            .as_second()
    }

    #[test]
    fn days_are_validated() {
        assert_eq!(parse_days(None).unwrap(), 30);
        assert_eq!(parse_days(Some("1")).unwrap(), 1);
        assert_eq!(parse_days(Some("90")).unwrap(), 90);
        for bad in ["0", "91", "-3", "ten", "", "7.5"] {
            assert!(
                matches!(parse_days(Some(bad)), Err(Error::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_day_is_present_and_today_is_last() {
        let now = unix("2026-11-25T10:00:00+00:00[UTC]");
        let w = Window::new(TimeZone::UTC, 7, now);
        let b = bucket(&w, &[]);
        let dates: Vec<String> = b.current.iter().map(|d| d.date.to_string()).collect();
        assert_eq!(
            dates,
            [
                "2026-11-19",
                "2026-11-20",
                "2026-11-21",
                "2026-11-22",
                "2026-11-23",
                "2026-11-24",
                "2026-11-25"
            ]
        );
        assert_eq!(b.previous.first().unwrap().date, date(2026, 11, 12));
        assert!(b.current.iter().all(|d| d.counts == Counts::default()));
    }

    #[test]
    fn the_same_instant_falls_on_different_days_in_different_zones() {
        // 23:30 UTC on the 24th is already the 25th in Berlin, still the
        // 24th in New York (18:30).
        let now = unix("2026-11-25T12:00:00+00:00[UTC]");
        let slot = unix("2026-11-24T23:30:00+00:00[UTC]");
        let berlin = time_zones::parse("Europe/Berlin").unwrap();
        let new_york = time_zones::parse("America/New_York").unwrap();
        let b = bucket(&Window::new(berlin, 3, now), &[(slot, counts(5))]);
        assert_eq!(b.current[2].date, date(2026, 11, 25));
        assert_eq!(b.current[2].counts.tokens_issued, 5);
        // Tuesday 00:xx in Berlin.
        assert_eq!(b.heatmap[3][0], 5);
        let b = bucket(&Window::new(new_york, 3, now), &[(slot, counts(5))]);
        assert_eq!(b.current[1].date, date(2026, 11, 24));
        assert_eq!(b.current[1].counts.tokens_issued, 5);
        assert_eq!(b.heatmap[2][18], 5);
    }

    #[test]
    fn half_hour_zones_split_on_quarter_hours() {
        // Kolkata is UTC+05:30: its day starts at 18:30 UTC.
        let kolkata = time_zones::parse("Asia/Kolkata").unwrap();
        let now = unix("2026-11-25T12:00:00+00:00[UTC]");
        let before = unix("2026-11-23T18:15:00+00:00[UTC]");
        let after = unix("2026-11-23T18:30:00+00:00[UTC]");
        let b = bucket(
            &Window::new(kolkata, 3, now),
            &[(before, counts(1)), (after, counts(10))],
        );
        assert_eq!(b.current[0].date, date(2026, 11, 23));
        assert_eq!(b.current[0].counts.tokens_issued, 1);
        assert_eq!(b.current[1].counts.tokens_issued, 10);
    }

    #[test]
    fn dst_changes_keep_every_hour_in_its_local_day_and_hour() {
        // Berlin leaves summer time on 2026-10-25: 02:00-03:00 happens twice.
        let berlin = time_zones::parse("Europe/Berlin").unwrap();
        let now = unix("2026-10-26T12:00:00+00:00[UTC]");
        let first_two_am = unix("2026-10-25T00:00:00+00:00[UTC]"); // 02:00 CEST
        let second_two_am = unix("2026-10-25T01:00:00+00:00[UTC]"); // 02:00 CET
        let late = unix("2026-10-25T22:45:00+00:00[UTC]"); // 23:45 CET
        let b = bucket(
            &Window::new(berlin, 2, now),
            &[
                (first_two_am, counts(1)),
                (second_two_am, counts(2)),
                (late, counts(4)),
            ],
        );
        assert_eq!(b.current[0].date, date(2026, 10, 25));
        assert_eq!(b.current[0].counts.tokens_issued, 7);
        // 2026-10-25 is a Sunday.
        assert_eq!(b.heatmap[0][2], 3);
        assert_eq!(b.heatmap[0][23], 4);
        // The 25-hour day is still one point of the series.
        assert_eq!(b.current.len(), 2);
    }

    #[test]
    fn periods_split_at_the_local_midnight_and_the_future_is_ignored() {
        let now = unix("2026-12-01T00:20:00+00:00[UTC]");
        let w = Window::new(TimeZone::UTC, 1, now);
        let b = bucket(
            &w,
            &[
                (unix("2026-11-30T23:45:00+00:00[UTC]"), counts(3)),
                (unix("2026-12-01T00:15:00+00:00[UTC]"), counts(4)),
                (now + QUARTER, counts(100)),
            ],
        );
        assert_eq!(b.current[0].date, date(2026, 12, 1));
        assert_eq!(b.current[0].counts.tokens_issued, 4);
        assert_eq!(b.previous[0].date, date(2026, 11, 30));
        assert_eq!(b.previous[0].counts.tokens_issued, 3);
    }
}
