//! The rules of the portal, one module per concept. Server-only (`ssr`).
//! The web layer (server functions, axum handlers) only calls in here.

pub mod account;
pub mod agents;
pub mod analytics;
pub mod audit;
pub mod billing;
pub mod clock;
pub mod db;
pub mod email_links;
pub mod emails;
pub mod error;
pub mod keys;
pub mod limits;
pub mod members;
pub mod metering;
pub mod outbox;
pub mod passwords;
pub mod recent_reads;
pub mod scopes;
pub mod sign_in;
pub mod signup;
pub mod sqlite_reader;
pub mod team;
pub mod tenants;
pub mod time_zones;
pub mod tokens;

pub use clock::{Clock, SystemClock};
pub use db::Db;
pub use error::{Error, Problem, Result};

/// The running portal's shared state: what handlers, server functions and
/// pages need. The server wraps it with its HTTP-only parts and provides it
/// as Leptos context on every render and server-function call.
///
/// One reference count to clone: a page view clones it several times (axum's
/// state per layer, the render's context, each server function), and field
/// by field that was a dozen counts and two strings each time.
#[derive(Clone, Debug)]
pub struct Services(std::sync::Arc<ServiceParts>);

#[derive(Debug)]
pub struct ServiceParts {
    pub db: Db,
    pub keys: std::sync::Arc<keys::Keyring>,
    /// Recently authenticated agents, for the token endpoint.
    pub clients: std::sync::Arc<agents::ClientCache>,
    /// Failed client authentications' blocks in force.
    pub auth_blocks: agents::AuthBlocks,
    pub meter: metering::Meter,
    pub clock: clock::SharedClock,
    /// The portal's base URL, as browsers and agents reach it; the `iss` of
    /// our tokens.
    pub public_url: String,
    /// Where mail is queued (sealed, with links to `public_url`).
    pub outbox: outbox::Outbox,
    /// The `aud` of our tokens.
    pub audience: String,
    /// Billing goes to the local Stripe test double.
    pub billing_test_mode: bool,
    /// Anyone may create a tenant at /signup.
    pub signup_open: bool,
    /// Shown on the sign-in page in demo mode.
    pub demo: Option<crate::model::DemoAccounts>,
}

impl Services {
    pub fn new(parts: ServiceParts) -> Self {
        Self(std::sync::Arc::new(parts))
    }
}

impl std::ops::Deref for Services {
    type Target = ServiceParts;
    fn deref(&self) -> &ServiceParts {
        &self.0
    }
}

impl ServiceParts {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
