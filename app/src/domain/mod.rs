//! The rules of the portal, one module per concept. Server-only (`ssr`).
//! The web layer (server functions, axum handlers) only calls in here.

pub mod agents;
pub mod analytics;
pub mod billing;
pub mod clock;
pub mod db;
pub mod error;
pub mod keys;
pub mod limits;
pub mod members;
pub mod metering;
pub mod passwords;
pub mod sign_in;
pub mod tenants;
pub mod time_zones;
pub mod tokens;

pub use clock::{Clock, SystemClock};
pub use db::Db;
pub use error::{Error, Result};

/// What server functions and pages need from the server, provided as Leptos
/// context on every render and server-function call.
#[derive(Clone, Debug)]
pub struct Services {
    pub db: Db,
    pub keys: std::sync::Arc<keys::ServerKeys>,
    pub meter: metering::Meter,
    pub clock: clock::SharedClock,
    /// The portal's base URL, as agents reach it.
    pub public_url: String,
    /// Billing goes to the local Stripe test double.
    pub billing_test_mode: bool,
}
