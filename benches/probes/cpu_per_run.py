"""CPU the whole machine spends per fresh run: through a pool, and for the engine's own floor.

    python3 benches/probes/cpu_per_run.py bridge 30   # print(1) through `bridge serve`, pool = limit = 2
    python3 benches/probes/cpu_per_run.py floor 30    # create → start → wait → remove, the same hardening
    python3 benches/probes/cpu_per_run.py boot        # CPU of one warm container once it said `ready`

Busy CPU comes from /proc/stat (all cores; idle and iowait excluded) over the timed stretch, divided by the
runs finished in it; dockerd, containerd and the bridge are also shown by themselves. The floor's containers
are created from the body of a warm pool container (inspected) with `python3 -c "print(1)"` as their command:
its seccomp profile, limits and flags are the bridge's. The boot figure reads the container's cgroup (v2
`cpu.stat` under /sys/fs/cgroup/unified or /sys/fs/cgroup). Needs root, the release bridge
(`cargo build --release --bin bridge`) and `MCP_BRIDGE_IMAGE` (default mcp-bridge/sandbox:bookworm).
See BENCHMARKS.md.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("BRIDGE", str(ROOT / "target" / "release" / "bridge"))
IMAGE = os.environ.get("MCP_BRIDGE_IMAGE", "mcp-bridge/sandbox:bookworm")
HZ = os.sysconf("SC_CLK_TCK")
CONCURRENCY = 2
LONG_LIVED = ("dockerd", "containerd", "bridge")
# The label on every container the bridge creates (src/sandbox/container.rs).
LABEL = "mcp-bridge"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path="/var/run/docker.sock"):
        super().__init__("localhost")
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


def _docker(method, url, body=None):
    connection = _UnixConnection()
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, url, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {url}: {response.status} {raw[:300]!r}")
        return json.loads(raw) if raw else None
    finally:
        connection.close()


def _busy_seconds():
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / HZ


def _process_seconds():
    totals = dict.fromkeys(LONG_LIVED, 0.0)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            name = open(f"/proc/{pid}/comm").read().strip()
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if name in totals:
            totals[name] += (int(stat[11]) + int(stat[12])) / HZ
    return totals


class _Bridge:
    """`bridge serve` with a pool, driven over stdio by a minimal MCP client (requests may overlap)."""

    def __init__(self, pool):
        env = dict(os.environ, MCP_BRIDGE_POOL_SIZE=str(pool), MCP_BRIDGE_MAX_CONCURRENCY=str(pool))
        env["MCP_BRIDGE_IMAGE"] = IMAGE
        self._process = subprocess.Popen(
            [BINARY, "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._lock = threading.Lock()
        self._waiting = {}
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        self._request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "probe", "version": "1"},
            },
        )
        self._write({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _write(self, message):
        self._process.stdin.write((json.dumps(message) + "\n").encode())
        self._process.stdin.flush()

    def _read(self):
        for line in self._process.stdout:
            message = json.loads(line)
            waiter = self._waiting.pop(message.get("id"), None)
            if waiter is not None:
                waiter[1] = message
                waiter[0].set()

    def _request(self, method, params):
        waiter = [threading.Event(), None]
        with self._lock:
            self._next_id += 1
            self._waiting[self._next_id] = waiter
            self._write({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        waiter[0].wait()
        return waiter[1]

    def run_print_1(self):
        reply = self._request("tools/call", {"name": "run_python", "arguments": {"code": "print(1)"}})
        result = reply.get("result") or {}
        if result.get("isError") or (result.get("structuredContent") or {}).get("stdout") != ["1"]:
            raise RuntimeError(f"unexpected result: {reply}")

    def close(self):
        self._process.stdin.close()
        self._process.wait()


def _warm_containers():
    filters = urllib.parse.quote(json.dumps({"label": [LABEL]}))
    found = _docker("GET", f"/containers/json?filters={filters}")
    # Warm ones only (src/sandbox/start.rs names them), not a used one on its way out.
    return [c["Id"] for c in found if any(name.startswith("/mcp-bridge-warm-") for name in c["Names"])]


def _wait_for_warm(count, seconds=60, besides=()):
    """The ids of ``count`` warm containers, once there are that many not in ``besides`` (used ones on their
    way out keep their names for a moment)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ids = [found for found in _warm_containers() if found not in besides]
        if len(ids) >= count:
            time.sleep(1)  # their runtimes say `ready` within a second of running
            return ids
        time.sleep(0.2)
    raise RuntimeError("the pool did not fill")


def _timed(one_run, seconds):
    before_busy, before_processes, started = _busy_seconds(), _process_seconds(), time.monotonic()
    finished = [0]
    end = started + seconds

    def worker():
        while time.monotonic() < end:
            one_run()
            finished[0] += 1

    workers = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - started
    busy, processes, runs = _busy_seconds() - before_busy, _process_seconds(), finished[0]
    rate = runs / elapsed
    print(f"{runs} runs in {elapsed:.1f} s = {rate:.2f}/s; busy CPU {busy / runs * 1000:.0f} ms per run")
    for name in LONG_LIVED:
        print(f"  {name}: {(processes[name] - before_processes[name]) / runs * 1000:.1f} ms per run")


def _floor_body():
    bridge = _Bridge(pool=1)
    try:
        warm = _wait_for_warm(1)[0]
        inspected = _docker("GET", f"/containers/{warm}/json")
    finally:
        bridge.close()
    config = inspected["Config"]
    return {
        "Image": config["Image"],
        "Cmd": ["python3", "-c", "print(1)"],
        "Entrypoint": None,
        "User": config["User"],
        "Env": config["Env"],
        "WorkingDir": config.get("WorkingDir"),
        "NetworkDisabled": config.get("NetworkDisabled"),
        "Labels": {"mcp-bridge-bench": "1"},
        "HostConfig": inspected["HostConfig"],
    }


def floor(seconds):
    body = _floor_body()

    def one_run():
        container = _docker("POST", "/containers/create", body)["Id"]
        _docker("POST", f"/containers/{container}/start")
        _docker("POST", f"/containers/{container}/wait")
        _docker("DELETE", f"/containers/{container}?force=true&v=true")

    one_run()
    _timed(one_run, seconds)


def bridge(seconds):
    client = _Bridge(pool=CONCURRENCY)
    try:
        _wait_for_warm(CONCURRENCY)
        client.run_print_1()
        _timed(client.run_print_1, seconds)
    finally:
        client.close()


def _boot_cpu_ms(container):
    """CPU the container's cgroup has used so far, in ms; None on a cgroup v1 host."""
    for root in ("/sys/fs/cgroup/unified/docker", "/sys/fs/cgroup/system.slice", "/sys/fs/cgroup/docker"):
        for name in (container, f"docker-{container}.scope"):
            stat = Path(root, name, "cpu.stat")
            if stat.exists():
                return int(stat.read_text().split()[1]) / 1000
    return None


def boot(rounds=6):
    """Every warm container of a pool of two over ``rounds`` refills; the median leaves out the first two,
    started with the bridge itself while it was still busy starting up."""
    client = _Bridge(pool=CONCURRENCY)
    seen, later = set(), []
    try:
        for round_number in range(rounds):
            for container in _wait_for_warm(CONCURRENCY, besides=seen):
                seen.add(container)
                usage = _boot_cpu_ms(container)
                if usage is None:
                    print(f"warm container {container[:12]}: no cgroup v2 cpu.stat found (cgroup v1 host?)")
                    continue
                print(f"warm container {container[:12]}: {usage:.1f} ms of CPU to `ready`")
                if round_number > 0:
                    later.append(usage)
            for _ in range(CONCURRENCY):
                client.run_print_1()
    finally:
        client.close()
    if later:
        later.sort()
        print(f"after the first refill: median {later[len(later) // 2]:.1f} ms over {len(later)} containers")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "boot":
        boot()
    elif mode in ("bridge", "floor"):
        {"bridge": bridge, "floor": floor}[mode](float(sys.argv[2]) if len(sys.argv) > 2 else 30)
    else:
        sys.exit(__doc__)
