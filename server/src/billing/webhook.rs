//! Stripe webhooks: the signature is checked against the raw body, then the
//! event is read as far as billing needs (one mapping per event type) and
//! handed to `domain::billing::apply_event`.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use app::domain::billing::{BillingChange, BillingEvent};

/// Stripe's default: a signature older (or newer) than this is refused.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("missing Stripe-Signature header")]
    Missing,
    #[error("malformed Stripe-Signature header")]
    Malformed,
    #[error("signature timestamp outside the {TOLERANCE_SECONDS} s tolerance")]
    Stale,
    #[error("no signature matches the payload")]
    Mismatch,
}

/// `Stripe-Signature: t=<unix>,v1=<hex hmac-sha256("t.body")>[,v1=...]`
pub fn verify(
    payload: &[u8],
    header: Option<&str>,
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.push(s.to_owned()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    for signature in signatures {
        let Some(expected) = decode_hex(&signature) else {
            continue;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|_| SignatureError::Malformed)?;
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        // Constant-time comparison.
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// The header value Stripe would send for `payload` at `timestamp` (the test
/// double signs with it, tests too).
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// What an event means for billing; `None` when the JSON is not an event.
/// `pro_price`: the configured Pro price, the only one that makes Pro.
pub fn read_event(event: &Value, pro_price: &str) -> Option<BillingEvent> {
    let id = text(event, "/id")?;
    let kind = text(event, "/type")?;
    let created = event.get("created").and_then(Value::as_i64)?;
    let object = event.pointer("/data/object")?;
    let metadata_tenant = text(object, "/metadata/tenant_id");
    let customer = text(object, "/customer");
    let subscription_mode = text(object, "/mode").as_deref() == Some("subscription");
    let (tenant_id, change) = match kind.as_str() {
        // Paid (or nothing to pay) at once; a delayed payment method
        // upgrades when `async_payment_succeeded` says the money arrived.
        "checkout.session.completed" => (
            text(object, "/client_reference_id").or(metadata_tenant),
            match text(object, "/payment_status").as_deref() {
                Some("paid" | "no_payment_required") if subscription_mode => {
                    BillingChange::SubscribedToPro
                }
                _ => BillingChange::Nothing,
            },
        ),
        "checkout.session.async_payment_succeeded" => (
            text(object, "/client_reference_id").or(metadata_tenant),
            if subscription_mode {
                BillingChange::SubscribedToPro
            } else {
                BillingChange::Nothing
            },
        ),
        "customer.subscription.created" | "customer.subscription.updated" => (
            metadata_tenant,
            match text(object, "/status").as_deref() {
                Some("active" | "trialing") if has_price(object, pro_price) => {
                    BillingChange::SubscribedToPro
                }
                // Still Pro while Stripe retries; the banner asks for a card.
                Some("past_due") => BillingChange::PaymentFailed,
                Some("canceled" | "unpaid" | "incomplete_expired") => {
                    BillingChange::SubscriptionEnded
                }
                // Cancellation at period end keeps Pro until the
                // subscription is deleted at the end of the period.
                _ => BillingChange::Nothing,
            },
        ),
        "customer.subscription.deleted" => (metadata_tenant, BillingChange::SubscriptionEnded),
        "invoice.payment_failed" => (
            metadata_tenant.or_else(|| text(object, "/subscription_details/metadata/tenant_id")),
            BillingChange::PaymentFailed,
        ),
        "invoice.paid" | "invoice.payment_succeeded" => (
            metadata_tenant.or_else(|| text(object, "/subscription_details/metadata/tenant_id")),
            BillingChange::PaymentSucceeded,
        ),
        _ => (None, BillingChange::Nothing),
    };
    Some(BillingEvent {
        id,
        from_checkout: kind.starts_with("checkout.session."),
        kind,
        created,
        tenant_id,
        customer_id: customer,
        change,
    })
}

/// Whether a subscription's items include `price` (an item's price may be
/// an id or an expanded object).
fn has_price(subscription: &Value, price: &str) -> bool {
    subscription
        .pointer("/items/data")
        .and_then(Value::as_array)
        .is_some_and(|items| {
            items.iter().any(|item| {
                text(item, "/price/id")
                    .or_else(|| text(item, "/price"))
                    .as_deref()
                    == Some(price)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn a_signature_verifies_only_for_its_body_secret_and_time() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, SECRET, 1_000);
        assert_eq!(verify(body, Some(&header), SECRET, 1_000), Ok(()));
        assert_eq!(verify(body, Some(&header), SECRET, 1_300), Ok(()));
        assert_eq!(
            verify(body, Some(&header), SECRET, 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(b"{}", Some(&header), SECRET, 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(body, Some(&header), "whsec_other", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(body, None, SECRET, 1_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(body, Some("v1=abc"), SECRET, 1_000),
            Err(SignatureError::Malformed)
        );
        // Several v1 signatures (a rolled secret): one match is enough.
        let two = format!("{header},v1=00ff");
        assert_eq!(verify(body, Some(&two), SECRET, 1_000), Ok(()));
    }

    #[test]
    fn events_map_to_billing_changes() {
        let completed = serde_json::json!({
            "id": "evt_1", "type": "checkout.session.completed", "created": 10,
            "data": {"object": {"mode": "subscription", "payment_status": "paid", "client_reference_id": "t1", "customer": "cus_1"}}
        });
        let e = read_event(&completed, "price_pro").unwrap();
        assert_eq!(e.tenant_id.as_deref(), Some("t1"));
        assert_eq!(e.change, BillingChange::SubscribedToPro);
        let at_period_end = serde_json::json!({
            "id": "evt_2", "type": "customer.subscription.updated", "created": 11,
            "data": {"object": {"status": "active", "cancel_at_period_end": true, "metadata": {"tenant_id": "t1"},
                                "items": {"data": [{"price": {"id": "price_pro"}}]}}}
        });
        assert_eq!(
            read_event(&at_period_end, "price_pro").unwrap().change,
            BillingChange::SubscribedToPro
        );
        let unknown = serde_json::json!({"id": "evt_3", "type": "charge.refunded", "created": 12, "data": {"object": {}}});
        assert_eq!(
            read_event(&unknown, "price_pro").unwrap().change,
            BillingChange::Nothing
        );
        assert!(read_event(&serde_json::json!({"hello": "world"}), "price_pro").is_none());
        // Unpaid checkouts and other prices do not make Pro.
        let mut unpaid = completed.clone();
        unpaid["data"]["object"]["payment_status"] = serde_json::json!("unpaid");
        assert_eq!(
            read_event(&unpaid, "price_pro").unwrap().change,
            BillingChange::Nothing
        );
        assert_eq!(
            read_event(&at_period_end, "price_other").unwrap().change,
            BillingChange::Nothing
        );
    }
}
