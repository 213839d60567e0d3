use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use app::domain::agents::failed_auth;
use app::domain::clock::SharedClock;
use app::domain::db::Backend;
use app::domain::keys::{self, Keyring, MasterKey, ServerKeys};
use app::domain::metering::Meter;
use app::domain::outbox::Outbox;
use app::domain::{Db, ServiceParts, Services};
use app::model::assets::AssetUrls;
use app::model::DemoAccounts;
use axum::Router;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::sessions::PortalSessionStore;
use crate::state::{AppState, AppStateParts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metering {
    On,
    /// Benchmark baseline only: nothing counted, no limit enforced.
    OffForBenchmark,
}

/// The portal, built and listening, ready to serve.
pub struct Portal {
    pub router: Router,
    pub state: AppState,
    listener: TcpListener,
}

impl Portal {
    /// Serves requests until a shutdown signal.
    pub async fn serve(self) -> std::io::Result<()> {
        serve(self.listener, self.router, self.state.db.backend).await
    }
}

/// Binds `addr` and records the address actually bound, which the public
/// URL and the logs then name (port 0: a free one, as tests use).
async fn bind(addr: &mut SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(*addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    *addr = listener.local_addr()?;
    Ok(listener)
}

/// Binds the site's address, connects to the database (migrating it),
/// starts the background tasks and builds the whole router.
pub async fn build(
    mut config: Config,
    clock: SharedClock,
    demo: Option<DemoAccounts>,
    metering: Metering,
) -> anyhow::Result<Portal> {
    let listener = bind(&mut config.site_addr).await?;
    let site_root = config.site_root.clone();
    let assets_version = tokio::task::spawn_blocking(move || {
        crate::http::assets::precompress(&site_root);
        crate::http::assets::version(&site_root)
    })
    .await?;
    let db = Db::connect(&config.database_url).await?;
    let sessions = PortalSessionStore::connect(&db, &config.database_url).await?;
    sessions
        .clone()
        .spawn_expiry_sweeper(Duration::from_secs(600));
    let leptos = LeptosOptions::builder()
        .output_name("portal")
        .site_root(config.site_root.clone())
        .site_pkg_dir("pkg")
        .site_addr(config.site_addr)
        .build();
    let master = config.master_key()?;
    let keys = Arc::new(Keyring::new(
        ServerKeys::load_or_create(&db, &master, clock.now()).await?,
    ));
    spawn_key_refresh(
        db.clone(),
        master,
        clock.clone(),
        keys.clone(),
        Duration::from_secs(config.keys_refresh_seconds.max(1)),
    );
    let meter = match metering {
        Metering::On => Meter::start(db.clone(), clock.clone()),
        Metering::OffForBenchmark => {
            tracing::warn!(
                "metering is OFF: usage is neither counted nor limited (benchmark baseline)"
            );
            Meter::unmetered(clock.clone())
        }
    };
    let stripe = Arc::new(crate::billing::connect(&config).await?);
    let outbox = Outbox::new(config.public_url(), &keys.get());
    let services = Services::new(ServiceParts {
        db,
        keys,
        clients: Default::default(),
        auth_blocks: Default::default(),
        meter,
        clock,
        outbox,
        public_url: config.public_url(),
        audience: config.token_audience(),
        billing_test_mode: stripe.test_mode,
        signup_open: config.signup == crate::config::Signup::Open,
        demo,
    });
    crate::mail::spawn_delivery(
        services.db.clone(),
        services.outbox.clone(),
        services.clock.clone(),
        config.smtp_url.clone(),
        config.mail_from(),
    );
    spawn_credential_watch(
        services.db.clone(),
        services.outbox.clone(),
        services.clock.clone(),
    );
    // Only several instances (PostgreSQL) start blocks this one must learn.
    if services.db.backend == Backend::Postgres {
        spawn_auth_blocks_refresh(services.clone());
    }
    spawn_housekeeping(
        services.db.clone(),
        services.clock.clone(),
        config.audit_retention_days,
    );
    let assets = AssetUrls::versioned(&app::stylesheet_href(&leptos), &assets_version);
    let metrics_listener = match &mut config.metrics_addr {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let state = AppState::new(AppStateParts {
        services,
        stripe,
        config: Arc::new(config),
        leptos,
        assets,
    });
    // Before any request: every family records from the start.
    crate::metrics::spawn_upkeep();
    if let Some(listener) = metrics_listener {
        let bound = crate::metrics::serve(listener, state.clone())?;
        tracing::info!("metrics on http://{bound}/metrics");
    }
    Ok(Portal {
        router: crate::http::router(state.clone(), sessions),
        state,
        listener,
    })
}

/// Every `period`, retires signing keys no token can name any more and
/// reloads the keys, so a rotation made by any instance or the CLI is
/// published and used here within that period, without a restart.
fn spawn_key_refresh(
    db: Db,
    master: MasterKey,
    clock: SharedClock,
    keyring: Arc<Keyring>,
    period: Duration,
) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.tick().await;
        loop {
            interval.tick().await;
            let now = clock.now();
            let refreshed = async {
                let retired = keys::retire(&db, now).await?;
                if !retired.is_empty() {
                    tracing::info!(?retired, "retired signing keys");
                }
                ServerKeys::load_or_create(&db, &master, now).await
            };
            match refreshed.await {
                Ok(keys) => keyring.replace(keys),
                Err(e) => tracing::warn!(error = %e, "could not refresh the server keys"),
            }
        }
    });
}

/// Every 30 seconds: records agents' secrets that expired in the audit
/// trail, and mails owners and admins about those expiring in 7 days.
fn spawn_credential_watch(db: Db, outbox: Outbox, clock: SharedClock) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(30));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match app::domain::agents::credentials::watch(&db, &outbox, clock.now()).await {
                Ok(w) if w.expired + w.warned > 0 => {
                    tracing::info!(
                        expired = w.expired,
                        warned = w.warned,
                        "agent secrets watched"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not watch agent secrets' expiry"),
            }
        }
    });
}

/// Every second: takes the token endpoints' throttles that other instances
/// started, so that a correct secret is refused here too.
fn spawn_auth_blocks_refresh(services: Services) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(failed_auth::BLOCKS_REFRESH);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(e) = services
                .auth_blocks
                .refresh(&services.db, services.now())
                .await
            {
                tracing::warn!(error = %e, "could not read the token endpoints' throttles");
            }
        }
    });
}

/// Every hour: deletes audit entries past `AUDIT_RETENTION_DAYS`, sent
/// mail past a week, sign-ups whose link expired unused, agents' failed
/// authentications past a week, and the passwords of people who belong to
/// no organisation any more.
fn spawn_housekeeping(db: Db, clock: SharedClock, audit_retention_days: u32) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(3600));
        loop {
            interval.tick().await;
            let now = clock.now();
            match app::domain::audit::prune(&db, audit_retention_days, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "pruned the audit trail"),
                Err(e) => tracing::warn!(error = %e, "could not prune the audit trail"),
            }
            if let Err(e) = app::domain::outbox::prune_sent(&db, now).await {
                tracing::warn!(error = %e, "could not prune sent mail");
            }
            if let Err(e) = app::domain::signup::forget_expired(&db, now).await {
                tracing::warn!(error = %e, "could not forget expired sign-ups");
            }
            if let Err(e) = failed_auth::prune(&db, now).await {
                tracing::warn!(error = %e, "could not prune agents' failed authentications");
            }
            if let Err(e) = app::domain::members::forget_people_without_membership(&db).await {
                tracing::warn!(error = %e, "could not forget people without membership");
            }
        }
    });
}

/// Serves `router` on `listener` until the process is asked to stop.
///
/// On SQLite, one single-threaded runtime per core ("lane"), each serving
/// the connections handed to it in turn, so that a request runs start to end
/// on one thread. On tokio's work-stealing runtime, a page's tasks and
/// wake-ups crossed threads: 20 % more CPU per page (`/settings/tier`: two
/// servers of one thread each did 11,089 req/s, one of two threads 9,881).
/// Background work (mail, housekeeping, key refresh) stays on the main
/// runtime. Not on PostgreSQL: a pooled connection answers through the
/// runtime that opened it, so lanes would wait on each other's turns for
/// every query; SQLite's connections answer from threads of their own.
async fn serve(mut listener: TcpListener, router: Router, backend: Backend) -> std::io::Result<()> {
    use axum::serve::Listener;

    if backend != Backend::Sqlite {
        return axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await;
    }
    let local = listener.local_addr()?;
    let count = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut handoffs = Vec::with_capacity(count);
    let mut lanes = Vec::with_capacity(count);
    for number in 0..count {
        let (handoff, incoming) = tokio::sync::mpsc::unbounded_channel();
        handoffs.push(handoff);
        let connections = Lane { incoming, local };
        let (router, stopping) = (router.clone(), stopping.clone());
        let lane = std::thread::Builder::new()
            .name(format!("http-{number}"))
            .spawn(move || serve_lane(connections, router, stopping))?;
        lanes.push(lane);
    }
    // Ends only if a lane is gone: the server stops rather than drop every
    // other connection.
    let accepting = async {
        for handoff in handoffs.iter().cycle() {
            // axum's accept: logs and retries what a failed accept warrants.
            let (stream, peer) = Listener::accept(&mut listener).await;
            match stream.into_std() {
                Ok(stream) => {
                    if handoff.send((stream, peer)).is_err() {
                        break;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not hand a connection over"),
            }
        }
        std::io::Error::other("an HTTP lane stopped")
    };
    let failed = tokio::select! {
        e = accepting => Some(e),
        _ = shutdown_signal() => None,
    };
    let _ = stop.send(true);
    drop(handoffs);
    let served = tokio::task::spawn_blocking(move || {
        for lane in lanes {
            match lane.join() {
                Ok(served) => served?,
                Err(_) => return Err(std::io::Error::other("an HTTP lane panicked")),
            }
        }
        Ok(())
    })
    .await
    .map_err(std::io::Error::other)?;
    // A lane's own error says more than "a lane stopped".
    served.and(failed.map_or(Ok(()), Err))
}

/// One lane: its own single-threaded runtime serving the connections handed
/// to it until `stopping` turns true (or its sender is gone).
fn serve_lane(
    connections: Lane,
    router: Router,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // `into_make_service_with_connect_info` knows only axum's own listeners:
    // the peer's address goes into each connection's requests by hand, as
    // `ConnectInfo` (what `ClientIp` and the access log read).
    let with_peer = tower::service_fn(move |conn: axum::serve::IncomingStream<'_, Lane>| {
        let peer = axum::extract::ConnectInfo(*conn.remote_addr());
        let router = tower::Layer::layer(&axum::Extension(peer), router.clone());
        std::future::ready(Ok::<_, std::convert::Infallible>(router))
    });
    let stopped = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    runtime.block_on(async move {
        axum::serve(connections, with_peer)
            .with_graceful_shutdown(stopped)
            .await
    })
}

/// The connections one lane serves, as the accepting loop hands them over.
struct Lane {
    incoming: tokio::sync::mpsc::UnboundedReceiver<(std::net::TcpStream, std::net::SocketAddr)>,
    local: std::net::SocketAddr,
}

impl axum::serve::Listener for Lane {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // Closed: the server is stopping, and graceful shutdown ends the lane.
            let Some((stream, peer)) = self.incoming.recv().await else {
                std::future::pending::<()>().await;
                continue;
            };
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => return (stream, peer),
                Err(e) => tracing::warn!(error = %e, "could not take a connection over"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        Ok(self.local)
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
