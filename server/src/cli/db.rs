//! `portal db`: backups and checks of the database.

use std::path::PathBuf;

use clap::Subcommand;

use app::domain::Db;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// A consistent copy of the SQLite database at PATH, taken while the
    /// portal serves (PostgreSQL: use pg_dump).
    Backup { path: PathBuf },
    /// Check the database's integrity and that every migration is applied.
    Check,
}

pub async fn run(cmd: DbCommand, db: &Db) -> Result<(), CliError> {
    match cmd {
        DbCommand::Backup { path } => {
            db.backup_to(&path).await?;
            eprintln!("backup written to {}", path.display());
        }
        DbCommand::Check => {
            let problems = db.check().await?;
            if !problems.is_empty() {
                return Err(CliError {
                    code: 1,
                    message: format!("the database has problems: {}", problems.join("; ")),
                });
            }
            println!("ok");
        }
    }
    Ok(())
}
