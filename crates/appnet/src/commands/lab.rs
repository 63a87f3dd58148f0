//! `appnet lab`: probe the machine, run the selected scenarios, print the summary and write
//! the report.

use std::process::ExitCode;

use anyhow::Context;
use appnet_lab::cache::{self, CacheSettings};
use appnet_lab::catalog::{self, Status};
use appnet_lab::dns::hierarchy::Hierarchy;
use appnet_lab::dns::{self, DnsSettings};
use appnet_lab::environment::Environment;
use appnet_lab::link::LinkSpec;
use appnet_lab::origin::{self, OriginSettings};
use appnet_lab::pageload::{self, PageLoadSettings};
use appnet_lab::report::Report;
use appnet_lab::report::live::{self, LivePage};
use appnet_lab::topology::{self, Needs, Topology};
use tokio_util::sync::CancellationToken;

use crate::cli::LabArgs;

pub(crate) fn run(args: &LabArgs) -> anyhow::Result<ExitCode> {
    let selected = catalog::select(&args.only)?;
    if args.region.len() > 10 {
        anyhow::bail!("at most 10 regions");
    }
    if args.list {
        for scenario in &selected {
            println!("{:<6} {}  [{}]", scenario.name, scenario.measures, status(scenario.status));
        }
        return Ok(ExitCode::SUCCESS);
    }

    println!(
        "appnet lab {}{}",
        env!("CARGO_PKG_VERSION"),
        if args.quick { " (quick)" } else { "" }
    );
    let environment = Environment::probe();
    println!("\nThis machine:");
    let described = environment.describe();
    for line in &described {
        println!("  {line}");
    }
    let link = (args.rtt.is_some() || args.bandwidth.is_some())
        .then(|| LinkSpec { rtt: args.rtt.unwrap_or_default(), bandwidth: args.bandwidth });
    let needs = Needs {
        links: link.is_some() || !args.region.is_empty(),
        delay: link.is_some_and(|l| !l.rtt.is_zero())
            || args.region.iter().any(|r| !r.link.rtt.is_zero()),
    };
    let (topology, why) =
        topology::choose(args.links, &environment, needs).map_err(anyhow::Error::msg)?;
    let links = describe_links(topology, &why, link);
    println!("  links: {links}");
    let mut report = Report {
        version: env!("CARGO_PKG_VERSION"),
        quick: args.quick,
        environment: described,
        links,
        dns: None,
        origin: None,
        http: None,
        cache: None,
        not_built: Vec::new(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let live = LivePage::default();
    let stop_serving = CancellationToken::new();
    if let Some(addr) = args.serve {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .with_context(|| format!("serve the report on {addr}"))?;
        println!("  live report: http://{}/", listener.local_addr()?);
        runtime.spawn(live::serve(listener, live.clone(), stop_serving.clone()));
    }
    let mut progress = |step: &str| {
        println!("  … {step}");
        live.progress(step);
    };
    for scenario in &selected {
        match (scenario.name, scenario.status) {
            ("dns", Status::Ready) => {
                println!("\nDNS experiment:");
                let settings = DnsSettings { link, topology, ..DnsSettings::new(args.quick) };
                let measured = runtime
                    .block_on(dns::run(settings, &args.region, &mut progress))
                    .context("the DNS experiment failed")?;
                report.dns = Some(measured);
            }
            ("origin", Status::Ready) => {
                println!("\nOrigin experiment:");
                let settings = OriginSettings { link, topology, ..OriginSettings::new(args.quick) };
                let measured = runtime
                    .block_on(origin::run(settings, &args.region, &mut progress))
                    .context("the origin experiment failed")?;
                report.origin = Some(measured);
            }
            ("http", Status::Ready) => {
                println!("\nHTTP experiment:");
                let topology = delaying_topology(args, &environment);
                let settings = PageLoadSettings { topology, ..PageLoadSettings::new(args.quick) };
                let measured = runtime
                    .block_on(pageload::run(settings, &mut progress))
                    .context("the HTTP experiment failed")?;
                report.http = Some(measured);
            }
            ("cache", Status::Ready) => {
                println!("\nCaching experiment:");
                // The origin is a round trip away from the proxy.
                let topology = delaying_topology(args, &environment);
                let settings = CacheSettings { topology, ..CacheSettings::new(args.quick) };
                let measured = runtime
                    .block_on(cache::run(settings, &mut progress))
                    .context("the caching experiment failed")?;
                report.cache = Some(measured);
            }
            (name, state) => {
                report.not_built.push(format!("{name}: {} — {}", status(state), scenario.measures));
            }
        }
    }
    println!("\nResults:\n{}", report.summary());
    let (json, html) = report
        .write(&args.out)
        .with_context(|| format!("write the report into {}", args.out.display()))?;
    println!("Report: {} and {}", html.display(), json.display());
    live.finish(&report);
    if args.keep_running {
        runtime.block_on(keep_running(link, topology, args.quick))?;
    } else if args.serve.is_some() {
        println!("Serving the report until Ctrl-C.");
        runtime.block_on(until_stopped())?;
    }
    stop_serving.cancel();
    Ok(ExitCode::SUCCESS)
}

/// The topology for an experiment whose links need delay: namespaces only where the kernel
/// has netem, else in-process relays.
fn delaying_topology(args: &LabArgs, environment: &Environment) -> Topology {
    let delay = Needs { links: true, delay: true };
    match topology::choose(args.links, environment, delay) {
        Ok((topology, _)) => topology,
        Err(why) => {
            println!("  ({why}; this experiment uses in-process links)");
            Topology::InProcess
        }
    }
}

/// One line on how the hosts are joined and what every link does.
fn describe_links(topology: Topology, why: &str, link: Option<LinkSpec>) -> String {
    let Some(spec) = link else { return format!("{why} (give --rtt or --bandwidth for links)") };
    let shape = format!(
        "{} ms round trip{}",
        spec.rtt.as_secs_f64() * 1e3,
        spec.bandwidth.map_or(String::new(), |bps| format!(", {} kbit/s each way", bps / 1000))
    );
    match topology {
        Topology::Namespaces { .. } => format!(
            "{why}; {shape} on every server's and client group's link (resolver to each name \
             server, clients to the resolver)"
        ),
        _ => format!(
            "{why}; {shape} on every link (client to resolver, resolver to each name server)"
        ),
    }
}

/// Starts the DNS hierarchy afresh and leaves it up until Ctrl-C, saying where everything is.
async fn keep_running(
    link: Option<LinkSpec>,
    topology: Topology,
    quick: bool,
) -> anyhow::Result<()> {
    let settings = DnsSettings { link, topology, ..DnsSettings::new(quick) };
    let lab = Hierarchy::start(settings.names, settings.link, settings.topology)
        .await
        .context("start the lab again")?;
    println!("\nThe lab is up (Ctrl-C stops it):");
    println!("  resolver            {}", lab.resolver_addr);
    for authority in &lab.authorities {
        println!("  {:<28} {}", authority.name, authority.addr);
    }
    let (resolver, server, port) = (lab.resolver_addr, lab.authorities[0].addr.ip(), lab.port);
    let mut enter = String::new();
    if lab.in_namespaces() {
        // The hosts are namespaces only this process holds: reach them through its fds.
        let clients = lab.clients.ip;
        if let Some((_, path)) = lab.namespace_paths().into_iter().find(|(ip, _)| *ip == clients) {
            println!("  (each host is a network namespace; the clients' is {path})");
            enter = format!("nsenter --net={path} ");
        }
    }
    println!(
        "Try: {enter}appnet dig @{} -p {} www.example.lab\n     {enter}appnet dig +trace @{server} -p \
         {port} www.example.lab",
        resolver.ip(),
        resolver.port(),
    );
    until_stopped().await?;
    println!("stopping the lab");
    lab.shutdown().await;
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM.
async fn until_stopped() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("watch SIGTERM")?;
    tokio::select! {
        stopped = tokio::signal::ctrl_c() => stopped.context("wait for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

fn status(status: Status) -> String {
    match status {
        Status::Ready => "ready".to_owned(),
        Status::Planned { issue } => format!("not built yet (issue #{issue})"),
    }
}
