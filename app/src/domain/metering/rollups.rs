//! The rollups analytics and enforcement read, written by one builder for
//! live batches and back-filled history alike.

use std::collections::{BTreeMap, HashMap};

use jiff::civil;

use super::Counts;
use crate::domain::{tenants, time_zones, Db, Error, Result};
use crate::model::tiers::utc_day_start;

/// Analytics' finest grain: 15 minutes, on which every zone's hours fall.
pub const QUARTER: i64 = 900;

/// Counts to add to every rollup. Keys are ordered, so that concurrent
/// writers (PostgreSQL, several instances) lock rows in the same order.
#[derive(Debug, Default)]
pub(super) struct Rollup<'a> {
    quarters: BTreeMap<(&'a str, i64), Counts>,
    agent_days: BTreeMap<(&'a str, &'a str, civil::Date), Counts>,
    agent_months: BTreeMap<(&'a str, &'a str, String), (Counts, i64)>,
    daily: BTreeMap<(&'a str, i64), Counts>,
    /// Agents whose `last_token_at` moves to the value.
    last_token: BTreeMap<&'a str, i64>,
}

impl<'a> Rollup<'a> {
    /// `counts` of one agent at `at`, on `local_date` in its tenant's zone.
    /// `stamp`: move the agent's `last_token_at` to `at`.
    pub fn add(
        &mut self,
        tenant: &'a str,
        agent: &'a str,
        at: i64,
        local_date: civil::Date,
        counts: Counts,
        stamp: bool,
    ) {
        self.quarters
            .entry((tenant, at - at.rem_euclid(QUARTER)))
            .or_default()
            .merge(counts);
        self.agent_days
            .entry((tenant, agent, local_date))
            .or_default()
            .merge(counts);
        let month = self
            .agent_months
            .entry((tenant, agent, time_zones::month_label(local_date)))
            .or_insert((Counts::default(), at));
        month.0.merge(counts);
        month.1 = month.1.max(at);
        self.daily
            .entry((tenant, utc_day_start(at)))
            .or_default()
            .merge(counts);
        if stamp {
            let last = self.last_token.entry(agent).or_insert(at);
            *last = (*last).max(at);
        }
    }

    /// The statements that add everything, `;`-separated, for one round
    /// trip. Values are SQL literals: integers, dates we format, and ids
    /// that `id_literal` only lets through when they are our own UUIDs.
    pub fn sql(&self) -> Result<String> {
        let mut sql = String::new();
        let quarters = self
            .quarters
            .iter()
            .map(|((t, slot), c)| Ok((format!("{}, {slot}", id_literal(t)?), *c, None)));
        add_counts(&mut sql, &QUARTERS, quarters)?;
        let days = self.agent_days.iter().map(|((t, a, date), c)| {
            let keys = format!("{}, {}, '{date}'", id_literal(t)?, id_literal(a)?);
            Ok((keys, *c, None))
        });
        add_counts(&mut sql, &AGENT_DAYS, days)?;
        let months = self.agent_months.iter().map(|((t, a, month), (c, last))| {
            let keys = format!("{}, '{month}', {}", id_literal(t)?, id_literal(a)?);
            Ok((keys, *c, Some(*last)))
        });
        add_counts(&mut sql, &AGENT_MONTHS, months)?;
        let daily = self
            .daily
            .iter()
            .map(|((t, day), c)| Ok((format!("{}, {day}", id_literal(t)?), *c, None)));
        add_counts(&mut sql, &DAILY, daily)?;
        let mut by_time: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (agent, at) in &self.last_token {
            by_time.entry(*at).or_default().push(id_literal(agent)?);
        }
        for (at, ids) in by_time {
            sql.push_str(&stamp_sql(&at.to_string(), &ids.join(", ")));
            sql.push(';');
        }
        Ok(sql)
    }

    /// Adds everything on a SQLite connection, a prepared statement per
    /// table run once per row (no SQL text to parse per batch).
    pub fn execute_sqlite(
        &self,
        conn: &rusqlite::Connection,
        sql: &RollupStatements,
    ) -> rusqlite::Result<()> {
        use rusqlite::params;
        let mut quarters = conn.prepare_cached(&sql.quarters)?;
        for ((t, slot), c) in &self.quarters {
            quarters.execute(params![t, slot, c.tokens_issued, c.api_calls, c.refused])?;
        }
        let mut days = conn.prepare_cached(&sql.agent_days)?;
        for ((t, a, date), c) in &self.agent_days {
            let date = date.to_string();
            days.execute(params![t, a, date, c.tokens_issued, c.api_calls, c.refused])?;
        }
        let mut months = conn.prepare_cached(&sql.agent_months)?;
        for ((t, a, month), (c, last)) in &self.agent_months {
            let counts = [c.tokens_issued, c.api_calls, c.refused];
            months.execute(params![t, month, a, counts[0], counts[1], counts[2], last])?;
        }
        let mut daily = conn.prepare_cached(&sql.daily)?;
        for ((t, day), c) in &self.daily {
            daily.execute(params![t, day, c.tokens_issued, c.api_calls, c.refused])?;
        }
        let mut stamp = conn.prepare_cached(&sql.stamp)?;
        for (agent, at) in &self.last_token {
            stamp.execute(params![at, agent])?;
        }
        Ok(())
    }

    /// Adds everything on a PostgreSQL connection, with one of
    /// `statements`: with `guard`, only if its tenants still stand as it
    /// says. Returns whether it wrote.
    pub async fn execute_postgres(
        &self,
        conn: &mut sqlx::PgConnection,
        statements: &PostgresRollup,
        guard: Option<Guard<'_>>,
    ) -> sqlx::Result<bool> {
        let statement = match guard {
            Some(_) => &statements.guarded,
            None => &statements.unguarded,
        };
        let (mut tenants, mut slots, mut counts) = (vec![], vec![], CountColumns::default());
        for ((t, slot), c) in &self.quarters {
            tenants.push(*t);
            slots.push(*slot);
            counts.push(c);
        }
        let query = counts.bind(sqlx::query(statement).bind(tenants).bind(slots));
        let (mut tenants, mut agents, mut dates) = (vec![], vec![], vec![]);
        let mut counts = CountColumns::default();
        for ((t, a, date), c) in &self.agent_days {
            tenants.push(*t);
            agents.push(*a);
            dates.push(date.to_string());
            counts.push(c);
        }
        let query = counts.bind(query.bind(tenants).bind(agents).bind(dates));
        let (mut tenants, mut months, mut agents) = (vec![], vec![], vec![]);
        let (mut counts, mut lasts) = (CountColumns::default(), vec![]);
        for ((t, a, month), (c, last)) in &self.agent_months {
            tenants.push(*t);
            months.push(month.as_str());
            agents.push(*a);
            counts.push(c);
            lasts.push(*last);
        }
        let query = counts
            .bind(query.bind(tenants).bind(months).bind(agents))
            .bind(lasts);
        let (mut tenants, mut days, mut counts) = (vec![], vec![], CountColumns::default());
        for ((t, day), c) in &self.daily {
            tenants.push(*t);
            days.push(*day);
            counts.push(c);
        }
        let query = counts.bind(query.bind(tenants).bind(days));
        let (agents, ats): (Vec<&str>, Vec<i64>) =
            self.last_token.iter().map(|(a, at)| (*a, *at)).unzip();
        let query = query.bind(agents).bind(ats);
        let query = match guard {
            Some(g) => query.bind(g.tenants).bind(g.tiers).bind(g.time_zones),
            None => query,
        };
        sqlx::Row::try_get(&query.fetch_one(conn).await?, 0)
    }
}

/// What the guarded [`PostgresRollup`] statement checks before it writes:
/// each tenant still has this tier and time zone.
pub(super) struct Guard<'a> {
    pub tenants: Vec<&'a str>,
    pub tiers: Vec<&'static str>,
    pub time_zones: Vec<&'a str>,
}

/// The text of [`Rollup::execute_sqlite`]'s statements: one row of
/// numbered parameters each.
pub(super) struct RollupStatements {
    quarters: String,
    agent_days: String,
    agent_months: String,
    daily: String,
    stamp: String,
}

impl RollupStatements {
    pub fn new() -> RollupStatements {
        RollupStatements {
            quarters: QUARTERS.upsert_one(),
            agent_days: AGENT_DAYS.upsert_one(),
            agent_months: AGENT_MONTHS.upsert_one(),
            daily: DAILY.upsert_one(),
            stamp: stamp_sql("?1", "?2"),
        }
    }
}

/// A rollup table: its key columns with their PostgreSQL types, then the
/// three counts (and `last_at`).
struct Table {
    name: &'static str,
    keys: &'static [(&'static str, &'static str)],
    with_last_at: bool,
}

const QUARTERS: Table = Table::new(
    "usage_tenant_quarter",
    &[("tenant_id", "text"), ("slot", "bigint")],
    false,
);
const AGENT_DAYS: Table = Table::new(
    "usage_agent_day",
    &[
        ("tenant_id", "text"),
        ("agent_id", "text"),
        ("local_date", "text"),
    ],
    false,
);
const AGENT_MONTHS: Table = Table::new(
    "usage_agent_month",
    &[
        ("tenant_id", "text"),
        ("month", "text"),
        ("agent_id", "text"),
    ],
    true,
);
const DAILY: Table = Table::new(
    "usage_daily",
    &[("tenant_id", "text"), ("day", "bigint")],
    false,
);

impl Table {
    const fn new(
        name: &'static str,
        keys: &'static [(&'static str, &'static str)],
        with_last_at: bool,
    ) -> Table {
        Table {
            name,
            keys,
            with_last_at,
        }
    }

    /// Adds the counts of `rows` (`VALUES ...` or a `SELECT`), creating
    /// missing rows; `last_at` only moves forward.
    fn upsert(&self, rows: &str) -> String {
        let name = self.name;
        let key_columns: Vec<&str> = self.keys.iter().map(|(column, _)| *column).collect();
        let key_columns = key_columns.join(", ");
        let added = ["tokens_issued", "api_calls", "refused"]
            .map(|c| format!("{c} = {name}.{c} + excluded.{c}"))
            .join(", ");
        let (last_column, last_update) = if self.with_last_at {
            (", last_at", format!(", {LATEST_LAST_AT}"))
        } else {
            ("", String::new())
        };
        format!(
            "INSERT INTO {name} ({key_columns}, tokens_issued, api_calls, refused{last_column}) \
             {rows} ON CONFLICT ({key_columns}) DO UPDATE SET {added}{last_update}"
        )
    }

    /// [`Table::upsert`] of one row of numbered parameters.
    fn upsert_one(&self) -> String {
        let columns = self.keys.len() + 3 + usize::from(self.with_last_at);
        let params: Vec<String> = (1..=columns).map(|i| format!("?{i}")).collect();
        self.upsert(&format!("VALUES ({})", params.join(", ")))
    }

    /// [`Table::upsert`] of a column array per column, numbered from
    /// `$first`, the rows kept by `filter` (a `WHERE`, or nothing); returns
    /// the statement and the next parameter's number.
    fn upsert_arrays(&self, first: usize, filter: &str) -> (String, usize) {
        let counts = ["bigint"; 3];
        let last_at = if self.with_last_at {
            &["bigint"][..]
        } else {
            &[]
        };
        let arrays: Vec<String> = self
            .keys
            .iter()
            .map(|(_, ty)| ty)
            .chain(&counts)
            .chain(last_at)
            .enumerate()
            .map(|(i, ty)| format!("${}::{ty}[]", first + i))
            .collect();
        let next = first + arrays.len();
        let rows = format!("SELECT * FROM UNNEST({}){filter}", arrays.join(", "));
        (self.upsert(&rows), next)
    }
}

/// The text of [`Rollup::execute_postgres`]' two statements, made once:
/// everything a batch adds, in one statement, each table's rows as column
/// arrays, so the statement has one shape whatever the batch holds and each
/// connection prepares it once (parsing and planning the SQL of every batch
/// took about 60 % of the server's time on it).
pub(super) struct PostgresRollup {
    /// Inside the writer's transaction: every row it touches belongs to a
    /// tenant whose counter row the batch has already locked, so the order
    /// in which the parts run cannot deadlock.
    unguarded: String,
    /// On its own, outside a transaction, with a [`Guard`]: writes only if
    /// every tenant still has the tier and time zone the guard says. The
    /// counter rows first (every other part waits for what that upsert
    /// returned), so it too takes them before anything else.
    guarded: String,
}

impl PostgresRollup {
    pub fn new() -> PostgresRollup {
        PostgresRollup {
            unguarded: postgres_statement(false),
            guarded: postgres_statement(true),
        }
    }
}

fn postgres_statement(guarded: bool) -> String {
    let (daily_filter, filter, stamps_filter) = if guarded {
        (
            " WHERE (SELECT still FROM tiers)",
            " WHERE (SELECT still FROM guard)",
            " AND (SELECT still FROM guard)",
        )
    } else {
        ("", "", "")
    };
    let mut next = 1;
    let mut upsert = |table: &Table, filter: &str| {
        let (sql, after) = table.upsert_arrays(next, filter);
        next = after;
        sql
    };
    let rollups = format!(
        "quarters AS ({}), days AS ({}), months AS ({})",
        upsert(&QUARTERS, filter),
        upsert(&AGENT_DAYS, filter),
        upsert(&AGENT_MONTHS, filter)
    );
    let daily = upsert(&DAILY, daily_filter);
    let stamps = format!(
        "stamps AS (UPDATE agents SET last_token_at = s.at \
         FROM UNNEST(${}::text[], ${}::bigint[]) AS s (id, at) WHERE agents.id = s.id \
         AND (agents.last_token_at IS NULL OR agents.last_token_at < s.at){stamps_filter})",
        next,
        next + 1
    );
    if !guarded {
        return format!("WITH {rollups}, daily AS ({daily}), {stamps} SELECT TRUE");
    }
    let (tenants, tiers, zones) = (next + 2, next + 3, next + 4);
    // A lookup per tenant (by key, however many tenants there are).
    let still = format!(
        "tiers AS (SELECT bool_and(EXISTS (SELECT 1 FROM tenants WHERE tenants.id = g.id \
         AND tenants.tier = g.tier AND tenants.time_zone = g.time_zone)) AS still \
         FROM UNNEST(${tenants}::text[], ${tiers}::text[], ${zones}::text[]) AS g (id, tier, time_zone))"
    );
    // A batch always counts something for its tenants' day: no row
    // written means the tiers check failed.
    format!(
        "WITH {still}, daily AS ({daily} RETURNING 1), \
         guard AS (SELECT COUNT(*) > 0 AS still FROM daily), {rollups}, {stamps} \
         SELECT still FROM guard"
    )
}

/// One table's three count columns, as arrays.
#[derive(Default)]
struct CountColumns {
    tokens_issued: Vec<i64>,
    api_calls: Vec<i64>,
    refused: Vec<i64>,
}

impl CountColumns {
    fn push(&mut self, c: &Counts) {
        self.tokens_issued.push(c.tokens_issued);
        self.api_calls.push(c.api_calls);
        self.refused.push(c.refused);
    }

    fn bind<'q>(self, query: PgQuery<'q>) -> PgQuery<'q> {
        query
            .bind(self.tokens_issued)
            .bind(self.api_calls)
            .bind(self.refused)
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Moves `last_token_at` of the agents `ids` forward to `at`.
fn stamp_sql(at: &str, ids: &str) -> String {
    format!(
        "UPDATE agents SET last_token_at = {at} WHERE id IN ({ids}) \
         AND (last_token_at IS NULL OR last_token_at < {at})"
    )
}

/// Adds counts to the rows of `table` named by `keys` (SQL literals for its
/// key columns), a few hundred rows a statement.
fn add_counts(
    sql: &mut String,
    table: &Table,
    rows: impl Iterator<Item = Result<(String, Counts, Option<i64>)>>,
) -> Result<()> {
    let rows = rows.collect::<Result<Vec<_>>>()?;
    for chunk in rows.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|(keys, c, last)| {
                let last = last.map(|l| format!(", {l}")).unwrap_or_default();
                format!(
                    "({keys}, {}, {}, {}{last})",
                    c.tokens_issued, c.api_calls, c.refused
                )
            })
            .collect();
        sql.push_str(&table.upsert(&format!("VALUES {}", values.join(", "))));
        sql.push(';');
    }
    Ok(())
}

/// `GREATEST` on PostgreSQL is `max` on SQLite: spelled out for both.
const LATEST_LAST_AT: &str = "last_at = CASE WHEN excluded.last_at > usage_agent_month.last_at \
     THEN excluded.last_at ELSE usage_agent_month.last_at END";

/// Ids are generated here (UUIDs); anything else is refused, not escaped.
pub(super) fn id_literal(id: &str) -> Result<String> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(format!("'{id}'"))
    } else {
        Err(Error::Internal(format!(
            "unexpected id {id:?} in a usage batch"
        )))
    }
}

/// Counts of one agent for one past hour.
#[derive(Debug, Clone)]
pub struct PastUsage {
    pub tenant_id: String,
    pub agent_id: String,
    /// Any time within the hour.
    pub at: i64,
    pub counts: Counts,
}

/// Writes past usage without admission, in one transaction: back-filled
/// history (the demo seeder, tests, the analytics benchmark) goes through the
/// same rollups as live traffic.
pub async fn record_history(db: &Db, entries: &[PastUsage]) -> Result<()> {
    let mut zones: HashMap<&str, jiff::tz::TimeZone> = HashMap::new();
    for e in entries {
        if !zones.contains_key(e.tenant_id.as_str()) {
            let tenant = tenants::get(db, &e.tenant_id).await?;
            zones.insert(&e.tenant_id, time_zones::stored(&tenant.time_zone));
        }
    }
    let mut rollup = Rollup::default();
    for e in entries {
        let date = time_zones::local_date(e.at, &zones[e.tenant_id.as_str()]);
        let stamp = e.counts.tokens_issued > 0;
        rollup.add(&e.tenant_id, &e.agent_id, e.at, date, e.counts, stamp);
    }
    let mut tx = db.pool.begin().await?;
    sqlx::Executor::execute(&mut *tx, sqlx::raw_sql(&rollup.sql()?)).await?;
    tx.commit().await?;
    db.recent.forget_all(zones.keys().copied());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "8c1f2b8e-0000-4000-8000-000000000001";
    const A: &str = "8c1f2b8e-0000-4000-8000-0000000000aa";

    #[test]
    fn one_request_reaches_every_rollup() {
        let mut r = Rollup::default();
        let at = 1_764_151_234; // 2025-11-26 10:00:34 UTC
        let tokens = Counts {
            tokens_issued: 2,
            ..Counts::default()
        };
        r.add(T, A, at, civil::date(2025, 11, 26), tokens, true);
        r.add(T, A, at + 60, civil::date(2025, 11, 26), tokens, false);
        let sql = r.sql().unwrap();
        let slot = at - at.rem_euclid(QUARTER);
        assert!(sql.contains(&format!("('{T}', {slot}, 4, 0, 0)")), "{sql}");
        assert!(sql.contains(&format!("('{T}', '{A}', '2025-11-26', 4, 0, 0)")));
        assert!(sql.contains(&format!("('{T}', '2025-11', '{A}', 4, 0, 0, {})", at + 60)));
        assert!(sql.contains(&format!("('{T}', {}, 4, 0, 0)", utc_day_start(at))));
        assert!(sql.contains(&format!(
            "UPDATE agents SET last_token_at = {at} WHERE id IN ('{A}')"
        )));
    }

    #[test]
    fn a_prepared_row_has_a_parameter_per_column() {
        let quarters = QUARTERS.upsert_one();
        assert!(quarters.contains("VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant_id, slot)"));
        let months = AGENT_MONTHS.upsert_one();
        assert!(months.contains("refused, last_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    }

    /// `sql` has the parameters `$1` to `$last`, and no other.
    fn assert_parameters(sql: &str, last: usize) {
        for i in 1..=last {
            assert!(sql.contains(&format!("${i}::")), "${i} in {sql}");
        }
        assert!(!sql.contains(&format!("${}", last + 1)), "{sql}");
    }

    #[test]
    fn the_postgres_statement_numbers_every_column_once() {
        let sql = postgres_statement(false);
        // 5 + 6 + 7 + 5 rollup columns, then the stamps' ids and times.
        assert_parameters(&sql, 25);
        assert!(sql.contains("UNNEST($1::text[], $2::bigint[], $3::bigint[]"));
        assert!(sql.contains("UNNEST($12::text[], $13::text[], $14::text[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[])"));
        assert!(sql.contains("UNNEST($24::text[], $25::bigint[])"));
        assert!(!sql.contains("guard"));
    }

    #[test]
    fn the_guarded_statement_checks_before_every_part_writes() {
        let sql = postgres_statement(true);
        // The unguarded statement's, then the guard's ids, tiers and zones.
        assert_parameters(&sql, 28);
        assert!(sql.starts_with("WITH tiers AS (SELECT bool_and(EXISTS"));
        assert!(sql.contains("FROM UNNEST($26::text[], $27::text[], $28::text[]) AS g"));
        // The counter rows first, then the other three upserts and the
        // stamps, once those are written.
        assert!(sql.contains(
            ", daily AS (INSERT INTO usage_daily (tenant_id, day, tokens_issued, api_calls, refused) \
             SELECT * FROM UNNEST($19::text[], $20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[]) \
             WHERE (SELECT still FROM tiers) ON CONFLICT"
        ));
        assert!(sql.contains(
            "RETURNING 1), guard AS (SELECT COUNT(*) > 0 AS still FROM daily), quarters AS"
        ));
        assert_eq!(sql.matches("(SELECT still FROM guard)").count(), 4);
        assert!(sql.ends_with("SELECT still FROM guard"));
    }

    #[test]
    fn ids_that_are_not_ours_are_refused_not_escaped() {
        let mut r = Rollup::default();
        r.add(
            "x'); DROP TABLE agents; --",
            A,
            0,
            civil::date(1970, 1, 1),
            Counts::default(),
            false,
        );
        assert!(r.sql().is_err());
    }
}
