//! Load: 64 `run_python` calls at once, from 4 rmcp clients (both lifecycles, two tokens) × 16 concurrent calls,
//! through one `bridge serve --http` and so through one set of limits (`MCP_BRIDGE_MAX_CONCURRENCY` slots, the
//! warm pool counted in them). Every call prints its own marker several times between small sleeps, so output
//! of two runs mixed in one result would show. Each call ends within a bound (a hang fails the test), with its
//! own output or, once it has waited `MCP_BRIDGE_QUEUE_WAIT`, a busy error naming both settings; at the end no
//! container of the bridge is left. `scripts/soak --load` measures the latencies recorded in RELIABILITY.md.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http::{HttpBridge, OTHER_TOKEN, TOKEN};
use rmcp::ClientLifecycleMode;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

const CLIENTS: usize = 4;
const CALLS_PER_CLIENT: usize = 16;
/// How often each call prints its marker.
const LINES: usize = 5;

/// What one call ended with.
enum Outcome {
    /// `status: success` with these stdout lines (and this stderr).
    Success(Vec<String>, Vec<String>),
    /// Any other result: its whole structured content.
    Other(Value),
}

/// One call's marker: the client and the call, unique among the 64.
fn marker(client: usize, call: usize) -> String {
    format!("client-{client}-call-{call}")
}

/// Code printing its marker `LINES` times with `pause` seconds between the lines.
fn code(client: usize, call: usize, pause: f64) -> String {
    format!(
        "import time\nfor k in range({LINES}):\n    print('{}', k, flush=True)\n    time.sleep({pause})\n",
        marker(client, call)
    )
}

/// The stdout a call's own run prints, and nothing else.
fn own_lines(client: usize, call: usize) -> Vec<String> {
    (0..LINES)
        .map(|k| format!("{} {k}", marker(client, call)))
        .collect()
}

fn lines(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| l.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Starts the 64 calls at once (4 clients × 16, each bounded by `bound`) and returns each call's outcome and
/// time, by (client, call).
async fn sixty_four_calls(
    bridge: &HttpBridge,
    pause: f64,
    bound: Duration,
) -> Vec<((usize, usize), Outcome, Duration)> {
    let mut clients = Vec::new();
    for n in 0..CLIENTS {
        let token = if n < CLIENTS / 2 { TOKEN } else { OTHER_TOKEN };
        let lifecycle = if n % 2 == 0 {
            ClientLifecycleMode::Initialize
        } else {
            common::clients::stateless()
        };
        clients.push(Arc::new(bridge.connect((), token, lifecycle).await));
    }
    let calls = clients.iter().enumerate().flat_map(|(n, client)| {
        (0..CALLS_PER_CLIENT).map(move |i| {
            let client = client.clone();
            async move {
                let arguments = common::args(json!({"code": code(n, i, pause), "timeout": 60}));
                let params = CallToolRequestParams::new("run_python").with_arguments(arguments);
                let started = Instant::now();
                let result = tokio::time::timeout(bound, client.call_tool(params))
                    .await
                    .unwrap_or_else(|_| {
                        panic!("call {} hung: no result within {bound:?}", marker(n, i))
                    })
                    .unwrap_or_else(|error| panic!("call {}: {error}", marker(n, i)));
                let elapsed = started.elapsed();
                let payload = result.structured_content.expect("structuredContent");
                let outcome = if payload["status"] == "success" {
                    Outcome::Success(lines(&payload["stdout"]), lines(&payload["stderr"]))
                } else {
                    Outcome::Other(payload)
                };
                ((n, i), outcome, elapsed)
            }
        })
    });
    let results = futures::future::join_all(calls).await;
    for client in clients {
        Arc::into_inner(client)
            .expect("no call holds the client")
            .cancel()
            .await
            .unwrap();
    }
    results
}

/// p50 and p95 of `times`, for the test's output.
fn percentiles(mut times: Vec<Duration>) -> String {
    if times.is_empty() {
        return "none".into();
    }
    times.sort();
    let at = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    format!("p50 {:?}, p95 {:?}", at(0.5), at(0.95))
}

/// Ends the bridge with SIGTERM and checks it removed every container it made: until then its warm pool's
/// containers are its own to keep, and nothing else of it may be left.
async fn stop_and_check_nothing_is_left(mut bridge: HttpBridge) {
    let docker = common::engine().await;
    let pid = bridge.child.id().expect("pid");
    let pool = 2;
    common::eventually("only the warm pool's containers remain", || {
        let docker = docker.clone();
        async move {
            let left = common::containers_and_states_of_process(&docker, pid).await;
            left.len() <= pool && left.iter().all(|(_, state)| state == "running")
        }
    })
    .await;
    bridge.terminate().await;
    let left = common::containers_and_states_of_process(&docker, pid).await;
    assert!(left.is_empty(), "containers left behind: {left:?}");
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn sixty_four_calls_at_once_from_four_clients_each_get_only_their_own_output() {
    common::engine().await;
    let bridge = HttpBridge::start(&[], None).await;
    let started = Instant::now();
    let results = sixty_four_calls(&bridge, 0.05, Duration::from_secs(90)).await;
    let wall = started.elapsed();
    assert_eq!(results.len(), CLIENTS * CALLS_PER_CLIENT);
    let mut times = Vec::new();
    for ((n, i), outcome, elapsed) in results {
        match outcome {
            Outcome::Success(stdout, stderr) => {
                assert_eq!(stdout, own_lines(n, i), "call {}", marker(n, i));
                assert!(stderr.is_empty(), "call {}: {stderr:?}", marker(n, i));
            }
            Outcome::Other(payload) => panic!(
                "call {} did not succeed under the default queue wait: {payload:#}",
                marker(n, i)
            ),
        }
        times.push(elapsed);
    }
    println!("64 calls in {wall:?}: {}", percentiles(times));
    stop_and_check_nothing_is_left(bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn past_the_queue_wait_a_call_gets_a_busy_error_naming_both_limits_and_none_hangs() {
    common::engine().await;
    let bridge = HttpBridge::start(&[("MCP_BRIDGE_QUEUE_WAIT", "1")], None).await;
    // Each run sleeps 5 × 0.3 s: longer than the 1 s the others may wait for its slot.
    let results = sixty_four_calls(&bridge, 0.3, Duration::from_secs(30)).await;
    assert_eq!(results.len(), CLIENTS * CALLS_PER_CLIENT);
    let (mut ran, mut busy) = (Vec::new(), Vec::new());
    for ((n, i), outcome, elapsed) in results {
        match outcome {
            Outcome::Success(stdout, stderr) => {
                assert_eq!(stdout, own_lines(n, i), "call {}", marker(n, i));
                assert!(stderr.is_empty(), "call {}: {stderr:?}", marker(n, i));
                ran.push(elapsed);
            }
            Outcome::Other(payload) => {
                let error = payload["error"].as_str().unwrap_or_default();
                assert_eq!(payload["status"], "error", "{payload:#}");
                assert!(
                    error
                        .starts_with("busy: all 4 sandbox containers (MCP_BRIDGE_MAX_CONCURRENCY)")
                        && error.contains("for the 1 s this call may wait (MCP_BRIDGE_QUEUE_WAIT)")
                        && error.contains("nothing ran"),
                    "call {}: {payload:#}",
                    marker(n, i)
                );
                assert!(
                    lines(&payload["stdout"]).is_empty(),
                    "a refused call ran nothing: {payload:#}"
                );
                busy.push(elapsed);
            }
        }
    }
    println!(
        "{} ran ({}), {} busy ({})",
        ran.len(),
        percentiles(ran.clone()),
        busy.len(),
        percentiles(busy.clone())
    );
    assert!(!ran.is_empty(), "no call got a slot");
    assert!(!busy.is_empty(), "no call was refused as busy");
    stop_and_check_nothing_is_left(bridge).await;
}
