//! A bridge killed mid-run (SIGKILL: none of its shutdown path runs) leaves no running container: the
//! container's PID 1 ends it when the bridge's end of stdin closes, and the next `bridge` start removes what is
//! left. Its own test binary, so that no other bridge of this process sweeps the container before it is seen.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_bridge_killed_mid_run_leaves_no_running_container_and_the_next_start_sweeps_it() {
    let docker = common::engine().await;
    let scratch = TempDir::new().unwrap();
    let bridge_run = |code: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bridge"));
        command
            .args(["run", "-c", code, "--timeout", "120"])
            .env("HOME", scratch.path())
            .env("MCP_BRIDGE_STATE_DIR", scratch.path().join("state"))
            // The plugin cache the other tests share: start-up does not wait for compiling the built-ins.
            .env(
                "MCP_BRIDGE_CACHE_DIR",
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-plugin-cache"),
            )
            .env("MCP_BRIDGE_IMAGE", common::image())
            .current_dir(scratch.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    let mut victim = bridge_run("import time; time.sleep(600)").spawn().unwrap();
    let pid = victim.id();
    common::eventually("the run's container is running", || {
        let docker = docker.clone();
        async move {
            common::containers_and_states_of_process(&docker, pid)
                .await
                .iter()
                .any(|(_, state)| state == "running")
        }
    })
    .await;
    victim.kill().unwrap(); // SIGKILL: no shutdown path runs
    victim.wait().unwrap();
    // Its PID 1 sees stdin close and ends the container: well within the grace, long before the timeout.
    let stopped = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let states = common::containers_and_states_of_process(&docker, pid).await;
            if states.iter().all(|(_, state)| state != "running") {
                return states;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the orphaned container stopped on its own within 10 s");
    // It ended itself: PID 1 saw the bridge's end of stdin close (PROTOCOL.md §1). Nothing else in this test
    // process starts a bridge that could have swept it first.
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    let state = docker
        .inspect_container(&stopped[0].0, None)
        .await
        .unwrap()
        .state
        .unwrap();
    assert_eq!(state.exit_code, Some(129), "{state:?}");

    // The next bridge to run code removes what the dead one left.
    let status = bridge_run("print(1)").status().unwrap();
    assert!(status.success());
    common::eventually("the dead bridge's container is swept", || {
        let docker = docker.clone();
        async move {
            common::containers_and_states_of_process(&docker, pid)
                .await
                .is_empty()
        }
    })
    .await;
}
