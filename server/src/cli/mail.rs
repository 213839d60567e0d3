//! `portal mail status`: the outbox as operators need to see it.

use clap::Subcommand;

use app::domain::{outbox, Db};

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Queued, retrying, sent (last 7 days) and failed messages, and the
    /// latest errors. Exits with 1 when a message was given up on.
    Status,
}

pub async fn run(cmd: MailCommand, db: &Db) -> Result<(), CliError> {
    match cmd {
        MailCommand::Status => {
            let s = outbox::status(db).await?;
            println!("pending   {}", s.pending);
            println!("retrying  {}", s.retrying);
            println!("sent      {}", s.sent);
            println!("failed    {}", s.failed);
            if !s.recent_failures.is_empty() {
                println!();
                println!("latest problems:");
                for (to, attempts, error, at) in &s.recent_failures {
                    let when = jiff::Timestamp::from_second(*at)
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    println!("  {when}  {to}  after {attempts} attempt(s): {error}");
                }
            }
            if s.failed > 0 {
                return Err(CliError {
                    code: 1,
                    message: format!(
                        "{} message(s) could not be delivered: check SMTP_URL and the log",
                        s.failed
                    ),
                });
            }
        }
    }
    Ok(())
}
