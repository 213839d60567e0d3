//! Usage counting and daily-limit admission.
//!
//! Requests that need counting (a token issued, an API call) are handed to one
//! writer task ([`writer`]). It takes whatever is queued, decides admission
//! against the tenant's daily counters ([`admission`], pure), writes the
//! increments in one transaction (group commit) and only then answers every
//! request in the batch. So a client never gets a token the database has not
//! counted, admission is exact however many requests race, and a burst costs
//! one commit, not one per request. On SQLite, tenants with no daily limit
//! (nothing to decide) skip the wait: their requests are appended to a
//! journal file and folded into the counters a few times a second
//! ([`journal`]). Counters are one row per tenant and UTC
//! day for enforcement, plus the rollups analytics reads ([`rollups`]): per
//! tenant and quarter hour, and per agent and day / month in the tenant's
//! time zone. [`read`] is what the portal reads back.

mod admission;
mod journal;
mod read;
mod rollups;
mod sqlite_writer;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::clock::SharedClock;
use super::{Db, Error, Result};
use crate::model::tiers::{next_utc_midnight, TierLimits};

pub use admission::{decide, TenantDay};
pub use journal::KeptForBackup;
pub use read::{usage_today, UsageToday};
pub use rollups::{record_history, PastUsage, QUARTER};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsageKind {
    TokenIssued,
    ApiCall,
}

impl UsageKind {
    pub fn limit_name(self) -> &'static str {
        match self {
            UsageKind::TokenIssued => "token_issuances_per_day",
            UsageKind::ApiCall => "api_calls_per_day",
        }
    }

    fn limit(self, limits: &TierLimits) -> Option<u64> {
        match self {
            UsageKind::TokenIssued => limits.tokens_per_day,
            UsageKind::ApiCall => limits.api_calls_per_day,
        }
    }
}

/// Where a tenant stands against one daily limit, after this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quota {
    /// `None`: unlimited.
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Unix time of the next 00:00 UTC.
    pub reset_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted(Quota),
    Refused(Quota),
}

/// Counts written in one go: what the meter adds per batch, what the demo
/// seeder writes for past hours, what analytics sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tokens_issued: i64,
    pub api_calls: i64,
    pub refused: i64,
}

impl Counts {
    pub fn merge(&mut self, other: Counts) {
        self.tokens_issued += other.tokens_issued;
        self.api_calls += other.api_calls;
        self.refused += other.refused;
    }

    /// One request of `kind`, admitted or refused.
    pub fn one(kind: UsageKind, admitted: bool) -> Counts {
        let mut c = Counts::default();
        match (admitted, kind) {
            (false, _) => c.refused = 1,
            (true, UsageKind::TokenIssued) => c.tokens_issued = 1,
            (true, UsageKind::ApiCall) => c.api_calls = 1,
        }
        c
    }
}

/// A request waiting for the writer's decision.
struct Pending {
    tenant_id: String,
    agent_id: String,
    kind: UsageKind,
    reply: oneshot::Sender<Result<Admission, String>>,
}

/// The handle to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct Meter {
    /// `None`: the benchmark's baseline, which counts and limits nothing.
    tx: Option<mpsc::Sender<Pending>>,
    /// On SQLite, where unlimited tenants' requests are counted without
    /// waiting for a commit.
    journal: Option<Arc<journal::Journal>>,
    clock: SharedClock,
}

impl Meter {
    pub fn start(db: Db, clock: SharedClock) -> Meter {
        let (tx, rx) = mpsc::channel(16 * writer::MAX_BATCH);
        let journal = db
            .reader
            .as_ref()
            .map(|reader| Arc::new(journal::Journal::beside(reader.path())));
        writer::start(db, clock.clone(), rx, journal.clone());
        Meter {
            tx: Some(tx),
            journal,
            clock,
        }
    }

    /// Admits everything and writes nothing: only for measuring what
    /// metering costs (`portal serve --benchmark-without-metering`).
    pub fn unmetered(clock: SharedClock) -> Meter {
        Meter {
            tx: None,
            journal: None,
            clock,
        }
    }

    /// Waits (up to 10 s) until every request counted so far is in the
    /// database, not only in the journal: for tests and tools that read
    /// the counts back at once.
    pub async fn settled(&self) {
        let Some(journal) = &self.journal else {
            return;
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while journal.in_flight() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether the writer task still takes requests (the benchmark
    /// baseline, which has none, always is).
    pub fn is_alive(&self) -> bool {
        self.tx.as_ref().is_none_or(|tx| !tx.is_closed())
    }

    /// Admits (and counts) one token issuance or API call of `agent_id`, or
    /// refuses (and counts the refusal) when the tenant's daily limit is used
    /// up. Returns once the count is committed, or journaled (see
    /// [`journal`]).
    pub async fn admit(
        &self,
        tenant_id: &str,
        agent_id: &str,
        kind: UsageKind,
    ) -> Result<Admission> {
        let Some(tx) = &self.tx else {
            return Ok(Admission::Admitted(Quota {
                limit: None,
                remaining: None,
                reset_at: next_utc_midnight(self.clock.now()),
            }));
        };
        if let Some(journal) = &self.journal {
            let now = self.clock.now();
            if journal.admit(tenant_id, agent_id, kind, now) {
                return Ok(Admission::Admitted(Quota {
                    limit: None,
                    remaining: None,
                    reset_at: next_utc_midnight(now),
                }));
            }
        }
        let (reply, answer) = oneshot::channel();
        tx.send(Pending {
            tenant_id: tenant_id.to_owned(),
            agent_id: agent_id.to_owned(),
            kind,
            reply,
        })
        .await
        .map_err(|_| Error::Internal("the meter has stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Internal("the meter dropped a request".into()))?
            .map_err(Error::Internal)
    }
}
