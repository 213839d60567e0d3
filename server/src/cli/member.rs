use std::io::Read;

use clap::Subcommand;

use app::domain::audit::By;
use app::domain::outbox::Outbox;
use app::domain::team::{self, Acting};
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
    /// Invite someone by e-mail: they get a link (7 days, single use) to
    /// choose a password.
    Invite {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "viewer")]
        role: Role,
    },
    /// Change a member's role (the last owner cannot be demoted).
    SetRole {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: Role,
    },
    /// Remove a member; their sessions end on their next request (the last
    /// owner cannot be removed).
    Remove {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
    },
}

/// The operator acts with an owner's rights, and is named so in the audit trail.
fn operator(tenant_id: &str) -> Acting {
    Acting {
        tenant_id: tenant_id.to_owned(),
        role: Role::Owner,
        by: By::operator(),
    }
}

/// `outbox` is called for invitations only: queueing mail takes the server
/// keys (bodies are sealed), which the other commands do without.
pub async fn run(
    cmd: MemberCommand,
    db: &Db,
    clock: &dyn Clock,
    outbox: impl AsyncFnOnce() -> Result<Outbox, CliError>,
) -> Result<(), CliError> {
    match cmd {
        MemberCommand::Add {
            tenant,
            email,
            role,
            password_stdin,
        } => {
            let tenant = tenants::find_by_id_or_name(db, &tenant).await?;
            let (password, generated) = if password_stdin {
                // An operator-chosen password meets the members' rule.
                let mut input = String::new();
                std::io::stdin()
                    .read_to_string(&mut input)
                    .map_err(|e| CliError {
                        code: 1,
                        message: format!("reading stdin: {e}"),
                    })?;
                let password = input.trim_end_matches(['\r', '\n']).to_owned();
                passwords::check_new(&password, &[&email, &tenant.name])?;
                (password, false)
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
            println!("{:<8}  {:<8}  EMAIL", "ROLE", "VERIFIED");
            for m in members::list_for_tenant(db, &tenant.id).await? {
                let verified = if m.email_verified_at.is_some() {
                    "yes"
                } else {
                    "no"
                };
                println!("{:<8}  {:<8}  {}", m.role, verified, m.email);
            }
        }
        MemberCommand::Invite {
            tenant,
            email,
            role,
        } => {
            let tenant = tenants::find_by_id_or_name(db, &tenant).await?;
            let outbox = outbox().await?;
            team::invite(
                db,
                &operator(&tenant.id),
                &email,
                role,
                &outbox,
                clock.now(),
            )
            .await?;
            eprintln!(
                "invited {} as {role} of {:?}: the link is in the outbox (portal mail status)",
                email.trim().to_lowercase(),
                tenant.name
            );
        }
        MemberCommand::SetRole {
            tenant,
            email,
            role,
        } => {
            let tenant = tenants::find_by_id_or_name(db, &tenant).await?;
            let member = team::find(db, &tenant.id, &email).await?;
            team::set_role(db, &operator(&tenant.id), &member.id, role, clock.now()).await?;
            eprintln!("{} is now {role} of {:?}", member.email, tenant.name);
        }
        MemberCommand::Remove { tenant, email } => {
            let tenant = tenants::find_by_id_or_name(db, &tenant).await?;
            let member = team::find(db, &tenant.id, &email).await?;
            team::remove(db, &operator(&tenant.id), &member.id, clock.now()).await?;
            eprintln!("removed {} from {:?}", member.email, tenant.name);
        }
    }
    Ok(())
}
