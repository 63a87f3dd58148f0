//! Requests to origins: the cache's own GETs (whole representations, conditional when
//! revalidating), other methods passed on body and all, and CONNECT tunnels.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{HttpConnector, capture_connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::connection_uses::{self, CountingConnector};
use crate::forwarding;
use crate::policy::Policy;
use crate::reply::plain;
use crate::resend;

/// Largest response body the proxy holds (to store it, or to pass it on).
pub(crate) const MAX_BODY: usize = 64 << 20;

/// Time allowed for an upstream response.
pub(crate) const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// The keep-alive pool of connections to origins.
pub(crate) type Upstream = Client<CountingConnector, OutgoingBody>;

/// A request body as the pool sends it.
pub(crate) type OutgoingBody = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

/// A client with a pool of idle connections kept 30 s, Nagle off.
pub(crate) fn pool() -> Upstream {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(10)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(CountingConnector(connector))
}

/// A request the pool got no response to, and whether its connection had carried one before.
pub(crate) struct Unanswered {
    error: hyper_util::client::legacy::Error,
    reused: bool,
}

/// Sends one request through the pool: every request to an origin goes this way, so that
/// each connection's count of requests is right.
pub(crate) async fn request(
    upstream: &Upstream,
    mut request: Request<OutgoingBody>,
) -> Result<Response<Incoming>, Unanswered> {
    let captured = capture_connection(&mut request);
    let answer = upstream.request(request).await;
    let reused = connection_uses::was_reused(&captured);
    answer.map_err(|error| Unanswered { error, reused })
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
    let (head, ()) = request
        .body(())
        .map_err(|_| Failure::exchange(plain(StatusCode::BAD_REQUEST, "400 Bad Request")))?
        .into_parts();
    let (parts, body) =
        send_held(upstream, head, Bytes::new()).await.map_err(Failure::origin_down)?.into_parts();
    Ok(Fetched { status: parts.status, headers: parts.headers, body })
}

/// Sends `request` (its body streamed) within [`UPSTREAM_TIMEOUT`].
async fn send(
    upstream: &Upstream,
    request: Request<OutgoingBody>,
) -> Result<Response<Incoming>, Response<Full<Bytes>>> {
    tokio::time::timeout(UPSTREAM_TIMEOUT, self::request(upstream, request))
        .await
        .map_err(|_| timed_out())?
        .map_err(|unanswered| bad_gateway(&unanswered.error))
}

/// Sends a request whose body is held whole within [`UPSTREAM_TIMEOUT`], and once more if
/// a reused connection closed before any response (see [`resend`]).
async fn send_held(
    upstream: &Upstream,
    head: hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Incoming>, Response<Full<Bytes>>> {
    let held = |body: Bytes| Full::new(body).map_err(|never| match never {}).boxed();
    let exchange = async {
        let first = request(upstream, Request::from_parts(head.clone(), held(body.clone()))).await;
        match first {
            Err(Unanswered { error, reused: true }) if resend::nothing_came(&error) => {
                tracing::debug!(%error, uri = %head.uri, "a reused connection closed unanswered; sent again");
                request(upstream, Request::from_parts(head, held(body))).await
            }
            answered => answered,
        }
    };
    tokio::time::timeout(UPSTREAM_TIMEOUT, exchange)
        .await
        .map_err(|_| timed_out())?
        .map_err(|unanswered| bad_gateway(&unanswered.error))
}

fn timed_out() -> Response<Full<Bytes>> {
    plain(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Timeout: the origin did not answer")
}

fn bad_gateway(error: &hyper_util::client::legacy::Error) -> Response<Full<Bytes>> {
    plain(StatusCode::BAD_GATEWAY, &format!("502 Bad Gateway: {error}"))
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

/// Passes any other request on to `target`, body and all, both ways streamed; except that
/// the body of an idempotent request of at most [`resend::HELD_BODY`] is read whole first, so
/// that the request can be sent again (see [`resend`]).
pub(crate) async fn forward<B>(
    upstream: &Upstream,
    request: Request<B>,
    target: &Uri,
    peer: SocketAddr,
) -> Result<Response<ProxyBody>, Failure>
where
    B: hyper::body::Body<Data = Bytes, Error = hyper::Error> + Send + Sync + 'static,
{
    let (mut parts, body) = request.into_parts();
    parts.uri = target.clone();
    forwarding::strip_hop_by_hop(&mut parts.headers);
    forwarding::add_via(&mut parts.headers);
    forwarding::add_forwarded_for(&mut parts.headers, peer.ip());
    let response = if resend::may_resend(&parts.method, &parts.headers) {
        let limit = usize::try_from(resend::HELD_BODY).unwrap_or(usize::MAX);
        let read = tokio::time::timeout(UPSTREAM_TIMEOUT, Limited::new(body, limit).collect());
        let Ok(Ok(body)) = read.await else {
            let refusal = "400 Bad Request: the request body did not come whole";
            return Err(Failure::exchange(plain(StatusCode::BAD_REQUEST, refusal)));
        };
        send_held(upstream, parts, body.to_bytes()).await
    } else {
        send(upstream, Request::from_parts(parts, body.boxed())).await
    };
    let (mut parts, body) = response.map_err(Failure::origin_down)?.into_parts();
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use hyper::Method;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// What the origin below received: method, path and body of each request, in order.
    type Received = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

    /// An origin that answers the first request on each connection (keeping it alive) and
    /// closes the connection on reading the second, unanswered: the race of an origin's idle
    /// close with the proxy's reuse, made to happen every time. `/dropped` is never answered.
    async fn closing_origin() -> (SocketAddr, Received) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Received::default();
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((mut connection, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    for answered in [true, false] {
                        let Some(request) = read_request(&mut connection, &mut buffer).await else {
                            return;
                        };
                        let dropped = request.1 == "/dropped";
                        log.lock().unwrap().push(request);
                        if dropped {
                            return;
                        }
                        if answered {
                            let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                            connection.write_all(response).await.unwrap();
                        }
                    }
                });
            }
        });
        (address, received)
    }

    async fn read_request(
        connection: &mut TcpStream,
        buffer: &mut Vec<u8>,
    ) -> Option<(String, String, Vec<u8>)> {
        let mut chunk = [0; 4096];
        let end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let read = connection.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
            buffer.extend_from_slice(&chunk[..read]);
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        let length = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_owned)
            })
            .map_or(0, |length| length.trim().parse::<usize>().unwrap());
        while buffer.len() < end + length {
            let read = connection.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
            buffer.extend_from_slice(&chunk[..read]);
        }
        let body = buffer[end..end + length].to_vec();
        buffer.drain(..end + length);
        let mut words = head.split(' ');
        let method = words.next()?.to_owned();
        Some((method, words.next()?.to_owned(), body))
    }

    fn request(method: Method, uri: &Uri, body: &'static [u8]) -> Request<OutgoingBody> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_LENGTH, body.len())
            .body(Full::new(Bytes::from_static(body)).map_err(|never| match never {}).boxed())
            .unwrap()
    }

    #[tokio::test]
    async fn an_idempotent_request_meeting_a_closed_connection_is_sent_once_more() {
        let (origin, received) = closing_origin().await;
        let upstream = pool();
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let uri = |path: &str| format!("http://{origin}{path}").parse::<Uri>().unwrap();
        let seen = || received.lock().unwrap().clone();
        let first = fetch(&upstream, &HeaderMap::new(), &uri("/a"), peer, &[]).await.ok().unwrap();
        assert_eq!(whole(first.body).await.ok().unwrap(), "ok");
        // The kept-alive connection is reused and closed under the GET: asked again.
        let again = fetch(&upstream, &HeaderMap::new(), &uri("/b"), peer, &[]).await.ok().unwrap();
        assert_eq!(
            (again.status, whole(again.body).await.ok().unwrap()),
            (StatusCode::OK, "ok".into())
        );
        let paths: Vec<_> = seen().into_iter().map(|(_, path, _)| path).collect();
        assert_eq!(paths, ["/a", "/b", "/b"]);
        // A PUT, its small body held, likewise: the origin gets the body both times.
        let (c, d) = (uri("/c"), uri("/d"));
        let put =
            forward(&upstream, request(Method::PUT, &c, b"data"), &c, peer).await.ok().unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        let puts: Vec<_> = seen().into_iter().filter(|(method, ..)| method == "PUT").collect();
        assert_eq!(puts.len(), 2, "{puts:?}");
        assert!(puts.iter().all(|(_, path, body)| path == "/c" && body == b"data"), "{puts:?}");
        // A POST is not idempotent: sent once, and the client hears of the failure.
        let post = forward(&upstream, request(Method::POST, &d, b"once"), &d, peer).await;
        let Err(failure) = post else { panic!("a POST with no response must fail") };
        assert_eq!(failure.response.status(), StatusCode::BAD_GATEWAY);
        assert!(failure.origin_down);
        let posts = seen().into_iter().filter(|(method, ..)| method == "POST").count();
        assert_eq!(posts, 1);
        // A fresh connection closed unanswered is the origin refusing this request: not again.
        let fresh = pool();
        let dropped = fetch(&fresh, &HeaderMap::new(), &uri("/dropped"), peer, &[]).await;
        let Err(failure) = dropped else { panic!("a dropped request must fail") };
        assert_eq!(
            (failure.response.status(), failure.origin_down),
            (StatusCode::BAD_GATEWAY, true)
        );
        assert_eq!(seen().iter().filter(|(_, path, _)| path == "/dropped").count(), 1);
    }
}
