//! Headers every answer carries, and what makes a post "from our own pages".

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use std::sync::LazyLock;

/// The policy of answers that are not pages (a page sets its own, with its
/// nonce: see `app::content_security_policy`).
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_str(&app::content_security_policy(None)).expect("a valid header")
});

pub async fn headers(State(hsts): State<bool>, req: Request, next: Next) -> Response {
    let is_static = super::assets::is_asset(req.uri().path());
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
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
    }
    // Behind https (PUBLIC_URL), browsers must never fall back to http.
    if hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    // Pages show tenant data: never keep them in a cache (nor in the back-forward
    // cache after signing out).
    if !is_static && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// An origin as browsers send it: scheme, host and port (the scheme's
/// default when absent), compared case-insensitively.
fn origin_of(url: &str) -> Option<(String, String, u16)> {
    let uri: axum::http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let port = uri.port_u16().or(match scheme.as_str() {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    })?;
    Some((scheme, uri.host()?.to_ascii_lowercase(), port))
}

/// True when a state-changing request comes from our own pages: its
/// `Origin` (or, failing that, `Referer`) has the scheme, host and port of
/// `PUBLIC_URL`. A request with neither is refused: every browser sends
/// `Origin` on a form post, so only non-browser clients lack both, and they
/// have no business posting the portal's forms.
pub fn is_same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match (source.and_then(origin_of), origin_of(public_url)) {
        (Some(source), Some(ours)) => source == ours,
        _ => false,
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
    fn origin_must_be_the_public_url() {
        let ours = "https://portal.example";
        let with = |k: header::HeaderName, v: &str| headers(&[(k, v)]);
        assert!(is_same_origin(
            &with(header::ORIGIN, "https://portal.example"),
            ours
        ));
        assert!(is_same_origin(
            &with(header::ORIGIN, "https://PORTAL.example:443"),
            ours
        ));
        assert!(is_same_origin(
            &with(header::REFERER, "https://portal.example/agents?x=1"),
            ours
        ));
        for bad in [
            "http://portal.example",
            "https://portal.example:8443",
            "https://evil.example",
            "https://portal.example.evil.example",
            "null",
        ] {
            assert!(!is_same_origin(&with(header::ORIGIN, bad), ours), "{bad}");
        }
        // The Host header proves nothing: it is what the client says.
        assert!(!is_same_origin(&with(header::HOST, "portal.example"), ours));
        assert!(!is_same_origin(&headers(&[]), ours));
    }
}
