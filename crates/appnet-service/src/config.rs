//! TOML configuration files with errors a person can act on.
//!
//! Every server takes `--config FILE`. A mistake in that file must point at the spot, the way a
//! compiler does: `appnet.toml:12:9: unknown field `listn`, expected `listen` or `zone``. The
//! `toml` crate knows the byte span of each error; this module turns it into `file:line:col`.
//!
//! Config structs follow the style guide: `#[serde(deny_unknown_fields)]`, a default per field,
//! one table per service (`[dns.authority]`, `[http.cache]`).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file named on the command line.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or does not match the expected settings.
    #[error("{location}: {message}")]
    Invalid {
        /// Where in the file the problem starts.
        location: Location,
        /// What is wrong there, in the parser's words.
        message: String,
    },
}

/// A position in a named file, printed as `file:line:column` (both 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as the user named it.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `source`. Offsets past the end point at the end, and
    /// offsets inside a multi-byte character count that character, so any offset is safe.
    pub fn from_offset(path: &Path, source: &str, offset: usize) -> Self {
        let before = &source.as_bytes()[..offset.min(source.len())];
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + String::from_utf8_lossy(&before[line_start..]).chars().count();
        Self { path: path.to_path_buf(), line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// Reads and parses the TOML file at `path` into `T`.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let source = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    parse(path, &source)
}

/// Parses `source` as the contents of `path` (used only in error messages).
pub fn parse<T: DeserializeOwned>(path: &Path, source: &str) -> Result<T, ConfigError> {
    toml::from_str(source).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        ConfigError::Invalid {
            location: Location::from_offset(path, source, offset),
            message: error.message().trim_end().to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Server {
        listen: Vec<String>,
        #[serde(default)]
        workers: u16,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct File {
        server: Server,
    }

    fn error_of(source: &str) -> String {
        parse::<File>(Path::new("appnet.toml"), source).unwrap_err().to_string()
    }

    #[test]
    fn parses_valid_file() {
        let file: File = parse(Path::new("a.toml"), "[server]\nlisten = [\"127.0.0.1:53\"]\n")
            .expect("valid config");
        assert_eq!(file.server.listen, ["127.0.0.1:53"]);
        assert_eq!(file.server.workers, 0);
    }

    #[test]
    fn unknown_field_points_at_its_line() {
        let message = error_of("[server]\nlisten = []\n  listn = 3\n");
        assert!(message.starts_with("appnet.toml:3:3: unknown field `listn`"), "{message}");
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let message = error_of("# comment\n[server]\nlisten = []\nworkers = \"many\"\n");
        assert!(message.starts_with("appnet.toml:4:11: "), "{message}");
        assert!(message.contains("u16") || message.contains("integer"), "{message}");
    }

    #[test]
    fn syntax_error_points_at_its_line() {
        let message = error_of("[server]\nlisten = [\n");
        assert!(message.starts_with("appnet.toml:"), "{message}");
        assert!(!message.contains(":1:1:"), "{message}");
    }

    #[test]
    fn location_handles_any_offset() {
        let source = "é\nab";
        let at = |offset| Location::from_offset(Path::new("f"), source, offset).to_string();
        assert_eq!(at(0), "f:1:1");
        assert_eq!(at(1), "f:1:2", "inside a multi-byte character");
        assert_eq!(at(3), "f:2:1");
        assert_eq!(at(99), "f:2:3", "past the end");
    }

    #[test]
    fn missing_file_names_the_file() {
        let error = load::<File>(Path::new("/nonexistent/appnet.toml")).unwrap_err();
        assert!(error.to_string().starts_with("/nonexistent/appnet.toml: "), "{error}");
    }
}
