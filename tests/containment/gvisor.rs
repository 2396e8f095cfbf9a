//! What a contained sandbox shows under gVisor (`MCP_BRIDGE_RUNTIME=runsc`) where that differs from runc.
//!
//! Under gVisor every system call of the code is served by gVisor's own kernel, a user-space program, and the
//! host kernel sees only that program's calls (through its own seccomp filter). So some cases are refused
//! with another errno, some calls succeed against gVisor's kernel and reach nothing of the host's, and the
//! code's own clock of CPU time is gVisor's accounting, not the host's. Each override says why the outcome is
//! still contained; a case without one is checked exactly as under runc.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mcp_bridge::bridge::Response;
use mcp_bridge::response::{Payload, Status};

use super::{Verdict, describe, ensure, errno_in, line_eq, one_line, status_fields, success};

/// The gVisor outcome of a plain case, when it differs from runc's; `None`: check it as under runc.
pub fn check(id: &str, p: &Payload) -> Option<Verdict> {
    let verdict = match id {
        // No route at all: gVisor's network stack says EHOSTUNREACH where Linux says ENETUNREACH.
        "NET-01" => line_eq(p, "BLOCKED 113 No route to host"),
        "NET-04" => one_line(p).and_then(|l| errno_in(l, "BLOCKED URLError ", &[113])),
        // gVisor has no AF_VSOCK at all.
        "NET-14" => line_eq(p, "BLOCKED 97 Address family not supported by protocol"),
        // The read-only root refuses writes with EACCES under gVisor (EROFS under runc).
        "FS-02" | "KRN-09" => one_line(p).and_then(|l| errno_in_last(l, 13)),
        "PERS-08" => success(p).and_then(|lines| {
            for line in lines.iter().filter(|l| !l.contains(" /workspace/")) {
                errno_in_last(line, 13)?;
            }
            Ok(())
        }),
        // gVisor does not refuse executable maps of a noexec file, so the loader runs a copied binary. What runs
        // is confined to gVisor's kernel exactly as Python is, with no privilege Python lacks (the code can run
        // machine code through ctypes anyway: KRN-26's RWX map).
        "FS-04" => one_line(p).and_then(|l| {
            ensure(l.starts_with("RC 0") || l.starts_with("RC 127"), || {
                format!("expected the loader to run or be refused, got {l:?}")
            })
        }),
        // gVisor creates the node in its own tmpfs, but its kernel has no host devices: opening a block node
        // gives ENXIO (the `gvisor_device_nodes_reach_nothing` case checks it).
        "FS-06" => one_line(p).and_then(|l| {
            ensure(
                l == "ESCAPED" || l == "BLOCKED 1 Operation not permitted",
                || format!("expected mknod to succeed in gVisor's tmpfs or be refused, got {l:?}"),
            )
        }),
        // gVisor's /proc/self/status has no CapAmb line, and shows Seccomp 0: the bridge's seccomp profile is
        // replaced by gVisor's kernel (see SECURITY.md). Every capability set is still empty and the uid 65534.
        "PRIV-02" => success(p).and_then(|lines| {
            let fields = status_fields(&lines);
            for (key, expected) in [
                ("Uid", vec!["65534"; 4]),
                ("CapPrm", vec!["0000000000000000"]),
                ("CapEff", vec!["0000000000000000"]),
                ("CapBnd", vec!["0000000000000000"]),
            ] {
                ensure(fields.get(key) == Some(&expected), || {
                    format!("{key}: expected {expected:?}, got {:?}", fields.get(key))
                })?;
            }
            Ok(())
        }),
        // gVisor's kernel gives a single-threaded process a user namespace of its own (a multi-threaded one gets
        // EINVAL, as on Linux). The namespace and any capability in it are gVisor's, served in user space: the
        // host kernel sees only gVisor's own calls, through gVisor's own seccomp filter. The bridge's profile,
        // which refuses unshare under runc, does not apply under gVisor (SECURITY.md says why).
        "KRN-01" => one_line(p).and_then(|l| {
            ensure(
                l == "unshare_user 0 OK" || l == "unshare_user -1 Invalid argument",
                || format!("expected gVisor's own user namespace or its EINVAL, got {l:?}"),
            )
        }),
        // Refused by gVisor's kernel, with its own errno: keyrings (EACCES), perf (ENODEV).
        "KRN-03" => line_eq(p, "keyctl -1 Permission denied"),
        "KRN-05" => line_eq(p, "perf -1 No such device"),
        // io_uring here is gVisor's own implementation in user space; the host kernel's io_uring, the attack
        // surface the case is about, is out of reach.
        "KRN-06" => one_line(p).and_then(|l| {
            ensure(l.starts_with("io_uring_setup "), || {
                format!("expected the io_uring_setup line, got {l:?}")
            })
        }),
        // gVisor has no 32-bit system call table: `int 0x80` returns an error instead of reaching one.
        "KRN-26" => one_line(p).and_then(|l| {
            ensure(l.starts_with("RWX_MMAP ok; int80 getpid -> -"), || {
                format!("expected int 0x80 to fail, got {l:?}")
            })
        }),
        // The process limit is gVisor's RLIMIT_NPROC; a fork bomb of full interpreters can reach the memory limit
        // first, which ends the whole sandbox.
        "RES-02" => {
            if p.status == Status::Error {
                let error = p.error.as_deref().unwrap_or_default();
                ensure(error.starts_with("memory limit hit"), || {
                    format!("expected EAGAIN or the memory limit, got {}", describe(p))
                })
            } else {
                one_line(p).and_then(|l| {
                    ensure(
                        l.starts_with("BLOCKED after ")
                            && l.ends_with(" 11 Resource temporarily unavailable"),
                        || format!("expected EAGAIN, got {l:?}"),
                    )
                })
            }
        }
        // Fd 3 is the runner's private copy of the container's stdin, which gVisor names `host:[n]`; the others
        // are the output pipes, the frame socket to the relay and /dev/null; nothing else is open.
        "KRN-12" => success(p).and_then(|lines| {
            let fds = lines.first().copied().unwrap_or_default();
            let stray = fds
                .trim_start_matches("FDS {")
                .trim_end_matches('}')
                .split(", ")
                .filter_map(|entry| entry.split_once(": "))
                .map(|(_, target)| target.trim_matches('\''))
                .filter(|target| {
                    !(target.starts_with("pipe:")
                        || target.starts_with("socket:")
                        || target.starts_with("host:")
                        || *target == "/dev/null")
                })
                .count();
            ensure(
                stray == 0 && lines.get(2).copied() == Some("CHDIR_OK_FDS []"),
                || format!("unexpected fds or chdir: {lines:?}"),
            )
        }),
        _ => return None,
    };
    Some(verdict)
}

/// The errno right before the message at the end of `line` (`... <errno> <strerror>`) is `expected`.
fn errno_in_last(line: &str, expected: i64) -> Verdict {
    let found = line
        .split_whitespace()
        .filter_map(|word| word.parse::<i64>().ok())
        .next_back();
    ensure(
        line.starts_with("BLOCKED ") && found == Some(expected),
        || format!("expected BLOCKED with errno {expected}, got {line:?}"),
    )
}

/// Samples of a container's cumulative host CPU time (ns), from the engine's stats.
pub type CpuSamples = BTreeMap<String, Vec<(Instant, u64)>>;

/// Runs `run` while sampling the host CPU time of every container of this process; under gVisor the code's
/// own CPU clock is gVisor's accounting, so the quota is checked from the host.
pub async fn with_host_cpu(
    docker: &bollard::Docker,
    run: impl std::future::Future<Output = Response>,
) -> (Response, CpuSamples) {
    let stop = tokio_util::sync::CancellationToken::new();
    let sampler = async {
        let mut samples = CpuSamples::new();
        while !stop.is_cancelled() {
            let ids = super::common::containers_of_process(docker, std::process::id()).await;
            // All at once: the engine's stats of one gVisor container can take a second or more.
            let read =
                futures::future::join_all(ids.iter().map(|id| host_cpu_ns(docker, id))).await;
            for (id, total) in ids.into_iter().zip(read) {
                if let Some(total) = total {
                    samples.entry(id).or_default().push((Instant::now(), total));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        samples
    };
    let run = async {
        let response = run.await;
        stop.cancel();
        response
    };
    tokio::join!(run, sampler)
}

/// A container's cumulative host CPU time in ns: from its cgroup when the engine is local (a file read), else
/// from the engine's stats.
async fn host_cpu_ns(docker: &bollard::Docker, id: &str) -> Option<u64> {
    for path in [
        format!("/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage"),
        format!("/sys/fs/cgroup/cpu,cpuacct/docker/{id}/cpuacct.usage"),
    ] {
        if let Some(ns) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return Some(ns);
        }
    }
    for path in [
        format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat"),
        format!("/sys/fs/cgroup/docker/{id}/cpu.stat"),
    ] {
        let usec = std::fs::read_to_string(&path).ok().and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("usage_usec "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        });
        if let Some(usec) = usec {
            return Some(usec * 1000);
        }
    }
    let options = bollard::query_parameters::StatsOptionsBuilder::default()
        .stream(false)
        .one_shot(true)
        .build();
    let mut stream = docker.stats(id, Some(options));
    let stats = futures::StreamExt::next(&mut stream).await?.ok()?;
    stats.cpu_stats?.cpu_usage?.total_usage
}

/// The run's container used at most `quota` CPUs of host time, over at least two seconds of samples.
pub fn host_cpu_within(response: &Response, samples: &CpuSamples, quota: f64) -> Verdict {
    let id = response
        .container
        .as_ref()
        .map(|c| c.id.clone())
        .unwrap_or_default();
    let taken = samples.get(&id).map(Vec::as_slice).unwrap_or_default();
    let (Some(first), Some(last)) = (taken.first(), taken.last()) else {
        return Err(format!("no host CPU samples of container {id}"));
    };
    let wall = last.0.duration_since(first.0).as_secs_f64();
    let cpu = last.1.saturating_sub(first.1) as f64 / 1e9;
    ensure(wall >= 2.0 && cpu <= quota * wall * 1.1, || {
        format!("host CPU {cpu:.1} s over {wall:.1} s of samples exceeds {quota} CPU")
    })
}
