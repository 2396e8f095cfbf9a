//! The engine restarted under a bridge with runs going and its pool full: each run in flight ends at once with an
//! error saying the engine failed, the warm containers die with the engine, the bridge notices, the next run
//! works (cold, at once) without restarting the bridge, the pool fills again, and nothing is left behind. One
//! restart for all of it: restarting dockerd twice in a row is slow and flaky in itself.
//!
//! It stops and starts the local dockerd, so it runs only where that is this test's to do: under `CI=true`
//! (where `scripts/setup.sh` started dockerd itself), or with `MCP_BRIDGE_TEST_RESTART_ENGINE=1`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run, stdout};
use mcp_bridge::response::Status;

/// Where `scripts/setup.sh` logs the dockerd it starts.
const DOCKERD_LOG: &str = "/var/log/mcp-bridge-dockerd.log";

fn engine_answers() -> bool {
    Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this test may restart the local dockerd (with a loud message when not).
fn restart_allowed() -> bool {
    let allowed = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("MCP_BRIDGE_TEST_RESTART_ENGINE").is_ok_and(|v| v == "1");
    if !allowed {
        eprintln!(
            "SKIPPED: this test restarts the local dockerd; set MCP_BRIDGE_TEST_RESTART_ENGINE=1 to let it \
             (CI=true does)"
        );
    }
    allowed
}

async fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// SIGTERM to dockerd, then a new one started the way `scripts/setup.sh` starts it.
async fn restart_dockerd() {
    let stopped = Command::new("pkill")
        .args(["-TERM", "-x", "dockerd"])
        .status();
    assert!(stopped.is_ok_and(|s| s.success()), "no dockerd to stop");
    wait_until("dockerd has exited", Duration::from_secs(60), || {
        !Command::new("pgrep")
            .args(["-x", "dockerd"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
    .await;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(DOCKERD_LOG)
        .expect("dockerd's log opens");
    let mut dockerd = Command::new("setsid");
    dockerd
        .arg("dockerd")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log);
    // Not waited for: the engine outlives this test, as it would outlive setup.sh.
    std::mem::drop(dockerd.spawn().expect("dockerd starts"));
    wait_until(
        "the engine answers again",
        Duration::from_secs(60),
        engine_answers,
    )
    .await;
}

#[tokio::test]
#[ignore = "restarts the local Docker engine: run under CI=true (scripts/test) or with MCP_BRIDGE_TEST_RESTART_ENGINE=1"]
async fn the_engine_restarting_under_runs_in_flight_and_a_full_pool_is_survived() {
    if !restart_allowed() {
        return;
    }
    let docker = common::engine().await;
    let bridge = common::bridge(&[("MCP_BRIDGE_POOL_SIZE", "2")]);
    bridge.sandbox().warm_up().await.expect("engine ready");
    wait_until("the pool is full", Duration::from_secs(60), || {
        bridge.sandbox().warm_containers() == 2
    })
    .await;
    // Two runs take the warm containers, print, then sleep past the restart; the pool fills again beside them
    // (4 containers at once by default).
    let runs: Vec<_> = (0..2)
        .map(|n| {
            let bridge = bridge.clone();
            tokio::spawn(async move {
                let code =
                    format!("print('run {n} started', flush=True)\nimport time\ntime.sleep(50)");
                let started = Instant::now();
                (run(&bridge, &code, 60).await, started.elapsed())
            })
        })
        .collect();
    wait_until(
        "both runs are going and the pool is full again",
        Duration::from_secs(60),
        || bridge.sandbox().warm_containers() == 2,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = common::containers_of_process(&docker, std::process::id()).await;
    assert_eq!(before.len(), 4, "{before:?}");

    restart_dockerd().await;

    for (n, handle) in runs.into_iter().enumerate() {
        let (response, took) = handle.await.expect("the run's task");
        let payload = &response.payload;
        assert_eq!(payload.status, Status::Error, "run {n}: {payload:?}");
        // Not at its timeout: the run ended with the engine, kept what it printed, and says what happened.
        assert!(took < Duration::from_secs(45), "run {n} took {took:?}");
        assert_eq!(payload.stdout, [format!("run {n} started")]);
        let error = payload.error.as_deref().unwrap_or_default();
        assert!(
            error.starts_with("the container engine failed while the code ran"),
            "run {n}: {payload:?}"
        );
    }
    // The next run works at once, whatever state the pool is in.
    let after = run(&bridge, "print('after the restart')", 60).await;
    assert_eq!(after.payload.status, Status::Success, "{:?}", after.payload);
    assert_eq!(stdout(&after), ["after the restart"]);
    // What ran before the restart died with the engine; the pool fills again, and serves the run after.
    let docker = common::engine().await;
    for id in &before {
        assert!(
            !common::container_exists(&docker, id).await
                || common::containers_and_states_of_process(&docker, std::process::id())
                    .await
                    .iter()
                    .any(|(c, state)| c == id && state != "running"),
            "a container of before the restart still runs: {id}"
        );
    }
    wait_until("the pool is full again", Duration::from_secs(120), || {
        bridge.sandbox().warm_containers() == 2
    })
    .await;
    let warm_again = run(&bridge, "print('warm again')", 60).await;
    assert_eq!(stdout(&warm_again), ["warm again"]);
    assert!(
        warm_again.container.as_ref().is_some_and(|c| c.warm),
        "{:?}",
        warm_again.container
    );
    common::finish(&bridge).await;
    let left = common::containers_of_process(&docker, std::process::id()).await;
    assert!(left.is_empty(), "left behind: {left:?}");
}
