//! The lab's origin: appnet's HTTP server on its own host with a generated site ([`site`]),
//! and every client group — the lab's own clients and each `--region` — loading a page with
//! all its resources and a Zipf-popular sample of the catalogue, over its own link. The origin
//! counts what it served to each group (connections, requests, bytes), and that is what the
//! report shows, beside the load times the groups saw. The page-load-time experiment (issue
//! #7) and the caches (#8) build on this origin.

pub mod fetch;
pub mod site;

use std::net::SocketAddr;
use std::sync::Arc;

use appnet_http::server::{self, ServeSettings};
use appnet_http::stats::PeerStats;
use rand::SeedableRng;
use serde::Serialize;

use crate::LabError;
use crate::host::LabHost;
use crate::link::{LinkSpec, Region};
use crate::net::{LabNet, free_port};
use crate::report::Figure;
use crate::topology::Topology;
use crate::zipf::Zipf;
use site::SiteShape;

/// The origin's host number: 127.53.0.80 or 198.18.0.80.
const ORIGIN: u8 = 80;

/// Connections a group opens for a page's resources, as browsers do per host.
const PAGE_CONNECTIONS: usize = 6;

/// Connections a group opens for its catalogue requests.
const CATALOGUE_CONNECTIONS: usize = 4;

/// How big the experiment is.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct OriginSettings {
    /// The generated site.
    pub site: SiteShape,
    /// Catalogue requests each group makes.
    pub object_requests: usize,
    /// The Zipf exponent of the catalogue's popularity.
    pub zipf_exponent: f64,
    /// The link of the origin and of the lab's own clients; `None`: plain loopback.
    pub link: Option<LinkSpec>,
    /// How the hosts are joined.
    pub topology: Topology,
}

impl OriginSettings {
    /// `--quick` or the full run.
    pub fn new(quick: bool) -> Self {
        let (pages, images_per_page, objects, object_requests) =
            if quick { (5, 20, 200, 300) } else { (20, 40, 2000, 3000) };
        Self {
            site: SiteShape { pages, stylesheets: 3, scripts: 4, images_per_page, objects },
            object_requests,
            zipf_exponent: 0.8,
            link: None,
            topology: Topology::Loopback,
        }
    }
}

/// What one client group saw, and what the origin served it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    /// `local` for the lab's own clients, else the region's name.
    pub name: String,
    /// Where the group's requests come from.
    pub address: String,
    /// Its link to the origin (`None`: the lab's own link, if any).
    pub link: Option<LinkSpec>,
    /// The front page: its HTML, then its resources on six connections.
    pub page_load: Figure,
    /// The catalogue sample, on four connections.
    pub catalogue_fetch: Figure,
    /// Requests the origin answered for the group.
    pub requests: u64,
    /// Body bytes the origin sent the group.
    pub bytes: Figure,
    /// Connections the origin accepted from the group.
    pub connections: u64,
}

/// Everything the origin experiment measured.
#[derive(Debug, Clone, Serialize)]
pub struct OriginReport {
    /// The experiment's size.
    pub settings: OriginSettings,
    /// Where the origin answered.
    pub origin: String,
    /// Resources the front page embeds.
    pub page_resources: usize,
    /// Bytes of the whole generated site.
    pub site_bytes: Figure,
    /// One entry per client group.
    pub groups: Vec<GroupReport>,
}

/// Runs the experiment, reporting progress through `progress`.
pub async fn run(
    settings: OriginSettings,
    regions: &[Region],
    progress: &mut impl FnMut(&str),
) -> Result<OriginReport, LabError> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().to_path_buf();
    let shape = settings.site;
    progress(&format!(
        "generating the origin's site: {} pages of {} resources, {} catalogue objects",
        shape.pages,
        shape.stylesheets + shape.scripts + shape.images_per_page,
        shape.objects
    ));
    let site = tokio::task::spawn_blocking(move || site::generate(&root, shape))
        .await
        .map_err(|e| LabError::new(e.to_string()))??;
    let mut net = LabNet::new(settings.topology, settings.link)?;
    let origin_host = net.host(0, ORIGIN, settings.link)?;
    let (port, back_port) = if net.in_namespaces() {
        (80, 80)
    } else {
        let port = free_port(origin_host.ip)?;
        (port, if net.relay_link().is_some() { free_port(origin_host.ip)? } else { port })
    };
    let stats = Arc::new(PeerStats::default());
    let serve = ServeSettings {
        root: dir.path().to_path_buf(),
        listen: vec![SocketAddr::new(origin_host.ip, back_port)],
        access_log: false,
        peer_stats: Some(stats.clone()),
        ..ServeSettings::default()
    };
    progress("starting the origin (appnet http serve)");
    let running = origin_host.run(async move { server::spawn(serve).await }).await??;
    let origin = SocketAddr::new(origin_host.ip, port);
    let backend = SocketAddr::new(origin_host.ip, back_port);
    if let Some(spec) = net.relay_link() {
        net.relay(origin, backend, spec).await?;
    }

    // The groups: the lab's own clients, then one per region, each with its way to the origin.
    let mut groups: Vec<(String, LabHost, SocketAddr, Option<LinkSpec>)> =
        vec![("local".to_owned(), net.host(1, 1, settings.link)?, origin, settings.link)];
    for (index, region) in regions.iter().enumerate() {
        let third = 10 + index as u8;
        let (host, target) = net.clients_behind(third, region.link, backend, ORIGIN).await?;
        groups.push((region.name.clone(), host, target, Some(region.link)));
    }

    let page = site.pages.first().ok_or_else(|| LabError::new("the site has no page"))?;
    let zipf = Zipf::new(site.catalogue.len(), settings.zipf_exponent);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8080);
    let sample: Vec<String> = (0..settings.object_requests)
        .map(|_| site.catalogue[zipf.sample(&mut rng)].0.clone())
        .collect();
    let mut measured = Vec::new();
    for (name, host, target, link) in &groups {
        progress(&format!(
            "clients {name} ({}) load {} and its {} resources, then {} catalogue objects",
            host.ip,
            page.path,
            page.resources.len(),
            sample.len()
        ));
        let source = host.ip;
        let (html, resources, objects) =
            (vec![page.path.clone()], page.resources.clone(), sample.clone());
        let target = *target;
        let (page_load, catalogue) = host
            .run(async move {
                let html = fetch::fetch(source, target, html, 1).await?;
                let resources = fetch::fetch(source, target, resources, PAGE_CONNECTIONS).await?;
                let objects = fetch::fetch(source, target, objects, CATALOGUE_CONNECTIONS).await?;
                Ok::<_, LabError>((html.elapsed + resources.elapsed, objects.elapsed))
            })
            .await??;
        measured.push((name.clone(), source, *link, page_load, catalogue));
    }
    running.shutdown().await;
    drop(net);

    let served = stats.snapshot();
    let groups = measured
        .into_iter()
        .map(|(name, source, link, page_load, catalogue)| {
            let counts = served.get(&source).copied().unwrap_or_default();
            GroupReport {
                name,
                address: source.to_string(),
                link,
                page_load: Figure::millis(page_load),
                catalogue_fetch: Figure::millis(catalogue),
                requests: counts.requests,
                bytes: Figure::bytes(counts.bytes),
                connections: counts.connections,
            }
        })
        .collect();
    Ok(OriginReport {
        settings,
        origin: origin.to_string(),
        page_resources: page.resources.len(),
        site_bytes: Figure::bytes(site.bytes),
        groups,
    })
}
