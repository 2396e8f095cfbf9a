//! The container each run gets: every hardening flag in one place.
//!
//! Network none, read-only root, no capabilities, no-new-privileges, the bridge's seccomp profile ([`seccomp`]:
//! the engine's default minus io_uring, exotic socket families and non-x86_64 ABIs), an unprivileged uid, memory
//! (with swap equal to it, i.e. none), pids, CPU and nofile limits, writable `noexec` tmpfs for `/tmp` and
//! `/workspace`, no host mounts of any kind, an environment of our own (nothing from the host), no TTY, no log
//! driver — otherwise a flood of output fills the host disk through the json-file log even while we are
//! attached — and a PID 1 that only reaps (`python/bootstrap.py`), so the code can never wedge the container's
//! init.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};

use super::boot::BOOTSTRAP;
use super::seccomp;
use crate::config::Config;

/// Every container the bridge creates carries this label.
pub const LABEL: &str = "mcp-bridge";
/// The run id, for finding one run's container.
pub const LABEL_RUN: &str = "mcp-bridge.run";
/// `<boot id>/<pid>/<start time>` of the bridge process that owns it, so a sweep can tell orphans from the
/// containers of another live bridge.
pub const LABEL_OWNER: &str = "mcp-bridge.owner";

const TMP_SIZE: &str = "64m";
const WORKSPACE_SIZE: &str = "128m";
const SHM_BYTES: i64 = 16 << 20;
const NOFILE: i64 = 1024;

/// The create request for one run. `inline_seccomp` is false for engines that cannot take a profile inline
/// (Podman's compatible API reads `seccomp=` as a path); their default profile applies then.
pub fn create_body(
    config: &Config,
    run_id: &str,
    owner: &str,
    inline_seccomp: bool,
) -> ContainerCreateBody {
    let mut security_opt = vec!["no-new-privileges".to_string()];
    if inline_seccomp {
        security_opt.push(seccomp::security_opt());
    }
    let tmpfs = |size: &str| format!("rw,noexec,nosuid,nodev,size={size},mode=1777");
    // The engine resets the working directory's mode to 0755 at start, so /workspace must also be owned by
    // the sandbox user to stay writable (the seed's /workspace was not).
    let (uid, gid) = config
        .container_user
        .split_once(':')
        .unwrap_or((&config.container_user, &config.container_user));
    let workspace = format!("{},uid={uid},gid={gid}", tmpfs(WORKSPACE_SIZE));
    let host_config = HostConfig {
        network_mode: Some("none".into()),
        readonly_rootfs: Some(true),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(security_opt),
        memory: Some(config.memory_bytes),
        memory_swap: Some(config.memory_bytes),
        pids_limit: Some(config.pids),
        nano_cpus: (config.cpus > 0.0).then_some((config.cpus * 1e9) as i64),
        ulimits: Some(vec![ResourcesUlimits {
            name: Some("nofile".into()),
            soft: Some(NOFILE),
            hard: Some(NOFILE),
        }]),
        tmpfs: Some(HashMap::from([
            ("/tmp".to_string(), tmpfs(TMP_SIZE)),
            ("/workspace".to_string(), workspace),
        ])),
        shm_size: Some(SHM_BYTES),
        ipc_mode: Some("private".into()),
        log_config: Some(HostConfigLogConfig {
            typ: Some("none".into()),
            config: None,
        }),
        runtime: config.oci_runtime.clone(),
        auto_remove: Some(false),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(config.image.clone()),
        cmd: Some(
            ["python3", "-I", "-B", "-c", BOOTSTRAP]
                .map(String::from)
                .to_vec(),
        ),
        user: Some(config.container_user.clone()),
        working_dir: Some("/workspace".into()),
        env: Some(vec![
            "HOME=/workspace".into(),
            "LANG=C.UTF-8".into(),
            "PYTHONIOENCODING=utf-8".into(),
        ]),
        labels: Some(HashMap::from([
            (LABEL.to_string(), "1".to_string()),
            (LABEL_RUN.to_string(), run_id.to_string()),
            (LABEL_OWNER.to_string(), owner.to_string()),
        ])),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(true),
        stdin_once: Some(true),
        tty: Some(false),
        host_config: Some(host_config),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> ContainerCreateBody {
        let vars = HashMap::from([("MCP_BRIDGE_IMAGE".to_string(), "img".to_string())]);
        let config = Config::from_map(&vars).expect("valid settings");
        create_body(&config, "r1", "boot/1/2", true)
    }

    #[test]
    fn the_bootstrap_runs_isolated_from_the_environment() {
        let cmd = body().cmd.expect("a command");
        assert_eq!(cmd, ["python3", "-I", "-B", "-c", BOOTSTRAP]);
        assert!(
            BOOTSTRAP.contains("if os.getpid() == 1:"),
            "PID 1 only reaps"
        );
    }

    #[test]
    fn the_bridge_profile_goes_with_no_new_privileges() {
        let opts = body()
            .host_config
            .and_then(|h| h.security_opt)
            .expect("security options");
        assert_eq!(opts[0], "no-new-privileges");
        assert_eq!(opts[1], seccomp::security_opt());
        assert_eq!(opts.len(), 2);
    }
}
