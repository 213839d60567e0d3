//! The writer task: one batch of pending requests at a time, in two round
//! trips (lock and read today's counters; write the rollups and commit).

use std::collections::HashMap;

use sqlx::{AnyConnection, Executor, FromRow};
use tokio::sync::mpsc;

use super::admission::{decide, Request, TenantDay};
use super::rollups::{id_literal, Rollup};
use super::{Admission, Pending};
use crate::domain::clock::SharedClock;
use crate::domain::db::Backend;
use crate::domain::{time_zones, Db, Error, Result};
use crate::model::tiers::{next_utc_midnight, utc_day_start, TierLimits};
use crate::model::Tier;

pub(super) const MAX_BATCH: usize = 1024;

pub(super) async fn run(db: Db, clock: SharedClock, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_token_at = HashMap::new();
    // The writer's own connection, outside the pool: no checkout per batch,
    // and dropping it (after an error, or at shutdown) rolls back whatever
    // transaction it had open.
    let mut conn: Option<AnyConnection> = None;
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics::gauge!("portal_metering_queue_depth").set(rx.len() as f64);
        // Let requests already on their way join this batch: fewer, larger
        // transactions cost less per request.
        tokio::task::yield_now().await;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let outcome = match &mut conn {
            Some(c) => commit_batch(c, db.backend, &batch, clock.now(), &mut last_token_at).await,
            None => match db.pool.acquire().await {
                Ok(c) => {
                    let c = conn.insert(c.detach());
                    commit_batch(c, db.backend, &batch, clock.now(), &mut last_token_at).await
                }
                Err(e) => Err(e.into()),
            },
        };
        metrics::histogram!("portal_metering_batch_size").record(batch.len() as f64);
        metrics::histogram!("portal_metering_commit_seconds")
            .record(started.elapsed().as_secs_f64());
        match outcome {
            Ok(decisions) => {
                db.recent
                    .forget_all(batch.iter().map(|p| p.tenant_id.as_str()));
                for (pending, decision) in batch.drain(..).zip(decisions) {
                    let _ = pending.reply.send(Ok(decision));
                }
            }
            Err(e) => {
                conn = None;
                tracing::error!(error = %e, "usage batch failed; its requests are refused");
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// One batch in two round trips: lock and read the tenants' counters for
/// today, decide, then write the rollups and commit.
///
/// `last_token_at`: what this writer last wrote to `agents.last_token_at`.
async fn commit_batch(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &[Pending],
    now: i64,
    last_token_at: &mut HashMap<String, i64>,
) -> Result<Vec<Admission>> {
    let mut tenants = lock_today(conn, backend, batch, now).await?;
    let requests = batch.iter().map(|p| Request {
        tenant_id: &p.tenant_id,
        agent_id: &p.agent_id,
        kind: p.kind,
    });
    let decided =
        decide(requests, &mut tenants, next_utc_midnight(now)).map_err(Error::Internal)?;
    count_by_tier(batch, &decided.admissions, &tenants);

    let mut rollup = Rollup::default();
    let mut stamped = Vec::new();
    for ((tenant_id, agent_id), counts) in &decided.per_agent {
        // The column has one-second precision: one write per agent and
        // second is enough, however many batches that second holds.
        let stamp = counts.tokens_issued > 0 && last_token_at.get(*agent_id) != Some(&now);
        if stamp {
            stamped.push(*agent_id);
        }
        let date = tenants[*tenant_id].local_date;
        rollup.add(tenant_id, agent_id, now, date, *counts, stamp);
    }
    let mut write = rollup.sql()?;
    write.push_str(" COMMIT");
    Executor::execute(&mut *conn, sqlx::raw_sql(&write)).await?;

    if last_token_at.len() > 100_000 {
        last_token_at.clear();
    }
    for agent_id in stamped {
        last_token_at.insert(agent_id.to_owned(), now);
    }
    Ok(decided.admissions)
}

/// Tokens and API calls, admitted and refused, by tier (never by tenant:
/// the labels stay few).
fn count_by_tier(
    batch: &[Pending],
    admissions: &[Admission],
    tenants: &HashMap<String, TenantDay>,
) {
    for (p, admission) in batch.iter().zip(admissions) {
        let Some(day) = tenants.get(&p.tenant_id) else {
            continue;
        };
        let name = match p.kind {
            super::UsageKind::TokenIssued => "portal_tokens_total",
            super::UsageKind::ApiCall => "portal_api_calls_total",
        };
        let outcome = match admission {
            Admission::Admitted(_) => "admitted",
            Admission::Refused(_) => "refused",
        };
        metrics::counter!(name, "tier" => day.tier.as_str(), "outcome" => outcome).increment(1);
    }
}

#[derive(FromRow)]
struct Today {
    tenant_id: String,
    #[sqlx(try_from = "i64")]
    tokens_issued: u64,
    #[sqlx(try_from = "i64")]
    api_calls: u64,
    #[sqlx(try_from = "String")]
    tier: Tier,
    time_zone: String,
}

/// Begins the batch's transaction and returns where each tenant of the batch
/// stands today. The no-op upsert makes sure today's rows exist and locks
/// them: on PostgreSQL several instances serialize on the rows (taken in id
/// order, so never in a cycle); on SQLite BEGIN IMMEDIATE takes the write
/// lock before anything is read.
async fn lock_today(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &[Pending],
    now: i64,
) -> Result<HashMap<String, TenantDay>> {
    let day = utc_day_start(now);
    let mut tenant_ids: Vec<&str> = batch.iter().map(|p| p.tenant_id.as_str()).collect();
    tenant_ids.sort_unstable();
    tenant_ids.dedup();
    let values = tenant_ids
        .iter()
        .map(|t| Ok(format!("({}, {day})", id_literal(t)?)))
        .collect::<Result<Vec<_>>>()?
        .join(", ");
    let begin = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    let read = format!(
        "{begin}; INSERT INTO usage_daily (tenant_id, day) VALUES {values} \
         ON CONFLICT (tenant_id, day) DO UPDATE SET tokens_issued = usage_daily.tokens_issued \
         RETURNING tenant_id, tokens_issued, api_calls, \
         (SELECT tier FROM tenants WHERE tenants.id = usage_daily.tenant_id) AS tier, \
         (SELECT time_zone FROM tenants WHERE tenants.id = usage_daily.tenant_id) AS time_zone"
    );
    let mut tenants = HashMap::new();
    for row in Executor::fetch_all(&mut *conn, sqlx::raw_sql(&read)).await? {
        let today = Today::from_row(&row)?;
        let zone = time_zones::stored(&today.time_zone);
        tenants.insert(
            today.tenant_id,
            TenantDay {
                tier: today.tier,
                limits: TierLimits::of(today.tier),
                tokens_issued: today.tokens_issued,
                api_calls: today.api_calls,
                local_date: time_zones::local_date(now, &zone),
            },
        );
    }
    Ok(tenants)
}
