//! Headers every answer carries, and what makes a post "from our own pages".

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
    script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

pub async fn headers(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/pkg/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    // Pages show tenant data: never keep them in a cache (nor in the back-forward
    // cache after signing out).
    if !is_static && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// True when a state-changing request comes from our own pages: its `Origin`
/// (or, failing that, `Referer`) names the host it was sent to. Browsers send
/// `Origin` on every cross-site POST, so its absence means a same-site or
/// non-browser client.
pub fn is_same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match source {
        None => true,
        Some("null") => false,
        Some(source) => source
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next() == Some(host))
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    #[test]
    fn origin_must_name_the_host() {
        let host = (header::HOST, "portal.example:3000");
        assert!(is_same_origin(&headers(std::slice::from_ref(&host))));
        assert!(is_same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "https://portal.example:3000")
        ])));
        assert!(!is_same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "https://evil.example")
        ])));
        assert!(!is_same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "null")
        ])));
        assert!(!is_same_origin(&headers(&[
            host,
            (
                header::REFERER,
                "https://portal.example:3000.evil.example/x"
            )
        ])));
        assert!(!is_same_origin(&headers(&[])));
    }
}
