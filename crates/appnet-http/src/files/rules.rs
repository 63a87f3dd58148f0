//! Per-path response rules from the config file: how long caches may keep a file
//! (`Cache-Control`, `Expires`, as nginx's `expires` and `add_header` set them) and which
//! resources a page declares for preloading (`Link: <…>; rel=preload`).
//!
//! Rules are tried in order and the first whose pattern matches the request path applies:
//! `/static/` matches a prefix, `*.css` an extension, `=/index.html` one path exactly.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// Which paths a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    /// Every path starting with this.
    Prefix(String),
    /// Every path ending in `.EXT` (the extension, without its dot, lowercase).
    Extension(String),
    /// This path only.
    Exact(String),
}

impl PathPattern {
    /// `/static/`, `*.css` or `=/index.html`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(extension) = text.strip_prefix("*.") {
            if extension.is_empty() || extension.contains(['/', '*']) {
                return Err(format!("`{text}`: an extension pattern is *.EXT"));
            }
            return Ok(Self::Extension(extension.to_ascii_lowercase()));
        }
        if let Some(path) = text.strip_prefix('=') {
            if !path.starts_with('/') {
                return Err(format!("`{text}`: an exact pattern is =/PATH"));
            }
            return Ok(Self::Exact(path.to_owned()));
        }
        if !text.starts_with('/') || text.contains('*') {
            return Err(format!("`{text}`: expected /PREFIX, *.EXT or =/PATH"));
        }
        Ok(Self::Prefix(text.to_owned()))
    }

    /// Whether `path` (the request's path, without the query) is covered.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Self::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Self::Exact(exact) => path == exact,
            Self::Extension(extension) => path.rsplit_once('.').is_some_and(|(stem, ext)| {
                !stem.ends_with('/') && ext.eq_ignore_ascii_case(extension)
            }),
        }
    }
}

/// nginx's `expires`: a lifetime from now, the distant past (do not cache), or the far future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expires {
    /// Fresh for this long: `Expires` is now plus this, `Cache-Control: max-age` this.
    After(Duration),
    /// `epoch`: `Expires` in 1970 and `Cache-Control: no-cache`.
    Epoch,
    /// `max`: ten years, as nginx gives.
    Max,
}

impl Expires {
    /// `1h`, `30d`, `90s`, `1y`, `epoch` or `max`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "epoch" => return Ok(Self::Epoch),
            "max" => return Ok(Self::Max),
            _ => {}
        }
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u64 = number.parse().map_err(|_| format!("`{text}`: expected e.g. 1h"))?;
        let seconds = match unit {
            "s" | "" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            "y" => 365 * 86_400,
            _ => return Err(format!("`{text}`: units are s, m, h, d, w, y")),
        };
        Ok(Self::After(Duration::from_secs(number.saturating_mul(seconds))))
    }
}

/// One rule as written in the config file (`[[http.server.rule]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTable {
    /// `/PREFIX`, `*.EXT` or `=/PATH`.
    #[serde(rename = "match")]
    pub pattern: String,
    /// `1h`, `30d`, `epoch`, `max`.
    pub expires: Option<String>,
    /// A `Cache-Control` value sent as given (it replaces the one `expires` would send).
    pub cache_control: Option<String>,
    /// Resources the page needs early, sent as `Link: <URL>; rel=preload; as=…`.
    #[serde(default)]
    pub preload: Vec<String>,
}

/// A checked rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Which paths.
    pub pattern: PathPattern,
    /// Freshness lifetime.
    pub expires: Option<Expires>,
    /// `Cache-Control` as given.
    pub cache_control: Option<String>,
    /// Preload links.
    pub preload: Vec<String>,
}

impl Rule {
    /// Checks a rule from the config file.
    pub fn from_table(table: &RuleTable) -> Result<Self, String> {
        let cache_control = table.cache_control.clone();
        if cache_control.as_deref().is_some_and(|v| v.contains(['\r', '\n'])) {
            return Err(format!("`{}`: cache_control is one header line", table.pattern));
        }
        for url in &table.preload {
            if url.is_empty() || url.contains(['<', '>', '\r', '\n', ' ', '"']) {
                return Err(format!("`{url}`: a preload is a URL (no spaces, <, >, quotes)"));
            }
        }
        Ok(Self {
            pattern: PathPattern::parse(&table.pattern)?,
            expires: table.expires.as_deref().map(Expires::parse).transpose()?,
            cache_control,
            preload: table.preload.clone(),
        })
    }

    /// The header fields this rule adds to a response sent at `now`.
    pub fn headers(&self, now: SystemTime) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        let max_age = match self.expires {
            Some(Expires::After(lifetime)) => {
                headers.push(("expires", httpdate::fmt_http_date(now + lifetime)));
                Some(format!("max-age={}", lifetime.as_secs()))
            }
            Some(Expires::Max) => {
                let ten_years = Duration::from_secs(315_360_000);
                headers.push(("expires", httpdate::fmt_http_date(now + ten_years)));
                Some(format!("max-age={}", ten_years.as_secs()))
            }
            Some(Expires::Epoch) => {
                let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1);
                headers.push(("expires", httpdate::fmt_http_date(epoch)));
                Some("no-cache".to_owned())
            }
            None => None,
        };
        if let Some(value) = self.cache_control.clone().or(max_age) {
            headers.push(("cache-control", value));
        }
        for url in &self.preload {
            headers.push(("link", preload_link(url)));
        }
        headers
    }

    /// Each preload URL with its `Link` field value, for Early Hints and server push.
    pub fn preloads(&self) -> Vec<Preload> {
        self.preload
            .iter()
            .map(|url| Preload { url: url.clone(), link: preload_link(url) })
            .collect()
    }
}

/// A resource a page declares for preloading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preload {
    /// As written in the rule: a path on this site, or another site's URL.
    pub url: String,
    /// `<URL>; rel=preload; as=…`.
    pub link: String,
}

/// The `Link` field value that preloads `url`.
fn preload_link(url: &str) -> String {
    let destination = preload_destination(url);
    let crossorigin = if destination == "font" { "; crossorigin" } else { "" };
    format!("<{url}>; rel=preload; as={destination}{crossorigin}")
}

/// The rules, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules(pub Vec<Rule>);

impl Rules {
    /// The first rule covering `path`.
    pub fn for_path(&self, path: &str) -> Option<&Rule> {
        self.0.iter().find(|rule| rule.pattern.matches(path))
    }
}

/// The `as` of a preload link, from the URL's extension (the Fetch standard's destinations).
fn preload_destination(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let extension = path.rsplit_once('.').map_or("", |(_, ext)| ext).to_ascii_lowercase();
    match extension.as_str() {
        "css" => "style",
        "js" | "mjs" => "script",
        "woff" | "woff2" | "ttf" | "otf" => "font",
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "avif" | "svg" | "ico" => "image",
        "mp4" | "webm" => "video",
        "mp3" | "ogg" | "wav" => "audio",
        _ => "fetch",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str, expires: Option<&str>, cache_control: Option<&str>) -> Rule {
        Rule::from_table(&RuleTable {
            pattern: pattern.to_owned(),
            expires: expires.map(str::to_owned),
            cache_control: cache_control.map(str::to_owned),
            preload: Vec::new(),
        })
        .unwrap()
    }

    #[test]
    fn patterns_match_prefixes_extensions_and_exact_paths() {
        assert!(PathPattern::parse("/static/").unwrap().matches("/static/a.png"));
        assert!(!PathPattern::parse("/static/").unwrap().matches("/other/a.png"));
        let css = PathPattern::parse("*.CSS").unwrap();
        assert!(css.matches("/a/site.css") && css.matches("/x.Css"));
        assert!(!css.matches("/a.css/index.html") && !css.matches("/dir/.css"));
        let exact = PathPattern::parse("=/index.html").unwrap();
        assert!(exact.matches("/index.html") && !exact.matches("/index.html.bak"));
        for bad in ["static", "*.", "=index.html", "/a*b", "*./x"] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expires_sets_both_fields_as_nginx_does() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_112_799);
        let headers = rule("/", Some("1h"), None).headers(now);
        assert_eq!(
            headers,
            [
                ("expires", "Tue, 01 Dec 2026 09:13:19 GMT".to_owned()),
                ("cache-control", "max-age=3600".to_owned())
            ]
        );
        let epoch = rule("/", Some("epoch"), None).headers(now);
        assert_eq!(epoch[0], ("expires", "Thu, 01 Jan 1970 00:00:01 GMT".to_owned()));
        assert_eq!(epoch[1], ("cache-control", "no-cache".to_owned()));
        assert_eq!(rule("/", Some("max"), None).headers(now)[1].1, "max-age=315360000");
        // A Cache-Control given as such wins over the one expires would send.
        let both = rule("/", Some("30d"), Some("public, max-age=60, immutable")).headers(now);
        assert_eq!(both[1], ("cache-control", "public, max-age=60, immutable".to_owned()));
        assert_eq!(Expires::parse("2w"), Ok(Expires::After(Duration::from_secs(1_209_600))));
        assert!(Expires::parse("1fortnight").is_err() && Expires::parse("soon").is_err());
    }

    #[test]
    fn preloads_name_their_destination() {
        let table = RuleTable {
            pattern: "=/".to_owned(),
            expires: None,
            cache_control: None,
            preload: vec!["/site.css".into(), "/app.js?v=2".into(), "/f.woff2".into()],
        };
        let headers = Rule::from_table(&table).unwrap().headers(SystemTime::now());
        let links: Vec<&str> = headers.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            links,
            [
                "</site.css>; rel=preload; as=style",
                "</app.js?v=2>; rel=preload; as=script",
                "</f.woff2>; rel=preload; as=font; crossorigin"
            ]
        );
        let bad = RuleTable { preload: vec!["/a b".into()], ..table };
        assert!(Rule::from_table(&bad).is_err());
    }

    #[test]
    fn the_first_matching_rule_applies() {
        let rules = Rules(vec![rule("*.html", Some("epoch"), None), rule("/", Some("1d"), None)]);
        assert_eq!(rules.for_path("/index.html").unwrap().expires, Some(Expires::Epoch));
        assert_eq!(
            rules.for_path("/logo.png").unwrap().expires,
            Some(Expires::After(Duration::from_secs(86_400)))
        );
    }
}
