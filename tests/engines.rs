//! The engine the tests run against, as the bridge sees it: either it keeps every protection a sandbox asks for,
//! and a run works, or the bridge refuses it — naming exactly what it lacks, leaving nothing behind — until
//! `MCP_BRIDGE_ALLOW_WEAKER` accepts exactly that.
//!
//! `.ci/run` runs this against rootful Docker, rootful Podman and rootless Podman (as an unprivileged user).
//! `MCP_BRIDGE_TEST_EXPECT_WEAKER` names what the engine is known to lack there — rootless Podman on this
//! machine kind's cgroup v1 keeps no memory, swap, pids or CPU limit and, through its Docker-compatible API, no
//! ulimit — so a bridge that stopped noticing fails here instead of running code unconfined.

mod common;

use mcp_bridge::response::Status;
use mcp_bridge::sandbox::protections::Protection;

/// What this engine is expected to lack, in the order the bridge names it.
fn expected_shortfalls() -> Vec<Protection> {
    let named = std::env::var("MCP_BRIDGE_TEST_EXPECT_WEAKER").unwrap_or_default();
    let set = Protection::parse_list(&named).expect("MCP_BRIDGE_TEST_EXPECT_WEAKER parses");
    Protection::ALL
        .into_iter()
        .filter(|p| set.contains(p))
        .collect()
}

fn names(protections: &[Protection]) -> String {
    protections
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn code_runs_only_with_every_protection_or_exactly_what_the_user_accepted() {
    let docker = common::engine().await;
    let expected = expected_shortfalls();
    // Cold runs: the first container is the one the engine's record is read from.
    let strict = common::bridge(&[("MCP_BRIDGE_POOL_SIZE", "0")]);
    let first = common::run(&strict, "print(1)", 30).await;
    if expected.is_empty() {
        assert_eq!(
            (first.payload.status, first.payload.stdout.clone()),
            (Status::Success, vec!["1".to_string()]),
            "an engine that keeps every protection runs code: {:?}",
            first.payload
        );
        common::finish(&strict).await;
        return;
    }

    let refused = |response: &mcp_bridge::bridge::Response, missing: &[Protection]| {
        let error = response.payload.error.clone().unwrap_or_default();
        assert_eq!(
            response.payload.status,
            Status::Error,
            "{:?}",
            response.payload
        );
        assert!(error.contains("is refused"), "{error}");
        assert!(
            error.contains(&format!("MCP_BRIDGE_ALLOW_WEAKER={}", names(&expected))),
            "the setting that would accept all of it: {error}"
        );
        for protection in Protection::ALL {
            let named = error.contains(protection.consequence());
            assert_eq!(
                named,
                missing.contains(&protection),
                "{protection} named in the refusal: {error}"
            );
        }
        assert!(response.payload.stdout.is_empty(), "no code ran");
    };
    refused(&first, &expected);
    // Refused again at once, without another container.
    let second = common::run(&strict, "print(1)", 30).await;
    refused(&second, &expected);
    assert!(second.container.is_none(), "no container for a refused run");
    common::finish(&strict).await;

    // Accepting less than what is missing runs nothing either, and names only what is left.
    if expected.len() > 1 {
        let partly = common::bridge(&[
            ("MCP_BRIDGE_POOL_SIZE", "0"),
            ("MCP_BRIDGE_ALLOW_WEAKER", expected[0].name()),
        ]);
        refused(&common::run(&partly, "print(1)", 30).await, &expected[1..]);
        common::finish(&partly).await;
    }

    // Exactly what is missing, accepted: the code runs.
    let accepted = names(&expected);
    let accepting = common::bridge(&[
        ("MCP_BRIDGE_POOL_SIZE", "0"),
        ("MCP_BRIDGE_ALLOW_WEAKER", &accepted),
    ]);
    let ran = common::run(&accepting, "print(1)", 30).await;
    assert_eq!(
        (ran.payload.status, ran.payload.stdout.clone()),
        (Status::Success, vec!["1".to_string()]),
        "{:?}",
        ran.payload
    );
    common::finish(&accepting).await;

    // The refused containers never started and are gone.
    let left = common::containers_of_process(&docker, std::process::id()).await;
    assert_eq!(left, Vec::<String>::new(), "containers left behind");
}
