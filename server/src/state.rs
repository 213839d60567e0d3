use std::ops::Deref;
use std::sync::Arc;

use app::domain::Services;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::config::Config;

/// Everything a request handler may need, cheap to clone: the portal's
/// [`Services`] (shared with the pages and server functions, and reachable
/// through `Deref`: `state.db`, `state.clock`, ...) plus what only the HTTP
/// server has.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub stripe: Arc<crate::billing::stripe_api::Stripe>,
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
}

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl AppState {
    /// Context every page render and server-function call gets.
    pub fn page_context(&self) -> impl Fn() + Clone + Send + Sync + 'static {
        let services = self.services.clone();
        move || {
            leptos::prelude::provide_context(services.clone());
            if let Some(demo) = &services.demo {
                leptos::prelude::provide_context(demo.clone());
            }
        }
    }

    /// The `iss` of our tokens: the portal's public base URL.
    pub fn issuer(&self) -> &str {
        &self.services.public_url
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
