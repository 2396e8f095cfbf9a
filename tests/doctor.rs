//! `bridge doctor` through the real binary: all green on a healthy setup, and each broken part named with its
//! fix (the engine stopped, the image missing, a plugin that does not load, a server that does not start).

mod common;

use std::process::Output;

use common::project::Project;
use serde_json::{Value, json};

fn doctor(project: &Project, extra: &[(&str, &str)], json: bool) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_bridge"));
    command
        .arg("doctor")
        .current_dir(project.path("."))
        .envs(project.vars())
        .env("MCP_BRIDGE_IMAGE", common::image())
        .env("MCP_BRIDGE_LOG_LEVEL", "error")
        .envs(extra.iter().copied());
    if json {
        command.arg("--json");
    }
    command.output().expect("bridge doctor runs")
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{error}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The check called `name`.
fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn on_a_healthy_setup_every_check_is_green() {
    let docker = common::engine().await;
    let project = Project::stub();
    let output = doctor(&project, &[], true);
    let found = report(&output);
    assert_eq!(output.status.code(), Some(0), "{found:#}");
    assert_eq!(found["runs_work"], true);
    for check in found["checks"].as_array().unwrap() {
        assert_eq!(check["outcome"], "ok", "{check:#}");
    }
    for name in [
        "engine",
        "rootless",
        "runtime",
        "image",
        "state dir",
        "cache dir",
        "run",
        "seccomp",
        "privileges",
    ] {
        check(&found, name);
    }
    assert!(
        check(&found, "engine")["detail"]
            .as_str()
            .unwrap()
            .contains("API 1.")
    );
    assert!(check(&found, "run")["ms"].as_f64().unwrap() > 0.0);
    assert!(
        check(&found, "seccomp")["detail"]
            .as_str()
            .unwrap()
            .contains("Seccomp: 2")
    );
    assert!(
        check(&found, "privileges")["detail"]
            .as_str()
            .unwrap()
            .contains("uid 65534")
    );
    assert!(
        check(&found, "plugin toon")["detail"]
            .as_str()
            .unwrap()
            .contains("API ")
    );
    let stub = check(&found, "server stub")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        stub.starts_with("started, ") && stub.contains("tool(s)"),
        "{stub}"
    );

    // The text form says the same, and ends saying runs work.
    let text = doctor(&project, &[], false);
    assert_eq!(text.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("ok    seccomp")),
        "{stdout}"
    );
    assert!(stdout.ends_with("runs work; nothing to fix\n"), "{stdout}");

    // Under gVisor the sandbox's kernel is gVisor's own, and doctor says so rather than failing on the seccomp
    // profile it does not load (SECURITY.md).
    common::require_runtime(&docker, "runsc").await;
    let gvisor = report(&doctor(&project, &[("MCP_BRIDGE_RUNTIME", "runsc")], true));
    assert_eq!(gvisor["runs_work"], true, "{gvisor:#}");
    assert!(
        check(&gvisor, "seccomp")["detail"]
            .as_str()
            .unwrap()
            .starts_with("gVisor: ")
    );

    // An image the engine does not have: named, with both ways to get one; the run is not tried.
    let missing = doctor(
        &project,
        &[("MCP_BRIDGE_IMAGE", "mcp-bridge/no-such-image:1")],
        true,
    );
    assert_eq!(missing.status.code(), Some(1));
    let found = report(&missing);
    let image = check(&found, "image");
    assert_eq!(image["outcome"], "fail");
    let fix = image["fix"].as_str().unwrap();
    assert!(
        fix.contains("docker pull mcp-bridge/no-such-image:1"),
        "{fix}"
    );
    assert!(fix.contains("scripts/build-offline-image.sh"), "{fix}");
    assert_eq!(check(&found, "run")["outcome"], "skip");
}

#[test]
fn a_stopped_engine_a_broken_plugin_and_an_unstartable_server_are_each_named_with_their_fix() {
    let project = Project::new(json!({
        "stub": {"command": "python3", "args": [common::stub_script()]},
        "broken": {"command": "/nonexistent/mcp-server", "args": ["--stdio"]},
    }));
    std::fs::create_dir_all(project.path("plugins")).unwrap();
    std::fs::write(project.path("plugins/garbage.wasm"), "this is not wasm").unwrap();
    let plugins = project.path("plugins").display().to_string();
    let settings = [
        ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ("MCP_BRIDGE_PLUGIN_PATH", plugins.as_str()),
    ];
    let output = doctor(&project, &settings, true);
    assert_eq!(output.status.code(), Some(1));
    let found = report(&output);
    assert_eq!(found["runs_work"], false);

    let engine = check(&found, "engine");
    assert_eq!(engine["outcome"], "fail");
    assert!(
        engine["detail"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/docker.sock"),
        "{engine}"
    );
    assert!(
        engine["fix"].as_str().unwrap().contains("dockerd"),
        "{engine}"
    );
    for name in ["rootless", "runtime", "image", "run"] {
        assert_eq!(check(&found, name)["outcome"], "skip", "{name}");
    }

    let plugin = check(&found, "plugin garbage");
    assert_eq!(plugin["outcome"], "fail", "{plugin}");
    assert!(
        plugin["detail"]
            .as_str()
            .unwrap()
            .contains("not a loadable WebAssembly component")
    );
    assert!(
        plugin["fix"]
            .as_str()
            .unwrap()
            .contains("bridge plugin check"),
        "{plugin}"
    );

    let server = check(&found, "server broken");
    assert_eq!(server["outcome"], "warn", "{server}");
    assert!(
        server["fix"]
            .as_str()
            .unwrap()
            .contains("`/nonexistent/mcp-server --stdio` starts"),
        "{server}"
    );
    // A server that works is still reported as working; what is broken does not hide it.
    assert_eq!(check(&found, "server stub")["outcome"], "ok");

    // The text form: each failure with its fix under it, and the count.
    let text = doctor(&project, &settings, false);
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("FAIL  engine")),
        "{stdout}"
    );
    assert!(stdout.contains("fix: start the engine"), "{stdout}");
    assert!(
        stdout.contains("runs cannot work until the 2 failure(s) above are fixed"),
        "{stdout}"
    );
}
