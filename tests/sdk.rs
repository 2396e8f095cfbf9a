//! A second, independent MCP implementation against `bridge serve`: the official Python SDK's client (PyPI
//! `mcp` 2.3.0, installed by `scripts/test` into `tests/sdk/.deps`) with the `initialize`
//! handshake and with 2026-07-28's discovery, over stdio and over HTTP (`bridge serve --http`). Each lists the
//! tools, runs code, and answers a policy's `ask` (elicitation in the first, an `input_required` round trip in
//! the second), driven by `tests/sdk/python_client.py`.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::project::Project;
use serde_json::{Value, json};

#[tokio::test]
#[ignore = "needs a Docker engine, the sandbox image and the Python SDK: run scripts/test, or cargo test -- --include-ignored"]
async fn the_python_sdk_client_lists_runs_and_answers_an_ask_in_both_lifecycles() {
    common::engine().await;
    let project = Project::stub().with_config(common::ASK_ON_ECHO);
    for mode in MODES {
        check(&project, mode, None).await;
    }
}

#[tokio::test]
#[ignore = "needs a Docker engine, the sandbox image and the Python SDK: run scripts/test, or cargo test -- --include-ignored"]
async fn the_python_sdk_client_does_the_same_over_http() {
    common::engine().await;
    let project = Project::stub().with_config(common::ASK_ON_ECHO);
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let _bridge = tokio::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .current_dir(project.path("."))
        .envs(project.vars())
        .env("MCP_BRIDGE_HTTP_TOKEN", TOKEN)
        .env("MCP_BRIDGE_IMAGE", common::image())
        .env("MCP_BRIDGE_LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    common::eventually("the bridge listens", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/mcp");
    for mode in MODES {
        check(&project, mode, Some(&url)).await;
    }
}

const TOKEN: &str = "sdk-test-token-0123456789";

/// The SDK's mode and the protocol revision it must settle on.
const MODES: [(&str, &str); 2] = [("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")];

/// Runs the SDK client in `mode` against a bridge it starts (stdio) or the one at `url`, and checks what it saw.
async fn check(project: &Project, (mode, protocol): (&str, &str), url: Option<&str>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let deps = root.join("tests/sdk/.deps");
    if !deps.join("mcp").exists() {
        common::missing(
            "the Python MCP SDK in tests/sdk/.deps",
            "python3 -m pip install --target tests/sdk/.deps mcp==2.3.0",
        );
    }
    let output = tokio::process::Command::new("python3")
        .arg(root.join("tests/sdk/python_client.py"))
        .arg(env!("CARGO_BIN_EXE_bridge"))
        .arg(mode)
        .args(url)
        .current_dir(project.path("."))
        .envs(project.vars())
        .env("PYTHONPATH", &deps)
        .env("MCP_TEST_TOKEN", TOKEN)
        .env("MCP_BRIDGE_IMAGE", common::image())
        .env("MCP_BRIDGE_LOG_LEVEL", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let mode = format!("{mode} over {}", url.unwrap_or("stdio"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{mode}: {stderr}");
    let seen: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{mode}: {e}: {stderr}"));
    assert_eq!(seen["protocol"], protocol, "{mode}");
    assert_eq!(seen["tools"], json!(["run_python"]), "{mode}");
    assert_eq!(seen["stdout"], json!(["42"]), "{mode}");
    // The policy asked once; the client approved.
    assert_eq!(seen["asked_stdout"], json!(["hi"]), "{mode}: {seen}");
    let asked = seen["asked"].as_array().unwrap();
    assert_eq!(asked.len(), 1, "{mode}: {seen}");
    assert!(
        asked[0]
            .as_str()
            .unwrap()
            .contains("wants to call stub.echo"),
        "{mode}: {seen}"
    );
}
