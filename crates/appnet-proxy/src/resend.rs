//! When a request may go to the origin a second time.
//!
//! The pool keeps idle connections to an origin for 30 s, and origins close theirs sooner
//! (Node and Apache after 5 s idle). When the origin's close crosses the proxy's reuse on the
//! wire, the request is written to a connection that is already going and no response comes:
//! the client would get a 502 for nothing and the origin a mark against its health. RFC 9110
//! §9.2.2 lets a proxy send an idempotent request again when the connection closed before a
//! response; the proxy does so once, for idempotent methods with a body small enough to hold.
//! hyper-util retries by itself only a request it had not yet written.

use std::error::Error as _;

use hyper::Method;
use hyper::header::{self, HeaderMap};

/// Largest request body held so that its request can be sent again; a longer one streams
/// through once.
pub(crate) const HELD_BODY: u64 = 64 << 10;

/// Whether a request with `method` and `headers` is held and may be sent again: idempotent
/// (RFC 9110 §9.2.2), and a body that is absent or declared at most [`HELD_BODY`] bytes.
pub(crate) fn may_resend(method: &Method, headers: &HeaderMap) -> bool {
    let idempotent =
        [Method::GET, Method::HEAD, Method::PUT, Method::DELETE, Method::OPTIONS, Method::TRACE]
            .contains(method);
    if !idempotent || headers.contains_key(header::TRANSFER_ENCODING) {
        return false;
    }
    match headers.get(header::CONTENT_LENGTH) {
        None => true,
        Some(length) => length
            .to_str()
            .ok()
            .and_then(|length| length.parse::<u64>().ok())
            .is_some_and(|length| length <= HELD_BODY),
    }
}

/// Whether an exchange failed with the connection closing (or reset) before any response:
/// the sign of a connection the origin closed as it was reused. A response cut short, a
/// malformed one, or a connection that could not be made is not: sending again would not
/// help, and the origin's health should hear of it.
pub(crate) fn nothing_came(error: &hyper_util::client::legacy::Error) -> bool {
    if error.is_connect() {
        return false;
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(error) = cause.downcast_ref::<hyper::Error>() {
            if error.is_incomplete_message() {
                return true;
            }
        }
        if let Some(error) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
            if matches!(error.kind(), ConnectionReset | BrokenPipe | ConnectionAborted) {
                return true;
            }
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (header::HeaderName::from_static(name), header::HeaderValue::from_static(value))
            })
            .collect()
    }

    #[test]
    fn only_idempotent_requests_with_small_declared_bodies_are_held() {
        assert!(may_resend(&Method::GET, &headers(&[])));
        assert!(may_resend(&Method::PUT, &headers(&[("content-length", "65536")])));
        assert!(may_resend(&Method::DELETE, &headers(&[("content-length", "0")])));
        assert!(!may_resend(&Method::PUT, &headers(&[("content-length", "65537")])));
        assert!(!may_resend(&Method::PUT, &headers(&[("content-length", "lots")])));
        assert!(!may_resend(&Method::PUT, &headers(&[("transfer-encoding", "chunked")])));
        assert!(!may_resend(&Method::POST, &headers(&[])));
        assert!(!may_resend(&Method::PATCH, &headers(&[("content-length", "2")])));
    }
}
