//! The listener and inbound connections, driven without Node: restarts on
//! the same port, and the receive side's memory limit under bad input.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use clusterluck_native::kernel::{Kernel, DEFAULT_HIGH_WATER};

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Waits for the READY (8) or LISTEN_ERROR (9) entry of `generation`.
fn listen_result(kernel: &Kernel, generation: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = kernel.shared().outbox.take().text;
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
    let kernel = Kernel::new(Box::new(|| {})).expect("the network runtime");
    let port = free_port();
    for i in 0..150 {
        // Sometimes the first listener has bound already, sometimes not yet.
        kernel.listen("127.0.0.1".into(), port, None);
        if i % 2 == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
        let generation = kernel.listen("127.0.0.1".into(), port, None);
        let result = listen_result(&kernel, generation);
        assert!(result.starts_with("[8,"), "restart {i}: {result}");
    }
    kernel.close();
}

/// Empty frames cost a byte each on the wire and a skip entry of about a
/// hundred bytes each for JS: a reader must stop at the outbox's limit even
/// in the middle of one read.
#[test]
fn skips_of_one_read_respect_the_outbox_limit() {
    let kernel = Kernel::new(Box::new(|| {})).expect("the network runtime");
    let port = free_port();
    let generation = kernel.listen("127.0.0.1".into(), port, None);
    assert!(listen_result(&kernel, generation).starts_with("[8,"));
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let writer = std::thread::spawn(move || {
        // About 100 MB of skip entries if nothing held the reader back.
        let feeds = vec![0x0Cu8; 1024 * 1024];
        let _ = socket.write_all(&feeds);
        socket
    });
    let outbox = &kernel.shared().outbox;
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
