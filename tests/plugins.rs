//! The plugin host with real components: the built-ins, fixtures that trap, loop and allocate without bound,
//! files that are not plugins, the precompile cache, config-file precedence, and policy enforcement on runs.
//! No container engine is needed here.

mod common;

use common::fixtures::fixture;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use mcp_bridge::config::Config;
use mcp_bridge::plugins::{
    CacheOutcome, CallCheck, Kind, Origin, PluginHost, RunCheck, ToolAnnotations, Verdict,
};
use mcp_bridge::project::{Project, TrustStore, Workspace};
use mcp_bridge::response::Status;
use serde_json::json;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// A sandboxed home, project and plugin directory for one host.
struct Setup {
    dir: TempDir,
    vars: HashMap<String, String>,
}

impl Setup {
    fn new() -> Self {
        let dir = TempDir::new().unwrap();
        for sub in ["home", "project", "plugins"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let vars = HashMap::from([
            (
                "HOME".to_string(),
                dir.path().join("home").display().to_string(),
            ),
            (
                "MCP_BRIDGE_PLUGIN_PATH".to_string(),
                dir.path().join("plugins").display().to_string(),
            ),
            // Shared across tests: compiling the built-ins once is enough.
            (
                "MCP_BRIDGE_CACHE_DIR".to_string(),
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("target/test-plugin-cache")
                    .display()
                    .to_string(),
            ),
            ("MCP_BRIDGE_IMAGE".to_string(), common::image()),
        ]);
        Setup { dir, vars }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn plugin(self, file: &str, from: &Path) -> Self {
        std::fs::copy(from, self.path("plugins").join(file)).unwrap();
        self
    }

    fn write(self, relative: &str, text: &str) -> Self {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    fn config_file(mut self, toml: &str) -> Self {
        let path = self.path("bridge.toml");
        std::fs::write(&path, toml).unwrap();
        self.vars
            .insert("MCP_BRIDGE_CONFIG".into(), path.display().to_string());
        self
    }

    fn var(mut self, key: &str, value: &str) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    fn config(&self) -> Config {
        Config::from_map(&self.vars).unwrap()
    }

    fn host(&self) -> PluginHost {
        Workspace::open(&self.config(), &self.path("project"))
            .unwrap()
            .plugins
    }
}

/// Runs code through a bridge of `setup`, asserts it was refused before any container was made, and returns
/// the message.
async fn refusal(setup: &Setup) -> String {
    let bridge =
        mcp_bridge::bridge::Bridge::new_in(setup.config(), &setup.path("project")).unwrap();
    let response = bridge
        .run_python(
            &common::args(json!({"code": "print('never runs')"})),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(response.payload.status, Status::Error);
    assert!(response.run_id.is_none(), "no container was made");
    response.payload.error.unwrap_or_default()
}

fn misbehaving(mode: &str) -> Setup {
    Setup::new()
        .plugin("misbehaving.wasm", &fixture("fixture_misbehaving.wasm"))
        .config_file(&format!(
            "[plugins.misbehaving.config]\nmode = \"{mode}\"\n"
        ))
}

fn call() -> CallCheck {
    CallCheck {
        run_id: "r1".into(),
        server: "github".into(),
        tool: "delete_repo".into(),
        arguments: "{}".into(),
        annotations: ToolAnnotations::default(),
    }
}

fn status_of(host: &PluginHost, name: &str) -> String {
    host.reports()
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.status.clone())
        .unwrap_or_default()
}

#[test]
fn the_built_ins_load_and_rules_is_off_by_default() {
    let host = Setup::new().host();
    let reports = host.reports();
    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["compact", "toon", "json", "auto", "config-files", "rules"]
    );
    for report in reports {
        assert_eq!(report.source, "builtin");
        let expected = if report.name == "rules" {
            "disabled"
        } else {
            "loaded"
        };
        assert_eq!(report.status, expected, "{report:?}");
    }
    assert_eq!(reports[0].kind, Some(Kind::Encoder));
    assert_eq!(reports[4].kind, Some(Kind::Discovery));
    assert_eq!(reports[5].kind, Some(Kind::Policy));
    assert_eq!(host.encoder_names(), ["compact", "toon", "json", "auto"]);
    // No policy enabled: everything is allowed.
    assert_eq!(host.check_call(&call()), Verdict::Allow);
}

#[test]
fn a_policy_that_traps_loops_or_hoards_memory_denies_and_the_host_keeps_serving() {
    for (mode, cause) in [
        ("trap", "trapped"),
        ("loop", "deadline"),
        ("alloc", "memory"),
    ] {
        // Growing to the memory cap takes time; a generous deadline makes the cap, not the clock, stop it even on
        // a loaded machine.
        let limits = if mode == "alloc" {
            "[limits]\ncall-timeout-ms = 5000\n"
        } else {
            ""
        };
        let host = misbehaving(mode)
            .config_file(&format!(
                "{limits}[plugins.misbehaving.config]\nmode = \"{mode}\"\n"
            ))
            .host();
        assert_eq!(status_of(&host, "misbehaving"), "loaded");
        for attempt in 0..2 {
            match host.check_call(&call()) {
                Verdict::Deny { plugin, reason } => {
                    assert_eq!(plugin, "misbehaving");
                    assert!(
                        reason.contains(cause),
                        "{mode} (attempt {attempt}): {reason}"
                    );
                    assert!(reason.contains("denied"), "{reason}");
                }
                other => panic!("{mode}: expected a deny, got {other:?}"),
            }
        }
        let run = RunCheck {
            run_id: "r".into(),
            code: "print(1)".into(),
            servers: vec![],
            timeout_seconds: 5,
            ..RunCheck::default()
        };
        assert!(
            matches!(host.check_run(&run), Verdict::Deny { .. }),
            "{mode}"
        );
        // The other plugins are untouched.
        let (text, _) = host
            .encode(
                "compact",
                &serde_json::from_value(
                    json!({"status":"success","summary":"Success","stdout":["ok"]}),
                )
                .unwrap(),
            )
            .unwrap();
        assert_eq!(text, "ok");
    }
}

#[test]
fn deny_beats_ask_beats_allow_across_policies() {
    let ask = misbehaving("ask").host();
    assert!(
        matches!(ask.check_call(&call()), Verdict::Ask { ref plugin, .. } if plugin == "misbehaving")
    );
    // The built-in rules policy denying github writes, next to an asking fixture: deny wins.
    let both = misbehaving("ask")
        .config_file(
            r#"
            [plugins.misbehaving.config]
            mode = "ask"
            [plugins.rules]
            enabled = true
            [plugins.rules.config]
            default = "allow"
            [[plugins.rules.config.rules]]
            server = "github"
            tool = "delete_*"
            action = "deny"
            reason = "no deleting"
            "#,
        )
        .host();
    match both.check_call(&call()) {
        Verdict::Deny { plugin, reason } => {
            assert_eq!(plugin, "rules");
            assert!(reason.contains("no deleting"), "{reason}");
        }
        other => panic!("expected the rules deny, got {other:?}"),
    }
}

#[test]
fn files_that_are_not_plugins_are_reported_and_the_rest_load() {
    let setup = Setup::new()
        .write("plugins/garbage.wasm", "this is not wasm")
        .plugin("command.wasm", &fixture("fixture-command.wasm"))
        .plugin("misbehaving.wasm", &fixture("fixture_misbehaving.wasm"))
        .config_file("[plugins.misbehaving.config]\nfail_configure = \"mode must be set\"\n");
    let host = setup.host();
    let garbage = status_of(&host, "garbage");
    assert!(
        garbage.starts_with("failed: not a loadable WebAssembly component"),
        "{garbage}"
    );
    let command = status_of(&host, "command");
    assert!(
        command.contains("implements none of the mcp-bridge:plugin worlds")
            && command.contains("API versions 0.1.0 to 0.2.0"),
        "{command}"
    );
    assert!(
        command.contains("wasi:cli/run"),
        "names what it exports: {command}"
    );
    let configure = status_of(&host, "misbehaving");
    assert!(
        configure.starts_with("failed: configure failed:")
            && configure.contains("mode must be set"),
        "{configure}"
    );
    assert_eq!(
        status_of(&host, "compact"),
        "loaded",
        "the built-ins still load"
    );
    // Each may be a policy the user meant to have: none is silently left out, runs are refused instead.
    let blocking = host.blocking().join("\n");
    for name in ["garbage", "command", "misbehaving"] {
        assert!(blocking.contains(name), "{name} in {blocking}");
    }

    // `bridge plugin list` shows the failures and exits non-zero.
    let out = Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(["plugin", "list"])
        .envs(&setup.vars)
        .current_dir(setup.path("project"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let listing = String::from_utf8_lossy(&out.stdout);
    for name in ["garbage", "command", "misbehaving", "compact", "rules"] {
        assert!(
            listing.lines().any(|l| l.starts_with(name)),
            "{name} in\n{listing}"
        );
    }
    assert!(listing.contains("failed: not a loadable"), "{listing}");
    assert!(listing.contains("runs are refused"), "{listing}");
}

#[tokio::test]
async fn a_configured_policy_that_is_not_in_force_stops_runs_unless_optional() {
    let broken = misbehaving("deny").config_file(
        "[plugins.misbehaving]\n[plugins.misbehaving.config]\nfail_configure = \"bad setting\"\n",
    );
    let error = refusal(&broken).await;
    assert!(
        error.contains("runs are refused")
            && error.contains("misbehaving")
            && error.contains("bad setting"),
        "{error}"
    );

    let optional = broken.config_file(
        "[plugins.misbehaving]\noptional = true\n[plugins.misbehaving.config]\nfail_configure = \"bad\"\n",
    );
    assert!(optional.host().blocking().is_empty());

    // A policy the user enabled that is not there at all.
    let missing = Setup::new().config_file("[plugins.no-such-policy]\nenabled = true\n");
    let blocking = missing.host().blocking().join("\n");
    assert!(
        blocking.contains("no-such-policy") && blocking.contains("optional = true"),
        "{blocking}"
    );
    let missing =
        missing.config_file("[plugins.no-such-policy]\nenabled = true\noptional = true\n");
    assert!(missing.host().blocking().is_empty());
}

#[test]
fn plugin_check_reports_world_metadata_and_a_dry_configure() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_bridge"))
            .arg("plugin")
            .arg("check")
            .args(args)
            .output()
            .unwrap()
    };
    let file = fixture("fixture_misbehaving.wasm");
    let out = run(&[file.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("world:       policy-plugin"), "{text}");
    assert!(text.contains("name:        misbehaving"), "{text}");
    assert!(text.contains("configure:   ok"), "{text}");
    let out = run(&[
        file.to_str().unwrap(),
        "--config",
        r#"{"fail_configure": "bad"}"#,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["kind"], "policy");
    assert!(
        report["status"]
            .as_str()
            .unwrap()
            .contains("configure failed: bad"),
        "{report}"
    );
}

#[test]
fn the_precompile_cache_hits_misses_and_recompiles_corrupt_entries() {
    let cache = TempDir::new().unwrap();
    let setup = Setup::new()
        .plugin("misbehaving.wasm", &fixture("fixture_misbehaving.wasm"))
        .var("MCP_BRIDGE_CACHE_DIR", cache.path().to_str().unwrap());
    let outcome = |host: &PluginHost| {
        host.reports()
            .iter()
            .find(|r| r.name == "misbehaving")
            .unwrap()
            .cache
    };
    assert_eq!(outcome(&setup.host()), Some(CacheOutcome::Miss));
    assert_eq!(outcome(&setup.host()), Some(CacheOutcome::Hit));
    // Flip a byte in every entry file (code and checksum record): each is recompiled, not trusted, and then
    // hits again.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let host = setup.host();
    assert_eq!(outcome(&host), Some(CacheOutcome::Corrupt));
    assert_eq!(status_of(&host, "misbehaving"), "loaded");
    assert_eq!(outcome(&setup.host()), Some(CacheOutcome::Hit));
    // Rewriting an entry with the same bytes changes its identity but not its content: verified by checksum,
    // still a hit.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "cwasm") {
            let bytes = std::fs::read(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            std::fs::write(&path, bytes).unwrap();
        }
    }
    assert_eq!(outcome(&setup.host()), Some(CacheOutcome::Hit));
    let off = setup.var("MCP_BRIDGE_CACHE_DIR", "off");
    assert_eq!(outcome(&off.host()), Some(CacheOutcome::Miss));
}

#[test]
fn the_users_config_applies_and_a_project_config_can_only_add_policies() {
    let rules = |default: &str| {
        format!(
            "[plugins.rules]\nenabled = true\n[plugins.rules.config]\ndefault = \"{default}\"\n"
        )
    };
    // The user's file: rules denies by default. The project's: an empty file.
    let setup = Setup::new()
        .write("home/.config/mcp-bridge/config.toml", &rules("deny"))
        .write("project/.mcp-bridge/config.toml", "");
    let host = setup.host();
    assert_eq!(
        host.settings_sources(),
        (
            Some(setup.path("home/.config/mcp-bridge/config.toml").as_path()),
            Some(setup.path("project/.mcp-bridge/config.toml").as_path())
        )
    );
    assert!(matches!(host.check_call(&call()), Verdict::Deny { .. }));

    // A project that tries to turn the user's policy off, or to disable an encoder: ignored, and said so.
    let setup = setup.write(
        "project/.mcp-bridge/config.toml",
        "[plugins.rules]\nenabled = false\n[plugins.toon]\nenabled = false\n",
    );
    let host = setup.host();
    assert!(matches!(host.check_call(&call()), Verdict::Deny { plugin, .. } if plugin == "rules"));
    assert_eq!(status_of(&host, "toon"), "loaded");
    let ignored = host.ignored_settings().join("\n");
    assert!(ignored.contains("cannot turn a policy off"), "{ignored}");
    assert!(ignored.contains("may only add policies"), "{ignored}");

    // A project that configures the same policy differently: a second instance, and both are consulted.
    let user_allows = Setup::new()
        .write("home/.config/mcp-bridge/config.toml", &rules("allow"))
        .write("project/.mcp-bridge/config.toml", &rules("deny"));
    let host = user_allows.host();
    assert_eq!(status_of(&host, "rules"), "loaded");
    assert_eq!(status_of(&host, "rules (project)"), "loaded");
    assert!(
        matches!(host.check_call(&call()), Verdict::Deny { plugin, .. } if plugin == "rules (project)")
    );
    // And a project may enable one the user left off.
    let only_project = Setup::new().write("project/.mcp-bridge/config.toml", &rules("deny"));
    assert!(matches!(
        only_project.host().check_call(&call()),
        Verdict::Deny { .. }
    ));

    // MCP_BRIDGE_CONFIG replaces the user's file; the project's is still layered over it.
    let setup = Setup::new()
        .write(
            "home/.config/mcp-bridge/config.toml",
            "[plugins.auto]\nenabled = false\n",
        )
        .config_file("[plugins.json]\nenabled = false\n");
    let host = setup.host();
    assert_eq!(
        host.settings_sources().0,
        Some(setup.path("bridge.toml").as_path())
    );
    assert_eq!(status_of(&host, "json"), "disabled");
    assert_eq!(status_of(&host, "auto"), "loaded");

    // A broken user file stops start-up with its path in the message; a broken project file stops runs.
    let broken = Setup::new().config_file("[plugins.rules\nenabled = true");
    let error = Workspace::open(&broken.config(), &broken.path("project"))
        .err()
        .unwrap();
    assert!(format!("{error:#}").contains("bridge.toml"), "{error:#}");
    let broken_project = Setup::new().write("project/.mcp-bridge/config.toml", "[plugins.rules\n");
    let blocking = broken_project.host().blocking().join("\n");
    assert!(blocking.contains(".mcp-bridge/config.toml"), "{blocking}");
}

#[test]
fn project_plugins_load_only_once_the_project_is_trusted() {
    let setup = Setup::new().write("project/.mcp-bridge/plugins/.keep", "");
    std::fs::copy(
        fixture("fixture_misbehaving.wasm"),
        setup.path("project/.mcp-bridge/plugins/m.wasm"),
    )
    .unwrap();
    let host = setup.host();
    let report = host.reports().iter().find(|r| r.name == "m").unwrap();
    assert_eq!(report.origin, Origin::Project);
    assert!(report.status.starts_with("untrusted"), "{report:?}");
    assert!(report.status.contains("bridge trust"), "{report:?}");
    assert!(
        host.check_run(&RunCheck {
            run_id: "r".into(),
            code: String::new(),
            servers: vec![],
            timeout_seconds: 5,
            ..RunCheck::default()
        }) == Verdict::Allow
    );

    let config = setup.config();
    let workspace = Workspace::open(&config, &setup.path("project")).unwrap();
    TrustStore::new(&config.state_dir)
        .trust(&workspace.project)
        .unwrap();
    let host = setup.host();
    let report = host
        .reports()
        .iter()
        .find(|r| r.name == "misbehaving")
        .unwrap();
    assert_eq!(
        (report.origin, report.status.as_str()),
        (Origin::Project, "loaded")
    );
    assert!(
        report.source.ends_with(".mcp-bridge/plugins/m.wasm"),
        "{report:?}"
    );
    // Changed after trust: not loaded again until trusted again.
    std::fs::write(setup.path("project/.mcp-bridge/plugins/m.wasm"), "changed").unwrap();
    let project: Project = Workspace::open(&config, &setup.path("project"))
        .unwrap()
        .project;
    assert!(!project.trusted());
    assert!(
        project.trust_hint().contains("changed"),
        "{}",
        project.trust_hint()
    );
    std::fs::copy(
        fixture("fixture_misbehaving.wasm"),
        setup.path("project/.mcp-bridge/plugins/m.wasm"),
    )
    .unwrap();

    // The same plugin again, from MCP_BRIDGE_PLUGIN_PATH: a duplicate name is reported, not loaded twice.
    let host = setup
        .plugin("again.wasm", &fixture("fixture_misbehaving.wasm"))
        .host();
    let failed: Vec<_> = host
        .reports()
        .iter()
        .filter(|r| r.status.contains("already loaded"))
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", host.reports());
}

#[tokio::test]
async fn every_run_passes_the_policies_first() {
    let error = refusal(&misbehaving("deny")).await;
    assert!(
        error.contains("denied by policy 'misbehaving': fixture denies run"),
        "{error}"
    );
}

#[test]
fn an_unknown_output_mode_stops_start_up_listing_the_encoders() {
    let setup = Setup::new().var("MCP_BRIDGE_OUTPUT_MODE", "yaml");
    let error = mcp_bridge::bridge::Bridge::new_in(setup.config(), &setup.path("project"))
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("MCP_BRIDGE_OUTPUT_MODE=\"yaml\""), "{error}");
    assert!(error.contains("compact, toon, json, auto"), "{error}");
}

#[test]
fn the_deny_github_writes_example_config_works_through_the_host() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/rules/examples/deny-github-writes.toml");
    let setup = Setup::new().var("MCP_BRIDGE_CONFIG", example.to_str().unwrap());
    let host = setup.host();
    assert_eq!(status_of(&host, "rules"), "loaded");
    let check = |server: &str, tool: &str, annotations: ToolAnnotations| {
        host.check_call(&CallCheck {
            run_id: "r".into(),
            server: server.into(),
            tool: tool.into(),
            arguments: "{}".into(),
            annotations,
        })
    };
    let none = ToolAnnotations::default();
    let read_only = ToolAnnotations {
        read_only: Some(true),
        ..none
    };
    let destructive = ToolAnnotations {
        destructive: Some(true),
        ..none
    };
    for tool in ["get_issue", "list_repos", "search_code"] {
        assert_eq!(check("github", tool, none), Verdict::Allow, "{tool}");
    }
    assert_eq!(check("github", "create_issue", read_only), Verdict::Allow);
    for (tool, annotations) in [
        ("create_issue", none),
        ("create_issue", destructive),
        ("delete_repo", none),
    ] {
        match check("github", tool, annotations) {
            Verdict::Deny { plugin, reason } => {
                assert_eq!(plugin, "rules");
                assert!(reason.contains(tool), "{reason}");
            }
            other => panic!("github {tool} should be denied, got {other:?}"),
        }
    }
    assert_eq!(
        check("memory", "delete_entity", destructive),
        Verdict::Allow,
        "other servers are not affected"
    );
}

#[test]
fn discovery_reads_every_source_format_first_definition_wins() {
    let setup = Setup::new()
        .write("home/MCPs/a.json", r#"{"description": "from MCPs", "mcpServers": {"Weird-Name 2": {"command": "npx", "args": ["-y", "srv"]}, "class": {"command": "c"}}}"#)
        .write("home/MCPs/broken.json", "{ not json")
        .write("project/.vscode/mcp.json", "// VS Code\n{\"servers\": {\"vs\": {\"type\": \"http\", \"url\": \"http://127.0.0.1:9/mcp\",},}}")
        .write("project/.mcp.json", r#"{"mcpServers": {"vs": {"command": "shadowed"}, "project": {"command": "p", "disabled": true}}}"#)
        .write("home/.codex/config.toml", "[mcp_servers.codex]\ncommand = \"codex-mcp\"\nargs = [\"--x\"]\n")
        .write("home/.config/Code/User/settings.json", r#"{"mcp": {"servers": {"settings": {"command": "s"}}}}"#)
        .write("home/.claude.json", r#"{"mcpServers": {"self": {"command": "bridge", "args": ["serve"]}}}"#)
        .write("extra.json", r#"{"mcpServers": {"extra": {"command": "e"}, "codex": {"command": "late"}}}"#);
    let extra = setup.path("extra.json");
    let out = Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(["servers", "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&setup.vars)
        .env("MCP_SERVERS_CONFIG", &extra)
        .current_dir(setup.path("project"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        warnings.contains("broken.json"),
        "a broken file is named: {warnings}"
    );
    let servers: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let by_name = |name: &str| servers.iter().find(|s| s["name"] == name).cloned();
    let names: Vec<&str> = servers
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    // The user's files first (a project never redefines their servers), then the project's.
    assert_eq!(
        names,
        [
            "Weird-Name 2",
            "class",
            "codex",
            "settings",
            "extra",
            "vs",
            "project"
        ],
        "{servers:?}"
    );
    let weird = by_name("Weird-Name 2").unwrap();
    assert_eq!(weird["alias"], "weird_name_2");
    assert_eq!(weird["description"], "from MCPs");
    assert!(
        weird["source"]
            .as_str()
            .unwrap()
            .ends_with("home/MCPs/a.json")
    );
    assert_eq!(
        by_name("class").unwrap()["alias"],
        "class_",
        "Python keywords are escaped"
    );
    let vs = by_name("vs").unwrap();
    assert_eq!(
        vs["transport"], "http",
        "the first definition (VS Code, with comments) wins"
    );
    assert_eq!(vs["url"], "http://127.0.0.1:9/mcp");
    assert_eq!(
        (vs["project"].clone(), vs["trusted"].clone()),
        (json!(true), json!(false)),
        "a project's server is not used until the project is trusted"
    );
    assert_eq!(by_name("project").unwrap()["disabled"], true);
    assert_eq!(by_name("codex").unwrap()["command"], "codex-mcp");
    assert!(
        by_name("self").is_none(),
        "a config that launches this bridge is skipped"
    );
    assert!(
        by_name("extra").unwrap()["source"]
            .as_str()
            .unwrap()
            .ends_with("extra.json")
    );
}
