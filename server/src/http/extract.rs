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
use crate::config::ClientIpHeader;
use crate::sessions::{LAST_SEEN, MAX_AGE_SECS, MEMBER_ID, SESSION_EPOCH, SIGNED_IN_AT};
use crate::state::AppState;

/// The client's address: the peer of the connection, or, when the peer is
/// one of `TRUSTED_PROXIES`, the address the proxies appended to the one
/// header the operator named (`CLIENT_IP_HEADER`), read from its right end.
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
        let config = &state.config;
        let client = peer.map(|peer| {
            client_address(
                peer,
                &parts.headers,
                config
                    .client_ip_header
                    .unwrap_or(ClientIpHeader::XForwardedFor),
                &config.trusted_proxies,
            )
        });
        Ok(ClientIp(
            client.map_or_else(|| "unknown".into(), |ip| ip.to_string()),
        ))
    }
}

/// Each proxy appends the address it received the request from. Walking
/// from the right, every address a trusted proxy wrote is believed until the
/// first one no trusted proxy owns: that is the client. Whatever lies left of
/// it the client wrote itself, and an entry that does not parse (a client's
/// or an obfuscated one) is never believed: the hop before it is taken.
fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    header: ClientIpHeader,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    let chain = forwarded_chain(headers, header);
    for entry in chain.iter().rev() {
        if !is_trusted(&client) {
            break;
        }
        match parse_node(entry) {
            Some(ip) => client = ip,
            None => break,
        }
    }
    client
}

/// The entries of the configured header, all its lines joined, in order:
/// `for=` values of `Forwarded` (RFC 7239), or `X-Forwarded-For`'s list.
/// The other header is ignored: a client could send it unchallenged.
fn forwarded_chain(headers: &HeaderMap, header: ClientIpHeader) -> Vec<String> {
    let lines = |name: header::HeaderName| {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
            .join(",")
    };
    match header {
        ClientIpHeader::Forwarded => lines(header::FORWARDED)
            .split(',')
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (k, v) = pair.trim().split_once('=')?;
                        k.eq_ignore_ascii_case("for").then(|| v.trim().to_owned())
                    })
                    .unwrap_or_default()
            })
            .collect(),
        ClientIpHeader::XForwardedFor => {
            let joined = lines(header::HeaderName::from_static("x-forwarded-for"));
            if joined.trim().is_empty() {
                return Vec::new();
            }
            joined.split(',').map(|v| v.trim().to_owned()).collect()
        }
    }
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
/// `SESSION_IDLE_MINUTES` (by the portal's clock, from its last request) or
/// older than `MAX_AGE_SECS` from its sign-in,
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
    let signed_in_at: Option<i64> = session
        .get(SIGNED_IN_AT)
        .await
        .map_err(ApiError::internal)?;
    if last_seen.is_none_or(|seen| now - seen > idle)
        || signed_in_at.is_none_or(|at| now - at > MAX_AGE_SECS)
    {
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
        use ClientIpHeader::{Forwarded, XForwardedFor};
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let at = |headers: &HeaderMap, header, trusted: &[IpNet]| {
            client_address(proxy, headers, header, trusted).to_string()
        };
        let xff = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.7")]);
        // Not trusted: the peer is the client, whatever it claims.
        assert_eq!(at(&xff, XForwardedFor, &[]), "10.0.0.5");
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            client_address(stranger, &xff, XForwardedFor, &trusted),
            stranger
        );
        // Trusted: the nearest untrusted hop.
        assert_eq!(at(&xff, XForwardedFor, &trusted), "203.0.113.9");
        let fwd = headers(&[(
            "forwarded",
            "for=198.51.100.17;proto=https, for=\"[2001:db8::17]:4711\"",
        )]);
        assert_eq!(at(&fwd, Forwarded, &trusted), "2001:db8::17");
        // Nothing forwarded: the proxy itself.
        assert_eq!(at(&HeaderMap::new(), XForwardedFor, &trusted), "10.0.0.5");
        // A spoofed leftmost entry does not win over the real nearest hop.
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        assert_eq!(at(&spoofed, XForwardedFor, &trusted), "203.0.113.9");
    }

    #[test]
    fn a_client_s_own_header_values_never_name_it() {
        use ClientIpHeader::{Forwarded, XForwardedFor};
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let at = |headers: &HeaderMap, header| {
            client_address(proxy, headers, header, &trusted).to_string()
        };
        // The proxy appends to X-Forwarded-For; a Forwarded header the
        // client sent is not read.
        let both = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=1.2.3.4"),
        ]);
        assert_eq!(at(&both, XForwardedFor), "203.0.113.9");
        // Garbage the client put before the proxy's entry cuts nothing.
        let garbage = headers(&[("x-forwarded-for", "1.2.3.4, not-an-ip, 203.0.113.9")]);
        assert_eq!(at(&garbage, XForwardedFor), "203.0.113.9");
        // An unparsable entry where the proxy's should be: the proxy is the
        // client, never an address to its left.
        let cut = headers(&[("x-forwarded-for", "1.2.3.4, unknown")]);
        assert_eq!(at(&cut, XForwardedFor), "10.0.0.5");
        let cut = headers(&[("forwarded", "for=1.2.3.4, for=_hidden")]);
        assert_eq!(at(&cut, Forwarded), "10.0.0.5");
        // A client claiming a trusted address first gains nothing either.
        let inner = headers(&[("x-forwarded-for", "1.2.3.4, 10.9.9.9, 203.0.113.9")]);
        assert_eq!(at(&inner, XForwardedFor), "203.0.113.9");
    }
}
