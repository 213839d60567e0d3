//! The one configuration struct, read from the command line and the environment.
//! `portal --help` lists every variable.

use std::net::SocketAddr;

use app::domain::keys::MasterKey;
use app::domain::sqlite_reader::sqlite_path;
use clap::builder::BoolishValueParser;
use clap::Args;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The header the trusted proxies append the client's address to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientIpHeader {
    /// `X-Forwarded-For: client, proxy1`
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239)
    Forwarded,
}

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

    /// The one header the trusted proxies append the client's address to
    /// (required with TRUSTED_PROXIES); the other is never read: a client
    /// could send it unchallenged.
    #[arg(long, env = "CLIENT_IP_HEADER", value_enum, global = true)]
    pub client_ip_header: Option<ClientIpHeader>,

    /// The master key that seals the server's signing keys at rest (32 bytes,
    /// base64). Every instance on one database needs the same one.
    #[arg(long, env = "PORTAL_MASTER_KEY", hide_env_values = true, global = true)]
    pub master_key: Option<String>,

    /// File holding the master key; created (mode 0600) when missing
    /// [default: portal.key beside a SQLite database; PostgreSQL needs
    /// PORTAL_MASTER_KEY or this].
    #[arg(long, env = "PORTAL_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<std::path::PathBuf>,

    /// How often each instance reloads the signing keys (a rotation or
    /// retirement made elsewhere is in use here within this time).
    #[arg(
        long,
        env = "KEYS_REFRESH_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub keys_refresh_seconds: u64,

    /// Where Prometheus scrapes `GET /metrics` (e.g. 127.0.0.1:9100); off
    /// when unset, and never on the public address.
    #[arg(long, env = "METRICS_ADDR", global = true)]
    pub metrics_addr: Option<SocketAddr>,

    /// Log lines as JSON objects (one per line, for log shippers) or text
    /// (colours only on a terminal).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

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

    /// Outgoing mail server: smtp://HOST:PORT (plain, e.g. a local catcher),
    /// smtp://USER:PASS@HOST:587?tls=required (STARTTLS) or smtps://HOST
    /// (TLS). Unset: mail waits in the outbox (see `portal mail status`).
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// The From of the portal's mail [default: Agent ID Portal <portal@HOST of PUBLIC_URL>].
    #[arg(long, env = "MAIL_FROM", global = true)]
    pub mail_from: Option<String>,

    /// Whether anyone may create a tenant at /signup (`open`) or only
    /// operators, with the CLI (`closed`: the page answers 404).
    #[arg(long, env = "SIGNUP", value_enum, default_value_t = Signup::Open, global = true)]
    pub signup: Signup,

    /// Days the audit trail keeps its entries; older ones are deleted daily.
    #[arg(
        long,
        env = "AUDIT_RETENTION_DAYS",
        default_value_t = 400,
        global = true
    )]
    pub audit_retention_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Signup {
    Open,
    Closed,
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
            client_ip_header: None,
            token_audience: None,
            master_key: None,
            keys_refresh_seconds: 30,
            log_format: LogFormat::Text,
            metrics_addr: None,
            master_key_file: None,
            stripe_secret_key: None,
            stripe_pro_price_id: None,
            stripe_webhook_secret: None,
            stripe_api_base: None,
            stripe_test_double_port: 0,
            smtp_url: None,
            mail_from: None,
            signup: Signup::Open,
            audit_retention_days: 400,
        }
    }

    /// The From header of outgoing mail.
    pub fn mail_from(&self) -> String {
        self.mail_from.clone().unwrap_or_else(|| {
            let url = self.public_url();
            let host = url
                .split_once("://")
                .map_or(url.as_str(), |(_, rest)| rest)
                .split(['/', ':'])
                .next()
                .filter(|h| h.contains('.') && !h.starts_with('['))
                .unwrap_or("localhost");
            format!("{} <portal@{host}>", app::PRODUCT_NAME)
        })
    }

    pub fn token_audience(&self) -> String {
        self.token_audience
            .clone()
            .unwrap_or_else(|| self.public_url())
    }

    /// The master key: `PORTAL_MASTER_KEY`, else the key file (created with
    /// a new key, readable by the owner only, on first start).
    pub fn master_key(&self) -> anyhow::Result<MasterKey> {
        if let Some(text) = &self.master_key {
            return MasterKey::parse(text).map_err(|e| anyhow::anyhow!("PORTAL_MASTER_KEY: {e}"));
        }
        let path = match (&self.master_key_file, sqlite_path(&self.database_url)) {
            (Some(path), _) => path.clone(),
            (None, Some(db)) => db.with_file_name("portal.key"),
            (None, None) => anyhow::bail!(
                "set PORTAL_MASTER_KEY (or PORTAL_MASTER_KEY_FILE): with PostgreSQL every \
                 instance must seal and open the server keys with the same master key"
            ),
        };
        read_or_create_key_file(&path)
    }

    /// Every problem with the configuration, one line each; `serving` adds
    /// what only `portal serve` needs.
    pub fn problems(&self, serving: bool) -> Vec<String> {
        let mut problems = Vec::new();
        let postgres = match app::domain::db::Backend::of_database_url(&self.database_url) {
            Ok(backend) => backend == app::domain::db::Backend::Postgres,
            Err(problem) => {
                problems.push(problem);
                false
            }
        };
        if let Some(key) = &self.master_key {
            if let Err(e) = MasterKey::parse(key) {
                problems.push(format!("PORTAL_MASTER_KEY: {e}"));
            }
        } else if postgres && self.master_key_file.is_none() {
            problems.push(
                "PostgreSQL needs PORTAL_MASTER_KEY (or PORTAL_MASTER_KEY_FILE), the same on every instance"
                    .into(),
            );
        }
        if !serving {
            return problems;
        }
        // Guessing would be wrong one way or the other: the header the
        // proxies do not write is the client's to fill in.
        if !self.trusted_proxies.is_empty() && self.client_ip_header.is_none() {
            problems.push(
                "TRUSTED_PROXIES needs CLIENT_IP_HEADER: the header those proxies append the \
                 client's address to (x-forwarded-for or forwarded)"
                    .into(),
            );
        }
        if let Some(url) = &self.public_url {
            let parsed = url.parse::<axum::http::Uri>().ok();
            let ok = parsed.as_ref().is_some_and(|u| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
            });
            if !ok {
                problems.push(format!(
                    "PUBLIC_URL {url:?} must be an absolute http:// or https:// URL"
                ));
            }
        }
        let root = std::path::Path::new(&self.site_root);
        if root.exists() && std::fs::read_dir(root).is_err() {
            problems.push(format!(
                "LEPTOS_SITE_ROOT {:?} is not a readable folder",
                self.site_root
            ));
        }
        if let Err(e) = self.mail_from().parse::<lettre::message::Mailbox>() {
            problems.push(format!("MAIL_FROM {:?}: {e}", self.mail_from()));
        }
        if let Some(url) = &self.smtp_url {
            if let Err(e) = crate::mail::transport(url) {
                problems.push(format!("SMTP_URL: {e}"));
            }
        }
        if self.audit_retention_days == 0 {
            problems.push("AUDIT_RETENTION_DAYS must be at least 1".into());
        }
        if self.session_idle_minutes == 0 {
            problems.push("SESSION_IDLE_MINUTES must be at least 1".into());
        }
        if self.keys_refresh_seconds == 0 {
            problems.push("KEYS_REFRESH_SECONDS must be at least 1".into());
        }
        if self
            .token_audience
            .as_deref()
            .is_some_and(|a| a.trim().is_empty())
        {
            problems.push("TOKEN_AUDIENCE must not be empty".into());
        }
        let stripe = [
            ("STRIPE_SECRET_KEY", self.stripe_secret_key.is_some()),
            ("STRIPE_PRO_PRICE_ID", self.stripe_pro_price_id.is_some()),
            (
                "STRIPE_WEBHOOK_SECRET",
                self.stripe_webhook_secret.is_some(),
            ),
        ];
        if self.stripe_secret_key.is_some() {
            for (name, set) in &stripe[1..] {
                if !set {
                    problems.push(format!("STRIPE_SECRET_KEY is set but {name} is not"));
                }
            }
        }
        problems
    }

    /// Whether `PUBLIC_URL` names this machine only (127.0.0.0/8, ::1,
    /// localhost).
    pub fn public_url_is_loopback(&self) -> bool {
        let url = self.public_url();
        let host = url
            .split_once("://")
            .map_or(url.as_str(), |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.split(']').next())
            .unwrap_or_else(|| host.rsplit_once(':').map_or(host, |(h, _)| h));
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
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

fn read_or_create_key_file(path: &std::path::Path) -> anyhow::Result<MasterKey> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::read_to_string(path) {
        Ok(text) => MasterKey::parse(&text)
            .map_err(|e| anyhow::anyhow!("master key file {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let key = MasterKey::generate();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
            writeln!(file, "{}", key.to_base64())?;
            tracing::warn!(
                path = %path.display(),
                "created a new master key: back it up with the database; without it the \
                 server keys cannot be opened"
            );
            Ok(key)
        }
        Err(e) => anyhow::bail!("cannot read the master key file {}: {e}", path.display()),
    }
}
