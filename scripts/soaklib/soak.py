"""The soak: mixed runs through one `bridge serve` over stdio, then nothing may be left."""

import json
import os
import random
import shutil
import statistics
import sys
import time

import anyio
import mcp.client.stdio as sdk_stdio

from mcp import Client, StdioServerParameters

from .common import (
    CALL_BOUND,
    EXIT_BOUND,
    MEMORY,
    REMOVAL_BOUND,
    Sampler,
    all_pids,
    bridge_pid_of,
    cmdline,
    container_exists,
    containers_of,
    docker_remove,
    flatness,
    fmt,
    log,
    percentile,
    proc_stat,
    scratch,
)
from .kinds import KINDS, check, make_run


class Audit:
    """Reads the bridge's audit log as it grows, to see the cancellation runs reach the stub."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""
        self.seen = {}  # token -> hostname
        self.lines = []

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        for raw in complete:
            if not raw.strip():
                continue
            line = json.loads(raw)
            self.lines.append(line)
            text = ((line.get("arguments") or {}).get("text")) or ""
            if line.get("event") == "call" and text.startswith("cancel "):
                _, token, hostname = text.split(" ")
                self.seen[token] = hostname

    async def hostname_of(self, token, bound):
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            self.poll()
            if token in self.seen:
                return self.seen[token]
            await anyio.sleep(0.05)
        return None


async def one_run(client, run, audit, failures, progress):
    started = time.monotonic()
    try:
        if run.kind == "cancellation":
            await cancel_run(client, run, audit)
        else:
            with anyio.fail_after(CALL_BOUND):
                result = await client.call_tool("run_python", run.arguments)
            run.latency = time.monotonic() - started
            run.result = result.structured_content or {}
            run.problem = check(run, run.result)
    except TimeoutError:
        run.problem = f"no result within {CALL_BOUND:.0f} s (a hang)"
    except Exception as error:  # noqa: BLE001 - any failure of a call is a finding, reported with the run
        run.problem = f"the call failed: {type(error).__name__}: {error}"
    if run.latency is None:
        run.latency = time.monotonic() - started
    if run.problem:
        failures.append(run)
        excerpt = json.dumps(run.result)[:400] if run.result else ""
        log(f"FAILED run {run.index} ({run.kind}): {run.problem} {excerpt}")
    progress["done"] += 1


async def cancel_run(client, run, audit):
    """Starts the call, cancels it once the run has reached the stub, and waits for its container to go."""
    scope = anyio.CancelScope()
    outcome = {}

    async def call():
        with scope:
            try:
                outcome["result"] = await client.call_tool("run_python", run.arguments)
            except Exception as error:  # noqa: BLE001 - reported below
                outcome["error"] = error

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        group.start_soon(call)
        hostname = await audit.hostname_of(run.token, 60)
        if hostname is not None:
            await anyio.sleep(random.uniform(0.05, 0.5))
        scope.cancel()
    # The latency of a cancellation is the call's time until the client cancelled it.
    run.latency = time.monotonic() - started
    if "result" in outcome:
        run.result = outcome["result"].structured_content or {}
        run.problem = "the call finished although it was cancelled"
        return
    if "error" in outcome:
        run.problem = f"the call failed before it was cancelled: {outcome['error']!r}"
        return
    if hostname is None:
        run.problem = "the run never reached the stub server (no audit line within 60 s)"
        return
    cancelled = time.monotonic()
    while await container_exists(hostname):
        if time.monotonic() > cancelled + REMOVAL_BOUND:
            run.problem = f"container {hostname} still exists {REMOVAL_BOUND:.0f} s after the cancellation"
            return
        await anyio.sleep(0.1)
    run.removal = time.monotonic() - cancelled


async def soak(options):
    rng = random.Random(options.seed)
    kinds = [KINDS[i % len(KINDS)] for i in range(options.runs)]
    rng.shuffle(kinds)
    runs = [make_run(i, kind, rng) for i, kind in enumerate(kinds)]
    tmp, env = scratch("mcp-bridge-soak-")
    env["MCP_BRIDGE_MEMORY"] = MEMORY
    bridge_log = open(os.path.join(tmp, "bridge.log"), "w")  # noqa: SIM115 - open for the bridge's whole life
    # The SDK closes the server's stdin and gives it 2 s before killing its process group; the soak wants to
    # see the bridge end by itself, removing its containers first.
    sdk_stdio.PROCESS_TERMINATION_TIMEOUT = EXIT_BOUND
    processes = []
    spawn = sdk_stdio._create_platform_compatible_process

    async def spawn_and_keep(*args, **kwargs):
        process = await spawn(*args, **kwargs)
        processes.append(process)
        return process

    sdk_stdio._create_platform_compatible_process = spawn_and_keep
    params = StdioServerParameters(command=options.bridge, args=["serve"], env=env, cwd=tmp)
    failures, progress = [], {"done": 0}
    audit = Audit(os.path.join(tmp, "state", "audit.jsonl"))
    report = {"mode": "soak", "runs": options.runs, "concurrency": options.concurrency, "seed": options.seed}
    log(f"{options.runs} runs, {options.concurrency} at a time, seed {options.seed}; scratch {tmp}")
    started = time.monotonic()
    try:
        async with Client(sdk_stdio.stdio_client(params, errlog=bridge_log), mode="legacy") as client:
            pid = bridge_pid_of(os.path.realpath(options.bridge))
            if pid is None:
                sys.exit("soak: cannot find the bridge process")
            sampler = Sampler(pid)
            pending = iter(runs)

            async def worker():
                for run in pending:
                    await one_run(client, run, audit, failures, progress)
                    if progress["done"] % 100 == 0:
                        elapsed = time.monotonic() - started
                        log(f"{progress['done']} runs in {elapsed:.0f} s, {len(failures)} failed")

            async with anyio.create_task_group() as outer:
                outer.start_soon(sampler.sample_processes, progress, options.sample_interval)
                outer.start_soon(sampler.sample_containers, 2.0)
                async with anyio.create_task_group() as workers:
                    for _ in range(options.concurrency):
                        workers.start_soon(worker)
                outer.cancel_scope.cancel()
            wall = time.monotonic() - started
            during = await containers_of(pid)
            closing = time.monotonic()
    except Exception as error:  # noqa: BLE001 - the session broke: say so with the bridge's own words
        bridge_log.close()
        with open(bridge_log.name, errors="replace") as f:
            tail = f.read()[-4000:]
        log(f"the MCP session with the bridge failed: {error!r}; its log ({tmp}):\n{tail}")
        return 1
    exit_seconds = time.monotonic() - closing
    bridge_log.close()
    process = processes[0] if processes else None
    exit_code = process.returncode if process else None

    end_problems = []
    left = await containers_of(pid)
    if left:
        end_problems.append(f"{len(left)} containers of the bridge left after it exited: {left}")
        docker_remove([cid for cid, _ in left])
    if exit_code != 0:
        end_problems.append(f"the bridge exited with {exit_code} (after {exit_seconds:.1f} s)")
    if exit_seconds >= EXIT_BOUND:
        end_problems.append(f"the bridge did not exit within {EXIT_BOUND:.0f} s of its stdin closing")
    await anyio.sleep(0.5)
    stray = []
    for spid, (start, line) in sampler.seen_processes.items():
        stat = proc_stat(spid)
        if stat and stat[2] == start:
            stray.append(f"{spid} {line}")
    for spid in all_pids():
        stat = proc_stat(spid)
        if (
            stat
            and (stat[1] == pid or tmp in cmdline(spid))
            and not any(s.startswith(f"{spid} ") for s in stray)
        ):
            stray.append(f"{spid} {cmdline(spid)}")
    if stray:
        end_problems.append(f"processes of the bridge left after it exited: {stray}")
    audit.poll()
    denials = sum(
        1
        for line in audit.lines
        if line.get("event") == "call" and line.get("tool") == "crash" and line.get("decision") == "deny"
    )
    wanted = sum(1 for run in runs if run.kind == "policy_denial")
    if denials != wanted:
        end_problems.append(f"the audit log has {denials} denials of crash, expected {wanted}")
    allowed_crash = [
        line for line in audit.lines if line.get("tool") == "crash" and line.get("decision") == "allow"
    ]
    if allowed_crash:
        end_problems.append(f"the audit log shows crash allowed: {allowed_crash[:2]}")

    samples = sampler.samples
    rss = [s[2] for s in samples]
    fds = [s[3] for s in samples]
    children = [s[4] for s in samples]
    rss_warm, rss_end, rss_flat = flatness(rss, lambda w: max(options.rss_tolerance_mib * 1024, 0.10 * w))
    fd_warm, fd_end, fd_flat = flatness(fds, lambda w: options.fd_tolerance)
    if not rss_flat:
        end_problems.append(f"RSS grew after warm-up: {rss_warm / 1024:.1f} MiB -> {rss_end / 1024:.1f} MiB")
    if not fd_flat:
        end_problems.append(f"open fds grew after warm-up: {fd_warm} -> {fd_end}")
    slope = None
    if len(samples) >= 8:
        tail = samples[len(samples) // 4 :]
        xs, ys = [s[1] for s in tail], [s[2] for s in tail]
        if len(set(xs)) > 1:
            mx, my = statistics.fmean(xs), statistics.fmean(ys)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
                (x - mx) ** 2 for x in xs
            )

    removals = [run.removal for run in runs if run.removal is not None]
    per_kind = {}
    for kind in KINDS:
        mine = [run for run in runs if run.kind == kind]
        times = [run.latency for run in mine if run.latency is not None]
        per_kind[kind] = {
            "runs": len(mine),
            "ok": sum(1 for run in mine if not run.problem),
            "failed": sum(1 for run in mine if run.problem),
            "p50_s": percentile(times, 50),
            "p95_s": percentile(times, 95),
        }
    report.update(
        {
            "bridge": options.bridge,
            "wall_s": wall,
            "runs_per_s": options.runs / wall if wall else None,
            "kinds": per_kind,
            "rss_mib": {
                "start": rss[0] / 1024 if rss else None,
                "after_warm_up": rss_warm / 1024 if rss_warm else None,
                "end": rss_end / 1024 if rss_end else None,
                "max": max(rss) / 1024 if rss else None,
                "flat": rss_flat,
                "slope_kib_per_1000_runs": slope * 1000 if slope is not None else None,
            },
            "fds": {
                "start": fds[0] if fds else None,
                "after_warm_up": fd_warm,
                "end": fd_end,
                "max": max(fds) if fds else None,
                "flat": fd_flat,
            },
            "children": {
                "max": max(children) if children else None,
                "last": children[-1] if children else None,
            },
            "containers": {
                "max_seen": max((c for _, c in sampler.containers), default=0),
                "at_the_end_of_the_runs": len(during),
                "left_after_exit": len(left),
            },
            "cancel_to_removed_s": {
                "p50": percentile(removals, 50),
                "p95": percentile(removals, 95),
                "max": max(removals) if removals else None,
            },
            "samples": len(samples),
            # (seconds since the start, runs done, RSS KiB, open fds, child processes)
            "sample_series": [[round(t - started, 2), *rest] for t, *rest in samples],
            "bridge_exit": {"code": exit_code, "seconds": exit_seconds},
            "processes_left": stray,
            "audit_denials": denials,
            "failures": [
                {"run": run.index, "kind": run.kind, "problem": run.problem, "result": run.result}
                for run in failures
            ]
            + [{"run": None, "kind": "end", "problem": problem} for problem in end_problems],
        }
    )
    print_soak(report)
    if options.json:
        with open(options.json, "w") as f:
            json.dump(report, f, indent=2)
    if report["failures"]:
        log(f"bridge log and state kept in {tmp}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def print_soak(report):
    out = []
    out.append(f"{'kind':<15}{'runs':>6}{'ok':>6}{'failed':>8}{'p50 s':>9}{'p95 s':>9}")
    for kind, row in report["kinds"].items():
        out.append(
            f"{kind:<15}{row['runs']:>6}{row['ok']:>6}{row['failed']:>8}"
            f"{fmt(row['p50_s']):>9}{fmt(row['p95_s']):>9}"
        )
    total_ok = sum(row["ok"] for row in report["kinds"].values())
    total_failed = sum(row["failed"] for row in report["kinds"].values())
    out.append(f"{'all':<15}{report['runs']:>6}{total_ok:>6}{total_failed:>8}")
    out.append(
        f"{report['runs']} runs in {report['wall_s']:.0f} s with {report['concurrency']} at a time: "
        f"{report['runs_per_s']:.2f} runs/s"
    )
    rss, fds, c = report["rss_mib"], report["fds"], report["containers"]
    exit_ = report["bridge_exit"]
    trend = fmt(rss["slope_kib_per_1000_runs"], ".0f")
    out.append(
        f"bridge RSS MiB: start {fmt(rss['start'], '.1f')}, "
        f"after warm-up {fmt(rss['after_warm_up'], '.1f')}, end {fmt(rss['end'], '.1f')}, "
        f"max {fmt(rss['max'], '.1f')} ({'flat' if rss['flat'] else 'GREW'}; trend {trend} KiB per 1000 runs)"
    )
    out.append(
        f"bridge open fds: start {fds['start']}, after warm-up {fds['after_warm_up']}, end {fds['end']}, "
        f"max {fds['max']} ({'flat' if fds['flat'] else 'GREW'}); {report['samples']} samples"
    )
    out.append(
        f"child processes: max {report['children']['max']}; containers of the bridge: max {c['max_seen']}, "
        f"when the runs ended {c['at_the_end_of_the_runs']} (warm ones, and any being removed), "
        f"after it exited {c['left_after_exit']}"
    )
    gone = report["cancel_to_removed_s"]
    out.append(
        f"a cancelled run's container gone: p50 {fmt(gone['p50'])} s, p95 {fmt(gone['p95'])} s, "
        f"max {fmt(gone['max'])} s after the client cancelled"
    )
    out.append(
        f"bridge exit: code {exit_['code']} {exit_['seconds']:.1f} s after its stdin closed; "
        f"processes left: {len(report['processes_left'])}; audit denials: {report['audit_denials']}"
    )
    failures = report["failures"]
    out.append(f"failures: {len(failures) or 'none'}")
    for failure in failures:
        out.append(f"  run {failure['run']} ({failure['kind']}): {failure['problem']}")
    print("\n".join(out), flush=True)
