//! The pool of warm, single-use containers, against the real engine: every run gets a container no run had
//! before, the pool refills (a done run's slot at once, its container ending all the same), a drained pool
//! falls back to cold starts, a cancelled pooled run leaves nothing,
//! and warm containers of a bridge killed with SIGKILL end themselves and are swept by the next bridge.
//! (The containment suite, `tests/containment.rs`, runs every case through the pool.)
//!
//! The tests here count the containers of this test process, so they take turns (`SERIAL`).

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{args, eventually, run, stdout};
use mcp_bridge::bridge::Bridge;
use mcp_bridge::response::Status;
use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::json;
use tokio::process::Command;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

static SERIAL: Mutex<()> = Mutex::const_new(());

/// A bridge with a pool of `size`, started as `bridge serve` starts it, once the pool is full.
async fn pooled(size: usize, extra: &[(&str, &str)]) -> std::sync::Arc<Bridge> {
    let size_text = size.to_string();
    let mut vars = vec![("MCP_BRIDGE_POOL_SIZE", size_text.as_str())];
    vars.extend_from_slice(extra);
    let bridge = common::bridge(&vars);
    bridge.sandbox().warm_up().await.expect("engine ready");
    wait_for_pool(&bridge, size).await;
    bridge
}

async fn wait_for_pool(bridge: &Bridge, size: usize) {
    eventually(&format!("{size} warm containers are ready"), || async {
        bridge.sandbox().warm_containers() == size
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_pooled_run_never_sees_what_an_earlier_run_left_and_the_pool_refills() {
    let docker = common::engine().await;
    let _turn = SERIAL.lock().await;
    let bridge = pooled(2, &[]).await;

    let first = run(
        &bridge,
        "import os, subprocess\n\
         open('/workspace/left', 'w').write('x')\n\
         open('/tmp/left', 'w').write('x')\n\
         os.environ['LEFT'] = '1'\n\
         subprocess.Popen(['sleep', '300'], start_new_session=True)\n\
         import builtins; builtins.LEFT = 1\n\
         print('wrote')",
        30,
    )
    .await;
    assert_eq!(stdout(&first), ["wrote"], "{:?}", first.payload);
    let first_container = first.container.clone().expect("a container");
    assert!(first_container.warm, "the first run took a warm container");
    eventually("the first run's container is removed", || async {
        !common::container_exists(&docker, &first_container.id).await
    })
    .await;
    wait_for_pool(&bridge, 2).await;

    let second = run(
        &bridge,
        "import os, builtins\n\
         procs = [open(f'/proc/{p}/cmdline', 'rb').read() for p in os.listdir('/proc') if p.isdigit()]\n\
         print(os.path.exists('/workspace/left'), os.path.exists('/tmp/left'), 'LEFT' in os.environ,\n\
               any(b'sleep' in c for c in procs), hasattr(builtins, 'LEFT'))",
        30,
    )
    .await;
    assert_eq!(
        stdout(&second),
        ["False False False False False"],
        "{:?}",
        second.payload
    );
    let second_container = second.container.clone().expect("a container");
    assert!(second_container.warm);
    assert_ne!(second_container.id, first_container.id);
    wait_for_pool(&bridge, 2).await;
    common::finish(&bridge).await;
    assert!(
        common::containers_of_process(&docker, std::process::id())
            .await
            .is_empty(),
        "shutdown removes the warm containers too"
    );
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_done_runs_slot_serves_the_next_and_its_container_still_ends_whatever_the_code_left() {
    let docker = common::engine().await;
    let _turn = SERIAL.lock().await;
    // One slot, held by the pool: the next run can only have it once the first gave it back (at `done`, while
    // its container may still be ending; that order is timing, so the benchmarks show it, not this test).
    let bridge = pooled(1, &[("MCP_BRIDGE_MAX_CONCURRENCY", "1")]).await;
    let first = run(
        &bridge,
        r#"import subprocess, threading
def spin():
    while True:
        pass
threading.Thread(target=spin).start()
subprocess.Popen(['sh', '-c', 'trap "" HUP TERM; while :; do :; done'], start_new_session=True)
print('left work running')"#,
        30,
    )
    .await;
    assert_eq!(stdout(&first), ["left work running"], "{:?}", first.payload);
    let first_container = first.container.clone().expect("a container");

    let second = run(&bridge, "print('next')", 30).await;
    assert_eq!(stdout(&second), ["next"], "{:?}", second.payload);
    let second_container = second.container.clone().expect("a container");
    assert!(second_container.warm, "the refill had the freed slot");
    assert_ne!(second_container.id, first_container.id);
    // Its slot went on, but the container did not outlive its run: PID 1 ends it once stdin closes, and the
    // bridge removes it.
    eventually("the first run's container is removed", || async {
        !common::container_exists(&docker, &first_container.id).await
    })
    .await;
    common::finish(&bridge).await;
    assert!(
        common::containers_of_process(&docker, std::process::id())
            .await
            .is_empty()
    );
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_drained_pool_falls_back_to_cold_starts() {
    common::engine().await;
    let _turn = SERIAL.lock().await;
    let bridge = pooled(1, &[("MCP_BRIDGE_MAX_CONCURRENCY", "4")]).await;
    let runs = (0..3).map(|i| {
        let bridge = bridge.clone();
        async move {
            run(
                &bridge,
                &format!("import time\ntime.sleep(1)\nprint({i})"),
                30,
            )
            .await
        }
    });
    let responses = futures::future::join_all(runs).await;
    for (i, response) in responses.iter().enumerate() {
        assert_eq!(stdout(response), [i.to_string()], "{:?}", response.payload);
    }
    let warm = responses
        .iter()
        .filter(|r| r.container.as_ref().is_some_and(|c| c.warm))
        .count();
    assert!(
        (1..3).contains(&warm),
        "one or two warm runs, the rest cold: {warm} warm"
    );
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_cancelled_pooled_run_removes_its_container_and_the_pool_refills() {
    let docker = common::engine().await;
    let _turn = SERIAL.lock().await;
    let bridge = pooled(1, &[]).await;
    let warm_before = common::containers_of_process(&docker, std::process::id()).await;
    assert_eq!(warm_before.len(), 1);

    let cancel = CancellationToken::new();
    let running = {
        let (bridge, cancel) = (bridge.clone(), cancel.clone());
        tokio::spawn(async move {
            let arguments = args(json!({"code": "import time\ntime.sleep(600)", "timeout": 120}));
            bridge.run_python(&arguments, &cancel).await
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    cancel.cancel();
    assert!(running.await.expect("joined").is_err(), "cancelled");
    eventually("the cancelled run's warm container is removed", || async {
        !common::container_exists(&docker, &warm_before[0]).await
    })
    .await;
    wait_for_pool(&bridge, 1).await;
    let after = run(&bridge, "print('after')", 30).await;
    assert_eq!(stdout(&after), ["after"]);
    assert_eq!(after.payload.status, Status::Success);
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn warm_containers_of_a_killed_bridge_end_themselves_and_are_swept() {
    let docker = common::engine().await;
    let _turn = SERIAL.lock().await;
    let serve = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bridge"));
        command
            .arg("serve")
            .env("MCP_BRIDGE_IMAGE", common::image())
            .env("MCP_BRIDGE_POOL_SIZE", "2")
            .env("MCP_BRIDGE_LOG_LEVEL", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        command.spawn().expect("bridge starts")
    };
    let mut crashed = serve();
    let crashed_pid = crashed.id().expect("a pid");
    // `bridge serve` fills its pool at start, before any client has spoken.
    eventually("the bridge's two warm containers are running", || async {
        common::containers_and_states_of_process(&docker, crashed_pid)
            .await
            .iter()
            .filter(|(_, state)| state == "running")
            .count()
            == 2
    })
    .await;
    crashed.kill().await.expect("SIGKILL");
    crashed.wait().await.expect("reaped");
    eventually(
        "the warm containers end themselves once their stdin closes",
        || async {
            let states = common::containers_and_states_of_process(&docker, crashed_pid).await;
            !states.is_empty() && states.iter().all(|(_, state)| state != "running")
        },
    )
    .await;

    // The next bridge, as a client starts it.
    let mut command = Command::new(env!("CARGO_BIN_EXE_bridge"));
    command
        .arg("serve")
        .env("MCP_BRIDGE_IMAGE", common::image())
        .env("MCP_BRIDGE_POOL_SIZE", "2");
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()
        .expect("bridge starts");
    let next_pid = transport.id().expect("a pid");
    let client = ().serve(transport).await.expect("handshake");
    eventually("the next bridge's start-up sweep removes them", || async {
        common::containers_of_process(&docker, crashed_pid)
            .await
            .is_empty()
    })
    .await;
    // A client going away ends `bridge serve`, which removes its own warm containers.
    client.cancel().await.expect("client closes");
    eventually(
        "the next bridge removes its warm containers as it exits",
        || async {
            common::containers_of_process(&docker, next_pid)
                .await
                .is_empty()
        },
    )
    .await;
}
