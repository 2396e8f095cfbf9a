"""Paths, statistics, and what the bridge process and its containers look like from outside."""

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import anyio

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STUB = os.path.join(ROOT, "tests", "stub", "stub_mcp_server.py")


MEMORY = "256m"
DENY_REASON = "soak: crash is denied"
BRIDGE_CONFIG = f"""
[audit]
max-bytes = 4294967296
log-arguments = true

[plugins.rules]
enabled = true
[plugins.rules.config]
default = "allow"
rules = [{{ server = "stub", tool = "crash", action = "deny", reason = "{DENY_REASON}" }}]
"""
# A call that has not answered by then is a hang, and a failure.
CALL_BOUND = 120.0
# How long a cancelled run's container may take to be removed.
REMOVAL_BOUND = 20.0
# How long the bridge may take to exit after its stdin closes.
EXIT_BOUND = 30.0


def fmt(value, spec=".2f"):
    return "-" if value is None else format(value, spec)


def log(message):
    print(f"soak: {message}", file=sys.stderr, flush=True)


def percentile(values, p):
    """Nearest-rank percentile (`p` in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def median(values):
    return statistics.median(values) if values else None


# ------------------------------------------------------------------------------------------------ processes


def proc_stat(pid):
    """(ppid, pgid, start time) of `pid`, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[2]), int(fields[19])


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def descendants(root):
    """{pid: start time} of every live descendant of `root`."""
    children = {}
    starts = {}
    for pid in all_pids():
        stat = proc_stat(pid)
        if stat:
            children.setdefault(stat[0], []).append(pid)
            starts[pid] = stat[2]
    found, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


# --------------------------------------------------------------------------------------------------- docker


async def containers_of(pid):
    """[(id, state)] of the containers whose owner label names the bridge process `pid`."""
    result = await anyio.run_process(
        [
            "docker",
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            "label=mcp-bridge",
            "--format",
            '{{.ID}} {{.State}} {{.Label "mcp-bridge.owner"}}',
        ],
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"docker ps failed: {result.stderr.decode(errors='replace').strip()}")
    found = []
    for line in result.stdout.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and f"/{pid}/" in parts[2]:
            found.append((parts[0], parts[1]))
    return found


async def container_exists(prefix):
    """Whether a container whose id starts with `prefix` exists (any state)."""
    result = await anyio.run_process(["docker", "ps", "-aq", "--no-trunc", "--filter", f"id={prefix}"])
    return any(line.startswith(prefix) for line in result.stdout.decode().split())


def docker_remove(ids):
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)


# ------------------------------------------------------------------------------------------------- the runs


class Sampler:
    """The bridge's RSS, open fds, descendants and containers, sampled while the runs go on."""

    def __init__(self, pid):
        self.pid = pid
        self.samples = []  # (t, runs done, rss KiB, fds, children)
        self.containers = []  # (t, count)
        self.seen_processes = {}  # pid -> (start time, cmdline)

    async def sample_processes(self, progress, interval):
        while True:
            found = descendants(self.pid)
            for pid, start in found.items():
                if pid not in self.seen_processes:
                    self.seen_processes[pid] = (start, cmdline(pid))
            rss, fds = rss_kib(self.pid), fd_count(self.pid)
            if rss is not None and fds is not None:
                self.samples.append((time.monotonic(), progress["done"], rss, fds, len(found)))
            await anyio.sleep(interval)

    async def sample_containers(self, interval):
        while True:
            try:
                self.containers.append((time.monotonic(), len(await containers_of(self.pid))))
            except RuntimeError as error:
                log(str(error))
            await anyio.sleep(interval)


def flatness(values, tolerance):
    """(after warm-up, end, flat?): medians of the second and the last quarter of `values`."""
    quarter = len(values) // 4
    if quarter < 2:
        return None, None, True
    warm = median(values[quarter : 2 * quarter])
    end = median(values[3 * quarter :])
    return warm, end, end <= warm + tolerance(warm)


def scratch(prefix):
    """A scratch directory with a home, and a copy of the stub whose path names this soak."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.makedirs(os.path.join(tmp, "home"))
    stub = os.path.join(tmp, "stub_mcp_server.py")
    shutil.copy(STUB, stub)
    servers = {"mcpServers": {"stub": {"command": sys.executable, "args": [stub]}}}
    with open(os.path.join(tmp, "servers.json"), "w") as f:
        json.dump(servers, f)
    with open(os.path.join(tmp, "bridge.toml"), "w") as f:
        f.write(BRIDGE_CONFIG)
    env = {
        "HOME": os.path.join(tmp, "home"),
        "MCP_SERVERS_CONFIG": os.path.join(tmp, "servers.json"),
        "MCP_BRIDGE_CONFIG": os.path.join(tmp, "bridge.toml"),
        "MCP_BRIDGE_STATE_DIR": os.path.join(tmp, "state"),
        "MCP_BRIDGE_CACHE_DIR": os.path.join(tmp, "cache"),
        "MCP_BRIDGE_IMAGE": os.environ.get("MCP_BRIDGE_IMAGE") or "mcp-bridge/sandbox:bookworm",
        "MCP_BRIDGE_LOG_LEVEL": "warn",
    }
    for name in ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return tmp, env


def bridge_pid_of(executable):
    """The `bridge` child of this process (the SDK started it)."""
    me = os.getpid()
    for pid in all_pids():
        stat = proc_stat(pid)
        if stat and stat[0] == me:
            try:
                if os.path.realpath(f"/proc/{pid}/exe") == executable:
                    return pid
            except OSError:
                continue
    return None
