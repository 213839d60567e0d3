//! The rules of the portal, one module per concept. Server-only (`ssr`).
//! The web layer (server functions, axum handlers) only calls in here.

pub mod clock;
pub mod db;
pub mod error;
pub mod members;
pub mod passwords;
pub mod sign_in;
pub mod tenants;

pub use clock::{Clock, SystemClock};
pub use db::Db;
pub use error::{Error, Result};
