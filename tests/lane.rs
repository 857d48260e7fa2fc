//! The lane: sends written on the caller's thread while a link is idle, and
//! what the socket does not take at once handed to the peer task. Checked
//! against a plain TCP listener that reads only after everything was sent, so
//! the socket's buffers fill and a direct write is cut short.

use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clusterluck_native::internals::kernel::Kernel;
use clusterluck_native::internals::batch;
use clusterluck_native::internals::peer::{PeerHandle, PeerOptions};

fn peer_to(kernel: &Kernel, port: u16) -> PeerHandle {
    kernel.connect(PeerOptions {
        node_id: "listener".into(),
        host: "127.0.0.1".into(),
        port,
        retry: Duration::from_millis(50),
        max_retries: None,
        max_len: 100_000,
        ..PeerOptions::default()
    })
}

fn wait_for(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The numbers of the frames in `bytes` (each `{"n":N,...}`), checking that
/// every frame is whole UTF-8 and carries the expected text.
fn frame_numbers(bytes: &[u8], pad: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut frames: Vec<&[u8]> = bytes.split(|&b| b == 0x0C).collect();
    assert_eq!(frames.pop(), Some(&b""[..]), "the stream ends with a delimiter");
    for f in frames {
        let text = std::str::from_utf8(f).expect("each frame is whole UTF-8");
        // Our keep-alive pings go out between frames.
        if text.starts_with("{\"type\":\"ping\"") && text.contains("__clusterluck_native_tick:") {
            continue;
        }
        let n = text
            .split("\"n\":")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a frame without its number: {:.80}", text));
        assert!(text.contains(pad), "frame {n} lost part of its text");
        out.push(n);
    }
    out
}

/// A direct write that the socket cuts inside a character of more than one
/// byte: the task writes the rest of the frame byte for byte, every frame
/// arrives once, whole and in order, and the link keeps working.
#[test]
fn a_write_cut_inside_a_character_is_finished_by_the_task() {
    let (kernel, _outbox) = batch::kernel(Box::new(|| {})).expect("the network runtime");
    // Characters of 2, 3 and 4 bytes: most places a write can stop are inside one.
    let pad: String = "\u{e9}\u{20ac}\u{1F600}".repeat(6000);
    for round in 0..4 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = peer_to(&kernel, port);
        let (mut socket, _) = listener.accept().unwrap();
        wait_for("the link", || peer.state.connected.load(Ordering::Acquire));
        // The lane opens once the task is idle on the new link.
        let cfg = kernel.shared().config();
        let mut sent = 0u64;
        let handoffs = || peer.state.handoffs.load(Ordering::Relaxed);
        let direct = || peer.state.direct.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        // One frame at a time until one is written directly: the task is
        // idle then, and a flood stays on the lane until the socket is full.
        while direct() == 0 {
            assert!(Instant::now() < deadline, "the lane never opened");
            let line = format!("m{{\"n\":{sent},\"pad\":\"{pad}\"}}");
            assert!(peer.send_bodies(line, cfg.clone(), true), "the peer task is alive");
            sent += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        while handoffs() == 0 || sent < 8 {
            assert!(Instant::now() < deadline, "no direct write was ever cut short");
            let line = format!("m{{\"n\":{sent},\"pad\":\"{pad}\"}}");
            assert!(peer.send_bodies(line, cfg.clone(), true), "the peer task is alive");
            sent += 1;
        }
        // Read everything, then one more frame proves the link still works.
        let mut got = Vec::new();
        socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut numbers = Vec::new();
        let mut asked_again = false;
        let deadline = Instant::now() + Duration::from_secs(20);
        while numbers.len() as u64 <= sent {
            assert!(Instant::now() < deadline, "round {round}: {} of {} frames", numbers.len(), sent + 1);
            match socket.read(&mut buf) {
                Ok(0) => panic!("round {round}: the link closed"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
            if got.last() == Some(&0x0C) {
                numbers = frame_numbers(&got, &pad);
            }
            if numbers.len() as u64 == sent && !asked_again {
                let line = format!("m{{\"n\":{sent},\"pad\":\"{pad}\"}}");
                assert!(peer.send_bodies(line, cfg.clone(), true), "round {round}: the peer task is alive");
                asked_again = true;
            }
        }
        assert_eq!(numbers, (0..=sent).collect::<Vec<_>>(), "round {round}: every frame once, in order");
        assert!(peer.state.connected.load(Ordering::Acquire));
        peer.send(clusterluck_native::internals::peer::Command::Stop { force: true });
    }
}
