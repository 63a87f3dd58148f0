//! A directory's HTML index, for `--listing` (off by default, as nginx's `autoindex` is): the
//! entries' names as links, directories first, then by name; sizes and modification times.
//! Names starting with a dot are left out (nginx's habit too): `.git`, `.htpasswd` and editor
//! files are not the site's content. Pure: the caller reads the directory.

use std::fmt::Write as _;
use std::time::SystemTime;

use crate::markup::escape;

/// Entries listed at most; a larger directory's index says how many were left out.
pub const MAX_ENTRIES: usize = 10_000;

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name, as the file system has it.
    pub name: String,
    /// A directory (its link ends in `/`).
    pub is_dir: bool,
    /// Bytes, for a file.
    pub size: u64,
    /// When it last changed.
    pub modified: Option<SystemTime>,
}

/// The index of the directory at `path` (the URL's path decoded, ending in `/`) holding
/// `entries`: an HTML page.
pub fn page(path: &str, mut entries: Vec<Entry>) -> String {
    entries.retain(|entry| !entry.name.starts_with('.'));
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    let left_out = entries.len().saturating_sub(MAX_ENTRIES);
    entries.truncate(MAX_ENTRIES);
    let title = escape(path);
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title>\
         </head>\n<body><h1>Index of {title}</h1><hr><pre>\n"
    );
    if path != "/" {
        html.push_str("<a href=\"../\">../</a>\n");
    }
    for entry in &entries {
        let slash = if entry.is_dir { "/" } else { "" };
        let href = percent_encode(&entry.name);
        let shown = escape(&entry.name);
        let date = entry.modified.map_or_else(|| "-".to_owned(), httpdate::fmt_http_date);
        let size = if entry.is_dir { "-".to_owned() } else { entry.size.to_string() };
        let _ = writeln!(html, "<a href=\"{href}{slash}\">{shown}{slash}</a>  {date}  {size}");
    }
    if left_out > 0 {
        let _ = writeln!(html, "… and {left_out} more");
    }
    html.push_str("</pre><hr></body></html>\n");
    html
}

/// `name` as one path segment of a relative URL: everything but unreserved characters
/// percent-encoded, so `?`, `#`, `%`, `:` and spaces in file names link to the file.
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, size: u64) -> Entry {
        Entry { name: name.to_owned(), is_dir: false, size, modified: None }
    }

    fn dir(name: &str) -> Entry {
        Entry { name: name.to_owned(), is_dir: true, size: 4096, modified: None }
    }

    #[test]
    fn directories_come_first_then_names_and_dot_files_are_left_out() {
        let html =
            page("/docs/", vec![file("b.txt", 3), dir("zeta"), file(".git", 1), dir("alpha")]);
        let alpha = html.find("href=\"alpha/\"").unwrap();
        let zeta = html.find("href=\"zeta/\"").unwrap();
        let b = html.find("href=\"b.txt\"").unwrap();
        assert!(alpha < zeta && zeta < b, "{html}");
        assert!(!html.contains(".git"), "{html}");
        assert!(html.contains("<a href=\"../\">../</a>"));
        assert!(html.contains("<title>Index of /docs/</title>"));
        assert!(html.contains("b.txt</a>  -  3\n"), "{html}");
    }

    #[test]
    fn names_are_escaped_in_text_and_encoded_in_links() {
        let html = page("/<x>/", vec![file("a <b>&\"c'.html", 1), file("50% off?#.txt", 2)]);
        assert!(html.contains("Index of /&lt;x&gt;/"), "{html}");
        assert!(html.contains("href=\"a%20%3Cb%3E%26%22c%27.html\""), "{html}");
        assert!(html.contains(">a &lt;b&gt;&amp;&quot;c&#39;.html</a>"), "{html}");
        assert!(html.contains("href=\"50%25%20off%3F%23.txt\""), "{html}");
        assert!(!html.contains("<b>"), "{html}");
    }

    #[test]
    fn the_root_has_no_parent_link_and_a_huge_directory_is_cut() {
        let entries = (0..MAX_ENTRIES + 5).map(|i| file(&format!("f{i:05}"), 0)).collect();
        let html = page("/", entries);
        assert!(!html.contains("../"));
        assert_eq!(html.matches("<a href=").count(), MAX_ENTRIES);
        assert!(html.contains("… and 5 more"), "{}", &html[html.len() - 200..]);
    }
}
