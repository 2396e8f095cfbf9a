//! The engine's share of `bridge doctor`: reaching it, what it is, the OCI runtime and the image; then one real
//! run, and what confines the sandbox as seen from inside it.

use std::time::{Duration, Instant};

use bollard::Docker;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::Check;
use crate::bridge::Bridge;
use crate::config::Config;
use crate::response::Status;
use crate::sandbox::SandboxError;
use crate::sandbox::engine::{self, EngineFacts};
use crate::sandbox::protections;

/// Long enough for a slow engine, short enough that a hung one is reported rather than waited on.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(20);

/// The code of the end-to-end check: prints 1, then the confinement fields of `/proc/self/status`.
const PROBE: &str = include_str!("probe.py");

/// The engine, its rootlessness, the runtime and the image; whether a run can be tried.
pub(super) async fn check_engine(config: &Config, checks: &mut Vec<Check>) -> bool {
    let engine = match reach(config).await {
        Ok(engine) => engine,
        Err(error) => {
            // The error's own advice is the fix below; the detail keeps what was found.
            let detail = match error {
                SandboxError::EngineUnavailable { endpoint, detail } => {
                    format!("cannot reach the engine at {endpoint}: {detail}")
                }
                other => other.to_string(),
            };
            checks.push(Check::fail(
                "engine",
                detail,
                "start the engine (Docker: `dockerd &` or `systemctl start docker`; rootless Podman: \
                 `systemctl --user start podman.socket`), or point DOCKER_HOST at a running one",
            ));
            for name in ["rootless", "protections", "runtime", "image"] {
                checks.push(Check::skip(name, "the engine"));
            }
            return false;
        }
    };
    let (docker, facts, endpoint) = engine;
    checks.push(Check::ok(
        "engine",
        format!(
            "{} {} at {endpoint}, API {}",
            facts.kind, facts.version, facts.api_version
        ),
    ));
    checks.push(Check::ok("rootless", describe_rootless(&facts)));
    checks.push(check_protections(config, &docker).await);
    let runtime = check_runtime(config, &docker, &facts).await;
    let image = check_image(config, &docker).await;
    let ready = runtime.outcome == super::Outcome::Ok && image.outcome == super::Outcome::Ok;
    checks.extend([runtime, image]);
    ready
}

async fn reach(config: &Config) -> Result<(Docker, EngineFacts, String), SandboxError> {
    let endpoint = engine::connect(config.runtime, ENGINE_TIMEOUT)?;
    let docker = engine::negotiate(&endpoint).await?;
    let facts = engine::describe(&docker, endpoint.unix_path.as_deref()).await?;
    Ok((docker, facts, endpoint.description))
}

fn describe_rootless(facts: &EngineFacts) -> String {
    if facts.rootless {
        "yes: the sandbox's users map to unprivileged ids on this machine".to_string()
    } else {
        format!(
            "no: {} runs as root, so access to its socket is root on this machine (the sandbox itself never \
             gets that socket)",
            facts.kind
        )
    }
}

/// Whether the engine can apply every limit and the seccomp profile (`sandbox::protections`): what the bridge
/// refuses to run without unless `MCP_BRIDGE_ALLOW_WEAKER` says otherwise.
async fn check_protections(config: &Config, docker: &Docker) -> Check {
    let info = match docker.info().await {
        Ok(info) => info,
        Err(error) => {
            return Check::fail(
                "protections",
                format!("asking the engine what it can apply: {error}"),
                "check the engine's log; `docker info` should answer",
            );
        }
    };
    let wanted = protections::Wanted {
        cpu_quota: config.cpus > 0.0,
    };
    let found = protections::shortfalls(&info, wanted);
    if found.is_empty() {
        let cpu = if wanted.cpu_quota { ", CPU quota" } else { "" };
        return Check::ok(
            "protections",
            format!(
                "the engine applies the memory, swap and process limits{cpu} and the seccomp profile"
            ),
        );
    }
    match protections::check(found, &config.allow_weaker) {
        Ok(accepted) => Check::warn(
            "protections",
            format!(
                "sandboxes run without {}, as MCP_BRIDGE_ALLOW_WEAKER allows",
                accepted
                    .iter()
                    .map(|s| format!("{} ({})", s.protection, s.reason))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "an engine that applies them: rootful Docker or Podman, or a rootless one on cgroup v2 with the \
             controllers delegated (README, Engines)",
        ),
        Err(refusal) => Check::fail(
            "protections",
            format!("runs are refused: {refusal}"),
            format!(
                "use an engine that applies them (README, Engines), or set MCP_BRIDGE_ALLOW_WEAKER={}",
                refusal.allow
            ),
        ),
    }
}

async fn check_runtime(config: &Config, docker: &Docker, facts: &EngineFacts) -> Check {
    let Some(name) = &config.oci_runtime else {
        let default = facts.default_runtime.as_deref().unwrap_or("unknown");
        return Check::ok(
            "runtime",
            format!(
                "the engine's default ({default}); MCP_BRIDGE_RUNTIME=runsc runs sandboxes under gVisor"
            ),
        );
    };
    if facts.kind == "Podman" {
        return Check::fail(
            "runtime",
            format!("{name} asked for, but Podman's compatible API ignores a container's runtime"),
            "use Docker for gVisor (scripts/setup.sh registers runsc), or unset MCP_BRIDGE_RUNTIME",
        );
    }
    let checked = match docker.info().await {
        Ok(info) => engine::ensure_runtime(&info, name),
        Err(error) => Err(SandboxError::Engine(format!(
            "asking the engine for its runtimes: {error}"
        ))),
    };
    match checked {
        Ok(()) => Check::ok("runtime", format!("{name}, registered with the engine")),
        Err(error) => Check::fail(
            "runtime",
            format!("{name} is not registered with the engine"),
            error.to_string(),
        ),
    }
}

async fn check_image(config: &Config, docker: &Docker) -> Check {
    let image = &config.image;
    match docker.inspect_image(image).await {
        Ok(inspected) => {
            let id = inspected.id.unwrap_or_default();
            let short = id.strip_prefix("sha256:").unwrap_or(&id);
            let size = inspected.size.unwrap_or(0) as f64 / 1_000_000.0;
            Check::ok(
                "image",
                format!(
                    "{image} ({}, {size:.0} MB)",
                    short.get(..12).unwrap_or(short)
                ),
            )
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) if image.starts_with("sha256:") => Check::fail(
            "image",
            format!("{image} (recorded by `bridge image build`) is not on the engine any more"),
            "build it again with `bridge image build --with …`, or delete `[sandbox] image` from your config \
             file to use the default image",
        ),
        // Not here, but its registry has it: the first run pulls it, so runs work (after a wait).
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) if docker.inspect_registry_image(image, None).await.is_ok() => Check::warn(
            "image",
            format!(
                "{image} is not on the engine yet; its registry has it, and the first run pulls it"
            ),
            format!("`bridge image pull {image}` now, so the first run does not wait for it"),
        ),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Check::fail(
            "image",
            format!(
                "{image} is not on the engine, and its registry cannot be reached or has no such image"
            ),
            format!(
                "`docker pull {image}` where a registry is reachable, or build the sandbox image with no \
                 registry: `bridge image build` (as root; it records the image in your config file)"
            ),
        ),
        Err(error) => Check::fail(
            "image",
            format!("inspecting {image}: {error}"),
            "check the engine's log; `docker image inspect` should answer for the image",
        ),
    }
}

/// One `print(1)` through the same path as `run_python` (a cold container), and what the kernel says confines
/// it: the seccomp filter, capabilities, `no_new_privs` and the user.
pub(super) async fn check_run(bridge: &Bridge) -> Vec<Check> {
    let mut arguments = Map::new();
    arguments.insert("code".into(), Value::String(PROBE.to_string()));
    arguments.insert("timeout".into(), json!(60));
    let started = Instant::now();
    let response = match bridge
        .run_python(&arguments, &CancellationToken::new())
        .await
    {
        Ok(response) => response,
        Err(cancelled) => {
            return vec![Check::fail(
                "run",
                cancelled.to_string(),
                "run `bridge doctor` again",
            )];
        }
    };
    let payload = &response.payload;
    if payload.status != Status::Success || payload.stdout.first().map(String::as_str) != Some("1")
    {
        let why = payload
            .error
            .clone()
            .unwrap_or_else(|| payload.summary.clone());
        return vec![
            Check::fail(
                "run",
                format!("print(1) did not run: {why}"),
                "`bridge run -c 'print(1)' --json` shows the whole response; with MCP_BRIDGE_LOG_LEVEL=debug \
                 the engine's side too",
            )
            .timed(started),
            Check::skip("seccomp", "a run"),
            Check::skip("privileges", "a run"),
        ];
    }
    let runtime = bridge.config().oci_runtime.as_deref().unwrap_or("default");
    let mut checks = vec![
        Check::ok(
            "run",
            format!("print(1) ran end to end in a fresh container (OCI runtime: {runtime})"),
        )
        .timed(started),
    ];
    let fields: Map<String, Value> = payload
        .stdout
        .get(1)
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_default();
    let field = |key: &str| fields.get(key).and_then(Value::as_str).unwrap_or("?");
    let gvisor = (runtime == "runsc").then(|| {
        let host = std::fs::read_to_string("/proc/version").unwrap_or_default();
        field("Kernel") != host.trim()
    });
    checks.push(judge_seccomp(field("Seccomp"), gvisor, field("Kernel")));
    checks.push(judge_privileges(
        field("Uid"),
        field("CapEff"),
        // gVisor's kernel does not report no_new_privs; its own kernel is the boundary there.
        (gvisor != Some(true)).then(|| field("NoNewPrivs")),
        &bridge.config().container_user,
    ));
    checks
}

/// `gvisor`: whether the run asked for gVisor (`runsc`), and if so whether it met a kernel other than the host's.
fn judge_seccomp(mode: &str, gvisor: Option<bool>, kernel: &str) -> Check {
    match gvisor {
        Some(true) => {
            return Check::ok(
                "seccomp",
                format!(
                    "gVisor: the code's system calls go to gVisor's kernel (\"{kernel}\"), which runs under its own \
                     seccomp filter; the bridge's profile is not loaded inside it (SECURITY.md, gVisor)"
                ),
            );
        }
        Some(false) => {
            return Check::fail(
                "seccomp",
                "MCP_BRIDGE_RUNTIME=runsc, but the run met the host's kernel, not gVisor's",
                "check the engine's runtimes (`docker info`): `runsc` must point at gVisor's runsc binary",
            );
        }
        None => {}
    }
    if mode == "2" {
        return Check::ok(
            "seccomp",
            "a seccomp filter confines the sandbox (Seccomp: 2 inside)",
        );
    }
    Check::fail(
        "seccomp",
        format!("no seccomp filter inside the sandbox (Seccomp: {mode})"),
        "the engine starts containers unconfined: run it without `--seccomp-profile=unconfined` (and without \
         `seccomp=unconfined` in its default security options) on a kernel with CONFIG_SECCOMP_FILTER",
    )
}

/// `no_new_privs`: `None` where the kernel does not report it (gVisor's).
fn judge_privileges(
    uid: &str,
    capabilities: &str,
    no_new_privs: Option<&str>,
    expected_user: &str,
) -> Check {
    let expected_uid = expected_user.split(':').next().unwrap_or(expected_user);
    let no_capabilities = capabilities.chars().all(|c| c == '0') && !capabilities.is_empty();
    let mut problems = Vec::new();
    if uid != expected_uid {
        problems.push(format!(
            "runs as uid {uid}, not {expected_uid} (MCP_BRIDGE_CONTAINER_USER)"
        ));
    }
    if !no_capabilities {
        problems.push(format!("has capabilities ({capabilities})"));
    }
    if let Some(flag) = no_new_privs
        && flag != "1"
    {
        problems.push(format!("can gain privileges (NoNewPrivs: {flag})"));
    }
    if problems.is_empty() {
        let no_new_privs = match no_new_privs {
            Some(_) => "no_new_privs set",
            None => "no_new_privs not reported by gVisor's kernel",
        };
        return Check::ok(
            "privileges",
            format!("uid {uid}, no capabilities, {no_new_privs}"),
        );
    }
    Check::fail(
        "privileges",
        format!("the sandbox {}", problems.join("; ")),
        "the engine changed the container's security settings: check its default security options \
         (`docker info`) and any authorization plugin; the bridge asks for cap-drop ALL and no-new-privileges",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Outcome;

    #[test]
    fn only_filter_mode_counts_as_seccomp() {
        assert_eq!(judge_seccomp("2", None, "").outcome, Outcome::Ok);
        assert_eq!(
            judge_seccomp("0", Some(true), "gVisor").outcome,
            Outcome::Ok
        );
        assert_eq!(
            judge_seccomp("0", Some(false), "host").outcome,
            Outcome::Fail
        );
        let unconfined = judge_seccomp("0", None, "");
        assert_eq!(unconfined.outcome, Outcome::Fail);
        assert!(unconfined.detail.contains("Seccomp: 0"));
        assert!(unconfined.fix.unwrap().contains("unconfined"));
    }

    #[test]
    fn privileges_name_each_problem() {
        let fine = judge_privileges("65534", "0000000000000000", Some("1"), "65534:65534");
        assert_eq!(fine.outcome, Outcome::Ok, "{}", fine.detail);
        let bad = judge_privileges("0", "00000000a80425fb", Some("0"), "65534:65534");
        assert_eq!(bad.outcome, Outcome::Fail);
        for part in [
            "uid 0, not 65534",
            "capabilities (00000000a80425fb)",
            "NoNewPrivs: 0",
        ] {
            assert!(bad.detail.contains(part), "{part}: {}", bad.detail);
        }
        assert_eq!(
            judge_privileges("?", "?", Some("?"), "65534:65534").outcome,
            Outcome::Fail
        );
    }
}
