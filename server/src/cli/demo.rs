//! Demo data: three tenants (free, pro, enterprise), each with an owner and an
//! admin login (and a viewer on the pro one), all with the same password, a
//! realistic set of agents and 100 days of usage written through the metering
//! code (weekday and office-hour rhythm, a few busy agents, some idle ones).

use clap::Subcommand;

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use app::domain::agents::{self, NewAgent};
use app::domain::audit::By;
use app::domain::keys::ServerKeys;
use app::domain::metering::{self, Counts, PastUsage};
use app::domain::tenants::{self, NewTenant};
use app::domain::{members, Clock, Db, Error};
use app::model::tiers::{utc_day_start, TierLimits, SECONDS_PER_DAY};
use app::model::DemoAccounts;
use app::model::{AgentStatus, Role, Tier};

use super::CliError;

pub const DEMO_PASSWORD: &str = "portal-demo";

pub struct DemoTenant {
    pub name: &'static str,
    pub tier: Tier,
    pub time_zone: &'static str,
    pub members: &'static [(&'static str, Role)],
    pub agents: usize,
    /// Tokens an average agent gets in a busy weekday hour.
    pub hourly_tokens: f64,
}

pub const DEMO_TENANTS: [DemoTenant; 3] = [
    DemoTenant {
        name: "Northwind Agents",
        tier: Tier::Free,
        time_zone: "UTC",
        members: &[
            ("owner@northwind.example", Role::Owner),
            ("admin@northwind.example", Role::Admin),
        ],
        agents: 7,
        hourly_tokens: 5.0,
    },
    DemoTenant {
        name: "Acme Robotics",
        tier: Tier::Pro,
        time_zone: "America/New_York",
        members: &[
            ("owner@acme.example", Role::Owner),
            ("admin@acme.example", Role::Admin),
            ("viewer@acme.example", Role::Viewer),
        ],
        agents: 28,
        hourly_tokens: 60.0,
    },
    DemoTenant {
        name: "Globex Research",
        tier: Tier::Enterprise,
        time_zone: "Europe/Berlin",
        members: &[
            ("owner@globex.example", Role::Owner),
            ("admin@globex.example", Role::Admin),
        ],
        agents: 45,
        hourly_tokens: 140.0,
    },
];

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Add the demo tenants and members (tenants that already exist are left alone).
    Seed,
    /// Benchmark data: a tenant with many agents and a given number of token
    /// events over the last days, written through the metering code.
    #[command(hide = true)]
    BenchData {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 1000)]
        agents: usize,
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
    /// Benchmark data: an audit trail of `entries` changes spread over
    /// `days` for an existing tenant (members, agents, Stripe, operator).
    #[command(hide = true)]
    BenchAudit {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        #[arg(long, default_value_t = 400)]
        days: i64,
    },
}

pub async fn run(
    cmd: DemoCommand,
    db: &Db,
    keys: &ServerKeys,
    clock: &dyn Clock,
) -> Result<(), CliError> {
    match cmd {
        DemoCommand::Seed => {
            let created = seed(db, keys, clock).await?;
            if created == 0 {
                eprintln!("demo data already present; nothing to do");
            }
            print_accounts();
        }
        DemoCommand::BenchData {
            tenant,
            agents,
            events,
            days,
        } => bench_data(db, keys, clock, &tenant, agents, events, days).await?,
        DemoCommand::BenchAudit {
            tenant,
            entries,
            days,
        } => bench_audit(db, clock, &tenant, entries, days).await?,
    }
    Ok(())
}

/// A year's audit trail of a busy tenant: mostly agent changes by a few
/// members, some Stripe and operator entries, oldest first.
async fn bench_audit(
    db: &Db,
    clock: &dyn Clock,
    name: &str,
    entries: u64,
    days: i64,
) -> Result<(), Error> {
    use app::domain::audit;
    use app::model::AuditAction as A;
    let tenant = tenants::find_by_id_or_name(db, name).await?;
    let now = clock.now();
    let span = days * SECONDS_PER_DAY;
    let people: Vec<By> = (0..12)
        .map(|i| By::member(&format!("person{i}@bench.example"), "203.0.113.7"))
        .collect();
    let mut rng = StdRng::seed_from_u64(11);
    let mut done = 0;
    while done < entries {
        let mut tx = db.pool.begin().await?;
        for _ in 0..10_000.min(entries - done) {
            let at = now - span + (done as i64 * span) / entries as i64;
            let (by, action) = match rng.gen_range(0..100) {
                0..2 => (By::stripe(), A::PlanChanged),
                2..4 => (By::operator(), A::RoleChanged),
                4..30 => (people[rng.gen_range(0..people.len())].clone(), A::SignedIn),
                30..70 => (
                    people[rng.gen_range(0..people.len())].clone(),
                    A::AgentRotated,
                ),
                _ => (
                    people[rng.gen_range(0..people.len())].clone(),
                    A::AgentSuspended,
                ),
            };
            let object = format!("bench-agent-{:04}", rng.gen_range(0..1000));
            audit::record(&mut tx, &tenant.id, &by, action, &object, "", at).await?;
            done += 1;
        }
        tx.commit().await?;
    }
    eprintln!("tenant {name:?}: {entries} audit entries over {days} days");
    Ok(())
}

async fn bench_data(
    db: &Db,
    keys: &ServerKeys,
    clock: &dyn Clock,
    name: &str,
    agent_count: usize,
    events: u64,
    days: i64,
) -> Result<(), Error> {
    let now = clock.now();
    let tenant = tenants::create(
        db,
        NewTenant {
            tier: Tier::Enterprise,
            ..NewTenant::named(name)
        },
        now,
    )
    .await?;
    let mut ids = Vec::with_capacity(agent_count);
    for i in 0..agent_count {
        let new = NewAgent {
            name: format!("bench-agent-{i:04}"),
            agent_type: "worker".into(),
            version: "1.0.0".into(),
            capabilities: vec!["bench:run".into()],
            owner: "bench".into(),
            environment: "production".into(),
            ..Default::default()
        };
        ids.push(
            agents::create(db, keys, &tenant.id, new, now, &By::operator())
                .await?
                .0
                .id,
        );
    }
    // Every agent-hour gets its share; with fewer events than agent-hours,
    // events land one by one on pseudo-random agent-hours.
    let hours = (days * 24) as u64;
    let slots = hours * agent_count as u64;
    let mut rng = StdRng::seed_from_u64(7);
    let mut batch = Vec::new();
    let flush = |batch: &mut Vec<PastUsage>| {
        let entries = std::mem::take(batch);
        async move { metering::record_history(db, &entries).await }
    };
    let entry = |slot: u64, tokens: i64| PastUsage {
        tenant_id: tenant.id.clone(),
        agent_id: ids[(slot % agent_count as u64) as usize].clone(),
        at: now - ((slot / agent_count as u64) as i64 + 1) * 3600,
        counts: Counts {
            tokens_issued: tokens,
            api_calls: 0,
            refused: 0,
        },
    };
    if events >= slots {
        for slot in 0..slots {
            let tokens = events / slots + u64::from(slot < events % slots);
            batch.push(entry(slot, tokens as i64));
            if batch.len() == 50_000 {
                flush(&mut batch).await?;
            }
        }
    } else {
        for _ in 0..events {
            batch.push(entry(rng.gen_range(0..slots), 1));
            if batch.len() == 50_000 {
                flush(&mut batch).await?;
            }
        }
    }
    flush(&mut batch).await?;
    eprintln!("tenant {name:?}: {agent_count} agents, {events} token events over {days} days");
    Ok(())
}

/// Writes the demo tenants that are missing; returns how many it created.
pub async fn seed(db: &Db, keys: &ServerKeys, clock: &dyn Clock) -> Result<usize, Error> {
    let mut created = 0;
    for demo in &DEMO_TENANTS {
        let tenant = match tenants::create(
            db,
            NewTenant {
                tier: demo.tier,
                time_zone: demo.time_zone.into(),
                ..NewTenant::named(demo.name)
            },
            clock.now(),
        )
        .await
        {
            Ok(t) => t,
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        };
        for (email, role) in demo.members {
            members::add(
                db,
                &tenant.id,
                email,
                *role,
                DEMO_PASSWORD.into(),
                clock.now(),
            )
            .await?;
        }
        seed_agents_and_usage(db, keys, clock, &tenant, demo).await?;
        created += 1;
    }
    Ok(created)
}

pub fn accounts() -> DemoAccounts {
    DemoAccounts {
        password: DEMO_PASSWORD.into(),
        accounts: DEMO_TENANTS
            .iter()
            .flat_map(|t| {
                t.members.iter().map(move |(email, role)| {
                    (
                        (*email).to_owned(),
                        format!("{} of {} ({})", role, t.name, t.tier.display_name()),
                    )
                })
            })
            .collect(),
    }
}

pub fn print_accounts() {
    eprintln!("Demo sign-in (password for all: {DEMO_PASSWORD}):");
    for (email, what) in accounts().accounts {
        eprintln!("  {email:<26} {what}");
    }
}

// Two 90-day periods would be more than a demo needs; a full 90 days and
// some before lets the longest range and its comparison show real data.
const HISTORY_DAYS: i64 = 100;

/// (name, agent type, capabilities)
const AGENT_KINDS: [(&str, &str, &str); 16] = [
    (
        "support-triage",
        "assistant",
        "tickets:read tickets:write kb:read",
    ),
    (
        "invoice-reconciler",
        "workflow",
        "invoices:read ledger:write",
    ),
    ("code-reviewer", "coding", "repos:read pulls:write"),
    ("lead-enricher", "workflow", "crm:read crm:write"),
    ("doc-summarizer", "retrieval", "docs:read"),
    (
        "incident-responder",
        "monitoring",
        "alerts:read pager:write runbooks:read",
    ),
    (
        "data-pipeline",
        "workflow",
        "warehouse:read warehouse:write",
    ),
    (
        "meeting-scheduler",
        "assistant",
        "calendar:read calendar:write",
    ),
    (
        "compliance-auditor",
        "monitoring",
        "audit:read policies:read",
    ),
    ("search-indexer", "retrieval", "docs:read index:write"),
    ("fraud-screener", "monitoring", "payments:read risk:write"),
    ("onboarding-guide", "assistant", "users:read kb:read"),
    (
        "demand-forecaster",
        "workflow",
        "inventory:read forecasts:write",
    ),
    ("email-drafter", "assistant", "mail:read mail:write"),
    ("security-scanner", "coding", "repos:read findings:write"),
    ("contract-analyst", "retrieval", "contracts:read"),
];

const OWNERS: [&str; 5] = [
    "platform-team@example.com",
    "support-ops@example.com",
    "finance-eng@example.com",
    "data-team@example.com",
    "security@example.com",
];

struct SeededAgent {
    id: String,
    /// Relative activity: a few busy agents, most moderate, some idle.
    weight: f64,
    /// Usage stops after this time (decommissioned or retired agents).
    active_until: i64,
}

async fn seed_agents_and_usage(
    db: &Db,
    keys: &ServerKeys,
    clock: &dyn Clock,
    tenant: &tenants::Tenant,
    demo: &DemoTenant,
) -> Result<(), Error> {
    let now = clock.now();
    // Same data on every machine: the seed depends only on the tenant's name.
    let mut rng = StdRng::seed_from_u64(demo.name.bytes().map(u64::from).sum());
    let mut seeded = Vec::new();
    let tenant_slug = demo
        .name
        .split_whitespace()
        .next()
        .unwrap_or("demo")
        .to_lowercase();
    for i in 0..demo.agents {
        let (kind, agent_type, capabilities) = AGENT_KINDS[i % AGENT_KINDS.len()];
        let name = match i / AGENT_KINDS.len() {
            0 => kind.to_owned(),
            n => format!("{kind}-{}", n + 1),
        };
        let environment = ["production", "production", "staging", "development"][i % 4];
        let new = NewAgent {
            name,
            agent_type: agent_type.into(),
            version: format!("{}.{}.{}", 1 + i % 3, (i * 7) % 10, (i * 3) % 5),
            capabilities: vec![capabilities.into()],
            owner: OWNERS[i % OWNERS.len()].into(),
            environment: environment.into(),
            // The production agents call the tenant's own API.
            resources: if environment == "production" {
                format!("https://api.{}.example", tenant_slug)
            } else {
                String::new()
            },
            ..Default::default()
        };
        let created = now - (HISTORY_DAYS + 5) * SECONDS_PER_DAY;
        let (agent, _secret) =
            agents::create(db, keys, &tenant.id, new, created, &By::operator()).await?;
        let (weight, active_until, status) = match i {
            0 | 3 => (4.0, now, AgentStatus::Active), // the busy ones
            _ if i % 9 == 8 => (0.0, now, AgentStatus::Active), // registered, never used
            _ if i % 11 == 5 => (1.0, now - 12 * SECONDS_PER_DAY, AgentStatus::Suspended),
            _ if i % 13 == 6 => (1.2, now - 5 * SECONDS_PER_DAY, AgentStatus::Decommissioned),
            _ => (rng.gen_range(0.3..1.6), now, AgentStatus::Active),
        };
        if status != AgentStatus::Active {
            let clients = agents::ClientCache::default();
            agents::set_status(
                db,
                &clients,
                &tenant.id,
                &agent.id,
                status,
                active_until,
                &By::operator(),
            )
            .await?;
        }
        seeded.push(SeededAgent {
            id: agent.id,
            weight,
            active_until,
        });
    }

    let limits = TierLimits::of(tenant.tier);
    let first_hour = utc_day_start(now) - (HISTORY_DAYS - 1) * SECONDS_PER_DAY;
    let spike_day = utc_day_start(now) - 9 * SECONDS_PER_DAY;
    let mut used_per_day: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut history = Vec::new();
    let mut hour = first_hour;
    while hour <= now {
        let day = utc_day_start(hour);
        let weekday = (day / SECONDS_PER_DAY + 4).rem_euclid(7); // 0 = Sunday
        let h = ((hour - day) / 3600) as f64;
        let office = 0.06 + (-((h - 13.0) * (h - 13.0)) / (2.0 * 3.2 * 3.2)).exp();
        let week = match weekday {
            0 => 0.12,
            6 => 0.2,
            _ => 1.0,
        };
        // One day a runaway loop made the busiest agent hammer the token endpoint.
        let spike = if day == spike_day { 6.0 } else { 1.0 };
        for (i, agent) in seeded.iter().enumerate() {
            if agent.weight == 0.0 || hour > agent.active_until {
                continue;
            }
            let busy = if i == 0 { spike } else { 1.0 };
            let expected =
                demo.hourly_tokens * agent.weight * office * week * busy * rng.gen_range(0.7..1.3);
            let wanted = expected.round() as i64;
            if wanted == 0 {
                continue;
            }
            // Within the day's limits, as enforcement would have kept it;
            // what is over the limit was refused.
            let (used_tokens, used_calls) = used_per_day.entry(day).or_default();
            let left = limits
                .tokens_per_day
                .map_or(i64::MAX, |l| l as i64 - *used_tokens);
            let tokens = wanted.min(left.max(0));
            *used_tokens += tokens;
            let wanted_calls = (wanted as f64 * rng.gen_range(2.0..4.5)).round() as i64;
            let left = limits
                .api_calls_per_day
                .map_or(i64::MAX, |l| l as i64 - *used_calls);
            let api_calls = wanted_calls.min(left.max(0));
            *used_calls += api_calls;
            let counts = Counts {
                tokens_issued: tokens,
                api_calls,
                refused: (wanted - tokens) + (wanted_calls - api_calls),
            };
            history.push(PastUsage {
                tenant_id: tenant.id.clone(),
                agent_id: agent.id.clone(),
                at: hour.min(now),
                counts,
            });
        }
        hour += 3600;
    }
    metering::record_history(db, &history).await?;
    // Each demo agent got those tokens with the one secret it has.
    sqlx::query(
        "UPDATE agent_credentials SET last_used_at = \
         (SELECT a.last_token_at FROM agents a WHERE a.id = agent_credentials.agent_id) \
         WHERE tenant_id = $1 AND last_used_at IS NULL",
    )
    .bind(&tenant.id)
    .execute(&db.pool)
    .await?;
    Ok(())
}
