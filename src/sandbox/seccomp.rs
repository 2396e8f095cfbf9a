//! The bridge's own seccomp profile, sent inline with every container (`security_opt: seccomp=<json>`).
//!
//! `seccomp.json` is derived from moby's default profile, `profiles/seccomp/default.json` of
//! <https://github.com/moby/moby> at commit `00f3d189e420d485e42d15fe494f96d272284e0e`, Copyright Docker, Inc.
//! and the moby authors, licensed under the Apache License, Version 2.0
//! (<https://www.apache.org/licenses/LICENSE-2.0>). Changes, measured necessary on Docker 20.10
//! (`containment/cases.json`):
//!
//! - `io_uring_setup`, `io_uring_enter` and `io_uring_register` removed from the allow list (KRN-06): io_uring is
//!   a large kernel attack surface that 20.10's default still allows; newer moby and containerd defaults drop it.
//! - `archMap` replaced by `"architectures": ["SCMP_ARCH_X86_64"]` (KRN-26): upstream also admits the x86 and x32
//!   ABIs, so `int 0x80` reaches the kernel's 32-bit syscall table. A syscall of any other ABI now hits
//!   libseccomp's bad-arch action, which runc leaves at "kill the calling thread" (SIGSYS); the container's
//!   PID 1, the relay, never runs user code and ends a runner whose main thread was killed (`PROTOCOL.md` §1-2).
//! - `socket` allowed only for AF_UNIX (1), AF_INET (2), AF_INET6 (10), and AF_NETLINK (16) with protocol
//!   NETLINK_ROUTE (0), instead of "anything but AF_VSOCK (40)": on this engine AF_VSOCK reaches the VM host, and
//!   every other family (AF_ALG, AF_PACKET, AF_BLUETOOTH, …) is kernel surface Python code does not need.
//!   NETLINK_ROUTE stays because glibc's `if_nameindex` (NET-05) and `getaddrinfo(AI_ADDRCONFIG)` use it.
//!   Other families fail with EPERM (the profile's default errno); other netlink protocols with
//!   EPROTONOSUPPORT, as on a kernel built without them, because libaudit and PAM treat that as "no audit"
//!   but EPERM as a system error (`su` would say "System error" instead of "Authentication failure").
//!
//! Everything else is upstream's, rules for other architectures included, so a diff against upstream shows only
//! the changes above. runc skips names libseccomp does not know (32-bit-only names such as `chown32`). Podman's
//! Docker-compatible API reads `seccomp=` as a file path (podman issue #27710), so for Podman the same profile is
//! written to a file the engine reads ([`Delivery::File`]).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The profile, as the engine expects it in `security_opt`: the JSON text itself, not a path.
pub const PROFILE: &str = include_str!("seccomp.json");

/// How the engine is handed [`PROFILE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The JSON text itself (Docker).
    Inline,
    /// A file path the engine opens (Podman's compatible API).
    File(PathBuf),
}

impl Delivery {
    /// The `security_opt` entry that applies [`PROFILE`].
    pub fn security_opt(&self) -> String {
        match self {
            Delivery::Inline => format!("seccomp={PROFILE}"),
            Delivery::File(path) => format!("seccomp={}", path.display()),
        }
    }
}

/// Writes [`PROFILE`] under `dir` (named by its hash, so a changed profile is a new file) for an engine that reads
/// it from a path, and returns that path. The file is world-readable: the engine, not the bridge, opens it.
pub fn write_profile(dir: &Path) -> std::io::Result<PathBuf> {
    let hash = xxhash_rust::xxh3::xxh3_64(PROFILE.as_bytes());
    let path = dir.join(format!("seccomp-{hash:016x}.json"));
    if std::fs::read(&path).is_ok_and(|old| old == PROFILE.as_bytes()) {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&temporary)?;
        file.write_all(PROFILE.as_bytes())?;
    }
    std::fs::rename(&temporary, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_file_delivery_holds_exactly_the_profile() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = write_profile(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), PROFILE);
        assert_eq!(
            write_profile(dir.path()).unwrap(),
            path,
            "reused when unchanged"
        );
        assert_eq!(
            Delivery::File(path.clone()).security_opt(),
            format!("seccomp={}", path.display())
        );
    }
    use std::collections::{BTreeMap, BTreeSet};

    fn profile() -> Value {
        serde_json::from_str(PROFILE).expect("seccomp.json is valid JSON")
    }

    fn rules(profile: &Value) -> &Vec<Value> {
        profile["syscalls"]
            .as_array()
            .expect("syscalls is an array")
    }

    fn names(rule: &Value) -> Vec<&str> {
        rule["names"]
            .as_array()
            .expect("names is an array")
            .iter()
            .map(|n| n.as_str().expect("names are strings"))
            .collect()
    }

    #[test]
    fn denies_by_default_with_eperm() {
        let p = profile();
        assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(p["defaultErrnoRet"], 1);
    }

    #[test]
    fn only_the_x86_64_abi() {
        let p = profile();
        assert_eq!(p["architectures"], serde_json::json!(["SCMP_ARCH_X86_64"]));
        // The engine rejects a profile with both; archMap would add x86 and x32 back.
        assert!(p.get("archMap").is_none());
    }

    #[test]
    fn no_io_uring() {
        let p = profile();
        for rule in rules(&p) {
            for name in names(rule) {
                assert!(!name.starts_with("io_uring"), "{name} must not be allowed");
            }
        }
    }

    /// The argument comparisons of a rule, by argument index: `index → (op, value)`.
    fn comparisons(rule: &Value) -> BTreeMap<u64, (&str, u64)> {
        rule["args"]
            .as_array()
            .expect("socket rules filter arguments")
            .iter()
            .map(|a| {
                let index = a["index"].as_u64().expect("numeric index");
                let op = a["op"].as_str().expect("op is a string");
                (index, (op, a["value"].as_u64().expect("numeric value")))
            })
            .collect()
    }

    #[test]
    fn socket_only_for_unix_inet_inet6_and_netlink_route() {
        let p = profile();
        let socket_rules: Vec<&Value> = rules(&p)
            .iter()
            .filter(|r| names(r).contains(&"socket"))
            .collect();
        let mut allowed = BTreeSet::new();
        let mut refused = Vec::new();
        for rule in socket_rules {
            // `socket` must never share a rule with other names: its argument filter would apply to them.
            assert_eq!(names(rule), ["socket"]);
            assert!(
                rule.get("includes").is_none() && rule.get("excludes").is_none(),
                "unconditional rules only"
            );
            let args = comparisons(rule);
            match rule["action"].as_str() {
                Some("SCMP_ACT_ALLOW") => {
                    let (op, family) = args[&0];
                    assert_eq!(op, "SCMP_CMP_EQ", "every allow rule pins the family");
                    if family == 16 {
                        assert_eq!(
                            args.get(&2),
                            Some(&("SCMP_CMP_EQ", 0)),
                            "NETLINK_ROUTE only"
                        );
                        assert_eq!(args.len(), 2);
                    } else {
                        assert_eq!(args.len(), 1);
                    }
                    allowed.insert(family);
                }
                Some("SCMP_ACT_ERRNO") => refused.push((args, rule["errnoRet"].clone())),
                other => panic!("unexpected socket action {other:?}"),
            }
        }
        assert_eq!(allowed, BTreeSet::from([1, 2, 10, 16]));
        // The one refusal with its own errno: netlink protocols other than NETLINK_ROUTE, EPROTONOSUPPORT.
        let netlink_other = BTreeMap::from([(0, ("SCMP_CMP_EQ", 16)), (2, ("SCMP_CMP_NE", 0))]);
        assert_eq!(refused, [(netlink_other, serde_json::json!(93))]);
    }

    #[test]
    fn keeps_what_python_needs() {
        let p = profile();
        let allowed: BTreeSet<&str> = rules(&p)
            .iter()
            .filter(|r| {
                r["action"] == "SCMP_ACT_ALLOW"
                    && r.get("includes").is_none()
                    && r.get("excludes").is_none()
            })
            .flat_map(names)
            .collect();
        for name in [
            "read",
            "write",
            "openat",
            "mmap",
            "mprotect",
            "futex",
            "execve",
            "wait4",
            "pipe2",
            "epoll_wait",
            "epoll_pwait",
            "rt_sigaction",
            "getrandom",
            "socketpair",
            "prctl",
        ] {
            assert!(allowed.contains(name), "{name} is needed by CPython");
        }
        // glibc's pthread_create tries clone3 first and falls back to clone only on ENOSYS.
        let clone3 = rules(&p)
            .iter()
            .find(|r| names(r) == ["clone3"] && r["action"] == "SCMP_ACT_ERRNO")
            .expect("clone3 answers ENOSYS");
        assert_eq!(clone3["errnoRet"], 38);
    }

    #[test]
    fn security_opt_carries_the_json_itself() {
        let opt = Delivery::Inline.security_opt();
        let json = opt.strip_prefix("seccomp=").expect("seccomp= prefix");
        assert!(json.trim_start().starts_with('{'));
        assert_eq!(json, PROFILE);
    }
}
