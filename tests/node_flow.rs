//! The Rust API under load and when things go wrong: sends that wait for
//! room instead of being dropped, streams that cannot stall their link, and
//! failures reported to the caller at once.
//!
//! The two ends of a flood run on separate runtimes (or in a child process),
//! as two services would: a sender on the test's runtime cannot slow the
//! receiver by sharing its threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clusterluck_native::{Data, Node, NodeAddr, NodeError, Payload};

const T: Option<Duration> = Some(Duration::from_secs(30));
const COOKIE: &str = "flow-cookie";

fn builder(id: &str) -> clusterluck_native::Builder {
    Node::builder(id, "127.0.0.1", 0).cookie(COOKIE).retry(Duration::from_millis(50))
}

/// A node on a runtime of its own, on its own thread: `setup` installs its
/// handlers. The runtime lives until the returned guard is dropped.
struct Remote {
    node: Node,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Remote {
    fn start(id: &str, b: impl FnOnce(clusterluck_native::Builder) -> clusterluck_native::Builder + Send + 'static) -> Remote {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let id = id.to_string();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            rt.block_on(async move {
                let node = b(builder(&id)).start().await.unwrap();
                tx.send(node.clone()).unwrap();
                let _ = stop_rx.await;
                node.shutdown().await;
            });
        });
        let node = rx.recv().unwrap();
        Remote { node, stop: Some(stop_tx), thread: Some(thread) }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn until(what: &str, deadline: Duration, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_casts_all_arrive_in_order() {
    const N: u64 = 1_000_000;
    let got = Arc::new(AtomicU64::new(0));
    let wrong = Arc::new(AtomicU64::new(0));
    let (g, w) = (got.clone(), wrong.clone());
    let b = Remote::start("b", move |bld| {
        bld.on("n", move |m| {
            let want = g.fetch_add(1, Ordering::Relaxed);
            if m.data.json::<u64>().ok() != Some(want) {
                w.fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    let a = builder("a").start().await.unwrap();
    a.connect(&b.node.addr()).await.unwrap();
    let started = Instant::now();
    for i in 0..N {
        a.cast("b", "n", Data::json(&i).unwrap()).await.unwrap();
    }
    until("every cast", Duration::from_secs(120), || got.load(Ordering::Relaxed) >= N).await;
    eprintln!("{N} casts in {:?}", started.elapsed());
    assert_eq!(got.load(Ordering::Relaxed), N);
    assert_eq!(wrong.load(Ordering::Relaxed), 0, "casts out of order or lost");
    a.shutdown().await;
}

/// The peak resident memory of this process, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

const STREAM_CHILD: &str = "FLOW_STREAM_SENDER";
const STREAM_BYTES: usize = 256 * 1024 * 1024;

/// The sender of `streaming_keeps_the_sender_bounded`, run in a child
/// process of this test binary so its memory is its own: streams 256 MiB to
/// the node named in the environment, each chunk awaited, and prints the
/// reply and its peak memory growth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_sender_child() {
    let Ok(target) = std::env::var(STREAM_CHILD) else { return };
    let target: NodeAddr = target.parse().unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let a = builder("sender").start().await.unwrap();
    a.connect(&target).await.unwrap();
    let before = peak_rss().unwrap();
    let (mut w, reply) = a.call_stream(&target.id, "count", Some(Duration::from_secs(300))).await.unwrap();
    for _ in 0..STREAM_BYTES / chunk.len() {
        w.send(chunk.clone()).await.unwrap();
    }
    w.end().unwrap();
    let got = reply.collect_bytes().await.unwrap();
    let after = peak_rss().unwrap();
    println!("RESULT {} {}", String::from_utf8(got).unwrap(), after.saturating_sub(before));
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_keeps_the_sender_bounded() {
    if std::env::var(STREAM_CHILD).is_ok() || peak_rss().is_none() {
        eprintln!("skipped: the child's run, or no /proc/self/status here");
        return;
    }
    // The receiver counts the bytes and replies with the count; it has no
    // link to the sender, so its reply connects back.
    let b = Remote::start("counter", |bld| {
        bld.stream_buffer(64 * 1024 * 1024).on("count", |mut m| {
            let mut chunks = m.take_chunks().unwrap();
            tokio::spawn(async move {
                let mut n = 0usize;
                while let Some(c) = chunks.next().await {
                    match c {
                        Ok(p) => n += p.bytes().map_or(0, <[u8]>::len),
                        Err(e) => {
                            let _ = m.reply_error(&e.to_string());
                            return;
                        }
                    }
                }
                m.reply(Data::bytes(n.to_string().into_bytes())).unwrap();
            });
        })
    });
    let addr = b.node.addr();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "stream_sender_child", "--nocapture", "--test-threads", "1"])
            .env(STREAM_CHILD, format!("{}@{}:{}", addr.id, addr.host, addr.port))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the sender failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find_map(|l| l.split_once("RESULT ").map(|(_, r)| r)).unwrap_or_else(|| panic!("no result: {stdout}"));
    let (count, grown) = line.split_once(' ').unwrap();
    eprintln!("streamed {count} bytes; the sender's peak memory grew by {} MiB", grown.parse::<u64>().unwrap() >> 20);
    assert_eq!(count.parse::<usize>().unwrap(), STREAM_BYTES, "every byte arrives");
    // The link holds at most its high-water mark (16 MiB) of encoded
    // frames, a Buffer's bytes at up to four each on the way: well under the
    // 256 MiB a sender that does not wait holds.
    assert!(grown.parse::<u64>().unwrap() < 96 << 20, "the sender grew by {grown} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_cast_is_busy_and_cast_waits_toward_a_node_that_does_not_read() {
    // A peer that accepts and never reads: the link fills.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(sock);
    });
    let a = builder("a").high_water_mark(64 * 1024).max_queue_bytes(1024 * 1024).start().await.unwrap();
    a.connect(&NodeAddr::new("deaf", "127.0.0.1", port)).await.unwrap();
    let chunk = Data::bytes(vec![1u8; 4096]);
    let mut sent = 0usize;
    let busy = loop {
        match a.try_cast("deaf", "x", chunk.clone()) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 1_000_000, "never busy");
        if sent.is_multiple_of(64) {
            tokio::task::yield_now().await;
        }
    };
    assert!(matches!(&busy, NodeError::Busy { node } if node == "deaf"), "{busy:?}");
    // An awaited cast waits rather than drop anything (the socket's buffers
    // may still take a little more first).
    let mut more = 0;
    while tokio::time::timeout(Duration::from_millis(300), a.cast("deaf", "x", chunk.clone())).await.is_ok() {
        more += 1;
        assert!(more < 100_000, "the casts never waited");
    }
    assert_eq!(a.dropped("deaf"), 0);
    // A message larger than max_queue_bytes alone can never go.
    let r = a.cast("deaf", "x", Data::bytes(vec![0u8; 2 * 1024 * 1024])).await;
    assert!(matches!(r, Err(NodeError::Overflow { limit, .. }) if limit == 1024 * 1024), "{r:?}");
    held.abort();
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_nobody_reads_does_not_stall_its_link() {
    let b = Remote::start("b", |bld| {
        bld.on("echo", |m| {
            let d = m.data.clone().into_data();
            m.reply(d).unwrap();
        })
        .on_async("flood", |m| async move {
            // A reply of up to 256 MiB, each chunk awaited: it stops when told.
            let mut w = m.reply_stream().unwrap();
            let mut outcome = "ended".to_string();
            for _ in 0..4096 {
                if let Err(e) = w.send(vec![5u8; 64 * 1024]).await {
                    outcome = format!("{e:?}");
                    break;
                }
            }
            if outcome == "ended" {
                let _ = w.end();
            }
            m.node().cast(&m.from.node.id, "outcome", Data::json(&outcome).unwrap()).await.unwrap();
        })
    });
    let outcome = Arc::new(Mutex::new(Vec::<String>::new()));
    let o = outcome.clone();
    let a = builder("a").stream_buffer(2 * 1024 * 1024).on("outcome", move |m| o.lock().unwrap().push(m.data.json().unwrap())).start().await.unwrap();
    a.connect(&b.node.addr()).await.unwrap();
    b.node.connect(&a.addr()).await.unwrap();

    let mut unread = a.call("b", "flood", Data::null(), T).await.unwrap();
    // Let the flood run into the unread stream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let quick = Some(Duration::from_secs(5));
    a.ping("b", quick).await.expect("a ping past the unread stream");
    let echoed = a.call_singleton("b", "echo", Data::json(&"still flowing").unwrap(), quick).await.expect("a call past it");
    assert_eq!(echoed.json::<String>().unwrap(), "still flowing");
    // The reader sees why its stream ended.
    let mut overflowed = false;
    while let Some(c) = unread.next().await {
        if let Err(e) = c {
            assert!(matches!(e, NodeError::StreamOverflow { limit } if limit == 2 * 1024 * 1024), "{e:?}");
            overflowed = true;
            break;
        }
    }
    assert!(overflowed, "the stream ended without its error");
    // Its writer was told to stop.
    until("the writer to be told", Duration::from_secs(30), || !outcome.lock().unwrap().is_empty()).await;
    assert_eq!(*outcome.lock().unwrap(), ["StreamStopped"]);

    // A reader that goes away stops a Rust writer too.
    let mut dropped = a.call("b", "flood", Data::null(), T).await.unwrap();
    dropped.next().await.unwrap().unwrap();
    drop(dropped);
    until("the writer to be told", Duration::from_secs(30), || outcome.lock().unwrap().len() == 2).await;
    assert_eq!(*outcome.lock().unwrap(), ["StreamStopped", "StreamStopped"]);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_reach_the_caller_at_once() {
    let b = builder("b")
        .on("boom", |_| panic!("handler panics on purpose"))
        .on_async("boom_async", |_| async { panic!("async handler panics on purpose") })
        .on("echo", |m| {
            let d = m.data.clone().into_data();
            m.reply(d).unwrap();
        })
        .start()
        .await
        .unwrap();
    // b has no link to a: its replies connect back to the address a gave.
    let a = builder("a").start().await.unwrap();
    a.connect(&b.addr()).await.unwrap();
    let long = Some(Duration::from_secs(60));
    let started = Instant::now();
    let got = a.call_singleton("b", "echo", Data::json(&1).unwrap(), long).await.unwrap();
    assert_eq!(got, Payload::Json("1".into()));
    let r = a.call_singleton("b", "missing", Data::null(), long).await;
    assert!(matches!(&r, Err(NodeError::NoHandler { event }) if event == "missing"), "{r:?}");
    let r = a.call_singleton("b", "boom", Data::null(), long).await;
    assert!(matches!(&r, Err(NodeError::HandlerPanicked { event }) if event == "boom"), "{r:?}");
    let r = a.call("b", "boom_async", Data::null(), long).await.unwrap().collect_bytes().await;
    assert!(matches!(&r, Err(NodeError::HandlerPanicked { event }) if event == "boom_async"), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());

    // connect gives up on a port nobody listens on, and leaves no link.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let r = a.connect_within(&NodeAddr::new("ghost", "127.0.0.1", dead_port), Some(Duration::from_millis(300))).await;
    assert!(matches!(r, Err(NodeError::Timeout)), "{r:?}");
    assert!(!a.is_connected("ghost"));
    assert!(matches!(a.try_cast("ghost", "x", Data::null()), Err(NodeError::UnknownNode(_))));

    // b restarted elsewhere under the same id: connect follows it.
    b.shutdown().await;
    drop(b);
    let b2 = builder("b").on("echo", |m| m.reply(Data::json(&"new").unwrap()).unwrap()).start().await.unwrap();
    a.connect(&b2.addr()).await.unwrap();
    let got = a.call_singleton("b", "echo", Data::null(), Some(Duration::from_secs(10))).await.unwrap();
    assert_eq!(got.json::<String>().unwrap(), "new");

    // A GenServer's async handler, reached through the own id.
    clusterluck_native::gen_server::GenServer::new("gs")
        .on_async("later", |req| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = req.reply(Data::json(&"awaited").unwrap());
        })
        .start(&a);
    let got = clusterluck_native::gen_server::call(&a, "a", "gs", "later", Data::null(), long).await.unwrap();
    assert_eq!(got.json::<String>().unwrap(), "awaited");

    // The own id is delivered here.
    a.on("self", |m| m.reply(Data::json(&"me").unwrap()).unwrap());
    assert!(a.ping("a", long).await.is_ok());
    assert_eq!(a.call_singleton(a.id(), "self", Data::null(), long).await.unwrap().json::<String>().unwrap(), "me");
    a.shutdown().await;
    b2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_counts_casts_to_a_node_that_is_down_at_once() {
    let b = builder("b").start().await.unwrap();
    let a = builder("a").max_len(40).start().await.unwrap();
    a.connect(&b.addr()).await.unwrap();
    b.shutdown().await;
    drop(b);
    until("the link to notice", Duration::from_secs(30), || !a.is_link_up("b")).await;
    for i in 0..40 {
        a.try_cast("b", "n", Data::json(&i).unwrap()).unwrap();
    }
    assert_eq!(a.queued("b"), 40, "read right after the casts");
    // Past max_len, nothing is dropped: the send is refused, or waits.
    assert!(matches!(a.try_cast("b", "n", Data::null()), Err(NodeError::Busy { .. })));
    assert!(tokio::time::timeout(Duration::from_millis(200), a.cast("b", "n", Data::null())).await.is_err());
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gen_server_handler_that_panics_is_answered_at_once() {
    use clusterluck_native::gen_server::{self, GenServer};
    let b = builder("b").start().await.unwrap();
    GenServer::new("gs")
        .on("boom", |_| panic!("sync GenServer handler panics on purpose"))
        .on_async("boom_async", |_| async { panic!("async GenServer handler panics on purpose") })
        .on_async("ok", |req| async move {
            let _ = req.reply(Data::json(&"fine").unwrap());
        })
        .start(&b);
    let a = builder("a").start().await.unwrap();
    a.connect(&b.addr()).await.unwrap();
    // Long enough that a caller left to its timeout is told apart from one answered.
    let long = Some(Duration::from_secs(20));
    let started = Instant::now();
    for event in ["boom", "boom_async"] {
        let r = gen_server::call(&a, "b", "gs", event, Data::null(), long).await;
        assert!(matches!(&r, Err(NodeError::HandlerPanicked { event }) if event == "gs"), "{event}: {r:?}");
    }
    // A streamed request reaches its handler from a task: its panic is answered too.
    let (mut w, mut reply) = a.call_stream("b", "gs", long).await.unwrap();
    w.send(b"{\"event\":\"boom_async\"}".to_vec()).await.unwrap();
    w.end().unwrap();
    let r = reply.next().await.unwrap();
    assert!(matches!(&r, Err(NodeError::HandlerPanicked { event }) if event == "gs"), "streamed: {r:?}");
    // The server goes on serving.
    let got = gen_server::call(&a, "b", "gs", "ok", Data::null(), long).await.unwrap();
    assert_eq!(got.json::<String>().unwrap(), "fine");
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    a.shutdown().await;
    b.shutdown().await;
}
