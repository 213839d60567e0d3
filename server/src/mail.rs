//! Delivery of the outbox (`app::domain::outbox`) over SMTP, in the
//! background: requests never wait for a mail server. Every few seconds the
//! task claims what is due, sends it and records the outcome; a failure is
//! retried with backoff, logged, and shown by `portal mail status`.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use app::domain::clock::SharedClock;
use app::domain::outbox::{self, Outbox, Queued};
use app::domain::Db;

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// The SMTP transport `SMTP_URL` describes.
pub fn transport(url: &str) -> anyhow::Result<Transport> {
    Ok(Transport::from_url(url)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .timeout(Some(Duration::from_secs(20)))
        .build())
}

/// How often the outbox is looked at.
pub const POLL: Duration = Duration::from_secs(1);

pub fn spawn_delivery(
    db: Db,
    outbox: Outbox,
    clock: SharedClock,
    smtp_url: Option<String>,
    from: String,
) {
    let Some(url) = smtp_url else {
        tracing::warn!("SMTP_URL is not set: mail stays in the outbox (portal mail status)");
        return;
    };
    let (transport, from) = match (transport(&url), from.parse::<Mailbox>()) {
        (Ok(t), Ok(f)) => (t, f),
        (Err(e), _) => return tracing::error!(error = %e, "SMTP_URL is invalid: no mail is sent"),
        (_, Err(e)) => return tracing::error!(error = %e, "MAIL_FROM is invalid: no mail is sent"),
    };
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(POLL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(e) = deliver_due(&db, &outbox, &transport, &from, clock.now()).await {
                tracing::warn!(error = %e, "could not read the mail outbox");
            }
        }
    });
}

/// One round: sends every due message (a batch at a time).
pub async fn deliver_due(
    db: &Db,
    outbox: &Outbox,
    transport: &Transport,
    from: &Mailbox,
    now: i64,
) -> app::domain::Result<()> {
    loop {
        let batch = outbox.claim_due(db, now, 20).await?;
        if batch.is_empty() {
            return Ok(());
        }
        for message in batch {
            let outcome = send(transport, from, &message).await;
            match outcome {
                Ok(()) => {
                    outbox::mark_sent(db, &message.id, now).await?;
                    metrics::counter!("portal_mail_total", "outcome" => "sent").increment(1);
                }
                Err(Failure { error, permanent }) => {
                    let message = if permanent {
                        Queued {
                            attempts: outbox::MAX_ATTEMPTS,
                            ..message
                        }
                    } else {
                        message
                    };
                    let gave_up = outbox::mark_failed(db, &message, &error, now).await?;
                    let outcome = if gave_up { "given_up" } else { "retrying" };
                    metrics::counter!("portal_mail_total", "outcome" => outcome).increment(1);
                    if gave_up {
                        tracing::error!(outbox_id = %message.id, attempts = message.attempts, %error,
                            "gave up sending a message");
                    } else {
                        tracing::warn!(outbox_id = %message.id, attempts = message.attempts, %error,
                            retry_in_secs = outbox::backoff_secs(message.attempts),
                            "could not send a message; will retry");
                    }
                }
            }
        }
    }
}

struct Failure {
    error: String,
    /// Retrying cannot help (a malformed address, a refused recipient).
    permanent: bool,
}

async fn send(transport: &Transport, from: &Mailbox, m: &Queued) -> Result<(), Failure> {
    let permanent = |error: String| Failure {
        error,
        permanent: true,
    };
    let to: Mailbox = m
        .recipient
        .parse()
        .map_err(|e| permanent(format!("recipient: {e}")))?;
    let email = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(m.subject.clone())
        // Stable per outbox row: a receiver can tell a repeat of a message
        // whose acknowledgement was lost from a new one.
        .message_id(Some(format!("<{}@agent-id-portal>", m.id)))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(m.text_body.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(m.html_body.clone()),
                ),
        )
        .map_err(|e| permanent(format!("building the message: {e}")))?;
    transport
        .send(email)
        .await
        .map(|_| ())
        .map_err(|e| Failure {
            permanent: e.is_permanent(),
            error: e.to_string(),
        })
}
