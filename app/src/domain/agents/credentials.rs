//! An agent's secrets. Rotating one keeps the previous working for a
//! window the admin picks, so running copies of the agent switch over
//! without an outage; a secret may expire by itself; each shows when it was
//! last used. At most two are live at once. Only a keyed hash is kept.

use sqlx::{AnyConnection, FromRow};

use super::secrets::{hash_secret, new_secret, ClientSecret};
use super::{audit_object, is_agent_id, ClientCache};
use crate::domain::audit::{self, By};
use crate::domain::error::Thing;
use crate::domain::keys::ServerKeys;
use crate::domain::outbox::Outbox;
use crate::domain::{emails, Db, Error, Result};
use crate::model::times::utc_time;
use crate::model::{AuditAction, Credential, Overlap, Role, SecretExpiry};

/// Live secrets an agent may have: the current one and the one it replaced.
pub const MAX_LIVE: usize = 2;
/// Owners and admins hear of an expiring secret this long before.
pub const WARN_BEFORE_SECS: i64 = 7 * 86_400;

pub(crate) const COLUMNS: &str =
    "id, label, created_at, expires_at, retired_at, replaced_at, last_used_at";

/// Oldest first, also within one second: a secret is replaced by the next
/// one, so of two made in the same second the one replaced later (or not
/// at all) is the newer.
const OLDEST_FIRST: &str = "created_at, COALESCE(replaced_at, 9223372036854775807), id";
const NEWEST_FIRST: &str = "created_at DESC, COALESCE(replaced_at, 9223372036854775807) DESC, id";

#[derive(FromRow)]
struct Row {
    id: String,
    label: String,
    created_at: i64,
    expires_at: Option<i64>,
    retired_at: Option<i64>,
    replaced_at: Option<i64>,
    last_used_at: Option<i64>,
}

impl From<Row> for Credential {
    fn from(r: Row) -> Credential {
        Credential {
            id: r.id,
            label: r.label,
            created_at: r.created_at,
            expires_at: r.expires_at,
            retired_at: r.retired_at,
            replaced_at: r.replaced_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// What may be shown of a secret: its prefix and last four characters.
pub fn label_of(secret: &ClientSecret) -> String {
    let tail: String = {
        let chars: Vec<char> = secret.0.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    };
    format!("ais_…{tail}")
}

/// Stores a new secret for `agent_id` (in the caller's transaction).
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    keys: &ServerKeys,
    tenant_id: &str,
    agent_id: &str,
    expiry: SecretExpiry,
    now: i64,
) -> Result<(ClientSecret, Credential)> {
    let secret = new_secret();
    let credential = Credential {
        id: uuid::Uuid::new_v4().to_string(),
        label: label_of(&secret),
        created_at: now,
        expires_at: expiry.at(now),
        retired_at: None,
        replaced_at: None,
        last_used_at: None,
    };
    sqlx::query(
        "INSERT INTO agent_credentials (id, agent_id, tenant_id, label, secret_hash, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&credential.id)
    .bind(agent_id)
    .bind(tenant_id)
    .bind(&credential.label)
    .bind(hash_secret(keys, &secret.0))
    .bind(now)
    .bind(credential.expires_at)
    .execute(conn)
    .await?;
    Ok((secret, credential))
}

/// An agent's secrets, newest first (another tenant's agent: none).
pub async fn list(db: &Db, tenant_id: &str, agent_id: &str) -> Result<Vec<Credential>> {
    if !is_agent_id(agent_id) {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM agent_credentials WHERE agent_id = $1 AND tenant_id = $2 \
         ORDER BY {NEWEST_FIRST}"
    ))
    .bind(agent_id)
    .bind(tenant_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(Credential::from).collect())
}

/// [`list`], read at most once a second while nothing is written (the
/// agent page's, beside [`super::get_recent`]).
pub async fn list_recent(
    db: &Db,
    tenant_id: &str,
    agent_id: &str,
    now: i64,
) -> Result<std::sync::Arc<Vec<Credential>>> {
    db.recent
        .get_or_read(tenant_id, format!("credentials:{agent_id}"), now, || {
            list(db, tenant_id, agent_id)
        })
        .await
}

/// Locks a live agent of the tenant for a change of its secrets (its row:
/// concurrent rotations take turns) and returns its name.
async fn lock_live_agent(
    conn: &mut AnyConnection,
    tenant_id: &str,
    agent_id: &str,
    now: i64,
) -> Result<String> {
    if !is_agent_id(agent_id) {
        return Err(Error::NotFound(Thing::Agent));
    }
    let row: Option<(String, String)> = sqlx::query_as(
        "UPDATE agents SET updated_at = $1 WHERE id = $2 AND tenant_id = $3 \
         RETURNING name, status",
    )
    .bind(now)
    .bind(agent_id)
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Err(Error::NotFound(Thing::Agent)),
        Some((_, status)) if status == "decommissioned" => Err(Error::Conflict(
            "A decommissioned agent has no secrets to change.".into(),
        )),
        Some((name, _)) => Ok(name),
    }
}

async fn live(conn: &mut AnyConnection, agent_id: &str, now: i64) -> Result<Vec<Credential>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM agent_credentials WHERE agent_id = $1 AND retired_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $2) ORDER BY {OLDEST_FIRST}"
    ))
    .bind(agent_id)
    .bind(now)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Credential::from).collect())
}

/// A secret made by a rotation, and until when the one it replaced works.
#[derive(Debug)]
pub struct Rotated {
    pub secret: ClientSecret,
    pub credential: Credential,
    /// `None`: there was no live secret to replace.
    pub previous_until: Option<i64>,
}

/// A new secret; the live one keeps working until `overlap` from now (or
/// its own expiry, if sooner). With two live already, nothing changes: the
/// admin retires the older first.
#[allow(clippy::too_many_arguments)]
pub async fn rotate(
    db: &Db,
    keys: &ServerKeys,
    clients: &ClientCache,
    tenant_id: &str,
    agent_id: &str,
    overlap: Overlap,
    expiry: SecretExpiry,
    now: i64,
    by: &By,
) -> Result<Rotated> {
    let mut tx = db.pool.begin().await?;
    let name = lock_live_agent(&mut tx, tenant_id, agent_id, now).await?;
    let previous = live(&mut tx, agent_id, now).await?;
    if previous.len() >= MAX_LIVE {
        return Err(Error::Conflict(format!(
            "This agent already has {MAX_LIVE} live secrets. Retire the older one ({}) first, \
             then rotate: nothing was changed.",
            previous[0].label
        )));
    }
    let until = now + overlap.secs();
    // Every secret not replaced yet is now (an expired current one too, so
    // that the new one is the agent's current); a live one ends with the
    // window, or sooner.
    sqlx::query(
        "UPDATE agent_credentials SET replaced_at = COALESCE(replaced_at, $1), \
         expires_at = CASE WHEN expires_at IS NULL OR expires_at > $2 THEN $2 ELSE expires_at END \
         WHERE agent_id = $3 AND retired_at IS NULL \
         AND (replaced_at IS NULL OR expires_at IS NULL OR expires_at > $1)",
    )
    .bind(now)
    .bind(until)
    .bind(agent_id)
    .execute(&mut *tx)
    .await?;
    let (secret, credential) = insert(&mut tx, keys, tenant_id, agent_id, expiry, now).await?;
    let previous_until = previous
        .first()
        .map(|p| until.min(p.expires_at.unwrap_or(until)));
    let detail = match (previous.first(), previous_until) {
        (Some(p), Some(at)) => format!(
            "new secret {}; {} works until {}",
            credential.label,
            p.label,
            utc_time(at)
        ),
        _ => format!("new secret {}", credential.label),
    };
    audit::record(
        &mut tx,
        tenant_id,
        by,
        AuditAction::AgentRotated,
        &audit_object(&name, agent_id),
        &detail,
        now,
    )
    .await?;
    tx.commit().await?;
    clients.forget(agent_id);
    db.recent.forget(tenant_id);
    Ok(Rotated {
        secret,
        credential,
        previous_until,
    })
}

/// Ends a live secret now. The agent's only live secret cannot be retired
/// (rotate, or suspend the agent, instead).
#[allow(clippy::too_many_arguments)]
pub async fn retire(
    db: &Db,
    clients: &ClientCache,
    tenant_id: &str,
    agent_id: &str,
    credential_id: &str,
    now: i64,
    by: &By,
) -> Result<Credential> {
    let mut tx = db.pool.begin().await?;
    let name = lock_live_agent(&mut tx, tenant_id, agent_id, now).await?;
    let live = live(&mut tx, agent_id, now).await?;
    let Some(credential) = live.iter().find(|c| c.id == credential_id) else {
        let known = list(db, tenant_id, agent_id)
            .await?
            .into_iter()
            .any(|c| c.id == credential_id);
        return Err(if known {
            Error::Conflict("This secret no longer works: there is nothing to retire.".into())
        } else {
            Error::invalid("There is no such secret for this agent.")
        });
    };
    if live.len() == 1 {
        return Err(Error::Conflict(
            "This is the agent's only working secret: rotate it first (or suspend the agent), \
             then retire it."
                .into(),
        ));
    }
    sqlx::query(
        "UPDATE agent_credentials SET retired_at = $1 WHERE id = $2 AND retired_at IS NULL",
    )
    .bind(now)
    .bind(credential_id)
    .execute(&mut *tx)
    .await?;
    if credential.replaced_at.is_none() {
        // The current secret retired: the one left becomes the agent's
        // current again, so its end is flagged and announced like any.
        sqlx::query(
            "UPDATE agent_credentials SET replaced_at = NULL WHERE agent_id = $1 AND id <> $2 \
             AND retired_at IS NULL AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(agent_id)
        .bind(credential_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        &mut tx,
        tenant_id,
        by,
        AuditAction::CredentialRetired,
        &audit_object(&name, agent_id),
        &format!("secret {}", credential.label),
        now,
    )
    .await?;
    tx.commit().await?;
    clients.forget(agent_id);
    db.recent.forget(tenant_id);
    Ok(Credential {
        retired_at: Some(now),
        ..credential.clone()
    })
}

/// Records `last_used_at` (the caller writes at most once a minute).
pub(crate) async fn touch(db: &Db, tenant_id: &str, credential_id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE agent_credentials SET last_used_at = $1 WHERE id = $2 \
         AND (last_used_at IS NULL OR last_used_at < $1)",
    )
    .bind(now)
    .bind(credential_id)
    .execute(&db.pool)
    .await?;
    db.recent.forget(tenant_id);
    Ok(())
}

/// A secret that came to its end, or will soon, as the watch found it.
#[derive(FromRow)]
struct Ending {
    tenant_id: String,
    agent_id: String,
    label: String,
    expires_at: i64,
}

/// What [`watch`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Watched {
    pub expired: usize,
    pub warned: usize,
}

/// Run every minute or so, on every instance: records in the audit trail
/// each secret that expired (when it happens, not when someone looks), and
/// mails the owners and admins of the tenant 7 days before an agent's
/// current secret expires. Each row is claimed by one conditional update,
/// so of several instances one does each, once.
pub async fn watch(db: &Db, outbox: &Outbox, now: i64) -> Result<Watched> {
    let mut tx = db.pool.begin().await?;
    let expired: Vec<Ending> = sqlx::query_as(
        "UPDATE agent_credentials SET expiry_recorded_at = $1 \
         WHERE expires_at IS NOT NULL AND expires_at <= $1 AND expiry_recorded_at IS NULL \
         AND retired_at IS NULL RETURNING tenant_id, agent_id, label, expires_at",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    for e in &expired {
        let name = agent_name(&mut tx, &e.agent_id).await?;
        audit::record(
            &mut tx,
            &e.tenant_id,
            &By::portal(),
            AuditAction::CredentialExpired,
            &audit_object(&name, &e.agent_id),
            &format!("secret {} expired at {}", e.label, utc_time(e.expires_at)),
            e.expires_at,
        )
        .await?;
    }
    // An agent's current secret (a replaced one ends by the admin's
    // choice), of an agent still in use.
    let warned: Vec<Ending> = sqlx::query_as(
        "UPDATE agent_credentials SET expiry_warned_at = $1 \
         WHERE expires_at IS NOT NULL AND expires_at > $1 AND expires_at <= $2 \
         AND expiry_warned_at IS NULL AND retired_at IS NULL AND replaced_at IS NULL \
         AND agent_id IN (SELECT id FROM agents WHERE status <> 'decommissioned') \
         RETURNING tenant_id, agent_id, label, expires_at",
    )
    .bind(now)
    .bind(now + WARN_BEFORE_SECS)
    .fetch_all(&mut *tx)
    .await?;
    for w in &warned {
        let name = agent_name(&mut tx, &w.agent_id).await?;
        let managers: Vec<String> = sqlx::query_scalar(
            "SELECT email FROM members WHERE tenant_id = $1 AND role IN ($2, $3) ORDER BY email",
        )
        .bind(&w.tenant_id)
        .bind(Role::Owner.as_str())
        .bind(Role::Admin.as_str())
        .fetch_all(&mut *tx)
        .await?;
        for to in managers {
            let message = emails::secret_expiring(
                &outbox.public_url,
                &to,
                &name,
                &w.agent_id,
                &w.label,
                &utc_time(w.expires_at),
            );
            outbox.enqueue(&mut tx, &message, now).await?;
        }
    }
    tx.commit().await?;
    for tenant in expired.iter().map(|e| &e.tenant_id) {
        db.recent.forget(tenant);
    }
    Ok(Watched {
        expired: expired.len(),
        warned: warned.len(),
    })
}

async fn agent_name(conn: &mut AnyConnection, agent_id: &str) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT name FROM agents WHERE id = $1")
        .bind(agent_id)
        .fetch_optional(conn)
        .await?
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_shows_the_prefix_and_the_last_four_characters() {
        let secret = ClientSecret("ais_abcdefghijklmnopqrstuvwxyz0123456789abcdefgh".into());
        assert_eq!(label_of(&secret), "ais_…efgh");
    }

    #[test]
    fn a_secret_is_expiring_when_replaced_or_within_fourteen_days() {
        let now = 1_000_000;
        let c = Credential {
            id: "c".into(),
            label: "ais_…a1b2".into(),
            created_at: 0,
            expires_at: None,
            retired_at: None,
            replaced_at: None,
            last_used_at: None,
        };
        use crate::model::CredentialStatus as S;
        assert_eq!(c.status(now), S::Active);
        let soon = Credential {
            expires_at: Some(now + 14 * 86_400),
            ..c.clone()
        };
        assert_eq!(soon.status(now), S::Expiring);
        let later = Credential {
            expires_at: Some(now + 15 * 86_400),
            ..c.clone()
        };
        assert_eq!(later.status(now), S::Active);
        let replaced = Credential {
            expires_at: Some(now + 3600),
            replaced_at: Some(now),
            ..c.clone()
        };
        assert_eq!(replaced.status(now), S::Expiring);
        assert!(replaced.is_live(now + 3599));
        assert!(!replaced.is_live(now + 3600), "ends at its second");
        assert_eq!(replaced.status(now + 3600), S::Expired);
        let retired = Credential {
            retired_at: Some(now),
            ..c
        };
        assert_eq!(retired.status(now), S::Retired);
    }
}
