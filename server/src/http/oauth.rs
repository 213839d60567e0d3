//! The OAuth 2.0 endpoints of the agents: token (RFC 6749 §4.4), introspection
//! (RFC 7662), revocation (RFC 7009), JWKS and server metadata (RFC 8414).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use app::domain::tokens::{self, ClientCredentials, TOKEN_TTL_SECS};
use app::domain::Error;

use super::rate_limit;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    token: Option<String>,
}

/// An RFC 6749 §5.2 error answer.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

fn oauth_error(
    status: StatusCode,
    error: &'static str,
    description: impl Into<String>,
) -> OAuthError {
    OAuthError {
        status,
        error,
        description: description.into(),
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut res = (self.status, Json(body)).into_response();
        no_store(res.headers_mut());
        if self.status == StatusCode::UNAUTHORIZED {
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
        match e {
            Error::InvalidClient => {
                oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", e.to_string())
            }
            Error::InvalidScope(_) => {
                oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", e.to_string())
            }
            Error::Invalid(msg) => oauth_error(StatusCode::BAD_REQUEST, "invalid_request", msg),
            other => {
                tracing::error!(error = %other, "OAuth endpoint failed");
                oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "Something went wrong on our side.",
                )
            }
        }
    }
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Quota refusals keep their rate-limit shape; everything else is OAuth-shaped.
fn from_domain(e: Error, state: &AppState) -> Response {
    match e {
        Error::QuotaExceeded { kind, quota } => {
            let mut res = rate_limit::quota_exceeded(kind, &quota, state.now(), &state.issuer());
            no_store(res.headers_mut());
            res
        }
        other => OAuthError::from(other).into_response(),
    }
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
    serde_urlencoded::from_bytes(body).map_err(|e| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("Malformed form: {e}."),
        )
    })
}

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = match form_of(&headers, &body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        None | Some("") => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required.",
            )
            .into_response()
        }
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported; use client_credentials."),
            )
            .into_response()
        }
    }
    let (client_id, client_secret) = match client_credentials(&headers, &form) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let issued = tokens::issue(
        &state.db,
        &state.keys,
        &state.meter,
        &state.issuer(),
        ClientCredentials {
            client_id: &client_id,
            client_secret: &client_secret,
        },
        form.scope.as_deref(),
        state.now(),
    )
    .await;
    match issued {
        Ok(t) => {
            let mut res = Json(json!({
                "access_token": t.access_token,
                "token_type": "Bearer",
                "expires_in": t.expires_in,
                "scope": t.scope,
            }))
            .into_response();
            no_store(res.headers_mut());
            rate_limit::set_headers(res.headers_mut(), &t.quota);
            res
        }
        Err(e) => from_domain(e, &state),
    }
}

/// Authenticates the calling agent and reads the `token` parameter.
async fn caller_and_token(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(app::model::Agent, String), OAuthError> {
    let form = form_of(headers, body)?;
    let (client_id, client_secret) = client_credentials(headers, &form)?;
    let agent = tokens::authenticate_client(
        &state.db,
        &state.keys,
        &ClientCredentials {
            client_id: &client_id,
            client_secret: &client_secret,
        },
    )
    .await?;
    match form.token {
        Some(t) if !t.trim().is_empty() => Ok((agent, t.trim().to_owned())),
        _ => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required.",
        )),
    }
}

pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (caller, token) = match caller_and_token(&state, &headers, &body).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let answer = match tokens::introspect(
        &state.db,
        &state.keys,
        &state.issuer(),
        &caller,
        &token,
        state.now(),
    )
    .await
    {
        Ok(Some(c)) => json!({
            "active": true,
            "scope": c.scope,
            "client_id": c.sub,
            "sub": c.sub,
            "tenant_id": c.tenant_id,
            "token_type": "Bearer",
            "exp": c.exp,
            "iat": c.iat,
            "iss": c.iss,
            "jti": c.jti,
        }),
        Ok(None) => json!({ "active": false }),
        Err(e) => return from_domain(e, &state),
    };
    let mut res = Json(answer).into_response();
    no_store(res.headers_mut());
    res
}

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (caller, token) = match caller_and_token(&state, &headers, &body).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match tokens::revoke(
        &state.db,
        &state.keys,
        &state.issuer(),
        &caller,
        &token,
        state.now(),
    )
    .await
    {
        Ok(()) => {
            let mut res = StatusCode::OK.into_response();
            no_store(res.headers_mut());
            res
        }
        Err(e) => from_domain(e, &state),
    }
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut res = Json(state.keys.jwks()).into_response();
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
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"],
        "access_token_lifetime": TOKEN_TTL_SECS,
    }))
    .into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}
