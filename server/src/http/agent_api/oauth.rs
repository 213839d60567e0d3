//! The OAuth 2.0 endpoints of the agents: token (RFC 6749 §4.4), introspection
//! (RFC 7662), revocation (RFC 7009), JWKS and server metadata (RFC 8414).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use app::domain::tokens::{self, Audience, ClientCredentials, TokenRequest, TOKEN_TTL_SECS};
use app::domain::{Error, Problem};

use super::rate_limit::{self, RateLimitExceeded};
use crate::http::extract::ClientIp;
use crate::state::AppState;

/// The form of the token, introspection and revocation endpoints. The client
/// authenticates with HTTP Basic or with `client_id` + `client_secret` here.
/// Each parameter at most once (RFC 6749 §3.2), but `resource`.
#[derive(Debug, Default, ToSchema)]
pub struct TokenForm {
    /// Token endpoint: `client_credentials`.
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Token endpoint: space-separated scopes within the agent's
    /// capabilities; all of them when absent.
    scope: Option<String>,
    /// Introspection and revocation: the access token in question.
    token: Option<String>,
    /// Token endpoint (RFC 8707), repeatable: the absolute URIs of the
    /// resource servers the token is for, each on the agent's list; the
    /// token's `aud`. None: the portal's default audience.
    #[schema(required = false)]
    resource: Vec<String>,
}

/// RFC 6749 §5.1.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT signed with EdDSA; verify it with `/.well-known/jwks.json`.
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds.
    expires_in: i64,
    scope: String,
    /// Which of the agent's secrets authenticated this request (its label,
    /// `ais_…a1b2`): during a rotation's overlap, whether a running copy
    /// has switched to the new one.
    credential: String,
}

/// RFC 7662 §2.2: only `active: false` when the token is not active
/// (expired, revoked, another tenant's, not ours); its claims when it is.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Introspection {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// The agent the token was issued to (also `sub`).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<String>,
    /// `Bearer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    /// A string, or an array for a token bound to several resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<Audience>,
}

/// RFC 6749 §5.2.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope` or
    /// `server_error`.
    error: &'static str,
    error_description: String,
}

/// An RFC 6749 §5.2 error answer, rendered from a [`Problem`].
#[derive(Debug)]
pub struct OAuthError(Problem);

fn oauth_error(
    status: StatusCode,
    error: &'static str,
    description: impl Into<String>,
) -> OAuthError {
    OAuthError(Problem::new(status, error, description))
}

/// The error codes RFC 6749 §5.2 defines, `invalid_target` (RFC 8707) and
/// `slow_down` (registered for the token endpoint by RFC 8628) for a
/// throttled client; any other problem is a request error or, when it is
/// ours, a server error.
const OAUTH_CODES: [&str; 8] = [
    "invalid_target",
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "slow_down",
];

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let p = self.0;
        let error = if OAUTH_CODES.contains(&p.code) {
            p.code
        } else if p.status.is_server_error() {
            "server_error"
        } else {
            "invalid_request"
        };
        let body = OAuthErrorBody {
            error,
            error_description: p.message.clone(),
        };
        let mut res = (p.status, Json(body)).into_response();
        no_store(res.headers_mut());
        crate::http::error::decorate(&mut res, &p);
        if p.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"agent-id\", charset=\"UTF-8\""),
            );
        }
        res
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        OAuthError(e.classify())
    }
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Client credentials from HTTP Basic (RFC 6749 §2.3.1: form-urlencoded, then
/// base64) or from the form; using both at once is an invalid request.
fn client_credentials(
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<(String, String), OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    let bad_client = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed.",
        )
    };
    match (basic, &form.client_id, &form.client_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Use one client authentication method: HTTP Basic or client_id/client_secret, not both.",
        )),
        (Some(b64), None, None) => {
            let decoded = STANDARD.decode(b64.trim()).ok().and_then(|b| String::from_utf8(b).ok());
            let (id, secret) = decoded.as_deref().and_then(|d| d.split_once(':')).ok_or_else(bad_client)?;
            let unescape = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
            };
            Ok((unescape(id), unescape(secret)))
        }
        (None, Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
        (None, _, _) => Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication is required (HTTP Basic or client_id and client_secret).",
        )),
    }
}

fn form_of(headers: &HeaderMap, body: &[u8]) -> Result<TokenForm, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send the request as application/x-www-form-urlencoded.",
        ));
    }
    let mut form = TokenForm::default();
    for (name, value) in url::form_urlencoded::parse(body) {
        // RFC 6749 §3.2: a parameter without a value is as if omitted.
        if value.is_empty() {
            continue;
        }
        let field = match name.as_ref() {
            "resource" => {
                form.resource.push(value.into_owned());
                continue;
            }
            "grant_type" => &mut form.grant_type,
            "client_id" => &mut form.client_id,
            "client_secret" => &mut form.client_secret,
            "scope" => &mut form.scope,
            "token" => &mut form.token,
            _ => continue,
        };
        if field.replace(value.into_owned()).is_some() {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("The parameter {name} is given more than once."),
            ));
        }
    }
    Ok(form)
}

/// Client credentials grant (RFC 6749 §4.4): a short-lived access token.
/// Counts against the tenant's daily token limit.
#[utoipa::path(
    post, path = "/api/v1/token", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "The token", body = TokenResponse, headers(
            ("X-RateLimit-Limit" = String, description = "Tokens per day, or `unlimited`"),
            ("X-RateLimit-Remaining" = String, description = "Tokens left today, or `unlimited`"),
            ("X-RateLimit-Reset" = i64, description = "Unix time of the next 00:00 UTC"),
        )),
        (status = 400, description = "Malformed request, unsupported grant or scope", body = OAuthErrorBody),
        (status = 401, description = "Unknown client, wrong or former secret, or agent not active", body = OAuthErrorBody),
        (status = 429, description = "Daily token limit reached (`RateLimitExceeded`), or too many failed client authentications (`OAuthErrorBody`, error `slow_down`)", body = RateLimitExceeded,
            headers(("Retry-After" = i64, description = "Seconds until the limit resets or the throttle ends"))),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    let form = form_of(&headers, &body)?;
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        None | Some("") => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required.",
            ))
        }
        Some(other) => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported; use client_credentials."),
            ))
        }
    }
    let (client_id, client_secret) = client_credentials(&headers, &form)?;
    let credentials = ClientCredentials {
        client_id: &client_id,
        client_secret: &client_secret,
        from: &from,
    };
    let request = TokenRequest {
        scope: form.scope.as_deref(),
        resources: &form.resource,
    };
    let t = match tokens::issue(&state, credentials, request).await {
        // Over the daily limit: the rate-limit answer, which names the limit.
        Err(Error::QuotaExceeded { kind, quota }) => {
            let mut res = rate_limit::quota_exceeded(kind, &quota, state.now(), state.issuer());
            no_store(res.headers_mut());
            return Ok(res);
        }
        issued => issued?,
    };
    let mut res = Json(TokenResponse {
        access_token: t.access_token,
        token_type: "Bearer",
        expires_in: t.expires_in,
        scope: t.scope,
        credential: t.secret_label,
    })
    .into_response();
    no_store(res.headers_mut());
    rate_limit::set_headers(res.headers_mut(), &t.quota);
    Ok(res)
}

/// Authenticates the calling agent and reads the `token` parameter.
async fn caller_and_token(
    state: &AppState,
    from: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(app::model::Agent, String), OAuthError> {
    let form = form_of(headers, body)?;
    let (client_id, client_secret) = client_credentials(headers, &form)?;
    let credentials = ClientCredentials {
        client_id: &client_id,
        client_secret: &client_secret,
        from,
    };
    let agent = tokens::authenticate_client(state, &credentials)
        .await?
        .agent;
    match form.token {
        Some(t) if !t.trim().is_empty() => Ok((agent, t.trim().to_owned())),
        _ => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required.",
        )),
    }
}

/// Token introspection (RFC 7662) for the calling agent's own tenant.
#[utoipa::path(
    post, path = "/api/v1/token/introspect", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "Whether the token is active, and its claims when it is", body = Introspection),
        (status = 400, description = "Malformed request or no `token`", body = OAuthErrorBody),
        (status = 401, description = "Client authentication failed", body = OAuthErrorBody),
        (status = 429, description = "Too many failed client authentications (error `slow_down`)", body = OAuthErrorBody,
            headers(("Retry-After" = i64, description = "Seconds until the throttle ends"))),
    )
)]
pub async fn introspect(
    State(state): State<AppState>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    let (caller, token) = caller_and_token(&state, &from, &headers, &body).await?;
    let answer = match tokens::introspect(&state, &caller, &token).await? {
        Some(c) => Introspection {
            active: true,
            scope: Some(c.scope),
            client_id: Some(c.sub.clone()),
            sub: Some(c.sub),
            tenant_id: Some(c.tenant_id),
            token_type: Some("Bearer"),
            exp: Some(c.exp),
            iat: Some(c.iat),
            iss: Some(c.iss),
            jti: Some(c.jti),
            aud: Some(c.aud),
        },
        None => Introspection::default(),
    };
    let mut res = Json(answer).into_response();
    no_store(res.headers_mut());
    Ok(res)
}

/// Token revocation (RFC 7009): the token stops working at once. Unknown
/// or foreign tokens are answered the same way.
#[utoipa::path(
    post, path = "/api/v1/token/revoke", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "Revoked (or was not valid)"),
        (status = 400, description = "Malformed request or no `token`", body = OAuthErrorBody),
        (status = 401, description = "Client authentication failed", body = OAuthErrorBody),
        (status = 429, description = "Too many failed client authentications (error `slow_down`)", body = OAuthErrorBody,
            headers(("Retry-After" = i64, description = "Seconds until the throttle ends"))),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    let (caller, token) = caller_and_token(&state, &from, &headers, &body).await?;
    tokens::revoke(&state, &caller, &token).await?;
    let mut res = StatusCode::OK.into_response();
    no_store(res.headers_mut());
    Ok(res)
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut res = Json(state.keys.get().jwks()).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

pub async fn metadata(State(state): State<AppState>) -> Response {
    let base = state.issuer();
    let mut res = Json(json!({
        "issuer": base,
        "token_endpoint": format!("{base}/api/v1/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{base}/api/v1/token/introspect"),
        "revocation_endpoint": format!("{base}/api/v1/token/revoke"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        // No signed client assertions (yet): no
        // `token_endpoint_auth_signing_alg_values_supported`.
        "access_token_lifetime": TOKEN_TTL_SECS,
        // Not an RFC 8414 field: the `aud` of a token asked for no `resource`.
        "access_token_audience": state.audience,
        "scopes_supported": ["analytics:read"],
    }))
    .into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}
