//! The Rust API alone: two Rust nodes in one process, on loopback.

mod common;
use common::mutual_tls;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clusterluck_native::gen_server::{self, GenServer};
use clusterluck_native::{Data, Node, NodeError, Payload};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Option<Duration> = Some(Duration::from_secs(10));
const COOKIE: &str = "test-cookie";

async fn start(id: &str) -> Node {
    Node::builder(id, "127.0.0.1", 0).cookie(COOKIE).retry(Duration::from_millis(50)).start().await.expect("start")
}

/// Two nodes, each with a link to the other (replies and pongs travel on
/// the replier's own link).
async fn pair() -> (Node, Node) {
    let (a, b) = (start("a").await, start("b").await);
    a.connect(&b.addr()).await.unwrap();
    b.connect(&a.addr()).await.unwrap();
    (a, b)
}

fn echo(node: &Node) {
    node.on("echo", |m| {
        let data = m.data.clone().into_data();
        m.reply(data).unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_cast_and_calls() {
    let (a, b) = pair().await;
    echo(&b);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    b.on("note", move |m| s.lock().unwrap().push((m.from.node.id.clone(), m.data.json::<i64>().unwrap())));

    assert!(a.ping("b", T).await.unwrap() < Duration::from_secs(10));
    assert!(matches!(a.ping("nobody", T).await, Err(NodeError::UnknownNode(id)) if id == "nobody"));

    for i in 0..10 {
        a.cast("b", "note", Data::json(&i).unwrap()).await.unwrap();
    }
    let value = json!({"s": "héllo \u{2028}", "n": [1, 2.5, 1e21], "1": "int key", "a": {"b": null}});
    let got = a.call_singleton("b", "echo", Data::json(&value).unwrap(), T).await.unwrap();
    // JS order: the integer-like key first; V8's number forms.
    assert_eq!(got.json_text().unwrap(), "{\"1\":\"int key\",\"s\":\"h\u{e9}llo \u{2028}\",\"n\":[1,2.5,1e+21],\"a\":{\"b\":null}}");
    assert_eq!(got.json::<serde_json::Value>().unwrap(), value);
    // The casts sent before the call arrived before its reply, in order.
    assert_eq!(*seen.lock().unwrap(), (0..10).map(|i| ("a".to_string(), i)).collect::<Vec<_>>());

    let bytes = a.call("b", "echo", Data::bytes(b"streamed".to_vec()), T).await.unwrap().collect_bytes().await.unwrap();
    assert_eq!(bytes, b"streamed");

    // multicall reaches every node; a node calling itself is not linked.
    let c = start("c").await;
    echo(&c);
    a.connect(&c.addr()).await.unwrap();
    c.connect(&a.addr()).await.unwrap();
    let all = a.multicall(&["b", "c"], "echo", Data::bytes(vec![1, 2, 3]), T).await.unwrap();
    assert_eq!(all, vec![Payload::Bytes(vec![1, 2, 3]), Payload::Bytes(vec![1, 2, 3])]);
    let singles = a.multicall_singleton(&["b", "c"], "echo", Data::json(&"x").unwrap(), T).await.unwrap();
    assert_eq!(singles, vec![Payload::Json("\"x\"".into()), Payload::Json("\"x\"".into())]);
    assert_eq!(a.abcast(&["b", "c", "nobody"], "note", Data::json(&99).unwrap()).await, 2);

    // No handler: b says so at once.
    let r = a.call_singleton("b", "nothing", Data::null(), Some(Duration::from_secs(60))).await;
    assert!(matches!(&r, Err(NodeError::NoHandler { event }) if event == "nothing"), "{r:?}");
    // A handler that never replies: the call times out.
    b.on("silent", |_| {});
    let started = std::time::Instant::now();
    let r = a.call_singleton("b", "silent", Data::null(), Some(Duration::from_millis(200))).await;
    assert!(matches!(r, Err(NodeError::Timeout)), "{r:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    for n in [&a, &b, &c] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffers_both_ways() {
    let (a, b) = pair().await;
    echo(&b);
    let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let got = a.call_singleton("b", "echo", Data::bytes(big.clone()), T).await.unwrap();
    assert_eq!(got.bytes(), Some(&big[..]));
    // A Buffer read as JSON is its Node shape.
    let got = a.call_singleton("b", "echo", Data::bytes(vec![0, 255]), T).await.unwrap();
    assert_eq!(got.json::<serde_json::Value>().unwrap(), json!({"type": "Buffer", "data": [0, 255]}));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_in_both_directions() {
    let (a, b) = pair().await;
    // b sums a streamed request, chunk by chunk, and replies with a stream
    // of the chunk sizes it saw.
    b.on("sizes", |mut m| {
        let mut chunks = m.take_chunks().expect("a stream");
        tokio::spawn(async move {
            let mut sizes = Vec::new();
            while let Some(c) = chunks.next().await {
                sizes.push(c.unwrap().bytes().unwrap().len());
            }
            let mut out = m.reply_stream().unwrap();
            for s in &sizes {
                out.send(s.to_string().into_bytes()).await.unwrap();
                out.send(b",".to_vec()).await.unwrap();
            }
            out.end().unwrap();
        });
    });
    let (mut w, reply) = a.call_stream("b", "sizes", T).await.unwrap();
    for i in 1..=40usize {
        w.send(vec![7u8; i * 1000]).await.unwrap();
    }
    w.end().unwrap();
    let text = String::from_utf8(reply.collect_bytes().await.unwrap()).unwrap();
    let want: String = (1..=40).map(|i| format!("{},", i * 1000)).collect();
    assert_eq!(text, want);

    // A stream that fails reaches the reader as a remote error.
    b.on("fails", |m| {
        let mut out = m.reply_stream().unwrap();
        out.try_send(vec![1]).unwrap();
        out.fail("half way").unwrap();
    });
    let mut reply = a.call("b", "fails", Data::null(), T).await.unwrap();
    assert_eq!(reply.next().await.unwrap().unwrap().bytes(), Some(&[1u8][..]));
    match reply.next().await {
        Some(Err(NodeError::Remote(e))) => assert_eq!(e.message, "half way"),
        other => panic!("{other:?}"),
    }
    assert!(reply.next().await.is_none());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_errors_are_typed() {
    let (a, b) = pair().await;
    b.on("bad", |m| m.reply_error("no such job").unwrap());
    match a.call_singleton("b", "bad", Data::null(), T).await {
        Err(NodeError::Remote(e)) => {
            assert_eq!(e.message, "no such job");
            assert!(e.stack.is_none(), "a Rust error is sent as production JS sends one: no stack");
        }
        other => panic!("{other:?}"),
    }
    // A cast has no tag to reply to.
    b.on("cast_only", |m| assert!(matches!(m.reply(Data::null()), Err(NodeError::NoReplyTag))));
    a.cast("b", "cast_only", Data::null()).await.unwrap();
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_delivers_the_queue_in_order() {
    let a = start("a").await;
    let b = start("b").await;
    let port = b.addr().port;
    a.connect(&b.addr()).await.unwrap();
    a.cast("b", "n", Data::json(&-1).unwrap()).await.unwrap();
    // b has read the cast once it answers a call sent after it on the same
    // link (it has no handler: it says so, on a link back it makes to a).
    let r = a.call_singleton("b", "none", Data::null(), Some(Duration::from_secs(30))).await;
    assert!(matches!(r, Err(NodeError::NoHandler { .. })), "{r:?}");
    b.shutdown().await;
    drop(b);
    // Wait for a's link to notice, then cast while b is down.
    for _ in 0..200 {
        if !a.is_link_up("b") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!a.is_link_up("b"));
    for i in 0..300 {
        a.cast("b", "n", Data::json(&i).unwrap()).await.unwrap();
    }
    // The link's task takes them into its queue.
    for _ in 0..500 {
        if a.queued("b") == 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(a.queued("b"), 300);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    // The handler is in place before the node listens.
    let b2 = Node::builder("b", "127.0.0.1", port)
        .cookie(COOKIE)
        .on("n", move |m| s.lock().unwrap().push(m.data.json::<i64>().unwrap()))
        .start()
        .await
        .unwrap();
    for _ in 0..500 {
        if seen.lock().unwrap().len() >= 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, (0..300).collect::<Vec<i64>>());
    assert_eq!(a.queued("b"), 0);
    a.shutdown().await;
    b2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_skipped_and_good_messages_flow() {
    let (a, b) = pair().await;
    echo(&b);
    let skips = Arc::new(Mutex::new(Vec::new()));
    let s = skips.clone();
    b.on_skip(move |skip| s.lock().unwrap().push(skip.kind()));
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", b.addr().port)).await.unwrap();
    let from = r#"{"id":"x","host":"127.0.0.1","port":1}"#;
    let bad_sum = format!(
        "{{\"type\":\"message\",\"data\":{{\"checkSum\":\"{}\",\"id\":\"echo\",\"tag\":null,\"from\":{from},\"stream\":{{\"done\":true}},\"data\":1}}}}\u{c}",
        "0".repeat(64)
    );
    raw.write_all(b"not json at all\x0c{\"type\":\"message\"}\x0c\xff\xfe\x0c").await.unwrap();
    raw.write_all(bad_sum.as_bytes()).await.unwrap();
    raw.flush().await.unwrap();
    for _ in 0..200 {
        if b.skipped() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.skipped(), 4);
    assert_eq!(*skips.lock().unwrap(), vec!["INVALID_JSON", "INVALID_MESSAGE", "INVALID_JSON", "INVALID_CHECKSUM"]);
    let got = a.call_singleton("b", "echo", Data::json(&"still fine").unwrap(), T).await.unwrap();
    assert_eq!(got.json::<String>().unwrap(), "still fine");
    // The raw socket is still open: nothing was closed for bad input.
    raw.write_all(b"x\x0c").await.unwrap();
    let mut buf = [0u8; 1];
    assert!(tokio::time::timeout(Duration::from_millis(100), raw.read(&mut buf)).await.is_err());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen_server_calls_single_and_streamed() {
    let (a, b) = pair().await;
    GenServer::new("gs")
        .on("echo", |req| {
            let data = req.data.clone().into_data();
            req.reply(data).unwrap();
        })
        .on("fail", |req| req.reply_error("gs says no").unwrap())
        .start(&b);
    let got = gen_server::call(&a, "b", "gs", "echo", Data::json(&json!({"k": [1, 2]})).unwrap(), T).await.unwrap();
    assert_eq!(got.json::<serde_json::Value>().unwrap(), json!({"k": [1, 2]}));
    let got = gen_server::call(&a, "b", "gs", "echo", Data::bytes(vec![9, 8]), T).await.unwrap();
    assert_eq!(got.bytes(), Some(&[9u8, 8][..]));
    assert!(matches!(
        gen_server::call(&a, "b", "gs", "fail", Data::null(), T).await,
        Err(NodeError::Remote(e)) if e.message == "gs says no"
    ));
    // A streamed request: the JSON of {event, data} as the stream's body.
    let (mut w, mut reply) = a.call_stream("b", "gs", T).await.unwrap();
    let body = br#"{"event":"echo","data":"from a stream"}"#;
    for piece in body.chunks(7) {
        w.send(piece.to_vec()).await.unwrap();
    }
    w.end().unwrap();
    let got = reply.next().await.unwrap().unwrap();
    assert_eq!(got.json::<String>().unwrap(), "from a stream");
    a.shutdown().await;
    b.shutdown().await;
}

/// What a Rust node writes is what a JS kernel writes for the same values:
/// the envelope's members in the JS literal's order, signed over that text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_are_written_as_a_js_kernel_writes_them() {
    use clusterluck_native::internals::cookie::Cookie;
    use clusterluck_native::internals::envelope;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let a = start("a").await;
    a.connect(&clusterluck_native::NodeAddr::new("raw", "127.0.0.1", port)).await.unwrap();
    let (mut sock, _) = listener.accept().await.unwrap();
    a.cast("raw", "ev\"\n", Data::json(&json!({"b": 1, "2": [0.1, -0.0]})).unwrap()).await.unwrap();
    a.cast("raw", "buf", Data::bytes(vec![0, 1, 255])).await.unwrap();
    let from = format!(r#"{{"id":"a","host":"127.0.0.1","port":{}}}"#, a.addr().port);
    // The two casts as a JS kernel's literal writes them, spelled out here
    // rather than by the node's own writers, and signed as JS signs them.
    let mut want = String::new();
    let cookie = Cookie::new(COOKIE);
    let cast = format!(r#"m{{"id":"ev\"\n","tag":null,"from":{from},"stream":{{"done":true}},"data":{{"2":[0.1,0],"b":1}}}}"#);
    assert_eq!(envelope::encode_bodies(&mut want, Some(&cookie), &cast, &mut Vec::new()), 0);
    let head = format!(r#"{{"id":"buf","tag":null,"from":{from},"stream":{{"done":true}}"#);
    assert!(envelope::encode_buffer_message(&mut want, Some(&cookie), &head, &[0, 1, 255]));
    // The frames as read, less our keep-alive pings (the first goes out as
    // the link comes up; a JS kernel answers or ignores them).
    let mut got = String::new();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 4096];
    while got.len() < want.len() {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0, "the link closed");
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.iter().position(|&b| b == 0x0C) {
            let frame = String::from_utf8(buf.drain(..=end).collect()).unwrap();
            if !(frame.starts_with("{\"type\":\"ping\"") && frame.contains("__clusterluck_native_tick:")) {
                got.push_str(&frame);
            }
        }
    }
    assert_eq!(got, want);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_between_rust_nodes() {
    let dir = std::env::temp_dir().join(format!("cl-rust-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tls = mutual_tls(&dir);
    let tls_node = |id: &str| Node::builder(id, "127.0.0.1", 0).cookie(COOKIE).tls(tls.clone()).retry(Duration::from_millis(50)).start();
    let (a, b) = (tls_node("a").await.unwrap(), tls_node("b").await.unwrap());
    echo(&b);
    a.connect(&b.addr()).await.unwrap();
    b.connect(&a.addr()).await.unwrap();
    a.ping("b", T).await.unwrap();
    let got = a.call_singleton("b", "echo", Data::bytes(vec![5; 100_000]), T).await.unwrap();
    assert_eq!(got.bytes().map(<[u8]>::len), Some(100_000));
    // A plain client cannot talk to a TLS node: its bytes are a failed handshake.
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", b.addr().port)).await.unwrap();
    raw.write_all(b"{\"type\":\"message\"}\x0c").await.unwrap();
    for _ in 0..200 {
        if b.skipped() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.skipped(), 1, "the handshake failure is reported as a skip");
    // A bad TLS file is an error at start, naming the option.
    let mut bad = tls.clone();
    bad.private = Some(dir.join("missing.key").to_string_lossy().into_owned());
    match Node::builder("c", "127.0.0.1", 0).tls(bad).start().await {
        Err(NodeError::Tls(e)) => assert!(e.to_string().contains("private"), "{e}"),
        other => panic!("{other:?}"),
    }
    a.shutdown().await;
    b.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}

/// The next item of any `Stream`, read through the trait alone.
async fn next_of<S: futures_core::Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *s).poll_next(cx)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_reply_reads_as_a_stream() {
    let (a, b) = pair().await;
    // b replies with five chunks, then the end.
    b.on("count", |m| {
        let mut out = m.reply_stream().unwrap();
        for i in 0..5 {
            out.try_send(format!("c{i}").into_bytes()).unwrap();
        }
        out.end().unwrap();
    });
    let mut reply = a.call("b", "count", Data::null(), T).await.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = next_of(&mut reply).await {
        got.push(String::from_utf8(chunk.unwrap().bytes().unwrap().to_vec()).unwrap());
    }
    assert_eq!(got, ["c0", "c1", "c2", "c3", "c4"]);
    assert!(next_of(&mut reply).await.is_none(), "an ended stream stays ended");
    assert_eq!(futures_core::Stream::size_hint(&reply), (0, Some(0)));

    // The deadline holds across polls: one chunk, then the timeout, then
    // the end.
    b.on("stalls", |m| {
        let mut out = m.reply_stream().unwrap();
        out.try_send(vec![9]).unwrap();
        std::mem::forget(out);
    });
    let started = std::time::Instant::now();
    let mut reply = a.call("b", "stalls", Data::null(), Some(Duration::from_millis(300))).await.unwrap();
    assert_eq!(next_of(&mut reply).await.unwrap().unwrap().bytes(), Some(&[9u8][..]));
    assert!(matches!(next_of(&mut reply).await, Some(Err(NodeError::Timeout))));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(next_of(&mut reply).await.is_none());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_a_node_that_goes_down_fail_at_once() {
    let (a, b) = (start("a").await, start("b").await);
    let ups = Arc::new(Mutex::new(Vec::new()));
    let downs = Arc::new(Mutex::new(Vec::new()));
    let (u, d) = (ups.clone(), downs.clone());
    a.on_node_up(move |n| u.lock().unwrap().push(n.id.clone()));
    a.on_node_down(move |n, why| d.lock().unwrap().push((n.id.clone(), why.to_string())));
    a.connect(&b.addr()).await.unwrap();
    b.connect(&a.addr()).await.unwrap();
    // Up once b answers a ping, which it can now that it links to a.
    for _ in 0..500 {
        if !ups.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*ups.lock().unwrap(), ["b"]);

    // b takes each request and never replies; it tells when it holds two.
    let held = Arc::new(Mutex::new(Vec::new()));
    let (both_tx, both_rx) = tokio::sync::oneshot::channel();
    let both_tx = Mutex::new(Some(both_tx));
    let h = held.clone();
    b.on("hold", move |m| {
        let mut held = h.lock().unwrap();
        held.push(m);
        if held.len() == 2 {
            let _ = both_tx.lock().unwrap().take().map(|tx| tx.send(()));
        }
    });
    let long = Some(Duration::from_secs(600));
    let single = tokio::spawn({
        let a = a.clone();
        async move { a.call_singleton("b", "hold", Data::null(), long).await }
    });
    let mut streamed = a.call("b", "hold", Data::null(), long).await.unwrap();
    both_rx.await.unwrap();

    // b goes away with both calls unanswered: its socket to a closes.
    b.shutdown().await;
    drop(held);
    let within = Duration::from_secs(60);
    let r = tokio::time::timeout(within, single).await.expect("failed before its timeout").unwrap();
    match r {
        Err(NodeError::NodeDown { node, reason }) => {
            assert_eq!(node, "b");
            assert_eq!(reason, "closed");
        }
        other => panic!("{other:?}"),
    }
    let r = tokio::time::timeout(within, streamed.next()).await.expect("failed before its timeout");
    assert!(matches!(&r, Some(Err(NodeError::NodeDown { node, .. })) if node == "b"), "{r:?}");
    assert!(streamed.next().await.is_none());
    assert_eq!(*downs.lock().unwrap(), [("b".to_string(), "closed".to_string())]);
    // b is gone for good: no second node-up.
    assert_eq!(ups.lock().unwrap().len(), 1);
    // Until it is up again, a call with no timeout fails at once, and one
    // with a timeout waits for it (and times out: it never comes back).
    let started = std::time::Instant::now();
    let r = a.call_singleton("b", "hold", Data::null(), None).await;
    assert!(matches!(&r, Err(NodeError::NodeDown { node, reason }) if node == "b" && reason == "closed"), "{r:?}");
    assert!(matches!(a.ping("b", None).await, Err(NodeError::NodeDown { .. })));
    assert!(started.elapsed() < Duration::from_secs(1), "failed at once");
    let r = a.call_singleton("b", "hold", Data::null(), Some(Duration::from_millis(300))).await;
    assert!(matches!(r, Err(NodeError::Timeout)), "{r:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    a.shutdown().await;
}

/// A body stream made by hand: `n` chunks of growing size, each one only
/// ready on the poll after the one that said Pending.
struct Body {
    next: usize,
    n: usize,
    yielded: bool,
}

impl futures_core::Stream for Body {
    type Item = Vec<u8>;

    fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Vec<u8>>> {
        if self.next == self.n {
            return std::task::Poll::Ready(None);
        }
        if !std::mem::replace(&mut self.yielded, true) {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        self.yielded = false;
        self.next += 1;
        std::task::Poll::Ready(Some(vec![b'x'; self.next * 100]))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_the_body_of_a_call() {
    let (a, b) = pair().await;
    // b replies with the sizes of the chunks it got, comma separated.
    b.on("sizes", |mut m| {
        let mut chunks = m.take_chunks().expect("a stream");
        tokio::spawn(async move {
            let mut sizes = String::new();
            while let Some(c) = chunks.next().await {
                sizes.push_str(&format!("{},", c.unwrap().bytes().unwrap().len()));
            }
            m.reply(Data::bytes(sizes.into_bytes())).unwrap();
        });
    });
    let reply = a.call_with_body("b", "sizes", Body { next: 0, n: 8, yielded: false }, T).await.unwrap();
    let text = String::from_utf8(reply.collect_bytes().await.unwrap()).unwrap();
    assert_eq!(text, (1..=8).map(|i| format!("{},", i * 100)).collect::<String>());
    a.shutdown().await;
    b.shutdown().await;
}
