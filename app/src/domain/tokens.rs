//! OAuth 2.0 client-credentials tokens (RFC 6749 §4.4): EdDSA-signed JWTs
//! that any JWT library verifies from the published JWKS alone.

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

use super::metering::{Admission, Quota, UsageKind};
use super::{agents, scopes};
use super::{Error, Result, Services};
use crate::model::{Agent, AgentStatus};

/// Tokens are short-lived: 15 minutes.
pub const TOKEN_TTL_SECS: i64 = 900;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// Who the token is for: the resources the request named (RFC 8707),
    /// else `TOKEN_AUDIENCE` (by default the issuer).
    pub aud: Audience,
    pub sub: String,
    pub tenant_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// A token's `aud` (RFC 7519 §4.1.3): one audience as a string, several as
/// an array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn of(mut audiences: Vec<String>) -> Self {
        if audiences.len() == 1 {
            Audience::One(audiences.remove(0))
        } else {
            Audience::Many(audiences)
        }
    }
}

/// The audience of a token for `agent`: the `requested` resources, each on
/// the agent's list, or the portal's `default` when none is requested.
fn audience_for(agent: &Agent, requested: &[String], default: &str) -> Result<Audience> {
    if requested.is_empty() {
        return Ok(Audience::One(default.to_owned()));
    }
    let mut granted: Vec<String> = Vec::with_capacity(requested.len());
    for resource in requested {
        agents::check_resource(resource).map_err(Error::InvalidTarget)?;
        if !agent.resources.contains(resource) {
            let shown: String = resource.chars().take(200).collect();
            return Err(Error::InvalidTarget(format!(
                "This agent may not ask tokens for the resource {shown:?}; an admin adds it on the agent's page."
            )));
        }
        if !granted.contains(resource) {
            granted.push(resource.clone());
        }
    }
    Ok(Audience::of(granted))
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    /// The secret the client authenticated with (`ais_…a1b2`).
    pub secret_label: String,
    pub expires_in: i64,
    pub scope: String,
    pub quota: Quota,
}

pub struct ClientCredentials<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    /// The address the request came from: failures are throttled by it.
    pub from: &'a str,
}

/// An authenticated client: the agent, and which of its secrets it used.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub agent: Agent,
    pub secret_id: String,
    /// Not secret: `ais_…a1b2`.
    pub secret_label: String,
}

/// The agent behind valid client credentials, if it may get tokens: the
/// secret must be one of its live ones at this moment (a replaced secret
/// works until the second its window ends). Failures are counted and
/// throttled (see `agents::failed_auth`).
pub async fn authenticate_client(
    services: &Services,
    creds: &ClientCredentials<'_>,
) -> Result<Authenticated> {
    let now = services.now();
    let keys = services.keys.get();
    let client_id = creds.client_id.trim();
    let found = agents::for_client(&services.db, &services.clients, client_id, now).await?;
    let secret = found.as_ref().and_then(|c| {
        c.secrets.iter().find(|s| {
            s.works_at(now) && agents::secret_matches(&keys, creds.client_secret, &s.secret_hash)
        })
    });
    let active = found
        .as_ref()
        .filter(|c| c.agent.status == AgentStatus::Active);
    let (Some(client), Some(secret)) = (active, secret) else {
        let attempt = agents::failed_auth::Attempt {
            client_id,
            secret: creds.client_secret,
            address: creds.from,
            right_secret: secret.is_some(),
        };
        let blocks = &services.auth_blocks;
        return Err(agents::failed_auth::refuse(
            &services.db,
            blocks,
            &keys,
            attempt,
            found.as_deref(),
            now,
        )
        .await);
    };
    services
        .auth_blocks
        .check(&services.db, client_id, creds.from, now)
        .await?;
    if services.clients.first_use_this_minute(&secret.id, now) {
        // Off the request's path: minute precision needs no wait.
        let (db, id) = (services.db.clone(), secret.id.clone());
        let tenant = client.agent.tenant_id.clone();
        tokio::spawn(async move {
            if let Err(e) = agents::credentials::touch(&db, &tenant, &id, now).await {
                tracing::warn!(error = %e, "could not record when a secret was used");
            }
        });
    }
    Ok(Authenticated {
        agent: client.agent.clone(),
        secret_id: secret.id.clone(),
        secret_label: secret.label.clone(),
    })
}

/// What a token request asks for beyond the client's credentials.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenRequest<'a> {
    /// Space-separated; all the agent's capabilities when absent.
    pub scope: Option<&'a str>,
    /// RFC 8707 `resource` parameters, in order.
    pub resources: &'a [String],
}

pub async fn issue(
    services: &Services,
    creds: ClientCredentials<'_>,
    request: TokenRequest<'_>,
) -> Result<IssuedToken> {
    let now = services.now();
    let Authenticated {
        agent,
        secret_label,
        ..
    } = authenticate_client(services, &creds).await?;
    let scope = scopes::granted(&agent.capabilities, request.scope)?;
    let aud = audience_for(&agent, request.resources, &services.audience)?;
    let quota = match services
        .meter
        .admit(&agent.tenant_id, &agent.id, UsageKind::TokenIssued)
        .await?
    {
        Admission::Admitted(q) => q,
        Admission::Refused(quota) => {
            return Err(Error::QuotaExceeded {
                kind: UsageKind::TokenIssued,
                quota,
            })
        }
    };
    let claims = Claims {
        iss: services.public_url.clone(),
        aud,
        sub: agent.id.clone(),
        tenant_id: agent.tenant_id.clone(),
        scope: scope.clone(),
        iat: now,
        exp: now + TOKEN_TTL_SECS,
        // A v4 UUID from the thread's CSPRNG (seeded by the OS):
        // `Uuid::new_v4` would make a getrandom system call per token.
        jti: uuid::Builder::from_random_bytes(rand::random())
            .into_uuid()
            .to_string(),
    };
    let access_token = services.keys.get().current().sign_jwt(&claims)?;
    Ok(IssuedToken {
        access_token,
        secret_label,
        expires_in: TOKEN_TTL_SECS,
        scope,
        quota,
    })
}

/// Checks signature, issuer, audience (the portal's own: a token bound to
/// another resource does not open the portal's API) and expiry (against
/// the injected clock), then that the token is not revoked and its agent
/// is still active.
pub async fn verify(services: &Services, token: &str) -> Result<Claims> {
    verify_for(services, token, Some(&services.audience)).await
}

/// [`verify`] for any audience: what introspection and revocation see.
async fn verify_for(services: &Services, token: &str, audience: Option<&str>) -> Result<Claims> {
    let (db, keys, now) = (&services.db, services.keys.get(), services.now());
    let header = jsonwebtoken::decode_header(token).map_err(|_| Error::InvalidToken)?;
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.by_kid(kid))
        .ok_or(Error::InvalidToken)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[&services.public_url]);
    match audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
        .map_err(|_| Error::InvalidToken)?
        .claims;
    // Our tokens live TOKEN_TTL_SECS from their issue: one that claims to
    // live longer, or to be issued in the future, was not made by this
    // portal's rules (a key that leaked, a bug), and is refused outright.
    const SKEW_SECS: i64 = 60;
    if claims.exp <= now
        || claims.exp > now + TOKEN_TTL_SECS + SKEW_SECS
        || claims.exp - claims.iat > TOKEN_TTL_SECS
        || claims.iat > now + SKEW_SECS
    {
        return Err(Error::InvalidToken);
    }
    let (status, revoked): (String, i64) = sqlx::query_as(
        "SELECT a.status, (SELECT COUNT(*) FROM revoked_tokens r WHERE r.jti = $2) AS revoked \
         FROM agents a WHERE a.id = $1 AND a.tenant_id = $3",
    )
    .bind(&claims.sub)
    .bind(&claims.jti)
    .bind(&claims.tenant_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Error::InvalidToken)?;
    if status != AgentStatus::Active.as_str() || revoked > 0 {
        return Err(Error::InvalidToken);
    }
    Ok(claims)
}

/// RFC 7662: what the token is, for an agent of the same tenant; any other
/// token is simply "not active".
pub async fn introspect(
    services: &Services,
    caller: &Agent,
    token: &str,
) -> Result<Option<Claims>> {
    match verify_for(services, token, None).await {
        Ok(claims) if claims.tenant_id == caller.tenant_id => Ok(Some(claims)),
        Ok(_) | Err(Error::InvalidToken) => Ok(None),
        Err(e) => Err(e),
    }
}

/// RFC 7009: an agent revokes its own tokens; anything else is ignored.
pub async fn revoke(services: &Services, caller: &Agent, token: &str) -> Result<()> {
    match verify_for(services, token, None).await {
        Ok(claims) if claims.sub == caller.id => {
            sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                .bind(&claims.jti)
                .bind(claims.exp)
                .execute(&services.db.pool)
                .await?;
            // Entries are only needed while their token could still be used.
            sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
                .bind(services.now())
                .execute(&services.db.pool)
                .await?;
            Ok(())
        }
        Ok(_) | Err(Error::InvalidToken) => Ok(()),
        Err(e) => Err(e),
    }
}
