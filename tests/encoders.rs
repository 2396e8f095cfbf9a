//! The built-in encoders, loaded as real components through the plugin host: the seed's compact text, the TOON
//! block (checked against the reference TOON decoder, npm `@toon-format/toon`), JSON, and `auto`.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use mcp_bridge::config::Config;
use mcp_bridge::plugins::PluginHost;
use mcp_bridge::project::Workspace;
use serde_json::{Value, json};

fn host() -> PluginHost {
    let vars = HashMap::from([
        (
            "HOME".to_string(),
            std::env::temp_dir()
                .join("mcp-bridge-encoders-home")
                .display()
                .to_string(),
        ),
        (
            "MCP_BRIDGE_CACHE_DIR".to_string(),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/test-plugin-cache")
                .display()
                .to_string(),
        ),
    ]);
    Workspace::open(&Config::from_map(&vars).unwrap(), &std::env::temp_dir())
        .unwrap()
        .plugins
}

fn payloads() -> Vec<Value> {
    vec![
        json!({"status": "success", "summary": "Success", "exitCode": 0, "stdout": ["line1", "line2"]}),
        json!({"status": "success", "summary": "Success (no output)", "exitCode": 0}),
        json!({"status": "timeout", "summary": "Timeout: execution exceeded 5s", "stdout": ["partial"],
               "stderr": ["tb"], "error": "Execution timed out after 5s", "timeoutSeconds": 5}),
        json!({"status": "error", "summary": "Sandbox error: Sandbox exited with code 1", "exitCode": 1,
               "servers": ["stub", "fs"], "stdout": ["before"],
               "stderr": ["Traceback (most recent call last):", "  File \"<sandbox>\", line 2, in <module>",
                          "ValueError: boom"], "error": "Sandbox exited with code 1"}),
        json!({"status": "success", "summary": "Success", "exitCode": 0,
               "stdout": ["a, b", "x: y", "  lead", "\"q\"", "-1", "true", "", "ünïcødé ✓", "tab\there", "[1, 2]"]}),
        json!({"status": "validation_error", "summary": "Missing 'code' argument", "error": "Missing 'code' argument"}),
    ]
}

fn encode(host: &PluginHost, encoder: &str, payload: &Value) -> String {
    let payload = serde_json::from_value(payload.clone()).expect("a payload");
    host.encode(encoder, &payload)
        .unwrap_or_else(|e| panic!("{encoder}: {e}"))
        .0
}

#[test]
fn compact_is_the_seeds_text() {
    let host = host();
    let compact = |p: Value| encode(&host, "compact", &p);
    assert_eq!(
        compact(
            json!({"status": "success", "summary": "Success", "exitCode": 0, "stdout": ["hello"]})
        ),
        "hello"
    );
    assert_eq!(
        compact(json!({"status": "success", "summary": "Success (no output)", "exitCode": 0})),
        "Success (no output)"
    );
    assert_eq!(
        compact(
            json!({"status": "success", "summary": "Success", "exitCode": 0, "stdout": ["out"], "stderr": ["warn"]})
        ),
        "out\nstderr:\nwarn"
    );
    assert_eq!(
        compact(payloads()[2].clone()),
        "status: timeout\npartial\nstderr:\ntb\nerror: Execution timed out after 5s"
    );
    assert_eq!(
        compact(
            json!({"status": "error", "summary": "Sandbox error: Sandbox exited with code 3", "exitCode": 3,
                       "error": "Sandbox exited with code 3"})
        ),
        "status: error\nexit: 3\nSandbox error: Sandbox exited with code 3"
    );
}

#[test]
fn json_is_fenced_and_sorted() {
    let text = encode(&host(), "json", &payloads()[0]);
    assert!(text.starts_with("```json\n{\n  \"exitCode\": 0,"), "{text}");
    let body = text
        .trim_start_matches("```json\n")
        .trim_end_matches("\n```");
    assert_eq!(serde_json::from_str::<Value>(body).unwrap(), payloads()[0]);
}

/// Decodes TOON with the reference implementation (tests/toon-reference, installed by scripts/test).
fn reference_decode(toon: &str) -> Option<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/toon-reference");
    if !dir.join("node_modules").exists() {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !in_ci,
            "CI=true but the TOON reference decoder is not installed (npm ci in tests/toon-reference)"
        );
        eprintln!(
            "\n!!!!! SKIPPED: the TOON reference decoder is not installed (cd tests/toon-reference && npm ci) !!!!!\n"
        );
        return None;
    }
    let mut child = Command::new("node")
        .arg(dir.join("decode.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(toon.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reference decoder refused:\n{toon}"
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn toon_decodes_with_the_reference_implementation_back_to_the_payload() {
    let host = host();
    for payload in payloads() {
        let text = encode(&host, "toon", &payload);
        assert!(
            text.starts_with("```toon\n") && text.ends_with("\n```"),
            "{text}"
        );
        let body = text
            .trim_start_matches("```toon\n")
            .trim_end_matches("\n```");
        let Some(decoded) = reference_decode(body) else {
            return;
        };
        assert_eq!(decoded, payload, "TOON:\n{body}");
    }
    // The seed's own example, verbatim.
    let text = encode(
        &host,
        "toon",
        &json!({"status": "success", "summary": "Success", "exitCode": 0, "servers": ["stub", "fs"],
                "stdout": ["line1", "line2"]}),
    );
    assert_eq!(
        text,
        "```toon\nstatus: success\nsummary: Success\nexitCode: 0\nservers[2]: stub,fs\nstdout[2]: line1,line2\n```"
    );
}

#[test]
fn auto_picks_the_shorter_of_toon_and_compact_json() {
    let host = host();
    for payload in payloads() {
        let auto = encode(&host, "auto", &payload);
        let toon = encode(&host, "toon", &payload);
        let json = format!("```json\n{}\n```", serde_json::to_string(&payload).unwrap());
        if toon.len() <= json.len() {
            assert_eq!(auto, toon);
        } else {
            let body = auto
                .strip_prefix("```json\n")
                .and_then(|b| b.strip_suffix("\n```"))
                .expect("a JSON block");
            assert_eq!(serde_json::from_str::<Value>(body).unwrap(), payload);
            assert_eq!(auto.len(), json.len(), "compact JSON, no whitespace");
        }
    }
}
