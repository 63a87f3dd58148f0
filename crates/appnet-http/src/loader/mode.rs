//! The fetching strategies the loader compares, by the names `--mode` takes.

use std::fmt;
use std::str::FromStr;

/// Connections a `parallel` load opens per host unless told (what browsers settled on).
pub const DEFAULT_PARALLEL: usize = 6;

/// How a page's resources are fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Mode {
    /// HTTP/1.0: a new connection per resource, one resource at a time.
    Http10,
    /// HTTP/1.1 with up to this many persistent connections per host at once.
    Parallel(usize),
    /// One persistent HTTP/1.1 connection, one request after another.
    Persistent,
    /// One HTTP/1.1 connection with the requests pipelined.
    Pipelined,
    /// One HTTP/2 connection per host, every request multiplexed on it (TLS with ALPN, or
    /// prior knowledge for `http://`).
    H2,
}

impl Mode {
    /// The modes `compare` runs, in the order it runs them.
    pub const COMPARED: [Self; 5] = [
        Self::Http10,
        Self::Persistent,
        Self::Pipelined,
        Self::Parallel(DEFAULT_PARALLEL),
        Self::H2,
    ];

    /// Connections at most per host.
    pub fn connections_per_host(self) -> usize {
        match self {
            Self::Parallel(n) => n,
            _ => 1,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http10 => f.write_str("http1.0"),
            Self::Parallel(n) => write!(f, "parallel:{n}"),
            Self::Persistent => f.write_str("persistent"),
            Self::Pipelined => f.write_str("pipelined"),
            Self::H2 => f.write_str("h2"),
        }
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "http1.0" | "http10" => Ok(Self::Http10),
            "parallel" => Ok(Self::Parallel(DEFAULT_PARALLEL)),
            "persistent" => Ok(Self::Persistent),
            "pipelined" => Ok(Self::Pipelined),
            "h2" | "http2" => Ok(Self::H2),
            _ => match text.strip_prefix("parallel:").map(str::parse::<usize>) {
                Some(Ok(n)) if (1..=64).contains(&n) => Ok(Self::Parallel(n)),
                Some(_) => Err(format!("`{text}`: parallel:N takes N from 1 to 64")),
                None => Err(format!(
                    "`{text}`: modes are http1.0, parallel:N, persistent, pipelined, h2, compare"
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_the_same_names() {
        for name in ["http1.0", "parallel:6", "parallel:2", "persistent", "pipelined", "h2"] {
            assert_eq!(name.parse::<Mode>().unwrap().to_string(), name);
        }
        assert_eq!("parallel".parse(), Ok(Mode::Parallel(6)));
        assert!("parallel:0".parse::<Mode>().is_err() && "parallel:x".parse::<Mode>().is_err());
        assert!("spdy".parse::<Mode>().unwrap_err().contains("modes are"));
    }
}
