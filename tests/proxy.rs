//! Tool proxying end to end with real parts: the bridge, a real container, and the project's stub MCP server
//! (`tests/stub/stub_mcp_server.py`) as real stdio child processes. Covers the three access patterns, the
//! runtime helpers, search over every discovered server, policy deny and ask, restart after a crash,
//! `tools/list_changed`, big results, the child environment and shutdown.

mod common;

use std::path::Path;

use common::project::{Project, ok, run_with};
use mcp_bridge::bridge::Response;
use serde_json::{Value, json};

/// The usual pair: `stub` (edge cases) and `github` (read-only and destructive tools).
fn standard() -> Project {
    Project::new(json!({
        "stub": {"command": "python3", "args": [common::stub_script()], "description": "Edge-case stub",
                 "env": {"GREETING": "hello"}},
        "github": {"command": "python3", "args": [common::stub_script(), "--profile", "github"]},
    }))
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn tools_are_python_functions_in_all_three_access_patterns() {
    common::engine().await;
    let project = standard();
    let bridge = project.bridge();
    let out = ok(
        &bridge,
        &["stub"],
        r#"
import inspect
print(LOADED_MCP_SERVERS)
r = await mcp_stub.echo("positional")
print(r["content"][0]["text"], r.content[0].text, r.text, r.isError)
r = await mcp_servers["stub"].add(2, b=3)
print(r.data["sum"], r.structuredContent.sum)
from mcp.servers.stub import echo, read_file, class_, _2fa
print((await echo(text="imported")).text, (await read_file(path="x")).text, (await class_()).text)
import mcp.servers.stub as stub_module
print(sorted(stub_module.__all__)[:3], stub_module.TOOL_MAP["read_file"]["name"])
print(inspect.signature(mcp_stub.add), inspect.iscoroutinefunction(mcp_stub.add))
print(mcp_stub.echo.__doc__.splitlines()[0])
print(runtime is mcp.runtime)
"#,
    )
    .await;
    assert_eq!(
        out,
        [
            "('stub',)",
            "positional positional positional False",
            "5 5",
            "imported called read-file called class",
            "['_2fa', 'add', 'big'] read-file",
            "(a, b=0) True",
            "Echo the text back.",
            "True",
        ]
    );
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn bad_calls_get_clear_python_errors_and_tool_errors_raise() {
    common::engine().await;
    let project = standard();
    let bridge = project.bridge();
    let out = ok(
        &bridge,
        &["stub"],
        r#"
for call in (lambda: mcp_stub.add("two"), lambda: mcp_stub.add(), lambda: mcp_stub.echo("a", "b"),
             lambda: mcp_stub.echo(txt="a")):
    try:
        await call()
    except TypeError as exc:
        print("TypeError:", exc)
try:
    mcp_stub.ecoh
except AttributeError as exc:
    print("AttributeError:", str(exc).split(" (")[0])
try:
    await mcp_stub.fail(message="boom")
except runtime.ToolError as exc:
    print("ToolError:", exc, exc.result.isError)
r = await runtime.call_tool("stub", "fail", {"message": "kept"}, raise_on_error=False)
print(r.is_error, r.text)
try:
    await runtime.call_tool("github", "get_issue", {"number": 1})
except runtime.MCPError as exc:
    print("MCPError:", exc)
try:
    await runtime.call_tool("stub", "nope")
except runtime.MCPError as exc:
    print("MCPError:", str(exc).split(";")[0])
"#,
    )
    .await;
    assert_eq!(
        out,
        [
            "TypeError: mcp_stub.add() argument 'a' must be integer, not str",
            "TypeError: mcp_stub.add(): missing a required argument: 'a'",
            "TypeError: mcp_stub.echo(): too many positional arguments",
            "TypeError: mcp_stub.echo() got an unexpected keyword argument 'txt'; did you mean 'text'?",
            "AttributeError: MCP server 'stub' has no tool 'ecoh'; did you mean echo?",
            "ToolError: stub.fail failed: boom True",
            "True kept",
            "MCPError: Server \"github\" is not available in this run (add it to run_python's `servers` to use it); loaded: stub",
            "MCPError: Tool 'nope' not found for server stub",
        ]
    );
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn runtime_helpers_describe_servers_and_tools() {
    common::engine().await;
    let project = standard();
    let bridge = project.bridge();
    let out = ok(
        &bridge,
        &["stub", "github"],
        r#"
print(runtime.list_servers_sync(), await runtime.list_servers())
print(runtime.discovered_servers())
print(runtime.discovered_servers(detailed=True)[0])
meta = runtime.describe_server("github")
print(meta["alias"], [t["name"] for t in meta["tools"]][:2], sorted(meta["tools"][0]))
print(len(runtime.list_loaded_server_metadata()), len(runtime.list_tools_sync("stub")))
print(runtime.query_tool_docs_sync("stub", "READ_FILE"))
print(await runtime.query_tool_docs("stub", "echo", detail="full"))
print(len(await runtime.query_tool_docs("github", detail="name")))
tools = await runtime.list_tools("github")
print(tools[0]["name"], tools[0]["annotations"]["readOnlyHint"])
try:
    runtime.describe_server("nope")
except runtime.MCPError as exc:
    print(exc)
print(runtime.capability_summary().splitlines()[0])
"#,
    )
    .await;
    assert_eq!(out[0], "('stub', 'github') ('github', 'stub')");
    assert_eq!(out[1], "('stub', 'github')");
    assert_eq!(out[2], "{'name': 'stub', 'description': 'Edge-case stub'}");
    assert_eq!(
        out[3],
        "github ['get_issue', 'list_issues'] ['alias', 'description', 'input_schema', 'name']"
    );
    assert_eq!(out[4], "2 12");
    assert_eq!(
        out[5],
        "[{'server': 'stub', 'serverAlias': 'stub', 'tool': 'read-file', 'toolAlias': 'read_file', \
         'description': 'A hyphenated tool name.'}]"
    );
    assert!(out[6].starts_with("{'server': 'stub', 'serverAlias': 'stub', 'tool': 'echo'"));
    assert!(out[6].contains("'inputSchema': {"), "{}", out[6]);
    assert_eq!(out[7], "6");
    assert_eq!(out[8], "get_issue True");
    assert_eq!(out[9], "Server 'nope' is not loaded (loaded: stub, github)");
    assert_eq!(out[10], "# Code Execution MCP Capabilities");
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn search_covers_every_discovered_server_from_a_disk_cache() {
    common::engine().await;
    // `github` writes its pid to a file at each start: a search starts it once, just to list its tools, and a
    // second bridge searches it from the disk cache without starting it.
    let project = Project::new(json!({}));
    let starts = project.path("github-starts");
    let launcher = format!(
        "echo $$ >> '{}'; exec python3 '{}' --profile github",
        starts.display(),
        common::stub_script()
    );
    project.servers(json!({
        "stub": {"command": "python3", "args": [common::stub_script()]},
        "github": {"command": "sh", "args": ["-c", launcher]},
    }));
    let search = r#"
docs = await runtime.search_tool_docs("issue", limit=3)
print([(d["server"], d["tool"]) for d in docs])
print(sorted(runtime.search_tool_docs_sync("echo text", detail="name")[0]))
print(await runtime.search_tool_docs("zzzz-nothing"))
"#;
    for round in 1..=2 {
        let bridge = project.bridge();
        let out = ok(&bridge, &["stub"], search).await;
        assert_eq!(
            out[0],
            "[('github', 'get_issue'), ('github', 'list_issues'), ('github', 'issue_summary')]",
            "round {round}"
        );
        assert_eq!(out[1], "['server', 'serverAlias', 'tool', 'toolAlias']");
        assert_eq!(out[2], "[]");
        // The server started for the index is not kept running, even while the bridge lives.
        let pid = std::fs::read_to_string(&starts).unwrap();
        let proc = format!("/proc/{}", pid.lines().next().unwrap());
        common::eventually(
            "the github server started for search has exited",
            || async {
                std::fs::read_to_string(format!("{proc}/stat"))
                    .map_or(true, |stat| stat.contains(") Z "))
            },
        )
        .await;
        common::finish(&bridge).await;
    }
    let started = std::fs::read_to_string(&starts).unwrap();
    assert_eq!(
        started.lines().count(),
        1,
        "github was started again instead of read from the cache"
    );
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn policies_decide_every_call_and_the_audit_log_records_it() {
    common::engine().await;
    let example = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/rules/examples/deny-github-writes.toml")
        .display()
        .to_string();
    let project = standard().var("MCP_BRIDGE_CONFIG", &example);
    let bridge = project.bridge();
    let out = ok(
        &bridge,
        &["github"],
        r#"
for name, args in (("get_issue", {"number": 1}), ("list_issues", {}), ("search_code", {"query": "x"}),
                   ("issue_summary", {"number": 2}), ("create_issue", {"title": "t"}),
                   ("delete_repository", {})):
    try:
        r = await runtime.call_tool("github", name, args)
        print("allowed", name, r.data["tool"])
    except runtime.PolicyDenied as exc:
        print("denied", name, exc.reason.split(":")[0])
print("still running")
"#,
    )
    .await;
    assert_eq!(
        out,
        [
            "allowed get_issue get_issue",
            "allowed list_issues list_issues",
            "allowed search_code search_code",
            "allowed issue_summary issue_summary",
            "denied create_issue denied by policy 'rules'",
            "denied delete_repository denied by policy 'rules'",
            "still running",
        ]
    );
    let audit = project.audit_lines();
    // One `call` line per call, and a `call-end` for each call that went out.
    let calls: Vec<&Value> = audit.iter().filter(|l| l["event"] == "call").collect();
    let ends: Vec<&Value> = audit.iter().filter(|l| l["event"] == "call-end").collect();
    assert_eq!(calls.len(), 6, "{audit:?}");
    assert_eq!(ends.len(), 4, "{audit:?}");
    let create = calls[4];
    assert_eq!(create["tool"], "create_issue");
    assert_eq!(create["decision"], "deny");
    assert_eq!(create["decided_by"], "rules");
    assert!(
        create["error"]
            .as_str()
            .unwrap()
            .contains("may change GitHub")
    );
    assert!(
        create.get("arguments").is_none(),
        "arguments logged without log-arguments"
    );
    let get = calls[0];
    assert_eq!(get["decision"], "allow");
    assert_eq!(get["argument_bytes"], 12);
    let end = ends[0];
    assert_eq!(end["call"], get["call"]);
    assert!(end["result_bytes"].as_u64().unwrap() > 0);
    assert_eq!(end["outcome"], "ok");
    assert!(get["run_id"].as_str().unwrap().starts_with('r'));
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn an_ask_without_elicitation_is_a_deny_that_says_why() {
    common::engine().await;
    let project = standard();
    let config = project.path("ask.toml");
    std::fs::write(
        &config,
        r#"
[audit]
log-arguments = true
[plugins.rules]
enabled = true
[plugins.rules.config]
default = "allow"
rules = [{ server = "stub", tool = "echo", action = "ask", reason = "echo needs a human" }]
"#,
    )
    .unwrap();
    let project = project.var("MCP_BRIDGE_CONFIG", &config.display().to_string());
    let bridge = project.bridge();
    let out = ok(
        &bridge,
        &["stub"],
        r#"
try:
    await mcp_stub.echo(text="hi")
except runtime.PolicyDenied as exc:
    print(exc)
print((await mcp_stub.add(a=1)).data["sum"])
"#,
    )
    .await;
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[0].starts_with("policy 'rules' asks: "), "{}", out[0]);
    assert!(
        out[0].ends_with(
            "but this client cannot be asked (no MCP elicitation), so the call is denied"
        ),
        "{}",
        out[0]
    );
    assert_eq!(out[1], "1");
    let audit = project.audit_lines();
    assert_eq!(audit[0]["decision"], "deny");
    assert_eq!(audit[0]["arguments"], json!({"text": "hi"}));
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_crash_mid_call_is_a_clear_error_and_the_next_call_restarts_the_server() {
    common::engine().await;
    let project = standard();
    let bridge = project.bridge();
    let out = ok(
        &bridge,
        &["stub"],
        r#"
before = (await mcp_stub.pid()).text
try:
    await mcp_stub.crash()
except runtime.MCPError as exc:
    print(str(exc).splitlines()[0])
    print(str(exc).splitlines()[-1].strip())
after = (await mcp_stub.pid()).text
print(before != after, (await mcp_stub.echo(text="back")).text)
"#,
    )
    .await;
    assert_eq!(
        out,
        [
            // The server's stderr stays in the bridge's log: the sandbox sees only where to look.
            "MCP server 'stub' stopped while handling tools/call 'crash'; it will be restarted on the next call \
             (see the bridge's log)",
            "MCP server 'stub' stopped while handling tools/call 'crash'; it will be restarted on the next call \
             (see the bridge's log)",
            "True back",
        ]
    );
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_call_the_server_never_answers_times_out_and_the_run_goes_on() {
    common::engine().await;
    let project = Project::new(json!({
        "stub": {"command": "python3", "args": [common::stub_script(), "--limit-tools"]},
    }))
    .var("MCP_BRIDGE_TOOL_TIMEOUT", "2");
    let bridge = project.bridge();
    let out = ok(
        &bridge,
        &["stub"],
        r#"
import json
import time
started = time.monotonic()
try:
    await mcp_stub.hang()
except runtime.MCPError as exc:
    print(str(exc).splitlines()[0])
print(round(time.monotonic() - started), (await mcp_stub.echo(text="after")).text)
print(len(json.loads((await mcp_stub.cancelled()).text)))
"#,
    )
    .await;
    assert_eq!(
        out,
        [
            "MCP server 'stub' did not answer tools/call 'hang' within 2 s (MCP_BRIDGE_TOOL_TIMEOUT), so the call \
             was cancelled",
            "2 after",
            "1",
        ]
    );
    let ended = project.audit_events("call-end");
    assert_eq!(ended[0]["outcome"], "failed", "{ended:?}");
    assert_eq!(ended[1]["outcome"], "ok", "{ended:?}");
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn tools_list_changed_refreshes_the_next_runs_functions() {
    common::engine().await;
    let project = standard();
    let bridge = project.bridge();
    ok(&bridge, &["stub"], "await mcp_stub.grow(name='fresh-tool')").await;
    let out = ok(
        &bridge,
        &["stub"],
        "print((await mcp_stub.fresh_tool()).text, 'fresh_tool' in dir(mcp_stub))",
    )
    .await;
    assert_eq!(out, ["called fresh-tool True"]);
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn results_over_a_megabyte_arrive_whole_and_calls_run_concurrently() {
    common::engine().await;
    let project = standard();
    let bridge = project.bridge();
    let out = ok(
        &bridge,
        &["stub"],
        r#"
import asyncio, time
r = await mcp_stub.big(size=3_000_000)
print(len(r.text), set(r.text))
started = time.monotonic()
await asyncio.gather(*(mcp_stub.slow(seconds=1) for _ in range(4)))
print(time.monotonic() - started < 2.5)
# At most 64 requests in flight per run: the rest are refused at once, not queued without bound.
results = await asyncio.gather(*(mcp_stub.slow(seconds=2) for _ in range(70)), return_exceptions=True)
refused = [r for r in results if isinstance(r, runtime.MCPError)]
print(len(results) - len(refused), len(refused), str(refused[0]).split(" (")[0])
"#,
    )
    .await;
    assert_eq!(
        out,
        ["3000000 {'x'}", "True", "64 6 too many requests at once"]
    );
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn stdio_servers_get_a_minimal_environment_their_env_and_cwd() {
    common::engine().await;
    let project = Project::new(json!({}));
    let workdir = project.path("server-cwd");
    std::fs::create_dir_all(&workdir).unwrap();
    project.servers(json!({"stub": {
        "command": "python3", "args": [common::stub_script()],
        "env": {"GREETING": "hello"}, "cwd": workdir.display().to_string(),
    }}));
    let bridge = project.bridge();
    // CARGO_MANIFEST_DIR is in this test process's environment (cargo sets it), so it stands in for any
    // variable of the bridge that must not leak to servers.
    assert!(std::env::var("CARGO_MANIFEST_DIR").is_ok());
    let out = ok(
        &bridge,
        &["stub"],
        r#"
for name in ("GREETING", "PATH", "CARGO_MANIFEST_DIR"):
    data = (await mcp_stub.env(name=name)).data
    print(name, data["value"] is not None, data["cwd"])
"#,
    )
    .await;
    let cwd = workdir.canonicalize().unwrap().display().to_string();
    assert_eq!(
        out,
        [
            format!("GREETING True {cwd}"),
            format!("PATH True {cwd}"),
            format!("CARGO_MANIFEST_DIR False {cwd}"),
        ]
    );
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn unknown_disabled_and_failing_servers_are_reported_before_the_run() {
    common::engine().await;
    let project = Project::new(json!({
        "stub": {"command": "python3", "args": [common::stub_script()]},
        "off": {"command": "python3", "args": [common::stub_script()], "disabled": true},
        "broken": {"command": "python3", "args": [common::stub_script(), "--fail-start", "GITHUB_TOKEN is not set"]},
        "missing": {"command": "/nonexistent/mcp-server"},
    }));
    let bridge = project.bridge();
    let message = |response: Response| response.payload.error.clone().unwrap_or_default();
    let unknown = message(run_with(&bridge, &["nope"], "print(1)", None).await);
    assert_eq!(
        unknown,
        "Unknown MCP server: nope; configured servers: stub, broken, missing"
    );
    let off = message(run_with(&bridge, &["off"], "print(1)", None).await);
    assert!(off.starts_with("MCP server 'off' is disabled in "), "{off}");
    let broken = message(run_with(&bridge, &["broken"], "print(1)", None).await);
    assert!(
        broken.starts_with("MCP server 'broken' failed to start: "),
        "{broken}"
    );
    assert!(
        !broken.contains("GITHUB_TOKEN") && broken.ends_with("(see the bridge's log)"),
        "{broken}"
    );
    let missing = message(run_with(&bridge, &["missing"], "print(1)", None).await);
    assert!(
        missing.contains("cannot run \"/nonexistent/mcp-server\""),
        "{missing}"
    );
    // The bridge still serves.
    assert_eq!(
        ok(&bridge, &["stub"], "print(LOADED_MCP_SERVERS)").await,
        ["('stub',)"]
    );
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn shutdown_ends_every_upstream_process() {
    common::engine().await;
    let project = standard();
    let bridge = project.bridge();
    let out = ok(
        &bridge,
        &["stub", "github"],
        "print((await mcp_stub.pid()).text)",
    )
    .await;
    let pid: i32 = out[0].parse().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    common::finish(&bridge).await;
    common::eventually("the stub server has exited", || async {
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| stat.contains(") Z "))
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn memory_and_saved_tools_outlive_the_run() {
    common::engine().await;
    let project = standard();
    let bridge = project.bridge();
    let out = ok(
        &bridge,
        &[],
        r#"
print(save_memory("notes/today", {"items": [1, 2]}, metadata={"tag": "t"}))
print(runtime.save_memory("counter", 1))
def double(x):
    """Twice x."""
    return 2 * x
print(save_tool(double))
try:
    save_memory("   ", 1)
except runtime.MCPError as exc:
    print(exc)
"#,
    )
    .await;
    assert_eq!(
        out,
        [
            "Memory 'notes_today' saved.",
            "Memory 'counter' saved.",
            "Tool 'double' saved. It will be available in future sessions.",
            "Memory key cannot be empty",
        ]
    );
    let out = ok(
        &bridge,
        &[],
        r#"
print(load_memory("notes/today")["items"], load_memory("missing", default="none"))
print(update_memory("counter", lambda n: n + 1), memory_exists("counter"), memory_exists("nope"))
print([m["key"] for m in list_memories()], get_memory_info("notes_today")["metadata"])
print(delete_memory("counter"), delete_memory("counter"))
from mcp.user_tools import double
import user_tools
print(double(21), user_tools.double.__doc__)
"#,
    )
    .await;
    assert_eq!(
        out,
        [
            "[1, 2] none",
            "2 True False",
            "['counter', 'notes_today'] {'tag': 't'}",
            "Memory 'counter' deleted. Memory 'counter' not found.",
            "42 Twice x.",
        ]
    );
    let saved =
        std::fs::read_to_string(project.path("state/user_tools/memory/notes_today.json")).unwrap();
    assert!(saved.contains("\"items\""), "{saved}");
    common::finish(&bridge).await;
}
