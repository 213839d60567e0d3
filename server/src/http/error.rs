//! Domain errors become HTTP answers here, and only here.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use app::domain::Error;

/// A JSON error answer: `{"error": code, "message": text}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_secs: Option<i64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Sign in first: this endpoint needs a portal session.",
        )
    }

    pub fn cross_site() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "Cross-site requests are refused.",
        )
    }
}

/// The status a domain error answers with.
pub fn status_of(e: &Error) -> (StatusCode, &'static str) {
    match e {
        Error::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        Error::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
        Error::SignInThrottled { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
        Error::AgentLimitReached { .. } => (StatusCode::CONFLICT, "agent_limit_reached"),
        Error::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client"),
        Error::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope"),
        Error::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
        Error::QuotaExceeded { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded"),
        Error::Database(_) | Error::Migration(_) | Error::Internal(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = status_of(&e);
        let message = if status.is_server_error() {
            tracing::error!(error = %e, "request failed");
            "Something went wrong on our side. Please try again.".to_owned()
        } else {
            e.to_string()
        };
        let retry_after_secs = match e {
            Error::SignInThrottled { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        };
        Self {
            status,
            code,
            message,
            retry_after_secs,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(json!({ "error": self.code, "message": self.message })),
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}
