use std::fmt;

use http::StatusCode;

use crate::model::{FieldErrors, Tier};

/// The one error type of the domain layer. [`Error::classify`] decides, once,
/// how every protocol answers it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule; each message is meant for the user, beside
    /// its field where it has one.
    #[error("{0}")]
    Invalid(FieldErrors),
    #[error("{0} not found")]
    NotFound(Thing),
    /// The request clashes with existing state (duplicate name, e-mail...).
    #[error("{0}")]
    Conflict(String),
    /// Signed in, but the role (or an unverified address) does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// Too many requests of one kind (sign-ups, reset e-mails) from one
    /// client or for one address.
    #[error("Too many attempts. Try again in {} minute(s).", (retry_after_secs + 59) / 60)]
    Throttled { retry_after_secs: i64 },
    #[error("The email or password is incorrect.")]
    InvalidCredentials,
    #[error("Too many failed sign-in attempts. Try again in {} minute(s).", (retry_after_secs + 59) / 60)]
    SignInThrottled { retry_after_secs: i64 },
    #[error("The {} tier allows {limit} live agents; decommission one or upgrade your plan.", tier.display_name())]
    AgentLimitReached { tier: Tier, limit: u64 },
    /// Client authentication failed (unknown client, wrong secret, agent not active).
    #[error("Client authentication failed.")]
    InvalidClient,
    /// One of the agent's former secrets: only its holder learns its label.
    #[error("The secret {label} no longer works (rotated out, retired or expired); use the agent's current secret.")]
    FormerSecret { label: String },
    /// Too many failed client authentications (see `agents::failed_auth`).
    #[error("Too many failed client authentications. Try again in {} minute(s).", (retry_after_secs + 59) / 60)]
    ClientAuthThrottled { retry_after_secs: i64 },
    #[error("The requested scope is invalid: {0}.")]
    InvalidScope(String),
    /// A `resource` (RFC 8707) that is malformed or not on the agent's list.
    #[error("{0}")]
    InvalidTarget(String),
    /// A bearer token that is malformed, expired, revoked or not ours.
    #[error("The access token is invalid, expired or revoked.")]
    InvalidToken,
    #[error("Daily limit reached: {} of {} per UTC day.", kind.limit_name(), quota.limit.unwrap_or_default())]
    QuotaExceeded {
        kind: super::metering::UsageKind,
        quota: super::metering::Quota,
    },
    /// Too much work of one kind at once (password hashing): come back soon.
    #[error("The portal is busy; please try again in a moment.")]
    Busy { retry_after_secs: i64 },
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
    Member,
    Invitation,
    Page,
}

impl fmt::Display for Thing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Thing::Tenant => "tenant",
            Thing::Agent => "agent",
            Thing::Member => "member",
            Thing::Invitation => "invitation",
            Thing::Page => "page",
        })
    }
}

/// How an error is answered, whatever the protocol: an HTML page, the JSON
/// API, an OAuth error, a server function or the CLI's exit code all render
/// from this. The message is always safe to show: internal details go to the
/// log under `error_id`, which the user sees instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    /// Stable, for programs: `invalid_request`, `not_found`, ...
    pub code: &'static str,
    pub message: String,
    /// Input problems, field by field (empty unless `invalid_request`).
    pub fields: FieldErrors,
    pub retry_after_secs: Option<i64>,
    /// Set for our own failures: the log line with the details carries it.
    pub error_id: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            status,
            code,
            message: message.into(),
            fields: FieldErrors::default(),
            retry_after_secs: None,
            error_id: None,
        }
    }

    /// Our own failure: logged with `detail` under a new error id; the user
    /// gets a short message and the id.
    pub fn internal(detail: &dyn fmt::Display) -> Self {
        let error_id = new_error_id();
        tracing::error!(error_id = %error_id, error = %detail, "request failed");
        Problem {
            error_id: Some(error_id.clone()),
            ..Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                format!(
                    "Something went wrong on our side. Please try again; if it keeps \
                     happening, quote error id {error_id}."
                ),
            )
        }
    }

    /// The problems to show on a form: each beside its field, or the
    /// message for the form as a whole.
    pub fn field_errors(&self) -> FieldErrors {
        if self.fields.is_empty() {
            FieldErrors::general(self.message.clone())
        } else {
            self.fields.clone()
        }
    }

    /// The policy of every form post: problems with the input (and conflicts,
    /// limits, throttling) re-render the form with them; our failures and
    /// missing things get an error page.
    pub fn belongs_on_the_form(&self) -> bool {
        self.status.is_client_error() && self.status != StatusCode::NOT_FOUND
    }
}

/// 12 hex digits: enough to find one log line, short enough to read out.
fn new_error_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

impl Error {
    /// One problem with the input as a whole.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(FieldErrors::general(message))
    }

    /// One problem with one field of a form.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Error::Invalid(FieldErrors::field(field, message))
    }

    /// The one place where a domain error gets its status, code and message.
    pub fn classify(&self) -> Problem {
        use StatusCode as S;
        let (status, code) = match self {
            Error::Invalid(fields) => {
                return Problem {
                    fields: fields.clone(),
                    ..Problem::new(S::BAD_REQUEST, "invalid_request", self.to_string())
                }
            }
            Error::NotFound(_) => (S::NOT_FOUND, "not_found"),
            Error::Conflict(_) => (S::CONFLICT, "conflict"),
            Error::Forbidden(_) => (S::FORBIDDEN, "forbidden"),
            Error::Throttled { retry_after_secs } => {
                return Problem {
                    retry_after_secs: Some(*retry_after_secs),
                    ..Problem::new(S::TOO_MANY_REQUESTS, "too_many_attempts", self.to_string())
                }
            }
            Error::InvalidCredentials => (S::UNAUTHORIZED, "invalid_credentials"),
            Error::SignInThrottled { retry_after_secs } => {
                return Problem {
                    retry_after_secs: Some(*retry_after_secs),
                    ..Problem::new(S::TOO_MANY_REQUESTS, "too_many_attempts", self.to_string())
                }
            }
            Error::Busy { retry_after_secs } => {
                return Problem {
                    retry_after_secs: Some(*retry_after_secs),
                    ..Problem::new(S::SERVICE_UNAVAILABLE, "busy", self.to_string())
                }
            }
            Error::AgentLimitReached { .. } => (S::CONFLICT, "agent_limit_reached"),
            Error::InvalidClient | Error::FormerSecret { .. } => {
                (S::UNAUTHORIZED, "invalid_client")
            }
            // RFC 8628's registered code for "too fast, wait", with Retry-After.
            Error::ClientAuthThrottled { retry_after_secs } => {
                return Problem {
                    retry_after_secs: Some(*retry_after_secs),
                    ..Problem::new(S::TOO_MANY_REQUESTS, "slow_down", self.to_string())
                }
            }
            Error::InvalidScope(_) => (S::BAD_REQUEST, "invalid_scope"),
            Error::InvalidTarget(_) => (S::BAD_REQUEST, "invalid_target"),
            Error::InvalidToken => (S::UNAUTHORIZED, "invalid_token"),
            // Its answer also names the limit and when it resets: see
            // the server's `rate_limit::quota_exceeded`.
            Error::QuotaExceeded { .. } => (S::TOO_MANY_REQUESTS, "rate_limit_exceeded"),
            Error::Database(_) | Error::Migration(_) | Error::Internal(_) => {
                return Problem::internal(self)
            }
        };
        Problem::new(status, code, self.to_string())
    }

    /// Turns a unique-constraint violation into a `Conflict` with `message`.
    pub(crate) fn on_unique_violation(e: sqlx::Error, message: impl FnOnce() -> String) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(message()),
            _ => Error::Database(e),
        }
    }
}

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        e.classify()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_never_reach_the_message() {
        let e = Error::Internal("connection to 10.0.0.7 refused: password for portal".into());
        let p = e.classify();
        assert_eq!(p.status, StatusCode::INTERNAL_SERVER_ERROR);
        let id = p.error_id.expect("an error id");
        assert_eq!(id.len(), 12);
        assert!(p.message.contains(&id));
        assert!(!p.message.contains("10.0.0.7") && !p.message.contains("password"));
    }

    #[test]
    fn input_problems_keep_their_fields() {
        let p = Error::invalid_field("name", "Name is required.").classify();
        assert_eq!(
            (p.status, p.code),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
        assert_eq!(p.fields.of("name").as_deref(), Some("Name is required."));
        assert!(p.belongs_on_the_form());
        assert!(!Error::NotFound(Thing::Agent)
            .classify()
            .belongs_on_the_form());
    }
}
