//! The public containment suite (`tests/containment/cases.json`, a verbatim copy of the project's shared
//! `containment/cases.json`) run through the bridge's own path against the real engine.
//!
//! Every `plain` case runs its code unchanged as a `run_python` call and is checked against what its `expected`
//! field says a contained sandbox shows, precisely (the errno, the limit, the status), not just "no ESCAPED".
//! Three `multi` cases are made meaningful here: PERS-01 (two runs in a row), RES-14 (CPU quota under 16
//! spinners) and RES-15 (a stdout flood leaves no engine log), and PERS-11's host-side check closes the suite:
//! no container of these runs remains, and (with a local engine) no process of theirs lives on in the host's
//! /proc. Cases not in cases.json: LEADER-EXIT covers the way KRN-26 used to leak one (the runtime's main
//! thread exiting while its other threads live), DEVICE-NODES device files in a tmpfs, and WRITABLE-MOUNTS that
//! every directory the code may write to is the bridge's own `noexec`, bounded tmpfs (it caught Podman's
//! `/var/tmp`). PERS-07 is a known gap (every sandbox shares uid 65534, so
//! per-user kernel limits such as inotify instances are shared): it is an ignored test that fails today. The
//! `bridge` cases exercise tool proxying and policy, which need MCP servers; they are not here.

mod common;
#[path = "containment/gvisor.rs"]
mod gvisor;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::join_all;
use mcp_bridge::response::{Payload, Status};
use mcp_bridge::sandbox::ContainerUse;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

const CASES: &str = include_str!("containment/cases.json");

/// The sandbox image's interpreter; FS-02 expects its site directory.
const BOOKWORM_PURELIB: &str = "/usr/local/lib/python3.11/dist-packages";
/// `MCP_BRIDGE_MEMORY`'s default, which the suite runs with.
const MEMORY_BYTES: u64 = 512 << 20;

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    mode: String,
    code: String,
    expected: String,
}

fn cases() -> Vec<Case> {
    serde_json::from_str(CASES).expect("cases.json parses")
}

fn case(id: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("case {id} is in cases.json"))
}

type Verdict = Result<(), String>;

/// Timeout for one case: the few that must hit the deadline get a short one.
fn timeout_of(id: &str) -> u64 {
    match id {
        // The case's own scenario: "host kills at its deadline (here 5 s)".
        "RES-04" => 5,
        // Its run always ends at the deadline (a thread killed by seccomp leaves the runtime waiting).
        "KRN-26" => 8,
        _ => 30,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Small assertion helpers; each returns what went wrong instead of panicking, so every failure is listed.

fn ensure(condition: bool, what: impl FnOnce() -> String) -> Verdict {
    if condition { Ok(()) } else { Err(what()) }
}

/// stdout lines of a run that must have succeeded.
fn success(p: &Payload) -> Result<Vec<&str>, String> {
    ensure(p.status == Status::Success, || {
        format!("status {:?}, expected success", p.status)
    })?;
    Ok(p.stdout.iter().map(String::as_str).collect())
}

/// The single stdout line of a successful run.
fn one_line(p: &Payload) -> Result<&str, String> {
    let lines = success(p)?;
    match lines.as_slice() {
        [line] => Ok(line),
        _ => Err(format!(
            "expected exactly one stdout line, got {}",
            lines.len()
        )),
    }
}

fn line_eq(p: &Payload, expected: &str) -> Verdict {
    let line = one_line(p)?;
    ensure(line == expected, || {
        format!("expected {expected:?}, got {line:?}")
    })
}

/// The whitespace-delimited token after `prefix`, parsed (`BLOCKED 13 Permission denied` → 13).
fn value_after<T: std::str::FromStr>(line: &str, prefix: &str) -> Result<T, String> {
    line.strip_prefix(prefix)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|token| token.parse().ok())
        .ok_or_else(|| format!("expected {prefix:?} and a number, got {line:?}"))
}

fn errno_in(line: &str, prefix: &str, allowed: &[i64]) -> Verdict {
    let errno: i64 = value_after(line, prefix)?;
    ensure(allowed.contains(&errno), || {
        format!("errno {errno} in {line:?}, expected one of {allowed:?}")
    })
}

/// `name -1 Operation not permitted` for the KRN syscall probes.
fn syscall_eperm(p: &Payload, name: &str) -> Verdict {
    line_eq(p, &format!("{name} -1 Operation not permitted"))
}

/// Keys of a printed Python dict of strings (`{'A': '1', 'B': '2'}`).
fn dict_keys(repr: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut rest = repr.trim().trim_start_matches('{');
    while let Some(start) = rest.find('\'') {
        let after = &rest[start + 1..];
        let Some(end) = after.find("': ") else { break };
        keys.insert(after[..end].to_string());
        // Skip the value: a quoted string that may contain anything but its own quote.
        let value = &after[end + 3..];
        let Some(quote) = value.chars().next() else {
            break;
        };
        match value[1..].find(quote) {
            Some(close) => rest = &value[close + 2..],
            None => break,
        }
    }
    keys
}

// ---------------------------------------------------------------------------------------------------------
// The checks, one per case, from the case's `expected` field.

fn check(id: &str, p: &Payload) -> Option<Verdict> {
    let verdict = match id {
        // OSError ENETUNREACH (101).
        "NET-01" => line_eq(p, "BLOCKED 101 Network is unreachable"),
        // gaierror EAI_AGAIN (-3) / EAI_NONAME (-2): no resolver reachable.
        "NET-02" => one_line(p).and_then(|l| errno_in(l, "BLOCKED gaierror ", &[-3, -2])),
        // PermissionError EPERM: no CAP_NET_RAW.
        "NET-03" => line_eq(p, "BLOCKED 1 Operation not permitted"),
        // URLError wrapping ENETUNREACH.
        "NET-04" => one_line(p).and_then(|l| errno_in(l, "BLOCKED URLError ", &[101])),
        // Only the loopback interface (and NETLINK_ROUTE still works for glibc's if_nameindex).
        "NET-05" => line_eq(p, "IFACES [(1, 'lo')]"),
        // FileNotFoundError for every engine socket path: no host mounts.
        "NET-06" => success(p).and_then(|lines| {
            ensure(lines.len() == 5, || {
                format!("expected 5 lines, got {}", lines.len())
            })?;
            lines.iter().try_for_each(|l| {
                ensure(
                    l.starts_with("BLOCKED /") && l.ends_with(" 2 No such file or directory"),
                    || format!("expected ENOENT, got {l:?}"),
                )
            })
        }),
        // AF_ALG: the bridge's profile allows only AF_UNIX/INET/INET6/NETLINK, so EPERM whatever the kernel.
        "NET-14" => line_eq(p, "BLOCKED 1 Operation not permitted"),
        // EACCES or EROFS.
        "FS-01" | "FS-09" => one_line(p).and_then(|l| errno_in(l, "BLOCKED ", &[13, 30])),
        // EROFS on the interpreter's own site directory.
        "FS-02" => one_line(p).and_then(|l| {
            let rest = l
                .strip_prefix("BLOCKED ")
                .ok_or_else(|| format!("expected BLOCKED, got {l:?}"))?;
            let (path, tail) = rest
                .split_once(' ')
                .ok_or_else(|| format!("no errno in {l:?}"))?;
            ensure(tail == "30 Read-only file system", || {
                format!("expected EROFS, got {l:?}")
            })?;
            if common::image() == "mcp-bridge/sandbox:bookworm" {
                ensure(path == format!("{BOOKWORM_PURELIB}/zz_evil.pth"), || {
                    format!("expected the python3.11 dist-packages path, got {path:?}")
                })
            } else {
                ensure(path.starts_with("/usr/"), || {
                    format!("site dir {path:?} not under /usr")
                })
            }
        }),
        // noexec /tmp: EACCES.
        "FS-03" => line_eq(p, "BLOCKED 13 Permission denied"),
        // noexec /workspace: the loader cannot map the copied binary, rc 127.
        "FS-04" => one_line(p).and_then(|l| {
            ensure(
                l.starts_with("RC 127 ") && l.contains("failed to map segment from shared object"),
                || format!("expected rc 127 'failed to map segment', got {l:?}"),
            )
        }),
        // ENOSPC at ~64 MiB.
        "FS-05" => one_line(p).and_then(|l| {
            let mib = value_after::<f64>(l, "BLOCKED after ")?;
            ensure(
                (56.0..=64.0).contains(&mib) && l.ends_with("MiB 28 No space left on device"),
                || format!("expected ENOSPC after ~64 MiB, got {l:?}"),
            )
        }),
        // EPERM: no CAP_MKNOD.
        "FS-06" => line_eq(p, "BLOCKED 1 Operation not permitted"),
        // EACCES: uid 65534.
        "FS-07" => line_eq(p, "BLOCKED 13 Permission denied"),
        // mount(2) EPERM.
        "FS-08" => line_eq(p, "RESULT -1 Operation not permitted"),
        // setuid(0) EPERM.
        "PRIV-01" => line_eq(p, "BLOCKED 1 Operation not permitted"),
        // CapEff/CapPrm/CapBnd (and CapAmb) all 0, NoNewPrivs 1, Seccomp 2 (filter), uid 65534.
        "PRIV-02" => success(p).and_then(|lines| {
            let fields = status_fields(&lines);
            let zero = vec!["0000000000000000"];
            let expected: [(&str, Vec<&str>); 7] = [
                ("Uid", vec!["65534"; 4]),
                ("CapPrm", zero.clone()),
                ("CapEff", zero.clone()),
                ("CapBnd", zero.clone()),
                ("CapAmb", zero),
                ("NoNewPrivs", vec!["1"]),
                ("Seccomp", vec!["2"]),
            ];
            expected.iter().try_for_each(|(key, value)| {
                ensure(fields.get(key) == Some(value), || {
                    format!("{key}: expected {value:?}, got {:?}", fields.get(key))
                })
            })
        }),
        // The setuid bit is ignored: util-linux refuses, rc 32.
        // (mount's message continues on a second line.)
        "PRIV-03" => success(p).and_then(|lines| {
            let first = lines.first().copied().unwrap_or_default();
            ensure(
                first.starts_with("RC 32 ") && first.contains("must be superuser"),
                || format!("expected rc 32 'must be superuser', got {lines:?}"),
            )
        }),
        // su fails: rc 1, authentication failure or no terminal.
        "PRIV-04" => one_line(p).and_then(|l| {
            ensure(
                l.starts_with("RC 1 ")
                    && (l.contains("Authentication failure")
                        || l.contains("must be run from a terminal")),
                || format!("expected su to fail with rc 1, got {l:?}"),
            )
        }),
        // No sudo in the image.
        "PRIV-05" => line_eq(p, "BLOCKED 2 No such file or directory"),
        "KRN-01" => syscall_eperm(p, "unshare_user"),
        "KRN-02" => syscall_eperm(p, "unshare_ns_net"),
        "KRN-03" => syscall_eperm(p, "keyctl"),
        "KRN-04" => syscall_eperm(p, "bpf"),
        "KRN-05" => syscall_eperm(p, "perf"),
        // io_uring is out of the bridge's profile: EPERM (ENOSYS would also mean "not there").
        "KRN-06" => one_line(p).and_then(|l| {
            ensure(
                l == "io_uring_setup -1 Operation not permitted"
                    || l == "io_uring_setup -1 Function not implemented",
                || format!("expected io_uring_setup to fail, got {l:?}"),
            )
        }),
        // ptrace of an own child is allowed, but only the container's own PIDs exist: PID 1, the bridge's relay
        // (which forwards and reaps), and the runner running the code.
        "KRN-07" => success(p).and_then(|lines| {
            let [attach, pids] = lines.as_slice() else {
                return Err(format!("expected 2 lines, got {lines:?}"));
            };
            ensure(*attach == "ATTACH own child 0 OK", || {
                format!("expected ptrace of an own child to work, got {attach:?}")
            })?;
            let pids: Vec<u32> = pids
                .strip_prefix("PIDS_VISIBLE [")
                .and_then(|r| r.strip_suffix(']'))
                .map(|r| r.split(", ").filter_map(|n| n.parse().ok()).collect())
                .unwrap_or_default();
            ensure(pids.len() == 2 && pids[0] == 1 && pids[1] < 100, || {
                format!("expected PIDs [1 (the relay), runner], got {pids:?}")
            })
        }),
        "KRN-08" => syscall_eperm(p, "finit_module"),
        // /proc/sys is read-only.
        "KRN-09" => line_eq(p, "BLOCKED 30 Read-only file system"),
        // cgroupfs read-only (ENOENT on cgroup v2 hosts, which have no memory/ directory); fresh mount EPERM.
        "KRN-10" => success(p).and_then(|lines| {
            let [notify, mount] = lines.as_slice() else {
                return Err(format!("expected 2 lines, got {lines:?}"));
            };
            errno_in(notify, "BLOCKED notify ", &[30, 2])?;
            ensure(*mount == "MOUNT -1 Operation not permitted", || {
                format!("expected mount EPERM, got {mount:?}")
            })
        }),
        // Neither our own nor PID 1's executable can be opened for writing.
        "KRN-11" => success(p).and_then(|lines| {
            ensure(lines.len() == 2, || {
                format!("expected 2 lines, got {lines:?}")
            })?;
            for (line, path) in lines.iter().zip(["/proc/self/exe", "/proc/1/exe"]) {
                errno_in(line, &format!("BLOCKED {path} "), &[26, 13, 30])?;
            }
            Ok(())
        }),
        // No leaked host fd (runc CVE-2024-21626): no fd names a path other than /dev/null, none can be
        // chdir'ed into; cwd is the working directory the bridge sets. The runner's frame socket and output
        // pipes, its event loop's epoll fd and self-pipe sockets are open too, so there are more than fds 0-2
        // (the case's `python3 -` had only those).
        "KRN-12" => success(p).and_then(|lines| {
            let [fds, cwd, chdir] = lines.as_slice() else {
                return Err(format!("expected 3 lines, got {lines:?}"));
            };
            let fds = fds
                .strip_prefix("FDS ")
                .ok_or_else(|| format!("expected FDS, got {fds:?}"))?;
            let targets: Vec<&str> = fds
                .trim_matches(|c| c == '{' || c == '}')
                .split(", ")
                .filter_map(|kv| kv.split_once(": "))
                .map(|(_, target)| target.trim_matches('\''))
                .collect();
            ensure(targets.len() >= 3, || format!("too few fds in {fds:?}"))?;
            targets.iter().try_for_each(|t| {
                let anonymous = ["pipe:[", "socket:[", "anon_inode:["]
                    .iter()
                    .any(|kind| t.starts_with(kind));
                ensure(anonymous || *t == "/dev/null", || {
                    format!(
                        "fd pointing at {t:?}, expected only pipes, sockets, anon inodes, /dev/null"
                    )
                })
            })?;
            ensure(*cwd == "CWD /workspace /workspace", || {
                format!("expected cwd /workspace, got {cwd:?}")
            })?;
            ensure(*chdir == "CHDIR_OK_FDS []", || {
                format!("expected no fd usable as a directory, got {chdir:?}")
            })
        }),
        // The i386 ABI is outside the profile: the `int 0x80` getpid never returns a value. The profile's
        // bad-arch action (runc keeps libseccomp's default) kills the calling thread with SIGSYS; the relay's
        // watch then kills the wedged runner, so the run is an error at once, not a timeout, reported as the
        // blocked system call it was (128 + SIGSYS). The host-side check below makes sure nothing outlives the
        // container.
        "KRN-26" => {
            let printed = p.stdout.iter().any(|l| l.contains("int80 getpid"));
            let error = p.error.as_deref().unwrap_or_default();
            ensure(
                !printed
                    && p.status == Status::Error
                    && p.exit_code == Some(159)
                    && error.starts_with("blocked system call"),
                || {
                    format!(
                        "int 0x80 must not return, and be reported as a blocked system call: {}",
                        describe(p)
                    )
                },
            )
        }
        // OOM-killed at 512 MiB, exit 137, reported as the memory limit.
        "RES-01" => {
            let error = p.error.as_deref().unwrap_or_default();
            ensure(
                p.status == Status::Error
                    && p.exit_code == Some(137)
                    && error.contains("memory limit")
                    && !p.stdout.iter().any(|l| l.contains("ESCAPED")),
                || {
                    format!(
                        "expected error/137 'memory limit', got {:?} {:?} {error:?}",
                        p.status, p.exit_code
                    )
                },
            )
        }
        // EAGAIN after ~125 processes (pids limit 128 counts the runtime's threads too).
        "RES-02" => one_line(p).and_then(|l| {
            let n = value_after::<f64>(l, "BLOCKED after ")?;
            ensure(
                (100.0..=128.0).contains(&n) && l.ends_with(" 11 Resource temporarily unavailable"),
                || format!("expected EAGAIN after ~125 forks, got {l:?}"),
            )
        }),
        // "can't start new thread" after ~125 threads.
        "RES-03" => one_line(p).and_then(|l| {
            let n = value_after::<f64>(l, "BLOCKED after ")?;
            ensure(
                (100.0..=128.0).contains(&n) && l.ends_with(" can't start new thread"),
                || format!("expected the thread limit after ~125, got {l:?}"),
            )
        }),
        // Killed at the host deadline and reported as a timeout, its output kept.
        "RES-04" => ensure(
            p.status == Status::Timeout && p.timeout_seconds == Some(5) && p.stdout == ["sleeping"],
            || {
                format!(
                    "expected timeout at 5 s with 'sleeping', got {:?} {:?}",
                    p.status, p.timeout_seconds
                )
            },
        ),
        // CPU-seconds ≤ quota × wall: 1 CPU by default (20 % slack for accounting granularity).
        "RES-05" => one_line(p).and_then(|l| cpu_within_quota(l, "CPU_SECONDS ")),
        // Only the variables the bridge sets, plus the engine's PATH and HOSTNAME: nothing from the host.
        "INF-01" => one_line(p).and_then(|l| {
            let env = l
                .strip_prefix("ENV ")
                .ok_or_else(|| format!("expected ENV, got {l:?}"))?;
            let mut keys = dict_keys(env);
            // Podman adds two constants of its own to every container (`container=podman`, and `TERM=xterm` from
            // its default containers.conf): nothing of the host's; any other value is a leak.
            let engine_constants: Vec<&str> = [("container", "podman"), ("TERM", "xterm")]
                .into_iter()
                .filter(|(name, value)| env.contains(&format!("'{name}': '{value}'")))
                .map(|(name, _)| name)
                .collect();
            for name in &engine_constants {
                keys.remove(*name);
            }
            let allowed: BTreeSet<String> = [
                "PATH",
                "HOSTNAME",
                "HOME",
                "LANG",
                "LC_CTYPE",
                "PYTHONIOENCODING",
            ]
            .map(String::from)
            .into();
            ensure(keys.contains("PATH") && keys.is_subset(&allowed), || {
                format!("environment keys {keys:?}, allowed only {allowed:?}")
            })?;
            // Independent of the parser: none of this process's own variables shows up by name.
            let leaked: Vec<String> = std::env::vars()
                .map(|(name, _)| name)
                .filter(|name| {
                    !allowed.contains(name)
                        && !engine_constants.contains(&name.as_str())
                        && env.contains(&format!("'{name}': "))
                })
                .collect();
            ensure(leaked.is_empty(), || {
                format!("host variables reached the sandbox: {leaked:?}")
            })
        }),
        // Only the container's own processes: PID 1, the bridge's relay (which forwards and reaps), and the
        // runner running the code, both `python3 -I -B -c <bootstrap>`.
        "INF-02" => success(p).and_then(|lines| {
            let [relay, runner] = lines.as_slice() else {
                return Err(format!(
                    "expected PID 1 (the relay) and the runner, got {lines:?}"
                ));
            };
            let python = |l: &str| {
                l.split_once(' ')
                    .is_some_and(|(_, cmd)| cmd.starts_with("b'python3 -I -B -c "))
            };
            ensure(
                relay.starts_with("1 ") && python(relay) && python(runner),
                || {
                    format!(
                        "expected PID 1 (the relay) and the runner, both python3, got {lines:?}"
                    )
                },
            )
        }),
        // No credentials, engine state or home directories.
        "INF-03" => success(p).and_then(|lines| {
            ensure(lines.len() == 7, || {
                format!("expected 7 lines, got {lines:?}")
            })?;
            lines.iter().try_for_each(|l| {
                ensure(l.ends_with(" absent []"), || {
                    format!("expected absent, got {l:?}")
                })
            })
        }),
        // Accepted low-severity leak (engine storage paths in mountinfo, not hidden without gVisor): the probe
        // runs, and nothing but /var/lib/docker paths is what it can name.
        "INF-04" => one_line(p).and_then(|l| {
            ensure(l.starts_with("HOST_PATHS ["), || {
                format!("expected HOST_PATHS, got {l:?}")
            })
        }),
        // Accepted low-severity leak (host MemTotal and CPU count); the cgroup shows our 512 MiB limit. On
        // cgroup v2 hosts the v1 file does not exist and the probe raises.
        "INF-05" => {
            if p.status == Status::Success {
                one_line(p).and_then(|l| {
                    ensure(
                        l.starts_with("MEMTOTAL MemTotal:")
                            && l.ends_with(&format!(" LIMIT {MEMORY_BYTES}")),
                        || format!("expected the {MEMORY_BYTES}-byte limit, got {l:?}"),
                    )
                })
            } else {
                let stderr = p.stderr.join("\n");
                ensure(
                    stderr.contains("FileNotFoundError")
                        && stderr.contains("memory.limit_in_bytes"),
                    || format!("expected success (or cgroup v2's missing v1 file), got {stderr:?}"),
                )
            }
        }
        // A forged frame written to fd 1 arrives as plain user output, unmodified; nothing runs or ends.
        "PROTO-26" => line_eq(
            p,
            r#"{"t":"rpc","id":1,"server":"secret","tool":"dump","args":{}}"#,
        ),
        // Nothing a later interpreter would import: the system site paths are read-only. HOME is the per-run
        // /workspace tmpfs here (not /nonexistent), so the user-site paths may be written, but they vanish with
        // the container (PERS-01) and the runtime runs with `-I`, which ignores user site and PYTHON* variables.
        "PERS-08" => success(p).and_then(|lines| {
            ensure(lines.len() == 4, || {
                format!("expected 4 lines, got {lines:?}")
            })?;
            for line in lines {
                let under_home = line.contains(" /workspace/");
                if line.starts_with("ESCAPED ") {
                    ensure(under_home, || {
                        format!("wrote outside the per-run workspace: {line:?}")
                    })?;
                } else {
                    let path = line
                        .strip_prefix("BLOCKED ")
                        .and_then(|r| r.split(' ').next())
                        .ok_or_else(|| format!("unexpected line {line:?}"))?;
                    errno_in(line, &format!("BLOCKED {path} "), &[30, 2])?;
                }
            }
            Ok(())
        }),
        _ => return None,
    };
    Some(verdict)
}

/// `CPU_SECONDS c WALL w ...`: c ≤ 1.2 × w (the default quota is one CPU).
fn cpu_within_quota(line: &str, prefix: &str) -> Verdict {
    let cpu = value_after::<f64>(line, prefix)?;
    let wall = line
        .split_once(" WALL ")
        .ok_or_else(|| format!("no WALL in {line:?}"))
        .and_then(|(_, rest)| value_after::<f64>(rest, ""))?;
    ensure(cpu > 0.0 && wall > 0.0 && cpu <= 1.2 * wall, || {
        format!("CPU {cpu} s over {wall} s wall exceeds the 1-CPU quota: {line:?}")
    })
}

/// `/proc/self/status` lines as key → whitespace-separated values.
fn status_fields<'a>(lines: &[&'a str]) -> BTreeMap<&'a str, Vec<&'a str>> {
    lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k, v.split_whitespace().collect()))
        .collect()
}

fn describe(p: &Payload) -> String {
    let clip = |lines: &[String]| {
        let text = lines.join(" / ");
        text.chars().take(400).collect::<String>()
    };
    format!(
        "[status {:?}, exit {:?}, error {:?}, stdout {:?}, stderr {:?}]",
        p.status,
        p.exit_code,
        p.error,
        clip(&p.stdout),
        clip(&p.stderr)
    )
}

// ---------------------------------------------------------------------------------------------------------
// The multi-run cases.

/// PERS-01: run B, in the next container, sees none of run A's files.
async fn pers_01(
    bridge: &mcp_bridge::bridge::Bridge,
    gvisor: bool,
) -> (Verdict, Vec<Option<ContainerUse>>) {
    let c = case("PERS-01");
    let (a, b) = c
        .code
        .split_once("# run B (next container)\n")
        .expect("PERS-01 has two runs");
    // gVisor has no POSIX message queues, so no /dev/mqueue to look in.
    let b = if gvisor {
        b.replace(", \"/dev/mqueue\"]", "]")
            .replace(",\"/dev/mqueue\"]", "]")
    } else {
        b.to_string()
    };
    let seen = if gvisor {
        "SEEN {'/tmp': [], '/workspace': [], '/dev/shm': []}"
    } else {
        "SEEN {'/tmp': [], '/workspace': [], '/dev/shm': [], '/dev/mqueue': []}"
    };
    let first = common::run(bridge, a, 30).await;
    let second = common::run(bridge, &b, 30).await;
    let ids = vec![first.container.clone(), second.container.clone()];
    let verdict = one_line(&first.payload)
        .and_then(|l| {
            ensure(
                l.starts_with("WROTE ['persist'] ['persist'] ['persist']"),
                || format!("run A could not write its files: {l:?}"),
            )
        })
        .and_then(|()| line_eq(&second.payload, seen))
        .map_err(|e| {
            format!(
                "{e} A {} B {}",
                describe(&first.payload),
                describe(&second.payload)
            )
        });
    (verdict, ids)
}

/// RES-14: 16 spinning processes stay within the CPU quota (the host keeps the rest); under gVisor measured
/// from the host.
async fn res_14(
    bridge: &mcp_bridge::bridge::Bridge,
    docker: &bollard::Docker,
    gvisor: bool,
) -> (Verdict, Vec<Option<ContainerUse>>) {
    let c = case("RES-14");
    // The case's code, timed: children's CPU against wall time.
    let code = format!(
        "import time as _t, os as _os\n_t0 = _t.time()\n{}\n_c = _os.times()\n\
         print('CPU', round(_c.children_user + _c.children_system, 1), 'WALL', round(_t.time() - _t0, 1))\n",
        c.code.trim_end()
    );
    if gvisor {
        let (response, samples) =
            gvisor::with_host_cpu(docker, common::run(bridge, &code, 60)).await;
        let verdict = success(&response.payload)
            .and_then(|_| gvisor::host_cpu_within(&response, &samples, 1.0))
            .map_err(|e| format!("{e} {}", describe(&response.payload)));
        return (verdict, vec![response.container]);
    }
    let response = common::run(bridge, &code, 60).await;
    let p = &response.payload;
    let verdict = success(p)
        .and_then(|lines| match lines.as_slice() {
            ["burned", cpu] => cpu_within_quota(cpu, "CPU "),
            _ => Err(format!("expected 'burned' and the CPU line, got {lines:?}")),
        })
        .map_err(|e| format!("{e} {}", describe(p)));
    (verdict, vec![response.container])
}

/// RES-15: a 600 MiB stdout flood is stopped at the output limit, and the engine keeps no log of it (log driver
/// `none`: nothing under /var/lib/docker grows).
async fn res_15(
    bridge: &mcp_bridge::bridge::Bridge,
    docker: &bollard::Docker,
) -> (Verdict, Vec<Option<ContainerUse>>) {
    let c = case("RES-15");
    let run = common::run(bridge, &c.code, 60);
    let watch = async {
        // Every container of this process (all the bridge's) must log nowhere; look while the flood runs.
        let mut seen = BTreeMap::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            for id in common::containers_of_process(docker, std::process::id()).await {
                if let Ok(info) = docker.inspect_container(&id, None).await {
                    let driver = info
                        .host_config
                        .and_then(|h| h.log_config)
                        .and_then(|l| l.typ)
                        .unwrap_or_default();
                    seen.insert(id, (driver, info.log_path.unwrap_or_default()));
                }
            }
            if !seen.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        seen
    };
    let (response, seen) = tokio::join!(run, watch);
    let p = &response.payload;
    let error = p.error.as_deref().unwrap_or_default();
    let verdict = ensure(
        p.status == Status::Error && error.contains("output limit exceeded"),
        || {
            format!(
                "expected the flood to be stopped at the output limit {}",
                describe(p)
            )
        },
    )
    .and_then(|()| ensure(!seen.is_empty(), || "saw no container to inspect".into()))
    .and_then(|()| {
        seen.iter().try_for_each(|(id, (driver, path))| {
            ensure(driver == "none" && path.is_empty(), || {
                format!("container {id} logs with driver {driver:?} to {path:?}")
            })
        })
    });
    (verdict, vec![response.container])
}

/// Not in cases.json: a device node made in a tmpfs opens nothing. Under runc `mknod` is refused (FS-06);
/// under gVisor it succeeds in gVisor's own tmpfs, and this shows that what it made reaches no device.
async fn device_nodes(
    bridge: &mcp_bridge::bridge::Bridge,
    gvisor: bool,
) -> (Verdict, Vec<Option<ContainerUse>>) {
    let code = "import os, stat\n\
                try:\n    os.mknod('/tmp/sda', 0o600 | stat.S_IFBLK, os.makedev(8, 0))\n\
                except OSError as e:\n    print('MKNOD', e.errno)\n\
                try:\n    open('/tmp/sda', 'rb').read(1)\n    print('READ')\n\
                except OSError as e:\n    print('OPEN', e.errno)\n";
    let response = common::run(bridge, code, 30).await;
    let expected: &[&str] = if gvisor {
        &["OPEN 6"]
    } else {
        &["MKNOD 1", "OPEN 2"]
    };
    let verdict = success(&response.payload).and_then(|lines| {
        ensure(lines == expected, || {
            format!("expected {expected:?}, got {lines:?}")
        })
    });
    (verdict, vec![response.container])
}

/// WRITABLE-MOUNTS, not in cases.json: every directory the code may write to is one of the bridge's own,
/// `noexec`, and (a tmpfs) bounded. Podman, for one, mounts writable, executable, unbounded tmpfs on `/run` and
/// `/var/tmp` of a read-only root unless the bridge covers them (`container.rs`); this catches any engine that
/// adds such a place. Files the engine masks with `/dev/null` (`/proc/keys`) are not directories.
async fn writable_mounts(
    bridge: &mcp_bridge::bridge::Bridge,
) -> (Verdict, Vec<Option<ContainerUse>>) {
    let code = "import os\n\
                for line in open('/proc/mounts'):\n    \
                    path, fstype, opts = line.split()[1:4]\n    \
                    opts = opts.split(',')\n    \
                    if 'rw' in opts and os.path.isdir(path) and os.access(path, os.W_OK):\n        \
                        sized = fstype != 'tmpfs' or any(o.startswith('size=') for o in opts)\n        \
                        print(path, 'noexec' in opts, sized)\n";
    let response = common::run(bridge, code, 30).await;
    let ours = ["/tmp", "/workspace", "/dev/shm", "/dev/mqueue"];
    let verdict = success(&response.payload).and_then(|lines| {
        let mut bad = Vec::new();
        for line in &lines {
            let mut fields = line.split(' ');
            let (path, noexec, sized) = (fields.next(), fields.next(), fields.next());
            if !path.is_some_and(|p| ours.contains(&p)) || noexec != Some("True") || sized != Some("True") {
                bad.push(*line);
            }
        }
        ensure(bad.is_empty() && lines.iter().any(|l| l.starts_with("/tmp ")), || {
            format!("writable directories (path, noexec, bounded) beyond the bridge's own noexec tmpfs: {bad:?} of {lines:?}")
        })
    });
    (verdict, vec![response.container])
}

// ---------------------------------------------------------------------------------------------------------

#[test]
fn every_plain_case_has_a_check() {
    let dummy = mcp_bridge::response::validation_error("not run");
    let missing: Vec<String> = cases()
        .into_iter()
        .filter(|c| c.mode == "plain" && check(&c.id, &dummy).is_none())
        .map(|c| c.id)
        .collect();
    assert!(
        missing.is_empty(),
        "plain cases without a check: {missing:?}"
    );
    // The checks were written against these expectations; a changed case needs its check revisited.
    let c = case("PRIV-02");
    assert!(c.expected.contains("NoNewPrivs 1, Seccomp 2"));
}

/// Not in cases.json: the runner's main thread exits (`SYS_exit`, not `exit_group`) while another thread
/// lives, the state KRN-26's seccomp kill also leaves. The relay's watch kills the wedged runner: the run ends at
/// once as an error (137, no completion frame), long before its deadline, and leaves nothing behind.
const LEADER_EXIT: &str = "import ctypes, threading, time
threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
print('leader exits', flush=True)
ctypes.CDLL(None).syscall(60, 0)
";

async fn leader_exit(bridge: &mcp_bridge::bridge::Bridge) -> (Verdict, Vec<Option<ContainerUse>>) {
    let response = common::run(bridge, LEADER_EXIT, 5).await;
    let p = &response.payload;
    let verdict = ensure(
        p.status == Status::Error && p.exit_code == Some(137) && p.stdout == ["leader exits"],
        || format!("expected error/137 after 'leader exits' {}", describe(p)),
    );
    (verdict, vec![response.container])
}

/// Whether the engine runs on this host, so its containers' processes are visible in our /proc.
fn engine_is_local() -> bool {
    std::env::var("DOCKER_HOST")
        .map(|h| h.is_empty() || h.starts_with("unix://"))
        .unwrap_or(true)
}

/// Host processes (any thread) still in the cgroup of one of `containers`. A zombie thread-group leader shows
/// the root cgroup, so every task is looked at, not just /proc/<pid>/cgroup.
fn host_processes_in(containers: &BTreeSet<String>) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(tasks) = std::fs::read_dir(entry.path().join("task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let cgroup = std::fs::read_to_string(task.path().join("cgroup")).unwrap_or_default();
            if let Some(id) = containers.iter().find(|id| cgroup.contains(id.as_str())) {
                found.push(format!("pid {pid} of container {}", &id[..12]));
                break;
            }
        }
    }
    found
}

/// Polls `probe` until it reports nothing or `limit` passes; returns what it last reported.
async fn settle<F, Fut>(limit: Duration, mut probe: F) -> Vec<String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let started = Instant::now();
    loop {
        let left = probe().await;
        if left.is_empty() || started.elapsed() > limit {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn containment_suite() {
    let docker = common::engine().await;
    run_suite(docker, false).await;
}

/// The same suite with every sandbox under gVisor (`MCP_BRIDGE_RUNTIME=runsc`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a Docker engine with gVisor's runsc registered: run scripts/test, or cargo test -- --include-ignored"]
async fn containment_suite_under_gvisor() {
    let docker = common::engine().await;
    common::require_runtime(&docker, "runsc").await;
    run_suite(docker, true).await;
}

/// The cases that depend on a protection `MCP_BRIDGE_ALLOW_WEAKER` (in this process's environment) accepts
/// losing, with that setting: the run of the suite on an engine that cannot apply them (rootless Podman on
/// cgroup v1, in `.ci/run`). They are not run — a memory or fork bomb there is not contained, which is what
/// the user accepted and what `tests/engines.rs` shows the bridge refuses without that setting; every other
/// case must still be contained.
fn accepted_as_uncontained() -> (Option<String>, Vec<&'static str>) {
    use mcp_bridge::sandbox::protections::Protection;
    let Some(allowed) = std::env::var("MCP_BRIDGE_ALLOW_WEAKER")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return (None, Vec::new());
    };
    let protections = Protection::parse_list(&allowed).expect("MCP_BRIDGE_ALLOW_WEAKER parses");
    let mut cases = Vec::new();
    for protection in protections {
        cases.extend(match protection {
            // INF-05 is checked for the limit the sandbox reads beside the host's memory.
            Protection::Memory | Protection::Swap => &["RES-01", "INF-05"][..],
            Protection::Pids => &["RES-02", "RES-03"][..],
            Protection::Cpu => &["RES-05", "RES-14"][..],
            Protection::Seccomp | Protection::Ulimits => &[][..],
        });
    }
    cases.sort_unstable();
    cases.dedup();
    (Some(allowed), cases)
}

/// The suites take turns: each counts every container of this process, and times CPU quotas.
static SUITE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs every case, under gVisor (`gvisor`: checked against `containment/gvisor.rs` where it differs) or runc.
async fn run_suite(docker: bollard::Docker, gvisor: bool) {
    let _turn = SUITE.lock().await;
    // The pool as large as the concurrency limit: every run takes a warm container, so the suite shows the
    // pool contains exactly what a cold start does (every other engine test runs cold).
    let mut vars = vec![
        ("MCP_BRIDGE_POOL_SIZE", "4"),
        ("MCP_BRIDGE_MAX_CONCURRENCY", "4"),
    ];
    if gvisor {
        vars.push(("MCP_BRIDGE_RUNTIME", "runsc"));
    }
    let (allowed, accepted) = accepted_as_uncontained();
    if let Some(allowed) = &allowed {
        vars.push(("MCP_BRIDGE_ALLOW_WEAKER", allowed));
        eprintln!(
            "containment: MCP_BRIDGE_ALLOW_WEAKER={allowed}: NOT RUN, accepted as uncontained on this engine: {accepted:?}"
        );
    }
    let bridge = common::bridge(&vars);
    bridge.sandbox().warm_up().await.expect("engine ready");
    let started = Instant::now();

    // The ids of every container this process creates, for the host-side leak check afterwards.
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = CancellationToken::new();
    let watcher = {
        let (docker, seen, stop) = (docker.clone(), seen.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                let ids = common::containers_of_process(&docker, std::process::id()).await;
                seen.lock().expect("not poisoned").extend(ids);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let plain = cases()
        .into_iter()
        .filter(|c| c.mode == "plain" && !accepted.contains(&c.id.as_str()))
        .map(|c| {
            let (bridge, docker) = (bridge.clone(), docker.clone());
            async move {
                let run = common::run(&bridge, &c.code, timeout_of(&c.id));
                if gvisor && c.id == "RES-05" {
                    // The code's CPU clock is gVisor's accounting: the quota is checked from the host.
                    let (response, samples) = gvisor::with_host_cpu(&docker, run).await;
                    let verdict = success(&response.payload)
                        .and_then(|_| gvisor::host_cpu_within(&response, &samples, 1.0))
                        .map_err(|e| format!("{e} {}", describe(&response.payload)));
                    return (c.id, verdict, vec![response.container]);
                }
                let response = run.await;
                let overridden = gvisor
                    .then(|| gvisor::check(&c.id, &response.payload))
                    .flatten();
                let verdict = overridden
                    .or_else(|| check(&c.id, &response.payload))
                    .unwrap_or_else(|| Err("no check for this case".into()))
                    .map_err(|e| format!("{e} {}", describe(&response.payload)));
                (c.id, verdict, vec![response.container])
            }
        });
    let plain = join_all(plain);
    let multi = async {
        let (a, b, c, d, e, f) = tokio::join!(
            pers_01(&bridge, gvisor),
            async {
                if accepted.contains(&"RES-14") {
                    (Ok(()), Vec::new())
                } else {
                    res_14(&bridge, &docker, gvisor).await
                }
            },
            res_15(&bridge, &docker),
            leader_exit(&bridge),
            device_nodes(&bridge, gvisor),
            writable_mounts(&bridge)
        );
        [
            ("PERS-01", a),
            ("RES-14", b),
            ("RES-15", c),
            ("LEADER-EXIT", d),
            ("DEVICE-NODES", e),
            ("WRITABLE-MOUNTS", f),
        ]
        .map(|(id, (verdict, ids))| (id.to_string(), verdict, ids))
    };
    let (plain, multi) = tokio::join!(plain, multi);
    // An accepted case did not run (RES-14's slot above only stands in): it is neither passed nor counted.
    let results: Vec<_> = plain
        .into_iter()
        .chain(multi)
        .filter(|(id, _, _)| !accepted.contains(&id.as_str()))
        .collect();
    stop.cancel();
    let _ = watcher.await;
    eprintln!(
        "containment (gVisor: {gvisor}): {} cases in {:.1} s, {} containers seen",
        results.len(),
        started.elapsed().as_secs_f64(),
        seen.lock().expect("not poisoned").len()
    );

    let mut failures: Vec<String> = results
        .iter()
        .filter_map(|(id, verdict, _)| verdict.as_ref().err().map(|e| format!("{id}: {e}")))
        .collect();

    // Every case ran in a warm container from the pool (which serves every run at this size).
    let cold: Vec<&str> = results
        .iter()
        .filter(|(_, _, used)| used.iter().flatten().any(|c| !c.warm))
        .map(|(id, _, _)| id.as_str())
        .collect();
    if !cold.is_empty() {
        failures.push(format!(
            "cases that did not run in a pooled container: {cold:?}"
        ));
    }

    // PERS-11: every run's container is removed (after a clean exit that happens in the background) ...
    let used: Vec<String> = results
        .iter()
        .flat_map(|(_, _, used)| used.iter().flatten().map(|c| c.id.clone()))
        .collect();
    let left = settle(Duration::from_secs(15), || {
        let (docker, used) = (docker.clone(), used.clone());
        async move {
            let mut left = Vec::new();
            for id in &used {
                if common::container_exists(&docker, id).await {
                    left.push(id.clone());
                }
            }
            left
        }
    })
    .await;
    if !left.is_empty() {
        failures.push(format!("PERS-11: containers left behind: {left:?}"));
    }
    // ... and, once the bridge has shut down (taking its idle warm containers with it), no process of any
    // container it made lives on on the host (visible only when the engine is local).
    common::finish(&bridge).await;
    let seen = seen.lock().expect("not poisoned").clone();
    if engine_is_local() {
        let leaked = settle(Duration::from_secs(15), || {
            let seen = seen.clone();
            async move { host_processes_in(&seen) }
        })
        .await;
        if !leaked.is_empty() {
            failures.push(format!(
                "PERS-11: sandbox processes outlived their containers: {leaked:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} containment failures ({} cases):\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

/// PERS-07, a known gap: every sandbox runs as uid 65534, and per-user kernel limits (here
/// `fs.inotify.max_user_instances`, 128) are shared by all of them, so one run can starve a concurrent one.
/// Closing it needs a distinct uid per concurrent run (or user namespaces). Ignored until then, and left out of
/// `scripts/test` by name (it includes the ignored engine tests); run it alone with
/// `cargo test --test containment -- --ignored pers_07` to see it fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "known gap: all sandboxes share uid 65534 (needs a per-run uid or user namespaces)"]
async fn pers_07_concurrent_runs_do_not_share_per_user_limits() {
    common::engine().await;
    let bridge = common::bridge(&[]);
    let c = case("PERS-07");
    let (a, b) = c
        .code
        .split_once("# run B (concurrent, different container)\n")
        .expect("PERS-07 has two runs");
    let holder = {
        let bridge = bridge.clone();
        let a = a.to_string();
        tokio::spawn(async move { common::run(&bridge, &a, 30).await })
    };
    // Let A exhaust the instances before B starts.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let second = common::run(&bridge, b, 30).await;
    let _ = holder.await;
    let line = one_line(&second.payload).unwrap_or_default().to_string();
    assert!(
        line.ends_with(" OK"),
        "run B was starved by run A: {line:?} {}",
        describe(&second.payload)
    );
}
