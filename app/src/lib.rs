#![recursion_limit = "256"]
//! The portal's pages, components and server functions, compiled twice:
//! with `ssr` for the server and with `hydrate` for the browser's islands.

pub mod components;
pub mod model;
pub mod pages;
pub mod server_fns;
pub mod session;

#[cfg(feature = "ssr")]
pub mod domain;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

pub const PRODUCT_NAME: &str = "Agent ID Portal";

/// The HTML document around every page, for leptos_axum's handlers that
/// pass the options (error pages: their assets unversioned).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    document(model::assets::AssetUrls::unversioned(&stylesheet_href(
        &options,
    )))
}

/// Where the portal's stylesheet is served.
pub fn stylesheet_href(options: &LeptosOptions) -> String {
    format!("/{}/{}.css", options.site_pkg_dir, options.output_name)
}

/// The HTML document around every page, linking the built `assets` (worked
/// out once at start-up, not from the options per render). The page's
/// islands, if any, find their loader in context.
pub fn document(assets: model::assets::AssetUrls) -> impl IntoView {
    let (css, icon) = (assets.stylesheet.clone(), assets.favicon.clone());
    provide_context(assets);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="stylesheet" href=css />
                <link rel="icon" type="image/svg+xml" href=icon />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|page: String| format!("{page} · {PRODUCT_NAME}") />
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async />
                <Route
                    path=path!("/analytics")
                    view=pages::analytics::AnalyticsPage
                    ssr=SsrMode::Async
                />
                <Route path=path!("/agents") view=pages::agents::AgentsPage ssr=SsrMode::Async />
                <Route
                    path=path!("/agents/:id")
                    view=pages::agent_detail::AgentDetailPage
                    ssr=SsrMode::Async
                />
                <Route path=path!("/settings/tier") view=pages::tier::TierPage ssr=SsrMode::Async />
                <Route
                    path=path!("/settings/team")
                    view=pages::settings::team::TeamPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/settings/audit")
                    view=pages::settings::audit::AuditPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/settings/account")
                    view=pages::settings::account::AccountPage
                    ssr=SsrMode::Async
                />
                <Route path=path!("/signup") view=pages::signup::SignUpPage ssr=SsrMode::Async />
                <Route
                    path=path!("/verify-email")
                    view=pages::email_links::VerifyEmailPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/forgot-password")
                    view=pages::email_links::ForgotPasswordPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/reset-password")
                    view=pages::email_links::ResetPasswordPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/invitation")
                    view=pages::email_links::InvitationPage
                    ssr=SsrMode::Async
                />
            </Routes>
        </Router>
    }
}
