//! The Rust library's own row of the bench: two Rust nodes in one process
//! (on one tokio runtime), over loopback with the cookie on, running the
//! bench's scenarios through the public API: ping round trips, callSingleton
//! with 200 in flight, a sustained cast, and a call with an 8 MiB stream of
//! 64 KiB Buffers. Prints one JSON line.
//!
//!   cargo run --release --example rust_bench -- [--quick]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterluck_native::{Data, Node, NodeError};
use serde_json::json;
use tokio::sync::Notify;

const COOKIE: &str = "bench-cookie";
const T: Option<Duration> = Some(Duration::from_secs(60));

fn small() -> Data {
    // The bench's small object: {a:1,b:"hello",c:[1,2,3]}.
    Data::json(&json!({"a": 1, "b": "hello", "c": [1, 2, 3]})).expect("small")
}

async fn ping(a: &Node, n: usize, warm: usize) -> Result<f64, NodeError> {
    for _ in 0..warm {
        a.ping("resp", T).await?;
    }
    let mut us = Vec::with_capacity(n);
    for _ in 0..n {
        us.push(a.ping("resp", T).await?.as_secs_f64() * 1e6);
    }
    us.sort_by(|x, y| x.total_cmp(y));
    Ok(us[us.len() / 2])
}

async fn call_par(a: &Node, n: usize, inflight: usize) -> Result<f64, NodeError> {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..inflight)
        .map(|_| {
            let (a, next) = (a.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n as u64 {
                    a.call_singleton("resp", "echo", small(), T).await?;
                }
                Ok::<(), NodeError>(())
            })
        })
        .collect();
    for w in workers {
        w.await.map_err(|_| NodeError::Closed)??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn cast(a: &Node, got: &AtomicU64, all: &Notify, n: u64) -> Result<f64, NodeError> {
    got.store(0, Ordering::SeqCst);
    let data = small();
    let started = Instant::now();
    let done = all.notified();
    tokio::pin!(done);
    done.as_mut().enable();
    for i in 0..n {
        a.cast("resp", "cast", data.clone()).await?;
        if i % 1024 == 0 {
            tokio::task::yield_now().await;
        }
    }
    tokio::time::timeout(Duration::from_secs(120), done).await.map_err(|_| NodeError::Timeout)?;
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn stream(a: &Node, bytes: usize, chunk: usize, calls: usize) -> Result<f64, NodeError> {
    let piece = vec![7u8; chunk];
    let started = Instant::now();
    for _ in 0..calls {
        let (mut w, mut reply) = a.call_stream("resp", "size", T).await?;
        let mut sent = 0;
        while sent < bytes {
            let n = chunk.min(bytes - sent);
            w.send(piece[..n].to_vec()).await?;
            sent += n;
        }
        w.end()?;
        let got: u64 = reply.next().await.ok_or(NodeError::Closed)??.json()?;
        if got != bytes as u64 {
            return Err(NodeError::InvalidArgument(format!("size {got} for {bytes}")));
        }
    }
    Ok((bytes * calls) as f64 / (1024.0 * 1024.0) / started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> Result<(), NodeError> {
    let quick = std::env::args().any(|a| a == "--quick");
    let got = Arc::new(AtomicU64::new(0));
    let all = Arc::new(Notify::new());
    let cast_n: u64 = if quick { 1000 } else { 200_000 };
    let (g, al) = (got.clone(), all.clone());
    let resp = Node::builder("resp", "127.0.0.1", 0)
        .cookie(COOKIE)
        .on("echo", |m| {
            let _ = m.reply(m.data.clone().into_data());
        })
        .on("cast", move |_| {
            if g.fetch_add(1, Ordering::Relaxed) + 1 == cast_n {
                al.notify_one();
            }
        })
        .on("size", |mut m| {
            if let Some(mut chunks) = m.take_chunks() {
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while let Some(Ok(c)) = chunks.next().await {
                        n += c.bytes().map_or(0, |b| b.len() as u64);
                    }
                    let _ = m.reply_json(&n);
                });
            }
        })
        .start()
        .await?;
    let a = Node::builder("driver", "127.0.0.1", 0).cookie(COOKIE).start().await?;
    a.connect(&resp.addr()).await?;
    resp.connect(&a.addr()).await?;

    let (pn, pw, cn, sb, calls) = if quick { (100, 20, 1000, 1 << 20, 1) } else { (2000, 300, 20_000, 8 << 20, 3) };
    let ping_us = ping(&a, pn, pw).await?;
    let call_par = call_par(&a, cn, 200).await?;
    let cast = cast(&a, &got, &all, cast_n).await?;
    let stream = stream(&a, sb, 64 * 1024, calls).await?;
    println!("{}", json!({ "pingUs": ping_us, "callParOpsPerSec": call_par, "castMsgsPerSec": cast, "streamMibPerSec": stream }));
    a.shutdown().await;
    resp.shutdown().await;
    Ok(())
}
