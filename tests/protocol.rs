//! Hostile frames: code that finds the runner's frame socket (it can: same process) and writes to it directly;
//! the relay forwards every whole line to the host. The host must stay in control: a malformed frame stops the run with a protocol error, memory
//! bounded; a well-formed one is believed for nothing the code could not do itself (PROTOCOL.md §4).

mod common;

use mcp_bridge::response::Status;

/// Finds the frame socket (the runner's only socket) and writes `payload` (bytes) to it.
fn forge(payload: &str) -> String {
    format!(
        r#"
import os, stat
payload = {payload}
for fd in range(3, 64):
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            continue
        data = payload() if callable(payload) else payload
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        print("wrote to", fd, flush=True)
        break
    except OSError:
        pass
import time
time.sleep(30)
print("ESCAPED: still running")
"#
    )
}

async fn stopped_with(bridge: &mcp_bridge::bridge::Bridge, code: &str, reason: &str) {
    let response = common::run(bridge, code, 20).await;
    assert_eq!(
        response.payload.status,
        Status::Error,
        "{:?}",
        response.payload
    );
    let error = response.payload.error.clone().unwrap_or_default();
    assert!(
        error.contains("protocol error") && error.contains(reason),
        "{error}"
    );
    assert!(
        !response
            .payload
            .stdout
            .iter()
            .any(|l| l.contains("ESCAPED"))
    );
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn forged_frames_on_the_protocol_fd_stop_the_run() {
    common::engine().await;
    let bridge = common::bridge(&[]);
    // A frame longer than the cap (PROTO-09).
    stopped_with(&bridge, &forge("b'x' * (10 << 20)"), "frame longer than").await;
    // The same rpc id twice (PROTO-16).
    stopped_with(
        &bridge,
        &forge(r#"b'{"t":"rpc","id":7,"method":"a"}\n{"t":"rpc","id":7,"method":"b"}\n'"#),
        "duplicate rpc id 7",
    )
    .await;
    // Invalid UTF-8 as a raw frame (PROTO-10), an unknown frame type, a duplicate key (POL-05).
    stopped_with(&bridge, &forge(r#"b'\xff\xfe\n'"#), "not valid UTF-8").await;
    stopped_with(
        &bridge,
        &forge(r#"b'{"t":"exec","code":"x"}\n'"#),
        "malformed frame",
    )
    .await;
    stopped_with(
        &bridge,
        &forge(r#"b'{"t":"done","exit":0,"exit":1}\n'"#),
        "malformed frame",
    )
    .await;
    // Requests whose replies are never read (PROTO-21): the host stops the run instead of buffering.
    stopped_with(
        &bridge,
        &forge(r#"lambda: b"".join(b'{"t":"rpc","id":%d,"method":"%s"}\n' % (i, b"m" * 200) for i in range(20000))"#),
        "unread on its stdin",
    )
    .await;
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_forged_done_frame_ends_only_the_forgers_own_run() {
    let docker = common::engine().await;
    // The forgery succeeds at the byte level (the runtime shares the code's process), and the host believes it
    // (PROTOCOL.md §4): the status is one the code could have chosen anyway. What the forger gains is ending its
    // own run early with a status of its choice; its container is still removed, with whatever it left running.
    let bridge = common::bridge(&[]);
    let code = r#"
import os, stat
for fd in range(3, 64):
    try:
        if stat.S_ISSOCK(os.fstat(fd).st_mode):
            os.write(fd, b'{"t":"done","exit":0}\n')
            break
    except OSError:
        pass
import time
time.sleep(30)
raise SystemExit(3)
"#;
    let started = std::time::Instant::now();
    let response = common::run(&bridge, code, 60).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the run ended at the forged done"
    );
    assert_eq!(
        response.payload.status,
        Status::Success,
        "{:?}",
        response.payload
    );
    // Output written before the forged frame may or may not have been forwarded: the forger's own loss.
    let container = response.container.clone().expect("a container").id;
    common::eventually("the forger's container is removed", || async {
        !common::container_exists(&docker, &container).await
    })
    .await;
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn wrong_requests_are_answered_with_errors_naming_what_was_wrong_and_the_run_goes_on() {
    common::engine().await;
    // The code can send any request the runtime can (PROTOCOL.md §4): an unknown method or wrong parameters are
    // refused by the host's decoder with a reply, never taken for another method, never a protocol error.
    let bridge = common::bridge(&[]);
    let code = r#"
for method, params in [
    ("tool_saev", {"name": "x", "source": "def x(): pass"}),
    ("memory_list", {"cursor": -1}),
    ("memory_load", {"key": "k", "extra": 1}),
    ("memory_load", {}),
    ("list_servers", [1]),
    ("tool_delete", {"name": "../x"}),
]:
    try:
        runtime._call_sync(method, params)
        print("ANSWERED", method)
    except runtime.MCPError as exc:
        print(exc)
try:
    save_memory("k", float("nan"))
except ValueError as exc:
    print("ValueError:", exc)
print("still running")
"#;
    let response = common::run(&bridge, code, 20).await;
    assert_eq!(
        response.payload.status,
        Status::Success,
        "{:?}",
        response.payload
    );
    let out = &response.payload.stdout;
    assert_eq!(out.len(), 8, "{out:?}");
    assert!(
        out[0].starts_with("Unknown RPC method \"tool_saev\"; the methods are list_servers,"),
        "{}",
        out[0]
    );
    assert_eq!(out[1], "'cursor' must be a non-negative integer");
    assert_eq!(
        out[2],
        "unknown parameter \"extra\" (the parameters are key)"
    );
    assert_eq!(out[3], "missing parameter 'key'");
    assert_eq!(out[4], "rpc params must be an object");
    assert!(
        out[5].starts_with("'name' is not a function name"),
        "{}",
        out[5]
    );
    // NaN is not JSON: the runtime refuses it before it becomes a frame the host would stop the run over.
    assert!(
        out[6].starts_with("ValueError: Out of range float"),
        "{}",
        out[6]
    );
    assert_eq!(out[7], "still running");
    common::finish(&bridge).await;
}
