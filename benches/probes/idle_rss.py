"""Resident memory of an idle `bridge serve` with a full pool, and where it lives.

    python3 benches/probes/idle_rss.py              # target/release/bridge, 3 starts
    BRIDGE=target/dist/bridge python3 benches/probes/idle_rss.py 5

Each start: `bridge serve` with a pool of 2, `initialize` and `tools/list` answered, both warm containers
running, then VmRSS read 6 s later (what the speed bench's idle row reads), with /proc/<pid>/smaps_rollup's
split into the executable's own pages, other files and anonymous memory. Needs the engine, the release bridge
and `MCP_BRIDGE_IMAGE` (default mcp-bridge/sandbox:bookworm). See BENCHMARKS.md.
"""

import statistics
import sys
import time

from cpu_per_run import BINARY, _Bridge, _wait_for_warm

POOL = 2
SETTLE_SECONDS = 6


def _status_kib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def _executable_kib(pid):
    """Resident KiB of the mappings of the bridge executable itself (its code and read-only data)."""
    total, in_binary = 0, False
    for line in open(f"/proc/{pid}/smaps"):
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:
            in_binary = len(fields) == 6 and fields[5].endswith("/bridge")
        elif fields[0] == "Rss:" and in_binary:
            total += int(fields[1])
    return total


def one_start():
    client = _Bridge(pool=POOL)
    try:
        client._request("tools/list", {})
        _wait_for_warm(POOL)
        time.sleep(SETTLE_SECONDS)
        pid = client._process.pid
        rss = _status_kib(pid, "VmRSS")
        anon = _status_kib(pid, "RssAnon")
        executable = _executable_kib(pid)
        other = rss - anon - executable
        print(
            f"VmRSS {rss / 1024:.1f} MiB ({rss * 1024 / 1e6:.1f} MB): binary {executable / 1024:.1f} MiB, "
            f"other files {other / 1024:.1f} MiB, anonymous {anon / 1024:.1f} MiB"
        )
        return rss
    finally:
        client.close()


if __name__ == "__main__":
    starts = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"{BINARY}, pool of {POOL}")
    sizes = [one_start() for _ in range(starts)]
    median = statistics.median(sizes)
    print(f"median VmRSS over {starts} starts: {median / 1024:.1f} MiB ({median * 1024 / 1e6:.1f} MB)")
