//! Memory toward a peer that does not read: frames handed to a peer task
//! while its socket does not drain are bounded by `max_bytes`, the oldest
//! dropped past it and counted; under the bound nothing is lost. Checked
//! against a plain TCP listener that reads only after everything was sent,
//! or slowly while it is sent.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clusterluck_native::internals::kernel::Kernel;
use clusterluck_native::internals::batch::{self, Outbox};
use clusterluck_native::internals::peer::{PeerHandle, PeerOptions};

const PAD: &str = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdef";

fn wait_for(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn stalled_peer(kernel: &Kernel, max_bytes: usize, high_water: usize) -> (PeerHandle, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = kernel.connect(PeerOptions {
        node_id: "stalled".into(),
        port,
        retry: Duration::from_millis(50),
        max_bytes,
        high_water,
        ..PeerOptions::default()
    });
    let (socket, _) = listener.accept().unwrap();
    wait_for("the link", || peer.state.connected.load(Ordering::Acquire));
    (peer, socket)
}

/// Waits until `sample` has not changed for half a second.
fn settle<T: PartialEq>(sample: impl Fn() -> T) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = sample();
    let mut since = Instant::now();
    while since.elapsed() < Duration::from_millis(500) {
        assert!(Instant::now() < deadline, "the peer task never settled");
        std::thread::sleep(Duration::from_millis(20));
        let now = sample();
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
}

/// Sends `total` casts of about 100 bytes in commands of 100 envelopes
/// (as turns of JS would, `pause` apart), checking the bound after each command, then a
/// last envelope numbered `total`. Returns the most bytes seen unwritten in
/// the task, and the most held back from the socket: unwritten, or handed
/// to the task and not yet taken (as busy counts them). How the second
/// splits between the two depends on how soon the task runs, which a loaded
/// machine decides.
fn flood(kernel: &Kernel, peer: &PeerHandle, total: u64, bound: usize, pause: Duration) -> (usize, usize) {
    let cfg = kernel.shared().config();
    let (mut most, mut most_held) = (0, 0);
    let mut n = 0;
    while n <= total {
        let mut text = String::new();
        for _ in 0..100 {
            if n > total {
                break;
            }
            text.push_str(&format!("m{{\"n\":{n},\"pad\":\"{PAD}\"}}\n"));
            n += 1;
        }
        assert!(peer.send_bodies(text, cfg.clone(), false), "the peer task is alive");
        std::thread::sleep(pause);
        let held = peer.state.unwritten.load(Ordering::Relaxed);
        assert!(held <= bound, "{held} bytes unwritten, over the bound of {bound}");
        most = most.max(held);
        most_held = most_held.max(held + peer.state.handed.load(Ordering::Relaxed));
    }
    (most, most_held)
}

/// Reads until the frame numbered `last` arrives, pausing `pause` after
/// each read; the numbers of all frames read.
fn read_until(socket: &mut TcpStream, last: u64, pause: Duration) -> Vec<u64> {
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut numbers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while numbers.last() != Some(&last) {
        assert!(Instant::now() < deadline, "frame {last} never arrived ({} frames read)", numbers.len());
        match socket.read(&mut buf) {
            Ok(0) => panic!("the link closed"),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                std::thread::sleep(pause);
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => panic!("{e}"),
        }
        let whole = got.iter().rposition(|&b| b == 0x0C).map_or(0, |i| i + 1);
        for frame in got[..whole].split(|&b| b == 0x0C).filter(|f| !f.is_empty()) {
            let text = std::str::from_utf8(frame).expect("whole UTF-8 frames");
            // Our keep-alive pings (the node cannot answer them) go out
            // between frames.
            if text.starts_with("{\"type\":\"ping\"") && text.contains("__clusterluck_native_tick:") {
                continue;
            }
            assert!(text.contains(PAD), "a frame lost part of its text");
            let n = text.split("\"n\":").nth(1).and_then(|r| r.split(',').next()).and_then(|n| n.parse().ok());
            numbers.push(n.unwrap_or_else(|| panic!("a frame without its number: {text:.80}")));
        }
        got.drain(..whole);
    }
    numbers
}

/// The kinds of the outbox entries for peer `id` (`[k,id...]`).
fn peer_events(outbox: &Outbox, id: u64) -> Vec<u8> {
    let text = outbox.take().text;
    let suffix = format!(",{id}");
    text.split("],")
        .filter_map(|e| {
            let e = e.trim_start_matches('[').trim_end_matches(']');
            let (k, rest) = e.split_once(',')?;
            (format!(",{rest}").starts_with(&suffix)).then(|| k.parse().ok()).flatten()
        })
        .collect()
}

#[test]
fn a_stalled_peer_holds_at_most_the_bound_and_loses_the_oldest() {
    let (kernel, outbox) = batch::kernel(Box::new(|| {})).expect("the network runtime");
    let bound = 2 * 1024 * 1024;
    let (peer, mut socket) = stalled_peer(&kernel, bound, bound / 2);
    let total = 100_000; // about 15 MiB of frames
    let (most, _) = flood(&kernel, &peer, total, bound, Duration::ZERO);
    // The socket's buffers take a few MiB; the rest is held, up to the bound.
    // The flood may be handed over before the task takes any of it (a
    // loaded machine decides), so what it holds is watched until it settles.
    let most = std::cell::Cell::new(most);
    let dropped = || peer.state.dropped.load(Ordering::Relaxed);
    wait_for("frames dropped", || dropped() > 0);
    // Read only once the task has taken the whole flood: reading earlier
    // ends the episode (DRAIN) while commands still wait in its channel,
    // and those would open a second one.
    settle(|| {
        let unwritten = peer.state.unwritten.load(Ordering::Relaxed);
        assert!(unwritten <= bound, "{unwritten} bytes unwritten, over the bound of {bound}");
        most.set(most.get().max(unwritten));
        (dropped(), unwritten)
    });
    let most = most.get();
    let numbers = read_until(&mut socket, total, Duration::ZERO);
    wait_for("everything written", || peer.state.unwritten.load(Ordering::Relaxed) == 0);
    let dropped = dropped();
    assert_eq!(numbers.len() as u64 + dropped, total + 1, "every frame either arrived or was counted dropped");
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
    // The newest were kept: what is missing is older than what arrived last.
    let kept_tail = numbers.iter().rev().take(1000).count() as u64;
    assert_eq!(&numbers[numbers.len() - kept_tail as usize..], &((total + 1 - kept_tail)..=total).collect::<Vec<_>>()[..]);
    assert!(most > bound / 2, "the bound was approached ({most} bytes)");
    let events = peer_events(&outbox, peer.id);
    assert_eq!(events.iter().filter(|&&k| k == 14).count(), 1, "one overflow report for the episode: {events:?}");
    let busy = events.iter().position(|&k| k == 12).expect("BUSY reported");
    let drain = events.iter().rposition(|&k| k == 13).expect("DRAIN reported");
    assert!(busy < drain, "BUSY before DRAIN: {events:?}");
    let pings = peer.state.pings.load(Ordering::Relaxed);
    assert_eq!(peer.state.sent_frames.load(Ordering::Relaxed), numbers.len() as u64 + pings, "the casts and the keep-alive pings");
}

#[test]
fn under_the_bound_nothing_is_dropped() {
    let (kernel, outbox) = batch::kernel(Box::new(|| {})).expect("the network runtime");
    let bound = 64 * 1024 * 1024;
    let (peer, mut socket) = stalled_peer(&kernel, bound, 1024 * 1024);
    let total = 100_000;
    let (_, most) = flood(&kernel, &peer, total, bound, Duration::ZERO);
    std::thread::sleep(Duration::from_millis(200));
    let numbers = read_until(&mut socket, total, Duration::ZERO);
    assert_eq!(numbers, (0..=total).collect::<Vec<_>>(), "every frame once, in order");
    assert_eq!(peer.state.dropped.load(Ordering::Relaxed), 0);
    assert!(most > 1024 * 1024, "the socket stalled the writes ({most} bytes held at most)");
    let events = peer_events(&outbox, peer.id);
    assert!(!events.contains(&14), "no overflow: {events:?}");
    assert!(events.contains(&12) && events.contains(&13), "BUSY and DRAIN: {events:?}");
}

/// A peer that reads slowly while the flood goes on: writes wait on the
/// socket again and again, so commands are stashed while buffers of stashed
/// commands already written are kept and used again. Every frame arrives
/// once, in order, and whole.
#[test]
fn a_slow_reader_gets_every_frame_once_in_order() {
    let (kernel, _outbox) = batch::kernel(Box::new(|| {})).expect("the network runtime");
    let bound = 64 * 1024 * 1024;
    let (peer, mut socket) = stalled_peer(&kernel, bound, bound);
    // Small socket buffers, so that the writes wait soon and often.
    socket2::SockRef::from(&socket).set_recv_buffer_size(16 * 1024).unwrap();
    let total = 100_000;
    let numbers = std::thread::scope(|s| {
        let reader = s.spawn(|| read_until(&mut socket, total, Duration::from_micros(300)));
        flood(&kernel, &peer, total, bound, Duration::from_micros(200));
        reader.join().expect("the reader")
    });
    assert_eq!(numbers, (0..=total).collect::<Vec<_>>(), "every frame once, in order");
    assert_eq!(peer.state.dropped.load(Ordering::Relaxed), 0);
}
