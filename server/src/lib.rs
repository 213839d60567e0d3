//! The `portal` binary's library: configuration, HTTP layer, CLI and start-up,
//! importable by the integration tests.

pub mod billing;
pub mod cli;
pub mod config;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod sessions;
pub mod startup;
pub mod state;
