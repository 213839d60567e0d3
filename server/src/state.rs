use std::ops::Deref;
use std::sync::Arc;

use app::domain::Services;
use app::model::assets::AssetUrls;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::config::Config;

/// Everything a request handler may need: the portal's [`Services`] (shared
/// with the pages and server functions, and reachable through `Deref`:
/// `state.db`, `state.clock`, ...) plus what only the HTTP server has.
///
/// One reference count to clone: axum clones the state for every layer and
/// handler a request passes.
#[derive(Clone)]
pub struct AppState(Arc<AppStateParts>);

pub struct AppStateParts {
    pub services: Services,
    pub stripe: Arc<crate::billing::stripe_api::Stripe>,
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
    /// The built assets pages link, under this build's version.
    pub assets: AssetUrls,
}

impl Deref for AppState {
    type Target = AppStateParts;
    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

impl Deref for AppStateParts {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl AppState {
    pub fn new(parts: AppStateParts) -> Self {
        Self(Arc::new(parts))
    }

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
