//! A real SMTP server for the tests (mailin-embedded on a loopback port):
//! the portal's delivery task talks SMTP to it exactly as to any server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::{Handler, Response, Server, SslConfig};

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    /// The message as sent, decoded from quoted-printable.
    pub text: String,
}

impl Mail {
    pub fn subject(&self) -> String {
        self.text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_owned()
    }

    /// The token of the first link to `path` (e.g. `/verify-email`).
    pub fn token(&self, path: &str) -> String {
        let at = self
            .text
            .find(&format!("{path}?token="))
            .unwrap_or_else(|| panic!("no {path} link in {}", self.text));
        self.text[at + path.len() + 7..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

#[derive(Clone, Default)]
struct Collector {
    inbox: Arc<Mutex<Vec<Mail>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let raw = String::from_utf8_lossy(&self.data).into_owned();
        self.inbox.lock().unwrap().push(Mail {
            to: std::mem::take(&mut self.to),
            text: decode_quoted_printable(&raw),
        });
        mailin_embedded::response::OK
    }
}

fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The SMTP server and what it received.
#[derive(Clone)]
pub struct MailCatcher {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Mail>>>,
}

impl MailCatcher {
    /// Listens on a free loopback port.
    pub fn start() -> MailCatcher {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// Listens on `listener` (to come up on a port the portal already uses).
    pub fn start_on(listener: std::net::TcpListener) -> MailCatcher {
        let port = listener.local_addr().unwrap().port();
        let collector = Collector::default();
        let inbox = collector.inbox.clone();
        let mut server = Server::new(collector);
        server
            .with_name("tests.example")
            .with_ssl(SslConfig::None)
            .unwrap()
            .with_num_threads(1)
            .with_tcp_listener(listener);
        // Serves for the rest of the test process (the crate has no stop).
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        MailCatcher { port, inbox }
    }

    pub fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message to `to` so far.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        self.inbox
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .cloned()
            .collect()
    }

    /// Waits (up to 15 s) until `n` messages to `to` have arrived.
    pub async fn wait_for(&self, to: &str, n: usize) -> Vec<Mail> {
        for _ in 0..150 {
            let mails = self.to(to);
            if mails.len() >= n {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{n} message(s) to {to} did not arrive; got {:?}",
            self.to(to)
        );
    }

    /// The newest message to `to`, waiting for the `n`th.
    pub async fn nth(&self, to: &str, n: usize) -> Mail {
        self.wait_for(to, n).await[n - 1].clone()
    }
}
