//! Prometheus metrics on their own address (`METRICS_ADDR`, off by
//! default, never on the public port). The families are recorded where
//! things happen (HTTP, metering, sign-in, webhooks) through the `metrics`
//! facade; the exporter renders them.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// The most series (a name with one set of label values) the process keeps.
/// Labels come from closed sets (see `http::access_log`), which together
/// make a few hundred; this bound is what holds if one ever does not: a
/// series past it is not recorded, and `portal_metrics_series_dropped_total`
/// says so, instead of the process growing with every new value.
pub const MAX_SERIES: usize = 5_000;

/// The process's recorder, installed once (tests start many portals).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let prometheus = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ])
                .expect("valid buckets")
                .build_recorder();
            let handle = prometheus.handle();
            metrics::set_global_recorder(Bounded::new(prometheus, MAX_SERIES))
                .expect("the only metrics recorder");
            // Shown from the start, at 0, not only once it happens.
            metrics::counter!("portal_render_stalls_total").increment(0);
            handle
        })
        .clone()
}

/// A recorder that keeps at most `max` series; past that, new series are
/// dropped (and counted), and the ones it has go on being recorded.
struct Bounded<R> {
    inner: R,
    max: usize,
    /// The series kept (their keys: hashes alone can collide).
    seen: RwLock<HashSet<Key>>,
    dropped: Counter,
}

impl<R: Recorder> Bounded<R> {
    fn new(inner: R, max: usize) -> Self {
        let dropped = inner.register_counter(
            &Key::from_static_name("portal_metrics_series_dropped_total"),
            &Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!())),
        );
        Bounded {
            inner,
            max,
            seen: RwLock::new(HashSet::new()),
            dropped,
        }
    }

    fn admits(&self, key: &Key) -> bool {
        if self.seen.read().is_ok_and(|seen| seen.contains(key)) {
            return true;
        }
        let Ok(mut seen) = self.seen.write() else {
            return false;
        };
        if seen.len() < self.max {
            seen.insert(key.clone());
            return true;
        }
        let known = seen.contains(key);
        if !known {
            self.dropped.increment(1);
        }
        known
    }
}

impl<R: Recorder> Recorder for Bounded<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description)
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description)
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description)
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        if self.admits(key) {
            self.inner.register_counter(key, metadata)
        } else {
            Counter::noop()
        }
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        if self.admits(key) {
            self.inner.register_gauge(key, metadata)
        } else {
            Gauge::noop()
        }
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        if self.admits(key) {
            self.inner.register_histogram(key, metadata)
        } else {
            Histogram::noop()
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    #[test]
    fn past_its_bound_the_recorder_keeps_what_it_has_and_counts_what_it_drops() {
        let prometheus = PrometheusBuilder::new().build_recorder();
        let handle = prometheus.handle();
        let bounded = Bounded::new(prometheus, 3);
        metrics::with_local_recorder(&bounded, || {
            for i in 0..1_000 {
                metrics::counter!("made_up", "value" => format!("v{i}")).increment(1);
            }
            // A series it kept goes on counting.
            metrics::counter!("made_up", "value" => "v0").increment(1);
        });
        let text = handle.render();
        let kept = text.lines().filter(|l| l.starts_with("made_up{")).count();
        assert_eq!(kept, 3, "{text}");
        assert!(text.contains("made_up{value=\"v0\"} 2"), "{text}");
        assert!(
            text.contains("portal_metrics_series_dropped_total 997"),
            "{text}"
        );
    }
}
