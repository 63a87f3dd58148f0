//! Which origins serve which site, for a reverse proxy: routes by the request's host name
//! (`www.example.lab`, `*.example.lab` for it and every name under it), and a default route
//! for the rest; each route a pool of origins used in turn while healthy.

use std::sync::{Arc, Mutex, PoisonError};

use hyper::Uri;

use crate::origins::{HealthRules, OriginPool};

/// What a route is made from (the command line or the config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The host name it serves (`www.example.lab` or `*.example.lab`); `None`: every host no
    /// other route names.
    pub host: Option<String>,
    /// Its origins, `http://HOST:PORT`.
    pub origins: Vec<Uri>,
}

/// One route and its origins' health.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) host: Option<String>,
    pub(crate) pool: Mutex<OriginPool>,
}

impl Route {
    /// Counts a failed request against origin `index`, with a log line if that takes it out.
    pub(crate) fn report_failure(&self, index: usize) {
        let mut pool = self.pool();
        if pool.report(index, false) {
            tracing::warn!(origin = %pool.uri(index), "origin failing requests: out of use");
        }
    }

    /// The pool, locked (briefly: picks and reports only).
    pub(crate) fn pool(&self) -> std::sync::MutexGuard<'_, OriginPool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every route of a reverse proxy.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    routes: Vec<Arc<Route>>,
}

impl Routes {
    pub(crate) fn new(specs: &[RouteSpec], rules: &HealthRules) -> Self {
        let routes = specs
            .iter()
            .map(|spec| {
                Arc::new(Route {
                    host: spec.host.as_ref().map(|h| h.to_ascii_lowercase()),
                    pool: Mutex::new(OriginPool::new(spec.origins.clone(), rules.clone())),
                })
            })
            .collect();
        Self { routes }
    }

    /// Whether there are none (a forward proxy).
    pub(crate) fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Every route.
    pub(crate) fn all(&self) -> &[Arc<Route>] {
        &self.routes
    }

    /// The route for a request to `host` (a Host field value: the port, if any, ignored):
    /// the route naming it exactly, else the longest `*.` pattern covering it, else the
    /// default route.
    pub(crate) fn for_host(&self, host: Option<&str>) -> Option<&Arc<Route>> {
        let name = host.map(|h| strip_port(h).to_ascii_lowercase());
        let name = name.as_deref();
        let exact = self.routes.iter().find(|r| r.host.is_some() && r.host.as_deref() == name);
        let wildcard = || {
            let name = name?;
            self.routes
                .iter()
                .filter(|route| {
                    let Some(suffix) = route.host.as_deref().and_then(|h| h.strip_prefix("*."))
                    else {
                        return false;
                    };
                    name == suffix || name.ends_with(&format!(".{suffix}"))
                })
                .max_by_key(|route| route.host.as_ref().map_or(0, String::len))
        };
        exact.or_else(wildcard).or_else(|| self.routes.iter().find(|r| r.host.is_none()))
    }
}

/// `host` without a `:port` (IPv6 literals keep their brackets).
fn strip_port(host: &str) -> &str {
    if let Some(end) = host.strip_prefix('[').and_then(|rest| rest.find(']')) {
        return &host[..end + 2];
    }
    host.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok()).map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(host: Option<&str>, port: u16) -> RouteSpec {
        RouteSpec {
            host: host.map(str::to_owned),
            origins: vec![format!("http://127.0.0.1:{port}").parse().unwrap()],
        }
    }

    fn origin_of(routes: &Routes, host: Option<&str>) -> Option<String> {
        routes.for_host(host).map(|route| route.pool().uri(0).to_string())
    }

    #[test]
    fn exact_names_then_wildcards_then_the_default() {
        let routes = Routes::new(
            &[
                spec(Some("www.example.lab"), 1),
                spec(Some("*.example.lab"), 2),
                spec(Some("*.static.example.lab"), 3),
                spec(None, 4),
            ],
            &HealthRules::default(),
        );
        let port = |host| {
            origin_of(&routes, host)
                .map(|u| u.trim_end_matches('/').rsplit(':').next().unwrap().to_owned())
        };
        assert_eq!(port(Some("WWW.example.lab:8081")).as_deref(), Some("1"));
        assert_eq!(port(Some("img.example.lab")).as_deref(), Some("2"));
        assert_eq!(port(Some("example.lab")).as_deref(), Some("2"));
        assert_eq!(port(Some("a.static.example.lab")).as_deref(), Some("3"), "longest pattern");
        assert_eq!(port(Some("other.test")).as_deref(), Some("4"));
        assert_eq!(port(None).as_deref(), Some("4"));
        let no_default = Routes::new(&[spec(Some("www.example.lab"), 1)], &HealthRules::default());
        assert!(no_default.for_host(Some("other.test")).is_none());
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }
}
