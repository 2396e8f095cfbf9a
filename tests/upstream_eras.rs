//! The bridge's connections to upstream servers speak the newest revision each server knows: MCP 2026-07-28
//! (discovery, stateless requests) with a server that has it — `bridge serve` itself, as a real child process —
//! and the `initialize` handshake with one that has only that (the project's stub server). No Docker needed.

use mcp_bridge::servers::{DiscoveredServer, ServerEntry};
use mcp_bridge::upstream::{UpstreamClient, UpstreamLimits};

fn client(name: &str, command: &str, args: &[&str], env: &[(&str, &str)]) -> UpstreamClient {
    let entry = ServerEntry {
        name: name.to_string(),
        command: Some(command.to_string()),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ServerEntry::default()
    };
    let server = DiscoveredServer {
        name: name.to_string(),
        alias: name.to_string(),
        entry,
        source: "tests/upstream_eras.rs".to_string(),
        plugin: "test".to_string(),
        project: false,
    };
    UpstreamClient::new(
        server,
        UpstreamLimits {
            max_message_bytes: 1 << 20,
            call_timeout: std::time::Duration::from_secs(60),
        },
    )
}

#[tokio::test]
async fn a_2026_server_is_reached_through_discovery_and_again_after_a_restart() {
    let state = tempfile::TempDir::new().unwrap();
    let state_dir = state.path().join("state");
    let cache_dir = state.path().join("cache");
    let inner = client(
        "inner",
        env!("CARGO_BIN_EXE_bridge"),
        &["serve"],
        &[
            ("MCP_BRIDGE_POOL_SIZE", "0"),
            ("MCP_BRIDGE_LOG_LEVEL", "warn"),
            ("MCP_BRIDGE_STATE_DIR", state_dir.to_str().unwrap()),
            ("MCP_BRIDGE_CACHE_DIR", cache_dir.to_str().unwrap()),
        ],
    );
    for start in ["first", "after a restart"] {
        let tools = inner.refresh_tools().await.expect("tools/list");
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, ["run_python"], "{start}");
        let version = inner.protocol_version().expect("connected");
        assert_eq!(version.as_str(), "2026-07-28", "{start}");
        inner.shutdown().await;
    }
}

#[tokio::test]
async fn a_server_with_only_the_handshake_is_reached_with_initialize() {
    let script = format!(
        "{}/tests/stub/stub_mcp_server.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let stub = client("stub", "python3", &[&script], &[]);
    for start in ["first", "after a restart"] {
        let tools = stub.refresh_tools().await.expect("tools/list");
        assert!(tools.iter().any(|t| t.name == "echo"), "{start}");
        let version = stub.protocol_version().expect("connected");
        assert!(version.has_initialize(), "{start}: {version}");
        let result = stub
            .call(
                "echo",
                serde_json::json!({"text": "hi"})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .await
            .expect("echo");
        assert_ne!(result.is_error, Some(true), "{start}: {result:?}");
        stub.shutdown().await;
    }
}
