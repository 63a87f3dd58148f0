//! GET and HEAD through the store (RFC 9111 §4): a fresh stored response is served; a stale
//! one within `stale-while-revalidate` is served while a refresh runs in the background;
//! otherwise one request per URL goes upstream (the others collapse onto it), conditional
//! when something is stored, and a 304 freshens the stored copy. An origin that is down or
//! failing is stood in for by a stale copy within `stale-if-error`.
//!
//! A small response (a known length up to [`WHOLE_UP_TO`]) is read whole before it is
//! answered, so a broken one becomes a 502; a larger or chunked one is streamed to the
//! client as it comes and kept on the side for the store ([`crate::tee`]), stored only if it
//! arrives whole.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use appnet_cache::freshness::Stored;
use appnet_cache::{Headers, storable, targeted, validation};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderMap;
use hyper::{Response, StatusCode, Uri};

use crate::flights::{self, Guard, Role};
use crate::reply::{self, ClientAsk, plain, serve_stored};
use crate::routes::Route;
use crate::server::Proxy;
use crate::store::Object;
use crate::tee::{OnWhole, Tee};
use crate::upstream::{self, Failure, MAX_BODY, ProxyBody, UPSTREAM_TIMEOUT, boxed};

/// Bodies of a known length up to this are read whole before they are answered.
const WHOLE_UP_TO: u64 = 1 << 20;

/// What one upstream exchange left in the store.
enum Outcome {
    /// A 304 confirmed the stored response; here it is, freshened.
    Confirmed(Arc<Object>),
    /// A full response, stored or not (`stored`).
    Full { object: Object, stored: bool },
    /// A response being streamed to the client (stored when it ends, if it may be).
    Streaming(Response<ProxyBody>),
}

/// A GET or HEAD as the cache sees it.
pub(crate) struct Lookup<'a> {
    pub(crate) key: &'a str,
    pub(crate) target: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) peer: SocketAddr,
    /// A HEAD: answered from the GET the cache makes.
    pub(crate) head: bool,
    /// A reverse proxy's route for it; `None`: fetch `target` itself.
    pub(crate) route: Option<&'a Arc<Route>>,
}

impl Proxy {
    /// Answers a GET or HEAD from the store or through it; also says what it did.
    pub(crate) async fn through_cache(
        self: &Arc<Self>,
        lookup: Lookup<'_>,
    ) -> (Response<ProxyBody>, &'static str) {
        let ask = ClientAsk::of(&hyper::Method::GET, lookup.headers);
        let ask = ClientAsk { head: lookup.head, ..ask };
        let varying = headers_of(lookup.headers);
        let stored = self.stored(lookup.key, &varying, &ask).await;
        let now = SystemTime::now();
        if let Some(object) =
            stored.as_ref().filter(|o| o.stored.is_fresh(now, true, &ask.directives))
        {
            self.stats.hits.inc();
            return (boxed(self.served(object, now, &ask, "hit")), "hit");
        }
        if ask.directives.only_if_cached {
            let text = "504 Gateway Timeout: not in the cache";
            return (boxed(plain(StatusCode::GATEWAY_TIMEOUT, text)), "miss");
        }
        if let Some(object) =
            stored.as_ref().filter(|o| self.may_serve_while_revalidating(o, &ask, now))
        {
            self.refresh_in_background(&lookup, object.clone(), varying.clone());
            self.stats.hits.inc();
            self.stats.stale_while_revalidate.inc();
            let how = "hit; fwd=stale; detail=stale-while-revalidate";
            return (boxed(self.served(object, now, &ask, how)), "stale-while-revalidate");
        }
        // One fetch per URL at a time: wait for one in flight, then look again.
        let mut _lead = None;
        let mut stored = stored;
        if !self.flights.is_uncacheable(lookup.key, Instant::now()) {
            match self.flights.join(lookup.key) {
                Role::Leader(guard) => _lead = Some(guard),
                Role::Follower(follower) => {
                    flights::wait(follower, UPSTREAM_TIMEOUT + Duration::from_secs(1)).await;
                    stored = self.stored(lookup.key, &varying, &ask).await;
                    let now = SystemTime::now();
                    if let Some(object) =
                        stored.as_ref().filter(|o| o.stored.is_fresh(now, true, &ask.directives))
                    {
                        self.stats.collapsed.inc();
                        let response = self.served(object, now, &ask, "fwd=uri-miss; collapsed");
                        return (boxed(response), "collapsed");
                    }
                }
            }
        }
        self.stats.misses.inc();
        self.miss(&lookup, stored, &varying, &ask, _lead).await
    }

    /// The stored variant for the request, unless it asked for no-store: from memory, else
    /// from the disk (read on a blocking thread).
    async fn stored(
        self: &Arc<Self>,
        key: &str,
        varying: &Headers,
        ask: &ClientAsk,
    ) -> Option<Arc<Object>> {
        if ask.directives.no_store {
            return None;
        }
        if let Some(object) = self.store.get(key, varying) {
            return Some(object);
        }
        if !self.store.has_disk() {
            return None;
        }
        let (proxy, key, varying) = (self.clone(), key.to_owned(), varying.clone());
        tokio::task::spawn_blocking(move || proxy.store.get_from_disk(&key, &varying))
            .await
            .ok()
            .flatten()
    }

    /// A stored response served, its bytes counted (the caller counts the request as a hit,
    /// a collapsed one or a miss).
    fn served(
        &self,
        object: &Object,
        now: SystemTime,
        ask: &ClientAsk,
        how: &str,
    ) -> Response<Full<Bytes>> {
        let response = serve_stored(object, now, ask, how, &self.strip);
        if !ask.head {
            self.stats.bytes_from_cache.inc_by(object.body.len() as u64);
        }
        response
    }

    /// Whether a stale `object` may be served now while it is refreshed (RFC 5861 §3): its
    /// staleness within the response's `stale-while-revalidate`, nothing forbidding stale
    /// use, and the client not insisting on a fresh answer.
    fn may_serve_while_revalidating(
        &self,
        object: &Object,
        ask: &ClientAsk,
        now: SystemTime,
    ) -> bool {
        let control = object.stored.cache_control();
        let Some(window) = control.stale_while_revalidate else { return false };
        if control.must_revalidate || control.proxy_revalidate || control.no_cache {
            return false;
        }
        let asked = &ask.directives;
        if asked.no_cache || asked.max_age.is_some() || asked.min_fresh.is_some() {
            return false;
        }
        reply::staleness(object, now) <= Duration::from_secs(window)
    }

    /// Refreshes `object` upstream in a task of its own, unless a fetch for it is in flight.
    fn refresh_in_background(
        self: &Arc<Self>,
        lookup: &Lookup<'_>,
        object: Arc<Object>,
        varying: Headers,
    ) {
        let proxy = self.clone();
        let (key, target, headers, peer) =
            (lookup.key.to_owned(), lookup.target.clone(), lookup.headers.clone(), lookup.peer);
        let route = lookup.route.cloned();
        tokio::spawn(async move {
            let Some(_lead) = proxy.flights.lead(&key) else { return };
            let lookup = Lookup {
                key: &key,
                target: &target,
                headers: &headers,
                peer,
                head: false,
                route: route.as_ref(),
            };
            // No client waits: the body is read whole.
            let exchanged = proxy.exchange(&lookup, Some(&object), &varying, None, None).await;
            if let Err(failure) = exchanged {
                let status = failure.response.status();
                tracing::debug!(url = %key, %status, "background refresh failed");
            }
        });
    }

    /// Goes upstream for a request the store could not answer.
    async fn miss(
        self: &Arc<Self>,
        lookup: &Lookup<'_>,
        stored: Option<Arc<Object>>,
        varying: &Headers,
        ask: &ClientAsk,
        lead: Option<Guard>,
    ) -> (Response<ProxyBody>, &'static str) {
        let result = self.exchange(lookup, stored.as_deref(), varying, Some(ask), lead).await;
        let received = SystemTime::now();
        // The origin down or failing: a stale copy still within stale-if-error (RFC 5861 §4,
        // from the response or the request) is better than an error.
        let failed = match &result {
            Err(_) => true,
            Ok(Outcome::Full { object, .. }) => object.stored.status >= 500,
            Ok(Outcome::Streaming(response)) => response.status().is_server_error(),
            Ok(Outcome::Confirmed(_)) => false,
        };
        if let Some(object) = stored.as_ref().filter(|o| failed && stale_if_error(o, ask, received))
        {
            self.stats.stale_if_error.inc();
            let how = "hit; fwd=stale; detail=stale-if-error";
            return (boxed(self.served(object, received, ask, how)), "stale-if-error");
        }
        match result {
            Err(failure) => (boxed(failure.response), "fwd=miss"),
            Ok(Outcome::Streaming(response)) => (response, "miss, streamed"),
            Ok(Outcome::Confirmed(object)) => {
                let how = "fwd=stale; fwd-status=304";
                let response = serve_stored(&object, received, ask, how, &self.strip);
                (boxed(response), "revalidated")
            }
            Ok(Outcome::Full { object, stored: was_stored }) => {
                let what = if stored.is_some() { "fwd=stale" } else { "fwd=uri-miss" };
                let fwd_status = object.stored.status;
                // The client's own conditions and range are answered from the new response
                // as from a stored one.
                let mut response = serve_stored(&object, received, ask, what, &self.strip);
                let status = if was_stored {
                    format!("{what}; fwd-status={fwd_status}; stored")
                } else {
                    format!("{what}; fwd-status={fwd_status}")
                };
                reply::cache_status(&mut response, &status);
                response.headers_mut().remove(hyper::header::AGE);
                if let Some(age) = object.stored.headers.get("age") {
                    if let Ok(value) = age.parse::<hyper::header::HeaderValue>() {
                        response.headers_mut().insert(hyper::header::AGE, value);
                    }
                }
                (boxed(response), if was_stored { "miss, stored" } else { "miss" })
            }
        }
    }

    /// One upstream GET for `lookup` (conditional on `stored`), and what it left in the
    /// store. A large or chunked body is streamed to the client that `ask`ed (none: a
    /// background refresh, read whole); the flight's `lead` then rides with the body until it
    /// is stored. The error is the response the client gets.
    async fn exchange(
        self: &Arc<Self>,
        lookup: &Lookup<'_>,
        stored: Option<&Object>,
        varying: &Headers,
        ask: Option<&ClientAsk>,
        lead: Option<Guard>,
    ) -> Result<Outcome, Failure> {
        let conditions =
            stored.map(|o| validation::conditional_headers(&o.stored)).unwrap_or_default();
        let sent = SystemTime::now();
        self.stats.upstream_requests.inc();
        let fetched = self.get(lookup, &conditions).await?;
        let received = SystemTime::now();
        let fields = crate::server::fields(&fetched.headers);
        if fetched.status == StatusCode::NOT_MODIFIED {
            if let Some(object) = stored.filter(|_| !conditions.is_empty()) {
                upstream::whole(fetched.body).await?;
                let mut freshened = validation::freshen(&object.stored, &fields, sent, received);
                freshened.targeted = targeted::select(&freshened.headers, &self.targets);
                let refreshed = Object { stored: freshened, body: object.body.clone() };
                // The 304's fields may forbid keeping it (no-store, private): then only this
                // client gets the freshened copy.
                if may_keep(&refreshed.stored) {
                    let kept = Object {
                        stored: for_storage(&refreshed.stored),
                        body: refreshed.body.clone(),
                    };
                    self.store.put(lookup.key, varying, kept);
                } else {
                    self.store.invalidate(lookup.key);
                }
                self.stats.revalidated.inc();
                self.note_store();
                return Ok(Outcome::Confirmed(Arc::new(refreshed)));
            }
        }
        let headers = Headers(fields);
        let targeted = targeted::select(&headers, &self.targets);
        let head = Stored {
            request_time: sent,
            response_time: received,
            status: fetched.status.as_u16(),
            headers,
            targeted,
        };
        let may = storable::may_store("GET", varying, head.status, &storage_rules(&head), true);
        // What is stored for everyone goes only when the response itself forbids storing
        // (not this request's no-store or Authorization), and never for an error: a stale
        // copy may yet stand in for the failing origin (stale-if-error).
        if !may_keep(&head) && head.status < 500 {
            self.store.invalidate(lookup.key);
        }
        self.flights.note_storable(lookup.key, may, Instant::now());
        let length = hyper::body::Body::size_hint(&fetched.body).exact();
        if let Some(ask) = ask.filter(|_| length.is_none_or(|n| n > WHOLE_UP_TO)) {
            let response = self.stream(lookup, varying, head, fetched, may, lead, ask);
            return Ok(Outcome::Streaming(response));
        }
        let body = upstream::whole(fetched.body).await?;
        self.stats.bytes_from_upstream.inc_by(body.len() as u64);
        let object = Object { stored: head, body };
        let kept = Object { stored: for_storage(&object.stored), body: object.body.clone() };
        let stored_now = may && self.store.put(lookup.key, varying, kept);
        self.note_store();
        Ok(Outcome::Full { object, stored: stored_now })
    }

    /// The client's response streaming `fetched`'s body, which is stored if it may be and
    /// arrives whole (within [`MAX_BODY`]). The client's own conditions are answered from
    /// the head (a 304, the body then read on for the store alone); a range is not cut from
    /// a body still coming: the whole 200 is sent (RFC 9110 §14.2 allows it); HEAD gets the
    /// head (hyper sends no body for it).
    #[allow(clippy::too_many_arguments)]
    fn stream(
        self: &Arc<Self>,
        lookup: &Lookup<'_>,
        varying: &Headers,
        head: Stored,
        fetched: upstream::Fetched,
        may: bool,
        lead: Option<Guard>,
        ask: &ClientAsk,
    ) -> Response<ProxyBody> {
        let probe = Object { stored: head.clone(), body: Bytes::new() };
        let not_modified = reply::not_modified(&probe, ask);
        let (mut status, mut fields) = (fetched.status, fetched.headers);
        if not_modified {
            status = StatusCode::NOT_MODIFIED;
            fields.remove(hyper::header::CONTENT_LENGTH);
        }
        crate::forwarding::strip_hop_by_hop(&mut fields);
        crate::forwarding::add_via(&mut fields);
        for name in &self.strip {
            fields.remove(name.as_str());
        }
        let on_whole: Option<OnWhole> = may.then(|| {
            let (proxy, key, varying) = (self.clone(), lookup.key.to_owned(), varying.clone());
            let head = for_storage(&head);
            Box::new(move |body: Bytes| {
                proxy.stats.bytes_from_upstream.inc_by(body.len() as u64);
                proxy.store.put(&key, &varying, Object { stored: head, body });
                proxy.note_store();
                // Only now may the requests waiting for this fetch look in the store.
                drop(lead);
            }) as OnWhole
        });
        let body = Tee::new(fetched.body, self.store.largest_keepable(MAX_BODY), on_whole);
        let mut response = if not_modified {
            // Dropped unread: the tee reads the rest for the store in the background.
            drop(body);
            boxed(Response::new(Full::new(Bytes::new())))
        } else {
            Response::new(http_body_util::BodyExt::boxed_unsync(body))
        };
        *response.status_mut() = status;
        *response.headers_mut() = fields;
        let what = format!("fwd=uri-miss; fwd-status={}", status.as_u16());
        if let Ok(value) = hyper::header::HeaderValue::from_str(&format!("appnet; {what}")) {
            response.headers_mut().insert("cache-status", value);
        }
        response
    }

    /// GETs `lookup`'s URL: from its own host (forward proxy), or from its route's origins
    /// in turn, the next one tried when one is down, each result counted for its health.
    async fn get(
        &self,
        lookup: &Lookup<'_>,
        conditions: &[(&'static str, String)],
    ) -> Result<upstream::Fetched, Failure> {
        let (headers, peer) = (lookup.headers, lookup.peer);
        let Some(route) = lookup.route else {
            return upstream::fetch(&self.upstream, headers, lookup.target, peer, conditions).await;
        };
        let mut tried = Vec::new();
        let mut last = None;
        loop {
            let picked = {
                let mut pool = route.pool();
                pool.pick(&tried).map(|index| (index, pool.uri(index).clone()))
            };
            let Some((index, origin)) = picked else { break };
            tried.push(index);
            let Some(target) = upstream::on_origin(&origin, lookup.target) else { continue };
            match upstream::fetch(&self.upstream, headers, &target, peer, conditions).await {
                Ok(fetched) => {
                    route.pool().report(index, true);
                    return Ok(fetched);
                }
                Err(failure) if failure.origin_down => {
                    route.report_failure(index);
                    last = Some(failure);
                }
                Err(failure) => return Err(failure),
            }
        }
        Err(last.unwrap_or_else(|| Failure {
            response: plain(StatusCode::BAD_GATEWAY, "502 Bad Gateway: no origin"),
            origin_down: true,
        }))
    }

    fn note_store(&self) {
        self.stats.stored_bytes.set(i64::try_from(self.store.bytes()).unwrap_or(i64::MAX));
    }
}

/// Whether a shared cache may keep `head` (judged by the response alone, through this
/// cache's targeted field if any).
fn may_keep(head: &Stored) -> bool {
    storable::may_store("GET", &Headers::default(), head.status, &storage_rules(head), true)
}

/// The fields the storage rules read for `head`: its own, or with a targeted field obeyed,
/// that field's directives as its Cache-Control and no Expires.
fn storage_rules(head: &Stored) -> Headers {
    match &head.targeted {
        Some(directives) => targeted::effective(&head.headers, directives),
        None => head.headers.clone(),
    }
}

/// The head to store of a response: without the fields a qualified `private="…"` names
/// (RFC 9111 §5.2.2.7: a shared cache must not store them; the client that caused the fetch
/// still gets them).
fn for_storage(head: &Stored) -> Stored {
    let control = head.cache_control();
    let mut kept = head.clone();
    if control.private && !control.private_fields.is_empty() {
        kept.headers.0.retain(|(name, _)| !control.private_fields.contains(name));
    }
    kept
}

/// Whether `object`, stale at `now`, may still stand in for an origin in trouble: its staleness
/// within the response's or the request's `stale-if-error`, and `must-revalidate` absent.
fn stale_if_error(object: &Object, ask: &ClientAsk, now: SystemTime) -> bool {
    let control = object.stored.cache_control();
    if control.must_revalidate || control.proxy_revalidate {
        return false;
    }
    // The origin's own stale-if-error stands even with s-maxage (`s-maxage=60,
    // stale-if-error=600` is how CDNs are told to ride out outages); a client's may not
    // override s-maxage's "revalidate when stale" (RFC 9111 §5.2.2.10).
    if control.stale_if_error.is_none() && control.s_maxage.is_some() {
        return false;
    }
    let Some(window) = control.stale_if_error.or(ask.directives.stale_if_error) else {
        return false;
    };
    reply::staleness(object, now) <= Duration::from_secs(window)
}

fn headers_of(headers: &HeaderMap) -> Headers {
    Headers(crate::server::fields(headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_a_qualified_private_names_are_not_stored() {
        let now = SystemTime::now();
        let fields = [
            ("cache-control", "private=\"set-cookie, x-user\", max-age=60"),
            ("set-cookie", "session=1"),
            ("x-user", "ann"),
            ("content-type", "text/plain"),
        ];
        let head = Stored {
            request_time: now,
            response_time: now,
            status: 200,
            headers: Headers(fields.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect()),
            targeted: None,
        };
        let kept = for_storage(&head);
        let names: Vec<&str> = kept.headers.0.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["cache-control", "content-type"]);
        let plain = Stored { headers: Headers(vec![("set-cookie".into(), "a=b".into())]), ..head };
        assert_eq!(for_storage(&plain), plain, "nothing named, nothing dropped");
    }
}
