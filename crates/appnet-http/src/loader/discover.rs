//! Which resources a page needs, found as a browser's preload scanner finds them: in HTML,
//! `img src`/`srcset`, `script src`, `link rel=stylesheet|icon|preload|modulepreload href`,
//! `source src`/`srcset`, `video poster`, `input type=image src`, and `url()`s in `style`
//! attributes and `<style>` blocks; in CSS, `url()` and `@import`. URLs are resolved against
//! the document's URL (or its `<base href>`), fragments dropped, `data:` and non-HTTP schemes
//! skipped, duplicates kept once in document order.
//!
//! HTML is tokenized by html5gum (the WHATWG tokenizer, with raw-text states for script and
//! style) and CSS by cssparser (Servo's), so comments, quoting and escapes are theirs.

use cssparser::{Parser, ParserInput, Token};
use html5gum::emitters::callback::{Callback, CallbackEmitter, CallbackEvent};
use html5gum::{IoReader, Span, Tokenizer};
use url::Url;

/// What a resource is for, as the page asks for it (the HAR and the waterfall show it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An HTML document.
    Document,
    /// A stylesheet (its own `url()`s and `@import`s are fetched in turn).
    Stylesheet,
    /// A script.
    Script,
    /// An image (img, srcset, icon, poster, CSS backgrounds).
    Image,
    /// A font (CSS `url()` in `@font-face`, or a preload with `as=font`).
    Font,
    /// Anything else a page links for fetching.
    Other,
    /// An `<iframe>`'s (or `<frame>`'s) document, scanned for its own resources in turn.
    /// Written `document`, as Chrome's HAR calls a frame's.
    #[serde(rename = "document")]
    Frame,
}

impl Kind {
    /// The `Priority` field (RFC 9218) a browser sends for this kind of resource over HTTP/2:
    /// Chromium 156's, read through a CGI script that echoed each request's field — a document
    /// `u=0, i`, a stylesheet and a font it asks for `u=0`, a script in the head `u=1` (one in
    /// the body `u=2`, async or defer none), an image `i`, an icon `u=1, i`. `None` for the
    /// default (`u=3`), which is sent as no field.
    pub fn priority_field(self) -> Option<&'static str> {
        match self {
            Self::Document | Self::Frame => Some("u=0, i"),
            Self::Stylesheet | Self::Font => Some("u=0"),
            Self::Script => Some("u=1"),
            Self::Image => Some("i"),
            Self::Other => None,
        }
    }
}

/// A resource found in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Where it is.
    pub url: Url,
    /// What it is for.
    pub kind: Kind,
}

/// Resources of the HTML document at `base`: what the scan finds, then what its `<style>`
/// blocks name that applies to it (see [`super::styles`]).
pub fn html(base: &Url, document: &[u8]) -> Vec<Found> {
    let mut scan = HtmlScan::new(base, document.to_vec());
    let mut found: Vec<Found> = scan.by_ref().collect();
    let mut styles = super::styles::Styles::new();
    for (base, sheet) in scan.take_inline_styles() {
        found.extend(styles.add(&base, &sheet));
    }
    found.extend(styles.resolve(document));
    unique(found)
}

/// The resources of an HTML document one by one, in document order, as a browser's preload
/// scanner finds them: the loader requests the first while the rest of the page is still
/// being scanned, so the server starts on them sooner (scanning a 2 KB page of 50 resources
/// takes ~50 µs, ~220 µs the first time in a process; starting each request a few more). A URL
/// may come more than once.
pub struct HtmlScan {
    tokens: Tokenizer<IoReader<std::io::Cursor<Vec<u8>>>, CallbackEmitter<Collect, Event>>,
    base: Url,
    in_style: bool,
    /// Inside a `<picture>`: whether one of its `<source>`s was chosen (its `<img>` then
    /// fetches nothing of its own).
    picture: Option<bool>,
    /// How many `<template>`s the scan is inside: their content is inert (a browser fetches
    /// nothing of it until a script clones it into the document).
    templates: usize,
    /// For each `<template>` open: whether it is a declarative shadow root outside any inert
    /// template (its end then leaves `templates` as it is).
    shadow_roots: Vec<bool>,
    /// The text of each `<style>` block and the base it resolves against, for
    /// [`super::styles`] once the scan is done.
    inline_styles: Vec<(Url, String)>,
    /// Found in the last token, not handed out yet (a tag can name several).
    ready: std::collections::VecDeque<Found>,
    /// Handed out so far.
    handed: usize,
}

impl HtmlScan {
    /// A scan of `document`, whose URL is `base`.
    pub fn new(base: &Url, document: Vec<u8>) -> Self {
        // html5gum's callback emitter lends each name and value instead of allocating a token
        // per tag: its default emitter (which its docs call the low-performance one) took 117
        // µs for a page of 50 resources, this 47 µs (300 and 220 µs the first time).
        let mut emitter = CallbackEmitter::new(Collect::default());
        emitter.naively_switch_states(true);
        let reader = IoReader::new(std::io::Cursor::new(document));
        Self {
            tokens: Tokenizer::new_with_emitter(reader, emitter),
            base: base.clone(),
            in_style: false,
            picture: None,
            templates: 0,
            shadow_roots: Vec::new(),
            inline_styles: Vec::new(),
            ready: std::collections::VecDeque::new(),
            handed: 0,
        }
    }

    /// How many resources the scan has handed out.
    pub fn handed(&self) -> usize {
        self.handed
    }

    /// The `<style>` blocks seen so far, each with the base it resolves against.
    pub fn take_inline_styles(&mut self) -> Vec<(Url, String)> {
        std::mem::take(&mut self.inline_styles)
    }

    /// What `event` names, into `ready`.
    fn take(&mut self, event: Event) {
        let mut found = Vec::new();
        match event {
            // A declarative shadow root (`shadowrootmode`) is rendered: its content counts.
            Event::StartTag(tag) if tag.name == TagName::Template => {
                let shadow = tag.attribute(Attribute::Shadowrootmode).is_some();
                let rendered = shadow && self.templates == 0;
                self.templates += usize::from(!rendered);
                self.shadow_roots.push(rendered);
            }
            Event::EndTag(TagName::Template) if self.shadow_roots.pop() == Some(true) => {}
            Event::EndTag(TagName::Template) => self.templates = self.templates.saturating_sub(1),
            Event::StartTag(_) | Event::Text(_) if self.templates > 0 => {}
            Event::StartTag(tag) => {
                let base = &self.base;
                let attribute = |key: Attribute| tag.attribute(key).map(str::to_owned);
                self.in_style = tag.name == TagName::Style;
                if let Some(style) = tag.attribute(Attribute::Style) {
                    found.extend(css_urls(base, style, Kind::Image));
                }
                let mut add = |value: Option<String>, kind: Kind| {
                    if let Some(url) = value.and_then(|v| resolve(base, &v)) {
                        found.push(Found { url, kind });
                    }
                };
                match tag.name {
                    TagName::Base => {
                        if let Some(url) =
                            tag.attribute(Attribute::Href).and_then(|v| resolve(base, v))
                        {
                            self.base = url;
                        }
                    }
                    TagName::Img if self.picture == Some(true) => {}
                    TagName::Img => {
                        let src = tag.attribute(Attribute::Src);
                        let srcset = tag.attribute(Attribute::Srcset);
                        let sizes = tag.attribute(Attribute::Sizes);
                        add(chosen_image(src, srcset, sizes), Kind::Image);
                    }
                    TagName::Source if self.picture.is_some() => {
                        let fits = self.picture == Some(false)
                            && supported_image(tag.attribute(Attribute::Type))
                            && media_matches(tag.attribute(Attribute::Media));
                        let srcset = tag.attribute(Attribute::Srcset);
                        let sizes = tag.attribute(Attribute::Sizes);
                        if let Some(image) = chosen_image(None, srcset, sizes).filter(|_| fits) {
                            self.picture = Some(true);
                            add(Some(image), Kind::Image);
                        }
                    }
                    // A <video>'s or <audio>'s source.
                    TagName::Source => add(attribute(Attribute::Src), Kind::Other),
                    TagName::Picture => self.picture = Some(false),
                    // A frame given its document inline (`srcdoc`) fetches nothing by `src`.
                    TagName::Iframe if tag.attribute(Attribute::Srcdoc).is_some() => {}
                    TagName::Iframe => add(attribute(Attribute::Src), Kind::Frame),
                    TagName::Script => add(attribute(Attribute::Src), Kind::Script),
                    TagName::Video => add(attribute(Attribute::Poster), Kind::Image),
                    TagName::Input
                        if tag
                            .attribute(Attribute::Type)
                            .is_some_and(|t| t.eq_ignore_ascii_case("image")) =>
                    {
                        add(attribute(Attribute::Src), Kind::Image);
                    }
                    TagName::Link => {
                        let rel = tag.attribute(Attribute::Rel).unwrap_or_default();
                        let rel = rel.to_ascii_lowercase();
                        let rels: Vec<&str> = rel.split_ascii_whitespace().collect();
                        let kind = if rels.contains(&"stylesheet") {
                            Some(Kind::Stylesheet)
                        } else if rels.iter().any(|r| matches!(*r, "icon" | "apple-touch-icon")) {
                            Some(Kind::Image)
                        } else if rels.iter().any(|r| matches!(*r, "preload" | "modulepreload")) {
                            Some(preload_kind(tag.attribute(Attribute::As)))
                        } else {
                            None
                        };
                        if let Some(kind) = kind {
                            add(attribute(Attribute::Href), kind);
                        }
                    }
                    TagName::Input | TagName::Style | TagName::Template | TagName::Other => {}
                }
            }
            Event::EndTag(name) => {
                self.in_style = false;
                if name == TagName::Picture {
                    self.picture = None;
                }
            }
            Event::Text(text) if self.in_style => {
                let text = String::from_utf8_lossy(&text).into_owned();
                self.inline_styles.push((self.base.clone(), text));
            }
            Event::Text(_) => {}
        }
        self.ready.extend(found);
    }
}

/// The tags whose attributes name resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagName {
    Base,
    Img,
    Source,
    Script,
    Video,
    Input,
    Link,
    Style,
    Picture,
    Template,
    Iframe,
    Other,
}

impl TagName {
    fn of(name: &[u8]) -> Self {
        // html5gum lowercases tag names as the tokenizer's rules say.
        match name {
            b"base" => Self::Base,
            b"img" => Self::Img,
            b"source" => Self::Source,
            b"script" => Self::Script,
            b"video" => Self::Video,
            b"input" => Self::Input,
            b"link" => Self::Link,
            b"style" => Self::Style,
            b"picture" => Self::Picture,
            b"template" => Self::Template,
            b"iframe" | b"frame" => Self::Iframe,
            _ => Self::Other,
        }
    }
}

/// The attributes that name resources or say what kind they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attribute {
    Src,
    Srcset,
    Href,
    Rel,
    As,
    Type,
    Poster,
    Style,
    Sizes,
    Media,
    Shadowrootmode,
    Srcdoc,
}

impl Attribute {
    fn of(name: &[u8]) -> Option<Self> {
        Some(match name {
            b"src" => Self::Src,
            b"srcset" => Self::Srcset,
            b"href" => Self::Href,
            b"rel" => Self::Rel,
            b"as" => Self::As,
            b"type" => Self::Type,
            b"poster" => Self::Poster,
            b"style" => Self::Style,
            b"sizes" => Self::Sizes,
            b"media" => Self::Media,
            b"shadowrootmode" => Self::Shadowrootmode,
            b"srcdoc" => Self::Srcdoc,
            _ => return None,
        })
    }
}

/// A start tag with the attributes of [`Attribute`] it has, each its first occurrence's value
/// (as the HTML tokenizer keeps the first of duplicates).
#[derive(Debug)]
struct StartTag {
    name: TagName,
    attributes: Vec<(Attribute, String)>,
}

impl StartTag {
    fn attribute(&self, key: Attribute) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }
}

/// What the scan acts on.
#[derive(Debug)]
enum Event {
    StartTag(StartTag),
    EndTag(TagName),
    Text(Vec<u8>),
}

/// Builds [`Event`]s from html5gum's callbacks, keeping only what the scan reads.
#[derive(Debug, Default)]
struct Collect {
    tag: Option<StartTag>,
    /// The attribute whose value comes next, if it is one kept.
    attribute: Option<Attribute>,
    in_style: bool,
}

impl Callback<Event, ()> for Collect {
    fn handle_event(&mut self, event: CallbackEvent<'_>, _: Span<()>) -> Option<Event> {
        match event {
            CallbackEvent::OpenStartTag { name } => {
                self.tag = Some(StartTag { name: TagName::of(name), attributes: Vec::new() });
                self.attribute = None;
                None
            }
            CallbackEvent::AttributeName { name } => {
                let tag = self.tag.as_mut()?;
                self.attribute = Attribute::of(name).filter(|key| tag.attribute(*key).is_none());
                if let Some(key) = self.attribute {
                    // A name without a value has the empty value.
                    tag.attributes.push((key, String::new()));
                }
                None
            }
            CallbackEvent::AttributeValue { value } => {
                if let (Some(tag), Some(_)) = (self.tag.as_mut(), self.attribute.take()) {
                    if let Some(last) = tag.attributes.last_mut() {
                        last.1 = String::from_utf8_lossy(value).into_owned();
                    }
                }
                None
            }
            CallbackEvent::CloseStartTag { .. } => {
                let tag = self.tag.take()?;
                self.in_style = tag.name == TagName::Style;
                Some(Event::StartTag(tag))
            }
            CallbackEvent::EndTag { name } => {
                self.tag = None;
                self.in_style = false;
                Some(Event::EndTag(TagName::of(name)))
            }
            CallbackEvent::String { value } if self.in_style => Some(Event::Text(value.to_vec())),
            _ => None,
        }
    }
}

impl Iterator for HtmlScan {
    type Item = Found;

    fn next(&mut self) -> Option<Found> {
        loop {
            if let Some(found) = self.ready.pop_front() {
                self.handed += 1;
                return Some(found);
            }
            // A reader error cannot happen on memory; a tokenizer error ends the scan.
            let event = self.tokens.next()?.ok()?;
            self.take(event);
        }
    }
}

/// Resources of the stylesheet at `base`: `@import`s are stylesheets, fonts are fonts, other
/// `url()`s images.
pub fn css(base: &Url, sheet: &str) -> Vec<Found> {
    css_urls(base, sheet, Kind::Image)
}

fn css_urls(base: &Url, sheet: &str, default: Kind) -> Vec<Found> {
    // A URL can only come from a `url(` (or another function: a literal parenthesis however
    // the name is escaped) or an `@import`: a sheet with neither needs no tokenizing, which
    // was 60 µs for 8 KB on the loader's critical path.
    if !sheet.bytes().any(|b| b == b'(' || b == b'@') {
        return Vec::new();
    }
    let mut input = ParserInput::new(sheet);
    let mut parser = Parser::new(&mut input);
    let mut found = Vec::new();
    let mut context = Context::default();
    walk(&mut parser, base, default, &mut context, &mut found);
    unique(found)
}

/// Where in the sheet the walk is: after `@import`, or inside `@font-face`.
#[derive(Debug, Default, Clone, Copy)]
struct Context {
    importing: bool,
    font_face: bool,
}

/// Every token of `parser`, into blocks and functions, collecting URLs.
fn walk(
    parser: &mut Parser<'_, '_>,
    base: &Url,
    default: Kind,
    context: &mut Context,
    found: &mut Vec<Found>,
) {
    let mut pending_font_face = false;
    loop {
        let token = match parser.next_including_whitespace_and_comments() {
            Ok(token) => token.clone(),
            Err(_) => return,
        };
        let kind = if context.importing {
            Kind::Stylesheet
        } else if context.font_face {
            Kind::Font
        } else {
            default
        };
        match token {
            Token::UnquotedUrl(url) => push(found, base, &url, kind),
            Token::QuotedString(text) if context.importing => push(found, base, &text, kind),
            Token::AtKeyword(name) => {
                context.importing = name.eq_ignore_ascii_case("import");
                pending_font_face = name.eq_ignore_ascii_case("font-face");
            }
            Token::Semicolon => context.importing = false,
            Token::Function(name) => {
                let is_url = name.eq_ignore_ascii_case("url");
                let mut inner = *context;
                let _ = parser.parse_nested_block(|nested| {
                    if is_url {
                        // url("…") with a quoted string: the string is the URL.
                        while let Ok(token) = nested.next() {
                            if let Token::QuotedString(text) = token {
                                push(found, base, text, kind);
                            }
                        }
                    } else {
                        walk(nested, base, default, &mut inner, found);
                    }
                    Ok::<(), cssparser::ParseError<'_, ()>>(())
                });
            }
            Token::CurlyBracketBlock | Token::SquareBracketBlock | Token::ParenthesisBlock => {
                let mut inner = Context { importing: false, font_face: pending_font_face };
                pending_font_face = false;
                context.importing = false;
                let _ = parser.parse_nested_block(|nested| {
                    walk(nested, base, default, &mut inner, found);
                    Ok::<(), cssparser::ParseError<'_, ()>>(())
                });
            }
            _ => {}
        }
    }
}

fn push(found: &mut Vec<Found>, base: &Url, text: &str, kind: Kind) {
    if let Some(url) = resolve(base, text) {
        found.push(Found { url, kind });
    }
}

/// `text` resolved against `base`; `None` for empty, fragment-only, `data:` and other
/// non-HTTP URLs.
pub(crate) fn resolve(base: &Url, text: &str) -> Option<Url> {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return None;
    }
    let mut url = base.join(text).ok()?;
    url.set_fragment(None);
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// The width of the viewport images are chosen for: headless Chromium's default window
/// (800×600), at a device pixel ratio of 1.
const VIEWPORT_WIDTH: f64 = 800.0;

/// The one image a browser fetches for an `<img>` (or a `<picture>`'s `<source>`, `src`
/// none) at a pixel ratio of 1 (HTML's "select an image source"): of `srcset`'s candidates —
/// `src` counting as `1x` unless one is or they give widths — the lowest density at least 1,
/// else the highest.
/// A `w` descriptor's density is its width over the slot's, from `sizes` (its last length,
/// in `px` or `vw`; 100vw without one).
fn chosen_image(src: Option<&str>, srcset: Option<&str>, sizes: Option<&str>) -> Option<String> {
    let slot = slot_width(sizes);
    let mut widths = false;
    let mut candidates: Vec<(f64, &str)> = srcset
        .unwrap_or_default()
        .split(',')
        .filter_map(|candidate| {
            let mut words = candidate.split_ascii_whitespace();
            let url = words.next()?;
            let density = match words.next() {
                None => 1.0,
                Some(d) if d.ends_with('x') => d.trim_end_matches('x').parse().ok()?,
                Some(w) if w.ends_with('w') => {
                    widths = true;
                    w.trim_end_matches('w').parse::<f64>().ok()? / slot
                }
                Some(_) => return None,
            };
            (density > 0.0).then_some((density, url))
        })
        .collect();
    let src = src.map(str::trim).filter(|s| !s.is_empty());
    // As HTML adds `src`: not beside a 1x candidate, nor among width descriptors.
    if let Some(src) = src.filter(|_| !widths && !candidates.iter().any(|(d, _)| *d == 1.0)) {
        candidates.push((1.0, src));
    }
    let enough = candidates.iter().filter(|(d, _)| *d >= 1.0).min_by(|a, b| a.0.total_cmp(&b.0));
    let best = enough.or_else(|| candidates.iter().max_by(|a, b| a.0.total_cmp(&b.0)));
    best.map(|(_, url)| (*url).to_owned())
}

/// The width in CSS pixels of the slot an image fills, from `sizes`.
fn slot_width(sizes: Option<&str>) -> f64 {
    let last = sizes.and_then(|s| s.rsplit(',').next()).map(str::trim).unwrap_or("100vw");
    let length = |text: &str| -> Option<f64> {
        if let Some(vw) = text.strip_suffix("vw") {
            return vw.trim().parse::<f64>().ok().map(|v| v * VIEWPORT_WIDTH / 100.0);
        }
        text.strip_suffix("px")?.trim().parse().ok()
    };
    length(last).filter(|w| *w > 0.0).unwrap_or(VIEWPORT_WIDTH)
}

/// Whether a `<source type>` names an image format browsers decode (none: any).
fn supported_image(kind: Option<&str>) -> bool {
    let Some(kind) = kind.map(|k| k.trim().to_ascii_lowercase()) else { return true };
    // Chromium 156 decodes JPEG XL again (its choice of a `type=image/jxl` source, tested).
    let known = ["png", "jpeg", "gif", "webp", "avif", "jxl", "svg+xml", "apng", "bmp"];
    kind.strip_prefix("image/").is_some_and(|format| known.contains(&format)) || kind.is_empty()
}

/// Whether a `<source media>` query holds in the viewport: none, `all`/`screen`, or one
/// `(min-width: Npx)` / `(max-width: Npx)`; anything else is taken not to (the next source,
/// or the `<img>`, then serves).
pub(crate) fn media_matches(media: Option<&str>) -> bool {
    let Some(media) = media.map(|m| m.trim().to_ascii_lowercase()) else { return true };
    if matches!(media.as_str(), "" | "all" | "screen") {
        return true;
    }
    let inner = media.strip_prefix('(').and_then(|m| m.strip_suffix(')'));
    let Some((feature, value)) = inner.and_then(|m| m.split_once(':')) else { return false };
    let Some(pixels) = value.trim().strip_suffix("px").and_then(|v| v.trim().parse::<f64>().ok())
    else {
        return false;
    };
    match feature.trim() {
        "min-width" => VIEWPORT_WIDTH >= pixels,
        "max-width" => VIEWPORT_WIDTH <= pixels,
        _ => false,
    }
}

/// A preload's kind from its `as`.
fn preload_kind(destination: Option<&str>) -> Kind {
    match destination.map(str::to_ascii_lowercase).as_deref() {
        Some("style") => Kind::Stylesheet,
        Some("script") => Kind::Script,
        Some("image") => Kind::Image,
        Some("font") => Kind::Font,
        _ => Kind::Other,
    }
}

/// `found` with later duplicates of a URL dropped.
fn unique(found: Vec<Found>) -> Vec<Found> {
    let mut seen = std::collections::HashSet::new();
    found.into_iter().filter(|f| seen.insert(f.url.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(found: &[Found]) -> Vec<(String, Kind)> {
        found.iter().map(|f| (f.url.to_string(), f.kind)).collect()
    }

    #[test]
    fn html_resources_in_document_order_resolved_and_once_each() {
        let base = Url::parse("http://lab.test/dir/page.html").unwrap();
        let page = br#"<!DOCTYPE html><html><head>
            <link rel="stylesheet" href="site.css"><link rel="icon" href="/favicon.ico">
            <link rel=preload href="/f.woff2" as=font crossorigin><link rel=alternate href=feed.xml>
            <script src="app.js?v=1#frag"></script>
            <script>var s = "<img src=not-a-resource.png>";</script>
            <style>body { background: url(bg.png) } /* url(commented.png) */</style>
            </head><body>
            <img src="a.png" srcset="a-2x.png 2x, a-3x.png 3x"><img src="a.png">
            <img src="data:image/png;base64,AAAA"><a href="other.html">link</a>
            <div style="background-image: url('/inline.png')"></div>
            <video poster="poster.jpg"></video>
            </body></html>"#;
        assert_eq!(
            urls(&html(&base, page)),
            [
                ("http://lab.test/dir/site.css".into(), Kind::Stylesheet),
                ("http://lab.test/favicon.ico".into(), Kind::Image),
                ("http://lab.test/f.woff2".into(), Kind::Font),
                ("http://lab.test/dir/app.js?v=1".into(), Kind::Script),
                // At a pixel ratio of 1, src (1x) rather than the 2x and 3x candidates.
                ("http://lab.test/dir/a.png".into(), Kind::Image),
                ("http://lab.test/inline.png".into(), Kind::Image),
                ("http://lab.test/dir/poster.jpg".into(), Kind::Image),
                // The <style> block's rule applies to <body>: once the scan is done.
                ("http://lab.test/dir/bg.png".into(), Kind::Image),
            ]
        );
    }

    #[test]
    fn frames_are_documents_of_their_own_unless_given_inline() {
        let base = Url::parse("http://lab.test/").unwrap();
        let page = b"<iframe src=frame.html></iframe><frameset><frame src=old.html></frameset>\
            <iframe srcdoc='<img src=inline.png>' src=ignored.html></iframe><iframe></iframe>";
        assert_eq!(
            urls(&html(&base, page)),
            [
                ("http://lab.test/frame.html".into(), Kind::Frame),
                ("http://lab.test/old.html".into(), Kind::Frame),
            ]
        );
    }

    #[test]
    fn nothing_in_a_template_or_a_noscript_is_fetched() {
        let base = Url::parse("http://lab.test/").unwrap();
        // A template's content is inert; with scripting on (as in a browser) a noscript's is
        // text, as lazy-loading pages rely on for their fallback images.
        let page = b"<template><img src=t.png><template><img src=tt.png></template>\
            <link rel=stylesheet href=t.css><div style='background:url(ts.png)'></div></template>\
            <noscript><img src=n.png></noscript><img src=shown.png>\
            <div><template shadowrootmode=open><img src=shadow.png></template></div>";
        let found: Vec<String> =
            html(&base, page).iter().map(|f| f.url.path().to_owned()).collect();
        // A declarative shadow root is rendered, so its image is fetched.
        assert_eq!(found, ["/shown.png", "/shadow.png"]);
    }

    #[test]
    fn the_scan_hands_out_each_find_in_document_order_duplicates_included() {
        let base = Url::parse("http://lab.test/").unwrap();
        let page = b"<link rel=stylesheet href=a.css><img src=b.png srcset='c.png 2x'>\
            <style>p { background: url(d.png) }</style><img src=b.png><img src=c.png>";
        let scanned: Vec<String> =
            HtmlScan::new(&base, page.to_vec()).map(|f| f.url.path().to_owned()).collect();
        assert_eq!(scanned, ["/a.css", "/b.png", "/b.png", "/c.png"]);
        let once: Vec<String> = html(&base, page).iter().map(|f| f.url.path().to_owned()).collect();
        // The <style> rule is for <p>, of which the page has none.
        assert_eq!(once, ["/a.css", "/b.png", "/c.png"]);
    }

    #[test]
    fn tag_and_attribute_names_in_any_case_the_first_of_duplicates_and_references_decoded() {
        let base = Url::parse("http://lab.test/").unwrap();
        let page = br#"<IMG SRC="first.png" src="second.png"><img src="q.png?a=1&amp;b=2">
            <Link REL=StyleSheet HREF=s.css><link rel=stylesheet href><input type=IMAGE src=b.png>
            <input type=text src=not.png><picture><source srcset="w.webp 1x"><img src=n.png></picture>
            <img alt="no source">"#;
        assert_eq!(
            urls(&html(&base, page)),
            [
                ("http://lab.test/first.png".into(), Kind::Image),
                ("http://lab.test/q.png?a=1&b=2".into(), Kind::Image),
                ("http://lab.test/s.css".into(), Kind::Stylesheet),
                ("http://lab.test/b.png".into(), Kind::Image),
                ("http://lab.test/w.webp".into(), Kind::Image),
            ]
        );
    }

    #[test]
    fn one_image_is_chosen_per_img_and_per_picture_as_a_browser_at_1x_chooses() {
        let base = Url::parse("http://lab.test/").unwrap();
        let page = br#"
            <img src=a.png srcset="a2.png 2x, a3.png 3x">
            <img srcset="b-half.png 0.5x, b2.png 2x">
            <img src=c.png srcset="c400.png 400w, c800.png 800w, c1600.png 1600w">
            <img src=d.png srcset="d400.png 400w, d800.png 800w" sizes="(max-width: 600px) 100vw, 300px">
            <img src=e.png srcset="e.png 1x, e2.png 2x">
            <picture>
              <source srcset=p.heic type=image/heic>
              <source srcset=p-wide.webp media="(min-width: 1200px)">
              <source srcset="p.webp 1x, p2.webp 2x" type=image/webp>
              <source srcset=p.avif type=image/avif>
              <img src=p.png>
            </picture>
            <picture><source srcset=q.heic type=image/heic><img src=q.png srcset="q2.png 2x"></picture>
            <video><source src=v.mp4></video>"#;
        let chosen: Vec<String> =
            html(&base, page).iter().map(|f| f.url.path().to_owned()).collect();
        assert_eq!(
            chosen,
            [
                "/a.png",
                "/b2.png",
                // 800 px wide (100vw at 800): 800w is density 1.
                "/c800.png",
                // sizes says 300 px: 400w is density 1.33, the lowest at least 1.
                "/d400.png",
                "/e.png",
                // The first source of a supported type whose media holds; the img is not fetched.
                "/p.webp",
                // No source fits: the img's own choice.
                "/q.png",
                "/v.mp4",
            ]
        );
    }

    #[test]
    fn base_href_moves_relative_urls() {
        let base = Url::parse("http://lab.test/a/page.html").unwrap();
        let page = b"<base href=\"http://cdn.test/assets/\"><img src=x.png>";
        assert_eq!(
            urls(&html(&base, page)),
            [("http://cdn.test/assets/x.png".into(), Kind::Image)]
        );
    }

    #[test]
    fn css_imports_fonts_and_images() {
        let base = Url::parse("http://lab.test/css/site.css").unwrap();
        let sheet = r#"@import "reset.css"; @import url(print.css) print;
            /* url(ignored.png) */
            @font-face { font-family: F; src: url("../fonts/f.woff2") format("woff2"), url(f.ttf); }
            .hero { background: url( '../img/hero.jpg' ) no-repeat, url(data:image/gif;base64,R0) }
            .x { content: "url(not-a-url.png)" }"#;
        assert_eq!(
            urls(&css(&base, sheet)),
            [
                ("http://lab.test/css/reset.css".into(), Kind::Stylesheet),
                ("http://lab.test/css/print.css".into(), Kind::Stylesheet),
                ("http://lab.test/fonts/f.woff2".into(), Kind::Font),
                ("http://lab.test/css/f.ttf".into(), Kind::Font),
                ("http://lab.test/img/hero.jpg".into(), Kind::Image),
            ]
        );
    }

    #[test]
    fn garbage_gives_nothing_and_never_panics() {
        let base = Url::parse("http://lab.test/").unwrap();
        assert!(html(&base, b"<<<img src=\xff\xfe>>><link rel=stylesheet>").len() <= 1);
        assert!(css(&base, "url(((( @import ;;; }}} {").is_empty());
    }

    #[test]
    fn sheets_without_parentheses_or_at_rules_have_no_urls_and_escapes_still_count() {
        let base = Url::parse("http://lab.test/a/s.css").unwrap();
        assert!(css(&base, "p { color: red } QUJDREVGR0g= div{margin:0}").is_empty());
        let escaped = css(&base, r"p { background: \75rl(x.png) }");
        assert_eq!(urls(&escaped), [("http://lab.test/a/x.png".to_owned(), Kind::Image)]);
        let imported = css(&base, "@import 'b.css';");
        assert_eq!(urls(&imported), [("http://lab.test/a/b.css".to_owned(), Kind::Stylesheet)]);
    }
}
