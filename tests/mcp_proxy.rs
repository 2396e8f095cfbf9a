//! The whole chain with nothing in-process: an rmcp client → `bridge serve` (a child process) → a container →
//! back to the bridge → upstream MCP servers (child processes of the bridge) → back. Upstreams are the project's
//! stub server and the real `@modelcontextprotocol/server-everything` from npm (installed by `scripts/test` into
//! `tests/npm-servers`), over stdio and over streamable HTTP.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::clients::{Approver, Question, TRY_ECHO, stateless, success_stdout};
use rmcp::model::{CallToolRequestParams, CallToolResponse, ElicitRequestParams, InputRequest};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `server-everything`'s launcher, installed by `scripts/test` (`npm ci` in `tests/npm-servers`).
fn everything_bin() -> PathBuf {
    let bin = root().join("tests/npm-servers/node_modules/.bin/mcp-server-everything");
    if !bin.exists() {
        common::missing(&bin.display().to_string(), "cd tests/npm-servers && npm ci");
    }
    bin
}

/// A scratch home/cwd with a servers file (`MCP_SERVERS_CONFIG`) and an optional bridge config file.
struct Scratch {
    dir: TempDir,
    /// Settings for the bridge on top of the scratch ones.
    env: Vec<(&'static str, &'static str)>,
}

impl Scratch {
    fn new(servers: Value, bridge_config: Option<&str>) -> Self {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::write(
            dir.path().join("servers.json"),
            json!({"mcpServers": servers}).to_string(),
        )
        .unwrap();
        if let Some(text) = bridge_config {
            std::fs::write(dir.path().join("bridge.toml"), text).unwrap();
        }
        Scratch { dir, env: vec![] }
    }

    fn command(&self) -> Command {
        let path = |p: &str| self.dir.path().join(p);
        let mut command = Command::new(env!("CARGO_BIN_EXE_bridge"));
        command
            .arg("serve")
            .current_dir(self.dir.path())
            .env("HOME", path("home"))
            .env("MCP_SERVERS_CONFIG", path("servers.json"))
            .env("MCP_BRIDGE_STATE_DIR", path("state"))
            .env("MCP_BRIDGE_CACHE_DIR", path("cache"))
            .env("MCP_BRIDGE_IMAGE", common::image())
            .env("MCP_BRIDGE_LOG_LEVEL", "warn")
            .kill_on_drop(true);
        if path("bridge.toml").exists() {
            command.env("MCP_BRIDGE_CONFIG", path("bridge.toml"));
        }
        command.envs(self.env.iter().copied());
        command
    }

    async fn connect<H: ClientHandler>(&self, handler: H) -> (RunningService<RoleClient, H>, u32) {
        self.connect_with(handler, ClientLifecycleMode::Initialize)
            .await
    }

    async fn connect_with<H: ClientHandler>(
        &self,
        handler: H,
        lifecycle: ClientLifecycleMode,
    ) -> (RunningService<RoleClient, H>, u32) {
        let (transport, _) = TokioChildProcess::builder(self.command())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = transport.id().expect("bridge pid");
        let client = handler
            .serve_with_lifecycle(transport, lifecycle)
            .await
            .expect("initialize or discover");
        (client, pid)
    }
}

async fn run<H: ClientHandler>(
    client: &RunningService<RoleClient, H>,
    servers: &[&str],
    code: &str,
) -> Value {
    let params = CallToolRequestParams::new("run_python").with_arguments(common::args(
        json!({"code": code, "servers": servers, "timeout": 90}),
    ));
    let result = client.call_tool(params).await.expect("tools/call");
    result.structured_content.expect("structuredContent")
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn an_ask_is_put_to_the_user_through_elicitation() {
    common::engine().await;
    let servers = json!({"stub": {"command": "python3", "args": [common::stub_script()]}});
    let scratch = Scratch::new(servers, Some(common::ASK_ON_ECHO));
    for (approve, expected) in [
        (Some(true), "hi".to_string()),
        (
            Some(false),
            "denied: policy 'rules' asked (echo needs a human) and the user declined".to_string(),
        ),
        (
            None,
            "denied: policy 'rules' asked (echo needs a human) and the user declined".to_string(),
        ),
    ] {
        let approver = Approver::new(approve);
        let asked = approver.asked.clone();
        let (client, _) = scratch.connect(approver).await;
        let out = success_stdout(&run(&client, &["stub"], TRY_ECHO).await);
        assert_eq!(out, [expected], "approve={approve:?}");
        let asked = asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 1);
        assert!(
            asked[0].contains(
                r#"wants to call stub.echo with arguments {"text":"hi"}: echo needs a human"#
            ),
            "{asked:?}"
        );
        client.cancel().await.unwrap();
    }
    // A client without elicitation: a deny that says so.
    let (client, _) = scratch.connect(()).await;
    let out = success_stdout(&run(&client, &["stub"], TRY_ECHO).await);
    assert_eq!(out.len(), 1);
    assert!(
        out[0].ends_with("but the MCP client does not support elicitation, so the call is denied"),
        "{}",
        out[0]
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_2026_client_is_asked_through_input_required_and_answers_by_calling_again() {
    common::engine().await;
    let servers = json!({"stub": {"command": "python3", "args": [common::stub_script()]}});
    let scratch = Scratch::new(servers, Some(common::ASK_ON_ECHO));
    // rmcp's client answers each `input_required` round through `create_elicitation` and calls again.
    for (approve, expected) in [
        (Some(true), "hi"),
        (
            Some(false),
            "denied: policy 'rules' asked (echo needs a human) and the user declined",
        ),
    ] {
        let approver = Approver::new(approve);
        let asked = approver.asked.clone();
        let (client, _) = scratch.connect_with(approver, stateless()).await;
        let version = &client.peer_info().expect("discovered").protocol_version;
        assert_eq!(version.as_str(), "2026-07-28");
        let out = success_stdout(&run(&client, &["stub"], TRY_ECHO).await);
        assert_eq!(out, [expected], "approve={approve:?}");
        let asked = asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(asked[0].contains("wants to call stub.echo"), "{asked:?}");
        client.cancel().await.unwrap();
    }
    // A 2026 client that declares no elicitation: the deny of today, saying why.
    let (client, _) = scratch.connect_with((), stateless()).await;
    let out = success_stdout(&run(&client, &["stub"], TRY_ECHO).await);
    assert_eq!(out.len(), 1);
    assert!(
        out[0].ends_with(
            "but this client cannot be asked (no MCP elicitation), so the call is denied"
        ),
        "{}",
        out[0]
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn each_round_of_an_input_required_call_hears_how_the_run_goes() {
    common::engine().await;
    let servers = json!({"stub": {"command": "python3", "args": [common::stub_script()]}});
    let scratch = Scratch::new(servers, Some(common::ASK_ON_ECHO));
    let approver = Approver::new(Some(true));
    let heard = approver.progress.clone();
    let (client, _) = scratch.connect_with(approver, stateless()).await;
    // Output and time before the question (the first round) and after the answer (the retry).
    let code = format!(
        "import time\nprint('before', flush=True)\ntime.sleep(2.5)\n{TRY_ECHO}\ntime.sleep(2.5)"
    );
    let out = success_stdout(&run(&client, &["stub"], &code).await);
    assert_eq!(out, ["before", "hi"]);
    let heard = heard.lock().unwrap().clone();
    assert!(heard.len() >= 3, "{heard:?}");
    assert!(
        heard.iter().any(|m| m.contains("1 line of output so far")),
        "{heard:?}"
    );
    assert!(
        heard.iter().any(|m| m.contains("2 lines of output so far")),
        "the retry's request hears the run too: {heard:?}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_question_nobody_answers_is_a_denial_after_the_approval_timeout_in_both_eras() {
    common::engine().await;
    let servers = json!({"stub": {"command": "python3", "args": [common::stub_script()]}});
    let mut scratch = Scratch::new(servers, Some(common::ASK_ON_ECHO));
    scratch.env = vec![("MCP_BRIDGE_APPROVAL_TIMEOUT", "2")];
    let expected = "denied: policy 'rules' asks: echo needs a human; but nobody answered within 2 s \
                    (MCP_BRIDGE_APPROVAL_TIMEOUT), so the call is denied";

    // Legacy: an elicitation request the client never answers.
    let (client, _) = scratch.connect(Approver::silent()).await;
    assert_eq!(
        success_stdout(&run(&client, &["stub"], TRY_ECHO).await),
        [expected]
    );
    client.cancel().await.unwrap();

    // 2026-07-28, on the wire: the call answers `input_required` with one approval form and an opaque state; the
    // run waits meanwhile. Called again too late, the question has expired and the run's result says so.
    let (client, _) = scratch
        .connect_with(Approver::new(Some(true)), stateless())
        .await;
    let asked = Question::ask(
        &client,
        json!({"code": TRY_ECHO, "servers": ["stub"], "timeout": 60}),
    )
    .await;
    let InputRequest::Elicitation(question) = asked.request.clone() else {
        panic!("expected an elicitation");
    };
    let ElicitRequestParams::FormElicitationParams {
        message,
        requested_schema,
        ..
    } = question.params
    else {
        panic!("expected a form");
    };
    assert!(message.contains("wants to call stub.echo"), "{message}");
    let schema = serde_json::to_value(requested_schema).unwrap();
    assert_eq!(schema["properties"]["approve"]["type"], "boolean");

    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let retry = asked.answer(true);
    let CallToolResponse::Complete(result) = client.call_tool_once(retry.clone()).await.unwrap()
    else {
        panic!("expected the run's result");
    };
    assert_eq!(
        success_stdout(&result.structured_content.unwrap()),
        [expected]
    );

    // The result was collected: the state names nothing any more.
    let CallToolResponse::Complete(stale) = client.call_tool_once(retry).await.unwrap() else {
        panic!("expected a tool error");
    };
    assert_eq!(stale.is_error, Some(true));
    let text = &stale.content[0].as_text().unwrap().text;
    assert!(text.contains("names no run waiting for answers"), "{text}");
    client.cancel().await.unwrap();
}

const ASK_ON_LONG_RUNS: &str = r#"
[plugins.rules]
enabled = true
[plugins.rules.config.run]
max_timeout = 10
action = "ask"
"#;

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_run_level_ask_is_put_to_the_user_before_the_container_starts() {
    common::engine().await;
    let scratch = Scratch::new(json!({}), Some(ASK_ON_LONG_RUNS));
    for (approve, accepted) in [(Some(true), true), (Some(false), false)] {
        let approver = Approver::new(approve);
        let asked = approver.asked.clone();
        let (client, _) = scratch.connect(approver).await;
        // `run` asks for a 90 s timeout, over the policy's 10 s.
        let payload = run(&client, &[], "print('ran')").await;
        if accepted {
            assert_eq!(success_stdout(&payload), ["ran"]);
        } else {
            assert_eq!(payload["status"], "error", "{payload:#}");
            let error = payload["error"].as_str().unwrap();
            assert!(
                error.ends_with("and the user declined, so the run was not started"),
                "{error}"
            );
        }
        let asked = asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(
            asked[0].starts_with(
                "A run_python call (1 line of code, servers: none, timeout 90 s) is waiting: "
            ),
            "{asked:?}"
        );
        client.cancel().await.unwrap();
    }
}

/// Processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                // Field 4 (after the parenthesised command) is the parent pid.
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split(' ').nth(1))
                    .is_some_and(|ppid| ppid == pid.to_string())
            })
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

#[tokio::test]
#[ignore = "needs a Docker engine, the sandbox image and npm packages (tests/npm-servers): run scripts/test, or cargo test -- --include-ignored"]
async fn server_everything_over_stdio_end_to_end_and_no_orphans_after_sigterm() {
    common::engine().await;
    let everything = everything_bin();
    let servers = json!({
        "everything": {"command": everything.display().to_string(), "args": ["stdio"]},
        "stub": {"command": "python3", "args": [common::stub_script()]},
    });
    let scratch = Scratch::new(servers, None);
    let (client, bridge_pid) = scratch.connect(()).await;
    let out = success_stdout(
        &run(
            &client,
            &["everything", "stub"],
            r#"
r = await mcp_everything.echo(message="through the bridge")
print(r.text)
print((await mcp_servers["everything"].get_sum(a=2, b=3)).text)
from mcp.servers.everything import get_structured_content
print(sorted((await get_structured_content(location="New York")).data))
print([d["tool"] for d in await runtime.search_tool_docs("echo message", limit=2)])
print(len(runtime.list_tools_sync("everything")) > 5, (await mcp_stub.pid()).text.isdigit())
"#,
        )
        .await,
    );
    assert_eq!(out[0], "Echo: through the bridge");
    assert_eq!(out[1], "The sum of 2 and 3 is 5.");
    assert!(out[2].contains("temperature"), "{out:?}");
    assert!(out[3].starts_with("['echo'"), "{out:?}");
    assert_eq!(out[4], "True True");

    let upstreams = children_of(bridge_pid);
    assert!(upstreams.len() >= 2, "upstream children: {upstreams:?}");
    let mut family = upstreams.clone();
    for pid in &upstreams {
        family.extend(children_of(*pid));
    }
    // SIGTERM, as a client or supervisor would end it.
    unsafe { libc::kill(bridge_pid as i32, libc::SIGTERM) };
    drop(client);
    common::eventually("the bridge and every upstream process have exited", || {
        let family = family.clone();
        async move { !alive(bridge_pid) && family.iter().all(|p| !alive(*p)) }
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Docker engine, the sandbox image and npm packages (tests/npm-servers): run scripts/test, or cargo test -- --include-ignored"]
async fn server_everything_over_streamable_http() {
    common::engine().await;
    let everything = everything_bin();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut server = Command::new(&everything)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/mcp");
    common::eventually("server-everything listens", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    let scratch = Scratch::new(json!({"remote": {"url": url, "type": "http"}}), None);
    // Reached through the bridge by a client of either era.
    for lifecycle in [ClientLifecycleMode::Initialize, stateless()] {
        let (client, _) = scratch.connect_with((), lifecycle).await;
        let out = success_stdout(
            &run(
                &client,
                &["remote"],
                "print((await mcp_remote.echo(message='over http')).text)",
            )
            .await,
        );
        assert_eq!(out, ["Echo: over http"]);
        client.cancel().await.unwrap();
    }
    server.kill().await.unwrap();
}
