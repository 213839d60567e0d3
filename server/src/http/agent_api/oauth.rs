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
use app::domain::{Error, Problem};

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

/// The error codes RFC 6749 §5.2 defines; any other problem is a request
/// error or, when it is ours, a server error.
const OAUTH_CODES: [&str; 6] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
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
        let body = json!({ "error": error, "error_description": p.message });
        let mut res = (p.status, Json(body)).into_response();
        no_store(res.headers_mut());
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
    };
    let t = match tokens::issue(&state, credentials, form.scope.as_deref()).await {
        // Over the daily limit: the rate-limit answer, which names the limit.
        Err(Error::QuotaExceeded { kind, quota }) => {
            let mut res = rate_limit::quota_exceeded(kind, &quota, state.now(), state.issuer());
            no_store(res.headers_mut());
            return Ok(res);
        }
        issued => issued?,
    };
    let mut res = Json(json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "scope": t.scope,
    }))
    .into_response();
    no_store(res.headers_mut());
    rate_limit::set_headers(res.headers_mut(), &t.quota);
    Ok(res)
}

/// Authenticates the calling agent and reads the `token` parameter.
async fn caller_and_token(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(app::model::Agent, String), OAuthError> {
    let form = form_of(headers, body)?;
    let (client_id, client_secret) = client_credentials(headers, &form)?;
    let credentials = ClientCredentials {
        client_id: &client_id,
        client_secret: &client_secret,
    };
    let agent = tokens::authenticate_client(state, &credentials).await?;
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
) -> Result<Response, OAuthError> {
    let (caller, token) = caller_and_token(&state, &headers, &body).await?;
    let answer = match tokens::introspect(&state, &caller, &token).await? {
        Some(c) => json!({
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
            "aud": c.aud,
        }),
        None => json!({ "active": false }),
    };
    let mut res = Json(answer).into_response();
    no_store(res.headers_mut());
    Ok(res)
}

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    let (caller, token) = caller_and_token(&state, &headers, &body).await?;
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
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"],
        "access_token_lifetime": TOKEN_TTL_SECS,
        // Not an RFC 8414 field: what resource servers find in `aud`.
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
