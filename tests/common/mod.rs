//! Shared by the integration tests: finding the real Docker engine, building a bridge, and asking the engine
//! which containers exist.
//!
//! Tests that need something outside Rust (a Docker engine with the sandbox image, node and npm packages, the
//! example plugins' toolchains) are `#[ignore = "needs …"]`: a plain `cargo test` counts them as ignored, never
//! as passed. `scripts/test` (CI's command) makes sure all of it is there and runs them with
//! `--include-ignored`; a test that was included and finds its engine or tool missing fails, naming the fix.
#![allow(dead_code)]

pub mod clients;
pub mod fixtures;
pub mod http;
pub mod project;

use std::collections::HashMap;
use std::sync::Arc;

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use mcp_bridge::bridge::{Bridge, Response};
use mcp_bridge::config::Config;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

/// `bridge serve` as a child process for a client to drive over stdio, with the test image and quiet logs.
pub fn serve_command() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bridge"));
    command
        .arg("serve")
        .env("MCP_BRIDGE_IMAGE", image())
        .env("MCP_BRIDGE_LOG_LEVEL", "warn")
        .kill_on_drop(true);
    command
}

/// What an MCP test client declares: form elicitation (`elicit`) and the tasks extension (`tasks`).
pub fn client_config(name: &str, elicit: bool, tasks: bool) -> rmcp::model::ClientConfig {
    use rmcp::model::{ClientCapabilities, ElicitationCapability, FormElicitationCapability};
    let mut capabilities = if tasks {
        ClientCapabilities::builder().enable_tasks().build()
    } else {
        ClientCapabilities::default()
    };
    if elicit {
        let mut elicitation = ElicitationCapability::new();
        elicitation.form = Some(FormElicitationCapability::default());
        capabilities.elicitation = Some(elicitation);
    }
    rmcp::model::ClientConfig::new(
        capabilities,
        rmcp::model::Implementation::new(name, "1.0.0"),
    )
}

/// A policy that asks before the stub server's `echo`.
pub const ASK_ON_ECHO: &str = r#"
[plugins.rules]
enabled = true
[plugins.rules.config]
default = "allow"
rules = [{ server = "stub", tool = "echo", action = "ask", reason = "echo needs a human" }]
"#;

/// The sandbox image the tests use: `MCP_BRIDGE_IMAGE`, else the offline build (`scripts/build-offline-image.sh`).
pub fn image() -> String {
    std::env::var("MCP_BRIDGE_IMAGE")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "mcp-bridge/sandbox:bookworm".to_string())
}

/// The project's stub MCP server (`tests/stub/stub_mcp_server.py`), run with `python3`.
pub fn stub_script() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/stub/stub_mcp_server.py")
        .display()
        .to_string()
}

/// A negotiated engine client with the sandbox image present. The tests that call this are ignored unless
/// included (`scripts/test`, `cargo test -- --include-ignored`), so an unusable engine fails the test.
pub async fn engine() -> Docker {
    let problem = match Docker::connect_with_defaults() {
        Err(error) => format!("cannot connect: {error}"),
        Ok(docker) => match docker.negotiate_version().await {
            Err(error) => format!("engine not answering: {error}"),
            Ok(docker) => match docker.inspect_image(&image()).await {
                Ok(_) => return docker,
                Err(error) => format!(
                    "image {} missing ({error}); run scripts/build-offline-image.sh",
                    image()
                ),
            },
        },
    };
    missing(
        &format!("a usable Docker engine ({problem})"),
        "scripts/setup.sh",
    )
}

/// Fails the test unless the engine has the OCI runtime `name` registered (gVisor's `runsc`).
pub async fn require_runtime(docker: &Docker, name: &str) {
    let runtimes = docker
        .info()
        .await
        .ok()
        .and_then(|info| info.runtimes)
        .unwrap_or_default();
    if !runtimes.contains_key(name) {
        missing(
            &format!(
                "the OCI runtime {name} registered with the engine (it has: {:?})",
                runtimes.keys().collect::<Vec<_>>()
            ),
            "scripts/setup.sh (installs gVisor's runsc and registers it in /etc/docker/daemon.json)",
        )
    }
}

/// Removes images a test built (a missing one is not an error: the test may have failed before building it).
pub async fn remove_images(docker: &Docker, images: &[&str]) {
    for image in images {
        let _ = docker
            .remove_image(
                image,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await;
    }
}

/// Fails an included test whose engine or tool is missing: it cannot run, and it must not pass.
pub fn missing(what: &str, fix: &str) -> ! {
    panic!(
        "this test needs {what}. Fix: {fix}. (Tests needing it are #[ignore]d by default; it ran because \
         ignored tests were included, as scripts/test does.)"
    )
}

/// Settings for tests: the test image, plus `extra` variables.
pub fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([("MCP_BRIDGE_IMAGE".into(), image())]);
    if let Ok(home) = std::env::var("HOME") {
        vars.insert("HOME".into(), home);
    }
    for (key, value) in extra {
        vars.insert(key.to_string(), value.to_string());
    }
    Config::from_map(&vars).expect("test settings are valid")
}

/// A bridge over the real engine.
pub fn bridge(extra: &[(&str, &str)]) -> Arc<Bridge> {
    Arc::new(Bridge::new(config(extra)).expect("bridge builds"))
}

/// Runs `code` with `timeout` seconds through the same path as the MCP tool.
pub async fn run(bridge: &Bridge, code: &str, timeout: u64) -> Response {
    let arguments = args(json!({"code": code, "timeout": timeout}));
    bridge
        .run_python(&arguments, &CancellationToken::new())
        .await
        .expect("not cancelled")
}

/// A JSON object literal as tool arguments.
pub fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, got {other}"),
    }
}

/// Ids of the bridge's containers (any state) whose labels match `label=value`.
pub async fn containers_with(docker: &Docker, label: &str, value: &str) -> Vec<String> {
    let filter = format!("{label}={value}");
    let filters = HashMap::from([("label", vec![filter.as_str()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    mcp_bridge::sandbox::engine::list_containers(docker, options)
        .await
        .expect("listing containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

/// Containers of one run.
pub async fn containers_of_run(docker: &Docker, run_id: &str) -> Vec<String> {
    containers_with(docker, "mcp-bridge.run", run_id).await
}

/// Whether the container `id` exists (in any state).
pub async fn container_exists(docker: &Docker, id: &str) -> bool {
    match mcp_bridge::sandbox::engine::inspect_container(docker, id).await {
        Ok(_) => true,
        Err(error) if mcp_bridge::sandbox::engine::is_gone(&error) => false,
        Err(error) => panic!("inspecting container {id}: {error}"),
    }
}

/// Containers created by the bridge process `pid` (owner label `<boot>/<pid>/<start>`).
pub async fn containers_of_process(docker: &Docker, pid: u32) -> Vec<String> {
    containers_and_states_of_process(docker, pid)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// [`containers_of_process`] with each container's state (`running`, `exited`, …).
pub async fn containers_and_states_of_process(docker: &Docker, pid: u32) -> Vec<(String, String)> {
    let filters = HashMap::from([("label", vec!["mcp-bridge"])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let marker = format!("/{pid}/");
    mcp_bridge::sandbox::engine::list_containers(docker, options)
        .await
        .expect("listing containers")
        .into_iter()
        .filter(|c| {
            c.labels
                .as_ref()
                .and_then(|l| l.get("mcp-bridge.owner"))
                .is_some_and(|owner| owner.contains(&marker))
        })
        .map(|c| {
            let state = c.state.map(|s| s.to_string()).unwrap_or_default();
            (c.id.unwrap_or_default(), state)
        })
        .collect()
}

/// Polls `check` until it holds (removal after a successful run happens in the background).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

/// stdout lines of a response's payload.
pub fn stdout(response: &Response) -> Vec<String> {
    response.payload.stdout.clone()
}

/// stderr joined.
pub fn stderr_text(response: &Response) -> String {
    response.payload.stderr.join("\n")
}

/// Ends a test's bridge the way `bridge serve` ends: every container it made is removed and every upstream
/// server it started has ended before returning.
pub async fn finish(bridge: &Bridge) {
    bridge.shutdown().await;
}
