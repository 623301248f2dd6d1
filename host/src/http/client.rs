//! Who is on the other end: the client IP and whether the request came over https.
//!
//! The TCP peer is the answer unless it is a trusted proxy (`--trusted-proxy CIDR`, none by default). Then
//! `X-Forwarded-For` is read from the right (the hop the trusted proxy appended) leftwards, skipping trusted
//! addresses: the first untrusted one is the client. At most `MAX_FORWARDED_HOPS` hops are read; an unparsable hop
//! stops the walk at the last good address. `X-Forwarded-Proto: https` from a trusted peer marks the request
//! https (the session cookie then gets `Secure`). Headers from an untrusted peer are ignored: anyone can send them.

use axum::http::HeaderMap;
pub use ipnet::IpNet;
use std::net::IpAddr;

/// Hops of `X-Forwarded-For` read at most.
pub const MAX_FORWARDED_HOPS: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    /// The request reached a trusted proxy over https.
    pub https: bool,
}

/// A `--trusted-proxy` value: a CIDR range (`10.0.0.0/8`, `fd00::/8`) or a single address.
pub fn parse_trusted_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("'{s}' is not an IP address or CIDR range (e.g. 10.0.0.0/8)"))
}

fn trusted(ranges: &[IpNet], ip: &IpAddr) -> bool {
    ranges.iter().any(|r| r.contains(ip))
}

/// One `X-Forwarded-For` hop: an address, possibly `[v6]`, `v4:port` or `[v6]:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse().ok())
}

pub fn client(ranges: &[IpNet], peer: IpAddr, headers: &HeaderMap) -> Client {
    let peer = peer.to_canonical();
    if !trusted(ranges, &peer) {
        return Client {
            ip: peer,
            https: false,
        };
    }
    let mut ip = peer;
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.iter().rev().take(MAX_FORWARDED_HOPS) {
        let Some(addr) = parse_hop(hop) else {
            break;
        };
        ip = addr.to_canonical();
        if !trusted(ranges, &ip) {
            break;
        }
    }
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    Client { ip, https }
}
