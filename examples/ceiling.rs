//! The ceiling of the bench: small-object casts with HMAC between a Rust-only
//! client and server over loopback, with this crate's own framing, envelope
//! and cookie code and no Node at all.
//!
//! The client encodes each cast as the addon's peer task does (the envelope
//! as the JS layer serialises it, signed and framed by
//! `envelope::encode_bodies`) and writes frames in batches. The server reassembles frames with `frame::FrameDecoder`, decodes
//! and verifies each with `envelope::decode` and counts them; when it has them
//! all it writes one byte back. A round is timed on the client, from the first
//! encode to that byte. Client and server each run on their own thread (a
//! current-thread tokio runtime each), i.e. one core apiece on a 2-core box.
//!
//!   cargo run --release --example ceiling -- [--count N] [--rounds R]
//!       [--batch B] [--cookie SECRET | --no-cookie] [--json]
//!
//! With `--echo` it is instead the Rust end of the bench's transport floor:
//! a blocking echo server on a loopback port (printed as `{"port":N}`) for
//! one client, that exits when the client leaves.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clusterluck_native::internals::cookie::Cookie;
use clusterluck_native::internals::envelope::{self, Inbound};
use clusterluck_native::internals::frame::{Decoded, FrameDecoder, DEFAULT_MAX_FRAME};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the Node scenarios cast: `{a:1,b:"hello",c:[1,2,3]}`, as JSON.stringify writes it.
const SMALL: &str = r#"{"a":1,"b":"hello","c":[1,2,3]}"#;
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);

type Res<T> = Result<T, String>;

struct Args {
    count: u64,
    rounds: usize,
    batch: u64,
    cookie: Option<String>,
    json: bool,
}

fn parse_args() -> Res<Args> {
    let mut a = Args { count: 200_000, rounds: 5, batch: 256, cookie: Some("bench-cookie".into()), json: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--count" => a.count = value("--count")?.parse().map_err(|e| format!("--count: {e}"))?,
            "--rounds" => a.rounds = value("--rounds")?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--batch" => a.batch = value("--batch")?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--cookie" => a.cookie = Some(value("--cookie")?),
            "--no-cookie" => a.cookie = None,
            "--json" => a.json = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    a.count = a.count.max(1);
    a.rounds = a.rounds.max(1);
    a.batch = a.batch.max(1);
    Ok(a)
}

fn io(e: std::io::Error) -> String {
    e.to_string()
}

/// One cast as the JS layer hands it over: frame type, then the envelope.
fn cast_line(from: &str) -> String {
    format!("m{{\"id\":\"cast\",\"tag\":null,\"from\":{from},\"stream\":{{\"done\":true}},\"data\":{SMALL}}}\n")
}

/// Appends the frames of a batch of cast lines, as the addon's peer task does.
fn encode_casts(out: &mut String, cookie: Option<&Cookie>, lines: &str) -> Res<()> {
    let mut ends = Vec::new();
    match envelope::encode_bodies(out, cookie, lines, &mut ends) {
        0 => Ok(()),
        _ => Err("a cast envelope was refused".to_string()),
    }
}

/// Accepts one connection and counts valid casts until `expected` arrived.
async fn serve(listener: TcpListener, cookie: Option<Cookie>, expected: u64) -> Res<u64> {
    let (mut sock, _) = listener.accept().await.map_err(io)?;
    sock.set_nodelay(true).map_err(io)?;
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME);
    let mut buf = vec![0u8; 64 * 1024];
    let (mut good, mut bad) = (0u64, 0u64);
    while good + bad < expected {
        let n = sock.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            return Err(format!("the client closed after {good} of {expected} frames"));
        }
        decoder.push(&buf[..n]);
        while let Some(frame) = decoder.next_frame() {
            let ok = match frame {
                Decoded::Frame(bytes) => std::str::from_utf8(bytes)
                    .is_ok_and(|text| matches!(envelope::decode(text, cookie.as_ref()), Ok(Inbound::Message(_)))),
                Decoded::TooLarge { .. } => false,
            };
            if ok {
                good += 1;
            } else {
                bad += 1;
            }
        }
    }
    sock.write_all(&[1]).await.map_err(io)?;
    if bad > 0 {
        return Err(format!("{bad} frames failed to decode or verify"));
    }
    Ok(good)
}

/// Sends `count` casts in batches of `batch` frames; seconds until the ack.
async fn send(addr: SocketAddr, cookie: Option<Cookie>, count: u64, batch: u64) -> Res<f64> {
    let mut sock = TcpStream::connect(addr).await.map_err(io)?;
    sock.set_nodelay(true).map_err(io)?;
    let line = cast_line(&envelope::from_json("ceiling-client", &addr.ip().to_string(), 0.0));
    let mut out = String::new();
    let mut lines = String::new();
    let t0 = Instant::now();
    let mut sent = 0;
    while sent < count {
        out.clear();
        lines.clear();
        let n = batch.min(count - sent);
        // JS builds this text on its own thread; here it is part of the round.
        for _ in 0..n {
            lines.push_str(&line);
        }
        encode_casts(&mut out, cookie.as_ref(), &lines)?;
        sock.write_all(out.as_bytes()).await.map_err(io)?;
        sent += n;
    }
    let mut ack = [0u8; 1];
    sock.read_exact(&mut ack).await.map_err(io)?;
    Ok(t0.elapsed().as_secs_f64())
}

fn current_thread() -> Res<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io)
}

/// One round: a server thread and the client on this thread. Messages/s.
fn round(client_rt: &tokio::runtime::Runtime, args: &Args) -> Res<f64> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let cookie = args.cookie.as_deref().map(Cookie::new);
    let server_cookie = cookie.clone();
    let expected = args.count;
    let server = std::thread::spawn(move || -> Res<u64> {
        let rt = current_thread()?;
        rt.block_on(async move {
            let listener = TcpListener::from_std(listener).map_err(io)?;
            tokio::time::timeout(ROUND_TIMEOUT, serve(listener, server_cookie, expected))
                .await
                .map_err(|_| "the server timed out".to_string())?
        })
    });
    let sent = client_rt.block_on(async {
        tokio::time::timeout(ROUND_TIMEOUT, send(addr, cookie, args.count, args.batch))
            .await
            .map_err(|_| "the client timed out".to_string())?
    });
    let counted = server.join().map_err(|_| "the server thread panicked".to_string())?;
    let secs = sent?;
    let counted = counted?;
    if counted != args.count {
        return Err(format!("counted {counted} of {}", args.count));
    }
    Ok(args.count as f64 / secs)
}

fn median(values: &[f64]) -> f64 {
    let mut s = values.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let mid = s.len() / 2;
    if s.len() % 2 == 1 {
        s[mid]
    } else {
        (s[mid - 1] + s[mid]) / 2.0
    }
}

fn run() -> Res<()> {
    let args = parse_args()?;
    let mut sample = String::new();
    let cookie = args.cookie.as_deref().map(Cookie::new);
    encode_casts(&mut sample, cookie.as_ref(), &cast_line(&envelope::from_json("ceiling-client", "127.0.0.1", 0.0)))?;
    println!(
        "ceiling: {} casts per round, {} rounds, {} frames per write, {} bytes per frame, cookie {}",
        args.count,
        args.rounds,
        args.batch,
        sample.len(),
        if args.cookie.is_some() { "on" } else { "off" }
    );
    let client_rt = current_thread()?;
    let mut rates = Vec::with_capacity(args.rounds);
    for i in 0..args.rounds {
        let rate = round(&client_rt, &args)?;
        println!("round {}: {:.0} msgs/s", i + 1, rate);
        rates.push(rate);
    }
    let med = median(&rates);
    println!("median: {med:.0} msgs/s");
    if args.json {
        let list: Vec<String> = rates.iter().map(|r| format!("{r:.1}")).collect();
        println!(
            "{{\"median\":{med:.1},\"rounds\":[{}],\"count\":{},\"batch\":{},\"frameBytes\":{},\"cookie\":{}}}",
            list.join(","),
            args.count,
            args.batch,
            sample.len(),
            args.cookie.is_some()
        );
    }
    Ok(())
}

/// Echoes one client's bytes back as they come, on plain blocking sockets.
fn echo() -> Res<()> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(io)?;
    println!("{{\"port\":{}}}", listener.local_addr().map_err(io)?.port());
    std::io::stdout().flush().map_err(io)?;
    let (mut sock, _) = listener.accept().map_err(io)?;
    sock.set_nodelay(true).map_err(io)?;
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf).map_err(io)? {
            0 => return Ok(()),
            n => sock.write_all(&buf[..n]).map_err(io)?,
        }
    }
}

fn main() {
    let result = if std::env::args().any(|a| a == "--echo") { echo() } else { run() };
    if let Err(e) = result {
        eprintln!("ceiling: {e}");
        std::process::exit(1);
    }
}
