//! HTTP/2 response order by the client's `Priority` field (RFC 9218), seen from a real h2
//! client on loopback: the urgent response asked for second arrives first; responses of the
//! default priority come whole in stream order; and an urgent stream the client stops reading
//! does not hold the connection's other responses back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use appnet_http::server::{ServeSettings, spawn};
use bytes::Bytes;
use h2::client::SendRequest;
use tokio::net::TcpStream;

/// One test at a time: whether two streams share a connection depends on both being run, and
/// on two cores tests side by side can keep one of them waiting for long.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Size of each test file: many times the server's per-stream buffer and a stream's first free
/// bytes, so that order is decided by the scheduler and not by who asked first.
const SIZE: usize = 16 << 20;

struct Fixture {
    _dir: tempfile::TempDir,
    server: appnet_http::server::RunningServer,
    addr: SocketAddr,
}

async fn serve() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    for name in ["a.bin", "b.bin"] {
        std::fs::write(dir.path().join(name), &body).unwrap();
    }
    let settings = ServeSettings {
        root: dir.path().to_owned(),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        access_log: false,
        ..ServeSettings::default()
    };
    let server = spawn(settings).await.unwrap();
    let addr = server.local_addrs()[0];
    Fixture { _dir: dir, server, addr }
}

/// An h2c connection with windows far larger than the files, driven in the background.
async fn connect(addr: SocketAddr, stream_window: u32) -> SendRequest<Bytes> {
    let socket = TcpStream::connect(addr).await.unwrap();
    socket.set_nodelay(true).unwrap();
    let (sender, connection) = h2::client::Builder::new()
        .initial_window_size(stream_window)
        .initial_connection_window_size(1 << 30)
        .handshake::<_, Bytes>(socket)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
}

fn get(path: &str, priority: Option<&str>) -> hyper::Request<()> {
    let mut request = hyper::Request::builder().uri(format!("http://localhost{path}"));
    if let Some(priority) = priority {
        request = request.header("priority", priority);
    }
    request.body(()).unwrap()
}

/// One response as [`finish_order`] saw it end.
struct Finished {
    path: String,
    at: Instant,
    /// Bytes every other response had received by then.
    others: usize,
}

/// Each stream's window: 1 MiB, given back as it is read once every stream has begun to
/// arrive. So no stream can run far ahead because another's task was slow to start (on a busy
/// machine): the order seen is the one the server chose once it had them all.
const STREAM_WINDOW: u32 = 1 << 20;

/// Sends the requests in order, all before any response, and reads the bodies at once; the
/// responses in the order their last bytes arrived.
async fn finish_order(
    sender: SendRequest<Bytes>,
    requests: Vec<hyper::Request<()>>,
) -> Vec<Finished> {
    let count = requests.len();
    let received: Arc<Vec<AtomicUsize>> =
        Arc::new(requests.iter().map(|_| AtomicUsize::new(0)).collect());
    let (began, _) = tokio::sync::watch::channel(0_usize);
    let began = Arc::new(began);
    // Every request leaves before any response is read, so none waits on the reading.
    let mut sender = sender.ready().await.unwrap();
    let mut responses = Vec::new();
    for request in requests {
        let path = request.uri().path().to_owned();
        responses.push((path, sender.send_request(request, true).unwrap().0));
        sender = sender.ready().await.unwrap();
    }
    let mut reading = Vec::new();
    for (index, (path, response)) in responses.into_iter().enumerate() {
        let (received, began) = (received.clone(), began.clone());
        reading.push(tokio::spawn(async move {
            let mut body = response.await.unwrap().into_body();
            let mut all_began = began.subscribe();
            let mut unreleased = 0;
            loop {
                let chunk = tokio::select! {
                    chunk = body.data() => match chunk {
                        Some(chunk) => chunk.unwrap(),
                        None => break,
                    },
                    _ = all_began.wait_for(|n| *n == count), if unreleased > 0 => {
                        let _ = body.flow_control().release_capacity(unreleased);
                        unreleased = 0;
                        continue;
                    }
                };
                if received[index].fetch_add(chunk.len(), Ordering::SeqCst) == 0 {
                    began.send_modify(|n| *n += 1);
                }
                unreleased += chunk.len();
                if *began.borrow() == count {
                    let _ = body.flow_control().release_capacity(unreleased);
                    unreleased = 0;
                }
            }
            let at = Instant::now();
            let mine = received[index].load(Ordering::SeqCst);
            assert_eq!(mine, SIZE, "{path}");
            let all: usize = received.iter().map(|r| r.load(Ordering::SeqCst)).sum();
            Finished { path, at, others: all - mine }
        }));
    }
    let mut finished = Vec::new();
    for task in reading {
        finished.push(task.await.unwrap());
    }
    finished.sort_by_key(|f| f.at);
    finished
}

fn paths(finished: &[Finished]) -> Vec<&str> {
    finished.iter().map(|f| f.path.as_str()).collect()
}

/// Taking turns frame by frame, the first to end would find the other as far along; served
/// one after the other, the other has had what it sent before the first was ready (at most
/// its first window) and little more.
fn served_first(finished: &[Finished]) -> bool {
    finished[0].others < SIZE * 3 / 4
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_urgent_response_asked_for_second_arrives_first() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let fixture = serve().await;
    let sender = connect(fixture.addr, STREAM_WINDOW).await;
    let requests = vec![get("/a.bin", Some("u=7")), get("/b.bin", Some("u=0"))];
    let finished = finish_order(sender, requests).await;
    assert_eq!(paths(&finished), ["/b.bin", "/a.bin"]);
    assert!(served_first(&finished), "a.bin had {} bytes", finished[0].others);
    fixture.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_of_the_default_priority_come_whole_in_stream_order() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let fixture = serve().await;
    // Asked for in the order b, a: b (the lower stream ID) first, although a is as urgent.
    let sender = connect(fixture.addr, STREAM_WINDOW).await;
    let finished = finish_order(sender, vec![get("/b.bin", None), get("/a.bin", None)]).await;
    assert_eq!(paths(&finished), ["/b.bin", "/a.bin"]);
    assert!(served_first(&finished), "a.bin had {} bytes", finished[0].others);
    fixture.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_responses_of_one_urgency_share_the_connection() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let fixture = serve().await;
    let sender = connect(fixture.addr, STREAM_WINDOW).await;
    let requests = vec![get("/b.bin", Some("i")), get("/a.bin", Some("i"))];
    let finished = finish_order(sender, requests).await;
    assert!(finished[0].others > SIZE / 2, "the other had {} bytes", finished[0].others);
    fixture.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_stream_the_client_stops_reading_holds_nothing_back() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let fixture = serve().await;
    // Streams get 1 MiB of window; the urgent one's is never given back, so it stops there.
    let sender = connect(fixture.addr, 1 << 20).await;
    let mut sender = sender.ready().await.unwrap();
    let (stuck, _) = sender.send_request(get("/b.bin", Some("u=0")), true).unwrap();
    let mut sender = sender.ready().await.unwrap();
    let (other, _) = sender.send_request(get("/a.bin", Some("u=6")), true).unwrap();
    let mut stuck = stuck.await.unwrap().into_body();
    // Read (and so take into the client's buffer) what the stuck stream's window let through,
    // without releasing it.
    let mut held = 0;
    while held < 1 << 20 {
        held += stuck.data().await.unwrap().unwrap().len();
    }
    let started = Instant::now();
    let mut body = other.await.unwrap().into_body();
    let mut received = 0;
    let read_other = async {
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            received += chunk.len();
            let _ = body.flow_control().release_capacity(chunk.len());
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read_other)
        .await
        .expect("the less urgent response is sent while the urgent one cannot be");
    assert_eq!(received, SIZE);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    drop(stuck);
    fixture.server.shutdown().await;
}
