//! `portal keys`: the token-signing keys.

use clap::Subcommand;

use app::domain::keys::{self, MasterKey, ServerKeys};
use app::domain::{Clock, Db};

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// A new signing key becomes current; the old one stays published until
    /// every token it signed has expired (see `retire`).
    Rotate,
    /// Remove the signing keys no valid token can name any more (the
    /// portal also does this by itself).
    Retire,
    /// The signing keys, newest (current) first.
    List,
    /// Seal keys a version before sealing left in the clear (the portal
    /// refuses to load them otherwise: it cannot tell them from planted
    /// ones). Without --kid, lists them; check each is yours, then name it.
    Seal {
        /// A key to seal (repeatable).
        #[arg(long)]
        kid: Vec<String>,
    },
}

pub async fn run(
    cmd: KeysCommand,
    db: &Db,
    master: &MasterKey,
    clock: &dyn Clock,
) -> Result<(), CliError> {
    match cmd {
        KeysCommand::Rotate => {
            let kid = keys::rotate(db, master, clock.now()).await?;
            println!("{kid}");
            eprintln!(
                "new signing key {kid}: every instance signs with it within KEYS_REFRESH_SECONDS"
            );
        }
        KeysCommand::Retire => {
            for kid in keys::retire(db, clock.now()).await? {
                println!("{kid}");
            }
        }
        KeysCommand::Seal { kid } if kid.is_empty() => {
            let clear = keys::clear_keys(db).await?;
            for (kid, purpose, created_at) in &clear {
                println!("{kid}  {purpose}  created {created_at}");
            }
            eprintln!(
                "{} key(s) in the clear. Seal only those your portal made (not rows someone \
                 added): portal keys seal --kid KID",
                clear.len()
            );
        }
        KeysCommand::Seal { kid } => {
            let sealed = keys::seal_clear_keys(db, master, &kid).await?;
            for kid in &sealed {
                println!("{kid}");
            }
            eprintln!("{} key(s) sealed with the master key", sealed.len());
        }
        KeysCommand::List => {
            let keys = ServerKeys::load_or_create(db, master, clock.now()).await?;
            for (i, key) in keys.signing.iter().enumerate() {
                println!("{}{}", key.kid, if i == 0 { "  (current)" } else { "" });
            }
        }
    }
    Ok(())
}
