//! The container each run gets: every hardening flag in one place.
//!
//! Network none, read-only root, no capabilities, no-new-privileges, an unprivileged uid, memory (with swap equal
//! to it, i.e. none), pids, CPU and nofile limits, writable `noexec` tmpfs for `/tmp` and `/workspace`, no host
//! mounts of any kind, an environment of our own (nothing from the host), no TTY, and no log driver — otherwise
//! a flood of output fills the host disk through the json-file log even while we are attached.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};

use super::boot::BOOTSTRAP;
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

/// The create request for one run.
pub fn create_body(config: &Config, image: &str, run_id: &str, owner: &str) -> ContainerCreateBody {
    let tmpfs = |size: &str| format!("rw,noexec,nosuid,nodev,size={size},mode=1777");
    let host_config = HostConfig {
        network_mode: Some("none".into()),
        readonly_rootfs: Some(true),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
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
            ("/workspace".to_string(), tmpfs(WORKSPACE_SIZE)),
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
        image: Some(image.to_string()),
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
