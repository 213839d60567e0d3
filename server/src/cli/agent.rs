use clap::Subcommand;

use app::domain::agents::{self, NewAgent};
use app::domain::audit::By;
use app::domain::keys::ServerKeys;
use app::domain::{tenants, Clock, Db};

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Register an agent; prints its client id and, once, its client secret.
    Create {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[arg(long = "type", default_value = "assistant")]
        agent_type: String,
        #[arg(long, default_value = "1.0.0")]
        version: String,
        /// Space- or comma-separated `resource:action` capabilities.
        #[arg(long)]
        capabilities: String,
        #[arg(long)]
        owner: String,
        #[arg(long, default_value = "production")]
        environment: String,
        /// Resources (RFC 8707) it may ask tokens for: absolute URIs,
        /// space- or comma-separated.
        #[arg(long, default_value = "")]
        resources: String,
    },
    /// List a tenant's agents.
    List {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
}

pub async fn run(
    cmd: AgentCommand,
    db: &Db,
    keys: &ServerKeys,
    clock: &dyn Clock,
) -> Result<(), CliError> {
    match cmd {
        AgentCommand::Create {
            tenant,
            name,
            agent_type,
            version,
            capabilities,
            owner,
            environment,
            resources,
        } => {
            let tenant = tenants::find_by_id_or_name(db, &tenant).await?;
            let new = NewAgent {
                name,
                agent_type,
                version,
                capabilities: vec![capabilities],
                owner,
                environment,
                secret_expires: String::new(),
                resources,
            };
            let (agent, secret) =
                agents::create(db, keys, &tenant.id, new, clock.now(), &By::operator()).await?;
            println!("client_id={}", agent.id);
            println!("client_secret={}", secret.0);
            eprintln!(
                "registered agent {:?} in {:?}; the secret is shown only now",
                agent.name, tenant.name
            );
        }
        AgentCommand::List { tenant } => {
            let tenant = tenants::find_by_id_or_name(db, &tenant).await?;
            println!(
                "{:<36}  {:<14}  {:<11}  NAME",
                "CLIENT ID", "STATUS", "ENVIRONMENT"
            );
            for a in agents::list(db, &tenant.id).await? {
                println!(
                    "{:<36}  {:<14}  {:<11}  {}",
                    a.id,
                    a.status.as_str(),
                    a.environment.as_str(),
                    a.name
                );
            }
        }
    }
    Ok(())
}
