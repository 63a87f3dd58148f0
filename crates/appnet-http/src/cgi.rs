//! CGI/1.1 (RFC 3875): a request under a `--cgi PREFIX=DIR` prefix runs the executable it
//! names in DIR, with the request's meta-variables in the environment and its body on standard
//! input; the script's header lines (`Status`, `Content-Type`, `Location`, others) and body
//! become the response. A script that runs too long is killed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// What the script said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgiResponse {
    /// From `Status:` (200 by default, 302 with a `Location` and no status).
    pub status: u16,
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
    Spawn(std::io::Error),
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

/// Longest a script may run.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Largest output read from a script.
const MAX_OUTPUT: u64 = 64 << 20;

/// Runs `script` in `dir` for `request`.
pub async fn run(
    dir: &Path,
    script: &str,
    request: &CgiRequest<'_>,
) -> Result<CgiResponse, CgiError> {
    let program = dir.join(script);
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("GATEWAY_INTERFACE".into(), "CGI/1.1".into());
    env.insert("SERVER_SOFTWARE".into(), concat!("appnet/", env!("CARGO_PKG_VERSION")).into());
    env.insert("SERVER_PROTOCOL".into(), request.protocol.into());
    env.insert("SERVER_NAME".into(), request.local.ip().to_string());
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
        .spawn()
        .map_err(CgiError::Spawn)?;
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take().ok_or(CgiError::BadOutput)?;
    let body = request.body.to_vec();
    let exchange = async move {
        if let Some(stdin) = stdin.as_mut() {
            let _ = stdin.write_all(&body).await;
        }
        drop(stdin);
        let mut output = Vec::new();
        let _ = (&mut stdout).take(MAX_OUTPUT).read_to_end(&mut output).await;
        output
    };
    let Ok(output) = tokio::time::timeout(TIMEOUT, exchange).await else {
        let _ = child.kill().await;
        return Err(CgiError::Timeout(TIMEOUT));
    };
    let _ = child.wait().await;
    parse_output(&output)
}

/// The script's output: header lines up to a blank line (LF or CRLF), then the body.
pub fn parse_output(output: &[u8]) -> Result<CgiResponse, CgiError> {
    let (head, body) = ["\r\n\r\n", "\n\n"]
        .iter()
        .filter_map(|sep| {
            output.windows(sep.len()).position(|w| w == sep.as_bytes()).map(|at| (at, sep.len()))
        })
        .min_by_key(|(at, _)| *at)
        .map(|(at, len)| (&output[..at], &output[at + len..]))
        .ok_or(CgiError::BadOutput)?;
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
            status = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok())
                .filter(|c| (100..600).contains(c));
            if status.is_none() {
                return Err(CgiError::BadOutput);
            }
        } else {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    let redirect = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("location"));
    let status = status.unwrap_or(if redirect { 302 } else { 200 });
    Ok(CgiResponse { status, headers, body: body.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let redirect = parse_output(b"Location: /elsewhere\n\n").unwrap();
        assert_eq!(redirect.status, 302);
        assert!(parse_output(b"no header block").is_err());
        assert!(parse_output(b"Status: banana\n\n").is_err());
        assert!(parse_output(b"Bad Header Line\n\nbody").is_err());
    }
}
