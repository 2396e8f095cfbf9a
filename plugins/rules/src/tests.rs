//! Native tests of the policy: configuration checking, rule order, globs, annotations, runs, and the shipped
//! example config file.

use crate::policy::{Annotations, Call, Config, Decision, Run};
use crate::{NAME, Rules};
use mcp_bridge_plugin_sdk::{CallRequest, CallResult, Instance, Kind, ResultDecision};

fn config(json: &str) -> Config {
    Config::parse(json).unwrap_or_else(|e| panic!("config {json} refused: {e}"))
}

fn error(json: &str) -> String {
    match Config::parse(json) {
        Ok(_) => panic!("config {json} accepted"),
        Err(e) => e,
    }
}

fn call<'a>(server: &'a str, tool: &'a str) -> Call<'a> {
    Call {
        server,
        tool,
        annotations: Annotations::default(),
    }
}

fn with(mut c: Call<'_>, f: impl FnOnce(&mut Annotations)) -> Call<'_> {
    f(&mut c.annotations);
    c
}

fn run<'a>(code: &'a str, servers: &'a [String], timeout_seconds: u32) -> Run<'a> {
    Run {
        code,
        servers,
        timeout_seconds,
    }
}

fn is_deny(d: &Decision) -> bool {
    matches!(d, Decision::Deny(_))
}

// ---- configuration ----

#[test]
fn empty_config_allows_everything() {
    let c = config("{}");
    assert_eq!(
        c.check_call(&call("github", "delete_repo")),
        Decision::Allow
    );
    assert_eq!(
        c.check_run(&run("import os", &["github".into()], 3600)),
        Decision::Allow
    );
}

#[test]
fn full_config_is_accepted() {
    let c = config(
        r#"{"default": "ask", "default_reason": "ok {tool}?",
            "rules": [{"server": "a*", "tool": ["x", "y?"], "read_only": true, "destructive": false,
                       "idempotent": true, "open_world": false, "action": "deny", "reason": "no"}],
            "run": {"max_timeout": 60, "deny_servers": ["prod-*"], "deny_code_contains": ["eval("],
                    "action": "ask"}}"#,
    );
    assert_eq!(c.rules.len(), 1);
    assert_eq!(c.rules[0].tool.len(), 2);
    assert_eq!(c.run.max_timeout, Some(60));
}

#[test]
fn bad_json_and_non_objects_are_refused() {
    assert!(error("{").contains("not valid JSON"));
    assert_eq!(
        error("[]"),
        "configuration: expected a table (a JSON object), got []"
    );
    assert_eq!(
        error(r#"{"rules": {}}"#),
        "rules: expected a list of rules, got {}"
    );
    assert_eq!(
        error(r#"{"rules": ["x"]}"#),
        r#"rules[0]: expected a table (a JSON object), got "x""#
    );
    assert_eq!(
        error(r#"{"run": 3}"#),
        "run: expected a table (a JSON object), got 3"
    );
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    assert!(
        error(r#"{"rule": []}"#).starts_with(r#"unknown key "rule" (expected one of: default, "#)
    );
    assert!(
        error(r#"{"rules": [{"action": "allow"}, {"action": "deny", "tools": "x"}]}"#)
            .starts_with(r#"rules[1]: unknown key "tools" (expected one of: server, tool, "#)
    );
    assert!(error(r#"{"run": {"timeout": 3}}"#).starts_with(r#"run: unknown key "timeout""#));
    // The MCP spellings are not aliases.
    assert!(
        error(r#"{"rules": [{"readOnlyHint": true, "action": "allow"}]}"#)
            .contains(r#""readOnlyHint""#)
    );
}

#[test]
fn bad_actions_are_refused_with_their_path() {
    let rules = r#"{"rules": [{"action": "allow"}, {"action": "deny"}, {"action": "block"}]}"#;
    assert_eq!(
        error(rules),
        r#"rules[2].action: expected allow, deny or ask, got "block""#
    );
    assert_eq!(
        error(r#"{"default": "Allow"}"#),
        r#"default: expected allow, deny or ask, got "Allow""#
    );
    assert_eq!(
        error(r#"{"default": true}"#),
        "default: expected allow, deny or ask, got true"
    );
    assert_eq!(
        error(r#"{"rules": [{"tool": "x"}]}"#),
        r#"rules[0]: missing "action" (allow, deny or ask)"#
    );
    assert_eq!(
        error(r#"{"run": {"action": "allow"}}"#),
        r#"run.action: expected deny or ask, got "allow""#
    );
}

#[test]
fn bad_globs_are_refused_with_their_path() {
    assert_eq!(
        error(r#"{"rules": [{"tool": "[a-z]*", "action": "deny"}]}"#),
        r#"rules[0].tool: "[a-z]*" contains '[', which is not supported (only * and ? are wildcards)"#
    );
    assert!(
        error(r#"{"rules": [{"tool": ["get_*", "{a,b}"], "action": "deny"}]}"#)
            .starts_with("rules[0].tool[1]: ")
    );
    assert!(
        error(r#"{"rules": [{"server": "", "action": "deny"}]}"#)
            .starts_with("rules[0].server: empty pattern")
    );
    assert_eq!(
        error(r#"{"rules": [{"server": [], "action": "deny"}]}"#),
        "rules[0].server: empty list (it would match nothing)"
    );
    assert_eq!(
        error(r#"{"rules": [{"server": 3, "action": "deny"}]}"#),
        "rules[0].server: expected a glob or a list of globs, got 3"
    );
    assert_eq!(
        error(r#"{"run": {"deny_servers": ["ok", 1]}}"#),
        "run.deny_servers[1]: expected a glob (a string), got 1"
    );
    assert!(error(r#"{"run": {"deny_servers": ["a]"]}}"#).starts_with("run.deny_servers[0]: "));
}

#[test]
fn bad_values_are_refused_with_their_path() {
    assert_eq!(
        error(r#"{"rules": [{"read_only": "yes", "action": "allow"}]}"#),
        r#"rules[0].read_only: expected true or false, got "yes""#
    );
    assert_eq!(
        error(r#"{"rules": [{"open_world": null, "action": "allow"}]}"#),
        "rules[0].open_world: expected true or false, got null"
    );
    assert_eq!(
        error(r#"{"rules": [{"action": "allow", "reason": "because"}]}"#),
        "rules[0].reason: only deny and ask rules use a reason"
    );
    assert_eq!(
        error(r#"{"rules": [{"action": "deny", "reason": " "}]}"#),
        "rules[0].reason: empty text (leave it out to get the default text)"
    );
    assert_eq!(
        error(r#"{"default_reason": "x"}"#),
        "default_reason: only a default of deny or ask uses a reason"
    );
    assert!(
        error(r#"{"run": {"max_timeout": 0}}"#)
            .starts_with("run.max_timeout: expected a whole number")
    );
    assert!(error(r#"{"run": {"max_timeout": 1.5}}"#).starts_with("run.max_timeout: "));
    assert!(error(r#"{"run": {"max_timeout": -3}}"#).starts_with("run.max_timeout: "));
    assert!(error(r#"{"run": {"max_timeout": 99999999999}}"#).starts_with("run.max_timeout: "));
    assert_eq!(
        error(r#"{"run": {"deny_code_contains": [""]}}"#),
        "run.deny_code_contains[0]: empty string (it would match every run)"
    );
    assert_eq!(
        error(r#"{"run": {"deny_code_contains": "os.system("}}"#),
        r#"run.deny_code_contains: expected a list of strings, got "os.system(""#
    );
}

#[test]
fn long_values_are_cut_short_in_errors() {
    let long = "x".repeat(500);
    let e = error(&format!(r#"{{"default": "{long}"}}"#));
    assert!(e.len() < 120, "{e}");
    assert!(e.ends_with('…'));
}

// ---- calls ----

#[test]
fn first_matching_rule_wins() {
    let c = config(
        r#"{"default": "deny", "rules": [
            {"server": "fs", "tool": "read_*", "action": "allow"},
            {"server": "fs", "action": "ask"},
            {"server": "fs", "tool": "read_file", "action": "deny"}]}"#,
    );
    assert_eq!(c.check_call(&call("fs", "read_file")), Decision::Allow);
    assert_eq!(
        c.check_call(&call("fs", "write_file")),
        Decision::Ask("Allow tool write_file on server fs?".into())
    );
    let d = c.check_call(&call("web", "fetch"));
    assert_eq!(
        d,
        Decision::Deny(
            "the rules policy denies tool fetch on server web: no rule allows it".into()
        )
    );
}

#[test]
fn default_applies_when_no_rule_matches() {
    let ask = config(r#"{"default": "ask"}"#);
    assert!(
        matches!(ask.check_call(&call("a", "b")), Decision::Ask(q) if q.contains("tool b on server a"))
    );
    let deny =
        config(r#"{"default": "deny", "default_reason": "{server}.{tool} is not on the list"}"#);
    assert_eq!(
        deny.check_call(&call("a", "b")),
        Decision::Deny("a.b is not on the list".into())
    );
    assert_eq!(
        config(r#"{"default": "allow"}"#).check_call(&call("a", "b")),
        Decision::Allow
    );
}

#[test]
fn reasons_replace_server_and_tool() {
    let c = config(
        r#"{"rules": [{"tool": "drop_*", "action": "deny", "reason": "{tool} on {server}: no ({tool})"}]}"#,
    );
    assert_eq!(
        c.check_call(&call("db", "drop_table")),
        Decision::Deny("drop_table on db: no (drop_table)".into())
    );
    let plain = config(r#"{"rules": [{"tool": "drop_*", "action": "deny"}]}"#);
    assert_eq!(
        plain.check_call(&call("db", "drop_table")),
        Decision::Deny("the rules policy denies tool drop_table on server db (rule 1)".into())
    );
}

#[test]
fn server_and_tool_lists_match_any_entry() {
    let c = config(
        r#"{"default": "deny", "rules": [{"server": ["git*", "fs"], "tool": ["get_*", "list_?"], "action": "allow"}]}"#,
    );
    assert_eq!(c.check_call(&call("github", "get_issue")), Decision::Allow);
    assert_eq!(c.check_call(&call("fs", "list_x")), Decision::Allow);
    assert!(is_deny(&c.check_call(&call("fs", "list_xy"))));
    assert!(is_deny(&c.check_call(&call("web", "get_page"))));
}

#[test]
fn globs_match_whole_names_case_sensitively() {
    let c = config(r#"{"rules": [{"server": "git", "action": "deny"}]}"#);
    assert!(is_deny(&c.check_call(&call("git", "x"))));
    assert_eq!(c.check_call(&call("github", "x")), Decision::Allow);
    assert_eq!(c.check_call(&call("Git", "x")), Decision::Allow);
}

#[test]
fn annotation_conditions_need_the_declared_hint() {
    let c = config(
        r#"{"rules": [{"destructive": true, "action": "deny"}, {"read_only": false, "action": "ask"}]}"#,
    );
    // No hints at all: neither rule matches, the default allows.
    assert_eq!(c.check_call(&call("s", "t")), Decision::Allow);
    assert!(is_deny(&c.check_call(&with(call("s", "t"), |a| {
        a.destructive = Some(true)
    }))));
    assert_eq!(
        c.check_call(&with(call("s", "t"), |a| a.destructive = Some(false))),
        Decision::Allow
    );
    assert!(matches!(
        c.check_call(&with(call("s", "t"), |a| a.read_only = Some(false))),
        Decision::Ask(_)
    ));
    assert_eq!(
        c.check_call(&with(call("s", "t"), |a| a.read_only = Some(true))),
        Decision::Allow
    );
}

#[test]
fn every_annotation_can_be_a_condition() {
    let c = config(
        r#"{"rules": [{"idempotent": false, "action": "deny", "reason": "i"},
                      {"open_world": true, "action": "deny", "reason": "o"},
                      {"idempotent": true, "open_world": false, "action": "ask", "reason": "both"}]}"#,
    );
    assert_eq!(
        c.check_call(&with(call("s", "t"), |a| a.idempotent = Some(false))),
        Decision::Deny("i".into())
    );
    assert_eq!(
        c.check_call(&with(call("s", "t"), |a| a.open_world = Some(true))),
        Decision::Deny("o".into())
    );
    // All conditions of a rule must hold.
    assert_eq!(
        c.check_call(&with(call("s", "t"), |a| a.idempotent = Some(true))),
        Decision::Allow
    );
    let both = with(call("s", "t"), |a| {
        a.idempotent = Some(true);
        a.open_world = Some(false);
    });
    assert_eq!(c.check_call(&both), Decision::Ask("both".into()));
}

// ---- runs ----

#[test]
fn runs_are_allowed_without_a_run_section() {
    let c = config(r#"{"default": "deny", "rules": [{"action": "deny"}]}"#);
    assert_eq!(
        c.check_run(&run("os.system('x')", &["anything".into()], 100_000)),
        Decision::Allow
    );
}

#[test]
fn run_limits_deny() {
    let c = config(
        r#"{"run": {"max_timeout": 60, "deny_servers": ["prod-*", "bank"], "deny_code_contains": ["os.system(", "subprocess"]}}"#,
    );
    let ok: Vec<String> = vec!["github".into(), "prod".into()];
    assert_eq!(c.check_run(&run("print(1)", &ok, 60)), Decision::Allow);
    assert_eq!(
        c.check_run(&run("print(1)", &ok, 61)),
        Decision::Deny(
            "the run asks for a 61 s timeout, more than the 60 s the rules policy allows".into()
        )
    );
    let bad: Vec<String> = vec!["github".into(), "prod-db".into()];
    assert_eq!(
        c.check_run(&run("print(1)", &bad, 10)),
        Decision::Deny(
            r#"the run requests server prod-db, which the rules policy forbids to runs (run.deny_servers: "prod-*")"#.into()
        )
    );
    assert!(is_deny(&c.check_run(&run("", &["bank".into()], 10))));
    assert_eq!(
        c.check_run(&run("import os\nos.system('rm -rf /')", &ok, 10)),
        Decision::Deny(r#"the code contains "os.system(", which the rules policy forbids (run.deny_code_contains)"#.into())
    );
    assert!(is_deny(&c.check_run(&run("import subprocess", &[], 10))));
    assert_eq!(c.check_run(&run("os.system", &[], 10)), Decision::Allow);
}

#[test]
fn run_limits_can_ask_instead() {
    let c = config(r#"{"run": {"max_timeout": 60, "action": "ask"}}"#);
    assert_eq!(
        c.check_run(&run("", &[], 120)),
        Decision::Ask("the run asks for a 120 s timeout, more than the 60 s the rules policy allows. Start the run anyway?".into())
    );
}

// ---- the configure entry point ----

#[test]
fn configure_replaces_the_config_and_denies_before_it() {
    // Driven as the bridge drives the component: through the SDK's instance.
    let rules: Instance<Rules> = Instance::new(Kind::Policy, NAME);
    let request = CallRequest {
        server: "s".into(),
        tool: "t".into(),
        ..CallRequest::default()
    };
    let check = || rules.check_call(&request);
    assert_eq!(
        check(),
        Decision::Deny("policy `rules` is not configured".into())
    );
    assert!(rules.configure(r#"{"default": "nope"}"#).is_err());
    assert!(is_deny(&check()));
    rules.configure(r#"{"default": "ask"}"#).unwrap();
    assert!(matches!(check(), Decision::Ask(_)));
    rules.configure("{}").unwrap();
    assert_eq!(check(), Decision::Allow);
    // A refused configuration leaves the previous one in place.
    assert!(rules.configure(r#"{"rules": 1}"#).is_err());
    assert_eq!(check(), Decision::Allow);
    // Results are not the rules' business.
    let result = CallResult {
        call: request.clone(),
        result: r#"{"content":[]}"#.into(),
    };
    assert_eq!(rules.check_result(&result), ResultDecision::Allow);
}

// ---- the shipped example: examples/deny-github-writes.toml ----

/// The `plugins.rules.config` table of the example file, as the host hands it over: JSON.
fn example_config() -> Config {
    let text = include_str!("../examples/deny-github-writes.toml");
    let file: toml::Table = text.parse().expect("the example is valid TOML");
    let plugin = file["plugins"]["rules"]
        .as_table()
        .expect("[plugins.rules]");
    assert_eq!(
        plugin.get("enabled"),
        Some(&toml::Value::Boolean(true)),
        "the example enables rules"
    );
    let json = serde_json::to_string(&plugin["config"]).expect("TOML converts to JSON");
    config(&json)
}

#[test]
fn example_allows_github_reads_by_name() {
    let c = example_config();
    for tool in [
        "get_issue",
        "list_repos",
        "search_code",
        "get_file_contents",
        "list_pull_requests",
    ] {
        assert_eq!(
            c.check_call(&call("github", tool)),
            Decision::Allow,
            "github {tool}"
        );
    }
}

#[test]
fn example_allows_github_tools_annotated_read_only() {
    let c = example_config();
    let ro = with(call("github", "create_issue"), |a| a.read_only = Some(true));
    assert_eq!(c.check_call(&ro), Decision::Allow);
}

#[test]
fn example_denies_other_github_tools_with_a_clear_reason() {
    let c = example_config();
    let destructive = with(call("github", "create_issue"), |a| {
        a.destructive = Some(true)
    });
    let not_read_only = with(call("github", "create_issue"), |a| {
        a.read_only = Some(false)
    });
    for (what, call) in [
        ("destructive", destructive),
        ("no hints", call("github", "create_issue")),
        ("readOnlyHint false", not_read_only),
        ("delete_repo", call("github", "delete_repo")),
        (
            "name merely containing get_",
            call("github", "forget_issue"),
        ),
    ] {
        match c.check_call(&call) {
            Decision::Deny(why) => {
                assert!(why.starts_with(call.tool), "{what}: {why}");
                assert!(why.contains("only lets github tools read"), "{what}: {why}");
            }
            other => panic!("{what}: expected deny, got {other:?}"),
        }
    }
}

#[test]
fn example_allows_other_servers() {
    let c = example_config();
    let destructive = with(call("filesystem", "delete_file"), |a| {
        a.destructive = Some(true)
    });
    assert_eq!(c.check_call(&destructive), Decision::Allow);
    assert_eq!(
        c.check_call(&call("slack", "post_message")),
        Decision::Allow
    );
    // The name is matched whole: a server merely starting with "github" is another server.
    assert_eq!(
        c.check_call(&call("github-enterprise", "delete_repo")),
        Decision::Allow
    );
    assert_eq!(
        c.check_run(&run("print(1)", &["github".into()], 60)),
        Decision::Allow
    );
}

// ---- the configurations shown in plugins/README.md ----

#[test]
fn readme_examples_configure() {
    let readme = include_str!("../../README.md");
    let mut checked = 0;
    for block in readme.split("```toml\n").skip(1) {
        let text = block.split("```").next().unwrap();
        if !text.contains("[plugins.rules") {
            continue;
        }
        let file: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("README block is not TOML: {e}\n{text}"));
        let config = file["plugins"]["rules"]
            .get("config")
            .cloned()
            .unwrap_or(toml::Value::Table(toml::Table::new()));
        let json = serde_json::to_string(&config).unwrap();
        Config::parse(&json).unwrap_or_else(|e| panic!("README block refused: {e}\n{text}"));
        if text.contains("server = \"github\"") {
            // The README's copy of examples/deny-github-writes.toml says the same as the file.
            let example: toml::Table = include_str!("../examples/deny-github-writes.toml")
                .parse()
                .unwrap();
            assert_eq!(
                file, example,
                "README and examples/deny-github-writes.toml differ"
            );
        }
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} README blocks configure rules");
}
