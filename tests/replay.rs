//! What a link held when its node was declared down is written again on the
//! next link: nothing is lost, and the receiver can keep the order.
//!
//! The receiver here is raw sockets, so the test sees each connection's
//! bytes: a node that stops reading (its buffers fill, our socket holds
//! the rest, unacknowledged) and stays silent is declared down after the
//! tick time. Its old connection is then reset, losing what the sender's
//! system still held for it, as a long partition does; the new connection
//! must begin at or before the first cast the node had not acknowledged,
//! and bring every cast after it, in order.

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
    clusterluck_native::frame::encode_frame(&mut out, "message", &data);
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
async fn what_a_link_held_at_a_tick_timeout_is_written_again_first() {
    let tick = Duration::from_millis(400);
    let sender = Node::builder("s", "127.0.0.1", 0)
        .retry(Duration::from_millis(50))
        .net_tick_time(Some(tick))
        .max_queue_bytes(512 * 1024 * 1024)
        .max_len(1_000_000)
        .start()
        .await
        .unwrap();
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

    // Far more than the sockets' buffers hold: the rest waits with the sender.
    let pad = "x".repeat(1000);
    let n: u64 = 30_000;
    for q in 0..n {
        sender.cast("r", "order", Data::json(&serde_json::json!({"q": q, "pad": pad})).unwrap()).unwrap();
    }
    // r reads nothing and says nothing: after the tick time it is declared
    // down, and the sender dials again.
    let (mut new, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
        .await
        .expect("the sender never dialled again")
        .unwrap();
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
    let acked = seqs(&peeked[..held]);
    drop(peeked);
    socket2::SockRef::from(&old).set_linger(Some(Duration::ZERO)).unwrap();
    drop(old);
    let new_bytes = read_to_end(&mut new, Duration::from_secs(3)).await;
    let new_seqs = seqs(&new_bytes);
    talk.abort();

    assert!(!acked.is_empty(), "the old connection held nothing");
    assert!(acked.windows(2).all(|w| w[1] == w[0] + 1), "the old connection is out of order");
    assert_eq!(acked[0], 0);
    let resumed = *new_seqs.first().expect("the new connection delivered nothing");
    let last_acked = *acked.last().unwrap();
    eprintln!("old connection: seqs 0..={last_acked} acknowledged; new connection: {} casts from {resumed}", new_seqs.len());
    // The new connection begins with what the node had not acknowledged:
    // at or before the seq after the last one it holds.
    assert!(
        resumed <= last_acked + 1,
        "lost {} casts between the connections (the old one's acknowledged part ended at {last_acked}, the new one began at {resumed})",
        resumed - last_acked - 1
    );
    assert!(new_seqs.windows(2).all(|w| w[1] == w[0] + 1), "the new connection is out of order");
    assert_eq!(*new_seqs.last().unwrap(), n - 1, "not every cast arrived");
    // Keep-alive pings of the old link are not written again.
    assert!(!String::from_utf8_lossy(&new_bytes[..new_bytes.len().min(4096)]).contains("\"type\":\"ping\""));
    sender.shutdown().await;
}
