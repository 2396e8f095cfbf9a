//! Persistent sessions against the real engine: state carried between calls, an exception that keeps it, a
//! timeout that ends it, calls to one session queued, idle expiry, the session limit, servers named by a later
//! call, a policy that denies a session call, and sessions kept apart by connection.

mod common;

use common::project::Project;
use common::{args, eventually, stderr_text, stdout};
use mcp_bridge::bridge::{Bridge, Response};
use mcp_bridge::response::Status;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const CONNECTION: &str = "connection-a";

/// One call of `session` on `connection`.
async fn call_on(
    bridge: &Bridge,
    connection: &str,
    session: &str,
    code: &str,
    timeout: u64,
    servers: &[&str],
) -> Response {
    let arguments =
        args(json!({"code": code, "session": session, "timeout": timeout, "servers": servers}));
    bridge
        .run_python_for(
            &arguments,
            &CancellationToken::new(),
            mcp_bridge::bridge::Caller {
                connection: Some(connection),
                ..Default::default()
            },
        )
        .await
        .expect("not cancelled")
}

async fn call(bridge: &Bridge, session: &str, code: &str) -> Response {
    call_on(bridge, CONNECTION, session, code, 30, &[]).await
}

fn session(response: &Response) -> Value {
    response.payload.to_value()["session"].clone()
}

fn container(response: &Response) -> String {
    response.container.clone().expect("a container").id
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_session_keeps_globals_imports_and_files_and_survives_an_exception() {
    let docker = common::engine().await;
    let bridge = common::bridge(&[("MCP_BRIDGE_POOL_SIZE", "0")]);

    let first = call(
        &bridge,
        "work",
        "import json\nx = 41\ndef twice(v):\n    return 2 * v\n\
         open('/workspace/kept', 'w').write('w')\nopen('/tmp/kept', 'w').write('t')\nprint('set')",
    )
    .await;
    assert_eq!(stdout(&first), ["set"], "{:?}", first.payload);
    assert_eq!(session(&first), json!({"name": "work", "call": 1}));
    assert!(
        first.payload.summary.contains("new session 'work'"),
        "{}",
        first.payload.summary
    );

    let second = call(
        &bridge,
        "work",
        "x += 1\nprint(x, twice(x), json.dumps([x]), open('/workspace/kept').read(), open('/tmp/kept').read())",
    )
    .await;
    assert_eq!(stdout(&second), ["42 84 [42] w t"], "{:?}", second.payload);
    assert_eq!(session(&second), json!({"name": "work", "call": 2}));
    assert_eq!(
        container(&first),
        container(&second),
        "one container per session"
    );

    // An exception is the call's error, with its traceback through code an earlier call defined.
    let third = call(&bridge, "work", "print('before')\ntwice(None) + [1]\n").await;
    assert_eq!(third.payload.status, Status::Error);
    assert_eq!(third.payload.exit_code, Some(1));
    assert_eq!(stdout(&third), ["before"]);
    let traceback = stderr_text(&third);
    assert!(traceback.contains("TypeError"), "{traceback}");
    assert!(
        traceback.contains("<sandbox#1>"),
        "the frame in call 1's code is named: {traceback}"
    );
    assert!(!traceback.contains("mcp_bridge_runtime"), "{traceback}");
    // Source lines of both calls: the runtime kept them until the traceback imported linecache.
    assert!(traceback.contains("    return 2 * v\n"), "{traceback}");
    assert!(traceback.contains("    twice(None) + [1]\n"), "{traceback}");
    assert_eq!(session(&third)["call"], 3);
    assert!(session(&third).get("ended").is_none());

    // SystemExit ends the call, not the session; output of each call is its own.
    let fourth = call(&bridge, "work", "print('exiting')\nraise SystemExit(3)").await;
    assert_eq!(fourth.payload.exit_code, Some(3));
    assert_eq!(stdout(&fourth), ["exiting"]);
    let fifth = call(&bridge, "work", "print(x, runtime.session_name())").await;
    assert_eq!(stdout(&fifth), ["42 work"], "{:?}", fifth.payload);
    // linecache is imported by now: a later call's lines go straight into it.
    let sixth = call(
        &bridge,
        "work",
        "def late():\n    raise KeyError('late')\nlate()",
    )
    .await;
    let traceback = stderr_text(&sixth);
    assert!(
        traceback.contains("File \"<sandbox#6>\", line 2, in late\n    raise KeyError('late')\n"),
        "{traceback}"
    );

    // Ended from inside: the container goes, and the next call starts afresh, told why.
    let ending = call(&bridge, "work", "runtime.end_session()\nprint('bye')").await;
    assert_eq!(
        ending.payload.status,
        Status::Success,
        "{:?}",
        ending.payload
    );
    assert_eq!(stdout(&ending), ["bye"]);
    assert_eq!(
        session(&ending)["ended"],
        "the code called runtime.end_session()"
    );
    let ended_container = container(&ending);
    eventually("the ended session's container is removed", || async {
        !common::container_exists(&docker, &ended_container).await
    })
    .await;
    let fresh = call(&bridge, "work", "print('x' in globals())").await;
    assert_eq!(stdout(&fresh), ["False"]);
    assert_eq!(session(&fresh)["call"], 1);
    assert_eq!(
        session(&fresh)["replaces"],
        "the code called runtime.end_session()"
    );
    assert_ne!(container(&fresh), ended_container);

    // Outside a session, end_session() says what it is for.
    let single = common::run(&bridge, "runtime.end_session()", 30).await;
    assert!(
        stderr_text(&single).contains("not in a session"),
        "{:?}",
        single.payload
    );
    common::finish(&bridge).await;
    assert!(
        common::containers_of_process(&docker, std::process::id())
            .await
            .iter()
            .all(|id| *id != container(&fresh)),
        "shutdown removes session containers"
    );
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_timeout_or_a_memory_kill_ends_the_session_and_says_so() {
    let docker = common::engine().await;
    let bridge = common::bridge(&[("MCP_BRIDGE_POOL_SIZE", "0"), ("MCP_BRIDGE_MEMORY", "64m")]);

    call(&bridge, "slow", "x = 1").await;
    let timed_out = call_on(
        &bridge,
        CONNECTION,
        "slow",
        "import time\nprint('sleeping', flush=True)\ntime.sleep(30)",
        2,
        &[],
    )
    .await;
    assert_eq!(
        timed_out.payload.status,
        Status::Timeout,
        "{:?}",
        timed_out.payload
    );
    assert_eq!(stdout(&timed_out), ["sleeping"]);
    assert_eq!(session(&timed_out)["ended"], "the call timed out after 2 s");
    assert!(
        timed_out.payload.summary.contains("the session ended"),
        "{}",
        timed_out.payload.summary
    );
    assert!(!common::container_exists(&docker, &container(&timed_out)).await);
    let after = call(&bridge, "slow", "print('x' in globals())").await;
    assert_eq!(stdout(&after), ["False"]);
    assert_eq!(session(&after)["replaces"], "the call timed out after 2 s");

    call(&bridge, "big", "keep = 1").await;
    let killed = call(
        &bridge,
        "big",
        "print('filling')\nblocks = []\nwhile True:\n    blocks.append(bytearray(16 << 20))",
    )
    .await;
    assert_eq!(killed.payload.status, Status::Error, "{:?}", killed.payload);
    // What the code printed just before the kill is kept (the relay, not the killed runner, forwards it).
    assert_eq!(stdout(&killed), ["filling"]);
    let ended = session(&killed)["ended"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(ended.contains("memory limit"), "{ended}");
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn calls_to_one_session_run_one_after_another() {
    common::engine().await;
    let bridge = common::bridge(&[("MCP_BRIDGE_POOL_SIZE", "0")]);
    call(&bridge, "queue", "import time\nlog = []").await;
    let calls = (0..4).map(|i| {
        let bridge = bridge.clone();
        async move {
            call(
                &bridge,
                "queue",
                &format!("log.append('start {i}')\ntime.sleep(0.3)\nlog.append('end {i}')\nprint('call {i}')"),
            )
            .await
        }
    });
    let responses = futures::future::join_all(calls).await;
    for (i, response) in responses.iter().enumerate() {
        assert_eq!(
            stdout(response),
            [format!("call {i}")],
            "outputs are never mixed: {:?}",
            response.payload
        );
    }
    let mut numbers: Vec<u64> = responses
        .iter()
        .map(|r| session(r)["call"].as_u64().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [2, 3, 4, 5]);
    let log = call(&bridge, "queue", "print(log)").await;
    let log: Vec<String> = serde_json::from_str(&stdout(&log)[0].replace('\'', "\"")).unwrap();
    for pair in log.chunks(2) {
        let (start, end) = (&pair[0], &pair[1]);
        assert_eq!(
            start.replace("start", "end"),
            *end,
            "never interleaved: {log:?}"
        );
    }
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn idle_sessions_expire_and_the_limit_is_clear() {
    let docker = common::engine().await;
    let bridge = common::bridge(&[
        ("MCP_BRIDGE_POOL_SIZE", "0"),
        ("MCP_BRIDGE_MAX_SESSIONS", "2"),
        ("MCP_BRIDGE_SESSION_IDLE", "3s"),
    ]);
    let a = call(&bridge, "a", "v = 'a'").await;
    call(&bridge, "b", "v = 'b'").await;
    let refused = call(&bridge, "c", "print(1)").await;
    assert_eq!(refused.payload.status, Status::Error);
    let error = refused.payload.error.clone().unwrap_or_default();
    assert!(
        error.contains("MCP_BRIDGE_MAX_SESSIONS") && error.contains("yours: a, b"),
        "{error}"
    );
    // Another connection is told the limit without the names of sessions that are not its own.
    let other = call_on(&bridge, "connection-b", "c", "print(1)", 30, &[]).await;
    let error = other.payload.error.clone().unwrap_or_default();
    assert!(error.contains("yours: none"), "{error}");

    // Sessions are the connection's own: the same name elsewhere is another session.
    call(&bridge, "b", "runtime.end_session()").await;
    let elsewhere = call_on(
        &bridge,
        "connection-b",
        "a",
        "print('v' in globals())",
        30,
        &[],
    )
    .await;
    assert_eq!(stdout(&elsewhere), ["False"], "{:?}", elsewhere.payload);
    call_on(
        &bridge,
        "connection-b",
        "a",
        "runtime.end_session()",
        30,
        &[],
    )
    .await;

    let a_container = container(&a);
    eventually("an unused session ends", || async {
        bridge.sandbox().open_sessions() == 0
    })
    .await;
    eventually("its container is removed", || async {
        !common::container_exists(&docker, &a_container).await
    })
    .await;
    let again = call(&bridge, "a", "print('v' in globals())").await;
    assert_eq!(stdout(&again), ["False"]);
    let replaces = session(&again)["replaces"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(replaces.contains("unused for 3 s"), "{replaces}");
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_later_call_adds_servers_and_every_call_is_checked_by_policy() {
    common::engine().await;
    let project = Project::stub()
        .var("MCP_BRIDGE_POOL_SIZE", "0")
        .with_config(
            r#"
[plugins.rules]
enabled = true
[plugins.rules.config.run]
deny_code_contains = ["os.system("]
"#,
        );
    let bridge = project.bridge();
    let first = call(
        &bridge,
        "tools",
        "kept = 'k'\nprint('mcp_stub' in globals())",
    )
    .await;
    assert_eq!(stdout(&first), ["False"], "{:?}", first.payload);
    let second = call_on(
        &bridge,
        CONNECTION,
        "tools",
        "print(kept, (await mcp_stub.echo(text='hi')))",
        30,
        &["stub"],
    )
    .await;
    assert_eq!(
        second.payload.status,
        Status::Success,
        "{:?}",
        second.payload
    );
    assert!(stdout(&second)[0].starts_with("k "), "{:?}", second.payload);
    assert!(stdout(&second)[0].contains("hi"), "{:?}", second.payload);

    let denied = call(&bridge, "tools", "import os\nos.system('true')").await;
    assert_eq!(denied.payload.status, Status::Error);
    assert!(
        denied.payload.summary.starts_with("Policy denied"),
        "{:?}",
        denied.payload
    );
    // The denied call never reached the session, which goes on.
    let after = call(&bridge, "tools", "print(kept)").await;
    assert_eq!(stdout(&after), ["k"]);
    assert_eq!(session(&after)["call"], 3);
    common::finish(&bridge).await;
}

#[tokio::test]
async fn bridge_run_refuses_a_session() {
    let bridge = common::bridge(&[]);
    let response = bridge
        .run_python(
            &args(json!({"code": "print(1)", "session": "s"})),
            &CancellationToken::new(),
        )
        .await
        .expect("not cancelled");
    assert_eq!(response.payload.status, Status::ValidationError);
    assert!(
        response.payload.summary.contains("bridge serve"),
        "{:?}",
        response.payload
    );
}
