//! The listener and inbound connections, driven without Node: restarts on
//! the same port, and the receive side's memory limit under bad input.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterluck_native::internals::kernel::{Kernel, DEFAULT_HIGH_WATER};
use clusterluck_native::internals::batch::{self, Outbox};
use clusterluck_native::internals::sink::Sink;

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Waits for the READY (8) or LISTEN_ERROR (9) entry of `generation`.
fn listen_result(outbox: &Outbox, generation: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = outbox.take().text;
        for prefix in [format!("[8,{generation},"), format!("[9,{generation},")] {
            if let Some(at) = text.find(&prefix) {
                let end = text[at..].find(']').map_or(text.len(), |e| at + e + 1);
                return text[at..end].to_string();
            }
        }
        assert!(Instant::now() < deadline, "no READY or LISTEN_ERROR for generation {generation}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `start()` after `stop()` on the same port (what a restart does) must not
/// race the close of the socket it replaces.
#[test]
fn restarting_on_the_same_port_binds_every_time() {
    let (kernel, outbox) = batch::kernel(Box::new(|| {})).expect("the network runtime");
    let port = free_port();
    for i in 0..150 {
        // Sometimes the first listener has bound already, sometimes not yet.
        kernel.listen("127.0.0.1".into(), port, None);
        if i % 2 == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
        let generation = kernel.listen("127.0.0.1".into(), port, None);
        let result = listen_result(&outbox, generation);
        assert!(result.starts_with("[8,"), "restart {i}: {result}");
    }
    kernel.close();
}

/// Empty frames cost a byte each on the wire and a skip entry of about a
/// hundred bytes each for JS: a reader must stop at the outbox's limit even
/// in the middle of one read.
#[test]
fn skips_of_one_read_respect_the_outbox_limit() {
    let (kernel, outbox) = batch::kernel(Box::new(|| {})).expect("the network runtime");
    let port = free_port();
    let generation = kernel.listen("127.0.0.1".into(), port, None);
    assert!(listen_result(&outbox, generation).starts_with("[8,"));
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let writer = std::thread::spawn(move || {
        // About 100 MB of skip entries if nothing held the reader back.
        let feeds = vec![0x0Cu8; 1024 * 1024];
        let _ = socket.write_all(&feeds);
        socket
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !outbox.is_full() {
        assert!(Instant::now() < deadline, "the outbox never filled");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The reader is parked now; give it time to overshoot if it would.
    std::thread::sleep(Duration::from_millis(300));
    let batch = outbox.take();
    let held = batch.text.len();
    assert!(batch.text.contains("INVALID_JSON"));
    assert!(held <= DEFAULT_HIGH_WATER + 512 * 1024, "{held} bytes waited for JS");
    drop(writer);
    kernel.close();
}

/// Many connections each sending most of a frame without its delimiter:
/// their partial frames together stay within the inbound budget, the
/// connections over it are closed and reported (INBOUND_BUDGET), and a
/// connection sending whole frames keeps working.
#[test]
fn partial_frames_of_all_connections_share_one_budget() {
    let (kernel, outbox) = batch::kernel(Box::new(|| {})).expect("the network runtime");
    kernel.configure("me", "127.0.0.1", 0.0, None, Some(1024 * 1024));
    let budget = 4 * 1024 * 1024;
    kernel.set_inbound_budget(budget);
    let port = free_port();
    let generation = kernel.listen("127.0.0.1".into(), port, None);
    assert!(listen_result(&outbox, generation).starts_with("[8,"));
    let shared = kernel.shared().clone();
    // Sixteen connections of 900 KiB each: 14 MiB if nothing bounded them.
    let partial = vec![b'x'; 900 * 1024];
    let mut sockets = Vec::new();
    for _ in 0..16 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(&partial).unwrap();
        sockets.push(s);
    }
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    // At most the budget is held; every connection over it is closed.
    while text.matches("INBOUND_BUDGET").count() < 16 - budget / (900 * 1024) {
        assert!(Instant::now() < deadline, "connections over the budget were not closed: {:.300}", text);
        let held = shared.inbound_held.load(std::sync::atomic::Ordering::Relaxed);
        assert!(held <= budget + 900 * 1024, "{held} bytes of partial frames held");
        text.push_str(&outbox.take().text);
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    text.push_str(&outbox.take().text);
    let closed = text.matches("INBOUND_BUDGET").count();
    // The budget holds four partial frames of 900 KiB: at least twelve
    // connections had to go (which ones depends on how reads interleave).
    assert!((12..=15).contains(&closed), "{closed} connections closed");
    assert!(shared.inbound_held.load(std::sync::atomic::Ordering::Relaxed) <= budget);
    // Those still open finish their frames and are read: the budget frees up.
    let mut ok = TcpStream::connect(("127.0.0.1", port)).unwrap();
    ok.write_all(b"{\"type\":\"message\",\"data\":{}}\x0c").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = outbox.take().text;
        if t.contains("INVALID_MESSAGE") {
            assert!(!t.contains("INBOUND_BUDGET"), "a whole frame is not charged to the budget");
            break;
        }
        assert!(Instant::now() < deadline, "the whole frame was not read");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(sockets);
    let deadline = Instant::now() + Duration::from_secs(10);
    while shared.inbound_held.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        assert!(Instant::now() < deadline, "closed connections give their bytes back");
        std::thread::sleep(Duration::from_millis(5));
    }
    kernel.close();
}

/// A cast of `{"q": seq}` from node `from`, as a frame on the wire.
fn cast_frame(from: &str, seq: u64) -> Vec<u8> {
    let data = format!(
        "{{\"id\":\"order\",\"tag\":null,\"from\":{{\"id\":\"{from}\",\"host\":\"127.0.0.1\",\"port\":1}},\"stream\":{{\"done\":true}},\"data\":{{\"q\":{seq}}}}}"
    );
    let mut out = Vec::new();
    clusterluck_native::internals::frame::encode_frame(&mut out, "message", &data);
    out
}

fn cast_frames(from: &str, seqs: std::ops::Range<u64>) -> Vec<u8> {
    seqs.flat_map(|q| cast_frame(from, q)).collect()
}

/// The seqs of the casts JS was handed, in the order it was handed them.
fn seqs(text: &str) -> Vec<u64> {
    text.split("{\"q\":").skip(1).map(|rest| rest[..rest.find('}').unwrap()].parse().unwrap()).collect()
}

/// Collects what JS is handed until `n` casts arrived (or `wait` passed).
fn collect_casts(outbox: &Outbox, n: usize, wait: Duration) -> (Vec<u64>, String) {
    let mut text = String::new();
    let deadline = Instant::now() + wait;
    while seqs(&text).len() < n && Instant::now() < deadline {
        text.push_str(&outbox.take().text);
        std::thread::sleep(Duration::from_millis(2));
    }
    (seqs(&text), text)
}

fn listening_kernel() -> (Kernel, Arc<Outbox>, u16) {
    let (kernel, outbox) = batch::kernel(Box::new(|| {})).expect("the network runtime");
    kernel.configure("me", "127.0.0.1", 0.0, None, None);
    let port = free_port();
    let generation = kernel.listen("127.0.0.1".into(), port, None);
    assert!(listen_result(&outbox, generation).starts_with("[8,"));
    (kernel, outbox, port)
}

/// Node x's first link to `port`, having delivered casts 0..n.
fn first_link(outbox: &Outbox, port: u16, n: u64) -> TcpStream {
    let mut old = TcpStream::connect(("127.0.0.1", port)).unwrap();
    old.write_all(&cast_frames("x", 0..n)).unwrap();
    let (got, _) = collect_casts(outbox, n as usize, Duration::from_secs(10));
    assert_eq!(got, (0..n).collect::<Vec<_>>());
    old
}

/// A node that dials again while its old connection still holds frames (we
/// were stopped, or its close is still on the way): the new connection's
/// frames come after all of the old one's, never between them.
#[test]
fn a_new_link_of_a_node_delivers_after_the_old_one_has_finished() {
    let (kernel, outbox, port) = listening_kernel();
    let mut old = first_link(&outbox, port, 200);
    // The new link sends at once; the old one goes on for a while (reads
    // close together, each well within the grace), then closes.
    let mut new = TcpStream::connect(("127.0.0.1", port)).unwrap();
    new.write_all(&cast_frames("x", 1000..1200)).unwrap();
    for chunk in 0..10u64 {
        std::thread::sleep(Duration::from_millis(30));
        old.write_all(&cast_frames("x", 200 + chunk * 20..220 + chunk * 20)).unwrap();
    }
    drop(old);
    let (got, _) = collect_casts(&outbox, 400, Duration::from_secs(10));
    let want: Vec<u64> = (200..400).chain(1000..1200).collect();
    assert_eq!(got, want, "the old link's frames first, then the new one's");
    kernel.close();
}

/// A node's old connection that has gone silent (it gave it up: a
/// partition, a tick timeout) is closed once the node's new connection has
/// waited `GRACE`; what the old one would still bring is not delivered.
#[test]
fn a_silent_old_link_is_closed_by_the_new_one() {
    use std::io::Read;
    let (kernel, outbox, port) = listening_kernel();
    let mut old = first_link(&outbox, port, 10);
    // Another node's link is not held back by this handover.
    let mut other = TcpStream::connect(("127.0.0.1", port)).unwrap();
    other.write_all(&cast_frame("y", 7)).unwrap();
    let mut new = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let started = Instant::now();
    new.write_all(&cast_frames("x", 100..110)).unwrap();
    let (got, text) = collect_casts(&outbox, 11, Duration::from_secs(10));
    let waited = started.elapsed();
    assert_eq!(got, [7].into_iter().chain(100..110).collect::<Vec<_>>());
    assert!(waited >= clusterluck_native::internals::handover::GRACE, "the new link waited only {waited:?}");
    assert!(waited < clusterluck_native::internals::handover::GRACE * 5, "the new link waited {waited:?}");
    // The old socket was closed on us (JS is told: SOCKET_CLOSE, kind 4),
    // and what it sends from now on is never delivered.
    assert!(text.contains("[4,"), "no SOCKET_CLOSE: {text:.300}");
    old.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(old.read(&mut buf), Ok(0) | Err(_)), "the old link is still open");
    let _ = old.write_all(&cast_frames("x", 10..20));
    new.write_all(&cast_frames("x", 110..120)).unwrap();
    let (got, _) = collect_casts(&outbox, 10, Duration::from_secs(10));
    assert_eq!(got, (110..120).collect::<Vec<_>>());
    let shared = kernel.shared();
    assert_eq!(shared.hearing.get("x").unwrap().turn.open(), 1);
    drop(other);
    kernel.close();
}

/// Closing the listener (a stop) ends every reader by aborting its task:
/// what they held is given back all the same, so a restarted kernel starts
/// from a clean slate (no phantom links, no budget used).
#[test]
fn a_stop_gives_back_what_the_inbound_links_held() {
    let (kernel, outbox, port) = listening_kernel();
    let mut a = TcpStream::connect(("127.0.0.1", port)).unwrap();
    a.write_all(&cast_frame("x", 1)).unwrap();
    // Half a frame: held by the reader, and charged to the budget.
    a.write_all(&cast_frame("x", 2)[..40]).unwrap();
    let (got, _) = collect_casts(&outbox, 1, Duration::from_secs(10));
    assert_eq!(got, [1]);
    let shared = kernel.shared().clone();
    let x = shared.hearing.get("x").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while shared.inbound_held.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the partial frame was not read");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(x.links.load(std::sync::atomic::Ordering::Relaxed), 1);
    kernel.close();
    let deadline = Instant::now() + Duration::from_secs(10);
    while x.links.load(std::sync::atomic::Ordering::Relaxed) != 0
        || x.turn.open() != 0
        || shared.inbound_held.load(std::sync::atomic::Ordering::Relaxed) != 0
    {
        assert!(Instant::now() < deadline, "a stopped kernel still counts the links it closed");
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(a);
}
