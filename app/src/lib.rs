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

/// The content security policy of every answer: scripts only from the
/// portal itself and, on a page, the inline ones Leptos wrote with this
/// response's `nonce`; never `'unsafe-inline'`, so a script someone managed
/// to inject into a page does not run.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    const BEFORE: &str = "default-src 'self'; img-src 'self' data:; \
        style-src 'self' 'unsafe-inline'; script-src 'self'";
    const AFTER: &str = " 'wasm-unsafe-eval'; connect-src 'self'; \
        frame-ancestors 'none'; base-uri 'self'; object-src 'none'";
    // Built by hand: every page pays for it, and `format!` costs twice this.
    let mut policy = String::with_capacity(BEFORE.len() + AFTER.len() + 40);
    policy.push_str(BEFORE);
    if let Some(nonce) = nonce {
        policy.push_str(" 'nonce-");
        policy.push_str(nonce);
        policy.push('\'');
    }
    policy.push_str(AFTER);
    policy
}

/// A page's policy names its own nonce (which leptos_axum draws for each
/// response and writes on the inline scripts it adds).
#[cfg(feature = "ssr")]
fn strict_scripts() {
    let policy = content_security_policy(leptos::nonce::use_nonce().as_deref());
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&policy),
    ) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
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
    #[cfg(feature = "ssr")]
    strict_scripts();
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
