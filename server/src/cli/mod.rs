//! The `portal` command line: `serve` plus the operators' subcommands.

pub mod agent;
pub mod db;
pub mod demo;
pub mod keys;
pub mod mail;
pub mod member;
pub mod tenant;

use clap::{Parser, Subcommand};

use crate::config::Config;

const EXIT_CODES: &str = "Exit codes: 0 success, 1 the operation failed or was refused \
(duplicate, unknown tenant, database unreachable), 2 invalid usage or input.";

#[derive(Debug, Parser)]
#[command(
    name = "portal",
    version,
    about = "Tenant portal of the agent identity provider",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web portal.
    Serve {
        /// Demo mode: fill an empty database with demo tenants, members and
        /// usage, and show the demo sign-in details.
        #[arg(long, env = "PORTAL_DEMO")]
        demo: bool,
        /// Benchmark baseline: count and limit nothing (never in production).
        #[arg(long, hide = true)]
        benchmark_without_metering: bool,
    },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Manage the members (admin logins) of tenants.
    #[command(subcommand)]
    Member(member::MemberCommand),
    /// Manage the agents (OAuth clients) of tenants.
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// The outgoing mail: what is queued, sent, failing.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Back up or check the database.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// The token-signing keys: rotate, retire, list.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Demo data.
    #[command(subcommand)]
    Demo(demo::DemoCommand),
}

/// A CLI failure with the exit code it deserves.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl From<app::domain::Error> for CliError {
    /// Exit code and message from the one classification: bad input is a
    /// usage error (2), anything else a refusal or failure (1). Our own
    /// failures are logged (stderr) with the details under the id the
    /// message names.
    fn from(e: app::domain::Error) -> Self {
        let problem = e.classify();
        CliError {
            code: if problem.code == "invalid_request" {
                2
            } else {
                1
            },
            message: problem.message,
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError {
            code: 1,
            message: format!("{e:#}"),
        }
    }
}
