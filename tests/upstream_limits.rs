//! What an upstream MCP server sends is bounded, and its stderr stays in the host's log: `UpstreamClient`
//! against the project's stub server (`tests/stub/stub_mcp_server.py`) as a real child process over stdio,
//! and over real streamable HTTP. No Docker needed.
//!
//! Each test is the attack: a reply too large to hold (with its `id` before or after the result), oversized
//! lines that answer nothing, a stderr flood without a newline, a secret written to stderr before a crash.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_bridge::servers::{DiscoveredServer, ServerEntry};
use mcp_bridge::upstream::{UpstreamClient, UpstreamError, UpstreamLimits};
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

/// The limit most tests use: small, so a "huge" reply is quick to make.
const LIMIT: usize = 64 * 1024;

/// The tool-call timeout of these clients: short, so a hanging call is quick to see.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// A secret a careless server logs.
const TOKEN: &str = "ghp_FAKE0123456789SECRETabcdefghijklmnop";

fn stub_script() -> String {
    format!(
        "{}/tests/stub/stub_mcp_server.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn server(name: &str, entry: ServerEntry) -> DiscoveredServer {
    DiscoveredServer {
        name: name.to_string(),
        alias: name.to_string(),
        entry: ServerEntry {
            name: name.to_string(),
            ..entry
        },
        source: "tests/upstream_limits.rs".to_string(),
        plugin: "test".to_string(),
        project: false,
    }
}

/// A client for the stub (with its `--limit-tools`) run over stdio with `args`, bounded at `limit`.
fn stdio_stub(args: &[&str], limit: usize) -> UpstreamClient {
    let mut all = vec![stub_script(), "--limit-tools".to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let entry = ServerEntry {
        command: Some("python3".to_string()),
        args: all,
        ..ServerEntry::default()
    };
    UpstreamClient::new(
        server("stub", entry),
        UpstreamLimits {
            max_message_bytes: limit,
            call_timeout: CALL_TIMEOUT,
        },
    )
}

/// Calls `tool`, failing the test (instead of hanging) if no answer comes within a minute.
async fn call(
    client: &UpstreamClient,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, UpstreamError> {
    tokio::time::timeout(Duration::from_secs(60), client.call(tool, args(arguments)))
        .await
        .unwrap_or_else(|_| panic!("no answer to tools/call '{tool}' within 60 s"))
}

fn args(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, got {other}"),
    }
}

/// The text of a successful call.
fn text(result: Result<CallToolResult, UpstreamError>) -> String {
    let result = result.expect("the call succeeds");
    let value = serde_json::to_value(&result).unwrap();
    value["content"][0]["text"]
        .as_str()
        .expect("a text result")
        .to_string()
}

/// Asserts `result` is `TooLarge` for `tool` at `limit`, and that its message names the limit.
fn assert_too_large(result: Result<CallToolResult, UpstreamError>, tool: &str, limit: usize) {
    match result {
        Err(error @ UpstreamError::TooLarge { .. }) => {
            let UpstreamError::TooLarge {
                what, limit: named, ..
            } = &error
            else {
                unreachable!()
            };
            assert_eq!(what, &format!("tools/call '{tool}'"));
            assert_eq!(*named, limit);
            let message = error.to_string();
            assert!(
                message.contains(&format!("MCP_BRIDGE_MAX_TOOL_RESULT ({limit} bytes)")),
                "{message}"
            );
        }
        other => panic!("expected TooLarge for {tool}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_reply_over_the_limit_fails_only_its_call_and_the_connection_keeps_serving() {
    let client = stdio_stub(&[], LIMIT);
    let pid = text(call(&client, "pid", json!({})).await);
    // A slow call is in flight while the oversized reply arrives; both are answered on the same connection.
    let (slow, big) = tokio::join!(
        call(&client, "slow", json!({"seconds": 1})),
        call(&client, "big", json!({"size": 4 << 20})),
    );
    assert_eq!(text(slow), "slept");
    assert_too_large(big, "big", LIMIT);
    // The next call works, on the same process: nothing was restarted.
    assert_eq!(
        text(call(&client, "echo", json!({"text": "still here"})).await),
        "still here"
    );
    assert_eq!(text(call(&client, "pid", json!({})).await), pid);
    // A reply just under the limit is whole.
    let fits = text(call(&client, "big", json!({"size": LIMIT - 200})).await);
    assert_eq!(fits.len(), LIMIT - 200);
    client.shutdown().await;
}

#[tokio::test]
async fn a_huge_reply_whose_id_comes_after_the_result_is_matched_to_its_request() {
    // The TypeScript SDK's key order: {"result":…,"jsonrpc":"2.0","id":7}.
    let client = stdio_stub(&["--id-last"], LIMIT);
    let (big, nested, echo) = tokio::join!(
        call(&client, "big", json!({"size": 8 << 20})),
        // Full of nested "id" keys and escaped quotes spelling `","id":666`: none of them is the request's.
        call(&client, "nested", json!({"size": 1 << 20})),
        call(&client, "echo", json!({"text": "beside them"})),
    );
    assert_too_large(big, "big", LIMIT);
    assert_too_large(nested, "nested", LIMIT);
    assert_eq!(text(echo), "beside them");
    // The same tricky content under the limit arrives intact.
    let result = call(&client, "nested", json!({"size": 2000}))
        .await
        .expect("a small nested result");
    let structured = result.structured_content.expect("structured content");
    assert_eq!(structured["id"], "not-the-request-id");
    assert_eq!(structured["rows"][0]["text"], "\",\"id\":666,\"x\":\"\\");
    client.shutdown().await;
}

#[tokio::test]
async fn oversized_lines_that_answer_nothing_are_dropped_and_the_call_completes() {
    // An oversized notification and an oversized line of garbage, then the real answer.
    let client = stdio_stub(&[], LIMIT);
    assert_eq!(
        text(call(&client, "noise", json!({"size": 4 * LIMIT})).await),
        "after noise"
    );
    assert_eq!(
        text(call(&client, "echo", json!({"text": "ok"})).await),
        "ok"
    );
    client.shutdown().await;
}

/// The bridge process's resident memory in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[tokio::test]
async fn a_server_flooding_stderr_with_one_endless_line_costs_the_bridge_no_memory() {
    let client = stdio_stub(&[], LIMIT);
    assert!(!text(call(&client, "pid", json!({})).await).is_empty());
    let before = rss_kib();
    // 256 MiB on stderr without a newline: a reader that buffers lines would hold all of it.
    let flood: usize = 256 << 20;
    assert_eq!(
        text(call(&client, "flood_stderr", json!({"size": flood})).await),
        "flooded"
    );
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(
        grown_mib < 64,
        "the bridge grew by {grown_mib} MiB reading a {} MiB stderr line",
        flood >> 20
    );
    // End the line: the kept copy is cut to 1 KiB with a marker saying how much was dropped.
    assert_eq!(
        text(
            call(
                &client,
                "flood_stderr",
                json!({"size": 0, "end_line": true})
            )
            .await
        ),
        "flooded"
    );
    let expected = format!("{} […{} more bytes cut]", "e".repeat(1024), flood - 1024);
    let mut tail = Vec::new();
    for _ in 0..100 {
        tail = client.stderr_tail();
        if tail.last() == Some(&expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(tail.last(), Some(&expected));
    // And the server still answers.
    assert_eq!(
        text(call(&client, "echo", json!({"text": "after"})).await),
        "after"
    );
    client.shutdown().await;
}

/// Log lines written while `run` runs on this thread (the test runtime is single-threaded, so the client's
/// tasks log here too).
async fn logs_of<F: Future>(run: F) -> (F::Output, String) {
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let output = {
        let _guard = tracing::subscriber::set_default(subscriber);
        run.await
    };
    let logs = String::from_utf8_lossy(&sink.0.lock().unwrap()).into_owned();
    (output, logs)
}

#[tokio::test]
async fn a_crash_error_does_not_carry_what_the_server_wrote_to_stderr() {
    let client = stdio_stub(&[], LIMIT);
    let before = text(call(&client, "pid", json!({})).await);
    let (result, logs) = logs_of(call(
        &client,
        "leak_and_crash",
        json!({"stderr": format!("debug: using GITHUB_TOKEN={TOKEN}")}),
    ))
    .await;
    let error = result.expect_err("the call fails");
    assert!(matches!(error, UpstreamError::Crashed { .. }), "{error:?}");
    let message = error.to_string();
    assert_eq!(
        message,
        "MCP server 'stub' stopped while handling tools/call 'leak_and_crash'; it will be restarted on the \
         next call (see the bridge's log)"
    );
    assert!(!message.contains(TOKEN) && !message.contains("crashing on purpose"));
    // The details are for the host: in its log, as a warning.
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains(&format!("GITHUB_TOKEN={TOKEN}")), "{logs}");
    assert!(logs.contains("stub: crashing on purpose"), "{logs}");
    // The next call restarts the server.
    let after = text(call(&client, "pid", json!({})).await);
    assert_ne!(before, after);
    client.shutdown().await;
}

#[tokio::test]
async fn a_start_failure_does_not_carry_what_the_server_wrote_to_stderr() {
    let client = stdio_stub(&["--fail-start", &format!("token {TOKEN} rejected")], LIMIT);
    let (result, logs) = logs_of(client.tools()).await;
    let error = result.expect_err("the start fails");
    let message = error.to_string();
    assert!(
        message.starts_with("MCP server 'stub' failed to start: "),
        "{message}"
    );
    assert!(message.ends_with(" (see the bridge's log)"), "{message}");
    assert!(!message.contains(TOKEN), "{message}");
    assert!(
        logs.contains(&format!("stub: token {TOKEN} rejected")),
        "{logs}"
    );
}

/// The stub serving streamable HTTP (`--http`, plus `extra`), and a client for it bounded at `limit`.
async fn http_stub(extra: &[&str], limit: usize) -> (tokio::process::Child, UpstreamClient) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new("python3")
        .arg(stub_script())
        .arg("--http")
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs the stub");
    let stdout = child.stdout.take().unwrap();
    let mut port = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut port)
        .await
        .unwrap();
    let entry = ServerEntry {
        url: Some(format!("http://127.0.0.1:{}/mcp", port.trim())),
        ..ServerEntry::default()
    };
    let client = UpstreamClient::new(
        server("web", entry),
        UpstreamLimits {
            max_message_bytes: limit,
            call_timeout: CALL_TIMEOUT,
        },
    );
    (child, client)
}

#[tokio::test]
async fn over_http_a_json_reply_over_the_limit_is_too_large_and_the_session_keeps_serving() {
    let (_server, client) = http_stub(&[], LIMIT).await;
    assert_too_large(
        call(&client, "big", json!({"size": 4 << 20})).await,
        "big",
        LIMIT,
    );
    assert_eq!(
        text(call(&client, "echo", json!({"text": "next"})).await),
        "next"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn over_http_an_event_over_the_limit_fails_its_call_without_hanging() {
    // rmcp says only that the event stream closed, not why, so this cannot be reported as TooLarge (see
    // `http_config` in src/upstream/transport): the call fails promptly, saying what happened and naming the
    // limit, and the session keeps serving.
    let (_server, client) = http_stub(&["--sse"], LIMIT).await;
    let big = call(&client, "big", json!({"size": 4 << 20})).await;
    let message = big.expect_err("the call fails").to_string();
    assert_eq!(
        message,
        format!(
            "MCP server 'web' refused tools/call 'big': the event stream carrying its reply ended before the \
             reply (as when an event is larger than MCP_BRIDGE_MAX_TOOL_RESULT, {LIMIT} bytes); see the \
             bridge's log"
        )
    );
    assert_eq!(
        text(call(&client, "echo", json!({"text": "next"})).await),
        "next"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn a_call_never_answered_is_cancelled_at_the_tool_timeout_and_the_server_keeps_serving() {
    let client = stdio_stub(&[], LIMIT);
    let pid = text(call(&client, "pid", json!({})).await);
    let started = std::time::Instant::now();
    let hung = call(&client, "hang", json!({})).await;
    let waited = started.elapsed();
    assert_eq!(
        hung.expect_err("the call fails").to_string(),
        "MCP server 'stub' did not answer tools/call 'hang' within 3 s (MCP_BRIDGE_TOOL_TIMEOUT), so the call \
         was cancelled"
    );
    assert!(
        waited >= CALL_TIMEOUT && waited < CALL_TIMEOUT + Duration::from_secs(2),
        "the call ended after {waited:?}, not at its timeout"
    );
    // The server was told (`notifications/cancelled`), and the same process serves the next call.
    let cancelled: Vec<Value> =
        serde_json::from_str(&text(call(&client, "cancelled", json!({})).await)).unwrap();
    assert_eq!(cancelled.len(), 1, "cancelled requests: {cancelled:?}");
    assert_eq!(text(call(&client, "pid", json!({})).await), pid);
    assert_eq!(
        text(call(&client, "echo", json!({"text": "next"})).await),
        "next"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn replies_that_are_not_json_rpc_fail_only_their_call_and_the_next_call_is_served() {
    let client = stdio_stub(&[], LIMIT);
    let pid = text(call(&client, "pid", json!({})).await);
    for kind in [
        "not-json",
        "no-result",
        "wrong-shape",
        "wrong-id",
        "wrong-version",
    ] {
        let started = std::time::Instant::now();
        let answer = call(&client, "bad_reply", json!({"kind": kind})).await;
        let message = answer
            .expect_err(&format!("a {kind} reply is not a result"))
            .to_string();
        assert!(
            started.elapsed() < CALL_TIMEOUT + Duration::from_secs(2),
            "{kind}: the call took {:?}",
            started.elapsed()
        );
        // Lines rmcp cannot take as the reply are dropped (the call then times out); a reply of the wrong
        // shape is refused at once.
        let expected = if kind == "wrong-shape" {
            "MCP server 'stub' refused tools/call 'bad_reply': its reply is not a valid result for that request"
                .to_string()
        } else {
            "MCP server 'stub' did not answer tools/call 'bad_reply' within 3 s (MCP_BRIDGE_TOOL_TIMEOUT), so \
             the call was cancelled"
                .to_string()
        };
        assert_eq!(message, expected, "{kind}");
        assert_eq!(
            text(call(&client, "echo", json!({"text": kind})).await),
            kind,
            "the call after a {kind} reply"
        );
    }
    assert_eq!(
        text(call(&client, "pid", json!({})).await),
        pid,
        "no restart"
    );
    client.shutdown().await;
}
