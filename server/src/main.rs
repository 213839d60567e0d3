use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use app::domain::keys::ServerKeys;
use app::domain::outbox::Outbox;
use app::domain::tenants;
use app::domain::{Clock, Db, SystemClock};
use server::cli::{self, Cli, CliError, Command};
use server::config::LogFormat;
use server::startup;

// Requests are answered on one thread and their usage written on another:
// glibc's allocator pays for those cross-thread frees, mimalloc barely does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Cli::parse();
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.config.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    let problems = args
        .config
        .problems(matches!(args.command, Command::Serve { .. }));
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("configuration error: {problem}");
        }
        return ExitCode::from(2);
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

async fn run(args: Cli) -> Result<(), CliError> {
    let clock = SystemClock;
    match args.command {
        Command::Serve {
            demo,
            benchmark_without_metering,
        } => {
            let accounts = if demo {
                let db = Db::connect(&args.config.database_url).await?;
                let keys = server_keys(&db, &args.config, &clock).await?;
                // Demo members share a published password: they go only into
                // an empty database, never beside real tenants.
                if tenants::list(&db).await?.is_empty() {
                    cli::demo::seed(&db, &keys, &clock).await?;
                    tracing::info!("demo data written");
                } else {
                    tracing::info!("the database is not empty: no demo data written");
                }
                let first_demo = cli::demo::DEMO_TENANTS[0].name;
                if tenants::find_by_id_or_name(&db, first_demo).await.is_ok() {
                    cli::demo::print_accounts();
                    Some(cli::demo::accounts())
                } else {
                    None
                }
            } else {
                None
            };
            let metering = if benchmark_without_metering {
                startup::Metering::OffForBenchmark
            } else {
                startup::Metering::On
            };
            let portal = startup::build(args.config, Arc::new(clock), accounts, metering).await?;
            // The bound address (port 0: the one the kernel picked): this
            // line is how a supervisor learns it.
            tracing::info!(
                "portal listening on http://{}",
                portal.state.config.site_addr
            );
            let meter = portal.state.meter.clone();
            let served = portal.serve().await;
            // What the usage journal holds goes into the database before
            // exit (a restart would replay it, but backups and the CLI read
            // the database alone).
            meter.settled().await;
            served.map_err(|e| CliError {
                code: 1,
                message: e.to_string(),
            })
        }
        Command::Tenant(cmd) => {
            cli::tenant::run(cmd, &Db::connect(&args.config.database_url).await?, &clock).await
        }
        Command::Member(cmd) => {
            let db = Db::connect(&args.config.database_url).await?;
            let outbox = async || {
                let keys = server_keys(&db, &args.config, &clock).await?;
                Ok(Outbox::new(args.config.public_url(), &keys))
            };
            cli::member::run(cmd, &db, &clock, outbox).await
        }
        Command::Agent(cmd) => {
            let db = Db::connect(&args.config.database_url).await?;
            let keys = server_keys(&db, &args.config, &clock).await?;
            cli::agent::run(cmd, &db, &keys, &clock).await
        }
        Command::Mail(cmd) => {
            cli::mail::run(cmd, &Db::connect(&args.config.database_url).await?).await
        }
        Command::Db(cmd) => cli::db::run(cmd, &Db::connect(&args.config.database_url).await?).await,
        Command::Keys(cmd) => {
            let db = Db::connect(&args.config.database_url).await?;
            cli::keys::run(cmd, &db, &args.config.master_key()?, &clock).await
        }
        Command::Demo(cmd) => {
            let db = Db::connect(&args.config.database_url).await?;
            let keys = server_keys(&db, &args.config, &clock).await?;
            cli::demo::run(cmd, &db, &keys, &clock).await
        }
    }
}

async fn server_keys(
    db: &Db,
    config: &server::config::Config,
    clock: &SystemClock,
) -> Result<ServerKeys, CliError> {
    Ok(ServerKeys::load_or_create(db, &config.master_key()?, clock.now()).await?)
}
