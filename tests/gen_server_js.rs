//! `gen_server::call` and `gen_server::cast` against clusterluck's own JS GenServer, served by
//! the seed JS kernel in a `node` child (tests/node/js_gen_server.js): JSON and Buffers echo
//! back exactly, casts arrive in order before a later call, an error the JS server replies
//! with comes back typed, and an event nobody handles ends in the caller's timeout.
//!
//! Skips with a printed reason when the seed kernel (`$CLUSTERLUCK_SEEDS`, else
//! `../shared/seeds`) or clusterluck's GenServer (`$CLUSTERLUCK_DIR`, else
//! `../shared/clusterluck`) is absent, `node` is not on the PATH, or node-ipc is not installed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clusterluck_native::gen_server;
use clusterluck_native::{Data, Node, NodeAddr, NodeError};
use serde_json::{json, Value};

const COOKIE: &str = "gen-server-js-cookie";
const T: Option<Duration> = Some(Duration::from_secs(10));

/// The node child, killed and reaped when dropped, so a failing test leaves no process behind.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dir_from(var: &str, default: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(dir) => PathBuf::from(dir),
        None => root().join("..").join("shared").join(default),
    }
}

/// Why the test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    let seed = dir_from("CLUSTERLUCK_SEEDS", "seeds").join("kernel.js");
    if !seed.is_file() {
        return Some(format!("seed kernel not found ({}); JS GenServer test skipped", seed.display()));
    }
    let gs = dir_from("CLUSTERLUCK_DIR", "clusterluck").join("lib").join("gen_server.js");
    if !gs.is_file() {
        return Some(format!("clusterluck's GenServer not found ({}); JS GenServer test skipped", gs.display()));
    }
    let node_ok = Command::new("node").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !matches!(node_ok, Ok(s) if s.success()) {
        return Some("node not on the PATH; JS GenServer test skipped".into());
    }
    if !Path::new(&root().join("node_modules").join("node-ipc").join("package.json")).is_file() {
        return Some("node-ipc not installed (run npm install); JS GenServer test skipped".into());
    }
    None
}

/// Starts the JS side, told how to reach `rust`, and returns it with the port it listens on
/// once it says it is ready (it has connected to the Rust node by then).
fn spawn_js(js_id: &str, rust: &Node) -> (ChildGuard, u16) {
    let addr = rust.addr();
    let child = Command::new("node")
        .arg(root().join("tests").join("node").join("js_gen_server.js"))
        .args([js_id, COOKIE, &addr.id, &addr.host, &addr.port.to_string()])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn node");
    let mut guard = ChildGuard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read the JS side's ready line");
    let port = line
        .trim()
        .strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the JS side did not get ready: {line:?}"));
    (guard, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_casts_reach_a_js_gen_server() {
    if let Some(reason) = skip_reason() {
        eprintln!("{reason}");
        return;
    }
    let rust = Node::builder("rust_gs_client", "127.0.0.1", 0)
        .cookie(COOKIE)
        .retry(Duration::from_millis(50))
        .start()
        .await
        .expect("start the Rust node");
    let js_id = "js_gs_node";
    let (_js, port) = tokio::task::block_in_place(|| spawn_js(js_id, &rust));
    rust.connect(&NodeAddr::new(js_id, "127.0.0.1", port)).await.expect("connect to the JS node");

    // JSON, echoed exactly (nested, unicode, numbers JSON.stringify keeps as they are).
    let value = json!({"k": [1, 2.5, -3], "s": "héllo \"q\" \u{1F600}", "n": null, "t": true, "o": {}});
    let got = gen_server::call(&rust, js_id, "js_gs", "echo", Data::json(&value).unwrap(), T).await.expect("echo json");
    assert_eq!(got.json::<Value>().unwrap(), value);
    let got = gen_server::call(&rust, js_id, "js_gs", "echo", Data::json("just a string").unwrap(), T).await.unwrap();
    assert_eq!(got.json::<String>().unwrap(), "just a string");

    // A Buffer, every byte value, echoed back as a Buffer.
    let bytes: Vec<u8> = (0..=255u8).chain([0, 255, 10, 13]).collect();
    let got = gen_server::call(&rust, js_id, "js_gs", "echo", Data::bytes(bytes.clone()), T).await.expect("echo bytes");
    assert_eq!(got.bytes(), Some(&bytes[..]), "got {got:?}");

    // Casts, then a call on the same link: the JS server has counted them all by then.
    let got = gen_server::call(&rust, js_id, "js_gs", "counted", Data::null(), T).await.unwrap();
    assert_eq!(got.json::<Value>().unwrap(), json!({"count": 0}));
    for _ in 0..5 {
        gen_server::cast(&rust, js_id, "js_gs", "count", Data::null()).await.expect("cast count");
    }
    let got = gen_server::call(&rust, js_id, "js_gs", "counted", Data::null(), T).await.unwrap();
    assert_eq!(got.json::<Value>().unwrap(), json!({"count": 5}));

    // An error the JS GenServer replies with comes back as a typed remote error.
    match gen_server::call(&rust, js_id, "js_gs", "fail", Data::null(), T).await {
        Err(NodeError::Remote(e)) => assert_eq!(e.message, "js_gs says no"),
        other => panic!("expected a remote error, got {other:?}"),
    }

    // The JS GenServer ignores an event it has no handler for: the call times out, typed.
    let short = Some(Duration::from_millis(300));
    match gen_server::call(&rust, js_id, "js_gs", "no_such_event", Data::null(), short).await {
        Err(NodeError::Timeout) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }

    // And the server still answers afterwards.
    let got = gen_server::call(&rust, js_id, "js_gs", "counted", Data::null(), T).await.unwrap();
    assert_eq!(got.json::<Value>().unwrap(), json!({"count": 5}));
    rust.shutdown().await;
}
