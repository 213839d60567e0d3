//! The one configuration struct, read from the command line and the environment.
//! `portal --help` lists every variable.

use std::net::SocketAddr;

use clap::builder::BoolishValueParser;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database: sqlite://PATH (created on start) or postgres://USER@HOST:PORT/DB.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/portal.db",
        global = true
    )]
    pub database_url: String,

    /// Address the web server listens on.
    #[arg(
        long,
        env = "LEPTOS_SITE_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub site_addr: SocketAddr,

    /// Folder with the built CSS, JS and wasm (`cargo leptos build` writes it).
    #[arg(
        long,
        env = "LEPTOS_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: String,

    /// Public base URL of the portal: the `iss` of tokens and the base of
    /// links handed to Stripe [default: http://<site-addr>].
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Mark the session cookie Secure [default: on when PUBLIC_URL is https].
    #[arg(long, env = "SESSION_SECURE", value_parser = BoolishValueParser::new(), global = true)]
    pub session_secure: Option<bool>,

    /// Minutes of inactivity after which a session expires.
    #[arg(
        long,
        env = "SESSION_IDLE_MINUTES",
        default_value_t = 720,
        global = true
    )]
    pub session_idle_minutes: u32,

    /// The `aud` claim of access tokens, which resource servers check
    /// [default: PUBLIC_URL].
    #[arg(long, env = "TOKEN_AUDIENCE", global = true)]
    pub token_audience: Option<String>,

    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers name the client
    /// (comma-separated CIDRs, e.g. `127.0.0.1/32,10.0.0.0/8`). Without it
    /// those headers are ignored and the peer address is the client.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Stripe secret key; unset in demo mode, where the local Stripe test double is used.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true, global = true)]
    pub stripe_secret_key: Option<String>,

    /// Stripe price id of the Pro plan.
    #[arg(long, env = "STRIPE_PRO_PRICE_ID", global = true)]
    pub stripe_pro_price_id: Option<String>,

    /// Signing secret of the Stripe webhook endpoint (whsec_...).
    #[arg(
        long,
        env = "STRIPE_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub stripe_webhook_secret: Option<String>,

    /// Port of the local Stripe test double, started when STRIPE_SECRET_KEY
    /// is unset [default: any free port].
    #[arg(
        long,
        env = "STRIPE_TEST_DOUBLE_PORT",
        default_value_t = 0,
        global = true
    )]
    pub stripe_test_double_port: u16,

    /// Base URL of the Stripe API (for a test double) [default: Stripe's].
    #[arg(long, env = "STRIPE_API_BASE", global = true)]
    pub stripe_api_base: Option<String>,
}

impl Config {
    /// Defaults only; tests start from this and change what they need.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Config {
            database_url: database_url.into(),
            site_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            site_root: "target/site".into(),
            public_url: None,
            session_secure: None,
            session_idle_minutes: 720,
            trusted_proxies: Vec::new(),
            token_audience: None,
            stripe_secret_key: None,
            stripe_pro_price_id: None,
            stripe_webhook_secret: None,
            stripe_api_base: None,
            stripe_test_double_port: 0,
        }
    }

    pub fn token_audience(&self) -> String {
        self.token_audience
            .clone()
            .unwrap_or_else(|| self.public_url())
    }

    /// The usual deployment listens on loopback behind TLS: what browsers
    /// see is `PUBLIC_URL`, so its scheme decides.
    pub fn is_https(&self) -> bool {
        self.public_url().starts_with("https://")
    }

    pub fn session_secure(&self) -> bool {
        self.session_secure.unwrap_or_else(|| self.is_https())
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.site_addr))
            .trim_end_matches('/')
            .to_owned()
    }
}
