//! Which of a page's stylesheet resources a browser fetches. An `@import` is fetched at once;
//! a rule's background (any `url()` in a style rule) only when its selector matches an element
//! of the document and its `@media` holds; an `@font-face` font only when a rule that applies
//! names its family first in `font-family` (or `font`). Browsers decide this at style
//! recalculation, once the stylesheets have come, so the loader holds these until every
//! stylesheet of the page is in and then matches them all against the document's DOM (scraper:
//! html5ever's tree, Servo's selector matching). A rule for `:hover` or another state the page
//! is not in at load matches nothing, as in the browser.
//!
//! Pure: sheets in, URLs out.

use std::collections::{HashMap, HashSet};

use cssparser::{Parser, ParserInput, Token};
use url::Url;

use super::discover::{Found, Kind, media_matches, resolve};

/// A resource that depends on the document.
#[derive(Debug, Clone)]
struct Conditional {
    found: Found,
    /// The style rule's selector; `None` in an `@font-face`.
    selector: Option<String>,
    /// Every enclosing `@media` query list.
    media: Vec<String>,
    /// The family an `@font-face` declares.
    face: Option<String>,
}

/// A style rule naming a font family first.
#[derive(Debug, Clone)]
struct FamilyUse {
    selector: String,
    media: Vec<String>,
    family: String,
}

/// A style rule setting `display`: whether to `none`.
#[derive(Debug, Clone)]
struct Display {
    selector: String,
    media: Vec<String>,
    none: bool,
}

/// The page's stylesheets' resources that wait for the DOM.
#[derive(Debug, Default)]
pub struct Styles {
    pending: Vec<Conditional>,
    uses: Vec<FamilyUse>,
    displays: Vec<Display>,
    /// How many at-rules of a condition not judged here (`@container`, `@supports`…) the
    /// rules being read are inside.
    uncertain: usize,
}

impl Styles {
    /// No stylesheet seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in the stylesheet at `base`: its `@import`s, to fetch now; the rest is held.
    pub fn add(&mut self, base: &Url, sheet: &str) -> Vec<Found> {
        // A URL needs `url(` (or an `@import`), so a sheet with neither `(` nor `@` names no
        // resource; it can still name a family for another sheet's @font-face, which takes
        // the word `font`. Without any of these it is not tokenized (60 µs for 8 KB).
        if !sheet.bytes().any(|b| b == b'(' || b == b'@') && !sheet.contains("font") {
            return Vec::new();
        }
        let mut input = ParserInput::new(sheet);
        let mut parser = Parser::new(&mut input);
        let mut imports = Vec::new();
        rules(&mut parser, base, &[], &mut imports, self);
        imports
    }

    /// Whether anything waits for the DOM.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// What of the held resources a browser fetches for `document` (HTML), in sheet order,
    /// each once; they are no longer held.
    pub fn resolve(&mut self, document: &[u8]) -> Vec<Found> {
        self.resolve_in(&[document])
    }

    /// The same for a page of several `documents` (the page's and its frames'): a rule
    /// applies if it matches in any of them. Which document a stylesheet belongs to is not
    /// kept, so a page's rule matching only in a frame counts too (a fetch too many rather
    /// than one missing).
    pub fn resolve_in(&mut self, documents: &[&[u8]]) -> Vec<Found> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Vec::new();
        }
        let doms: Vec<_> = documents
            .iter()
            .map(|document| {
                let dom = scraper::Html::parse_document(&String::from_utf8_lossy(document));
                // An element under `display: none` has no box, so its rules' backgrounds and
                // fonts are not fetched (an <img> in it still is: the scan found that already).
                let hidden = hidden_elements(&dom, &self.displays);
                (dom, hidden)
            })
            .collect();
        let mut matched: HashMap<String, bool> = HashMap::new();
        let mut applies = |selector: &str, media: &[String]| -> bool {
            if !media.iter().all(|query| media_list_matches(query)) {
                return false;
            }
            *matched.entry(selector.to_owned()).or_insert_with(|| {
                doms.iter().any(|(dom, hidden)| {
                    let visible = |element: scraper::ElementRef<'_>| {
                        !std::iter::once(*element)
                            .chain(element.ancestors())
                            .any(|n| hidden.contains(&n.id()))
                    };
                    matches_any(dom, selector, &visible)
                })
            })
        };
        let used: HashSet<String> = self
            .uses
            .iter()
            .filter(|u| applies(&u.selector, &u.media))
            .map(|u| u.family.to_ascii_lowercase())
            .collect();
        let mut seen = HashSet::new();
        pending
            .into_iter()
            .filter(|c| match (&c.face, &c.selector) {
                (Some(face), _) => {
                    used.contains(&face.to_ascii_lowercase())
                        && c.media.iter().all(|query| media_list_matches(query))
                }
                (None, Some(selector)) => applies(selector, &c.media),
                (None, None) => c.media.iter().all(|query| media_list_matches(query)),
            })
            .map(|c| c.found)
            .filter(|found| seen.insert(found.url.clone()))
            .collect()
    }
}

/// The elements `display: none` takes out of the page: by their `style` attribute, or by a
/// rule that applies — unless another rule that applies sets another `display` (without the
/// cascade's specificity to tell which wins, the element is taken to be shown: a fetch too
/// many rather than an image missing).
fn hidden_elements(dom: &scraper::Html, displays: &[Display]) -> HashSet<ego_tree::NodeId> {
    let mut hidden = HashSet::new();
    let mut shown = HashSet::new();
    for display in displays {
        // `p::before { display: none }` hides the pseudo-element, not the `p`.
        let pseudo = display.selector.contains("::")
            || display.selector.contains(":before")
            || display.selector.contains(":after");
        if pseudo || !display.media.iter().all(|query| media_list_matches(query)) {
            continue;
        }
        for one in display.selector.split(',') {
            if STATES.iter().any(|state| one.contains(state)) {
                continue;
            }
            let Ok(parsed) = scraper::Selector::parse(one) else { continue };
            let into = if display.none { &mut hidden } else { &mut shown };
            into.extend(dom.select(&parsed).map(|element| element.id()));
        }
    }
    hidden.retain(|id| !shown.contains(id));
    // A template's content is inert (a declarative shadow root's is shown); `hidden` is
    // `display: none` in the browser's own stylesheet (`until-found` is not).
    let unshown = "template:not([shadowrootmode]), [hidden]:not([hidden=until-found i])";
    if let Ok(unshown) = scraper::Selector::parse(unshown) {
        hidden.extend(dom.select(&unshown).map(|element| element.id()));
    }
    if let Ok(styled) = scraper::Selector::parse("[style]") {
        for element in dom.select(&styled) {
            let style = element.value().attr("style").unwrap_or_default();
            match inline_display_none(style) {
                Some(true) => hidden.insert(element.id()),
                Some(false) => hidden.remove(&element.id()),
                None => false,
            };
        }
    }
    hidden
}

/// Whether a `style` attribute's last `display` is `none`; `None` without one.
fn inline_display_none(style: &str) -> Option<bool> {
    let mut none = None;
    for declaration in style.split(';') {
        if let Some((property, value)) = declaration.split_once(':') {
            if property.trim().eq_ignore_ascii_case("display") {
                let value = value.trim().trim_end_matches("!important").trim();
                none = Some(value.eq_ignore_ascii_case("none"));
            }
        }
    }
    none
}

/// Whether `selector` (a selector list) matches a `visible` element of `dom`. Pseudo-elements
/// are dropped (`p::before` draws on `p`); a selector scraper cannot read is taken to match,
/// so that an unknown syntax costs a fetch rather than a missing image.
fn matches_any(
    dom: &scraper::Html,
    selector: &str,
    visible: &dyn Fn(scraper::ElementRef<'_>) -> bool,
) -> bool {
    // Each selector of the list on its own (a comma inside :is() or :not() splits one in two;
    // both halves are then tried, which errs towards a fetch).
    selector.split(',').any(|one| matches_one(dom, one, visible))
}

/// States a page is not in while it loads: a rule for one applies to nothing yet.
const STATES: [&str; 8] =
    [":hover", ":focus", ":active", ":visited", ":target", ":checked", ":invalid", ":open"];

fn matches_one(
    dom: &scraper::Html,
    selector: &str,
    visible: &dyn Fn(scraper::ElementRef<'_>) -> bool,
) -> bool {
    if STATES.iter().any(|state| selector.contains(state)) {
        return false;
    }
    let mut plain = selector.to_owned();
    for pseudo in [
        "before",
        "after",
        "first-line",
        "first-letter",
        "marker",
        "placeholder",
        "selection",
        "backdrop",
        "file-selector-button",
    ] {
        plain = plain.replace(&format!("::{pseudo}"), "").replace(&format!(":{pseudo}"), "");
    }
    match scraper::Selector::parse(&plain) {
        Ok(parsed) => dom.select(&parsed).any(visible),
        Err(_) => true,
    }
}

/// A media query list: any of its queries holds (each a conjunction of `and` parts).
fn media_list_matches(list: &str) -> bool {
    list.split(',').any(|query| {
        let query = query.trim().to_ascii_lowercase();
        let query = query.strip_prefix("only ").unwrap_or(&query);
        query.split(" and ").all(|part| media_matches(Some(part)))
    })
}

/// The rules of a rule list (a sheet, or an `@media` block inside `media`).
fn rules(
    parser: &mut Parser<'_, '_>,
    base: &Url,
    media: &[String],
    imports: &mut Vec<Found>,
    styles: &mut Styles,
) {
    loop {
        let start = parser.position();
        let mut at: Option<String> = None;
        let mut first = true;
        loop {
            let token = match parser.next() {
                Ok(token) => token.clone(),
                Err(_) => return,
            };
            match token {
                Token::AtKeyword(name) if first => at = Some(name.to_ascii_lowercase()),
                Token::Semicolon if first => {}
                Token::Semicolon => break,
                Token::UnquotedUrl(url) | Token::QuotedString(url)
                    if at.as_deref() == Some("import") =>
                {
                    if let Some(url) = resolve(base, &url) {
                        imports.push(Found { url, kind: Kind::Stylesheet });
                    }
                }
                Token::Function(name)
                    if at.as_deref() == Some("import") && name.eq_ignore_ascii_case("url") =>
                {
                    let _ = parser.parse_nested_block(|nested| {
                        while let Ok(token) = nested.next() {
                            if let Token::QuotedString(text) = token {
                                if let Some(url) = resolve(base, text) {
                                    imports.push(Found { url, kind: Kind::Stylesheet });
                                }
                            }
                        }
                        Ok::<(), cssparser::ParseError<'_, ()>>(())
                    });
                }
                Token::CurlyBracketBlock => {
                    let prelude = without_comments(parser.slice_from(start));
                    let prelude = prelude.trim_end_matches('{').trim().to_owned();
                    block(parser, base, media, at.as_deref(), &prelude, imports, styles);
                    break;
                }
                _ => {}
            }
            first = false;
        }
    }
}

/// `text` without its `/* … */` comments.
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("/*") {
        out.push_str(&rest[..open]);
        rest = rest[open + 2..].split_once("*/").map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out
}

/// The block after a rule's prelude.
fn block(
    parser: &mut Parser<'_, '_>,
    base: &Url,
    media: &[String],
    at: Option<&str>,
    prelude: &str,
    imports: &mut Vec<Found>,
    styles: &mut Styles,
) {
    let _ = parser.parse_nested_block(|nested| {
        match at {
            Some("media") => {
                let mut inner = media.to_vec();
                inner.push(prelude.trim_start_matches("@media").trim().to_owned());
                rules(nested, base, &inner, imports, styles);
            }
            Some("layer") => rules(nested, base, media, imports, styles),
            // Conditions the loader cannot judge: their rules' images count (a fetch too many
            // rather than one missing), their `display: none` does not.
            Some("supports" | "container" | "document" | "scope" | "starting-style") => {
                styles.uncertain += 1;
                rules(nested, base, media, imports, styles);
                styles.uncertain -= 1;
            }
            Some("font-face") => {
                let mut declared = Declarations::default();
                declarations(nested, base, Kind::Font, &mut declared);
                for found in declared.urls {
                    let face = declared.family.clone();
                    let media = media.to_vec();
                    styles.pending.push(Conditional { found, selector: None, media, face });
                }
            }
            // Keyframes, @page, counter styles: nothing a page load fetches.
            Some(_) => {}
            None => {
                let mut declared = Declarations::default();
                declarations(nested, base, Kind::Image, &mut declared);
                for found in declared.urls {
                    styles.pending.push(Conditional {
                        found,
                        selector: Some(prelude.to_owned()),
                        media: media.to_vec(),
                        face: None,
                    });
                }
                if let Some(family) = declared.family {
                    let (selector, media) = (prelude.to_owned(), media.to_vec());
                    styles.uses.push(FamilyUse { selector, media, family });
                }
                if let Some(none) = declared.display_none.filter(|_| styles.uncertain == 0) {
                    let (selector, media) = (prelude.to_owned(), media.to_vec());
                    styles.displays.push(Display { selector, media, none });
                }
            }
        }
        Ok::<(), cssparser::ParseError<'_, ()>>(())
    });
}

/// What a declaration block names.
#[derive(Debug, Default)]
struct Declarations {
    urls: Vec<Found>,
    /// The first family of `font-family` (or of `font`), the last such declaration's.
    family: Option<String>,
    /// Whether the last `display` declaration says `none`; `None` without one.
    display_none: Option<bool>,
}

/// The declarations of a block: its `url()`s (of `kind`) and first font family.
fn declarations(parser: &mut Parser<'_, '_>, base: &Url, kind: Kind, out: &mut Declarations) {
    let mut property: Option<String> = None;
    let mut expecting_name = true;
    let mut words: Vec<String> = Vec::new();
    let mut family_open = false;
    let mut display_open = false;
    loop {
        let token = match parser.next() {
            Ok(token) => token.clone(),
            Err(_) => break,
        };
        match token {
            Token::Ident(name) if expecting_name => {
                property = Some(name.to_ascii_lowercase());
                expecting_name = false;
                words.clear();
                family_open = property.as_deref() == Some("font-family");
                display_open = property.as_deref() == Some("display");
            }
            Token::Colon => {}
            Token::Semicolon => {
                finish_family(property.as_deref(), &words, out);
                (property, expecting_name, family_open, display_open) = (None, true, false, false);
                words.clear();
            }
            Token::Comma => family_open = false,
            // `display`'s first word (`none !important` is still none).
            Token::Ident(value) if display_open => {
                out.display_none = Some(value.eq_ignore_ascii_case("none"));
                display_open = false;
            }
            Token::Ident(word) | Token::QuotedString(word) if family_open => {
                words.push(word.to_string());
            }
            // `font`: the family list follows the size (and line height): its last number.
            Token::Dimension { .. } | Token::Percentage { .. } | Token::Number { .. }
                if property.as_deref() == Some("font") =>
            {
                words.clear();
                family_open = true;
            }
            Token::Delim('/') if property.as_deref() == Some("font") => family_open = false,
            Token::UnquotedUrl(url) => push(out, base, &url, kind),
            Token::Function(name) => {
                let name = name.to_ascii_lowercase();
                let is_url = name == "url";
                // image-set() and cross-fade() name images, as strings or url()s; format(),
                // local(), gradients and the rest name none.
                let holds_images =
                    name.ends_with("image-set") || name.ends_with("cross-fade") || name == "image";
                let _ = parser.parse_nested_block(|nested| {
                    if is_url {
                        while let Ok(token) = nested.next() {
                            if let Token::QuotedString(text) = token {
                                push(out, base, text.as_ref(), kind);
                            }
                        }
                    } else if holds_images {
                        declarations_values(nested, base, kind, out);
                    }
                    Ok::<(), cssparser::ParseError<'_, ()>>(())
                });
                // After `font: 12px/1.5`, a function is no family; the size came before.
                if property.as_deref() == Some("font") && !words.is_empty() {
                    family_open = false;
                }
            }
            Token::CurlyBracketBlock => {
                // A nested rule (CSS nesting, or an @media inside a rule): its URLs and family
                // count with this rule's selector (a fetch too many rather than one missing);
                // its `display` is for other elements or other widths, so not this rule's.
                let mut inner = Declarations::default();
                let _ = parser.parse_nested_block(|nested| {
                    declarations(nested, base, kind, &mut inner);
                    Ok::<(), cssparser::ParseError<'_, ()>>(())
                });
                out.urls.append(&mut inner.urls);
                if inner.family.is_some() {
                    out.family = inner.family;
                }
                (property, expecting_name, family_open, display_open) = (None, true, false, false);
            }
            _ => {}
        }
    }
    finish_family(property.as_deref(), &words, out);
}

/// The images among an image-set()'s (or cross-fade()'s) arguments.
fn declarations_values(
    parser: &mut Parser<'_, '_>,
    base: &Url,
    kind: Kind,
    out: &mut Declarations,
) {
    while let Ok(token) = parser.next() {
        match token.clone() {
            Token::UnquotedUrl(url) => push(out, base, &url, kind),
            Token::QuotedString(text) => push(out, base, &text, kind),
            Token::Function(name) if name.eq_ignore_ascii_case("url") => {
                let _ = parser.parse_nested_block(|nested| {
                    while let Ok(token) = nested.next() {
                        if let Token::QuotedString(text) = token {
                            push(out, base, text.as_ref(), kind);
                        }
                    }
                    Ok::<(), cssparser::ParseError<'_, ()>>(())
                });
            }
            _ => {}
        }
    }
}

/// Keeps the first family named by a finished `font-family` or `font` declaration.
fn finish_family(property: Option<&str>, words: &[String], out: &mut Declarations) {
    if matches!(property, Some("font-family" | "font")) && !words.is_empty() {
        out.family = Some(words.join(" "));
    }
}

fn push(out: &mut Declarations, base: &Url, text: &str, kind: Kind) {
    if let Some(url) = resolve(base, text) {
        out.urls.push(Found { url, kind });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(found: &[Found]) -> Vec<String> {
        found.iter().map(|f| f.url.path().to_owned()).collect()
    }

    #[test]
    fn only_rules_that_apply_fetch_their_images_and_only_used_families_their_fonts() {
        let base = Url::parse("http://lab.test/css/site.css").unwrap();
        let mut styles = Styles::new();
        let imports = styles.add(
            &base,
            r#"@import url(reset.css);
            @font-face { font-family: "Used Face"; src: url(used.woff2) format("woff2") }
            @font-face { src: url(unused.woff2); font-family: Unused }
            .hero { background: url(../img/hero.png) no-repeat }
            .absent { background-image: url(../img/absent.png) }
            a:hover { background: url(../img/hover.png) }
            p::before { content: ""; background: url(../img/before.png) }
            h1, .nowhere { background: url(../img/list.png) }
            @media (max-width: 600px) { .hero { background: url(../img/narrow.png) } }
            @media screen and (min-width: 600px) { .hero { background: url(../img/wide.png) } }
            @media print { body { background: url(../img/print.png) } }
            body { font: italic 16px/1.5 "Used Face", serif }
            .absent { font-family: Unused }
            div > span.x { list-style: url("../img/span.png") }"#,
        );
        assert_eq!(paths(&imports), ["/css/reset.css"]);
        let page = br#"<html><body><h1 class=hero>t</h1><p>text <a href=#>a</a></p>
            <div><span class="x y">s</span></div></body></html>"#;
        assert_eq!(
            paths(&styles.resolve(page)),
            [
                "/css/used.woff2",
                "/img/hero.png",
                "/img/before.png",
                "/img/list.png",
                "/img/wide.png",
                "/img/span.png",
            ]
        );
        assert!(!styles.has_pending(), "resolved once");
    }

    #[test]
    fn nothing_under_display_none_fetches_its_backgrounds_or_fonts() {
        let base = Url::parse("http://lab.test/").unwrap();
        let mut styles = Styles::new();
        styles.add(
            &base,
            ".gone { display: none !important } .menu { display: none } .menu.open { display: block }
             .in-gone { background: url(a.png) } .in-menu { background: url(b.png) }
             .in-inline { background: url(c.png); font-family: Hidden }
             .shown-inline { background: url(d.png) } p::before { display: none }
             p { background: url(e.png) }
             @font-face { font-family: Hidden; src: url(h.woff2) }
             .nav { background: url(f.png); @media (max-width: 600px) { display: none } }
             @container (width > 9000px) { .wide { display: none } } .wide { background: url(g.png) }
             .card { background: url(t.png) } .until { background: url(u.png) }
             .attr { background: url(v.png) } .shadow { background: url(w.png) }",
        );
        let document = br#"<div class=gone><span class=in-gone>x</span></div>
            <div class="menu open"><span class=in-menu>x</span></div>
            <div style="color: red; display:none"><span class=in-inline>x</span></div>
            <div class=gone style="display: block"><span class=shown-inline>x</span></div>
            <p>x</p><nav class=nav></nav><div class=wide></div>
            <template><div class=card></div></template><div hidden><i class=attr></i></div>
            <div hidden=until-found><i class=until></i></div>
            <div><template shadowrootmode=open><b class=shadow></b></template></div>"#;
        // Hidden by a rule, and by a style attribute: nothing. Hidden by one rule and shown by
        // another, or by the style attribute over a rule: fetched. A pseudo-element hidden
        // leaves its element be; so does a display nested for another width, or under a
        // condition not judged. A template's content and a `hidden` element are not shown;
        // `until-found` and a declarative shadow root are.
        assert_eq!(
            paths(&styles.resolve(document)),
            ["/b.png", "/d.png", "/e.png", "/f.png", "/g.png", "/u.png", "/w.png"]
        );
        assert_eq!(inline_display_none("display: none !important"), Some(true));
        assert_eq!(inline_display_none("DISPLAY:none; display: grid"), Some(false));
        assert_eq!(inline_display_none("color: red"), None);
    }

    #[test]
    fn a_selector_scraper_cannot_read_is_taken_to_match() {
        let base = Url::parse("http://lab.test/").unwrap();
        let mut styles = Styles::new();
        styles.add(
            &base,
            "p:unknown-pseudo(1) { background: url(x.png) } q { background: url(y.png) }",
        );
        assert_eq!(paths(&styles.resolve(b"<p>no q here</p>")), ["/x.png"]);
    }
}
