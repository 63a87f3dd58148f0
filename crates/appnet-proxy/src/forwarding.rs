//! A proxy's duties to the message it passes on (RFC 9110 §7.6): the hop-by-hop fields —
//! `Connection` and every field it names, and the fixed list — removed in both directions;
//! `Via` added; the client's address appended to `X-Forwarded-For` on requests.

use std::net::IpAddr;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Fields that belong to one connection, never forwarded (RFC 9110 §7.6.1 and common use).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

/// The `Via` entry this proxy adds: `1.1 appnet`.
pub const VIA: &str = "1.1 appnet";

/// Removes the hop-by-hop fields of `headers` (Transfer-Encoding included: hyper frames the
/// body again for the next hop).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

/// Adds this proxy to `Via` (after any earlier hops).
pub fn add_via(headers: &mut HeaderMap) {
    headers.append(header::VIA, HeaderValue::from_static(VIA));
}

/// Appends `client` to `X-Forwarded-For`.
pub fn add_forwarded_for(headers: &mut HeaderMap, client: IpAddr) {
    let name = HeaderName::from_static("x-forwarded-for");
    let value = match headers.get(&name).and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {client}"),
        None => client.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_what_it_names_go_the_rest_stay() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, X-Secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic x"),
            ("transfer-encoding", "chunked"),
            ("accept", "*/*"),
        ] {
            headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        strip_hop_by_hop(&mut headers);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["accept"]);
        add_via(&mut headers);
        add_forwarded_for(&mut headers, "127.0.0.9".parse().unwrap());
        add_forwarded_for(&mut headers, "::1".parse().unwrap());
        assert_eq!(headers["via"], "1.1 appnet");
        assert_eq!(headers["x-forwarded-for"], "127.0.0.9, ::1");
    }
}
