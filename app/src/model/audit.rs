//! The audit trail as pages, the CSV export and the API show it.

use serde::{Deserialize, Serialize};

/// One recorded change in a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow, utoipa::ToSchema))]
pub struct AuditEntry {
    /// Unique; among entries of the same second, newer ones have larger ids.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// `member`, `operator`, `stripe`, `visitor` (someone not signed in: a
    /// sign-up, a reset through its link) or `unauthenticated` (a failed
    /// sign-in, a reset request: whoever typed the address). Agents change
    /// nothing the trail records: they only get tokens.
    pub actor_kind: String,
    /// The member's e-mail (a visitor's: the address typed), `Stripe`,
    /// `operator`, `unauthenticated attempt`.
    pub actor: String,
    /// A stable name, e.g. `agent.registered`: see [`AuditAction`].
    pub action: String,
    /// What was changed: an agent, a member's e-mail, the tenant.
    pub object: String,
    /// More about the change (the new role, the Stripe event id...).
    pub detail: String,
    pub client_ip: String,
}

/// Every kind of change the trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    SignedIn,
    SignInFailed,
    SignedUp,
    EmailVerified,
    MemberInvited,
    InvitationRevoked,
    InvitationAccepted,
    RoleChanged,
    MemberRemoved,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    SignedOutEverywhere,
    AgentRegistered,
    AgentSuspended,
    AgentReactivated,
    AgentResourcesChanged,
    AgentRotated,
    AgentDecommissioned,
    CredentialRetired,
    CredentialExpired,
    TimeZoneChanged,
    CheckoutStarted,
    PlanChanged,
    PaymentFailed,
    PaymentRecovered,
}

impl AuditAction {
    pub const ALL: [AuditAction; 26] = [
        AuditAction::SignedIn,
        AuditAction::SignInFailed,
        AuditAction::SignedUp,
        AuditAction::EmailVerified,
        AuditAction::MemberInvited,
        AuditAction::InvitationRevoked,
        AuditAction::InvitationAccepted,
        AuditAction::RoleChanged,
        AuditAction::MemberRemoved,
        AuditAction::PasswordChanged,
        AuditAction::PasswordResetRequested,
        AuditAction::PasswordReset,
        AuditAction::SignedOutEverywhere,
        AuditAction::AgentRegistered,
        AuditAction::AgentSuspended,
        AuditAction::AgentReactivated,
        AuditAction::AgentResourcesChanged,
        AuditAction::AgentRotated,
        AuditAction::AgentDecommissioned,
        AuditAction::CredentialRetired,
        AuditAction::CredentialExpired,
        AuditAction::TimeZoneChanged,
        AuditAction::CheckoutStarted,
        AuditAction::PlanChanged,
        AuditAction::PaymentFailed,
        AuditAction::PaymentRecovered,
    ];

    /// The stored, stable name.
    pub fn as_str(self) -> &'static str {
        use AuditAction as A;
        match self {
            A::SignedIn => "member.signed_in",
            A::SignInFailed => "member.sign_in_failed",
            A::SignedUp => "tenant.signed_up",
            A::EmailVerified => "member.email_verified",
            A::MemberInvited => "member.invited",
            A::InvitationRevoked => "invitation.revoked",
            A::InvitationAccepted => "invitation.accepted",
            A::RoleChanged => "member.role_changed",
            A::MemberRemoved => "member.removed",
            A::PasswordChanged => "member.password_changed",
            A::PasswordResetRequested => "member.password_reset_requested",
            A::PasswordReset => "member.password_reset",
            A::SignedOutEverywhere => "member.signed_out_everywhere",
            A::AgentRegistered => "agent.registered",
            A::AgentSuspended => "agent.suspended",
            A::AgentReactivated => "agent.reactivated",
            A::AgentResourcesChanged => "agent.resources_changed",
            A::AgentRotated => "agent.secret_rotated",
            A::AgentDecommissioned => "agent.decommissioned",
            A::CredentialRetired => "agent.secret_retired",
            A::CredentialExpired => "agent.secret_expired",
            A::TimeZoneChanged => "tenant.time_zone_changed",
            A::CheckoutStarted => "billing.checkout_started",
            A::PlanChanged => "billing.plan_changed",
            A::PaymentFailed => "billing.payment_failed",
            A::PaymentRecovered => "billing.payment_recovered",
        }
    }

    /// For people.
    pub fn label(self) -> &'static str {
        use AuditAction as A;
        match self {
            A::SignedIn => "Signed in",
            A::SignInFailed => "Sign-in failed",
            A::SignedUp => "Signed up",
            A::EmailVerified => "E-mail verified",
            A::MemberInvited => "Member invited",
            A::InvitationRevoked => "Invitation revoked",
            A::InvitationAccepted => "Invitation accepted",
            A::RoleChanged => "Role changed",
            A::MemberRemoved => "Member removed",
            A::PasswordChanged => "Password changed",
            A::PasswordResetRequested => "Password reset requested",
            A::PasswordReset => "Password reset",
            A::SignedOutEverywhere => "Signed out everywhere",
            A::AgentRegistered => "Agent registered",
            A::AgentSuspended => "Agent suspended",
            A::AgentReactivated => "Agent reactivated",
            A::AgentResourcesChanged => "Agent resources changed",
            A::AgentRotated => "Agent secret rotated",
            A::AgentDecommissioned => "Agent decommissioned",
            A::CredentialRetired => "Agent secret retired",
            A::CredentialExpired => "Agent secret expired",
            A::TimeZoneChanged => "Time zone changed",
            A::CheckoutStarted => "Checkout started",
            A::PlanChanged => "Plan changed",
            A::PaymentFailed => "Payment failed",
            A::PaymentRecovered => "Payment recovered",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// What the audit page and the API filter by; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Exact actor (e-mail, client id, `Stripe`, `operator`).
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Unix seconds, inclusive.
    pub from: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
}

/// The audit page's and the API's query string, as typed: `from` and `to`
/// are UTC dates (`YYYY-MM-DD`, both included), `before` a position from
/// the previous page's `next_before`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub before: Option<String>,
}

impl AuditQuery {
    /// The same query without the page position, as `key=value&...`.
    pub fn filter_params(&self) -> String {
        let mut parts = Vec::new();
        for (key, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!(
                    "{key}={}",
                    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                ));
            }
        }
        parts.join("&")
    }
}

/// A page of the trail as the audit page shows it, with the suggestions for
/// its actor filter: the members, Stripe, the operator (a former member's
/// address can still be typed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditListing {
    pub page: AuditPage,
    pub actors: Vec<String>,
}

/// One page of the trail, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<String>,
}
