//! MCP 2026-07-28 against `bridge serve` (a real child process over stdio), next to the older revisions, in raw
//! JSON-RPC lines: what the wire must carry. (An rmcp client in both lifecycles: `tests/mcp_e2e.rs`.)

mod common;

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// A `bridge serve` driven by raw JSON-RPC lines.
struct Wire {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Wire {
    fn start() -> Self {
        let mut child = common::serve_command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Wire {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one request and returns the answer to it.
    async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        loop {
            let line = self.stdout.next_line().await.unwrap().expect("an answer");
            let answer: Value = serde_json::from_str(&line).unwrap();
            if answer["id"] == id {
                return answer;
            }
        }
    }
}

fn meta(version: &str) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    })
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn the_wire_carries_result_types_and_cache_hints_to_2026_clients_and_nothing_new_to_older_ones()
 {
    common::engine().await;
    let mut wire = Wire::start();
    let discovered = wire
        .request(1, "server/discover", json!({"_meta": meta("2026-07-28")}))
        .await;
    let result = &discovered["result"];
    assert_eq!(result["resultType"], "complete", "{discovered}");
    let versions: Vec<&str> = result["supportedVersions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        versions,
        [
            "2024-11-05",
            "2025-03-26",
            "2025-06-18",
            "2025-11-25",
            "2026-07-28"
        ]
    );
    assert!(result["ttlMs"].is_u64(), "{discovered}");
    assert!(result["cacheScope"].is_string(), "{discovered}");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "mcp-bridge"
    );
    assert!(
        result["instructions"]
            .as_str()
            .unwrap()
            .contains("run_python")
    );

    let listed = wire
        .request(2, "tools/list", json!({"_meta": meta("2026-07-28")}))
        .await;
    assert_eq!(listed["result"]["resultType"], "complete", "{listed}");
    assert!(listed["result"]["ttlMs"].is_u64(), "{listed}");
    assert_eq!(listed["result"]["tools"][0]["name"], "run_python");

    // A revision the bridge does not know: refused, naming the ones it does.
    let refused = wire
        .request(3, "tools/list", json!({"_meta": meta("2099-01-01")}))
        .await;
    let error = &refused["error"];
    assert!(error.is_object(), "{refused}");
    assert!(
        error.to_string().contains("2026-07-28"),
        "the refusal names the supported revisions: {refused}"
    );
    // Stateless requests must say who is asking: `_meta` without the client's capabilities is refused.
    let incomplete = wire
        .request(
            4,
            "tools/list",
            json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
        )
        .await;
    assert!(incomplete["error"].is_object(), "{incomplete}");
    wire.child.kill().await.unwrap();

    // An `initialize` client naming 2026-07-28 is answered with the newest handshake revision, and its results
    // carry none of 2026's fields.
    let mut wire = Wire::start();
    let initialized = wire
        .request(
            1,
            "initialize",
            json!({"protocolVersion": "2026-07-28", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}),
        )
        .await;
    assert_eq!(
        initialized["result"]["protocolVersion"], "2025-11-25",
        "{initialized}"
    );
    wire.stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
        .await
        .unwrap();
    let listed = wire.request(2, "tools/list", json!({})).await;
    assert_eq!(listed["result"]["tools"][0]["name"], "run_python");
    assert!(listed["result"].get("resultType").is_none(), "{listed}");
    assert!(listed["result"].get("ttlMs").is_none(), "{listed}");
    wire.child.kill().await.unwrap();
}
