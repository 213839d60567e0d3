use std::io::Read;

use clap::Subcommand;

use app::domain::{members, passwords, tenants, Clock, Db};
use app::model::Role;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member to a tenant. Without --password-stdin a password is
    /// generated and printed once.
    Add {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "admin")]
        role: Role,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the members of a tenant.
    List {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
}

pub async fn run(cmd: MemberCommand, db: &Db, clock: &dyn Clock) -> Result<(), CliError> {
    match cmd {
        MemberCommand::Add {
            tenant,
            email,
            role,
            password_stdin,
        } => {
            let tenant = tenants::find_by_id_or_name(db, &tenant).await?;
            let (password, generated) = if password_stdin {
                let mut input = String::new();
                std::io::stdin()
                    .read_to_string(&mut input)
                    .map_err(|e| CliError {
                        code: 1,
                        message: format!("reading stdin: {e}"),
                    })?;
                (input.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (passwords::generate(), true)
            };
            let member =
                members::add(db, &tenant.id, &email, role, password.clone(), clock.now()).await?;
            println!("{}", member.id);
            eprintln!(
                "added {} as {} of {:?}",
                member.email, member.role, tenant.name
            );
            if generated {
                eprintln!("password (shown once): {password}");
            }
        }
        MemberCommand::List { tenant } => {
            let tenant = tenants::find_by_id_or_name(db, &tenant).await?;
            println!("{:<8}  EMAIL", "ROLE");
            for m in members::list_for_tenant(db, &tenant.id).await? {
                println!("{:<8}  {}", m.role, m.email);
            }
        }
    }
    Ok(())
}
