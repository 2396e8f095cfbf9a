//! The example policies in Rust, JavaScript and Python (`plugins/examples`, built by `build-all.sh`): each loads
//! from a plugin directory and is enforced, on tool calls and on runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mcp_bridge::bridge::Bridge;
use mcp_bridge::config::Config;
use mcp_bridge::plugins::{CallCheck, Kind, RunCheck, ToolAnnotations, Verdict};
use mcp_bridge::project::Workspace;
use mcp_bridge::response::Status;
use serde_json::json;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

const EXAMPLES: &[(&str, &str)] = &[
    (
        "rust",
        "rust/target/wasm32-wasip2/release/example_deny_destructive_rust.wasm",
    ),
    (
        "javascript",
        "javascript/dist/example_deny_destructive_javascript.wasm",
    ),
    ("python", "python/dist/example_deny_destructive_python.wasm"),
];

/// The built example. The test is ignored by default, so one that was included fails when an example is
/// missing.
fn example(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/examples")
        .join(relative);
    assert!(
        path.is_file(),
        "this test needs {}. Fix: plugins/examples/build-all.sh (Rust, node, componentize-py)",
        path.display()
    );
    path
}

fn setup(plugin: &Path) -> (TempDir, Config) {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::copy(plugin, dir.path().join("plugins/example.wasm")).unwrap();
    let vars = HashMap::from([
        ("HOME".to_string(), dir.path().display().to_string()),
        (
            "MCP_BRIDGE_PLUGIN_PATH".to_string(),
            dir.path().join("plugins").display().to_string(),
        ),
        (
            "MCP_BRIDGE_CACHE_DIR".to_string(),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/test-plugin-cache")
                .display()
                .to_string(),
        ),
    ]);
    (dir, Config::from_map(&vars).unwrap())
}

fn call(tool: &str, destructive: Option<bool>) -> CallCheck {
    CallCheck {
        run_id: "r1".into(),
        server: "files".into(),
        tool: tool.into(),
        arguments: r#"{"path": "/tmp/x"}"#.into(),
        annotations: ToolAnnotations {
            destructive,
            ..ToolAnnotations::default()
        },
    }
}

#[tokio::test]
#[ignore = "needs the example plugins built (plugins/examples/build-all.sh: node, componentize-py): run scripts/test, or cargo test -- --include-ignored"]
async fn each_example_loads_from_a_plugin_directory_and_is_enforced() {
    for (language, relative) in EXAMPLES {
        let path = example(relative);
        let (dir, config) = setup(&path);
        let host = Workspace::open(&config, dir.path()).unwrap().plugins;
        let name = format!("example-deny-destructive-{language}");
        let report = host
            .reports()
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} loaded"));
        assert_eq!(report.kind, Some(Kind::Policy), "{report:?}");
        assert_eq!(report.status, "loaded", "{report:?}");
        assert!(report.source.ends_with("example.wasm"));

        assert_eq!(
            host.check_call(&call("read_file", Some(false))),
            Verdict::Allow,
            "{language}"
        );
        for denied in [call("write_file", Some(true)), call("delete_file", None)] {
            match host.check_call(&denied) {
                Verdict::Deny { plugin, .. } => assert_eq!(plugin, name),
                other => panic!(
                    "{language}: {} should be denied, got {other:?}",
                    denied.tool
                ),
            }
        }
        let run = |code: &str| RunCheck {
            run_id: "r".into(),
            code: code.into(),
            servers: vec![],
            timeout_seconds: 5,
            ..RunCheck::default()
        };
        assert_eq!(
            host.check_run(&run("print(1)")),
            Verdict::Allow,
            "{language}"
        );
        assert!(
            matches!(
                host.check_run(&run("import os; os.system('ls')")),
                Verdict::Deny { .. }
            ),
            "{language}"
        );

        // Through the bridge: the run is refused before any container exists.
        let bridge = Bridge::new_in(config, dir.path()).unwrap();
        let response = bridge
            .run_python(
                &serde_json::from_value(json!({"code": "import os\nos.system('id')"})).unwrap(),
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(response.payload.status, Status::Error, "{language}");
        assert!(
            response
                .payload
                .error
                .unwrap()
                .contains(&format!("denied by policy '{name}'")),
            "{language}"
        );
        assert!(response.run_id.is_none());
    }
}

#[test]
#[ignore = "needs the example plugins built (plugins/examples/build-all.sh: node, componentize-py): run scripts/test, or cargo test -- --include-ignored"]
fn each_example_passes_the_shipped_cases_with_bridge_plugin_test() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/examples/cases.toml");
    for (language, relative) in EXAMPLES {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
            .args(["plugin", "test"])
            .arg(example(relative))
            .arg(&cases)
            .env(
                "MCP_BRIDGE_CACHE_DIR",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-plugin-cache"),
            )
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{language}: {stdout}");
        assert!(
            stdout.ends_with("ok: 7 passed, 0 failed\n"),
            "{language}: {stdout}"
        );
    }
}
