//! A node declared down keeps its link; when a link really ends, what it
//! wrote and the node's system never acknowledged is written again, first,
//! on the next link: exactly that, so nothing is lost and nothing arrives
//! twice.
//!
//! The receiver here is raw sockets, so the test sees each connection's
//! bytes: a node that stops reading (its buffers fill, our socket holds
//! the rest, unacknowledged) and stays silent is declared down after the
//! tick time, and its link is kept (no new connection). Then it resets
//! the connection, which discards what the sender's system still held for
//! it (as a node killed with unread data does); the new connection must
//! begin with the first cast it had not received whole, and bring every
//! cast after it, in order.

use std::time::Duration;

use clusterluck_native::{Data, Node, NodeAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The seqs of the "order" casts in `bytes`, in order.
fn seqs(bytes: &[u8]) -> Vec<u64> {
    let text = String::from_utf8_lossy(bytes);
    text.split("{\"q\":")
        .skip(1)
        .filter_map(|rest| rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())].parse().ok())
        .collect()
}

/// A cast from node `r` (so that the sender knows `r` holds a link to it).
fn cast_from_r(port: u16) -> Vec<u8> {
    let data = format!(
        "{{\"id\":\"hello\",\"tag\":null,\"from\":{{\"id\":\"r\",\"host\":\"127.0.0.1\",\"port\":{port}}},\"stream\":{{\"done\":true}},\"data\":1}}"
    );
    let mut out = Vec::new();
    clusterluck_native::internals::frame::encode_frame(&mut out, "message", &data);
    out
}

/// Everything a connection brings until it ends (or `quiet` passes with
/// nothing).
async fn read_to_end(socket: &mut TcpStream, quiet: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(quiet, socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_link_held_when_it_ended_is_written_again_first_and_only_that() {
    let tick = Duration::from_millis(400);
    let downs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sender = Node::builder("s", "127.0.0.1", 0)
        .retry(Duration::from_millis(50))
        .net_tick_time(Some(tick))
        .max_queue_bytes(512 * 1024 * 1024)
        .high_water_mark(256 * 1024 * 1024)
        .max_len(1_000_000)
        .start()
        .await
        .unwrap();
    let d = downs.clone();
    sender.on_node_down(move |n, why| d.lock().unwrap().push((n.id.clone(), why.to_string())));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let r_port = listener.local_addr().unwrap().port();

    // r's link to the sender: one message, then silence (r is "hung").
    let mut r_link = TcpStream::connect(("127.0.0.1", sender.addr().port)).await.unwrap();
    r_link.write_all(&cast_from_r(r_port)).await.unwrap();

    let connecting = {
        let sender = sender.clone();
        tokio::spawn(async move { sender.connect(&NodeAddr::new("r", "127.0.0.1", r_port)).await })
    };
    let (old, _) = listener.accept().await.unwrap();
    connecting.await.unwrap().unwrap();
    // Something from r after the link came up: r is up.
    r_link.write_all(&cast_from_r(r_port)).await.unwrap();

    // Far more than the sockets' buffers hold: the rest waits with the sender.
    let pad = "x".repeat(1000);
    let n: u64 = 30_000;
    for q in 0..n {
        sender.cast("r", "order", Data::json(&serde_json::json!({"q": q, "pad": pad})).unwrap()).await.unwrap();
    }
    // r reads nothing and says nothing: after the tick time it is declared
    // down, and the link is kept: no new connection.
    assert!(tokio::time::timeout(tick * 4, listener.accept()).await.is_err(), "the sender dialled again");

    // r is alive again: it talks, so the new link stays up.
    let talk = tokio::spawn(async move {
        loop {
            if r_link.write_all(&cast_from_r(r_port)).await.is_err() {
                return;
            }
            tokio::time::sleep(tick / 8).await;
        }
    });

    // What r's system acknowledged on the old connection is in its
    // buffer: look without taking it (the window stays shut), then reset
    // the connection, which discards everything the sender's system still
    // held for it, as a partition that outlasts the sender's retries does.
    let mut peeked = vec![0u8; 64 * 1024 * 1024];
    let held = old.peek(&mut peeked).await.unwrap();
    // The casts it holds whole (the last frame may be cut).
    let whole = peeked[..held].iter().rposition(|&b| b == 0x0C).map_or(0, |i| i + 1);
    let acked = seqs(&peeked[..whole]);
    drop(peeked);
    let reset_at = clusterluck_native::internals::health::now_us();
    socket2::SockRef::from(&old).set_linger(Some(Duration::ZERO)).unwrap();
    drop(old);
    let (mut new, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
        .await
        .expect("the sender never dialled again after the reset")
        .unwrap();
    let new_bytes = read_to_end(&mut new, Duration::from_secs(3)).await;
    let new_seqs = seqs(&new_bytes);
    talk.abort();

    assert!(!acked.is_empty(), "the old connection held nothing");
    assert!(acked.windows(2).all(|w| w[1] == w[0] + 1), "the old connection is out of order");
    assert_eq!(acked[0], 0);
    let resumed = *new_seqs.first().expect("the new connection delivered nothing");
    let last_acked = *acked.last().unwrap();
    eprintln!("old connection: seqs 0..={last_acked} acknowledged; new connection: {} casts from {resumed}", new_seqs.len());
    // The new connection begins with the first cast the node did not hold
    // whole: nothing lost, nothing twice.
    assert_eq!(
        resumed,
        last_acked + 1,
        "the old connection's acknowledged part ended at {last_acked}, the new one began at {resumed}"
    );
    assert!(
        downs.lock().unwrap().iter().any(|(id, why)| id == "r" && why == "tick timeout"),
        "r was declared down while it did not read: {:?}",
        downs.lock().unwrap()
    );
    assert!(new_seqs.windows(2).all(|w| w[1] == w[0] + 1), "the new connection is out of order");
    assert_eq!(*new_seqs.last().unwrap(), n - 1, "not every cast arrived");
    // Keep-alive pings of the old link are not written again: every ping
    // on the new connection was stamped after the reset.
    let text = String::from_utf8_lossy(&new_bytes);
    for stamp in text.split("__clusterluck_native_tick:").skip(1) {
        let stamp: u64 = stamp[..stamp.find('"').unwrap_or(0)].parse().expect("a ping's stamp");
        assert!(stamp >= reset_at, "a keep-alive ping of the old link (stamped {stamp}, reset at {reset_at}) was written again");
    }
    sender.shutdown().await;
}
