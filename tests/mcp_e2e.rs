//! `bridge serve` launched as a real child process and driven over stdio: by an rmcp client for the protocol
//! surface, and by raw JSON-RPC lines for disconnects and signals.

mod common;

use std::process::Stdio;
use std::time::Duration;

use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, ProgressNotificationParam, ProtocolVersion, ReadResourceRequestParams,
};
use rmcp::service::NotificationContext;
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;

fn call(code: &str, timeout: u64) -> CallToolRequestParams {
    CallToolRequestParams::new("run_python")
        .with_arguments(common::args(json!({"code": code, "timeout": timeout})))
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn an_mcp_client_sees_one_tool_and_gets_structured_results_in_either_lifecycle() {
    common::engine().await;
    let stateless = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    // The `initialize` handshake (a client asking for 2026-07-28 there is answered with the newest revision
    // that has it), and 2026-07-28's `server/discover` with stateless requests after it.
    for (lifecycle, version) in [
        (ClientLifecycleMode::Initialize, "2025-11-25"),
        (stateless, "2026-07-28"),
    ] {
        sees_one_tool_and_gets_structured_results(lifecycle, version).await;
    }
}

async fn sees_one_tool_and_gets_structured_results(lifecycle: ClientLifecycleMode, version: &str) {
    let (transport, _) = TokioChildProcess::builder(common::serve_command())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client =
        ().serve_with_lifecycle(transport, lifecycle)
            .await
            .expect("initialize or discover");

    let info = client.peer_info().expect("server info");
    let server = info.server_info.as_ref().expect("serverInfo");
    assert_eq!(server.name, "mcp-bridge");
    assert_eq!(server.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.protocol_version.as_str(), version);
    assert!(
        info.instructions
            .as_deref()
            .unwrap_or("")
            .contains("run_python")
    );

    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 1);
    let tool = &tools[0];
    assert_eq!(tool.name, "run_python");
    let schema = serde_json::to_value(tool.input_schema.as_ref()).unwrap();
    assert_eq!(schema["required"], json!(["code"]));
    assert_eq!(schema["properties"]["code"]["type"], "string");
    assert_eq!(schema["properties"]["servers"]["items"]["type"], "string");
    assert_eq!(schema["properties"]["timeout"]["minimum"], 1);
    assert_eq!(schema["properties"]["timeout"]["maximum"], 120);
    assert_eq!(schema["properties"]["timeout"]["default"], 30);
    let output = serde_json::to_value(tool.output_schema.as_ref().expect("outputSchema")).unwrap();
    assert_eq!(output["required"], json!(["status", "summary"]));
    let annotations = tool.annotations.as_ref().expect("annotations");
    assert_eq!(annotations.read_only_hint, Some(false));
    assert_eq!(annotations.open_world_hint, Some(true));

    let result = client
        .call_tool(call("print('hello')\nprint(6 * 7)", 30))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false));
    assert_eq!(result.content[0].as_text().unwrap().text, "hello\n42");
    let structured = result.structured_content.unwrap();
    assert_eq!(
        structured,
        json!({"status": "success", "summary": "Success", "exitCode": 0, "stdout": ["hello", "42"]})
    );

    let failed = client
        .call_tool(call("raise KeyError('k')", 30))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    assert_eq!(failed.structured_content.unwrap()["exitCode"], 1);

    // Bad input: a specific error result, and the server keeps serving.
    let bad = client
        .call_tool(
            CallToolRequestParams::new("run_python")
                .with_arguments(common::args(json!({"code": "x", "timeout": 999}))),
        )
        .await
        .unwrap();
    assert_eq!(bad.is_error, Some(true));
    let bad = bad.structured_content.unwrap();
    assert_eq!(bad["status"], "validation_error");
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("999 is greater than the maximum of 120"),
        "{bad}"
    );
    let again = client
        .call_tool(call("print('still here')", 30))
        .await
        .unwrap();
    assert_eq!(
        again.structured_content.unwrap()["stdout"],
        json!(["still here"])
    );

    // A session keeps state across calls over the connection, and says which call it was.
    assert_eq!(schema["properties"]["session"]["type"], "string");
    let in_session = |code: &str| {
        CallToolRequestParams::new("run_python")
            .with_arguments(common::args(json!({"code": code, "session": "e2e"})))
    };
    let opened = client.call_tool(in_session("n = 20")).await.unwrap();
    assert_eq!(
        opened.structured_content.unwrap()["session"],
        json!({"name": "e2e", "call": 1})
    );
    let continued = client.call_tool(in_session("print(n + 22)")).await.unwrap();
    assert!(
        continued.content[0]
            .as_text()
            .unwrap()
            .text
            .starts_with("42"),
        "{continued:?}"
    );
    let continued = continued.structured_content.unwrap();
    assert_eq!(continued["stdout"], json!(["42"]));
    assert_eq!(continued["summary"], "Success (session 'e2e', call 2)");

    let resources = client.list_all_resources().await.unwrap();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0].mime_type.as_deref(), Some("text/markdown"));
    let read = client
        .read_resource(ReadResourceRequestParams::new(resources[0].uri.clone()))
        .await
        .unwrap();
    let read = serde_json::to_value(&read.contents[0]).unwrap();
    assert_eq!(
        read["mimeType"], "text/markdown",
        "served with the type it is listed with"
    );
    assert!(
        read["text"]
            .as_str()
            .unwrap()
            .starts_with("# Code Execution MCP Capabilities")
    );
    assert!(
        client
            .read_resource(ReadResourceRequestParams::new("resource://nope"))
            .await
            .is_err()
    );

    client.cancel().await.unwrap();
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_cancelled_call_removes_its_container() {
    let docker = common::engine().await;
    // The cold path, so the run's container is the bridge's only one (tests/pool.rs cancels a pooled run).
    let mut command = common::serve_command();
    command.env("MCP_BRIDGE_POOL_SIZE", "0");
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = transport.id().unwrap();
    let client = ().serve(transport).await.unwrap();
    {
        // Dropping the request future sends notifications/cancelled.
        let pending = client.call_tool(call("import time\ntime.sleep(600)", 120));
        let waited = tokio::time::timeout(Duration::from_secs(3), pending).await;
        assert!(waited.is_err(), "the call was still running");
    }
    assert_eq!(
        common::containers_of_process(&docker, pid).await.len(),
        1,
        "its container existed"
    );
    common::eventually("the cancelled run's container is removed", || async {
        common::containers_of_process(&docker, pid).await.is_empty()
    })
    .await;
    // The server still serves.
    let result = client.call_tool(call("print('after')", 30)).await.unwrap();
    assert_eq!(
        result.structured_content.unwrap()["stdout"],
        json!(["after"])
    );
    client.cancel().await.unwrap();
}

/// A bridge driven by raw JSON-RPC lines, with a run in progress.
async fn bridge_with_a_running_call() -> (Child, u32) {
    bridge_running(
        &[],
        json!({"code": "import time\ntime.sleep(600)", "timeout": 120}),
    )
    .await
}

/// A bridge with `vars` driven by raw JSON-RPC lines, running `run_python` with `arguments`.
async fn bridge_running(vars: &[(String, String)], arguments: Value) -> (Child, u32) {
    let mut child = common::serve_command()
        .envs(vars.iter().cloned())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "run_python", "arguments": arguments}}),
    ] {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    let first: Value = serde_json::from_str(&stdout.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["id"], 1, "initialize answered: {first}");
    child.stdin = Some(stdin);
    // Keep draining stdout so the bridge never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    (child, pid)
}

async fn wait_for_running_container(docker: &bollard::Docker, pid: u32) {
    common::eventually("the run's container exists", || async {
        !common::containers_of_process(docker, pid).await.is_empty()
    })
    .await;
}

/// The bridge exits with success, and only after removing every container it made.
async fn exits_cleanly_leaving_nothing(docker: &bollard::Docker, child: &mut Child, pid: u32) {
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("bridge exits")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        common::containers_of_process(docker, pid).await.is_empty(),
        "removed before exit"
    );
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn client_disconnect_removes_running_containers_and_exits() {
    let docker = common::engine().await;
    let (mut child, pid) = bridge_with_a_running_call().await;
    wait_for_running_container(&docker, pid).await;
    drop(child.stdin.take()); // stdin EOF: the client went away
    exits_cleanly_leaving_nothing(&docker, &mut child, pid).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_client_leaving_during_a_tool_call_ends_the_run_the_call_and_the_server() {
    let docker = common::engine().await;
    let project = common::project::Project::new(json!({}));
    project.servers(json!({"stub": project.counted_server("stub", &["--limit-tools"])}));
    let (mut child, pid) = bridge_running(
        &project.vars(),
        json!({"code": "await mcp_stub.hang()", "servers": ["stub"], "timeout": 120}),
    )
    .await;
    wait_for_running_container(&docker, pid).await;
    common::eventually("the call to the server is under way", || async {
        !project.audit_events("call").is_empty()
    })
    .await;
    let server: u32 = std::fs::read_to_string(project.path("stub-starts"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(server), "the server runs");
    drop(child.stdin.take()); // stdin EOF: the client went away
    exits_cleanly_leaving_nothing(&docker, &mut child, pid).await;
    common::eventually("the server has ended", || async { !alive(server) }).await;
    // The call was logged as sent, and as ended with its run.
    let ended = project.audit_events("call-end");
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["outcome"], "run-ended-first", "{ended:?}");
}

/// Whether process `pid` exists (and is not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn sigterm_removes_running_containers_and_exits() {
    let docker = common::engine().await;
    let (mut child, pid) = bridge_with_a_running_call().await;
    wait_for_running_container(&docker, pid).await;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    exits_cleanly_leaving_nothing(&docker, &mut child, pid).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn start_up_removes_containers_a_crashed_bridge_left() {
    let docker = common::engine().await;
    // A bridge killed with SIGKILL cannot clean up: its running container and its warm ones are left behind.
    let (mut child, crashed) = bridge_with_a_running_call().await;
    wait_for_running_container(&docker, crashed).await;
    child.kill().await.unwrap();
    child.wait().await.unwrap();
    assert!(
        !common::containers_of_process(&docker, crashed)
            .await
            .is_empty(),
        "left behind"
    );

    let (transport, _) = TokioChildProcess::builder(common::serve_command())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = ().serve(transport).await.unwrap();
    common::eventually(
        "the next bridge's start-up sweep removes the orphan",
        || async {
            common::containers_of_process(&docker, crashed)
                .await
                .is_empty()
        },
    )
    .await;
    client.cancel().await.unwrap();
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn stdout_carries_only_protocol_even_when_code_floods_it() {
    common::engine().await;
    let mut child = common::serve_command()
        .env("MCP_BRIDGE_LOG_LEVEL", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let code = "import os, sys\nos.write(1, b'{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\\n')\nprint('x' * 100000)\nsys.stderr.write('err\\n')";
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "run_python", "arguments": {"code": code}}}),
    ] {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let line = lines.next_line().await.unwrap().expect("a response line");
        let message: Value = serde_json::from_str(&line).expect("every stdout line is JSON-RPC");
        assert_eq!(message["jsonrpc"], "2.0");
        seen.push(message);
    }
    let result = &seen[1]["result"]["structuredContent"];
    assert_eq!(seen[1]["id"], 2);
    assert_eq!(
        result["stdout"][0], r#"{"jsonrpc":"2.0","id":2,"result":{}}"#,
        "the forged line is data"
    );
    assert_eq!(result["stdout"][1].as_str().unwrap().len(), 100_000);
    drop(stdin);
    child.wait().await.unwrap();
}

/// A client that keeps the progress notifications it hears.
#[derive(Clone, Default)]
struct ProgressListener {
    heard: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for ProgressListener {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.heard.lock().unwrap().push(params);
    }
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_call_hears_how_long_its_run_has_gone_and_what_it_printed() {
    common::engine().await;
    let listener = ProgressListener::default();
    let heard = listener.heard.clone();
    let (transport, _) = TokioChildProcess::builder(common::serve_command())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = listener.serve(transport).await.expect("initialize");
    let code = "import time\nprint('one', flush=True)\ntime.sleep(2.6)\nprint('two')";

    // rmcp's client puts a progress token on every request it sends.
    let result = client.call_tool(call(code, 30)).await.unwrap();
    assert_eq!(
        result.structured_content.unwrap()["stdout"],
        json!(["one", "two"])
    );
    let reports = heard.lock().unwrap().clone();
    assert!(reports.len() >= 2, "{reports:?}");
    assert!(
        reports
            .iter()
            .all(|r| r.progress_token == reports[0].progress_token),
        "{reports:?}"
    );
    assert!(
        reports.windows(2).all(|w| w[0].progress < w[1].progress),
        "progress grows: {reports:?}"
    );
    assert_eq!(
        reports[1].message.as_deref(),
        Some("running for 2 s, 1 line of output so far")
    );
    // Nothing after the answer: the reports end with the call.
    let count = reports.len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(heard.lock().unwrap().len(), count);
    client.cancel().await.unwrap();
}
