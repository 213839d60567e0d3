use clap::Subcommand;

use app::domain::audit::By;
use app::domain::tenants::{self, NewTenant};
use app::domain::{Clock, Db};
use app::model::Tier;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints its id.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "free")]
        tier: Tier,
        /// IANA time zone used for the tenant's charts.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
    /// List tenants.
    List,
    /// Change the time zone a tenant's analytics use (days, hours, months).
    SetTimeZone {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// IANA name, e.g. Europe/Berlin.
        #[arg(long)]
        time_zone: String,
    },
}

pub async fn run(cmd: TenantCommand, db: &Db, clock: &dyn Clock) -> Result<(), CliError> {
    match cmd {
        TenantCommand::Create {
            name,
            tier,
            time_zone,
        } => {
            let tenant = tenants::create(
                db,
                NewTenant {
                    name,
                    tier,
                    time_zone,
                },
                clock.now(),
            )
            .await?;
            println!("{}", tenant.id);
            eprintln!(
                "created tenant {:?} on the {} tier",
                tenant.name, tenant.tier
            );
        }
        TenantCommand::SetTimeZone { tenant, time_zone } => {
            let tenant = tenants::find_by_id_or_name(db, &tenant).await?;
            let zone =
                tenants::set_time_zone(db, &tenant.id, &time_zone, clock.now(), &By::operator())
                    .await?;
            eprintln!("tenant {:?} now uses {zone}", tenant.name);
        }
        TenantCommand::List => {
            println!("{:<36}  {:<10}  {:<12}  NAME", "ID", "TIER", "TIME ZONE");
            for t in tenants::list(db).await? {
                println!(
                    "{:<36}  {:<10}  {:<12}  {}",
                    t.id, t.tier, t.time_zone, t.name
                );
            }
        }
    }
    Ok(())
}
