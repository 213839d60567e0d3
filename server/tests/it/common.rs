use std::sync::Arc;

use app::domain::agents::ClientCache;
use app::domain::clock::ManualClock;
use app::domain::metering::{self, Counts, PastUsage};
use app::domain::tenants::{self, NewTenant};
use app::domain::{members, Clock, Db};
use app::model::{Role, Tier};
use server::config::Config;

pub use crate::mail_catcher::MailCatcher;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database of one backend.
pub struct TestDb {
    pub url: String,
    _dir: tempfile::TempDir,
}

impl TestDb {
    /// `None` when PostgreSQL is not available and not required (plain
    /// `cargo test` outside `make test`).
    pub async fn start(backend: Backend) -> Option<TestDb> {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}/portal.db", dir.path().display()),
            Backend::Postgres => {
                let Ok(admin) = std::env::var("PORTAL_TEST_PG_URL") else {
                    assert!(
                        std::env::var_os("PORTAL_TEST_REQUIRE_PG").is_none(),
                        "PORTAL_TEST_REQUIRE_PG is set but PORTAL_TEST_PG_URL is not"
                    );
                    eprintln!("PostgreSQL tests skipped: run them with scripts/with-postgres.sh");
                    return None;
                };
                let name = format!("portal_{}", uuid::Uuid::new_v4().simple());
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to test cluster");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create database");
                let base = admin.rsplit_once('/').expect("url has a database").0;
                format!("{base}/{name}")
            }
        };
        Some(TestDb { url, _dir: dir })
    }

    /// Where this database's master key lives (created on first start).
    pub fn key_file(&self) -> String {
        self._dir.path().join("portal.key").display().to_string()
    }
}

/// The portal running on a random loopback port, with a clock the test moves.
pub struct TestApp {
    runtime: Option<tokio::runtime::Runtime>,
    pub base: String,
    pub db: Db,
    /// The server's cache of authenticated agents, for changing agents as
    /// the running instance would.
    pub clients: Arc<ClientCache>,
    /// The server's keys, to register agents as it would.
    pub keys: Arc<app::domain::keys::Keyring>,
    /// The server's usage meter, to wait until what it counted is written.
    pub meter: app::domain::metering::Meter,
    pub clock: Arc<ManualClock>,
    /// What Stripe (here: the test double) signs webhooks with.
    pub stripe_webhook_secret: String,
    /// The SMTP server the portal sends its mail to.
    pub mail: MailCatcher,
    /// Where the portal serves `/metrics`, when configured to.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Keeps the temp dir of a SQLite database alive (taken by `stop`).
    database: Option<TestDb>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl TestApp {
    /// Where this portal's master key is kept.
    pub fn key_file(&self) -> String {
        self.test_db().key_file()
    }

    pub fn test_db(&self) -> &TestDb {
        self.database
            .as_ref()
            .expect("the database of a running app")
    }

    /// The same database as another instance (or the CLI) sees it: its own
    /// pool, and none of this instance's caches.
    pub async fn other_instance_db(&self) -> Db {
        Db::connect(&self.test_db().url).await.unwrap()
    }

    /// Stops the portal (as a killed process stops: its tasks end where
    /// they are) and hands back its database, for a restart.
    pub fn stop(mut self) -> TestDb {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        self.database.take().expect("the database of a running app")
    }
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub async fn start(backend: Backend) -> Option<TestApp> {
        Some(Self::start_on(TestDb::start(backend).await?).await)
    }

    pub async fn start_on(database: TestDb) -> TestApp {
        Self::start_configured(database, |_| {}).await
    }

    /// Like `start_on`, with the configuration changed by `configure`.
    pub async fn start_configured(
        database: TestDb,
        configure: impl FnOnce(&mut Config) + Send + 'static,
    ) -> TestApp {
        let clock = Arc::new(ManualClock::new(
            time::OffsetDateTime::now_utc().unix_timestamp(),
        ));
        let (url, key_file) = (database.url.clone(), database.key_file());
        Self::launch(&url, key_file, clock, Some(database), configure).await
    }

    /// Behind a trusted proxy on loopback that names each client's address
    /// in `X-Forwarded-For`.
    pub async fn start_behind_proxy(database: TestDb) -> TestApp {
        Self::start_configured(database, behind_a_proxy).await
    }

    /// A second portal on this one's database, keys and clock, as another
    /// instance behind the same load balancer (PostgreSQL only: SQLite
    /// serves one instance).
    pub async fn another_instance(
        &self,
        configure: impl FnOnce(&mut Config) + Send + 'static,
    ) -> TestApp {
        let url = self.test_db().url.clone();
        assert!(url.starts_with("postgres"), "one instance per SQLite file");
        Self::launch(&url, self.key_file(), self.clock.clone(), None, configure).await
    }

    async fn launch(
        url: &str,
        key_file: String,
        clock: Arc<ManualClock>,
        database: Option<TestDb>,
        configure: impl FnOnce(&mut Config) + Send + 'static,
    ) -> TestApp {
        let url = url.to_owned();
        let mail = MailCatcher::start();
        let smtp_url = mail.smtp_url();
        let server_clock = clock.clone();
        // The portal runs on a runtime of its own, as in production, not on
        // the test's: the test drives it only through HTTP and the database,
        // and dropping the TestApp stops the server and everything it
        // spawned (and closes its connections).
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-portal")
            .enable_all()
            .build()
            .expect("a runtime for the portal");
        let (base, state) = runtime
            .spawn(async move {
                let mut config = Config {
                    master_key_file: Some(key_file.into()),
                    smtp_url: Some(smtp_url),
                    ..Config::for_database(&url)
                };
                configure(&mut config);
                // Port 0 (the configuration's default): the portal binds a
                // free one and records it.
                let portal = server::startup::build(
                    config,
                    server_clock,
                    None,
                    server::startup::Metering::On,
                )
                .await
                .expect("app builds");
                let state = portal.state.clone();
                tokio::spawn(portal.serve());
                (format!("http://{}", state.config.site_addr), state)
            })
            .await
            .expect("the server runtime runs");
        // The server's own pool: the test acts as part of the same instance.
        let db = state.db.clone();
        TestApp {
            runtime: Some(runtime),
            base,
            db,
            clients: state.clients.clone(),
            keys: state.keys.clone(),
            meter: state.meter.clone(),
            clock,
            stripe_webhook_secret: state.stripe.webhook_secret.clone(),
            mail,
            metrics_addr: state.config.metrics_addr,
            database,
        }
    }

    /// A browser-like client signed in as an existing member.
    pub async fn signed_in_existing(&self, email: &str) -> reqwest::Client {
        let client = self.client();
        let res = self.sign_in(&client, email, PASSWORD, "/analytics").await;
        assert_eq!(
            res.status(),
            reqwest::StatusCode::SEE_OTHER,
            "sign-in of {email}"
        );
        client
    }

    /// A browser-like client signed in as a new member of `tenant`.
    pub async fn signed_in(&self, tenant_id: &str, email: &str, role: Role) -> reqwest::Client {
        self.member(tenant_id, email, role).await;
        let client = self.client();
        let res = self.sign_in(&client, email, PASSWORD, "/analytics").await;
        assert_eq!(
            res.status(),
            reqwest::StatusCode::SEE_OTHER,
            "sign-in of {email}"
        );
        client
    }

    /// A browser-like client: its own cookie jar, redirects not followed,
    /// and the portal's own `Origin` on every request, as a browser sends it
    /// on the portal's form posts.
    pub fn client(&self) -> reqwest::Client {
        let origin = reqwest::header::HeaderValue::from_str(&self.base).unwrap();
        reqwest::Client::builder()
            .default_headers([(reqwest::header::ORIGIN, origin)].into_iter().collect())
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A Prometheus scrape of `/metrics` (the portal configured to serve it).
    pub async fn metrics(&self) -> String {
        let addr = self.metrics_addr.expect("metrics configured");
        http_client()
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn tenant(&self, name: &str, tier: Tier) -> String {
        tenants::create(
            &self.db,
            NewTenant {
                tier,
                ..NewTenant::named(name)
            },
            self.clock.now(),
        )
        .await
        .unwrap()
        .id
    }

    /// Moves the tenant to `zone`, as an operator would through this
    /// instance.
    pub async fn set_time_zone(&self, tenant: &str, zone: &str) {
        tenants::set_time_zone(
            &self.db,
            tenant,
            zone,
            self.clock.now(),
            &app::domain::audit::By::operator(),
        )
        .await
        .unwrap();
    }

    /// Changes an agent's status as an operator would through this
    /// instance (its cache of agents forgets the agent).
    pub async fn set_agent_status(
        &self,
        tenant_id: &str,
        agent_id: &str,
        status: app::model::AgentStatus,
    ) -> app::domain::Result<app::model::Agent> {
        app::domain::agents::set_status(
            &self.db,
            &self.clients,
            tenant_id,
            agent_id,
            status,
            self.clock.now(),
            &app::domain::audit::By::operator(),
        )
        .await
    }

    pub async fn member(&self, tenant_id: &str, email: &str, role: Role) {
        members::add(
            &self.db,
            tenant_id,
            email,
            role,
            PASSWORD.into(),
            self.clock.now(),
        )
        .await
        .unwrap();
    }

    /// Registers an agent; returns (client id, client secret).
    pub async fn agent(&self, tenant_id: &str, capabilities: &str) -> (String, String) {
        let new = app::domain::agents::NewAgent {
            name: "test agent".into(),
            agent_type: "assistant".into(),
            version: "1.0.0".into(),
            capabilities: vec![capabilities.into()],
            owner: "tests".into(),
            environment: "production".into(),
            secret_expires: String::new(),
            resources: String::new(),
        };
        let (agent, secret) = app::domain::agents::create(
            &self.db,
            &self.keys.get(),
            tenant_id,
            new,
            self.clock.now(),
            &app::domain::audit::By::operator(),
        )
        .await
        .unwrap();
        (agent.id, secret.0)
    }

    /// A public JSON document of the portal (JWKS, metadata).
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        http_client()
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `POST /api/v1/token` with HTTP Basic client authentication.
    pub async fn token(
        &self,
        client_id: &str,
        secret: &str,
        scope: Option<&str>,
    ) -> reqwest::Response {
        let scope = scope.map(|s| ("scope", s));
        self.token_with(client_id, secret, scope.as_slice()).await
    }

    /// `POST /api/v1/token` with these form fields beside the grant type.
    pub async fn token_with(
        &self,
        client_id: &str,
        secret: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(fields);
        http_client()
            .post(self.url("/api/v1/token"))
            .basic_auth(client_id, Some(secret))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    pub async fn sign_in(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
        next: &str,
    ) -> reqwest::Response {
        client
            .post(self.url("/login"))
            .form(&[("email", email), ("password", password), ("next", next)])
            .send()
            .await
            .unwrap()
    }
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Runs each named `async fn(Fixture)` once against SQLite and once against
/// PostgreSQL, where the fixture is `TestApp` or `TestDb`.
#[macro_export]
macro_rules! on_both_backends {
    ($fixture:ident => $($case:ident),* $(,)?) => {
        $(
            mod $case {
                use $crate::common::{Backend, $fixture};
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(fixture) = $fixture::start(Backend::Sqlite).await {
                        super::$case(fixture).await
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(fixture) = $fixture::start(Backend::Postgres).await {
                        super::$case(fixture).await
                    }
                }
            }
        )*
    };
}

/// The configuration of a portal behind a trusted proxy on loopback that
/// names each client's address in `X-Forwarded-For`.
pub fn behind_a_proxy(c: &mut Config) {
    c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    c.client_ip_header = Some(server::config::ClientIpHeader::XForwardedFor);
}

/// A plain client (no cookies) that fails a test instead of hanging it.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Counts of one agent for one past hour, written as the demo seeder writes
/// history (no admission).
pub async fn record_past_hour(db: &Db, tenant_id: &str, agent_id: &str, at: i64, counts: Counts) {
    let entry = PastUsage {
        tenant_id: tenant_id.to_owned(),
        agent_id: agent_id.to_owned(),
        at,
        counts,
    };
    metering::record_history(db, std::slice::from_ref(&entry))
        .await
        .unwrap();
}

/// A loopback port that refuses connections for as long as the socket is
/// held: bound but not listening. (A port bound and dropped could be taken
/// by a parallel test's server in between.)
pub fn closed_port() -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
    socket
}

/// `portal serve` (plus `extra` args and `envs`) as a child process on a free port,
/// with its base URL and whether it came up (answered `/healthz`).
///
/// The child binds port 0 and the test reads the port from its log: a port
/// picked here and bound by the child later could be taken by a parallel
/// test's server in between, and the test would then talk to that one.
pub async fn spawn_serve(
    db: &TestDb,
    envs: &[(&str, &str)],
    extra: &[&str],
) -> (std::process::Child, String, bool) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portal"))
        .arg("serve")
        .args(extra)
        .env("DATABASE_URL", &db.url)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("PORTAL_MASTER_KEY_FILE", db.key_file())
        .env("RUST_LOG", "info,sqlx=warn")
        .env("LOG_FORMAT", "text")
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (found, bound) = tokio::sync::oneshot::channel();
    // Reads the log until the listening line, then drains it so the child
    // never blocks on a full pipe.
    std::thread::spawn(move || {
        const LISTENING: &str = "portal listening on http://";
        let mut found = Some(found);
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find(LISTENING) {
                let addr = line[at + LISTENING.len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                if let Some(found) = found.take() {
                    let _ = found.send(addr);
                }
            }
        }
    });
    // Start-up (migrations, the demo seed) takes a few seconds at most.
    let Ok(Ok(addr)) = tokio::time::timeout(std::time::Duration::from_secs(60), bound).await else {
        return (child, String::new(), false);
    };
    let base = format!("http://{addr}");
    let client = http_client();
    for _ in 0..600 {
        if let Ok(res) = client.get(format!("{base}/healthz")).send().await {
            return (child, base, res.status().is_success());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (child, base, false)
}
