//! `bridge serve --http`: a real `bridge` child listening on loopback, driven by rmcp's own Streamable HTTP
//! client in both lifecycles (`initialize` with a session, and 2026-07-28 sessionless), and by plain HTTP
//! requests for what a client library would never send (no token, a wrong one, a foreign `Origin`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::clients::{
    Approver, Question, TRY_ECHO, TaskClient, lifecycles, stateless, success_stdout,
};
use common::http::{HttpBridge, OTHER_TOKEN, TOKEN};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, GetTaskParams, TaskPayload,
};
use rmcp::service::RunningService;
use rmcp::{ClientHandler, ClientLifecycleMode, RoleClient};
use serde_json::{Value, json};
use tokio::process::Command;

async fn call<H: ClientHandler>(client: &RunningService<RoleClient, H>, arguments: Value) -> Value {
    let params = CallToolRequestParams::new("run_python").with_arguments(common::args(arguments));
    let result = client.call_tool(params).await.expect("tools/call");
    result.structured_content.expect("structuredContent")
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn rmcp_clients_in_both_lifecycles_list_run_and_are_asked_over_http() {
    let docker = common::engine().await;
    let bridge = HttpBridge::start(&[], Some(common::ASK_ON_ECHO)).await;
    for (era, lifecycle) in lifecycles() {
        let client = bridge.connect((), TOKEN, lifecycle.clone()).await;
        let tools = client.list_all_tools().await.expect("tools/list");
        assert_eq!(tools.len(), 1, "{era}");
        assert_eq!(tools[0].name, "run_python", "{era}");
        let out = success_stdout(&call(&client, json!({"code": "print(6 * 7)"})).await);
        assert_eq!(out, ["42"], "{era}");
        client.cancel().await.unwrap();

        // A policy's ask: an elicitation for the initialize client, input_required for the 2026 one.
        for (approve, expected) in [
            (true, "hi"),
            (
                false,
                "denied: policy 'rules' asked (echo needs a human) and the user declined",
            ),
        ] {
            let client = bridge
                .connect(Approver::new(Some(approve)), TOKEN, lifecycle.clone())
                .await;
            let out = success_stdout(
                &call(&client, json!({"code": TRY_ECHO, "servers": ["stub"]})).await,
            );
            assert_eq!(out, [expected], "{era} approve={approve}");
            client.cancel().await.unwrap();
        }
    }
    let pid = bridge.child.id().expect("pid");
    common::eventually("the runs' containers are gone", || {
        let docker = docker.clone();
        async move {
            common::containers_and_states_of_process(&docker, pid)
                .await
                .iter()
                .all(|(_, state)| state == "running")
        }
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_session_belongs_to_the_client_that_opened_it() {
    common::engine().await;
    let bridge = HttpBridge::start(&[], None).await;
    for (era, lifecycle) in lifecycles() {
        let owner = bridge.connect((), TOKEN, lifecycle.clone()).await;
        let name = format!("s-{}", era.replace('-', ""));
        let first = call(&owner, json!({"code": "secret = 'mine'", "session": name})).await;
        assert_eq!(first["status"], "success", "{first:#}");
        let again = call(&owner, json!({"code": "print(secret)", "session": name})).await;
        // An initialize client keeps its MCP session; a 2026 client is known by its token alone.
        assert_eq!(success_stdout(&again), ["mine"], "{era}");

        let other = bridge.connect((), OTHER_TOKEN, lifecycle.clone()).await;
        let theirs = call(
            &other,
            json!({"code": "print(globals().get('secret', 'not here'))", "session": name}),
        )
        .await;
        assert_eq!(
            success_stdout(&theirs),
            ["not here"],
            "{era}: another client got a session of its own"
        );
        owner.cancel().await.unwrap();
        other.cancel().await.unwrap();
    }
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn no_token_a_wrong_token_or_a_foreign_origin_runs_nothing() {
    let docker = common::engine().await;
    let settings = [
        ("MCP_BRIDGE_POOL_SIZE", "0"),
        ("MCP_BRIDGE_HTTP_MAX_REQUESTS", "1"),
    ];
    let bridge = HttpBridge::start(&settings, None).await;
    let http = reqwest::Client::new();
    let post_code = |token: Option<&str>, origin: Option<&str>, code: &str| {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "run_python", "arguments": {"code": code},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}}}});
        let mut request = http
            .post(bridge.url("/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "run_python")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let post = |token, origin| post_code(token, origin, "print(1)");
    let missing = post(None, None).await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("needs a bearer token")
    );
    let wrong = post(Some("not-the-token-0123456789"), None).await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("not one this server accepts")
    );
    let foreign = post(Some(TOKEN), Some("http://evil.example"))
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    // Nothing ran: no container was ever made for this bridge (its pool is off).
    let pid = bridge.child.id().expect("pid");
    assert!(common::containers_of_process(&docker, pid).await.is_empty());

    // The same request with the token goes through.
    let allowed = post(Some(TOKEN), None).await.unwrap();
    assert_eq!(allowed.status(), 200);
    let text = allowed.text().await.unwrap();
    assert!(
        text.contains(r#"\"stdout\":[\"1\"]"#) || text.contains(r#""stdout":["1"]"#),
        "{text}"
    );

    // One request in flight is this client's limit here: a second one at the same time gets 429.
    let slow = tokio::spawn(post_code(
        Some(TOKEN),
        None,
        "import time; time.sleep(3); print('slow')",
    ));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let busy = post(Some(TOKEN), None).await.unwrap();
    assert_eq!(busy.status(), 429);
    assert!(
        busy.text()
            .await
            .unwrap()
            .contains("MCP_BRIDGE_HTTP_MAX_REQUESTS")
    );
    let slow = slow.await.unwrap().unwrap().text().await.unwrap();
    assert!(slow.contains("slow"), "{slow}");

    let health: Value = reqwest::get(bridge.url("/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn fifty_http_clients_at_once_each_get_their_own_result() {
    common::engine().await;
    let bridge = Arc::new(
        HttpBridge::start(
            &[
                ("MCP_BRIDGE_MAX_CONCURRENCY", "4"),
                ("MCP_BRIDGE_TIMEOUT", "120"),
            ],
            None,
        )
        .await,
    );
    let clients = (0..50).map(|n| {
        let bridge = bridge.clone();
        async move {
            let lifecycle = if n % 2 == 0 {
                ClientLifecycleMode::Initialize
            } else {
                stateless()
            };
            let client = bridge.connect((), TOKEN, lifecycle).await;
            let payload = call(
                &client,
                json!({"code": format!("print('client', {n})"), "timeout": 120}),
            )
            .await;
            client.cancel().await.unwrap();
            (n, success_stdout(&payload))
        }
    });
    let results =
        tokio::time::timeout(Duration::from_secs(600), futures::future::join_all(clients))
            .await
            .expect("50 clients finish");
    for (n, out) in results {
        assert_eq!(out, [format!("client {n}")]);
    }
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn another_clients_mcp_session_id_reaches_nothing_and_only_its_owner_ends_it() {
    common::engine().await;
    let bridge = HttpBridge::start(&[("MCP_BRIDGE_POOL_SIZE", "0")], None).await;
    let http = reqwest::Client::new();
    let post = |token: &str, session: Option<&str>, body: Value| {
        let mut request = http
            .post(bridge.url("/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("Bearer {token}"))
            .body(body.to_string());
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.send()
    };
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let opened = post(TOKEN, None, initialize).await.unwrap();
    assert_eq!(opened.status(), 200);
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
    let theirs = post(OTHER_TOKEN, Some(&session), list.clone())
        .await
        .unwrap();
    assert_eq!(theirs.status(), 404);
    assert!(theirs.text().await.unwrap().contains("no such MCP session"));
    // The owner's own requests still reach it.
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert!(
        post(TOKEN, Some(&session), initialized)
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let mine = post(TOKEN, Some(&session), list.clone()).await.unwrap();
    assert_eq!(mine.status(), 200);
    assert!(mine.text().await.unwrap().contains("run_python"));
    // Only its owner ends it: 204, as clients expect (the Python SDK takes 200 or 204), and it is gone.
    let delete = |token: &str| {
        http.delete(bridge.url("/mcp"))
            .header("authorization", format!("Bearer {token}"))
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
    };
    assert_eq!(delete(OTHER_TOKEN).await.unwrap().status(), 404);
    assert_eq!(delete(TOKEN).await.unwrap().status(), 204);
    assert_eq!(
        post(TOKEN, Some(&session), list).await.unwrap().status(),
        404
    );
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn sigterm_mid_run_cancels_it_removes_its_container_and_exits() {
    let docker = common::engine().await;
    let mut bridge = HttpBridge::start(&[("MCP_BRIDGE_POOL_SIZE", "0")], None).await;
    let pid = bridge.child.id().expect("pid");
    let client = bridge.connect((), TOKEN, stateless()).await;
    let call = tokio::spawn(async move {
        let params = CallToolRequestParams::new("run_python").with_arguments(common::args(
            json!({"code": "import time; time.sleep(60)", "timeout": 90}),
        ));
        let outcome = client.call_tool(params).await;
        (client, outcome)
    });
    common::eventually("the run's container is running", || {
        let docker = docker.clone();
        async move { !common::containers_of_process(&docker, pid).await.is_empty() }
    })
    .await;
    bridge.terminate().await;
    assert!(common::containers_of_process(&docker, pid).await.is_empty());
    let (_client, outcome) = call.await.unwrap();
    assert!(
        outcome.is_err(),
        "the call ended without a result: {outcome:?}"
    );
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_task_over_http_is_polled_to_its_result_and_only_by_its_client() {
    common::engine().await;
    let bridge = HttpBridge::start(&[], None).await;
    let client = bridge
        .connect(TaskClient { elicit: false }, TOKEN, stateless())
        .await;
    let params = CallToolRequestParams::new("run_python").with_arguments(common::args(
        json!({"code": "import time; time.sleep(2); print('late')"}),
    ));
    let CallToolResponse::Task(created) = client.call_tool_once(params).await.unwrap() else {
        panic!("a 2 s run becomes a task")
    };
    let id = created.task.task_id;
    let other = bridge
        .connect(TaskClient { elicit: false }, OTHER_TOKEN, stateless())
        .await;
    assert!(
        other
            .get_task(GetTaskParams::new(id.clone()))
            .await
            .is_err(),
        "another client's task is unknown to it"
    );
    let result = loop {
        let got = client
            .get_task(GetTaskParams::new(id.clone()))
            .await
            .unwrap();
        match got.task.payload {
            TaskPayload::Working => tokio::time::sleep(Duration::from_millis(200)).await,
            TaskPayload::Completed { result } => break result,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(result["structuredContent"]["stdout"], json!(["late"]));
    client.cancel().await.unwrap();
    other.cancel().await.unwrap();
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_question_nobody_answers_over_http_is_a_denial_in_both_eras() {
    let docker = common::engine().await;
    let settings = [
        ("MCP_BRIDGE_APPROVAL_TIMEOUT", "2"),
        ("MCP_BRIDGE_POOL_SIZE", "0"),
    ];
    let bridge = HttpBridge::start(&settings, Some(common::ASK_ON_ECHO)).await;
    let pid = bridge.child.id().expect("pid");
    let expected = "denied: policy 'rules' asks: echo needs a human; but nobody answered within 2 s \
                    (MCP_BRIDGE_APPROVAL_TIMEOUT), so the call is denied";

    // Legacy: an elicitation the client never answers.
    let client = bridge
        .connect(Approver::silent(), TOKEN, ClientLifecycleMode::Initialize)
        .await;
    let out = success_stdout(&call(&client, json!({"code": TRY_ECHO, "servers": ["stub"]})).await);
    assert_eq!(out, [expected]);
    client.cancel().await.unwrap();

    // 2026-07-28: `input_required`, and no retry. The run does not wait for one: it is denied after the
    // approval timeout and its container ends; a late retry collects the result, which says why.
    let client = bridge.connect(Approver::silent(), TOKEN, stateless()).await;
    let question = Question::ask(
        &client,
        json!({"code": TRY_ECHO, "servers": ["stub"], "timeout": 60}),
    )
    .await;
    common::eventually("the unanswered run ends and its container is gone", || {
        let docker = docker.clone();
        async move { common::containers_of_process(&docker, pid).await.is_empty() }
    })
    .await;
    let retry = question.answer(true);
    let CallToolResponse::Complete(result) = client.call_tool_once(retry).await.unwrap() else {
        panic!("expected the run's result");
    };
    assert_eq!(
        success_stdout(&result.structured_content.unwrap()),
        [expected]
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_call_over_http_hears_its_progress_in_both_eras() {
    common::engine().await;
    let bridge = HttpBridge::start(&[], None).await;
    let code = "import time\nprint('one', flush=True)\ntime.sleep(2.6)\nprint('two')";
    for (era, lifecycle) in lifecycles() {
        let listener = Approver::new(None);
        let heard = listener.progress.clone();
        let client = bridge.connect(listener, TOKEN, lifecycle).await;
        let out = success_stdout(&call(&client, json!({"code": code})).await);
        assert_eq!(out, ["one", "two"], "{era}");
        let heard = heard.lock().unwrap().clone();
        assert!(
            heard.contains(&"running for 2 s, 1 line of output so far".to_string()),
            "{era}: {heard:?}"
        );
        client.cancel().await.unwrap();
    }
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_task_cancelled_over_http_ends_its_container_and_only_its_client_can_cancel_it() {
    let docker = common::engine().await;
    let bridge = HttpBridge::start(&[("MCP_BRIDGE_POOL_SIZE", "0")], None).await;
    let pid = bridge.child.id().expect("pid");
    let client = bridge
        .connect(TaskClient { elicit: false }, TOKEN, stateless())
        .await;
    let params = CallToolRequestParams::new("run_python").with_arguments(common::args(
        json!({"code": "import time; time.sleep(60)", "timeout": 90}),
    ));
    let CallToolResponse::Task(created) = client.call_tool_once(params).await.unwrap() else {
        panic!("a 60 s run becomes a task")
    };
    let id = created.task.task_id;
    common::eventually("the task's container runs", || {
        let docker = docker.clone();
        async move { !common::containers_of_process(&docker, pid).await.is_empty() }
    })
    .await;

    let other = bridge
        .connect(TaskClient { elicit: false }, OTHER_TOKEN, stateless())
        .await;
    assert!(
        other
            .cancel_task(CancelTaskParams::new(id.clone()))
            .await
            .is_err(),
        "another client cannot cancel it"
    );
    assert!(!common::containers_of_process(&docker, pid).await.is_empty());

    client
        .cancel_task(CancelTaskParams::new(id.clone()))
        .await
        .expect("tasks/cancel");
    common::eventually("the task is cancelled", || {
        let client = &client;
        let id = id.clone();
        async move {
            let got = client.get_task(GetTaskParams::new(id)).await.unwrap();
            matches!(got.task.payload, TaskPayload::Cancelled)
        }
    })
    .await;
    common::eventually("its container is gone", || {
        let docker = docker.clone();
        async move { common::containers_of_process(&docker, pid).await.is_empty() }
    })
    .await;
    client.cancel().await.unwrap();
    other.cancel().await.unwrap();
}

#[tokio::test]
async fn a_non_loopback_address_without_a_token_is_refused_before_anything_starts() {
    let output = Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(["serve", "--http", "0.0.0.0:0"])
        .env_remove("MCP_BRIDGE_HTTP_TOKEN")
        .env_remove("MCP_BRIDGE_HTTP_TOKEN_FILE")
        .env("MCP_BRIDGE_IMAGE", common::image())
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to serve 0.0.0.0:0 without a token"),
        "{stderr}"
    );

    let short = Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(["serve", "--http", "127.0.0.1:0"])
        .env("MCP_BRIDGE_HTTP_TOKEN", "short")
        .output()
        .await
        .unwrap();
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 16 characters"));
}
