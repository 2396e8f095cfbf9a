//! The plugin API's versions with real components: plugins built against 0.1.0 (the built-ins' 0.1.0 builds,
//! kept in `tests/fixtures/v0_1`) load and behave as they always did next to 0.2.0 ones; a 0.2.0 policy's
//! `check-result` withholds or replaces tool results, sees why it is asked (`purpose`) and writes to the log;
//! a plugin built against an unknown future version is listed as failed with the versions this bridge loads.

mod common;

use std::path::Path;
use std::process::Command;

use common::fixtures::{fixture, v0_1_builtin};
use common::project::{Project, run_with};
use mcp_bridge::plugins::{
    ApiVersion, CallCheck, CallLimits, DiscoveryContext, Kind, PluginHost, ResultCheck,
    ResultVerdict, RunCheck, RunPurpose, Verdict,
};
use mcp_bridge::response::Payload;
use serde_json::{Value, json};
use tempfile::TempDir;

fn single(path: &Path, config: Value) -> PluginHost {
    PluginHost::single(path, &config.to_string(), CallLimits::default()).unwrap()
}

/// The host `bridge serve` would have with no config files: every built-in at its current API version.
fn builtins() -> PluginHost {
    let home = TempDir::new().unwrap();
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-plugin-cache");
    let config = common::config(&[
        ("HOME", &home.path().display().to_string()),
        ("MCP_BRIDGE_CACHE_DIR", &cache.display().to_string()),
    ]);
    mcp_bridge::project::Workspace::open(&config, home.path())
        .unwrap()
        .plugins
}

fn payloads() -> Vec<Payload> {
    [
        json!({"status": "success", "summary": "Success", "exitCode": 0, "stdout": ["a, b", "x: y", "ünï ✓"]}),
        json!({"status": "error", "summary": "Sandbox error: Sandbox exited with code 1", "exitCode": 1,
               "servers": ["stub"], "stderr": ["Traceback (most recent call last):", "ValueError: boom"],
               "error": "Sandbox exited with code 1"}),
        json!({"status": "timeout", "summary": "Timeout", "stdout": ["partial"], "timeoutSeconds": 5}),
        json!({"status": "validation_error", "summary": "Missing 'code'", "error": "Missing 'code'"}),
        json!({"status": "success", "summary": "Success", "stdout": ["[{\"id\": 1, \"name\": \"x\"}]"]}),
    ]
    .into_iter()
    .map(|p| serde_json::from_value(p).unwrap())
    .collect()
}

fn call(server: &str, tool: &str) -> CallCheck {
    CallCheck {
        run_id: "r-api".into(),
        server: server.into(),
        tool: tool.into(),
        arguments: "{}".into(),
        ..CallCheck::default()
    }
}

#[test]
fn encoders_built_against_0_1_render_exactly_as_the_current_builtins() {
    let current = builtins();
    for name in ["compact", "toon", "json", "auto"] {
        let old = single(&v0_1_builtin(name), json!({}));
        let report = &old.reports()[0];
        assert_eq!(report.status, "loaded", "{name}: {report:?}");
        assert_eq!(report.api_version, Some(ApiVersion::V0_1_0), "{name}");
        assert_eq!(report.kind, Some(Kind::Encoder), "{name}");
        for payload in payloads() {
            let then = old.encode(name, &payload).unwrap();
            let now = current.encode(name, &payload).unwrap();
            assert_eq!(then, now, "{name} renders {payload:?} differently");
        }
    }
}

#[test]
fn the_0_1_rules_policy_decides_as_documented() {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("plugins/rules/examples/deny-github-writes.toml"),
    )
    .unwrap();
    let table: toml::Table = toml::from_str(&example).unwrap();
    let config = serde_json::to_value(&table["plugins"]["rules"]["config"]).unwrap();
    let rules = single(&v0_1_builtin("rules"), config);
    assert_eq!(rules.reports()[0].status, "loaded", "{:?}", rules.reports());
    assert_eq!(rules.reports()[0].api_version, Some(ApiVersion::V0_1_0));
    assert!(matches!(
        rules.check_call(&call("github", "create_issue")),
        Verdict::Deny { .. }
    ));
    assert_eq!(
        rules.check_call(&call("github", "get_issue")),
        Verdict::Allow
    );
    assert_eq!(
        rules.check_call(&call("other", "create_issue")),
        Verdict::Allow
    );
    // 0.1.0 has no check-result: results pass, and the host knows not to ask.
    assert!(!rules.inspects_results());
    let result = ResultCheck {
        call: call("github", "get_issue"),
        result: json!({"content": []}).to_string(),
    };
    assert_eq!(rules.check_result(&result), ResultVerdict::Allow);
}

#[test]
fn the_0_1_discovery_plugin_reads_the_same_servers() {
    let home = TempDir::new().unwrap();
    std::fs::write(
        home.path().join(".claude.json"),
        json!({"mcpServers": {"fs": {"command": "npx", "args": ["-y", "fs"]},
                              "web": {"url": "https://example.com/mcp", "type": "http"}}})
        .to_string(),
    )
    .unwrap();
    let context = || DiscoveryContext {
        home: home.path().to_path_buf(),
        cwd: home.path().join("nowhere"),
        env: Box::new(|_| None),
    };
    let old = single(&v0_1_builtin("config-files"), json!({}));
    assert_eq!(old.reports()[0].api_version, Some(ApiVersion::V0_1_0));
    let entries = |host: &PluginHost| {
        let mut found: Vec<_> = host
            .discover(&context())
            .into_iter()
            .flat_map(|file| file.entries.unwrap())
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    };
    let then = entries(&old);
    assert_eq!(then.len(), 2, "{then:?}");
    assert_eq!(then, entries(&builtins()));
}

#[test]
fn a_plugin_from_a_future_api_version_fails_naming_the_supported_range() {
    let future = single(&fixture("fixture_future.wasm"), json!({}));
    let report = &future.reports()[0];
    assert!(
        report
            .status
            .contains("built against mcp-bridge:plugin@0.3.0")
            && report.status.contains("0.1.0 to 0.2.0"),
        "{}",
        report.status
    );
    // It may be a policy: runs are refused rather than run without it.
    assert!(report.blocks_runs);

    let dir = TempDir::new().unwrap();
    std::fs::copy(
        fixture("fixture_future.wasm"),
        dir.path().join("future.wasm"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(["plugin", "list", "--json"])
        .env("HOME", dir.path())
        .env("MCP_BRIDGE_PLUGIN_PATH", dir.path())
        .env(
            "MCP_BRIDGE_CACHE_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-plugin-cache"),
        )
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let plugins = listed["plugins"].as_array().unwrap();
    let future = plugins.iter().find(|p| p["name"] == "future").unwrap();
    assert!(
        future["status"]
            .as_str()
            .unwrap()
            .contains("0.1.0 to 0.2.0"),
        "{future}"
    );
    let compact = plugins.iter().find(|p| p["name"] == "compact").unwrap();
    assert_eq!(compact["api_version"], "0.2.0");
}

fn misbehaving(config: Value) -> PluginHost {
    let host = single(&fixture("fixture_misbehaving.wasm"), config);
    assert_eq!(host.reports()[0].status, "loaded", "{:?}", host.reports());
    assert_eq!(host.reports()[0].api_version, Some(ApiVersion::V0_2_0));
    host
}

fn result_of(text: &str) -> ResultCheck {
    ResultCheck {
        call: call("stub", "echo"),
        result: json!({"content": [{"type": "text", "text": text}]}).to_string(),
    }
}

#[test]
fn check_result_lets_through_replaces_withholds_and_fails_closed() {
    let allow = misbehaving(json!({"result": "allow"}));
    assert!(allow.inspects_results());
    assert_eq!(allow.check_result(&result_of("x")), ResultVerdict::Allow);

    match misbehaving(json!({"result": "replace"})).check_result(&result_of("secret")) {
        ResultVerdict::Replaced { plugins, result } => {
            assert_eq!(plugins, ["misbehaving"]);
            assert!(result.contains("[fixture replaced]"), "{result}");
            assert!(!result.contains("secret"));
        }
        other => panic!("expected a replacement, got {other:?}"),
    }

    let deny = misbehaving(json!({"result": "deny"})).check_result(&result_of("x"));
    assert_eq!(
        deny.describe(),
        "result withheld by policy 'misbehaving': fixture withholds the result of stub.echo"
    );

    // A replacement that is not a CallToolResult, and a trap, withhold the result.
    for (mode, expected) in [
        ("invalid", "not a valid tool result"),
        ("trap", "the policy failed"),
        ("loop", "deadline"),
    ] {
        match misbehaving(json!({ "result": mode })).check_result(&result_of("x")) {
            ResultVerdict::Deny { plugin, reason } => {
                assert_eq!(plugin, "misbehaving");
                assert!(reason.contains(expected), "{mode}: {reason}");
            }
            other => panic!("{mode}: expected a deny, got {other:?}"),
        }
    }
}

#[test]
fn a_0_2_policy_is_told_why_it_is_asked() {
    let host = misbehaving(json!({"mode": "deny"}));
    let reason = |purpose: RunPurpose| match host.check_run(&RunCheck {
        run_id: "r1".into(),
        servers: vec!["stub".into()],
        purpose,
        ..RunCheck::default()
    }) {
        Verdict::Deny { reason, .. } => reason,
        other => panic!("expected a deny, got {other:?}"),
    };
    assert_eq!(reason(RunPurpose::Run), "fixture denies run r1");
    assert_eq!(
        reason(RunPurpose::SaveTool("fmt".into())),
        "fixture denies save-tool fmt of r1"
    );
    assert_eq!(
        reason(RunPurpose::LoadTool("fmt".into())),
        "fixture denies load-tool fmt of r1"
    );
    assert_eq!(
        reason(RunPurpose::Search),
        "fixture denies search (stub) of r1"
    );
}

#[test]
fn a_0_2_plugin_writes_to_the_bridge_log() {
    let out = Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(["plugin", "check"])
        .arg(fixture("fixture_misbehaving.wasm"))
        .args(["--config", r#"{"mode": "ask"}"#])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("plugin API:  0.2.0"), "{stdout}");
    assert!(
        stderr.contains("fixture configured: mode=ask result=allow"),
        "{stderr}"
    );
}

#[test]
fn a_component_built_for_the_async_abi_is_refused_saying_which_builder_option_to_change() {
    // The smallest component that needs the async ABI: one `context.get`, which componentize-qjs's default
    // (async) runtime uses.
    let component = wat::parse_str(
        r#"(component
             (core module $m (import "" "get" (func (result i32))))
             (core func $get (canon context.get i32 0))
             (core instance (instantiate $m (with "" (instance (export "get" (func $get))))))
           )"#,
    )
    .unwrap();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("async.wasm");
    std::fs::write(&path, component).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(["plugin", "check"])
        .arg(&path)
        .env("MCP_BRIDGE_CACHE_DIR", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("it was built for the component-model async ABI")
            && stdout.contains("with componentize-qjs pass `sync: true` to `componentize()`"),
        "{stdout}"
    );
}

#[test]
fn plugin_check_compiles_a_file_once_then_loads_it_from_the_precompile_cache() {
    let cache = TempDir::new().unwrap();
    let check = || {
        let out = Command::new(env!("CARGO_BIN_EXE_bridge"))
            .args(["plugin", "check"])
            .arg(fixture("fixture_misbehaving.wasm"))
            .env("MCP_BRIDGE_CACHE_DIR", cache.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}");
        stdout
            .lines()
            .find_map(|line| line.strip_prefix("compiled:    "))
            .unwrap_or_else(|| panic!("no compiled line: {stdout}"))
            .to_string()
    };
    assert_eq!(
        check(),
        format!(
            "yes, and stored in the precompile cache ({}): the next load of this file skips it",
            cache.path().display()
        )
    );
    assert_eq!(check(), "no: loaded from the precompile cache");
}

/// The whole path with a real container and a real MCP server: the result the code sees is the policy's
/// replacement, and the audit log records it as handed back and who changed it.
#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_replaced_result_is_what_the_sandbox_and_the_audit_log_see() {
    common::engine().await;
    let plugins = TempDir::new().unwrap();
    std::fs::copy(
        fixture("fixture_misbehaving.wasm"),
        plugins.path().join("misbehaving.wasm"),
    )
    .unwrap();
    let project = Project::stub()
        .var(
            "MCP_BRIDGE_PLUGIN_PATH",
            &plugins.path().display().to_string(),
        )
        .with_config(
            "[audit]\nlog-results = true\n[plugins.misbehaving.config]\nresult = \"replace\"\n",
        );
    let bridge = project.bridge();
    let code = "print((await mcp_stub.echo(text='ghp_not_for_you')).text)";
    let response = run_with(&bridge, &["stub"], code, None).await;
    assert_eq!(
        response.payload.stdout,
        ["[fixture replaced]"],
        "{:?}",
        response.payload
    );
    let ends = project.audit_events("call-end");
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!(ends[0]["result_changed_by"], "misbehaving", "{}", ends[0]);
    assert!(
        !ends[0].to_string().contains("ghp_not_for_you"),
        "{}",
        ends[0]
    );

    let withholding = Project::stub()
        .var(
            "MCP_BRIDGE_PLUGIN_PATH",
            &plugins.path().display().to_string(),
        )
        .with_config("[plugins.misbehaving.config]\nresult = \"deny\"\n");
    let code = "\
try:
    await mcp_stub.echo(text='x')
except runtime.PolicyDenied as e:
    print('denied:', e)
";
    let response = run_with(&withholding.bridge(), &["stub"], code, None).await;
    let stdout = response.payload.stdout.join("\n");
    assert!(
        stdout.contains("denied:") && stdout.contains("fixture withholds the result of stub.echo"),
        "{:?}",
        response.payload
    );
    let ends = withholding.audit_events("call-end");
    assert_eq!(ends[0]["outcome"], "withheld", "{}", ends[0]);
}

/// A policy stuck in a loop holds up only the request waiting for it: plugin calls run on the blocking pool,
/// so even a single-threaded runtime keeps serving, and the call still ends at its deadline (as a deny).
#[tokio::test(flavor = "current_thread")]
async fn a_looping_policy_holds_up_only_its_own_request() {
    let limits = CallLimits {
        timeout: std::time::Duration::from_secs(2),
        ..CallLimits::default()
    };
    let host = std::sync::Arc::new(
        PluginHost::single(
            &fixture("fixture_misbehaving.wasm"),
            r#"{"mode": "loop"}"#,
            limits,
        )
        .unwrap(),
    );
    let stuck = tokio::spawn({
        let host = host.clone();
        async move { host.check_call_async(call("stub", "echo")).await }
    });
    // This timer can only fire while the policy loops if the loop is not on this runtime's one thread.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        !stuck.is_finished(),
        "the policy is still looping when the timer fires"
    );
    match stuck.await.unwrap() {
        Verdict::Deny { reason, .. } => assert!(reason.contains("deadline"), "{reason}"),
        other => panic!("expected a deny, got {other:?}"),
    }
}

/// The built-in `secrets` policy (API 0.2.0) end to end: a real MCP server's result carrying a token comes back
/// to the code masked, a call that tries to send the token out is refused naming the rule and the argument,
/// and neither the reason nor the audit log holds the secret.
#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn secrets_masks_tokens_in_results_and_refuses_to_send_them_out() {
    common::engine().await;
    // Assembled at run time so that no scanner flags this file; shaped like a real GitHub token.
    let token = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
    let project = Project::new(json!({"stub": {
        "command": "python3",
        "args": [common::stub_script()],
        "env": {"GITHUB_TOKEN": token},
    }}))
    .with_config("[audit]\nlog-results = true\n[plugins.secrets]\nenabled = true\n");
    let bridge = project.bridge();
    let code = "\
import json, os
found = await mcp_stub.env(name='GITHUB_TOKEN')
token = os.environ.get('NOT_HERE') or json.loads(found.text)['value']
print(token)
try:
    await mcp_stub.echo(text='ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8')
except runtime.PolicyDenied as e:
    print('denied:', e)
";
    let response = run_with(&bridge, &["stub"], code, None).await;
    let stdout = response.payload.stdout.clone();
    assert_eq!(
        stdout.first().map(String::as_str),
        Some("[REDACTED:github-token]"),
        "{:?}",
        response.payload
    );
    let denied = stdout.get(1).cloned().unwrap_or_default();
    assert!(
        denied.starts_with("denied:")
            && denied.contains("github-token")
            && denied.contains("arguments.text"),
        "{denied}"
    );
    let everything = format!("{stdout:?} {:?}", project.audit_lines());
    assert!(
        !everything.contains(&token),
        "the secret leaked: {everything}"
    );
    let ends = project.audit_events("call-end");
    assert_eq!(ends.len(), 1, "only the allowed call ended: {ends:?}");
    assert_eq!(ends[0]["result_changed_by"], "secrets", "{}", ends[0]);
    let calls = project.audit_events("call");
    assert_eq!(calls[1]["decision"], "deny", "{}", calls[1]);
    assert_eq!(calls[1]["decided_by"], "secrets", "{}", calls[1]);
}
