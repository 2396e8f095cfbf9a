"""The nine kinds of soak run: the code each sends, and what must come back."""

from dataclasses import dataclass, field

from .common import DENY_REASON

KINDS = [
    "success",
    "exception",
    "timeout",
    "memory",
    "fork_bomb",
    "huge_output",
    "tool_calls",
    "policy_denial",
    "cancellation",
]


@dataclass
class Run:
    index: int
    kind: str
    token: str
    arguments: dict
    expect: dict = field(default_factory=dict)
    latency: float | None = None
    removal: float | None = None  # cancellation: seconds from the cancel to the container's removal
    problem: str | None = None
    result: dict | None = None


def make_run(index, kind, rng):
    token = f"soak-{index}-{rng.randrange(16**8):08x}"
    expect = {}
    if kind == "success":
        n = rng.randrange(1000, 100000)
        code = f"for k in range(3):\n    print('{token}', k)\nprint(sum(range({n})))\n"
        expect["stdout"] = [f"{token} {k}" for k in range(3)] + [str(sum(range(n)))]
        arguments = {"code": code}
    elif kind == "exception":
        code = f"print('before {token}')\ndef f():\n    raise ValueError('{token}')\nf()\n"
        arguments = {"code": code}
    elif kind == "timeout":
        seconds = 1 + index % 2
        # Half spin the CPU, half sleep: both are killed at the deadline.
        body = "pass" if index % 4 < 2 else "time.sleep(0.05)"
        code = f"import time\nprint('looping {token}', flush=True)\nwhile True:\n    {body}\n"
        expect["seconds"] = seconds
        arguments = {"code": code, "timeout": seconds}
    elif kind == "memory":
        grab = "b = bytearray(1 << 30)" if index % 2 else "b = [b'x' * (1 << 24) for _ in range(64)]"
        code = f"print('allocating {token}', flush=True)\n{grab}\nprint('ESCAPED {token}')\n"
        arguments = {"code": code}
    elif kind == "fork_bomb":
        code = (
            "import os, time\nn = 0\ntry:\n    for _ in range(400):\n        if os.fork() == 0:\n"
            "            time.sleep(1)\n            os._exit(0)\n        n += 1\n"
            f"    print('ESCAPED {token}', n)\n"
            f"except OSError as e:\n    print('BLOCKED {token} after', n, e.errno, e.strerror)\n"
        )
        arguments = {"code": code}
    elif kind == "huge_output":
        lines = 20000 + rng.randrange(5000)
        code = (
            f"import sys\nfor i in range({lines}):\n"
            f"    sys.stdout.write(f'{token} {{i:06d}} ' + 'y' * 80 + '\\n')\n"
        )
        expect["lines"] = lines
        arguments = {"code": code}
    elif kind == "tool_calls":
        a, b = rng.randrange(1000), rng.randrange(1000)
        code = (
            f"r = await mcp_stub.echo(text='{token}')\ns = await mcp_stub.add(a={a}, b={b})\n"
            "print(r.text, s.data['sum'])\n"
        )
        expect["stdout"] = [f"{token} {a + b}"]
        arguments = {"code": code, "servers": ["stub"]}
    elif kind == "policy_denial":
        code = (
            "try:\n    await mcp_stub.crash()\n    print('NOT DENIED')\n"
            f"except runtime.PolicyDenied as exc:\n    print('denied {token}:', exc)\n"
            f"print('after {token}')\n"
        )
        arguments = {"code": code, "servers": ["stub"]}
    elif kind == "cancellation":
        # The echo puts the token and the container's hostname (its id's first 12 characters) into the audit
        # log, where the soak sees that the run has started and which container must go.
        code = (
            "import socket, time\n"
            f"await mcp_stub.echo(text='cancel {token} ' + socket.gethostname())\n"
            "time.sleep(60)\nprint('NOT CANCELLED')\n"
        )
        arguments = {"code": code, "servers": ["stub"], "timeout": 90}
    else:
        raise ValueError(kind)
    return Run(index, kind, token, arguments, expect)


def fits(line, template):
    """Whether `line` is `template` with a digit wherever it has `#`."""
    return len(line) == len(template) and all(
        c == t or (t == "#" and c.isdigit()) for c, t in zip(line, template, strict=True)
    )


def check(run, payload):
    """What is wrong with `payload` as the result of `run`, or None."""
    status = payload.get("status")
    stdout = payload.get("stdout") or []
    stderr = payload.get("stderr") or []
    error = payload.get("error") or ""
    token = run.token
    if run.kind == "success":
        if status != "success" or payload.get("exitCode") != 0:
            return f"expected success, got {status} (exit {payload.get('exitCode')})"
        if stdout != run.expect["stdout"]:
            return f"stdout {stdout!r} != {run.expect['stdout']!r}"
    elif run.kind == "exception":
        if status != "error" or payload.get("exitCode") != 1:
            return f"expected error with exit 1, got {status} (exit {payload.get('exitCode')})"
        if stdout != [f"before {token}"]:
            return f"the output before the exception was not kept: {stdout!r}"
        if (
            not stderr
            or stderr[0] != "Traceback (most recent call last):"
            or stderr[-1] != f"ValueError: {token}"
        ):
            return f"no traceback naming the exception: {stderr!r}"
    elif run.kind == "timeout":
        seconds = run.expect["seconds"]
        if status != "timeout" or payload.get("timeoutSeconds") != seconds:
            return f"expected a timeout after {seconds} s, got {status} ({payload.get('timeoutSeconds')})"
        if run.latency < seconds or run.latency > seconds + 15:
            return f"a {seconds} s timeout took {run.latency:.1f} s"
    elif run.kind == "memory":
        if status != "error" or payload.get("exitCode") != 137:
            return f"expected error with exit 137, got {status} (exit {payload.get('exitCode')})"
        if "memory limit" not in error or "MCP_BRIDGE_MEMORY" not in error:
            return f"the error does not name the memory limit: {error!r}"
        if f"ESCAPED {token}" in stdout:
            return "the allocation succeeded"
        if f"allocating {token}" not in stdout:
            return f"the output before the kill was lost: {stdout!r}"
    elif run.kind == "fork_bomb":
        if status == "success":
            line = stdout[0] if len(stdout) == 1 else ""
            prefix = f"BLOCKED {token} after "
            if not (line.startswith(prefix) and line.endswith(" 11 Resource temporarily unavailable")):
                return f"expected EAGAIN from the pids limit, got {stdout!r}"
            forked = int(line[len(prefix) :].split()[0])
            if not 50 <= forked <= 128:
                return f"forked {forked} processes, expected about 125 (the pids limit)"
        elif status == "error":
            if "memory limit" not in error:
                return f"expected EAGAIN or the memory limit, got the error {error!r}"
        else:
            return f"expected EAGAIN or the memory limit, got {status}"
    elif run.kind == "huge_output":
        if status != "success":
            return f"expected success, got {status}: {error!r}"
        last = run.expect["lines"] - 1
        markers = [line for line in stdout if line.startswith("[mcp-bridge: ")]
        if not stdout or not stdout[0].startswith(f"{token} 000000 "):
            return f"the head was not kept: {stdout[:1]!r}"
        if not stdout[-1].startswith(f"{token} {last:06d} "):
            return f"the tail was not kept: {stdout[-1:]!r}"
        if (
            len(markers) != 1
            or "bytes of stdout cut here" not in markers[0]
            or "MCP_BRIDGE_MAX_OUTPUT" not in markers[0]
        ):
            return f"expected one cut marker naming MCP_BRIDGE_MAX_OUTPUT, got {markers!r}"
        # The cut is by bytes: the line before the marker may be a line's start, the one after it its end.
        template = f"{token} ###### " + "y" * 80
        cut = stdout.index(markers[0])
        head, tail = stdout[:cut], stdout[cut + 1 :]
        if head and len(head[-1]) < len(template) and fits(head[-1], template[: len(head[-1])]):
            head = head[:-1]
        if tail and len(tail[0]) < len(template) and fits(tail[0], template[len(template) - len(tail[0]) :]):
            tail = tail[1:]
        for line in head + tail:
            if not fits(line, template):
                return f"a line that is not this run's: {line[:100]!r}"
        numbers = [int(line.split()[1]) for line in head + tail]
        if numbers != list(range(len(head))) + list(range(last - len(tail) + 1, last + 1)):
            return "the kept lines are not the head and the tail in order"
    elif run.kind == "tool_calls":
        if status != "success" or stdout != run.expect["stdout"]:
            return f"expected {run.expect['stdout']!r}, got {status} {stdout!r} {stderr[-3:]!r}"
    elif run.kind == "policy_denial":
        if status != "success" or len(stdout) != 2:
            return f"expected the denial caught and the run going on, got {status} {stdout!r} {stderr[-3:]!r}"
        if not (
            stdout[0].startswith(f"denied {token}:")
            and "denied by policy 'rules'" in stdout[0]
            and DENY_REASON in stdout[0]
        ):
            return f"the denial does not name the policy and its reason: {stdout[0]!r}"
        if stdout[1] != f"after {token}":
            return f"the run did not go on: {stdout!r}"
    return None
