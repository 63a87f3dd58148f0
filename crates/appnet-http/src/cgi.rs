//! CGI/1.1 (RFC 3875): a request under a `--cgi PREFIX=DIR` prefix runs the executable it
//! names in DIR, with the request's meta-variables in the environment and its body on standard
//! input; the script's header lines (`Status`, `Content-Type`, `Location`, others) become the
//! response's head as soon as they are complete, and its body is streamed to the client as
//! the script writes it (chunked in HTTP/1.1, DATA frames in HTTP/2), so a slow report or an
//! event stream reaches the client while it runs. A script that says nothing for the timeout
//! (before its headers, or between writes) is killed, and so is one whose client went away.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdout};
use tokio::time::{Instant, Sleep};

/// One CGI mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgiDir {
    /// URL prefix, e.g. `/cgi-bin/`.
    pub prefix: String,
    /// Directory of the executables.
    pub dir: PathBuf,
}

impl CgiDir {
    /// Parses `--cgi PREFIX=DIR`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (prefix, dir) =
            spec.split_once('=').ok_or_else(|| format!("`{spec}`: expected PREFIX=DIR"))?;
        let prefix = if prefix.ends_with('/') { prefix.to_owned() } else { format!("{prefix}/") };
        if !prefix.starts_with('/') {
            return Err(format!("`{prefix}`: the prefix is a URL path (/cgi-bin/)"));
        }
        Ok(Self { prefix, dir: PathBuf::from(dir) })
    }

    /// For a request path under the prefix: the script's name and the PATH_INFO after it.
    pub fn split<'a>(&self, path: &'a str) -> Option<(&'a str, &'a str)> {
        let rest = path.strip_prefix(&self.prefix)?;
        let (script, info) = rest
            .split_once('/')
            .map_or((rest, ""), |(s, i)| (s, &path[path.len() - i.len() - 1..]));
        let valid = !script.is_empty()
            && script != "."
            && script != ".."
            && !script.contains(['\0', '\\', '%']);
        valid.then_some((script, info))
    }
}

/// A request path as the CGI prefixes are matched against it: percent-decoded, empty and `.`
/// segments dropped — the same reading the static files get, so that `//cgi-bin/x`,
/// `/cgi%2Dbin/x` or `/./cgi-bin/x` cannot reach a script's file as a static file when the
/// CGI directory lies under the root. `None` for a path the static side refuses anyway (a bad
/// escape, a `..`).
pub fn normalized(path: &str) -> Option<String> {
    let decoded = crate::files::path::percent_decode(path).ok()?;
    let mut out = String::with_capacity(decoded.len());
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            _ => {
                out.push('/');
                out.push_str(segment);
            }
        }
    }
    if out.is_empty() || decoded.ends_with('/') {
        out.push('/');
    }
    Some(out)
}

/// What the script said, all of it (for output already in memory: tests, the fuzz target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgiResponse {
    /// From `Status:` (200 by default, 302 with a `Location` and no status).
    pub status: u16,
    /// The reason phrase the script gave after its status code, if any.
    pub reason: Option<String>,
    /// The other header lines, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a script gave no response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgiError {
    /// It could not be started (missing, not executable).
    #[error("cannot run the script: {0}")]
    Spawn(io::Error),
    /// It ran past its time and was killed.
    #[error("the script ran longer than {0:?}")]
    Timeout(Duration),
    /// Its output had no valid header block.
    #[error("the script's output has no valid CGI headers")]
    BadOutput,
}

/// The request as CGI sees it.
#[derive(Debug, Clone)]
pub struct CgiRequest<'a> {
    /// GET, POST…
    pub method: &'a str,
    /// The script's URL path (SCRIPT_NAME).
    pub script_name: String,
    /// The host name the client asked for (SERVER_NAME).
    pub server_name: String,
    /// Over TLS (HTTPS=on, REQUEST_SCHEME=https).
    pub secure: bool,
    /// The request target as sent, path and query (REQUEST_URI, as nginx and Apache set).
    pub request_uri: &'a str,
    /// The directory served (DOCUMENT_ROOT).
    pub document_root: &'a Path,
    /// PATH_INFO mapped under the document root (PATH_TRANSLATED, RFC 3875 §4.1.6), when
    /// there is a PATH_INFO.
    pub path_translated: Option<String>,
    /// PATH_INFO.
    pub path_info: &'a str,
    /// QUERY_STRING (without `?`).
    pub query: &'a str,
    /// The client.
    pub peer: SocketAddr,
    /// The server's own address.
    pub local: SocketAddr,
    /// HTTP/1.1 …
    pub protocol: &'a str,
    /// Request header fields (name lowercase).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: &'a [u8],
}

/// Longest a script may stay silent by default: before its headers, and between writes.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Largest header block read from a script.
const MAX_HEAD: usize = 64 * 1024;

/// Bytes asked of the script's pipe per read (a pipe holds 64 KiB).
const READ_CHUNK: usize = 64 * 1024;

/// A running script whose headers have arrived.
#[derive(Debug)]
pub struct CgiOutput {
    /// From `Status:` (200 by default, 302 with a `Location` and no status).
    pub status: u16,
    /// The reason phrase the script gave after its status code (`Status: 404 Gone away`), sent
    /// on HTTP/1 in place of the standard one, as Apache and nginx pass it on.
    pub reason: Option<String>,
    /// The other header lines, in order.
    pub headers: Vec<(String, String)>,
    /// The body, as the script writes it.
    pub body: CgiBody,
    /// A local redirect's path (see [`local_redirect`]): the server answers it instead.
    pub local_redirect: Option<String>,
}

/// Runs `script` in `dir` for `request`; returns once the script's header block is complete,
/// with the body still streaming. `timeout` bounds each silence of the script.
pub async fn run(
    dir: &Path,
    script: &str,
    request: &CgiRequest<'_>,
    timeout: Duration,
) -> Result<CgiOutput, CgiError> {
    let program = dir.join(script);
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("GATEWAY_INTERFACE".into(), "CGI/1.1".into());
    env.insert("SERVER_SOFTWARE".into(), concat!("appnet/", env!("CARGO_PKG_VERSION")).into());
    env.insert("SERVER_PROTOCOL".into(), request.protocol.into());
    env.insert("SERVER_NAME".into(), request.server_name.clone());
    env.insert("SERVER_ADDR".into(), request.local.ip().to_string());
    env.insert("REQUEST_URI".into(), request.request_uri.into());
    env.insert("REQUEST_SCHEME".into(), if request.secure { "https" } else { "http" }.into());
    if request.secure {
        env.insert("HTTPS".into(), "on".into());
    }
    env.insert("DOCUMENT_ROOT".into(), request.document_root.display().to_string());
    if let Some(translated) = &request.path_translated {
        env.insert("PATH_TRANSLATED".into(), translated.clone());
    }
    env.insert("SERVER_PORT".into(), request.local.port().to_string());
    env.insert("REQUEST_METHOD".into(), request.method.into());
    env.insert("SCRIPT_NAME".into(), request.script_name.clone());
    env.insert("PATH_INFO".into(), request.path_info.into());
    env.insert("QUERY_STRING".into(), request.query.into());
    env.insert("REMOTE_ADDR".into(), request.peer.ip().to_string());
    env.insert("REMOTE_PORT".into(), request.peer.port().to_string());
    if !request.body.is_empty() {
        env.insert("CONTENT_LENGTH".into(), request.body.len().to_string());
    }
    for (name, value) in &request.headers {
        let variable = match name.as_str() {
            "content-type" => "CONTENT_TYPE".to_owned(),
            // Credentials and hop-by-hop fields are not passed (RFC 3875 §4.1.18).
            "authorization" | "proxy-authorization" | "connection" | "content-length" => continue,
            // `Proxy:` would become HTTP_PROXY, which HTTP libraries in the script read as
            // their proxy (httpoxy, CVE-2016-5385); a name with `_` would pass for the `-`
            // one it maps onto (Apache drops both likewise).
            "proxy" => continue,
            other if other.contains('_') => continue,
            other => format!("HTTP_{}", other.to_ascii_uppercase().replace('-', "_")),
        };
        env.insert(variable, value.clone());
    }
    let mut child = tokio::process::Command::new(&program)
        .env_clear()
        .envs(&env)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        // A group of its own, so that killing the script also ends what it started (a shell
        // script's `sleep`, a helper holding its stdout), which would otherwise outlive it.
        .process_group(0)
        .spawn()
        .map_err(CgiError::Spawn)?;
    // The body goes in from its own task, so a script that writes before it reads (or never
    // reads) cannot deadlock against us.
    if let Some(mut stdin) = child.stdin.take() {
        let body = request.body.to_vec();
        tokio::spawn(async move {
            let _ = stdin.write_all(&body).await;
        });
    }
    let mut stdout = child.stdout.take().ok_or(CgiError::BadOutput)?;
    let mut seen = Vec::new();
    let head = async {
        loop {
            if let Some(split) = head_end(&seen) {
                return Ok(split);
            }
            if seen.len() > MAX_HEAD {
                return Err(CgiError::BadOutput);
            }
            let mut chunk = [0; 4096];
            match stdout.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err(CgiError::BadOutput),
                Ok(read) => seen.extend_from_slice(&chunk[..read]),
            }
        }
    };
    let (head_length, body_start) = match tokio::time::timeout(timeout, head).await {
        Ok(Ok(split)) => split,
        Ok(Err(error)) => {
            kill_group(&mut child);
            let _ = child.wait().await;
            return Err(error);
        }
        Err(_) => {
            kill_group(&mut child);
            let _ = child.wait().await;
            return Err(CgiError::Timeout(timeout));
        }
    };
    let (given, headers) = match parse_head(&seen[..head_length]) {
        Ok(head) => head,
        Err(error) => {
            kill_group(&mut child);
            let _ = child.wait().await;
            return Err(error);
        }
    };
    let first = Bytes::copy_from_slice(&seen[body_start..]);
    let code = given.as_ref().map(|g| g.0);
    let local_redirect = local_redirect(code, &headers);
    let body = CgiBody::new(child, stdout, first, timeout);
    let status = status_of(code, &headers);
    Ok(CgiOutput { status, reason: given.and_then(|g| g.1), headers, body, local_redirect })
}

/// The path of a local redirect (RFC 3875 §6.2.2): a header block of nothing but a
/// `Location` that is a path (no `Status`, no other field), which the server answers itself
/// as a GET of that path instead of sending the client a redirect.
fn local_redirect(given: Option<u16>, headers: &[(String, String)]) -> Option<String> {
    let [(name, value)] = headers else { return None };
    let local = value.starts_with('/') && !value.starts_with("//");
    (name.eq_ignore_ascii_case("location") && local && given.is_none()).then(|| value.clone())
}

/// The response's status: the script's `Status`, else 302 with a `Location`, else 200.
fn status_of(given: Option<u16>, headers: &[(String, String)]) -> u16 {
    let redirect = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("location"));
    given.unwrap_or(if redirect { 302 } else { 200 })
}

/// A script's body as it writes it. Dropping it (the client went away, the response was for
/// HEAD) kills the script.
#[derive(Debug)]
pub struct CgiBody {
    first: Option<Bytes>,
    stdout: Option<ChildStdout>,
    child: Child,
    idle: Duration,
    silence: Pin<Box<Sleep>>,
}

impl CgiBody {
    fn new(child: Child, stdout: ChildStdout, first: Bytes, idle: Duration) -> Self {
        let silence = Box::pin(tokio::time::sleep(idle));
        Self { first: Some(first), stdout: Some(stdout), child, idle, silence }
    }

    /// The next piece of the body; `None` at its end. A script silent for longer than its
    /// timeout is killed and the body ends in an error, so the client sees it cut short.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        if let Some(first) = self.first.take().filter(|b| !b.is_empty()) {
            return Poll::Ready(Some(Ok(first)));
        }
        let Some(stdout) = self.stdout.as_mut() else { return Poll::Ready(None) };
        let mut chunk = BytesMut::with_capacity(READ_CHUNK);
        match tokio_util::io::poll_read_buf(Pin::new(stdout), cx, &mut chunk) {
            Poll::Ready(Ok(0)) => {
                self.stdout = None;
                Poll::Ready(None)
            }
            Poll::Ready(Ok(_)) => {
                self.silence.as_mut().reset(Instant::now() + self.idle);
                Poll::Ready(Some(Ok(chunk.freeze())))
            }
            Poll::Ready(Err(error)) => {
                self.stdout = None;
                Poll::Ready(Some(Err(error)))
            }
            Poll::Pending => {
                if self.silence.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.stdout = None;
                kill_group(&mut self.child);
                let silent = format!("the script said nothing for {:?}; killed", self.idle);
                Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::TimedOut, silent))))
            }
        }
    }

    /// Whether the body is over.
    pub fn is_done(&self) -> bool {
        self.stdout.is_none() && self.first.is_none()
    }
}

impl Drop for CgiBody {
    /// A body dropped before the script finished writing (the client went away, the response
    /// was for HEAD): the script and what it started are killed. One that ended its output is
    /// left to exit (`kill_on_drop` ends it if it lingers); what it started in the background
    /// is its own business.
    fn drop(&mut self) {
        if self.stdout.is_some() {
            kill_group(&mut self.child);
        }
    }
}

/// SIGKILL to the script's process group (its own: see `process_group(0)` above), then to the
/// script itself should it have left the group.
fn kill_group(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|pid| libc::pid_t::try_from(pid).ok()) {
        // SAFETY: a plain system call on a process group we made; an error (the group is
        // gone already) is harmless.
        unsafe { libc::killpg(pid, libc::SIGKILL) };
    }
    let _ = child.start_kill();
}

/// Where the header block ends in `output`: (its length, where the body starts). The block
/// ends at the first blank line, LF or CRLF.
fn head_end(output: &[u8]) -> Option<(usize, usize)> {
    ["\r\n\r\n", "\n\n"]
        .iter()
        .filter_map(|sep| {
            output.windows(sep.len()).position(|w| w == sep.as_bytes()).map(|at| (at, sep.len()))
        })
        .min_by_key(|(at, _)| *at)
        .map(|(at, len)| (at, at + len))
}

/// The script's output: header lines up to a blank line (LF or CRLF), then the body.
pub fn parse_output(output: &[u8]) -> Result<CgiResponse, CgiError> {
    let (head_length, body_start) = head_end(output).ok_or(CgiError::BadOutput)?;
    let (given, headers) = parse_head(&output[..head_length])?;
    let status = status_of(given.as_ref().map(|g| g.0), &headers);
    let reason = given.and_then(|g| g.1);
    Ok(CgiResponse { status, reason, headers, body: output[body_start..].to_vec() })
}

/// A script's header lines, name and value, in order.
type Fields = Vec<(String, String)>;

/// A `Status` line: its code and the reason phrase after it, if there is one.
type Given = (u16, Option<String>);

/// The header block (without its blank line): the `Status` the script gave, if any, and the
/// other header lines.
fn parse_head(head: &[u8]) -> Result<(Option<Given>, Fields), CgiError> {
    let head = std::str::from_utf8(head).map_err(|_| CgiError::BadOutput)?;
    let mut status = None;
    let mut headers = Vec::new();
    for line in head.lines() {
        let (name, value) = line.split_once(':').ok_or(CgiError::BadOutput)?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || name.contains(' ') {
            return Err(CgiError::BadOutput);
        }
        if name.eq_ignore_ascii_case("status") {
            let (code, reason) = value.split_once([' ', '\t']).unwrap_or((value, ""));
            let code = code.parse::<u16>().ok().filter(|c| (100..600).contains(c));
            let Some(code) = code else { return Err(CgiError::BadOutput) };
            let reason = reason.trim();
            status = Some((code, (!reason.is_empty()).then(|| reason.to_owned())));
        } else {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    Ok((status, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_as_the_static_files_read_them() {
        for path in ["//cgi-bin/x", "/cgi%2Dbin/x", "/./cgi-bin/x", "/cgi-bin/./x", "/cgi-bin//x"] {
            assert_eq!(normalized(path).as_deref(), Some("/cgi-bin/x"), "{path}");
        }
        assert_eq!(normalized("/cgi-bin/x/info/").as_deref(), Some("/cgi-bin/x/info/"));
        assert_eq!(normalized("/").as_deref(), Some("/"));
        assert_eq!(normalized("/cgi-bin/../etc"), None);
        assert_eq!(normalized("/cgi-bin/%2e%2e/etc"), None);
        assert_eq!(normalized("/bad%zz"), None);
    }

    #[test]
    fn scripts_and_path_info() {
        let cgi = CgiDir::parse("/cgi-bin=/srv/cgi").unwrap();
        assert_eq!(cgi.split("/cgi-bin/echo.py"), Some(("echo.py", "")));
        assert_eq!(cgi.split("/cgi-bin/echo.py/a/b"), Some(("echo.py", "/a/b")));
        assert_eq!(cgi.split("/cgi-bin/../x"), None);
        assert_eq!(cgi.split("/cgi-bin/"), None);
        assert_eq!(cgi.split("/other/x"), None);
        assert!(CgiDir::parse("nope").is_err());
    }

    #[test]
    fn output_headers_status_and_body() {
        let out = parse_output(b"Content-Type: text/plain\r\nStatus: 404 Not Found\r\n\r\nmissing")
            .unwrap();
        assert_eq!((out.status, out.body.as_slice()), (404, &b"missing"[..]));
        assert_eq!(out.headers, [("Content-Type".to_owned(), "text/plain".to_owned())]);
        assert_eq!(out.reason.as_deref(), Some("Not Found"));
        let own = parse_output(b"Status: 299  Quite  Fine \n\n").unwrap();
        assert_eq!((own.status, own.reason.as_deref()), (299, Some("Quite  Fine")));
        assert_eq!(parse_output(b"Status: 204\n\n").unwrap().reason, None);
        let redirect = parse_output(b"Location: /elsewhere\n\n").unwrap();
        assert_eq!((redirect.status, redirect.reason), (302, None));
        assert!(parse_output(b"no header block").is_err());
        assert!(parse_output(b"Status: banana\n\n").is_err());
        assert!(parse_output(b"Bad Header Line\n\nbody").is_err());
    }
}
