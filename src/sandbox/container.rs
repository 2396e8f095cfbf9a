//! The container each run gets: every hardening flag in one place.
//!
//! Network none, read-only root, no capabilities, no-new-privileges, the bridge's seccomp profile ([`seccomp`]:
//! the engine's default minus io_uring, exotic socket families and non-x86_64 ABIs), an unprivileged uid, memory
//! (with swap equal to it, i.e. none), pids, CPU and nofile limits, writable `noexec` tmpfs for `/tmp` and
//! `/workspace`, no host mounts of any kind, an environment of our own (nothing from the host), no TTY, no log
//! driver — otherwise a flood of output fills the host disk through the json-file log even while we are
//! attached — no core dumps, and the bridge's own entrypoint (`python/bootstrap.py`): a PID 1 that becomes the
//! relay and never runs user code, so the code can never wedge the container's init, and that ends the container
//! on its own at its deadline or when the bridge goes away.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};

use super::boot::BOOTSTRAP;
use super::{SandboxError, seccomp};
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

/// The host pids limit of a gVisor sandbox. There the container's host processes are gVisor's own (its kernel,
/// a Go program whose threads grow with load, and its file proxy), not the code's, and a Go runtime that cannot
/// start a thread dies, taking the sandbox down (a 400-fork bomb under the runc limit of 128 ended it with
/// exit 2 instead of EAGAIN): the code's process count is bounded inside gVisor
/// instead, by `RLIMIT_NPROC` ([`Config::pids`]), which gVisor counts per sandbox.
const GVISOR_HOST_PIDS: i64 = 1024;

/// The `nproc` limit a Podman sandbox gets under runc: far above the pids cgroup's limit, so it never binds
/// first (it counts every sandbox of uid 65534 together), and low enough for runc to set.
const PODMAN_NPROC: i64 = 4096;

/// Whether `config` runs sandboxes under gVisor.
fn is_gvisor(config: &Config) -> bool {
    config.oci_runtime.as_deref() == Some("runsc")
}

/// How long after the run's timeout the container ends itself if the bridge has not removed it (a bridge that
/// died, an engine that did not answer): PID 1 exits at `timeout + SELF_DEADLINE_GRACE` (PROTOCOL.md §1).
pub const SELF_DEADLINE_GRACE: Duration = Duration::from_secs(10);

/// The engine a create request is for: Podman's Docker-compatible API reads two of the hardening options
/// differently, and each is given the way its engine applies it (the same protection either way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialect {
    /// Docker: the seccomp profile inline, a tmpfs's owner as `uid=`/`gid=`.
    Docker,
    /// Podman: the profile as a file on the engine's host (it reads `seccomp=` as a path: podman issue
    /// #27710), and a tmpfs's owner as `U`, "chown to the container's user" (Podman 4.3 refuses `uid=` with
    /// "unknown mount option").
    Podman {
        /// Where [`seccomp::write_profile`] put the profile.
        seccomp_profile: std::path::PathBuf,
    },
}

impl Dialect {
    /// The dialect of a `podman` engine or Docker; for Podman the profile is written under `state_dir` (its
    /// compatible API reads `seccomp=` as a path on the engine's host).
    pub fn new(podman: bool, state_dir: &std::path::Path) -> Result<Dialect, SandboxError> {
        if !podman {
            return Ok(Dialect::Docker);
        }
        let dir = state_dir.join("seccomp");
        let seccomp_profile = seccomp::write_profile(&dir).map_err(|error| {
            SandboxError::Engine(format!(
                "writing the seccomp profile for Podman under {}: {error}",
                dir.display()
            ))
        })?;
        Ok(Dialect::Podman { seccomp_profile })
    }

    fn seccomp_opt(&self) -> String {
        match self {
            Dialect::Docker => seccomp::Delivery::Inline.security_opt(),
            Dialect::Podman { seccomp_profile } => {
                seccomp::Delivery::File(seccomp_profile.clone()).security_opt()
            }
        }
    }

    /// The tmpfs options that make it owned by `uid:gid`, the container's user.
    fn tmpfs_owner(&self, uid: &str, gid: &str) -> String {
        match self {
            Dialect::Docker => format!("uid={uid},gid={gid}"),
            Dialect::Podman { .. } => "U".to_string(),
        }
    }
}

/// The create request for one run of at most `timeout`, in the `dialect` of the engine it goes to.
pub fn create_body(
    config: &Config,
    run_id: &str,
    owner: &str,
    timeout: Duration,
    dialect: &Dialect,
) -> ContainerCreateBody {
    let gvisor = is_gvisor(config);
    let security_opt = vec!["no-new-privileges".to_string(), dialect.seccomp_opt()];
    let self_deadline = (timeout + SELF_DEADLINE_GRACE).as_secs().to_string();
    let tmpfs = |size: &str| format!("rw,noexec,nosuid,nodev,size={size},mode=1777");
    // The engine resets the working directory's mode to 0755 at start, so /workspace must also be owned by
    // the sandbox user to stay writable (the seed's /workspace was not).
    let (uid, gid) = config
        .container_user
        .split_once(':')
        .unwrap_or((&config.container_user, &config.container_user));
    let workspace = format!(
        "{},{}",
        tmpfs(WORKSPACE_SIZE),
        dialect.tmpfs_owner(uid, gid)
    );
    let host_config = HostConfig {
        network_mode: Some("none".into()),
        readonly_rootfs: Some(true),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(security_opt),
        memory: Some(config.memory_bytes),
        memory_swap: Some(config.memory_bytes),
        pids_limit: Some(if gvisor {
            GVISOR_HOST_PIDS.max(config.pids)
        } else {
            config.pids
        }),
        nano_cpus: (config.cpus > 0.0).then_some((config.cpus * 1e9) as i64),
        ulimits: Some(ulimits(config, gvisor, dialect)),
        tmpfs: Some(tmpfs_mounts(dialect, tmpfs(TMP_SIZE), workspace)),
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
        // The entrypoint, not the command: an image's own ENTRYPOINT (a shell wrapper, an init) never runs.
        entrypoint: Some(
            ["python3", "-I", "-B", "-c", BOOTSTRAP, &self_deadline]
                .map(String::from)
                .to_vec(),
        ),
        // With the network disabled too (not only `NetworkMode: none`), the engine gives the container its new,
        // empty network namespace (loopback only, brought up by runc) without running its libnetwork prestart
        // hook: a re-exec of dockerd for every container, ~110 ms of CPU, a third of what a container costs.
        network_disabled: Some(true),
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

/// `/tmp` and `/workspace`; for Podman also `/run` and `/var/tmp`. With a read-only root Podman mounts its own
/// tmpfs there (`read_only_tmpfs`, on by default): writable, executable and as large as half the host's memory,
/// where Docker leaves the image's directories read-only. These cover them the way Docker's root does: `/var/tmp`
/// read-only and empty, `/run` (where Podman puts `.containerenv`) root's and not writable by the sandbox user;
/// neither executable. `notmpcopyup`: Podman would otherwise copy the image's directory there, mode 1777 included.
fn tmpfs_mounts(dialect: &Dialect, tmp: String, workspace: String) -> HashMap<String, String> {
    let mut mounts = HashMap::from([
        ("/tmp".to_string(), tmp),
        ("/workspace".to_string(), workspace),
    ]);
    if let Dialect::Podman { .. } = dialect {
        let covered =
            |access: &str| format!("{access},noexec,nosuid,nodev,size=64k,mode=755,notmpcopyup");
        mounts.insert("/run".to_string(), covered("rw"));
        mounts.insert("/var/tmp".to_string(), covered("ro"));
    }
    mounts
}

/// `nofile`, no core dumps, and under gVisor the process limit (see [`GVISOR_HOST_PIDS`]). Under runc a
/// per-uid `nproc` would be shared by every sandbox (all run as one uid), so the pids cgroup bounds processes —
/// except that Podman fills in an `nproc` of 1,048,576 whenever a request names any ulimit, which its runc then
/// fails to set ("error setting rlimit type 6: operation not permitted"): for Podman the bridge names its own,
/// [`PODMAN_NPROC`].
fn ulimits(config: &Config, gvisor: bool, dialect: &Dialect) -> Vec<ResourcesUlimits> {
    let limit = |name: &str, value: i64| ResourcesUlimits {
        name: Some(name.into()),
        soft: Some(value),
        hard: Some(value),
    };
    let mut ulimits = vec![
        limit("nofile", NOFILE),
        // No core dumps: a crashing interpreter would write its memory (and the code's data) to the rootfs or a
        // host-side core pattern.
        limit("core", 0),
    ];
    if gvisor {
        ulimits.push(limit("nproc", config.pids));
    } else if let Dialect::Podman { .. } = dialect {
        ulimits.push(limit("nproc", PODMAN_NPROC));
    }
    ulimits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> ContainerCreateBody {
        body_with(&[])
    }

    fn body_with(extra: &[(&str, &str)]) -> ContainerCreateBody {
        let mut vars = HashMap::from([("MCP_BRIDGE_IMAGE".to_string(), "img".to_string())]);
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_map(&vars).expect("valid settings");
        create_body(
            &config,
            "r1",
            "boot/1/2",
            Duration::from_secs(30),
            &Dialect::Docker,
        )
    }

    #[test]
    fn the_bootstrap_is_the_entrypoint_and_knows_its_deadline() {
        let body = body();
        let entrypoint = body.entrypoint.expect("an entrypoint");
        assert_eq!(entrypoint, ["python3", "-I", "-B", "-c", BOOTSTRAP, "40"]);
        assert_eq!(body.cmd, None, "the image's CMD is not appended");
        assert!(
            BOOTSTRAP.contains(".main(boot)"),
            "PID 1 runs the runtime, whose fork leaves it the relay"
        );
    }

    #[test]
    fn no_network_and_no_engine_networking() {
        let body = body();
        assert_eq!(body.network_disabled, Some(true), "no libnetwork hook");
        let mode = body.host_config.and_then(|h| h.network_mode);
        assert_eq!(mode.as_deref(), Some("none"));
    }

    #[test]
    fn no_core_dumps_and_a_bounded_number_of_files() {
        let ulimits = body().host_config.and_then(|h| h.ulimits).expect("ulimits");
        let limit = |name: &str| {
            ulimits
                .iter()
                .find(|u| u.name.as_deref() == Some(name))
                .map(|u| (u.soft, u.hard))
        };
        assert_eq!(limit("core"), Some((Some(0), Some(0))));
        assert_eq!(limit("nofile"), Some((Some(NOFILE), Some(NOFILE))));
        assert_eq!(
            limit("nproc"),
            None,
            "shared by every sandbox's uid under runc"
        );
    }

    #[test]
    fn under_gvisor_the_process_limit_is_nproc_and_the_host_limit_is_gvisors() {
        let host = body_with(&[("MCP_BRIDGE_RUNTIME", "runsc")])
            .host_config
            .expect("host config");
        assert_eq!(host.runtime.as_deref(), Some("runsc"));
        assert_eq!(host.pids_limit, Some(GVISOR_HOST_PIDS));
        let nproc = host
            .ulimits
            .expect("ulimits")
            .into_iter()
            .find(|u| u.name.as_deref() == Some("nproc"))
            .map(|u| (u.soft, u.hard));
        assert_eq!(nproc, Some((Some(128), Some(128))));
        assert_eq!(body().host_config.and_then(|h| h.pids_limit), Some(128));
    }

    #[test]
    fn the_bridge_profile_goes_with_no_new_privileges() {
        let opts = body()
            .host_config
            .and_then(|h| h.security_opt)
            .expect("security options");
        assert_eq!(opts[0], "no-new-privileges");
        assert_eq!(opts[1], seccomp::Delivery::Inline.security_opt());
        assert_eq!(opts.len(), 2);
    }

    #[test]
    fn podman_gets_the_same_profile_by_path_and_the_same_owner_by_its_own_option() {
        let vars = HashMap::from([("MCP_BRIDGE_IMAGE".to_string(), "img".to_string())]);
        let config = Config::from_map(&vars).expect("valid settings");
        let podman = Dialect::Podman {
            seccomp_profile: "/state/seccomp/seccomp-1.json".into(),
        };
        let host = create_body(&config, "r1", "o", Duration::from_secs(30), &podman)
            .host_config
            .expect("host config");
        let opts = host.security_opt.expect("security options");
        assert_eq!(
            opts,
            ["no-new-privileges", "seccomp=/state/seccomp/seccomp-1.json"]
        );
        let tmpfs = host.tmpfs.expect("tmpfs");
        assert_eq!(
            tmpfs["/workspace"],
            "rw,noexec,nosuid,nodev,size=128m,mode=1777,U"
        );
        let docker = body().host_config.and_then(|h| h.tmpfs).expect("tmpfs");
        assert_eq!(
            docker["/workspace"],
            "rw,noexec,nosuid,nodev,size=128m,mode=1777,uid=65534,gid=65534"
        );
        assert_eq!(docker["/tmp"], tmpfs["/tmp"]);
        assert_eq!(
            tmpfs["/var/tmp"],
            "ro,noexec,nosuid,nodev,size=64k,mode=755,notmpcopyup"
        );
        assert!(tmpfs["/run"].starts_with("rw,noexec,"));
        assert_eq!(
            docker.len(),
            2,
            "Docker's read-only root covers /run and /var/tmp"
        );
        let nproc = host
            .ulimits
            .expect("ulimits")
            .into_iter()
            .find(|u| u.name.as_deref() == Some("nproc"))
            .map(|u| u.hard);
        assert_eq!(nproc, Some(Some(PODMAN_NPROC)));
    }
}
