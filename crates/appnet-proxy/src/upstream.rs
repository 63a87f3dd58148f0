//! Requests to origins: the cache's own GETs (whole representations, conditional when
//! revalidating), other methods passed on body and all, and CONNECT tunnels.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::forwarding;
use crate::policy::Policy;
use crate::reply::plain;

/// Largest response body the proxy holds (to store it, or to pass it on).
pub(crate) const MAX_BODY: usize = 64 << 20;

/// Time allowed for an upstream response.
pub(crate) const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// The keep-alive pool of connections to origins.
pub(crate) type Upstream =
    Client<HttpConnector, http_body_util::combinators::BoxBody<Bytes, hyper::Error>>;

/// A client with a pool of idle connections kept 30 s, Nagle off.
pub(crate) fn pool() -> Upstream {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(10)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector)
}

/// Why an upstream exchange gave no usable response: the response the client gets, and
/// whether the origin itself failed (unreachable, refused, silent) rather than the exchange
/// (a body too large, cut short), so that only the first counts against its health and
/// sends the request to another origin.
pub(crate) struct Failure {
    pub(crate) response: Response<Full<Bytes>>,
    pub(crate) origin_down: bool,
}

impl Failure {
    fn origin_down(response: Response<Full<Bytes>>) -> Self {
        Self { response, origin_down: true }
    }

    fn exchange(response: Response<Full<Bytes>>) -> Self {
        Self { response, origin_down: false }
    }
}

/// An upstream response, its body still coming.
pub(crate) struct Fetched {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Incoming,
}

/// What the proxy sends its clients: a body of its own (whole) or one streamed from an origin.
pub(crate) type ProxyBody = http_body_util::combinators::UnsyncBoxBody<Bytes, hyper::Error>;

/// A response of the proxy's own (or built from a stored one), as sent.
pub(crate) fn boxed(response: Response<Full<Bytes>>) -> Response<ProxyBody> {
    response.map(|body| body.map_err(|never| match never {}).boxed_unsync())
}

/// The whole of an upstream body, which must arrive complete and within [`MAX_BODY`]: one cut
/// off or over the limit is never stored nor passed on as whole.
pub(crate) async fn whole(body: Incoming) -> Result<Bytes, Failure> {
    Limited::new(body, MAX_BODY).collect().await.map(http_body_util::Collected::to_bytes).map_err(
        |error| {
            Failure::exchange(plain(StatusCode::BAD_GATEWAY, &format!("502 Bad Gateway: {error}")))
        },
    )
}

/// GETs `target` for a client whose request head was `client`, with the cache's own
/// `conditions` instead of the client's, and never a range: the cache wants the whole
/// representation. Returns once the head has come. The error is the response the client
/// gets.
pub(crate) async fn fetch(
    upstream: &Upstream,
    client: &HeaderMap,
    target: &Uri,
    peer: SocketAddr,
    conditions: &[(&'static str, String)],
) -> Result<Fetched, Failure> {
    let mut request = Request::get(target.clone());
    if let Some(headers) = request.headers_mut() {
        *headers = client.clone();
        forwarding::strip_hop_by_hop(headers);
        forwarding::add_via(headers);
        forwarding::add_forwarded_for(headers, peer.ip());
        if let Some(authority) = target.authority() {
            if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
                headers.insert(header::HOST, value);
            }
        }
        // The client's validators and ranges are answered from what the cache gets.
        for name in
            [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE, header::RANGE, header::IF_RANGE]
        {
            headers.remove(name);
        }
        headers.remove(header::IF_MATCH);
        headers.remove(header::IF_UNMODIFIED_SINCE);
        for (name, value) in conditions {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(*name, value);
            }
        }
    }
    let request = request
        .body(Empty::<Bytes>::new().map_err(|never| match never {}).boxed())
        .map_err(|_| Failure::exchange(plain(StatusCode::BAD_REQUEST, "400 Bad Request")))?;
    let (parts, body) = send(upstream, request).await.map_err(Failure::origin_down)?.into_parts();
    Ok(Fetched { status: parts.status, headers: parts.headers, body })
}

/// Sends `request` within [`UPSTREAM_TIMEOUT`].
async fn send(
    upstream: &Upstream,
    request: Request<http_body_util::combinators::BoxBody<Bytes, hyper::Error>>,
) -> Result<Response<Incoming>, Response<Full<Bytes>>> {
    tokio::time::timeout(UPSTREAM_TIMEOUT, upstream.request(request))
        .await
        .map_err(|_| {
            plain(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Timeout: the origin did not answer")
        })?
        .map_err(|error| plain(StatusCode::BAD_GATEWAY, &format!("502 Bad Gateway: {error}")))
}

/// `public` (the URL a client asked a reverse proxy for) on `origin`.
pub(crate) fn on_origin(origin: &Uri, public: &Uri) -> Option<Uri> {
    let path = public.path_and_query().map_or("/", |p| p.as_str());
    Uri::builder()
        .scheme(origin.scheme_str().unwrap_or("http"))
        .authority(origin.authority()?.as_str())
        .path_and_query(path)
        .build()
        .ok()
}

/// Passes any other request on to `target`, body and all, both ways streamed.
pub(crate) async fn forward(
    upstream: &Upstream,
    request: Request<Incoming>,
    target: &Uri,
    peer: SocketAddr,
) -> Result<Response<ProxyBody>, Failure> {
    let (mut parts, body) = request.into_parts();
    parts.uri = target.clone();
    forwarding::strip_hop_by_hop(&mut parts.headers);
    forwarding::add_via(&mut parts.headers);
    forwarding::add_forwarded_for(&mut parts.headers, peer.ip());
    let request = Request::from_parts(parts, body.boxed());
    let (mut parts, body) =
        send(upstream, request).await.map_err(Failure::origin_down)?.into_parts();
    forwarding::strip_hop_by_hop(&mut parts.headers);
    forwarding::add_via(&mut parts.headers);
    Ok(Response::from_parts(parts, body.boxed_unsync()))
}

/// CONNECT host:port: 200, then bytes both ways between the client and the host.
pub(crate) fn tunnel(policy: &Policy, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(authority) = request.uri().authority().cloned() else {
        return plain(StatusCode::BAD_REQUEST, "400 Bad Request: CONNECT needs host:port");
    };
    let port = authority.port_u16().unwrap_or(443);
    let allowed = policy.host(authority.host()).and_then(|()| policy.connect_port(port));
    if let Err(refusal) = allowed {
        tracing::info!(%refusal, "refused");
        return plain(StatusCode::FORBIDDEN, &format!("403 Forbidden: {refusal}"));
    }
    tokio::spawn(async move {
        let upgraded = match hyper::upgrade::on(request).await {
            Ok(upgraded) => upgraded,
            Err(error) => return tracing::debug!(%error, "CONNECT upgrade failed"),
        };
        let target = format!("{}:{port}", authority.host());
        let Ok(Ok(mut server)) =
            tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&target)).await
        else {
            return tracing::debug!(%target, "CONNECT target unreachable");
        };
        let mut client = TokioIo::new(upgraded);
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    });
    Response::new(Full::new(Bytes::new()))
}
