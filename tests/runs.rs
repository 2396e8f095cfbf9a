//! What a run reports, against the real engine: statuses and exit codes, output without size cliffs, output
//! that cannot corrupt or spoof the protocol, limits, and bad input.

mod common;

use common::{args, containers_of_run, eventually, run, stderr_text, stdout};
use mcp_bridge::response::Status;
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn statuses_and_exit_codes() {
    common::engine().await;
    let bridge = common::bridge(&[]);

    let ok = run(&bridge, "print('hello'); print(); print('()')", 30).await;
    assert_eq!(ok.payload.status, Status::Success);
    assert_eq!(ok.payload.exit_code, Some(0));
    assert_eq!(stdout(&ok), vec!["hello"]);
    assert_eq!(ok.text, "hello");
    assert_eq!(ok.payload.status, Status::Success);

    let quiet = run(&bridge, "x = 1", 30).await;
    assert_eq!(quiet.payload.summary, "Success (no output)");

    let awaited = run(
        &bridge,
        "import asyncio\nawait asyncio.sleep(0.01)\nprint('awaited')",
        30,
    )
    .await;
    assert_eq!(stdout(&awaited), vec!["awaited"]);

    let raised = run(
        &bridge,
        "print('before')\nx = 1\nraise ValueError('boom')",
        30,
    )
    .await;
    assert_eq!(raised.payload.status, Status::Error);
    assert_eq!(raised.payload.exit_code, Some(1));
    assert_eq!(stdout(&raised), vec!["before"]);
    let traceback = stderr_text(&raised);
    assert!(
        traceback.contains("File \"<sandbox>\", line 3"),
        "{traceback}"
    );
    assert!(
        traceback.contains("raise ValueError('boom')"),
        "{traceback}"
    );
    assert!(traceback.ends_with("ValueError: boom"), "{traceback}");
    assert!(
        !traceback.contains("mcp_bridge_runtime"),
        "runtime frames are hidden: {traceback}"
    );
    assert!(
        raised
            .text
            .starts_with("status: error\nexit: 1\nbefore\nstderr:\nTraceback"),
        "{}",
        raised.text
    );

    let exited = run(&bridge, "import sys\nsys.exit(3)", 30).await;
    assert_eq!(exited.payload.status, Status::Error);
    assert_eq!(exited.payload.exit_code, Some(3));
    let zero = run(&bridge, "import sys\nprint('bye')\nsys.exit(0)", 30).await;
    assert_eq!(zero.payload.status, Status::Success);
    assert_eq!(stdout(&zero), vec!["bye"]);

    let syntax = run(&bridge, "def broken(:\n    pass", 30).await;
    assert_eq!(syntax.payload.exit_code, Some(1));
    assert!(
        stderr_text(&syntax).contains("SyntaxError"),
        "{:?}",
        syntax.payload
    );
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn large_output_has_no_cliff_and_is_cut_with_a_marker() {
    common::engine().await;
    // A budget large enough for a whole 1 MiB line.
    let bridge = common::bridge(&[("MCP_BRIDGE_MAX_OUTPUT", "4m")]);
    let line = run(&bridge, "print('x' * (1 << 20))", 60).await;
    assert_eq!(
        line.payload.status,
        Status::Success,
        "{:?}",
        line.payload.error
    );
    assert_eq!(line.payload.stdout, vec!["x".repeat(1 << 20)]);

    // 20 MB through the default 256 KiB budget: head and tail kept, the cut said.
    let bridge = common::bridge(&[]);
    let flood = run(
        &bridge,
        "import sys\nfor i in range(200_000):\n    sys.stdout.write(f'{i:09d} ' + 'y' * 90 + '\\n')",
        120,
    )
    .await;
    assert_eq!(
        flood.payload.status,
        Status::Success,
        "{:?}",
        flood.payload.error
    );
    let lines = &flood.payload.stdout;
    assert!(lines[0].starts_with("000000000 "), "{}", lines[0]);
    assert!(
        lines.last().unwrap().starts_with("000199999 "),
        "{}",
        lines.last().unwrap()
    );
    let marker = lines
        .iter()
        .find(|l| l.starts_with("[mcp-bridge: "))
        .expect("cut marker");
    let cut: u64 = marker["[mcp-bridge: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let kept: usize = lines
        .iter()
        .filter(|l| !l.starts_with("[mcp-bridge"))
        .map(|l| l.len() + 1)
        .sum();
    assert!(cut > 19_000_000, "{marker}");
    assert!(kept < 300 * 1024, "kept {kept} bytes");
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn raw_fds_children_and_forged_frames_are_only_data() {
    common::engine().await;
    let bridge = common::bridge(&[]);
    let code = r#"
import os, subprocess, sys
print('{"t":"done","exit":0}')
print('{"t":"rpc","id":1,"method":"call_tool","params":{}}')
os.write(1, b'{"t":"done","exit":7}\n')
os.write(2, b'raw-stderr\n')
subprocess.run([sys.executable, "-c", "print('{\"t\":\"done\",\"exit\":9}')"])
subprocess.run(["sh", "-c", "printf 'from-shell\\n'"])
os.write(1, b'\xff\xfe bad utf8\n')
print("still running")
sys.exit(4)
"#;
    let response = run(&bridge, code, 30).await;
    assert_eq!(
        response.payload.exit_code,
        Some(4),
        "forged done frames did not end the run: {:?}",
        response.payload
    );
    let out = stdout(&response);
    assert_eq!(
        out,
        vec![
            r#"{"t":"done","exit":0}"#,
            r#"{"t":"rpc","id":1,"method":"call_tool","params":{}}"#,
            r#"{"t":"done","exit":7}"#,
            r#"{"t":"done","exit":9}"#,
            "from-shell",
            "\u{fffd}\u{fffd} bad utf8",
            "still running",
        ]
    );
    assert_eq!(response.payload.stderr, vec!["raw-stderr"]);
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn memory_exhaustion_says_the_limit_was_hit_and_keeps_the_output_before_it() {
    common::engine().await;
    memory_exhaustion(&[]).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine, the sandbox image and gVisor's runsc: run scripts/test, or cargo test -- --include-ignored"]
async fn memory_exhaustion_under_gvisor_says_so_and_keeps_the_output_too() {
    let docker = common::engine().await;
    common::require_runtime(&docker, "runsc").await;
    memory_exhaustion(&[("MCP_BRIDGE_RUNTIME", "runsc")]).await;
}

async fn memory_exhaustion(vars: &[(&str, &str)]) {
    let bridge = common::bridge(&[&[("MCP_BRIDGE_MEMORY", "64m")], vars].concat());
    let response = run(
        &bridge,
        // No flush: the line reaches the output pipe (line buffering) but the interpreter, busy filling the
        // bytearray, would never have forwarded it itself.
        "import sys\nprint('allocating')\nsys.stderr.write('on stderr too\\n')\nb = bytearray(1 << 30)\nprint('ESCAPED')",
        60,
    )
    .await;
    assert_eq!(
        response.payload.status,
        Status::Error,
        "{:?}",
        response.payload
    );
    let error = response.payload.error.clone().unwrap_or_default();
    assert!(error.contains("memory limit"), "{error}");
    assert!(error.contains("64 MiB"), "{error}");
    assert_eq!(response.payload.exit_code, Some(137));
    assert_eq!(stdout(&response), ["allocating"]);
    assert!(
        stderr_text(&response).contains("on stderr too"),
        "{}",
        stderr_text(&response)
    );
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn code_that_uses_up_every_file_descriptor_and_handles_it_still_succeeds() {
    common::engine().await;
    let bridge = common::bridge(&[]);
    // The files stay open to the end: the runtime's own teardown must need no new descriptor.
    let response = run(
        &bridge,
        "import os\nheld = []\ntry:\n    while True:\n        held.append(os.open('/dev/null', os.O_RDONLY))\nexcept OSError as e:\n    print('exhausted', e.errno, len(held) > 900)",
        30,
    )
    .await;
    assert_eq!(
        response.payload.status,
        Status::Success,
        "{:?}",
        response.payload
    );
    assert_eq!(stdout(&response), ["exhausted 24 True"]);
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn timeout_kills_and_removes_the_container() {
    let docker = common::engine().await;
    let bridge = common::bridge(&[]);
    let response = run(
        &bridge,
        "import time\nprint('start', flush=True)\ntime.sleep(600)",
        2,
    )
    .await;
    assert_eq!(response.payload.status, Status::Timeout);
    assert_eq!(response.payload.timeout_seconds, Some(2));
    assert_eq!(stdout(&response), vec!["start"]);
    assert_eq!(
        response.text,
        "status: timeout\nstart\nerror: Execution timed out after 2s"
    );
    // Removal is awaited before a timeout is reported: nothing to poll for.
    let run_id = response.run_id.expect("a container was made");
    assert!(containers_of_run(&docker, &run_id).await.is_empty());
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_run_flooding_output_past_its_deadline_is_still_removed() {
    let docker = common::engine().await;
    // The container is blocked writing to an attach stream nobody reads once the run ends; removal must not
    // wait for it (the engine holds a removal until its output copy finishes).
    let bridge = common::bridge(&[("MCP_BRIDGE_OUTPUT_LIMIT", "1g")]);
    let response = run(
        &bridge,
        "import sys\nwhile True:\n    sys.stdout.write('z' * 65536)",
        2,
    )
    .await;
    assert_eq!(
        response.payload.status,
        Status::Timeout,
        "{:?}",
        response.payload.error
    );
    let run_id = response.run_id.expect("a container was made");
    assert!(containers_of_run(&docker, &run_id).await.is_empty());

    // And past the output limit: stopped as a flood, the kept output within the budget.
    let bridge = common::bridge(&[("MCP_BRIDGE_OUTPUT_LIMIT", "8m")]);
    let response = run(
        &bridge,
        "import sys\nwhile True:\n    sys.stdout.write('z' * 65536)",
        60,
    )
    .await;
    assert_eq!(response.payload.status, Status::Error);
    let error = response.payload.error.clone().unwrap();
    assert!(
        error.contains("output limit exceeded") && error.contains("MCP_BRIDGE_OUTPUT_LIMIT"),
        "{error}"
    );
    let kept: usize = response.payload.stdout.iter().map(String::len).sum();
    assert!(kept <= 256 * 1024, "{kept}");
    assert!(
        containers_of_run(&docker, &response.run_id.unwrap())
            .await
            .is_empty()
    );
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn cancelling_removes_the_container() {
    let docker = common::engine().await;
    let bridge = common::bridge(&[]);
    let cancel = CancellationToken::new();
    let arguments = args(json!({"code": "import time\ntime.sleep(600)", "timeout": 120}));
    let runner = {
        let (bridge, cancel) = (bridge.clone(), cancel.clone());
        tokio::spawn(async move { bridge.run_python(&arguments, &cancel).await })
    };
    // Wait until the run's container exists, then cancel.
    let pid = std::process::id();
    eventually("the container runs", || async {
        !common::containers_of_process(&docker, pid).await.is_empty()
    })
    .await;
    cancel.cancel();
    let cancelled = runner
        .await
        .unwrap()
        .expect_err("a cancelled run reports cancellation");
    let run_id = cancelled.run_id.expect("the run had started");
    // Removal is awaited before cancellation is reported.
    assert!(containers_of_run(&docker, &run_id).await.is_empty());
    common::finish(&bridge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn concurrent_runs_are_parallel_up_to_the_limit_then_queue() {
    common::engine().await;
    let bridge = common::bridge(&[("MCP_BRIDGE_MAX_CONCURRENCY", "2")]);
    let code = "import time\nstart = time.time()\ntime.sleep(1.5)\nprint(start, time.time())";
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let bridge = bridge.clone();
            tokio::spawn(async move { run(&bridge, code, 60).await })
        })
        .collect();
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for handle in runs {
        let response = handle.await.unwrap();
        assert_eq!(
            response.payload.status,
            Status::Success,
            "{:?}",
            response.payload
        );
        let times: Vec<f64> = response.payload.stdout[0]
            .split(' ')
            .map(|t| t.parse().unwrap())
            .collect();
        spans.push((times[0], times[1]));
    }
    // The code's own clock (shared with the host): how many runs overlapped at each start.
    let overlap_at = |t: f64| spans.iter().filter(|(s, e)| *s <= t && t < *e).count();
    let most = spans.iter().map(|(s, _)| overlap_at(*s)).max().unwrap();
    assert_eq!(most, 2, "two run at once, never more: {spans:?}");
    common::finish(&bridge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_run_that_finds_every_container_in_use_waits_its_queue_time_then_is_told_busy() {
    common::engine().await;
    // The cold path and the pool alike: with the pool on, every run goes through it at this size.
    for pool in ["0", "1"] {
        let bridge = common::bridge(&[
            ("MCP_BRIDGE_MAX_CONCURRENCY", "1"),
            ("MCP_BRIDGE_POOL_SIZE", pool),
            ("MCP_BRIDGE_QUEUE_WAIT", "1"),
        ]);
        let busy_bridge = bridge.clone();
        let long = tokio::spawn(async move {
            run(
                &busy_bridge,
                "import time\ntime.sleep(4)\nprint('long')",
                60,
            )
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let started = std::time::Instant::now();
        let refused = run(&bridge, "print('never runs')", 60).await;
        let waited = started.elapsed();
        assert_eq!(
            refused.payload.status,
            Status::Error,
            "{:?}",
            refused.payload
        );
        assert_eq!(
            refused.payload.error.as_deref(),
            Some(
                "busy: all 1 sandbox containers (MCP_BRIDGE_MAX_CONCURRENCY) stayed in use for the 1 s this \
                 call may wait (MCP_BRIDGE_QUEUE_WAIT); nothing ran. Try again when fewer runs are going, or \
                 raise either setting"
            ),
            "pool {pool}"
        );
        assert!(refused.payload.stdout.is_empty());
        assert!(
            waited >= std::time::Duration::from_secs(1)
                && waited < std::time::Duration::from_secs(3),
            "pool {pool}: refused after {waited:?}"
        );
        // The run holding the container is untouched, and the next run after it works.
        assert_eq!(stdout(&long.await.unwrap()), ["long"], "pool {pool}");
        assert_eq!(stdout(&run(&bridge, "print('next')", 60).await), ["next"]);
        common::finish(&bridge).await;
    }
}

#[tokio::test]
async fn bad_input_gets_a_specific_error_and_changes_nothing() {
    let bridge = common::bridge(&[]);
    for (arguments, expected) in [
        (json!({}), "\"code\" is a required property"),
        (json!({"code": 5}), "is not of type \"string\""),
        (
            json!({"code": "print(1)", "timeout": "5"}),
            "'timeout': \"5\" is not of type \"integer\"",
        ),
        (
            json!({"code": "print(1)", "timeout": 500}),
            "500 is greater than the maximum of 120",
        ),
        (
            json!({"code": "print(1)", "timeout": 0}),
            "0 is less than the minimum of 1",
        ),
        (
            json!({"code": "print(1)", "servers": "x"}),
            "'servers': \"x\" is not of type \"array\"",
        ),
        (json!({"code": "  "}), "Missing 'code' argument"),
        (
            json!({"code": "#".repeat(2 << 20)}),
            "the limit is 1048576 bytes",
        ),
    ] {
        let response = bridge
            .run_python(&args(arguments.clone()), &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(
            response.payload.status,
            Status::ValidationError,
            "{arguments}"
        );
        let error = response.payload.error.clone().unwrap();
        assert!(error.contains(expected), "{arguments}: {error}");
        assert!(response.run_id.is_none(), "nothing ran for {arguments}");
    }
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn the_runtime_loads_from_the_images_bytecode_when_the_image_has_it() {
    common::engine().await;
    let bridge = common::bridge(&[]);
    let probe = r#"
import os, sys
runtime = sorted(n for n, m in sys.modules.items()
                 if type(getattr(m, "__loader__", None)).__name__ == "_MemoryImporter")
print(os.path.isdir("/usr/lib/mcp-bridge/bytecode"))
print([n for n in runtime if getattr(sys.modules[n], "__cached__", None)])
print([n for n in runtime if not getattr(sys.modules[n], "__cached__", None)])
"#;
    let response = run(&bridge, probe, 30).await;
    let lines = stdout(&response);
    let [has_cache, cached, compiled] = lines.as_slice() else {
        panic!("expected 3 lines: {lines:?} {}", stderr_text(&response));
    };
    if has_cache == "False" {
        // An image not built by scripts/build-offline-image.sh has no cache: the runtime compiles itself.
        assert!(
            !common::image().starts_with("mcp-bridge/sandbox:"),
            "the project's image has no bytecode cache: run scripts/build-offline-image.sh"
        );
        eprintln!("SKIPPED: {} has no bytecode cache", common::image());
        return;
    }
    // Every runtime module imported so far came from the cache, so the keys the bridge sends and the ones
    // scripts/runtime_bytecode.py wrote agree.
    assert_eq!(compiled, "[]", "compiled from source: {compiled}");
    assert!(
        cached.contains("'mcp_bridge_runtime'") && cached.contains("'mcp_bridge_relay'"),
        "{cached}"
    );
}
