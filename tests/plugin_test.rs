//! `bridge plugin test` and `bridge plugin check --call/--run-code`, through the real binary: the shipped cases
//! of `deny-github-writes.toml` pass, a wrong expectation fails like a test runner's, a bad cases file and a
//! policy that does not load run no case, and the one-off forms print the decision.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fixtures::fixture;
use tempfile::TempDir;

fn bridge(args: &[&str]) -> Output {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-plugin-cache");
    Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(args)
        .env("MCP_BRIDGE_CACHE_DIR", cache)
        .env("MCP_BRIDGE_LOG_LEVEL", "error")
        .output()
        .expect("bridge runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(relative)
        .display()
        .to_string()
}

fn write(dir: &TempDir, name: &str, content: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn the_shipped_cases_of_deny_github_writes_pass() {
    let out = bridge(&[
        "plugin",
        "test",
        &repo("plugins/rules/examples/deny-github-writes.toml"),
        &repo("plugins/rules/examples/deny-github-writes.cases.toml"),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("(policies: rules)"), "{stdout}");
    assert!(stdout.ends_with("ok: 9 passed, 0 failed\n"), "{stdout}");
}

#[test]
fn a_wrong_expectation_fails_naming_what_was_decided_and_every_case_still_runs() {
    let dir = TempDir::new().unwrap();
    let cases = write(
        &dir,
        "cases.toml",
        r#"
[[case]]
name = "creating an issue is allowed (wrong)"
call = { server = "github", tool = "create_issue" }
expect = "allow"

[[case]]
name = "the reason names the tool (wrong reason)"
call = { server = "github", tool = "create_issue" }
expect = "deny"
reason = "no such words"

[[case]]
call = { server = "github", tool = "get_me" }
expect = "allow"
"#,
    );
    let out = bridge(&[
        "plugin",
        "test",
        &repo("plugins/rules/examples/deny-github-writes.toml"),
        cases.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "  FAIL  creating an issue is allowed (wrong): expected allow, got deny by rules: create_issue may \
             change GitHub"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  FAIL  the reason names the tool (wrong reason): deny as expected, but the reason does not contain \
             \"no such words\""
        ),
        "{stdout}"
    );
    assert!(stdout.contains("  ok    case 3: allow"), "{stdout}");
    assert!(stdout.ends_with("FAILED: 1 passed, 2 failed\n"), "{stdout}");

    // The same as JSON, for a CI that reads it.
    let out = bridge(&[
        "plugin",
        "test",
        &repo("plugins/rules/examples/deny-github-writes.toml"),
        cases.to_str().unwrap(),
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failed"], 2);
    assert_eq!(report["cases"][0]["decision"], "deny");
    assert_eq!(report["cases"][0]["decided_by"], "rules");
    assert_eq!(report["cases"][2]["passed"], true);
}

#[test]
fn a_bad_cases_file_is_refused_saying_where_and_runs_nothing() {
    let dir = TempDir::new().unwrap();
    let target = repo("plugins/rules/examples/deny-github-writes.toml");
    for (content, expected) in [
        ("", "has no cases"),
        (
            "[[case]]\nexpect = \"allow\"\n",
            "case 1: has neither a call nor a run",
        ),
        (
            "[[case]]\nname = \"both\"\ncall = { server = \"s\", tool = \"t\" }\nrun = { code = \"x\" }\nexpect = \"deny\"\n",
            "both: has both a call and a run",
        ),
        (
            "[[case]]\ncall = { server = \"s\", tool = \"t\" }\nexpect = \"maybe\"\n",
            "unknown variant `maybe`",
        ),
        (
            "[[case]]\ncall = { server = \"s\", tool = \"t\", annotation = {} }\nexpect = \"allow\"\n",
            "unknown field `annotation`",
        ),
    ] {
        let cases = write(&dir, "cases.toml", content);
        let out = bridge(&["plugin", "test", &target, cases.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{content}: {stderr}");
        assert!(stderr.contains(expected), "{content}: {stderr}");
        assert!(out.stdout.is_empty(), "{content}");
    }
    // JSON cases: an array of the same tables.
    let cases = write(
        &dir,
        "cases.json",
        r#"[{"call": {"server": "github", "tool": "delete_repository"}, "expect": "deny"}]"#,
    );
    let out = bridge(&["plugin", "test", &target, cases.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn a_component_is_tested_with_its_configuration_and_one_that_does_not_load_runs_no_case() {
    let dir = TempDir::new().unwrap();
    let cases = write(
        &dir,
        "cases.toml",
        r#"
[[case]]
call = { server = "s", tool = "t" }
expect = "ask"
reason = "fixture asks about s.t"

[[case]]
run = { code = "print(1)", purpose = "save-tool", tool_name = "fmt" }
expect = "ask"
reason = "save-tool fmt"
"#,
    );
    let component = fixture("fixture_misbehaving.wasm");
    let component = component.to_str().unwrap();
    let out = bridge(&[
        "plugin",
        "test",
        component,
        cases.to_str().unwrap(),
        "--config",
        r#"{"mode": "ask"}"#,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // A policy whose configuration it refuses is not in force, so nothing is judged (as `serve` runs nothing).
    let config = write(
        &dir,
        "bridge.toml",
        "[plugins.rules]\nenabled = true\n[plugins.rules.config]\ndefault = \"maybe\"\n",
    );
    let out = bridge(&[
        "plugin",
        "test",
        config.to_str().unwrap(),
        cases.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .contains("the policies are not in force, so no case ran: policy 'rules' (builtin) is not in force: configure \
             failed: default: expected allow, deny or ask"),
        "{stdout}"
    );
}

#[test]
fn plugin_check_prints_a_policys_decision_on_one_call_or_one_run() {
    let component = fixture("fixture_misbehaving.wasm");
    let component = component.to_str().unwrap();
    let out = bridge(&[
        "plugin",
        "check",
        component,
        "--config",
        r#"{"mode": "deny"}"#,
        "--call",
        r#"{"server": "github", "tool": "delete_repository", "annotations": {"destructive": true}}"#,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout
            .contains("decision:    deny by misbehaving: fixture denies github.delete_repository"),
        "{stdout}"
    );
    let out = bridge(&[
        "plugin",
        "check",
        component,
        "--run-code",
        "import os; os.system('x')",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["decided"]["decision"], "allow", "{report}");

    let out = bridge(&["plugin", "check", component, "--call", "{not json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--call takes a JSON object such as"),
        "{}",
        text(&out.stderr)
    );
}
