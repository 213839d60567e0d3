//! Demo data: three tenants (free, pro, enterprise), each with an owner and an
//! admin login (and a viewer on the pro one), all with the same password.

use clap::Subcommand;

use app::domain::tenants::{self, NewTenant};
use app::domain::{members, Clock, Db, Error};
use app::model::{Role, Tier};
use app::pages::login::DemoAccounts;

use super::CliError;

pub const DEMO_PASSWORD: &str = "portal-demo";

pub struct DemoTenant {
    pub name: &'static str,
    pub tier: Tier,
    pub members: &'static [(&'static str, Role)],
}

pub const DEMO_TENANTS: [DemoTenant; 3] = [
    DemoTenant {
        name: "Northwind Agents",
        tier: Tier::Free,
        members: &[
            ("owner@northwind.example", Role::Owner),
            ("admin@northwind.example", Role::Admin),
        ],
    },
    DemoTenant {
        name: "Acme Robotics",
        tier: Tier::Pro,
        members: &[
            ("owner@acme.example", Role::Owner),
            ("admin@acme.example", Role::Admin),
            ("viewer@acme.example", Role::Viewer),
        ],
    },
    DemoTenant {
        name: "Globex Research",
        tier: Tier::Enterprise,
        members: &[
            ("owner@globex.example", Role::Owner),
            ("admin@globex.example", Role::Admin),
        ],
    },
];

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Add the demo tenants and members (tenants that already exist are left alone).
    Seed,
}

pub async fn run(cmd: DemoCommand, db: &Db, clock: &dyn Clock) -> Result<(), CliError> {
    match cmd {
        DemoCommand::Seed => {
            let created = seed(db, clock).await?;
            if created == 0 {
                eprintln!("demo data already present; nothing to do");
            }
            print_accounts();
        }
    }
    Ok(())
}

/// Writes the demo tenants that are missing; returns how many it created.
pub async fn seed(db: &Db, clock: &dyn Clock) -> Result<usize, Error> {
    let mut created = 0;
    for demo in &DEMO_TENANTS {
        let tenant = match tenants::create(
            db,
            NewTenant {
                tier: demo.tier,
                ..NewTenant::named(demo.name)
            },
            clock.now(),
        )
        .await
        {
            Ok(t) => t,
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        };
        for (email, role) in demo.members {
            members::add(
                db,
                &tenant.id,
                email,
                *role,
                DEMO_PASSWORD.into(),
                clock.now(),
            )
            .await?;
        }
        created += 1;
    }
    Ok(created)
}

pub fn accounts() -> DemoAccounts {
    DemoAccounts {
        password: DEMO_PASSWORD.into(),
        accounts: DEMO_TENANTS
            .iter()
            .flat_map(|t| {
                t.members.iter().map(move |(email, role)| {
                    (
                        (*email).to_owned(),
                        format!("{} of {} ({})", role, t.name, t.tier.display_name()),
                    )
                })
            })
            .collect(),
    }
}

pub fn print_accounts() {
    eprintln!("Demo sign-in (password for all: {DEMO_PASSWORD}):");
    for (email, what) in accounts().accounts {
        eprintln!("  {email:<26} {what}");
    }
}
