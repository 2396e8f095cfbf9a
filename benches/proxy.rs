//! Tool-call proxying: what the bridge adds to each upstream call, and what it saves in the model's context.
//!
//! `cargo bench --bench proxy` measures, against the project's stub MCP server (`tests/stub`) as the upstream:
//!
//! 1. **direct**: 1,000 sequential `tools/call echo` from an rmcp client to the stub (a child process);
//! 2. **through the bridge**: one `run_python` whose code makes the same 1,000 calls with `await
//!    mcp_stub.echo(...)`, each timed inside the sandbox (Python proxy → frame → engine attach stream → host
//!    → policy check → the same kind of stub child → back); once with no policy and once with the built-in
//!    `rules` policy running `deny-github-writes.toml` on every call;
//!
//! and prints per-call p50/p90/p99 and the overhead (bridge p50 − direct p50; target ≤ 1 ms). Then it counts
//! the tokens (o200k_base) of the bridge's own `tools/list` against the combined `tools/list` of the upstream
//! servers the tests use (the stub's two profiles, and `server-everything` / `server-memory` when
//! `tests/npm-servers` is installed). Settings: `BENCH_CALLS` (default 1000), `MCP_BRIDGE_IMAGE`.
//!
//! Without `--bench` on the command line (as under `cargo test --all-targets`) it does nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use mcp_bridge::bridge::Bridge;
use mcp_bridge::config::Config;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn stub() -> String {
    root()
        .join("tests/stub/stub_mcp_server.py")
        .display()
        .to_string()
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let rank = p * (samples.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    samples[low] + (samples[high] - samples[low]) * (rank - low as f64)
}

fn row(label: &str, samples: &mut [f64]) -> f64 {
    let p50 = percentile(samples, 0.5);
    println!(
        "| {label} | {} | {p50:.3} | {:.3} | {:.3} |",
        samples.len(),
        percentile(samples, 0.9),
        percentile(samples, 0.99)
    );
    p50
}

async fn direct(calls: usize) -> Vec<f64> {
    let mut command = Command::new("python3");
    command.arg(stub());
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("stub starts");
    let client = ().serve(transport).await.expect("initialize");
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls + 50 {
        let params = CallToolRequestParams::new("echo").with_arguments(
            json!({"text": format!("call {i}")})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let started = Instant::now();
        client.call_tool(params).await.expect("echo");
        if i >= 50 {
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    client.cancel().await.ok();
    samples
}

fn bridge(dir: &Path, config_file: Option<&Path>) -> Arc<Bridge> {
    std::fs::write(
        dir.join(".mcp.json"),
        json!({"mcpServers": {"stub": {"command": "python3", "args": [stub()]}}}).to_string(),
    )
    .expect("servers file");
    let mut vars = std::collections::HashMap::from([
        ("HOME".to_string(), dir.display().to_string()),
        (
            "MCP_BRIDGE_STATE_DIR".to_string(),
            dir.join("state").display().to_string(),
        ),
        (
            "MCP_BRIDGE_IMAGE".to_string(),
            std::env::var("MCP_BRIDGE_IMAGE")
                .unwrap_or_else(|_| "mcp-bridge/sandbox:bookworm".into()),
        ),
        ("MCP_BRIDGE_TIMEOUT".to_string(), "120".to_string()),
    ]);
    if let Some(path) = config_file {
        vars.insert("MCP_BRIDGE_CONFIG".into(), path.display().to_string());
    }
    let config = Config::from_map(&vars).expect("settings");
    Arc::new(Bridge::new_in(config, dir).expect("bridge"))
}

async fn through_bridge(bridge: &Bridge, calls: usize) -> Vec<f64> {
    let code = format!(
        r#"
import json, time
samples = []
for i in range({total}):
    started = time.perf_counter_ns()
    await mcp_stub.echo(text=f"call {{i}}")
    if i >= 50:
        samples.append((time.perf_counter_ns() - started) / 1e6)
print(json.dumps(samples))
"#,
        total = calls + 50
    );
    let arguments = json!({"code": code, "servers": ["stub"], "timeout": 120});
    let response = bridge
        .run_python(
            arguments.as_object().expect("object"),
            &CancellationToken::new(),
        )
        .await
        .expect("not cancelled");
    let payload = &response.payload;
    assert_eq!(
        payload.exit_code,
        Some(0),
        "bench run failed: {:?} {:?}",
        payload.stderr,
        payload.error
    );
    serde_json::from_str(&payload.stdout.concat()).expect("samples")
}

fn tokens(value: &Value) -> usize {
    let bpe = tiktoken_rs::o200k_base_singleton();
    bpe.encode_ordinary(&value.to_string()).len()
}

async fn tools_list(command: &str, args: &[&str]) -> Option<Vec<Tool>> {
    let mut cmd = Command::new(command);
    cmd.args(args);
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let client = ().serve(transport).await.ok()?;
    let tools = client.list_all_tools().await.ok();
    client.cancel().await.ok();
    tools
}

async fn token_table() {
    let bin = |name: &str| -> PathBuf {
        root()
            .join("tests/npm-servers/node_modules/.bin")
            .join(name)
    };
    let stub = stub();
    let mut upstreams: Vec<(String, String, Vec<String>)> = vec![
        ("stub (edge)".into(), "python3".into(), vec![stub.clone()]),
        (
            "stub (github profile)".into(),
            "python3".into(),
            vec![stub, "--profile".into(), "github".into()],
        ),
    ];
    for (label, name) in [
        ("server-everything", "mcp-server-everything"),
        ("server-memory", "mcp-server-memory"),
    ] {
        if bin(name).exists() {
            upstreams.push((label.into(), bin(name).display().to_string(), vec![]));
        } else {
            eprintln!("{label}: not installed (npm ci in tests/npm-servers); left out");
        }
    }
    println!("\n## tools/list tokens (o200k_base, compact JSON of the `tools` array)\n");
    println!("| server | tools | tokens |");
    println!("|---|---:|---:|");
    let mut total_tools = 0;
    let mut total_tokens = 0;
    for (label, command, args) in &upstreams {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let Some(tools) = tools_list(command, &args).await else {
            eprintln!("{label}: tools/list failed; left out");
            continue;
        };
        let count = tokens(&serde_json::to_value(&tools).expect("json"));
        println!("| {label} | {} | {count} |", tools.len());
        total_tools += tools.len();
        total_tokens += count;
    }
    println!("| **all of the above** | {total_tools} | {total_tokens} |");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bridge"));
    cmd.arg("serve").env("MCP_BRIDGE_LOG_LEVEL", "error");
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("bridge starts");
    let client = ().serve(transport).await.expect("initialize");
    let tools = client.list_all_tools().await.expect("tools/list");
    client.cancel().await.ok();
    let bridge_tokens = tokens(&serde_json::to_value(&tools).expect("json"));
    println!(
        "| **mcp-bridge** (`run_python`) | {} | {bridge_tokens} |",
        tools.len()
    );
    println!(
        "\nThe bridge's tool list is {:.1}% of the upstreams' combined list ({bridge_tokens} vs {total_tokens} \
         tokens), and stays the same size whatever servers are configured.",
        100.0 * bridge_tokens as f64 / total_tokens.max(1) as f64
    );
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("skipped (run with cargo bench --bench proxy)");
        return;
    }
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let scratch = tempfile::TempDir::new().expect("scratch dir");
    let rules = root().join("plugins/rules/examples/deny-github-writes.toml");

    let mut direct_samples = direct(calls).await;
    let plain = bridge(scratch.path(), None);
    let mut bridge_samples = through_bridge(&plain, calls).await;
    plain.shutdown().await;
    let with_rules = bridge(scratch.path(), Some(&rules));
    let mut rules_samples = through_bridge(&with_rules, calls).await;
    with_rules.shutdown().await;

    println!("## Per-call latency, echo tool of the stub server (ms, after 50 warm-up calls)\n");
    println!("| path | n | p50 | p90 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    let direct_p50 = row("direct rmcp client → stub", &mut direct_samples);
    let bridge_p50 = row("sandbox → bridge → stub, no policy", &mut bridge_samples);
    let rules_p50 = row(
        "sandbox → bridge → stub, `rules` policy on every call",
        &mut rules_samples,
    );
    println!(
        "\nProxy overhead (p50 − direct p50): {:.3} ms without a policy, {:.3} ms with `rules`; target ≤ 1 ms.",
        bridge_p50 - direct_p50,
        rules_p50 - direct_p50
    );
    token_table().await;
}
