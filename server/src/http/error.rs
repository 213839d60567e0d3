//! How a [`Problem`] (a classified domain error, or a refusal of the web
//! layer) is answered over HTTP: JSON for the APIs, an error page for the
//! browser. The OAuth endpoints render their own shape (`agent_api::oauth`).

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use app::domain::{Error, Problem};

/// A JSON error answer: `{"error": code, "message": text}` (+ `error_id`,
/// `fields` when there are any).
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError(Problem::new(status, code, message))
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

    /// Our own failure (`detail` is logged, never sent).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError(Problem::internal(&detail))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e.classify())
    }
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        ApiError(p)
    }
}

/// The body of every JSON error answer of the portal and of the `/api/v1`
/// resources (the OAuth endpoints answer in their RFC 6749 shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, for programs: `invalid_token`, `insufficient_scope`,
    /// `invalid_request`, `not_found`, ...
    pub error: &'static str,
    /// For people: what went wrong and what to do.
    pub message: String,
    /// Our own failures only: quote it to support; the log has the details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    /// Input problems by field name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let p = self.0;
        let fields: BTreeMap<String, String> = p
            .fields
            .0
            .iter()
            .filter_map(|(f, m)| Some((f.clone()?, m.clone())))
            .collect();
        let body = ErrorBody {
            error: p.code,
            message: p.message.clone(),
            error_id: p.error_id.clone(),
            fields: (!fields.is_empty()).then_some(fields),
        };
        let mut res = (p.status, Json(body)).into_response();
        decorate(&mut res, &p);
        res
    }
}

/// What a browser's form post gets when it cannot re-render its form: an
/// error page, or the form's page already rendered with its problems
/// (see `portal::form`).
#[derive(Debug)]
pub enum PageError {
    Problem(Problem),
    Rendered(Box<Response>),
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        PageError::Problem(e.classify())
    }
}

impl From<Problem> for PageError {
    fn from(p: Problem) -> Self {
        PageError::Problem(p)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let p = match self {
            PageError::Rendered(res) => return *res,
            PageError::Problem(p) => p,
        };
        let title = if p.status == StatusCode::SERVICE_UNAVAILABLE {
            "Busy right now"
        } else if p.status.is_server_error() {
            "Something went wrong"
        } else if p.status == StatusCode::NOT_FOUND {
            "Not found"
        } else {
            "That did not work"
        };
        let page = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"color-scheme\" content=\"light dark\">\
             <title>{title} · {product}</title><link rel=\"stylesheet\" href=\"/pkg/portal.css\">\
             </head><body><main class=\"auth-page\" id=\"main\"><div class=\"auth-card\">\
             <h1>{title}</h1><p class=\"form-error\" role=\"alert\" data-testid=\"error-message\">{message}</p>\
             <p><a href=\"/analytics\">Back to the portal</a></p></div></main></body></html>",
            product = app::PRODUCT_NAME,
            message = escape_html(&p.message),
        );
        let mut res = (p.status, Html(page)).into_response();
        decorate(&mut res, &p);
        res
    }
}

/// Headers every rendering of a problem carries.
pub(crate) fn decorate(res: &mut Response, p: &Problem) {
    if let Some(secs) = p.retry_after_secs {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    // RFC 6750 §3: a refused bearer token says so in the challenge.
    if p.code == "invalid_token" {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"agent-id\", error=\"invalid_token\""),
        );
    }
}

/// Text for HTML: everything a page echoes goes through this.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_error_page_shows_the_message_escaped_and_never_internals() {
        let res =
            PageError::from(Error::Internal("db at 10.1.2.3 said <boom>".into())).into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("error id"), "{html}");
        assert!(!html.contains("10.1.2.3"));
        let res =
            PageError::from(Problem::new(StatusCode::BAD_REQUEST, "x", "<script>")).into_response();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body).contains("&lt;script&gt;"));
    }
}
