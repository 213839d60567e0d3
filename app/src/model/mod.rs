//! The shared model: types the pages, the server functions, the server's
//! handlers and the domain all speak, compiled for both `ssr` and `hydrate`.
//! Everything else depends on this; it depends on nothing of ours.

pub mod agents;
pub mod analytics;
pub mod assets;
pub mod audit;
pub mod billing;
pub mod demo;
pub mod forms;
pub mod page_fragments;
pub mod team;
pub mod tenancy;
pub mod tiers;
pub mod times;

pub use agents::{
    Agent, AgentStatus, AuthFailure, AuthFailureReason, AuthFailures, Credential, CredentialStatus,
    Environment, Overlap, SecretExpiry, ThrottleScope,
};
pub use audit::{AuditAction, AuditEntry};
pub use billing::PlanChange;
pub use demo::DemoAccounts;
pub use forms::FieldErrors;
pub use tenancy::{CurrentMember, Role, Tier, TIME_ZONE_CHOICES};

/// Lets `#[sqlx(try_from = "String")]` read these enums from their text column.
macro_rules! parsed_from_text {
    ($($t:ty),*) => {$(
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }
    )*};
}
parsed_from_text!(Tier, Role, AgentStatus, Environment);
