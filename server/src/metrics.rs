//! Prometheus metrics on their own address (`METRICS_ADDR`, off by
//! default, never on the public port). The families are recorded where
//! things happen (HTTP, metering, sign-in, webhooks) through the `metrics`
//! facade; the exporter renders them.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// The process's recorder, installed once (tests start many portals).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ])
                .expect("valid buckets")
                .install_recorder()
                .expect("the only metrics recorder")
        })
        .clone()
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Folds the recorded histogram samples into their buckets every few
/// seconds. The recorder keeps each sample until a scrape or an upkeep does
/// that: with `METRICS_ADDR` off (the default) or no scraper, nothing did,
/// and the server grew by about 20 bytes a request for as long as it ran
/// (2-7 MB per 10 s of signed-out pages under load).
pub fn spawn_upkeep() {
    let handle = recorder();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
}

/// Serves `GET /metrics` on `listener` for as long as the portal runs.
pub fn serve(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let handle = recorder();
    let router = Router::new()
        .route(
            "/metrics",
            get(move |State(state): State<AppState>| {
                let handle = handle.clone();
                async move {
                    let (size, idle) = (state.db.pool.size(), state.db.pool.num_idle());
                    metrics::gauge!("portal_db_connections", "state" => "idle").set(idle as f64);
                    metrics::gauge!("portal_db_connections", "state" => "in_use")
                        .set(size.saturating_sub(idle as u32) as f64);
                    handle.render()
                }
            }),
        )
        .with_state(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(addr)
}
