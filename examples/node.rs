//! A Rust node of a clusterluck cluster, runnable on its own: it speaks the
//! JS kernel's wire, so JS kernels and addon nodes can call it and it can
//! call them.
//!
//!   cargo run --release --example node -- --id ID --port PORT
//!       [--host 127.0.0.1] [--cookie C] [--peer ID@HOST:PORT]... [--probe]
//!       [--tls-key FILE --tls-cert FILE [--tls-ca FILE]...]
//!
//! It listens, connects to every `--peer`, and prints `ready` once
//! listening. It answers `echo` (the data back as it came), `sum` (a Buffer
//! or a stream of Buffers: `{"len":..,"sum":..}`, the byte sum mod 2^32),
//! `count` (a cast: counted) and `counted` (`{"counted":n}`), and runs a
//! GenServer `rust_gs` whose `echo` event replies with its data. As every
//! Rust node, it answers `clusterluck-native top` (the library answers the
//! observer's request), and shows in that view as a node of kind rust.
//!
//! With `--probe` it checks each peer once that peer answers a ping (for up
//! to 30 s) and prints one JSON line per peer: the ping's round trip, an
//! echo of awkward JSON, an echo of a 2 MiB Buffer, the sum of a 4 MiB
//! stream, and the count after 1000 casts. It stops cleanly on SIGINT or
//! SIGTERM, closing every link gracefully. With the `--tls-*` files (PEM, as
//! node-ipc's `private`, `public` and `trustedConnections`) it listens and
//! dials over TLS, asking peers for their certificate (mutual TLS).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterluck_native::gen_server::GenServer;
use clusterluck_native::{Data, Node, NodeAddr, NodeError, TlsOptions};
use serde_json::json;

/// The JSON the probe has a peer echo: non-ASCII, U+2028, V8 number forms,
/// an integer-like key (written first by JS), a nested null.
const PROBE_JSON: &str = r#"{"s":"héllo \u2028","n":[1,2.5,1e21,-0,5e-324],"1":"int key","a":{"b":null}}"#;
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

struct Args {
    id: String,
    host: String,
    port: u16,
    cookie: Option<String>,
    peers: Vec<NodeAddr>,
    probe: bool,
    tls: Option<TlsOptions>,
}

fn parse_args() -> Result<Args, String> {
    let (mut id, mut port) = (None, None);
    let mut a = Args { id: String::new(), host: "127.0.0.1".into(), port: 0, cookie: None, peers: Vec::new(), probe: false, tls: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--id" => id = Some(value()?),
            "--port" => port = Some(value()?.parse::<u16>().map_err(|e| format!("--port: {e}"))?),
            "--host" => a.host = value()?,
            "--cookie" => a.cookie = Some(value()?),
            "--peer" => a.peers.push(value()?.parse().map_err(|e: NodeError| format!("--peer: {e}"))?),
            "--probe" => a.probe = true,
            "--tls-key" => a.tls.get_or_insert_with(mutual_tls).private = Some(value()?),
            "--tls-cert" => a.tls.get_or_insert_with(mutual_tls).public = Some(value()?),
            "--tls-ca" => {
                let ca = value()?;
                a.tls.get_or_insert_with(mutual_tls).trusted.push(ca);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    a.id = id.ok_or("--id is required")?;
    a.port = port.ok_or("--port is required")?;
    Ok(a)
}

/// TLS that checks peers' certificates both ways.
fn mutual_tls() -> TlsOptions {
    TlsOptions { reject_unauthorized: Some(true), request_cert: Some(true), ..TlsOptions::default() }
}

/// Length and byte sum (mod 2^32) of some bytes, added to `acc`.
fn add_sum(acc: (u64, u32), bytes: &[u8]) -> (u64, u32) {
    (acc.0 + bytes.len() as u64, bytes.iter().fold(acc.1, |s, &b| s.wrapping_add(b as u32)))
}

fn serve(node: &Node, counter: Arc<AtomicU64>) {
    node.on("echo", |m| {
        let data = m.data.clone().into_data();
        let _ = m.reply(data);
    });
    node.on("sum", |mut m| match m.take_chunks() {
        None => {
            let (len, sum) = add_sum((0, 0), m.data.bytes().unwrap_or_default());
            let _ = m.reply_json(&json!({ "len": len, "sum": sum }));
        }
        Some(mut chunks) => {
            tokio::spawn(async move {
                let mut acc = (0, 0);
                while let Some(chunk) = chunks.next().await {
                    match chunk {
                        Ok(p) => acc = add_sum(acc, p.bytes().unwrap_or_default()),
                        Err(e) => {
                            let _ = m.reply_error(&e.to_string());
                            return;
                        }
                    }
                }
                let _ = m.reply_json(&json!({ "len": acc.0, "sum": acc.1 }));
            });
        }
    });
    let count = counter.clone();
    node.on("count", move |_| {
        count.fetch_add(1, Ordering::Relaxed);
    });
    node.on("counted", move |m| {
        let _ = m.reply_json(&json!({ "counted": counter.load(Ordering::Relaxed) }));
    });
    GenServer::new("rust_gs")
        .on("echo", |req| {
            let data = req.data.clone().into_data();
            let _ = req.reply(data);
        })
        .start(node);
}

/// Checks one peer, once it answers a ping, and returns the JSON line.
async fn probe(node: &Node, peer: &NodeAddr) -> serde_json::Value {
    let started = Instant::now();
    let ping_us = loop {
        match node.ping(&peer.id, Some(Duration::from_secs(1))).await {
            Ok(rtt) => break Some(rtt.as_micros() as u64),
            Err(_) if started.elapsed() < Duration::from_secs(30) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(_) => break None,
        }
    };
    let Some(ping_us) = ping_us else {
        return json!({ "peer": peer.id, "ping_us": null, "echo": false, "buffer_echo": false, "stream_sum": false, "counted": 0 });
    };

    let sent = Data::json_text(PROBE_JSON).expect("the probe's JSON");
    let echo = match (&sent, node.call_singleton(&peer.id, "echo", sent.clone(), Some(CALL_TIMEOUT)).await) {
        (Data::Json(want), Ok(got)) => got.json_text() == Some(want.as_str()),
        _ => false,
    };

    let big: Vec<u8> = (0..2 * 1024 * 1024).map(|i: u32| (i.wrapping_mul(7) % 251) as u8).collect();
    let buffer_echo = match node.call_singleton(&peer.id, "echo", Data::Bytes(big.clone()), Some(CALL_TIMEOUT)).await {
        Ok(got) => got.bytes() == Some(&big[..]),
        Err(_) => false,
    };

    let stream_sum = async {
        let (mut writer, mut reply) = node.call_stream(&peer.id, "sum", Some(CALL_TIMEOUT)).await?;
        let mut want = (0, 0);
        for i in 0..64u32 {
            let chunk: Vec<u8> = (0..64 * 1024u32).map(|j| (i.wrapping_add(j) % 256) as u8).collect();
            want = add_sum(want, &chunk);
            writer.send(chunk).await?;
        }
        writer.end()?;
        let got: serde_json::Value = match reply.next().await {
            Some(Ok(p)) => p.json()?,
            Some(Err(e)) => return Err(e),
            None => return Ok(false),
        };
        Ok::<bool, NodeError>(got == json!({ "len": want.0, "sum": want.1 }))
    }
    .await
    .unwrap_or(false);

    for i in 0..1000 {
        let _ = node.cast(&peer.id, "count", Data::json(&i).expect("a number")).await;
    }
    let counted = match node.call_singleton(&peer.id, "counted", Data::null(), Some(CALL_TIMEOUT)).await {
        Ok(p) => p.json::<serde_json::Value>().ok().and_then(|v| v["counted"].as_u64()).unwrap_or(0),
        Err(_) => 0,
    };
    json!({ "peer": peer.id, "ping_us": ping_us, "echo": echo, "buffer_echo": buffer_echo, "stream_sum": stream_sum, "counted": counted })
}

async fn stopped() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("node: {e}");
            std::process::exit(2);
        }
    };
    // Peers may start after this node: connect waits for them as long as it
    // takes, as the JS kernel's does.
    let mut builder = Node::builder(&args.id, &args.host, args.port).retry(Duration::from_millis(500)).connect_timeout(None);
    if let Some(c) = &args.cookie {
        builder = builder.cookie(c);
    }
    if let Some(tls) = &args.tls {
        builder = builder.tls(tls.clone());
    }
    let node = match builder.start().await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("node: {e}");
            std::process::exit(1);
        }
    };
    serve(&node, Arc::new(AtomicU64::new(0)));
    println!("ready");

    for peer in args.peers.clone() {
        let node = node.clone();
        let probe_it = args.probe;
        tokio::spawn(async move {
            if node.connect(&peer).await.is_err() {
                return;
            }
            if probe_it {
                let line = probe(&node, &peer).await;
                println!("{line}");
            }
        });
    }

    stopped().await;
    node.shutdown().await;
}
