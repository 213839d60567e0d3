//! Single-use links sent by e-mail: address verification (24 h), password
//! reset (1 h) and invitations (7 days). The link carries a random token;
//! only its SHA-256 is stored here, and the outbox forgets a message's
//! body once it is sent, so a copy of the database opens no mailed link.
//! Redeeming is one conditional update: a link works once, however many
//! requests race, and never after it expires.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, FromRow};

use super::{Db, Error, Result};
use crate::model::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Verify,
    Reset,
    Invite,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
            Purpose::Invite => "invite",
        }
    }

    pub fn lifetime_secs(self) -> i64 {
        match self {
            Purpose::Verify => 24 * 3600,
            Purpose::Reset => 3600,
            Purpose::Invite => 7 * 86_400,
        }
    }
}

/// What a link was issued for.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Link {
    pub tenant_id: String,
    pub member_id: Option<String>,
    pub email: String,
    #[sqlx(try_from = "Option<String>")]
    pub role: OptionalRole,
    pub created_by: String,
    pub expires_at: i64,
}

/// A role column that may be empty (only invitations carry one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalRole(pub Option<Role>);

impl TryFrom<Option<String>> for OptionalRole {
    type Error = String;
    fn try_from(s: Option<String>) -> std::result::Result<Self, String> {
        s.map(|s| s.parse()).transpose().map(OptionalRole)
    }
}

/// A new link's parts; `member_id` for verification and reset, `role` for
/// invitations.
pub struct NewLink<'a> {
    pub purpose: Purpose,
    pub tenant_id: &'a str,
    pub member_id: Option<&'a str>,
    pub email: &'a str,
    pub role: Option<Role>,
    pub created_by: &'a str,
}

/// What is stored of a token: its SHA-256, in hex.
pub(crate) fn digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new link's random token (256 bits, URL-safe).
pub fn new_token() -> String {
    B64.encode(rand::random::<[u8; 32]>())
}

/// Stores a new link on `conn` and returns its token (for the e-mail only).
pub async fn issue(conn: &mut AnyConnection, new: NewLink<'_>, now: i64) -> Result<String> {
    let token = new_token();
    sqlx::query(
        "INSERT INTO email_links (token_hash, purpose, tenant_id, member_id, email, role, \
         created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(digest(&token))
    .bind(new.purpose.as_str())
    .bind(new.tenant_id)
    .bind(new.member_id)
    .bind(new.email)
    .bind(new.role.map(|r| r.as_str()))
    .bind(new.created_by)
    .bind(now)
    .bind(now + new.purpose.lifetime_secs())
    .execute(conn)
    .await?;
    Ok(token)
}

const LINK_COLUMNS: &str = "tenant_id, member_id, email, role, created_by, expires_at";

/// The link behind `token` if it is still usable, without using it (to show
/// the page it opens).
pub async fn peek(db: &Db, purpose: Purpose, token: &str, now: i64) -> Result<Link> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM email_links WHERE token_hash = $1 AND purpose = $2 \
         AND used_at IS NULL AND expires_at > $3"
    ))
    .bind(digest(token))
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(&db.pool)
    .await?
    .ok_or_else(|| unusable(purpose))
}

/// Uses the link, on `conn` (the transaction of what it unlocks): only
/// one caller ever gets it.
pub async fn redeem(
    conn: &mut AnyConnection,
    purpose: Purpose,
    token: &str,
    now: i64,
) -> Result<Link> {
    let used: Vec<Link> = sqlx::query_as(&format!(
        "UPDATE email_links SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 \
         AND used_at IS NULL AND expires_at > $1 RETURNING {LINK_COLUMNS}"
    ))
    .bind(now)
    .bind(digest(token))
    .bind(purpose.as_str())
    .fetch_all(conn)
    .await?;
    used.into_iter().next().ok_or_else(|| unusable(purpose))
}

/// The same answer for a wrong, used or expired link: which one it was
/// helps nobody but a guesser.
pub(crate) fn unusable(purpose: Purpose) -> Error {
    Error::invalid(match purpose {
        Purpose::Verify => {
            "This verification link has expired or was already used. Sign in and ask for a new one."
        }
        Purpose::Reset => {
            "This reset link has expired or was already used. Ask for a new one from the sign-in page."
        }
        Purpose::Invite => {
            "This invitation has expired, was revoked or was already used. Ask for a new one."
        }
    })
}

/// Ends the unused links of a purpose for a member (a new reset link
/// replaces the old one; a changed password ends pending resets).
pub async fn revoke_for_member(
    conn: &mut AnyConnection,
    purpose: Purpose,
    member_id: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE email_links SET used_at = $1 WHERE member_id = $2 AND purpose = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(member_id)
    .bind(purpose.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the unused links of a purpose for an address (in every
/// organisation: a person's password is one).
pub async fn revoke_for_email(
    conn: &mut AnyConnection,
    purpose: Purpose,
    email: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE email_links SET used_at = $1 WHERE email = $2 AND purpose = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(email)
    .bind(purpose.as_str())
    .execute(conn)
    .await?;
    Ok(())
}
