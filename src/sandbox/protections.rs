//! The protections an engine may be unable to apply, and the refusal to run without them.
//!
//! Every sandbox asks for the same hardening (`container.rs`). Most of it (no network, read-only root, no
//! capabilities, no-new-privileges, the uid, the tmpfs options) is the OCI runtime's job and every engine does
//! it. The limits are not: they need the engine to own a cgroup for the container, and some engines silently
//! drop a limit they cannot apply — rootless Podman on cgroup v1 logs "Resource limits are not supported and
//! ignored on cgroups V1 rootless systems" on its own side and starts the container anyway; Docker discards a
//! memory limit its kernel lacks with a warning the API client never sees. A memory bomb would then take the
//! host's memory, a fork bomb its process table. So the bridge reads what the engine says it can do (`/info`,
//! which both Docker and Podman serve) before the first container and refuses to run code with less than it
//! was asked for, naming what is missing — unless the user accepted exactly that with `MCP_BRIDGE_ALLOW_WEAKER`.

use std::collections::BTreeSet;
use std::fmt;

use bollard::models::{
    HostConfig, ResourcesUlimits, SystemInfo, SystemInfoCgroupDriverEnum,
    SystemInfoCgroupVersionEnum,
};

/// A protection an engine may lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protection {
    /// The memory limit (`MCP_BRIDGE_MEMORY`): the cgroup's memory controller.
    Memory,
    /// No swap beyond the memory limit: the memory controller's swap accounting.
    Swap,
    /// The process limit (`MCP_BRIDGE_PIDS`): the cgroup's pids controller.
    Pids,
    /// The CPU quota (`MCP_BRIDGE_CPUS`): the cgroup's CFS quota.
    Cpu,
    /// The bridge's seccomp profile.
    Seccomp,
    /// The per-process limits: open files (`nofile`), core dumps (`core`) and, where set, processes (`nproc`).
    Ulimits,
}

impl Protection {
    /// Every protection, in the order messages list them.
    pub const ALL: [Protection; 6] = [
        Protection::Memory,
        Protection::Swap,
        Protection::Pids,
        Protection::Cpu,
        Protection::Seccomp,
        Protection::Ulimits,
    ];

    /// The name `MCP_BRIDGE_ALLOW_WEAKER` takes.
    pub fn name(self) -> &'static str {
        match self {
            Protection::Memory => "memory",
            Protection::Swap => "swap",
            Protection::Pids => "pids",
            Protection::Cpu => "cpu",
            Protection::Seccomp => "seccomp",
            Protection::Ulimits => "ulimits",
        }
    }

    /// What a sandbox loses without it, as refusals say.
    pub fn consequence(self) -> &'static str {
        match self {
            Protection::Memory => "the memory limit (a memory bomb takes the host's memory)",
            Protection::Swap => "the swap limit (code may swap past the memory limit)",
            Protection::Pids => "the process limit (a fork bomb fills the host's process table)",
            Protection::Cpu => "the CPU quota (code may take every core until its timeout)",
            Protection::Seccomp => {
                "the seccomp profile (every system call the kernel has is open to the code)"
            }
            Protection::Ulimits => {
                "the open-file and core-dump limits (a crash may dump the code's memory to the host)"
            }
        }
    }

    /// Parses `MCP_BRIDGE_ALLOW_WEAKER`'s comma-separated names (empty: none).
    pub fn parse_list(value: &str) -> Result<BTreeSet<Protection>, String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| {
                Protection::ALL
                    .into_iter()
                    .find(|p| p.name().eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        format!(
                            "unknown protection {name:?}; expected a comma-separated list of {}",
                            names(Protection::ALL)
                        )
                    })
            })
            .collect()
    }
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `memory, pids, cpu`.
fn names(protections: impl IntoIterator<Item = Protection>) -> String {
    protections
        .into_iter()
        .map(Protection::name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A protection the engine cannot apply, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// What is missing.
    pub protection: Protection,
    /// Why the engine cannot apply it, as its own report says.
    pub reason: String,
}

/// What the bridge asks of every sandbox, as far as engines may lack it.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    /// A CPU quota is set (`MCP_BRIDGE_CPUS` > 0).
    pub cpu_quota: bool,
}

/// The protections an engine that reports `info` cannot apply to the sandboxes, given what is `wanted`.
pub fn shortfalls(info: &SystemInfo, wanted: Wanted) -> Vec<Shortfall> {
    let security = info.security_options.as_deref().unwrap_or_default();
    let rootless = security.iter().any(|o| o.contains("name=rootless"));
    let cgroup_v1 = matches!(info.cgroup_version, Some(SystemInfoCgroupVersionEnum::_1));
    let no_cgroups = matches!(info.cgroup_driver, Some(SystemInfoCgroupDriverEnum::NONE));
    let mut limits = vec![Protection::Memory, Protection::Swap, Protection::Pids];
    if wanted.cpu_quota {
        limits.push(Protection::Cpu);
    }
    let mut missing = Vec::new();
    if no_cgroups || (rootless && cgroup_v1) {
        // cgroup v1 cannot be delegated to an unprivileged user: a rootless engine there has no cgroup of its
        // own to put limits in (Docker says so with the driver `none`; Podman still reports the host's
        // controllers in `/info`, and drops the limits at create).
        let reason = if no_cgroups {
            "the engine runs without cgroups (cgroup driver \"none\")"
        } else {
            "a rootless engine on cgroup v1 has no cgroup it may limit"
        };
        missing.extend(limits.iter().map(|&protection| Shortfall {
            protection,
            reason: reason.to_string(),
        }));
    } else {
        for protection in limits {
            let supported = match protection {
                Protection::Memory => info.memory_limit,
                Protection::Swap => info.swap_limit,
                Protection::Pids => info.pids_limit,
                Protection::Cpu => info.cpu_cfs_quota,
                Protection::Seccomp | Protection::Ulimits => None,
            };
            // Absent means the engine did not say: only an explicit `false` is a shortfall.
            if supported == Some(false) {
                missing.push(Shortfall {
                    protection,
                    reason: format!(
                        "the engine reports no {} support on this kernel",
                        protection.name()
                    ),
                });
            }
        }
    }
    if !security.iter().any(|o| o.contains("name=seccomp")) {
        missing.push(Shortfall {
            protection: Protection::Seccomp,
            reason: "the engine does not list seccomp among its security options".to_string(),
        });
    }
    missing
}

/// The protections the engine dropped from a container it created without saying so: `asked` is the request's
/// host config, `kept` the engine's record of the container (`inspect`). Rootless Podman on cgroup v1 keeps no
/// memory, pids or CPU limit and, through its Docker-compatible API, no ulimit; Docker zeroes a limit its kernel
/// lacks. Only what was asked for is compared.
pub fn dropped(asked: &HostConfig, kept: &HostConfig) -> Vec<Shortfall> {
    let mut missing = Vec::new();
    let mut lost = |protection: Protection, detail: String| {
        missing.push(Shortfall {
            protection,
            reason: format!("the engine created the container without it ({detail})"),
        });
    };
    let same = |a: Option<i64>, b: Option<i64>| a.is_none() || a == b;
    if !same(asked.memory, kept.memory) {
        lost(
            Protection::Memory,
            limit_detail("memory", asked.memory, kept.memory),
        );
    }
    if !same(asked.memory_swap, kept.memory_swap) {
        lost(
            Protection::Swap,
            limit_detail("memory+swap", asked.memory_swap, kept.memory_swap),
        );
    }
    if !same(asked.pids_limit, kept.pids_limit) {
        lost(
            Protection::Pids,
            limit_detail("pids", asked.pids_limit, kept.pids_limit),
        );
    }
    if let Some(nano) = asked.nano_cpus.filter(|n| *n > 0) {
        // Podman may record the quota as a CFS quota and period rather than NanoCpus.
        let as_quota = match (kept.cpu_quota, kept.cpu_period) {
            (Some(quota), Some(period)) if quota > 0 && period > 0 => {
                Some((quota as i128 * 1_000_000_000 / period as i128) as i64)
            }
            _ => None,
        };
        if kept.nano_cpus != Some(nano) && as_quota != Some(nano) {
            lost(
                Protection::Cpu,
                limit_detail("NanoCpus", Some(nano), kept.nano_cpus),
            );
        }
    }
    let kept_ulimits = kept.ulimits.as_deref().unwrap_or_default();
    let absent: Vec<String> = asked
        .ulimits
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|wanted| {
            !kept_ulimits.iter().any(|have| {
                ulimit_name(have) == ulimit_name(wanted)
                    && have.soft == wanted.soft
                    && have.hard == wanted.hard
            })
        })
        .map(ulimit_name)
        .collect();
    if !absent.is_empty() {
        lost(Protection::Ulimits, format!("no {}", absent.join(", ")));
    }
    missing
}

fn limit_detail(name: &str, asked: Option<i64>, kept: Option<i64>) -> String {
    let shown = |v: Option<i64>| v.map_or("none".to_string(), |v| v.to_string());
    format!("{name} asked {}, kept {}", shown(asked), shown(kept))
}

/// `nofile` whether the engine says `nofile` or `RLIMIT_NOFILE` (Podman).
fn ulimit_name(limit: &ResourcesUlimits) -> String {
    let name = limit
        .name
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    name.strip_prefix("rlimit_").unwrap_or(&name).to_string()
}

/// Why the bridge will not run code on this engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The shortfalls not allowed by `MCP_BRIDGE_ALLOW_WEAKER`.
    pub missing: Vec<Shortfall>,
    /// What `MCP_BRIDGE_ALLOW_WEAKER` would have to say to run anyway (every shortfall, allowed ones included).
    pub allow: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Shortfalls with one cause are named together, then the cause once.
        let mut groups: Vec<(Vec<&str>, &str)> = Vec::new();
        for shortfall in &self.missing {
            match groups
                .iter_mut()
                .find(|(_, reason)| *reason == shortfall.reason)
            {
                Some((consequences, _)) => consequences.push(shortfall.protection.consequence()),
                None => groups.push((vec![shortfall.protection.consequence()], &shortfall.reason)),
            }
        }
        let lost: Vec<String> = groups
            .iter()
            .map(|(consequences, reason)| format!("{} — {reason}", consequences.join(", ")))
            .collect();
        write!(
            f,
            "it cannot apply {}; the bridge does not run code with less containment than it was asked for. Use \
             an engine that applies them (rootful Docker or Podman, or a rootless engine on cgroup v2 with the \
             memory, pids and cpu controllers delegated; README, Engines), or accept exactly this with \
             MCP_BRIDGE_ALLOW_WEAKER={}",
            lost.join("; "),
            self.allow
        )
    }
}

/// Splits `shortfalls` into those the user accepted (returned, to be logged) and a refusal if any is left.
pub fn check(
    shortfalls: Vec<Shortfall>,
    allowed: &BTreeSet<Protection>,
) -> Result<Vec<Shortfall>, Refusal> {
    let allow = shortfalls
        .iter()
        .map(|s| s.protection.name())
        .collect::<Vec<_>>()
        .join(",");
    let (accepted, missing): (Vec<_>, Vec<_>) = shortfalls
        .into_iter()
        .partition(|s| allowed.contains(&s.protection));
    if missing.is_empty() {
        Ok(accepted)
    } else {
        Err(Refusal { missing, allow })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(
        security: &[&str],
        version: SystemInfoCgroupVersionEnum,
        driver: SystemInfoCgroupDriverEnum,
    ) -> SystemInfo {
        SystemInfo {
            security_options: Some(security.iter().map(|s| s.to_string()).collect()),
            cgroup_version: Some(version),
            cgroup_driver: Some(driver),
            memory_limit: Some(true),
            swap_limit: Some(true),
            pids_limit: Some(true),
            cpu_cfs_quota: Some(true),
            ..Default::default()
        }
    }

    fn missing(info: &SystemInfo, cpu_quota: bool) -> Vec<Protection> {
        shortfalls(info, Wanted { cpu_quota })
            .into_iter()
            .map(|s| s.protection)
            .collect()
    }

    use SystemInfoCgroupDriverEnum as Driver;
    use SystemInfoCgroupVersionEnum as Version;

    #[test]
    fn rootful_docker_on_cgroup_v1_lacks_nothing() {
        let docker = info(
            &["name=seccomp,profile=default"],
            Version::_1,
            Driver::CGROUPFS,
        );
        assert_eq!(missing(&docker, true), []);
    }

    #[test]
    fn a_rootless_engine_on_cgroup_v1_lacks_every_limit_even_when_it_reports_the_controllers() {
        // Rootless Podman 4.3 on cgroup v1: the host's controllers in /info, the limits dropped at create.
        let podman = info(
            &[
                "name=seccomp,profile=/usr/share/containers/seccomp.json",
                "name=rootless",
            ],
            Version::_1,
            Driver::CGROUPFS,
        );
        assert_eq!(
            missing(&podman, true),
            [
                Protection::Memory,
                Protection::Swap,
                Protection::Pids,
                Protection::Cpu
            ]
        );
        assert_eq!(
            missing(&podman, false),
            [Protection::Memory, Protection::Swap, Protection::Pids],
            "no quota asked for, none missed"
        );
    }

    #[test]
    fn rootless_on_cgroup_v2_lacks_what_is_not_delegated() {
        let mut rootless = info(
            &[
                "name=seccomp,profile=builtin",
                "name=rootless",
                "name=cgroupns",
            ],
            Version::_2,
            Driver::SYSTEMD,
        );
        assert_eq!(missing(&rootless, true), []);
        rootless.pids_limit = Some(false);
        rootless.cpu_cfs_quota = None;
        assert_eq!(missing(&rootless, true), [Protection::Pids]);
        rootless.cgroup_driver = Some(Driver::NONE);
        assert_eq!(
            missing(&rootless, false),
            [Protection::Memory, Protection::Swap, Protection::Pids]
        );
    }

    #[test]
    fn an_engine_without_seccomp_is_named() {
        let bare = info(&[], Version::_2, Driver::SYSTEMD);
        assert_eq!(missing(&bare, true), [Protection::Seccomp]);
    }

    #[test]
    fn only_what_was_allowed_runs_and_the_refusal_names_the_setting_that_would_allow_all() {
        let podman = info(
            &["name=seccomp,profile=default", "name=rootless"],
            Version::_1,
            Driver::CGROUPFS,
        );
        let found = shortfalls(&podman, Wanted { cpu_quota: true });
        let partly = Protection::parse_list("memory, SWAP").expect("names");
        let refusal = check(found.clone(), &partly).expect_err("pids and cpu are missing");
        let kept: Vec<_> = refusal.missing.iter().map(|s| s.protection).collect();
        assert_eq!(kept, [Protection::Pids, Protection::Cpu]);
        let message = refusal.to_string();
        assert!(message.contains("the process limit"), "{message}");
        assert_eq!(
            message.matches("rootless engine on cgroup v1").count(),
            1,
            "one cause, said once for the shortfalls it explains: {message}"
        );
        assert!(
            message.contains("MCP_BRIDGE_ALLOW_WEAKER=memory,swap,pids,cpu"),
            "{message}"
        );
        let all = Protection::parse_list("memory,swap,pids,cpu").expect("names");
        let accepted = check(found, &all).expect("all allowed");
        assert_eq!(accepted.len(), 4);
    }

    #[test]
    fn unknown_names_are_refused_with_the_list() {
        let error = Protection::parse_list("memory,network").expect_err("no such protection");
        assert!(error.contains("\"network\""), "{error}");
        assert!(
            error.contains("memory, swap, pids, cpu, seccomp, ulimits"),
            "{error}"
        );
        assert_eq!(
            Protection::parse_list(" , ").expect("empty"),
            BTreeSet::new()
        );
    }

    fn ulimit(name: &str, value: i64) -> ResourcesUlimits {
        ResourcesUlimits {
            name: Some(name.into()),
            soft: Some(value),
            hard: Some(value),
        }
    }

    fn asked() -> HostConfig {
        HostConfig {
            memory: Some(512 << 20),
            memory_swap: Some(512 << 20),
            pids_limit: Some(128),
            nano_cpus: Some(1_000_000_000),
            ulimits: Some(vec![ulimit("nofile", 1024), ulimit("core", 0)]),
            ..Default::default()
        }
    }

    #[test]
    fn a_container_kept_as_asked_lost_nothing_whatever_the_engine_calls_it() {
        assert_eq!(dropped(&asked(), &asked()), []);
        // Podman's record: the quota as CFS quota/period, the ulimits as RLIMIT_* plus its own nproc.
        let podman = HostConfig {
            nano_cpus: Some(0),
            cpu_quota: Some(100_000),
            cpu_period: Some(100_000),
            ulimits: Some(vec![
                ulimit("RLIMIT_NOFILE", 1024),
                ulimit("RLIMIT_CORE", 0),
                ulimit("RLIMIT_NPROC", 4096),
            ]),
            ..asked()
        };
        assert_eq!(dropped(&asked(), &podman), []);
    }

    #[test]
    fn what_rootless_podman_on_cgroup_v1_keeps_is_named_protection_by_protection() {
        let rootless = HostConfig {
            memory: Some(0),
            memory_swap: Some(0),
            pids_limit: Some(0),
            nano_cpus: Some(0),
            ulimits: Some(vec![]),
            ..Default::default()
        };
        let found = dropped(&asked(), &rootless);
        let names: Vec<_> = found.iter().map(|s| s.protection).collect();
        assert_eq!(
            names,
            [
                Protection::Memory,
                Protection::Swap,
                Protection::Pids,
                Protection::Cpu,
                Protection::Ulimits
            ]
        );
        assert!(
            found[0].reason.contains("memory asked 536870912, kept 0"),
            "{}",
            found[0].reason
        );
        assert!(
            found[4].reason.contains("no nofile, core"),
            "{}",
            found[4].reason
        );
        // A limit that was not asked for is not missed.
        let unasked = HostConfig {
            nano_cpus: None,
            ..asked()
        };
        assert_eq!(
            dropped(
                &unasked,
                &HostConfig {
                    nano_cpus: None,
                    ..asked()
                }
            ),
            []
        );
    }
}
