"""The load run: 64 calls at once from several HTTP clients, each its own output or a clear busy."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import AsyncExitStack

import anyio
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcp import Client

from .common import CALL_BOUND, EXIT_BOUND, containers_of, docker_remove, fmt, log, percentile, scratch

LOAD_LINES = 5


def load_code(marker, pause):
    return (
        f"import time\nfor k in range({LOAD_LINES}):\n"
        f"    print('{marker}', k, flush=True)\n    time.sleep({pause})\n"
    )


async def load(options):
    tmp, env = scratch("mcp-bridge-load-")
    tokens = [f"load-token-{n}-{os.urandom(8).hex()}" for n in range(options.clients)]
    with open(os.path.join(tmp, "tokens"), "w") as f:
        f.write("\n".join(tokens) + "\n")
    for setting in options.env:
        key, _, value = setting.partition("=")
        env[key] = value
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bridge_log = open(os.path.join(tmp, "bridge.log"), "w")  # noqa: SIM115 - open for the bridge's whole life
    process = subprocess.Popen(
        [options.bridge, "serve", "--http", f"127.0.0.1:{port}", "--token-file", os.path.join(tmp, "tokens")],
        env={**{k: os.environ[k] for k in ("PATH", "LANG") if k in os.environ}, **env},
        cwd=tmp,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=bridge_log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1).read()
            break
        except OSError:
            if process.poll() is not None:
                sys.exit(f"soak: the bridge exited with {process.returncode}; see {tmp}/bridge.log")
            time.sleep(0.1)
    results = []  # (kind, latency, problem)
    walls = []
    try:
        clients = []
        async with AsyncExitStack() as stack:
            for n, token in enumerate(tokens):
                http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
                transport = streamable_http_client(f"{url}/mcp", http_client=http)
                mode = "legacy" if n % 2 == 0 else "2026-07-28"
                clients.append(await stack.enter_async_context(Client(transport, mode=mode)))
            for round_ in range(options.rounds):
                started = time.monotonic()
                async with anyio.create_task_group() as group:
                    for n, client in enumerate(clients):
                        for i in range(options.calls):
                            marker = f"round-{round_}-client-{n}-call-{i}"
                            group.start_soon(load_call, client, marker, options.pause, results)
                walls.append(time.monotonic() - started)
                await anyio.sleep(1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            exit_code = process.wait(timeout=EXIT_BOUND)
        except subprocess.TimeoutExpired:
            process.kill()
            exit_code = process.wait()
        bridge_log.close()
    problems = [problem for _, _, problem in results if problem]
    left = await containers_of(process.pid)
    if left:
        problems.append(f"{len(left)} containers left after the bridge exited: {left}")
        docker_remove([cid for cid, _ in left])
    if exit_code != 0:
        problems.append(f"the bridge exited with {exit_code} after SIGTERM")

    def stats(kind):
        times = [latency for k, latency, problem in results if (kind is None or k == kind) and not problem]
        return {
            "count": len(times),
            "p50_s": percentile(times, 50),
            "p95_s": percentile(times, 95),
            "max_s": max(times) if times else None,
        }

    report = {
        "mode": "load",
        "clients": options.clients,
        "calls_per_client": options.calls,
        "rounds": options.rounds,
        "pause_s": options.pause,
        "settings": options.env,
        "bridge": options.bridge,
        "calls": len(results),
        "all": stats(None),
        "success": stats("success"),
        "busy": stats("busy"),
        "round_wall_s": walls,
        "containers_left": len(left),
        "failures": problems,
    }
    lines = [
        f"{options.clients} clients x {options.calls} calls at once, {options.rounds} round(s), "
        f"settings {options.env or 'default'}",
        f"{'result':<10}{'count':>7}{'p50 s':>9}{'p95 s':>9}{'max s':>9}",
    ]
    for kind in ("success", "busy", "all"):
        row = report[kind if kind != "all" else "all"]
        lines.append(
            f"{kind:<10}{row['count']:>7}{fmt(row['p50_s']):>9}{fmt(row['p95_s']):>9}{fmt(row['max_s']):>9}"
        )
    lines.append(f"round wall times s: {', '.join(f'{w:.1f}' for w in walls)}; containers left: {len(left)}")
    lines.append(f"failures: {len(problems) or 'none'}")
    lines += [f"  {problem}" for problem in problems[:20]]
    print("\n".join(lines), flush=True)
    if options.json:
        with open(options.json, "w") as f:
            json.dump(report, f, indent=2)
    if problems:
        log(f"bridge log kept in {tmp}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


async def load_call(client, marker, pause, results):
    started = time.monotonic()
    kind, problem = "other", None
    try:
        with anyio.fail_after(CALL_BOUND):
            result = await client.call_tool("run_python", {"code": load_code(marker, pause), "timeout": 60})
        payload = result.structured_content or {}
        if payload.get("status") == "success":
            kind = "success"
            want = [f"{marker} {k}" for k in range(LOAD_LINES)]
            if payload.get("stdout") != want or payload.get("stderr"):
                problem = (
                    f"{marker}: mixed or wrong output {payload.get('stdout')!r} {payload.get('stderr')!r}"
                )
        else:
            error = payload.get("error") or ""
            if (
                payload.get("status") == "error"
                and error.startswith("busy: all ")
                and "(MCP_BRIDGE_MAX_CONCURRENCY)" in error
                and "(MCP_BRIDGE_QUEUE_WAIT)" in error
                and not payload.get("stdout")
            ):
                kind = "busy"
            else:
                problem = f"{marker}: neither its output nor the busy error: {json.dumps(payload)[:300]}"
    except TimeoutError:
        problem = f"{marker}: no result within {CALL_BOUND:.0f} s (a hang)"
    except Exception as error:  # noqa: BLE001 - any failure of a call is a finding
        problem = f"{marker}: the call failed: {type(error).__name__}: {error}"
    results.append((kind, time.monotonic() - started, problem))


# ----------------------------------------------------------------------------------------------------- main
