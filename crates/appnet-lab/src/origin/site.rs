//! The lab origin's generated site: pages that each pull in shared stylesheets and scripts and
//! images of their own, as a real site's pages do, and a catalogue of objects of many sizes
//! whose popularity follows Zipf's law (the later cache and CDN experiments draw from it).
//! Everything is made from a fixed seed, so two runs serve the same bytes.

use std::io;
use std::path::Path;

use rand::{Rng, SeedableRng};
use serde::Serialize;

/// How big the site is.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SiteShape {
    /// Pages.
    pub pages: usize,
    /// Stylesheets every page links.
    pub stylesheets: usize,
    /// Scripts every page loads.
    pub scripts: usize,
    /// Images of each page's own.
    pub images_per_page: usize,
    /// Objects in the catalogue.
    pub objects: usize,
}

/// One page and what it embeds.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// Its URL path.
    pub path: String,
    /// The URL paths it embeds, in document order.
    pub resources: Vec<String>,
}

/// What was generated.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    /// The pages.
    pub pages: Vec<Page>,
    /// The catalogue: URL path and size, most popular first.
    pub catalogue: Vec<(String, u64)>,
    /// Bytes of every file.
    pub bytes: u64,
}

/// Writes the site under `root`.
pub fn generate(root: &Path, shape: SiteShape) -> io::Result<Site> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(80);
    let mut bytes = 0;
    let mut write = |path: &str, contents: &[u8]| -> io::Result<()> {
        let file = root.join(path.trim_start_matches('/'));
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        bytes += contents.len() as u64;
        std::fs::write(file, contents)
    };
    let mut shared = Vec::new();
    for i in 0..shape.stylesheets {
        let path = format!("/css/style{i}.css");
        let rules: String = (0..200)
            .map(|r| {
                format!(".c{i}-{r} {{ margin: {r}px; color: #{:06x}; }}\n", r * 997 % 0xffffff)
            })
            .collect();
        write(&path, rules.as_bytes())?;
        shared.push(path);
    }
    for i in 0..shape.scripts {
        let path = format!("/js/app{i}.js");
        let code: String = (0..300)
            .map(|f| format!("function f{i}_{f}(x) {{ return x * {f} + {i}; }}\n"))
            .collect();
        write(&path, code.as_bytes())?;
        shared.push(path);
    }
    let mut pages = Vec::new();
    for p in 0..shape.pages {
        let mut resources = shared.clone();
        for i in 0..shape.images_per_page {
            let path = format!("/img/p{p}-{i}.png");
            // Images are incompressible, as real ones are: random bytes, 2 to 40 KB.
            let size = rng.random_range(2_000..40_000);
            let mut image = vec![0u8; size];
            rng.fill(&mut image[..]);
            write(&path, &image)?;
            resources.push(path);
        }
        let path = if p == 0 { "/index.html".to_owned() } else { format!("/page{p}.html") };
        write(&path, page_html(p, &resources).as_bytes())?;
        pages.push(Page { path, resources });
    }
    let mut catalogue = Vec::new();
    for i in 0..shape.objects {
        // Sizes spread log-uniformly from 1 KiB to 256 KiB, as web objects' sizes spread.
        let size = (1024.0 * 256f64.powf(rng.random::<f64>())) as u64;
        let path = format!("/objects/o{i}.bin");
        let mut object = vec![0u8; size as usize];
        rng.fill(&mut object[..]);
        write(&path, &object)?;
        catalogue.push((path, size));
    }
    Ok(Site { pages, catalogue, bytes })
}

/// A page's HTML: its stylesheets in the head, scripts at the end, images in the body.
fn page_html(number: usize, resources: &[String]) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>lab page {number}</title>\n"
    );
    for css in resources.iter().filter(|r| r.ends_with(".css")) {
        html.push_str(&format!("<link rel=stylesheet href=\"{css}\">\n"));
    }
    html.push_str(&format!("</head><body><h1>Lab page {number}</h1>\n"));
    for (i, image) in resources.iter().filter(|r| r.ends_with(".png")).enumerate() {
        html.push_str(&format!(
            "<p>Paragraph {i} of page {number}.</p><img src=\"{image}\" alt=\"\">\n"
        ));
    }
    for script in resources.iter().filter(|r| r.ends_with(".js")) {
        html.push_str(&format!("<script src=\"{script}\"></script>\n"));
    }
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_embed_shared_and_own_resources_and_every_file_exists() {
        let dir = tempfile::tempdir().unwrap();
        let shape =
            SiteShape { pages: 3, stylesheets: 2, scripts: 2, images_per_page: 5, objects: 20 };
        let site = generate(dir.path(), shape).unwrap();
        assert_eq!(site.pages.len(), 3);
        assert_eq!(site.pages[0].path, "/index.html");
        assert_eq!(site.pages[1].resources.len(), 2 + 2 + 5);
        let html = std::fs::read_to_string(dir.path().join("page1.html")).unwrap();
        for resource in &site.pages[1].resources {
            assert!(html.contains(&format!("\"{resource}\"")), "{resource} in the page");
            assert!(dir.path().join(resource.trim_start_matches('/')).is_file(), "{resource}");
        }
        assert_eq!(site.catalogue.len(), 20);
        for (path, size) in &site.catalogue {
            let on_disk = std::fs::metadata(dir.path().join(path.trim_start_matches('/'))).unwrap();
            assert_eq!(on_disk.len(), *size);
            assert!((1024..=256 * 1024).contains(size), "{size}");
        }
        // The same seed, the same site.
        let again = tempfile::tempdir().unwrap();
        assert_eq!(generate(again.path(), shape).unwrap().bytes, site.bytes);
    }
}
