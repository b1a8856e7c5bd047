//! The client's address, for per-address limits: the connection's peer, or, when the peer is a
//! trusted proxy (TRUSTED_PROXIES), the nearest address in `X-Forwarded-For` that is not one.
//!
//! Only the right end of `X-Forwarded-For` is believed: each proxy appends the address it saw,
//! so everything left of the last trusted hop is whatever the client chose to write.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::state::AppState;

/// Where the request came from, as far as can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The address used when the server cannot know the peer (a router driven without a socket,
/// as some tests do): every such request shares one budget.
const UNKNOWN: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(Self(client_ip(
            peer,
            &parts.headers,
            &state.settings.trusted_proxies,
        )))
    }
}

/// The client address of a request from `peer` with `headers`, believing `X-Forwarded-For`
/// only as far as `trusted` proxies vouch for it.
#[must_use]
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let Some(peer) = peer.map(canonical) else {
        return UNKNOWN;
    };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Every X-Forwarded-For header, in order, as one list; walk it from the right.
    let mut hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    while let Some(hop) = hops.pop() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(&ip) => client = ip,
            Some(ip) => return ip,
            // A hop that is not an address: nothing left of it can be believed.
            None => return client,
        }
    }
    client
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or
/// `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|a| canonical(a.ip()))
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(
            client_ip(Some(ip("198.51.100.1")), &h, &[]),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_last_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client wrote a fake first hop; the proxy appended what it saw.
        let h = headers(&["1.1.1.1, 203.0.113.9"]);
        assert_eq!(
            client_ip(Some(ip("10.1.2.3")), &h, &trusted),
            ip("203.0.113.9")
        );
        // Two proxies, both trusted.
        let h = headers(&["1.1.1.1", "203.0.113.9, 10.9.9.9"]);
        assert_eq!(
            client_ip(Some(ip("10.1.2.3")), &h, &trusted),
            ip("203.0.113.9")
        );
        // Ports and brackets as some proxies write them.
        let h = headers(&["[2001:db8::7]:443"]);
        assert_eq!(
            client_ip(Some(ip("10.1.2.3")), &h, &trusted),
            ip("2001:db8::7")
        );
        let h = headers(&["203.0.113.9:5000"]);
        assert_eq!(
            client_ip(Some(ip("10.1.2.3")), &h, &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_spoofed_header_from_an_untrusted_peer_changes_nothing() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&["10.0.0.1"]);
        assert_eq!(
            client_ip(Some(ip("203.0.113.9")), &h, &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn garbage_stops_the_walk_and_no_header_means_the_proxy_itself() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&["203.0.113.9, not-an-ip"]);
        assert_eq!(
            client_ip(Some(ip("10.1.2.3")), &h, &trusted),
            ip("10.1.2.3")
        );
        assert_eq!(
            client_ip(Some(ip("10.1.2.3")), &HeaderMap::new(), &trusted),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn mapped_ipv4_peers_are_ipv4_and_no_peer_is_unknown() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&["203.0.113.9"]);
        assert_eq!(
            client_ip(Some(ip("::ffff:10.0.0.5")), &h, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(client_ip(None, &h, &trusted), UNKNOWN);
    }
}
