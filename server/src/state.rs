use std::sync::Arc;

use app::domain::clock::SharedClock;
use app::domain::keys::ServerKeys;
use app::domain::metering::Meter;
use app::domain::Db;
use app::pages::login::DemoAccounts;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::config::Config;

/// Everything a request handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub stripe: Arc<crate::billing::stripe_api::Stripe>,
    pub db: Db,
    pub clock: SharedClock,
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
    pub demo: Option<DemoAccounts>,
    pub keys: Arc<ServerKeys>,
    pub meter: Meter,
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Context every page render and server-function call gets.
    pub fn page_context(&self) -> impl Fn() + Clone + Send + Sync + 'static {
        let services = app::domain::Services {
            db: self.db.clone(),
            keys: self.keys.clone(),
            meter: self.meter.clone(),
            clock: self.clock.clone(),
            public_url: self.issuer(),
            billing_test_mode: self.stripe.test_mode,
        };
        let demo = self.demo.clone();
        move || {
            leptos::prelude::provide_context(services.clone());
            if let Some(demo) = demo.clone() {
                leptos::prelude::provide_context(demo);
            }
        }
    }

    /// The `iss` of our tokens: the portal's public base URL.
    pub fn issuer(&self) -> String {
        self.config.public_url()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
