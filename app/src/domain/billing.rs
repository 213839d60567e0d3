//! A tenant's billing state and its plan history. Stripe events change it
//! through `apply_event`: once per event id, in event order, and every plan
//! change is written to the history in the same transaction.

use sqlx::{Any, FromRow, Transaction};

use super::audit::{self, By};
use super::error::Thing;
use super::{Db, Error, Result};
use crate::model::{AuditAction, PlanChange, Tier};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct BillingAccount {
    pub tenant_id: String,
    pub tenant_name: String,
    #[sqlx(try_from = "String")]
    pub tier: Tier,
    pub stripe_customer_id: Option<String>,
    pub payment_failed_at: Option<i64>,
}

pub async fn account(db: &Db, tenant_id: &str) -> Result<BillingAccount> {
    sqlx::query_as(
        "SELECT id AS tenant_id, name AS tenant_name, tier, stripe_customer_id, payment_failed_at \
         FROM tenants WHERE id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Error::NotFound(Thing::Tenant))
}

/// Records that a member started a Stripe Checkout for Pro.
pub async fn record_checkout_started(db: &Db, tenant_id: &str, by: &By, now: i64) -> Result<()> {
    let mut conn = db.pool.acquire().await?;
    audit::record(
        &mut conn,
        tenant_id,
        by,
        AuditAction::CheckoutStarted,
        "Pro",
        "",
        now,
    )
    .await
}

pub async fn set_customer(db: &Db, tenant_id: &str, customer_id: &str) -> Result<()> {
    sqlx::query("UPDATE tenants SET stripe_customer_id = $1 WHERE id = $2")
        .bind(customer_id)
        .bind(tenant_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The tenant's last 100 plan changes, newest first; kept for the current
/// second (see `RecentReads`): `apply_event` forgets it.
pub async fn history(db: &Db, tenant_id: &str, now: i64) -> Result<Vec<PlanChange>> {
    let read = db
        .recent
        .get_or_read(tenant_id, "plan history".into(), now, || {
            read_history(db, tenant_id)
        })
        .await?;
    Ok(Vec::clone(&read))
}

async fn read_history(db: &Db, tenant_id: &str) -> Result<Vec<PlanChange>> {
    Ok(sqlx::query_as(
        "SELECT from_tier AS \"from\", to_tier AS \"to\", changed_at, changed_by FROM plan_changes \
         WHERE tenant_id = $1 ORDER BY changed_at DESC, id DESC LIMIT 100",
    )
    .bind(tenant_id)
    .fetch_all(&db.pool)
    .await?)
}

/// A Stripe event as far as billing cares: who, what, and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingEvent {
    pub id: String,
    pub kind: String,
    /// Stripe's `created`: events arrive out of order, this orders them.
    pub created: i64,
    /// The tenant, from `client_reference_id` / metadata, else `None`.
    pub tenant_id: Option<String>,
    pub customer_id: Option<String>,
    pub change: BillingChange,
    /// A checkout: it counts only for the Stripe customer the portal
    /// created for this tenant (so a checkout made elsewhere on the same
    /// Stripe account, naming our tenant, changes nothing).
    pub from_checkout: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingChange {
    /// Checkout completed, or the subscription is active again.
    SubscribedToPro,
    /// The subscription ended (deleted, canceled, unpaid).
    SubscriptionEnded,
    PaymentFailed,
    PaymentSucceeded,
    /// An event type billing does not act on.
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// Seen before: nothing done twice.
    Duplicate,
    /// Older than what the tenant's billing already reflects, about no
    /// tenant of ours, or of a kind we ignore.
    Ignored,
}

/// What an event is checked against: the tenant's plan, when its plan and
/// its payments last changed, and its own Stripe customer.
#[derive(FromRow)]
struct BillingState {
    #[sqlx(try_from = "String")]
    tier: Tier,
    billing_event_at: Option<i64>,
    payment_event_at: Option<i64>,
    payment_failed_at: Option<i64>,
    stripe_customer_id: Option<String>,
}

/// Applies one Stripe event, once: the event id is recorded in the same
/// transaction as its effect.
pub async fn apply_event(db: &Db, event: &BillingEvent, now: i64) -> Result<Applied> {
    let mut tx = db.pool.begin().await?;
    let fresh = sqlx::query(
        "INSERT INTO stripe_events (id, event_type, created, received_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&event.id)
    .bind(&event.kind)
    .bind(event.created)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(Applied::Duplicate);
    }
    let tenant_id = match (&event.tenant_id, &event.customer_id) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(c)) => {
            sqlx::query_scalar("SELECT id FROM tenants WHERE stripe_customer_id = $1")
                .bind(c)
                .fetch_optional(&mut *tx)
                .await?
        }
        (None, None) => None,
    };
    let Some(tenant_id) = tenant_id else {
        tx.commit().await?;
        return Ok(Applied::Ignored);
    };
    let row: Option<BillingState> = sqlx::query_as(
        "SELECT tier, billing_event_at, payment_event_at, payment_failed_at, stripe_customer_id \
         FROM tenants WHERE id = $1",
    )
    .bind(&tenant_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(BillingState {
        tier,
        billing_event_at: last_plan,
        payment_event_at: last_payment,
        payment_failed_at,
        stripe_customer_id: own_customer,
    }) = row
    else {
        tx.commit().await?;
        return Ok(Applied::Ignored);
    };
    let not_ours =
        event.from_checkout && (own_customer.is_none() || own_customer != event.customer_id);
    let is_payment = matches!(
        event.change,
        BillingChange::PaymentFailed | BillingChange::PaymentSucceeded
    );
    let last = if is_payment { last_payment } else { last_plan };
    if not_ours || last.is_some_and(|last| event.created < last) {
        tx.commit().await?;
        return Ok(Applied::Ignored);
    }
    let outcome = match event.change {
        BillingChange::SubscribedToPro | BillingChange::SubscriptionEnded => {
            let to = if event.change == BillingChange::SubscribedToPro {
                Tier::Pro
            } else {
                Tier::Free
            };
            // Enterprise is agreed with sales, not through self-serve billing.
            if tier == Tier::Enterprise || tier == to {
                Applied::Ignored
            } else {
                change_tier(
                    &mut tx,
                    &tenant_id,
                    tier,
                    to,
                    now,
                    &format!("Stripe {} {}", event.kind, event.id),
                )
                .await?;
                audit::record(
                    &mut tx,
                    &tenant_id,
                    &By::stripe(),
                    AuditAction::PlanChanged,
                    &format!("{} → {}", tier.display_name(), to.display_name()),
                    &format!("{} {}", event.kind, event.id),
                    now,
                )
                .await?;
                Applied::Changed
            }
        }
        BillingChange::PaymentFailed | BillingChange::PaymentSucceeded => {
            let failed = (event.change == BillingChange::PaymentFailed).then_some(event.created);
            sqlx::query("UPDATE tenants SET payment_failed_at = $1 WHERE id = $2")
                .bind(failed)
                .bind(&tenant_id)
                .execute(&mut *tx)
                .await?;
            let action = match (failed, payment_failed_at) {
                (Some(_), _) => Some(AuditAction::PaymentFailed),
                (None, Some(_)) => Some(AuditAction::PaymentRecovered),
                (None, None) => None,
            };
            if let Some(action) = action {
                let detail = format!("{} {}", event.kind, event.id);
                audit::record(
                    &mut tx,
                    &tenant_id,
                    &By::stripe(),
                    action,
                    "payment",
                    &detail,
                    now,
                )
                .await?;
            }
            Applied::Changed
        }
        BillingChange::Nothing => Applied::Ignored,
    };
    // Even when the tier was already right, the event is now the newest
    // word on this tenant's subscription: an older one must not undo it.
    if event.change != BillingChange::Nothing {
        let column = if is_payment {
            "payment_event_at"
        } else {
            "billing_event_at"
        };
        sqlx::query(&format!("UPDATE tenants SET {column} = $1 WHERE id = $2"))
            .bind(event.created)
            .bind(&tenant_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    db.recent.forget(&tenant_id);
    Ok(outcome)
}

async fn change_tier(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
    from: Tier,
    to: Tier,
    now: i64,
    by: &str,
) -> Result<()> {
    sqlx::query("UPDATE tenants SET tier = $1 WHERE id = $2")
        .bind(to.as_str())
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO plan_changes (tenant_id, from_tier, to_tier, changed_at, changed_by) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
