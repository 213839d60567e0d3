//! Who is asking: extractors that check it before a handler runs, so that
//! handlers name what they need (`Member`, `Manager`) instead of checking.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use ipnet::IpNet;
use tower_sessions::Session;

use app::domain::members;
use app::model::CurrentMember;

use super::error::ApiError;
use super::security::is_same_origin;
use crate::sessions::{LAST_SEEN, MEMBER_ID, SESSION_EPOCH};
use crate::state::AppState;

/// The client's address: the peer of the connection, or, when the peer is
/// one of `TRUSTED_PROXIES`, the address the proxies say they forwarded for
/// (the nearest one that is not itself a trusted proxy).
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let client =
            peer.map(|peer| client_address(peer, &parts.headers, &state.config.trusted_proxies));
        Ok(ClientIp(
            client.map_or_else(|| "unknown".into(), |ip| ip.to_string()),
        ))
    }
}

fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Nearest hop last: walk back until an address no trusted proxy owns.
    let chain = forwarded_for(headers);
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(chain.first())
        .copied()
        .unwrap_or(peer)
}

/// The `for=` addresses of `Forwarded` (RFC 7239), else of `X-Forwarded-For`,
/// in order; anything unparsable ends the chain there.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let joined = |name: header::HeaderName| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
    };
    let forwarded = joined(header::FORWARDED);
    let values: Vec<String> = if !forwarded.is_empty() {
        forwarded
            .split(',')
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.eq_ignore_ascii_case("for").then(|| v.trim().to_owned())
                })
            })
            .collect()
    } else {
        joined(header::HeaderName::from_static("x-forwarded-for"))
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    };
    values.iter().map_while(|v| parse_node(v)).collect()
}

/// `192.0.2.60`, `"192.0.2.60:4711"`, `"[2001:db8::17]:4711"`, `2001:db8::17`.
fn parse_node(value: &str) -> Option<IpAddr> {
    let v = value.trim_matches('"');
    if let Ok(ip) = v.parse() {
        return Some(ip);
    }
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    v.rsplit_once(':')
        .and_then(|(host, _port)| host.parse().ok())
}

/// A state-changing request from our own pages (see `is_same_origin`).
pub struct SameOrigin;

impl FromRequestParts<AppState> for SameOrigin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if is_same_origin(&parts.headers, &state.public_url) {
            Ok(SameOrigin)
        } else {
            Err(ApiError::cross_site())
        }
    }
}

/// The member a session points at, if any. A session idle for longer than
/// `SESSION_IDLE_MINUTES` (by the portal's clock, from its last request),
/// whose member is gone, or that an epoch change ended (password change,
/// sign out everywhere), is emptied. A live one is marked as seen, at
/// most once a minute, which also moves the stored expiry on.
pub async fn member_of(
    state: &AppState,
    session: &Session,
) -> Result<Option<CurrentMember>, ApiError> {
    let id: Option<String> = session.get(MEMBER_ID).await.map_err(ApiError::internal)?;
    let Some(id) = id else { return Ok(None) };
    let now = state.now();
    let last_seen: Option<i64> = session.get(LAST_SEEN).await.map_err(ApiError::internal)?;
    let idle = i64::from(state.config.session_idle_minutes) * 60;
    if last_seen.is_none_or(|seen| now - seen > idle) {
        session.flush().await.map_err(ApiError::internal)?;
        return Ok(None);
    }
    let member = members::current(&state.db, &id).await?;
    let epoch: Option<i64> = session
        .get(SESSION_EPOCH)
        .await
        .map_err(ApiError::internal)?;
    if member
        .as_ref()
        .is_none_or(|m| m.session_epoch != epoch.unwrap_or(0))
    {
        session.flush().await.map_err(ApiError::internal)?;
        return Ok(None);
    }
    if last_seen.is_some_and(|seen| now - seen >= 60) {
        session
            .insert(LAST_SEEN, now)
            .await
            .map_err(ApiError::internal)?;
    }
    Ok(member)
}

/// A signed-in member. Member routes carry the `portal::require_member`
/// layer, which has already looked the member up; elsewhere the session is
/// read here.
pub struct Member(pub CurrentMember);

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(member) = parts.extensions.get::<CurrentMember>() {
            return Ok(Member(member.clone()));
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, e)| ApiError::internal(e))?;
        let member = member_of(state, &session)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        parts.extensions.insert(member.clone());
        Ok(Member(member))
    }
}

/// A signed-in owner or admin, posting from our own pages: who may change
/// the tenant's agents, settings and billing.
pub struct Manager(pub CurrentMember);

impl FromRequestParts<AppState> for Manager {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        SameOrigin::from_request_parts(parts, state).await?;
        let Member(member) = Member::from_request_parts(parts, state).await?;
        if !member.role.can_manage() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Viewers can look but not change anything: ask an owner or admin.",
            ));
        }
        if !member.is_verified() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "email_unverified",
                "Verify your e-mail address first: open the link we sent you, or send a new one \
                 from the banner at the top of the page.",
            ));
        }
        Ok(Manager(member))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (header::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn forwarded_headers_count_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let xff = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.7")]);
        // Not trusted: the peer is the client, whatever it claims.
        assert_eq!(client_address(proxy, &xff, &[]), proxy);
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_address(stranger, &xff, &trusted), stranger);
        // Trusted: the nearest untrusted hop.
        assert_eq!(
            client_address(proxy, &xff, &trusted).to_string(),
            "203.0.113.9"
        );
        let fwd = headers(&[(
            "forwarded",
            "for=198.51.100.17;proto=https, for=\"[2001:db8::17]:4711\"",
        )]);
        assert_eq!(
            client_address(proxy, &fwd, &trusted).to_string(),
            "2001:db8::17"
        );
        // Nothing forwarded: the proxy itself.
        assert_eq!(client_address(proxy, &HeaderMap::new(), &trusted), proxy);
        // A spoofed leftmost entry does not win over the real nearest hop.
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        assert_eq!(
            client_address(proxy, &spoofed, &trusted).to_string(),
            "203.0.113.9"
        );
    }
}
