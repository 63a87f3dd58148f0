//! The secondary-zone driver: runs a [`Refresh`] schedule against the primaries' sockets —
//! SOA checks over UDP, AXFR over TCP — and installs, saves and expires the copy.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use appnet_retransmit::driver::exchange;
use appnet_retransmit::{RetryConfig, RttEstimator};
use domain::base::name::Name;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;

use super::zones::Zones;
use crate::secondary::{Action, AxfrReader, Refresh, Timers, persist, soa_query, soa_serial};
use crate::zone::name::{MAX_NAME_LEN, display, lowercase_into};
use crate::zone::{self, Zone, rtype};

/// One secondary zone: its name, where to pull it from, where to keep the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondarySpec {
    /// The zone's name in presentation form, e.g. `example.lab.`.
    pub origin: String,
    /// Primaries, tried in order.
    pub primaries: Vec<SocketAddr>,
    /// The copy on disk, loaded at start and rewritten after each transfer.
    pub file: PathBuf,
}

impl SecondarySpec {
    /// The zone's apex in wire form, if `origin` is a valid name.
    pub fn apex(&self) -> Option<Vec<u8>> {
        Name::<Vec<u8>>::from_str(&self.origin).ok().map(Name::into_octets)
    }

    /// Parses `--secondary ORIGIN=PRIMARY[,PRIMARY…]`, keeping the copy in `state_dir`.
    pub fn parse(spec: &str, state_dir: &std::path::Path) -> Result<Self, String> {
        let (origin, primaries) = spec
            .split_once('=')
            .ok_or_else(|| format!("`{spec}`: expected ORIGIN=PRIMARY[,PRIMARY…]"))?;
        let primaries = primaries
            .split(',')
            .map(|p| p.trim().parse().map_err(|e| format!("`{p}`: not an address with port: {e}")))
            .collect::<Result<Vec<SocketAddr>, _>>()?;
        let name = origin.trim_end_matches('.');
        let file = state_dir.join(format!("{}.zone", if name.is_empty() { "root" } else { name }));
        let spec = Self { origin: origin.to_owned(), primaries, file };
        spec.apex().ok_or_else(|| format!("`{origin}` is not a valid zone name"))?;
        Ok(spec)
    }
}

/// Runs the secondary zone `spec` until `shutdown`.
pub fn spawn_secondary(spec: SecondarySpec, zones: Arc<Zones>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let Some(apex) = spec.apex() else { return };
        let mut lower = [0; MAX_NAME_LEN];
        let apex_lower = lowercase_into(&apex, &mut lower).to_vec();
        let signal = zones.refresh_signal(&apex_lower);
        let mut refresh = Refresh::new(now(), held_copy(&spec, &zones));
        loop {
            if refresh.is_expired(now()) {
                tracing::warn!(zone = %spec.origin, "secondary copy expired: no longer served");
                zones.remove_secondary(&apex_lower);
            }
            if refresh.poll_action(now()) == Some(Action::CheckSoa) {
                match update(&spec, &apex, &mut refresh).await {
                    Ok(Some(zone)) => {
                        let (r, t, e) = zone.soa_timers();
                        refresh.handle_transferred(zone.serial(), Timers::from_soa(r, t, e), now());
                        if let Err(error) = persist::write_zone(&zone, &spec.file) {
                            tracing::warn!(zone = %spec.origin, %error, "could not save the copy");
                        }
                        tracing::info!(zone = %spec.origin, serial = zone.serial(), records = zone.record_count(), "transferred");
                        zones.install_secondary(zone);
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(zone = %spec.origin, %error, "refresh failed; will retry");
                        refresh.handle_failure(now());
                    }
                }
                continue;
            }
            let wake = refresh.poll_timeout().unwrap_or_else(|| now() + Duration::from_secs(60));
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep_until(wake.into()) => {}
                () = signal.notified() => {
                    tracing::info!(zone = %spec.origin, "NOTIFY received: checking the primary");
                    refresh.handle_notify(now());
                }
            }
        }
    });
}

/// Loads the copy on disk, if there is a good one, and serves it until the first refresh.
fn held_copy(spec: &SecondarySpec, zones: &Zones) -> Option<(u32, Timers)> {
    if !spec.file.exists() {
        return None;
    }
    match zone::load_file(&spec.file, Some(&spec.origin)) {
        Ok(zone) => {
            let (r, t, e) = zone.soa_timers();
            let held = (zone.serial(), Timers::from_soa(r, t, e));
            zones.install_secondary(Arc::new(zone));
            Some(held)
        }
        Err(error) => {
            tracing::warn!(%error, "ignoring the saved copy");
            None
        }
    }
}

/// Checks the primaries' serial and transfers when it is newer. `Ok(None)`: up to date.
async fn update(
    spec: &SecondarySpec,
    apex: &[u8],
    refresh: &mut Refresh,
) -> io::Result<Option<Arc<Zone>>> {
    let mut last_error = io::Error::other("no primaries configured");
    for &primary in &spec.primaries {
        let serial = match primary_serial(primary, apex).await {
            Ok(serial) => serial,
            Err(error) => {
                last_error = error;
                continue;
            }
        };
        if refresh.handle_soa(serial, now()) != Some(Action::Transfer) {
            return Ok(None);
        }
        match transfer(primary, apex).await {
            Ok(zone) => return Ok(Some(Arc::new(zone))),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

async fn primary_serial(primary: SocketAddr, apex: &[u8]) -> io::Result<u32> {
    let local: SocketAddr =
        if primary.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }.parse().map_err(io::Error::other)?;
    let socket = UdpSocket::bind(local).await?;
    let config = RetryConfig { max_attempts: 3, ..RetryConfig::default() };
    let mut rtt = RttEstimator::new(
        Duration::from_millis(500),
        Duration::from_millis(50),
        Duration::from_secs(5),
    );
    let id: u16 = rand::random();
    let query = soa_query(apex, rtype::SOA, id);
    let reply = exchange(
        &socket,
        primary,
        &config,
        &mut rtt,
        |_| query.clone(),
        |reply| soa_serial(reply, id, apex).map(|serial| (serial, None)),
    )
    .await
    .map_err(io::Error::other)?;
    Ok(reply.value)
}

/// Pulls the zone by AXFR. Bounded: 30 s per message, 1 GiB in all.
async fn transfer(primary: SocketAddr, apex: &[u8]) -> io::Result<Zone> {
    const LIMIT: usize = 1 << 30;
    let per_read = Duration::from_secs(30);
    let timeout = |e| io::Error::new(io::ErrorKind::TimedOut, format!("{e}"));
    let mut stream =
        tokio::time::timeout(per_read, TcpStream::connect(primary)).await.map_err(timeout)??;
    let id: u16 = rand::random();
    let query = soa_query(apex, rtype::AXFR, id);
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&query);
    stream.write_all(&framed).await?;
    let mut reader = AxfrReader::new(apex, id);
    let mut message = vec![0; 65_535];
    let mut total = 0;
    loop {
        let length =
            usize::from(tokio::time::timeout(per_read, stream.read_u16()).await.map_err(timeout)??);
        tokio::time::timeout(per_read, stream.read_exact(&mut message[..length]))
            .await
            .map_err(timeout)??;
        total += length;
        if total > LIMIT {
            return Err(io::Error::other(format!("transfer of {} exceeds 1 GiB", display(apex))));
        }
        if reader.handle_message(&message[..length]).map_err(io::Error::other)? {
            return reader.finish().map_err(io::Error::other);
        }
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
