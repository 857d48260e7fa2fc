//! The Rust library's own row of the bench: two Rust nodes in two processes
//! (each on its own multi-thread tokio runtime, as two services run), over
//! loopback with the cookie on, running the bench's scenarios through the
//! public API: ping round trips, callSingleton with 200 in flight, a
//! sustained cast, and a call with an 8 MiB stream of 64 KiB Buffers.
//! Prints one JSON line.
//!
//! The responder is this program again, started with `--serve`: it
//! connects to the driver's port, prints `{"port":N}`, counts the casts and
//! casts "done" back when it has them all, and ends when its stdin closes.
//! In one process the two nodes would share one runtime's workers and the
//! sender would compete with the receiver for them, which is neither how
//! services are run nor how the ceiling (a thread each) is measured.
//!
//!   cargo run --release --example rust_bench -- [--quick] [--cast-only]
//!
//! `--cast-only` runs the cast scenario alone (for a profiler).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
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

async fn cast(a: &Node, all: &Notify, n: u64) -> Result<f64, NodeError> {
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

/// The responder: serves until its stdin closes.
async fn serve(driver_port: u16, cast_n: u64) -> Result<(), NodeError> {
    let got = Arc::new(AtomicU64::new(0));
    let resp = Node::builder("resp", "127.0.0.1", 0)
        .cookie(COOKIE)
        .on("echo", |m| {
            let _ = m.reply(m.data.clone().into_data());
        })
        .on("cast", move |m| {
            if got.fetch_add(1, Ordering::Relaxed) + 1 == cast_n {
                let node = m.node().clone();
                tokio::spawn(async move { node.cast("driver", "done", Data::null()).await });
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
    resp.connect(&clusterluck_native::NodeAddr::new("driver", "127.0.0.1", driver_port)).await?;
    println!("{}", json!({ "port": resp.addr().port }));
    // Ends when the driver closes our stdin (or goes away).
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    })
    .await
    .map_err(|_| NodeError::Closed)?;
    resp.shutdown().await;
    Ok(())
}

fn arg(name: &str) -> Option<String> {
    let mut it = std::env::args().skip_while(|a| a != name);
    it.next()?;
    it.next()
}

#[tokio::main]
async fn main() -> Result<(), NodeError> {
    let quick = std::env::args().any(|a| a == "--quick");
    let cast_n: u64 = if quick { 1000 } else { 200_000 };
    if std::env::args().any(|a| a == "--serve") {
        let port = arg("--serve").and_then(|p| p.parse().ok()).ok_or_else(|| NodeError::InvalidArgument("--serve PORT".into()))?;
        return serve(port, cast_n).await;
    }
    let all = Arc::new(Notify::new());
    let al = all.clone();
    let a = Node::builder("driver", "127.0.0.1", 0)
        .cookie(COOKIE)
        .on("done", move |_| al.notify_one())
        .start()
        .await?;
    let bad = |e: std::io::Error| NodeError::InvalidArgument(format!("the responder: {e}"));
    let exe = std::env::current_exe().map_err(bad)?;
    let mut child = Command::new(exe)
        .args(["--serve", &a.addr().port.to_string()])
        .args(if quick { &["--quick"][..] } else { &[][..] })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(bad)?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or(NodeError::Closed)?).read_line(&mut line).map_err(bad)?;
    let port = serde_json::from_str::<serde_json::Value>(&line).ok().and_then(|v| v["port"].as_u64()).ok_or(NodeError::Closed)?;
    a.connect(&clusterluck_native::NodeAddr::new("resp", "127.0.0.1", port as u16)).await?;

    if std::env::args().any(|a| a == "--cast-only") {
        let cast = cast(&a, &all, cast_n).await?;
        println!("{}", json!({ "castMsgsPerSec": cast }));
        a.shutdown().await;
        drop(child.stdin.take());
        let _ = child.wait();
        return Ok(());
    }
    let (pn, pw, cn, sb, calls) = if quick { (100, 20, 1000, 1 << 20, 1) } else { (2000, 300, 20_000, 8 << 20, 3) };
    let ping_us = ping(&a, pn, pw).await?;
    let call_par = call_par(&a, cn, 200).await?;
    let cast = cast(&a, &all, cast_n).await?;
    let stream = stream(&a, sb, 64 * 1024, calls).await?;
    println!("{}", json!({ "pingUs": ping_us, "callParOpsPerSec": call_par, "castMsgsPerSec": cast, "streamMibPerSec": stream }));
    a.shutdown().await;
    drop(child.stdin.take());
    let _ = child.wait();
    Ok(())
}
