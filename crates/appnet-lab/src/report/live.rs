//! `--serve ADDR`: the report over HTTP while the lab runs — a progress page that refreshes
//! itself until the report is ready, then the report itself, and `report.json`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Report;

/// What the page shows now.
#[derive(Debug, Clone, Default)]
pub struct LivePage {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    progress: Vec<String>,
    html: Option<String>,
    json: Option<String>,
}

impl LivePage {
    /// A line of progress, shown until the report is ready.
    pub fn progress(&self, line: &str) {
        self.lock().progress.push(line.to_owned());
    }

    /// The finished report, shown from now on.
    pub fn finish(&self, report: &Report) {
        let mut state = self.lock();
        state.html = Some(super::html::render(report));
        state.json = serde_json::to_string_pretty(report).ok();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn respond(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let state = self.lock();
        let (status, content_type, body) = match (request.method(), request.uri().path()) {
            (&Method::GET | &Method::HEAD, "/" | "/report.html") => match &state.html {
                Some(html) => (StatusCode::OK, "text/html; charset=utf-8", html.clone()),
                None => {
                    (StatusCode::OK, "text/html; charset=utf-8", progress_page(&state.progress))
                }
            },
            (&Method::GET | &Method::HEAD, "/report.json") => match &state.json {
                Some(json) => (StatusCode::OK, "application/json", json.clone()),
                None => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "the lab is still running\n".into(),
                ),
            },
            (&Method::GET | &Method::HEAD, _) => {
                (StatusCode::NOT_FOUND, "text/plain", "try / or /report.json\n".into())
            }
            _ => (StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n".into()),
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        if let Ok(value) = header::HeaderValue::from_str(content_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        response
    }
}

fn progress_page(progress: &[String]) -> String {
    let lines: String = progress
        .iter()
        .map(|l| format!("<li>{}</li>", l.replace('&', "&amp;").replace('<', "&lt;")))
        .collect();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"1\">\
         <title>appnet lab (running)</title></head><body style=\"font:15px system-ui,sans-serif;margin:2em\">\
         <h1>appnet lab is running</h1><ol>{lines}</ol><p>This page refreshes itself; the report replaces it when ready.</p></body></html>"
    )
}

/// Serves `page` on `listener` until `stop`.
pub async fn serve(listener: TcpListener, page: LivePage, stop: CancellationToken) {
    loop {
        let Some((stream, _)) = appnet_service::accept::next(&listener, &stop).await else {
            return;
        };
        let page = page.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let response = page.respond(&request);
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            let _ = connection.await;
        });
    }
}
