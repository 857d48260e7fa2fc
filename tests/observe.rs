//! The observer's request (`clusterluck-native top`), answered by a Rust
//! node on its network thread: asked on a raw socket as an observer asks,
//! the answer read from the connection the node opens back to the asker.
//! Signed requests are answered; unsigned and wrongly signed ones are not;
//! the answer holds figures and never a message's payload; the request never
//! reaches a handler.

mod common;
use common::mutual_tls;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clusterluck_native::internals::cookie::Cookie;
use clusterluck_native::internals::envelope::{self, InData, Inbound, OutData, OutMessage};
use clusterluck_native::internals::frame::{Decoded, FrameDecoder};
use clusterluck_native::stats::{LinkState, OBSERVE_EVENT};
use clusterluck_native::{Data, Node};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const COOKIE: &str = "observe-cookie";
const PAYLOAD: &str = "a payload the observer must never see";

async fn node(id: &str) -> Node {
    Node::builder(id, "127.0.0.1", 0).cookie(COOKIE).retry(Duration::from_millis(50)).start().await.expect("start")
}

/// A request frame from observer `obs` listening on `port`, signed with
/// `cookie` (unsigned with `None`).
fn request(cookie: Option<&Cookie>, port: u16, tag: &str) -> String {
    let from = envelope::from_json("obs", "127.0.0.1", port as f64);
    let m = OutMessage {
        event: OBSERVE_EVENT.into(),
        tag: Some(tag.into()),
        done: true,
        stream_id: None,
        error_json: None,
        data: OutData::Json("null".into()),
    };
    let mut out = String::new();
    envelope::encode_message(&mut out, cookie, &from, &m);
    out
}

/// Sends `frame` to `to` and returns what the node answers on the
/// connection it opens back to `listener`, or `None` after `wait`.
async fn ask(to: u16, listener: &TcpListener, frame: &str, wait: Duration) -> Option<String> {
    let mut asker = TcpStream::connect(("127.0.0.1", to)).await.unwrap();
    asker.write_all(frame.as_bytes()).await.unwrap();
    let (mut back, _) = tokio::time::timeout(wait, listener.accept()).await.ok()?.unwrap();
    let mut decoder = FrameDecoder::new(1 << 24);
    loop {
        if let Some(Decoded::Frame(f)) = decoder.next_frame() {
            return Some(String::from_utf8(f.to_vec()).unwrap());
        }
        let n = tokio::time::timeout(wait, back.read_buf(decoder.read_buffer(65536))).await.ok()?.unwrap();
        assert!(n > 0, "the answer's connection closed before a whole frame");
    }
}

/// The answer's data, checked to be signed with `cookie` and a reply to `tag`.
fn answer_data(frame: &str, cookie: &Cookie, tag: &str) -> Value {
    let Ok(Inbound::Message(m)) = envelope::decode(frame, Some(cookie)) else { panic!("not a signed message: {frame}") };
    assert_eq!(m.event_raw, format!("\"{tag}\""), "a reply to the request's tag");
    assert!(m.tag.is_none() && m.done);
    let InData::Json(data) = m.data else { panic!("JSON data expected") };
    serde_json::from_str(data).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_are_answered_with_figures_and_no_payloads() {
    let (a, b) = (node("a").await, node("b").await);
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = asked.clone();
    a.on(OBSERVE_EVENT, move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    a.on("note", move |_| {
        g.fetch_add(1, Ordering::SeqCst);
    });
    a.connect(&b.addr()).await.unwrap();
    b.connect(&a.addr()).await.unwrap();
    for _ in 0..5 {
        b.cast("a", "note", Data::json(&PAYLOAD).unwrap()).await.unwrap();
        a.cast("b", "note", Data::json(&PAYLOAD).unwrap()).await.unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while got.load(Ordering::SeqCst) < 5 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(got.load(Ordering::SeqCst), 5);

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cookie = Cookie::new(COOKIE);
    let frame = ask(a.addr().port, &listener, &request(Some(&cookie), port, "tag-1"), Duration::from_secs(10))
        .await
        .expect("a signed request is answered");
    assert!(!frame.contains(PAYLOAD), "no payload in the answer: {frame}");
    let data = answer_data(&frame, &cookie, "tag-1");
    assert_eq!(data["id"], "a");
    assert_eq!(data["kind"], "rust");
    assert_eq!(data["port"], a.addr().port);
    assert!(data["uptime"].as_u64().is_some(), "{data}");
    let peer = &data["peers"]["b"];
    assert!(peer["received"]["messages"].as_u64().unwrap() >= 5, "{peer}");
    assert!(peer["sent"]["messages"].as_u64().unwrap() >= 5, "{peer}");
    for key in ["state", "rtt", "queued", "unwritten", "dropped", "skips", "lastHeard", "quiet", "pings", "ticksMissed", "ackSaves", "nodedowns"] {
        assert!(peer.get(key).is_some(), "{key} in {peer}");
    }
    assert_eq!(data["links"], serde_json::json!([{"id": "b", "host": "127.0.0.1", "port": b.addr().port}]));

    // The same figures from Node::stats().
    let stats = a.stats();
    let b_stats = &stats.peers["b"];
    assert!(b_stats.received.messages >= 5 && b_stats.sent.messages >= 5);
    assert!(matches!(b_stats.state, Some(LinkState::Up) | Some(LinkState::Connecting)), "{b_stats:?}");
    assert_eq!(b_stats.inbound, 1);
    assert!(stats.totals.received.messages >= b_stats.received.messages);

    // Unsigned, and signed with another cookie: no answer, each skipped as
    // a bad checksum; nothing reached the handler of the event.
    for (i, bad) in [None, Some(Cookie::new("not the cookie"))].iter().enumerate() {
        let req = request(bad.as_ref(), port, &format!("bad-{i}"));
        assert!(ask(a.addr().port, &listener, &req, Duration::from_millis(800)).await.is_none(), "answered request {i}");
    }
    // A signed request after them is answered again: the node still serves.
    let frame = ask(a.addr().port, &listener, &request(Some(&cookie), port, "tag-2"), Duration::from_secs(10)).await;
    assert_eq!(answer_data(&frame.expect("answered"), &cookie, "tag-2")["id"], "a");
    assert!(a.skipped() >= 2, "the bad requests were skipped: {}", a.skipped());
    assert_eq!(asked.load(Ordering::SeqCst), 0, "the request never reaches a handler");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_a_cookie_answers_only_at_the_askers_address() {
    let a = Node::builder("plain", "127.0.0.1", 0).start().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // The request names another host: the answer still goes to the address
    // the request came from.
    let from = envelope::from_json("obs", "192.0.2.1", port as f64);
    let m = OutMessage {
        event: OBSERVE_EVENT.into(),
        tag: Some("t".into()),
        done: true,
        stream_id: None,
        error_json: None,
        data: OutData::Absent,
    };
    let mut req = String::new();
    envelope::encode_message(&mut req, None, &from, &m);
    let frame = ask(a.addr().port, &listener, &req, Duration::from_secs(10)).await.expect("answered");
    let Ok(Inbound::Message(m)) = envelope::decode(&frame, None) else { panic!("{frame}") };
    let InData::Json(data) = m.data else { panic!() };
    let data: Value = serde_json::from_str(data).unwrap();
    assert_eq!((data["id"].as_str(), data["kind"].as_str()), (Some("plain"), Some("rust")));
    assert!(!frame.contains("checkSum"), "no cookie, no signature");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_speaks_tls_answers_over_tls() {
    let dir = std::env::temp_dir().join(format!("cl-observe-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let opts = mutual_tls(&dir);
    let a = Node::builder("tls-a", "127.0.0.1", 0).cookie(COOKIE).tls(opts.clone()).start().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cookie = Cookie::new(COOKIE);
    // The request, over TLS with the observer's certificate.
    let client = clusterluck_native::tls::client_config(&opts).unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", a.addr().port)).await.unwrap();
    let mut asker = tokio_rustls::TlsConnector::from(client).connect(name, tcp).await.unwrap();
    asker.write_all(request(Some(&cookie), port, "tls-tag").as_bytes()).await.unwrap();
    asker.flush().await.unwrap();
    // The answer, on a TLS connection the node opens back: it proves itself
    // with its certificate, and gets ours checked.
    let (back, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await.expect("the node dials back").unwrap();
    let server = clusterluck_native::tls::server_config(&opts).unwrap();
    let mut back = tokio_rustls::TlsAcceptor::from(server).accept(back).await.expect("a TLS handshake");
    let mut text = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), back.read_to_end(&mut text)).await.unwrap().unwrap();
    let text = String::from_utf8(text).unwrap();
    let frame = text.trim_end_matches('\u{c}');
    assert_eq!(answer_data(frame, &cookie, "tls-tag")["id"], "tls-a");
    a.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
