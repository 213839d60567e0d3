//! Integration tests: the real router on a random port, against SQLite and
//! against PostgreSQL (a throw-away cluster, see scripts/with-postgres.sh).

mod common;
mod mail_catcher;

mod account;
mod agents_pages;
mod analytics;
mod attacks;
mod audit;
mod bad_input;
mod billing;
mod cli;
mod credentials;
mod guessing;
mod mail;
mod openapi;
mod operations;
mod resources;
mod sign_in;
mod signup;
mod team;
mod tier_page;
mod tokens;
