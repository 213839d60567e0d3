use std::fmt;

/// The one error type of the domain layer; `server::http::error` maps it to HTTP.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule; the message is meant for the user.
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(Thing),
    /// The request clashes with existing state (duplicate name, e-mail...).
    #[error("{0}")]
    Conflict(String),
    #[error("The email or password is incorrect.")]
    InvalidCredentials,
    #[error("Too many failed sign-in attempts. Try again in {} minute(s).", (retry_after_secs + 59) / 60)]
    SignInThrottled { retry_after_secs: i64 },
    #[error("The {} tier allows {limit} live agents; decommission one or upgrade your plan.", tier.display_name())]
    AgentLimitReached {
        tier: crate::model::Tier,
        limit: u64,
    },
    /// Client authentication failed (unknown client, wrong secret, agent not active).
    #[error("Client authentication failed.")]
    InvalidClient,
    #[error("The requested scope is invalid: {0}.")]
    InvalidScope(String),
    /// A bearer token that is malformed, expired, revoked or not ours.
    #[error("The access token is invalid, expired or revoked.")]
    InvalidToken,
    #[error("Daily limit reached: {} of {} per UTC day.", kind.limit_name(), quota.limit.unwrap_or_default())]
    QuotaExceeded {
        kind: super::metering::UsageKind,
        quota: super::metering::Quota,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thing {
    Tenant,
    Agent,
}

impl fmt::Display for Thing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Thing::Tenant => "tenant",
            Thing::Agent => "agent",
        })
    }
}

impl Error {
    /// Turns a unique-constraint violation into a `Conflict` with `message`.
    pub(crate) fn on_unique_violation(e: sqlx::Error, message: impl FnOnce() -> String) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(message()),
            _ => Error::Database(e),
        }
    }
}
