//! Billing with Stripe: the calls (async-stripe), the webhook's signature and
//! event mapping, and the local Stripe test double.

pub mod stripe_api;
pub mod test_double;
pub mod webhook;

use stripe::Client;

use crate::config::Config;
use stripe_api::Stripe;

/// Stripe as configured, or (without `STRIPE_SECRET_KEY`) the local test
/// double, started here and pointed at this portal's webhook.
pub async fn connect(config: &Config) -> anyhow::Result<Stripe> {
    match &config.stripe_secret_key {
        Some(key) => {
            let (Some(price), Some(secret)) =
                (&config.stripe_pro_price_id, &config.stripe_webhook_secret)
            else {
                anyhow::bail!(
                    "STRIPE_SECRET_KEY is set: STRIPE_PRO_PRICE_ID and STRIPE_WEBHOOK_SECRET are needed too"
                );
            };
            let client = match &config.stripe_api_base {
                Some(base) => Client::from_url(base.as_str(), key.clone()),
                None => Client::new(key.clone()),
            };
            Ok(Stripe {
                client,
                pro_price_id: price.clone(),
                webhook_secret: secret.clone(),
                test_mode: false,
            })
        }
        None => {
            let listener =
                tokio::net::TcpListener::bind(("127.0.0.1", config.stripe_test_double_port))
                    .await?;
            let webhook = format!("{}/api/stripe/webhook", config.public_url());
            if !config.public_url_is_loopback() {
                tracing::warn!(
                    public_url = %config.public_url(),
                    "STRIPE TEST DOUBLE ON A NON-LOOPBACK PORTAL: no payment is real and \
                     anyone who reaches the portal can upgrade for free; set \
                     STRIPE_SECRET_KEY, STRIPE_PRO_PRICE_ID and STRIPE_WEBHOOK_SECRET"
                );
            }
            let double = test_double::start(listener, config.public_url(), webhook);
            tracing::info!(
                url = %double.base_url,
                "STRIPE_SECRET_KEY is not set: billing uses the local Stripe test double (test mode)"
            );
            Ok(Stripe {
                client: Client::from_url(
                    format!("{}/", double.base_url).as_str(),
                    test_double::SECRET_KEY,
                ),
                pro_price_id: test_double::PRO_PRICE_ID.into(),
                webhook_secret: double.webhook_secret,
                test_mode: true,
            })
        }
    }
}
