//! Every call to Stripe, through async-stripe: the customer of a tenant, the
//! Checkout Session of an upgrade, the Customer Portal session of "Manage
//! billing". The domain decides whether to call; this module only calls.

use std::collections::HashMap;

use stripe::{
    BillingPortalSession, CheckoutSession, CheckoutSessionMode, Client, CreateBillingPortalSession,
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
    CreateCustomer, Customer, CustomerId, StripeError,
};

use app::domain::billing::BillingAccount;

/// How the portal reaches Stripe (or its local test double).
#[derive(Clone)]
pub struct Stripe {
    pub client: Client,
    pub pro_price_id: String,
    pub webhook_secret: String,
    /// Talking to the local test double, not to Stripe.
    pub test_mode: bool,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("pro_price_id", &self.pro_price_id)
            .field("test_mode", &self.test_mode)
            .finish_non_exhaustive()
    }
}

/// A Stripe failure worth telling the admin about, logged with what Stripe
/// said (async-stripe 0.41 does not expose the Request-Id header).
#[derive(Debug, thiserror::Error)]
#[error("Stripe could not be reached or refused the request; nothing was changed. Try again in a moment.")]
pub struct StripeUnavailable;

fn log(what: &str, e: &StripeError) {
    match e {
        StripeError::Stripe(r) => tracing::error!(
            call = what,
            http_status = r.http_status,
            error_type = ?r.error_type,
            code = ?r.code,
            message = r.message.as_deref().unwrap_or(""),
            "Stripe refused the request"
        ),
        other => tracing::error!(call = what, error = %other, "Stripe call failed"),
    }
}

fn tenant_metadata(tenant_id: &str) -> HashMap<String, String> {
    HashMap::from([("tenant_id".to_owned(), tenant_id.to_owned())])
}

/// The tenant's Stripe customer id, creating the customer the first time.
pub async fn customer_of(
    stripe: &Stripe,
    account: &BillingAccount,
    email: &str,
) -> Result<(CustomerId, bool), StripeUnavailable> {
    if let Some(id) = account
        .stripe_customer_id
        .as_deref()
        .and_then(|id| id.parse().ok())
    {
        return Ok((id, false));
    }
    let mut params = CreateCustomer::new();
    params.email = Some(email);
    params.name = Some(&account.tenant_name);
    params.metadata = Some(tenant_metadata(&account.tenant_id));
    Customer::create(&stripe.client, params)
        .await
        .map(|c| (c.id, true))
        .map_err(|e| {
            log("create customer", &e);
            StripeUnavailable
        })
}

/// A subscription-mode Checkout Session for the Pro price; its URL.
pub async fn checkout_url(
    stripe: &Stripe,
    customer: CustomerId,
    tenant_id: &str,
    return_to: &str,
) -> Result<String, StripeUnavailable> {
    let success = format!("{return_to}?checkout=success");
    let cancel = format!("{return_to}?checkout=cancel");
    let mut params = CreateCheckoutSession::new();
    params.mode = Some(CheckoutSessionMode::Subscription);
    params.customer = Some(customer);
    params.client_reference_id = Some(tenant_id);
    params.metadata = Some(tenant_metadata(tenant_id));
    params.subscription_data = Some(CreateCheckoutSessionSubscriptionData {
        metadata: Some(tenant_metadata(tenant_id)),
        ..Default::default()
    });
    params.line_items = Some(vec![CreateCheckoutSessionLineItems {
        price: Some(stripe.pro_price_id.clone()),
        quantity: Some(1),
        ..Default::default()
    }]);
    params.success_url = Some(&success);
    params.cancel_url = Some(&cancel);
    let session = CheckoutSession::create(&stripe.client, params)
        .await
        .map_err(|e| {
            log("create checkout session", &e);
            StripeUnavailable
        })?;
    session.url.ok_or_else(|| {
        tracing::error!(session = %session.id, "Stripe returned a Checkout Session without a URL");
        StripeUnavailable
    })
}

/// A Customer Portal session (invoices, card, cancel); its URL.
pub async fn portal_url(
    stripe: &Stripe,
    customer: CustomerId,
    return_to: &str,
) -> Result<String, StripeUnavailable> {
    let mut params = CreateBillingPortalSession::new(customer);
    params.return_url = Some(return_to);
    BillingPortalSession::create(&stripe.client, params)
        .await
        .map(|s| s.url)
        .map_err(|e| {
            log("create billing portal session", &e);
            StripeUnavailable
        })
}

impl From<StripeUnavailable> for app::domain::Problem {
    fn from(e: StripeUnavailable) -> Self {
        app::domain::Problem::new(
            http::StatusCode::BAD_GATEWAY,
            "stripe_unavailable",
            e.to_string(),
        )
    }
}
