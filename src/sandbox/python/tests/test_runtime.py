"""End-to-end tests of bootstrap.py + mcp_bridge_runtime: each test runs the real files in a subprocess.

The boot frame is built exactly like the Rust side builds it (PROTOCOL.md §1) and every line the subprocess
writes to stdout is checked against the frame rules (PROTOCOL.md §2).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
from dataclasses import dataclass
from pathlib import Path

PY_DIR = Path(__file__).resolve().parent.parent
# (module name, file, package): the same table the Rust side embeds.
MODULE_TABLE = (
    ("mcp_bridge_runtime", "mcp_bridge_runtime.py", False),
    ("mcp_bridge_relay", "mcp_bridge_relay.py", False),
    ("mcp", "mcp/__init__.py", True),
    ("mcp.runtime", "mcp/runtime.py", False),
    ("mcp._rpc", "mcp/_rpc.py", False),
    ("mcp._tools", "mcp/_tools.py", False),
    ("mcp._files", "mcp/_files.py", False),
    ("mcp._saved_tools", "mcp/_saved_tools.py", False),
    ("mcp.user_tools", "mcp/user_tools.py", False),
    ("mcp.servers", "mcp/servers/__init__.py", True),
)
DEFAULT_MAX_FRAME = 4 * 1024 * 1024
MANUAL = (PY_DIR / "MANUAL.md").read_text(encoding="utf-8")
BOOTSTRAP = (PY_DIR / "bootstrap.py").read_text(encoding="utf-8")


BOOT_FIELDS = ("max_frame", "manual")


def boot_body(**fields):
    """The boot frame's JSON body (bytes); keyword arguments set ``max_frame`` and ``manual``."""
    modules = {
        name: {"source": (PY_DIR / path).read_text(encoding="utf-8"), "package": package}
        for name, path, package in MODULE_TABLE
    }
    boot = {"v": 5, "modules": modules, "entry": "mcp_bridge_runtime", "max_frame": DEFAULT_MAX_FRAME}
    boot.update(fields)
    return json.dumps(boot).encode("utf-8")


def run_body(code, **fields):
    """The run frame's JSON body (bytes) for ``code``; keyword arguments override its fields."""
    run = {"id": "r-test", "code": code, "servers": [], "timeout": 30}
    run.update(fields)
    return json.dumps(run).encode("utf-8")


def with_header(body):
    """Prefix a frame body with its 12-digit length header."""
    return b"%012d" % len(body) + body


def payload_for(code, **fields):
    """stdin of a cold start: the boot frame, then the run frame (``fields`` go where they belong)."""
    boot = {key: value for key, value in fields.items() if key in BOOT_FIELDS}
    run = {key: value for key, value in fields.items() if key not in BOOT_FIELDS}
    return with_header(boot_body(**boot)) + with_header(run_body(code, **run))


def _reject_duplicate_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate key in frame: {keys}")
    return dict(pairs)


@dataclass
class Result:
    """What one sandbox run produced, as the host would see it."""

    stdout: str
    stderr: str
    exit: int | None
    frames: list
    lines: list
    returncode: int
    raw_stderr: bytes
    elapsed: float


def parse_frames(raw, max_frame):
    """Split container stdout into frames, asserting the host's rules; returns (frames, raw lines)."""
    text = raw.decode("utf-8")  # strict: invalid UTF-8 is a protocol error
    lines = text.split("\n")
    if lines[-1] != "":
        raise AssertionError(f"output does not end with a newline: {lines[-1][:200]!r}")
    lines = lines[:-1]
    frames = []
    for line in lines:
        size = len(line.encode("utf-8")) + 1
        if size > max_frame:
            raise AssertionError(f"frame of {size} bytes exceeds max_frame {max_frame}")
        frame = json.loads(line, object_pairs_hook=_reject_duplicate_keys)
        if not isinstance(frame, dict) or frame.get("t") not in ("ready", "started", "out", "rpc", "done"):
            raise AssertionError(f"not a known frame: {line[:200]!r}")
        if frame["t"] == "out":
            if frame.get("s") not in ("stdout", "stderr") or not isinstance(frame.get("d"), str):
                raise AssertionError(f"bad out frame: {line[:200]!r}")
        if frame["t"] == "done" and not isinstance(frame.get("exit"), int):
            raise AssertionError(f"bad done frame: {line!r}")
        frames.append(frame)
    return frames, lines


def _serve(proc, payload, host, timeout):
    """Act as the host: send ``payload``, answer each rpc frame with ``host.answer`` until the done frame."""
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    errors = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    reader.start()
    out = bytearray()
    try:
        proc.stdin.write(payload)
        proc.stdin.flush()
        for line in iter(proc.stdout.readline, b""):
            out += line
            frame = json.loads(line)
            if frame.get("t") == "rpc":
                reply = {
                    "t": "rpc_result",
                    "id": frame["id"],
                    **host.answer(frame["method"], frame["params"]),
                }
                proc.stdin.write(json.dumps(reply).encode() + b"\n")
                proc.stdin.flush()
            elif frame.get("t") == "done":
                break
    except (BrokenPipeError, ValueError):
        pass  # the process died or wrote a non-frame: parse_frames reports what it sent
    finally:
        proc.stdin.close()
        out += proc.stdout.read()
        proc.wait()
        killer.cancel()
        reader.join()
        proc.stdout.close()
        proc.stderr.close()
    return bytes(out), errors[0] if errors else b""


def run_payload(payload, max_frame=DEFAULT_MAX_FRAME, timeout=30, host=None, cwd=None):
    """Run the bootstrap with ``payload`` on stdin (in ``cwd``) and collect its frames.

    Without ``host`` stdin ends after the payload (every request fails: the channel is closed); with one, the
    test plays the host and answers each request through ``host.answer(method, params)``.
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-I", "-B", "-c", BOOTSTRAP],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if host is not None:
        out, err = _serve(proc, payload, host, timeout)
    else:
        try:
            out, err = proc.communicate(payload, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    elapsed = time.monotonic() - start
    frames, lines = parse_frames(out, max_frame)
    streams = {"stdout": [], "stderr": []}
    for frame in frames:
        if frame["t"] == "out":
            streams[frame["s"]].append(frame["d"])
    done = [frame for frame in frames if frame["t"] == "done"]
    if len(done) > 1 or (done and frames[-1] is not done[0]):
        raise AssertionError(f"done must be the single last frame: {frames!r}")
    return Result(
        stdout="".join(streams["stdout"]),
        stderr="".join(streams["stderr"]),
        exit=done[0]["exit"] if done else None,
        frames=frames,
        lines=lines,
        returncode=proc.returncode,
        raw_stderr=err,
        elapsed=elapsed,
    )


def run_sandbox(code, timeout=30, host=None, cwd=None, **run):
    """Run ``code`` in the sandbox; assert the run ended with a done frame that matches the exit status."""
    max_frame = run.get("max_frame", DEFAULT_MAX_FRAME)
    result = run_payload(payload_for(code, **run), max_frame=max_frame, timeout=timeout, host=host, cwd=cwd)
    if result.exit is None or result.exit != result.returncode:
        raise AssertionError(f"done {result.exit} vs returncode {result.returncode}: {result!r}")
    if [frame["t"] for frame in result.frames[:2]] != ["ready", "started"]:
        raise AssertionError(f"ready and started must come first: {result.frames[:2]!r}")
    if result.raw_stderr:
        raise AssertionError(f"unexpected raw stderr: {result.raw_stderr!r}")
    return result


class OutputTests(unittest.TestCase):
    def test_print_goes_to_stdout(self):
        r = run_sandbox("print('hello')\nprint('héllo ✓ 😀')")
        self.assertEqual((r.stdout, r.stderr, r.exit), ("hello\nhéllo ✓ 😀\n", "", 0))

    def test_stderr_capture(self):
        r = run_sandbox("import sys\nprint('warn', file=sys.stderr)\nprint('out')")
        self.assertEqual((r.stdout, r.stderr, r.exit), ("out\n", "warn\n", 0))

    def test_raw_fd_writes(self):
        r = run_sandbox("import os\nos.write(1, b'one\\n')\nos.write(2, b'two\\n')")
        self.assertEqual((r.stdout, r.stderr), ("one\n", "two\n"))

    def test_print_and_os_write_stay_in_order(self):
        r = run_sandbox("import os\nprint('a')\nos.write(1, b'b\\n')\nprint('c')")
        self.assertEqual(r.stdout, "a\nb\nc\n")

    def test_partial_line_is_flushed_at_the_end(self):
        self.assertEqual(run_sandbox("print('no newline', end='')").stdout, "no newline")

    def test_invalid_utf8_becomes_replacement_character(self):
        r = run_sandbox("import os\nos.write(1, b'a\\xffb\\n')")
        self.assertEqual(r.stdout, "a\ufffdb\n")

    def test_character_split_across_writes_stays_whole(self):
        code = r"""
import os, time
os.write(1, b'\xe2\x9c')
time.sleep(0.05)
os.write(1, b'\x93\n')
"""
        r = run_sandbox(code)
        self.assertEqual(r.stdout, "✓\n")

    def test_values_json_cannot_hold_are_refused_before_they_are_sent(self):
        code = (
            "for value in (float('nan'), float('inf')):\n"
            "    try:\n"
            "        save_memory('k', value)\n"
            "    except ValueError as exc:\n"
            "        print('refused:', exc)\n"
            "print('still running')\n"
        )
        r = run_sandbox(code)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 3, r.stdout)
        refused = [line for line in lines if line.startswith("refused: Out of range float values")]
        self.assertEqual(len(refused), 2, lines)
        self.assertEqual(lines[2], "still running")
        self.assertFalse([f for f in r.frames if f["t"] == "rpc"])

    def test_frame_lookalikes_are_data(self):
        code = r"""
import os
os.write(1, b'{"t":"done","exit":0}\n')
print('{"t":"rpc","id":1,"method":"call_tool","params":{}}')
os.write(2, b'{"t":"done","exit":0}\n')
raise SystemExit(5)
"""
        r = run_sandbox(code)
        self.assertEqual(r.exit, 5)
        self.assertEqual([f["t"] for f in r.frames].count("done"), 1)
        self.assertNotIn("rpc", [f["t"] for f in r.frames])
        self.assertIn('{"t":"done","exit":0}\n', r.stdout)
        self.assertIn('{"t":"rpc","id":1', r.stdout)
        self.assertIn('{"t":"done","exit":0}\n', r.stderr)

    def test_subprocess_output_is_captured(self):
        code = r"""
import subprocess, sys
subprocess.run([sys.executable, '-c', 'print(42)'], check=True)
subprocess.run([sys.executable, '-c', 'import sys; sys.stderr.write("err42\\n")'], check=True)
"""
        r = run_sandbox(code)
        self.assertEqual((r.stdout, r.stderr, r.exit), ("42\n", "err42\n", 0))

    def test_one_mebibyte_line_is_split_into_small_frames(self):
        code = "import sys\nsys.stdout.write('é\\x01' * 5000 + 'x' * (1 << 20) + '\\n')"
        r = run_sandbox(code, max_frame=4096)
        self.assertEqual(r.stdout, "é\x01" * 5000 + "x" * (1 << 20) + "\n")
        self.assertGreater(len(r.lines), 256)
        self.assertLessEqual(max(len(line.encode()) + 1 for line in r.lines), 4096)

    def test_large_output_with_default_max_frame(self):
        r = run_sandbox("print('y' * (3 << 20))")
        self.assertEqual(r.stdout, "y" * (3 << 20) + "\n")

    def test_input_gets_eof(self):
        code = (
            "import os, sys\n"
            "try:\n    input()\nexcept EOFError:\n    print('eof')\n"
            "print(repr(sys.stdin.read()), os.read(0, 10))\n"
        )
        self.assertEqual(run_sandbox(code).stdout, "eof\n'' b''\n")

    def test_only_stdio_fds_are_inheritable(self):
        code = (
            "import os\n"
            "leaked = []\n"
            "for fd in sorted(int(name) for name in os.listdir('/proc/self/fd')):\n"
            "    try:\n"
            "        if fd > 2 and os.get_inheritable(fd):\n"
            "            leaked.append(fd)\n"
            "    except OSError:\n"
            "        pass\n"
            "print(leaked, os.get_inheritable(1), os.get_inheritable(2))\n"
        )
        self.assertEqual(run_sandbox(code).stdout, "[] True True\n")

    def test_replaced_sys_stderr_still_gets_traceback(self):
        r = run_sandbox("import io, sys\nsys.stderr = io.StringIO()\nraise RuntimeError('visible')")
        self.assertEqual(r.exit, 1)
        self.assertIn("RuntimeError: visible", r.stderr)


class ExitTests(unittest.TestCase):
    def test_success_is_zero(self):
        r = run_sandbox("x = 1")
        self.assertEqual((r.stdout, r.stderr, r.exit), ("", "", 0))

    def test_uncaught_exception_traceback_starts_at_user_code(self):
        r = run_sandbox("x = 1\nraise ValueError('boom')\n")
        self.assertEqual(r.exit, 1)
        self.assertTrue(r.stderr.startswith("Traceback (most recent call last):\n"), r.stderr)
        self.assertIn('File "<sandbox>", line 2, in <module>', r.stderr)
        self.assertIn("raise ValueError('boom')", r.stderr)
        self.assertTrue(r.stderr.endswith("ValueError: boom\n"), r.stderr)
        self.assertNotIn("mcp_bridge_runtime", r.stderr)
        self.assertNotIn("asyncio", r.stderr)

    def test_traceback_through_functions_and_await(self):
        code = "import asyncio\nasync def inner():\n    await asyncio.sleep(0)\n    1 / 0\nawait inner()\n"
        r = run_sandbox(code)
        self.assertEqual(r.exit, 1)
        self.assertIn('File "<sandbox>", line 5, in <module>', r.stderr)
        self.assertIn('File "<sandbox>", line 4, in inner', r.stderr)
        self.assertIn("    1 / 0\n", r.stderr)
        self.assertIn("ZeroDivisionError", r.stderr)
        self.assertNotIn("mcp_bridge_runtime", r.stderr)

    def test_system_exit_codes(self):
        cases = [
            ("raise SystemExit(3)", 3, ""),
            ("import sys\nsys.exit()", 0, ""),
            ("import sys\nsys.exit(0)", 0, ""),
            ("import sys\nsys.exit(256)", 0, ""),
            ("import sys\nsys.exit(-1)", 255, ""),
            ("import sys\nsys.exit('msg')", 1, "msg\n"),
        ]
        for code, status, stderr in cases:
            with self.subTest(code=code):
                r = run_sandbox(code)
                self.assertEqual((r.exit, r.stderr), (status, stderr))

    def test_syntax_error(self):
        r = run_sandbox("print('ok')\nprint(\n")
        self.assertEqual((r.stdout, r.exit), ("", 1))
        self.assertIn('File "<sandbox>", line 2', r.stderr)
        self.assertIn("SyntaxError", r.stderr)
        self.assertNotIn("mcp_bridge_runtime", r.stderr)

    def test_keyboard_interrupt(self):
        r = run_sandbox("raise KeyboardInterrupt")
        self.assertEqual(r.exit, 1)
        self.assertIn("KeyboardInterrupt", r.stderr)

    def test_non_daemon_thread_does_not_keep_the_process_alive(self):
        code = """
import threading, time
threading.Thread(target=time.sleep, args=(60,)).start()
print('started')
"""
        r = run_sandbox(code)
        self.assertEqual((r.stdout, r.exit), ("started\n", 0))
        self.assertLess(r.elapsed, 10)

    def test_grandchild_holding_stdout_does_not_hang(self):
        code = """
import subprocess, sys
sleeper = [sys.executable, '-c', 'import time; time.sleep(60)']
p = subprocess.Popen(sleeper, start_new_session=True)
print('pid', p.pid)
"""
        r = run_sandbox(code)
        pid = int(r.stdout.split()[1])
        self.addCleanup(_kill, pid)
        self.assertEqual(r.exit, 0)
        self.assertLess(r.elapsed, 10)

    def test_forked_child_sends_no_frames(self):
        code = (
            "import os, warnings\n"
            "warnings.simplefilter('ignore')\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    print('child')\n"
            "else:\n"
            "    os.waitpid(pid, 0)\n"
            "    print('parent')\n"
        )
        r = run_sandbox(code)
        self.assertEqual((r.stdout, r.exit), ("child\nparent\n", 0))


class RelayTests(unittest.TestCase):
    """The relay (mcp_bridge_relay): the parent that forwards the runner's frames and output."""

    def test_output_written_just_before_a_kill_still_arrives(self):
        code = (
            "import os, signal, sys\n"
            "print('before')\n"
            "sys.stderr.write('also before\\n')\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n"
        )
        r = run_payload(payload_for(code))
        self.assertEqual((r.stdout, r.stderr, r.exit, r.returncode), ("before\n", "also before\n", None, 137))

    def test_the_runner_is_the_one_the_memory_kill_takes(self):
        code = (
            "import os\n"
            "print(open('/proc/self/oom_score_adj').read().strip())\n"
            "print(open(f'/proc/{os.getppid()}/oom_score_adj').read().strip())\n"
        )
        self.assertEqual(run_sandbox(code).stdout, "1000\n0\n")

    def test_the_code_cannot_reach_into_the_relay(self):
        code = (
            "import os\n"
            "for path in (f'/proc/{os.getppid()}/fd', f'/proc/{os.getppid()}/mem'):\n"
            "    try:\n"
            "        os.listdir(path) if path.endswith('fd') else open(path, 'rb').read(1)\n"
            "        print('open', path)\n"
            "    except PermissionError:\n"
            "        print('denied')\n"
            "import ctypes\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "print('attach', libc.ptrace(16, os.getppid(), 0, 0), ctypes.get_errno())\n"
        )
        self.assertEqual(run_sandbox(code).stdout, "denied\ndenied\nattach -1 1\n")

    def test_stray_signals_from_the_code_do_not_end_the_relay(self):
        r = run_sandbox("import os, signal\nos.kill(os.getppid(), signal.SIGINT)\nprint('still here')")
        self.assertEqual((r.stdout, r.exit), ("still here\n", 0))

    def test_a_runner_whose_main_thread_exits_under_live_threads_is_ended(self):
        # SYS_exit ends only the main thread: the runner becomes a zombie leader that never gets waitable.
        code = (
            "import ctypes, threading, time\n"
            "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
            "print('exiting the main thread', flush=True)\n"
            "ctypes.CDLL(None).syscall(60, 0)\n"
        )
        r = run_payload(payload_for(code))
        self.assertEqual((r.stdout, r.exit, r.returncode), ("exiting the main thread\n", None, 137))
        self.assertLess(r.elapsed, 10)

    def test_a_frame_cut_short_by_a_kill_is_never_forwarded(self):
        # The code writes half a frame to the runner's socket and dies: the host must not get half a line.
        code = (
            "import os, signal, socket\n"
            "sock = next(fd for fd in range(3, 64) if _is_socket(fd))\n"
            'os.write(sock, b\'{"t":"out","s":"stdout","d":"half\')\n'
            "os.kill(os.getpid(), signal.SIGKILL)\n"
        )
        helper = (
            "import os, stat\n"
            "def _is_socket(fd):\n"
            "    try:\n"
            "        return stat.S_ISSOCK(os.fstat(fd).st_mode)\n"
            "    except OSError:\n"
            "        return False\n"
        )
        r = run_payload(payload_for(helper + code))
        self.assertEqual((r.stdout, r.exit, r.returncode), ("", None, 137))


class AsyncTests(unittest.TestCase):
    def test_top_level_await(self):
        r = run_sandbox("import asyncio\nawait asyncio.sleep(0)\nprint('ok')")
        self.assertEqual((r.stdout, r.exit), ("ok\n", 0))

    def test_code_without_await_is_a_plain_script_where_asyncio_run_works(self):
        code = "import asyncio\nasync def main():\n    return 42\nprint(asyncio.run(main()))"
        r = run_sandbox(code)
        self.assertEqual((r.stdout, r.exit), ("42\n", 0))

    def test_code_with_await_runs_inside_a_running_loop(self):
        r = run_sandbox(
            "import asyncio\nawait asyncio.sleep(0)\nprint(asyncio.get_running_loop().is_running())"
        )
        self.assertEqual(r.stdout, "True\n")

    def test_leftover_tasks_and_executor_threads_do_not_hang(self):
        code = (
            "import asyncio, time\n"
            "await asyncio.sleep(0)\n"
            "asyncio.get_running_loop().run_in_executor(None, time.sleep, 60)\n"
            "async def stubborn():\n"
            "    while True:\n"
            "        try:\n"
            "            await asyncio.sleep(60)\n"
            "        except asyncio.CancelledError:\n"
            "            pass\n"
            "asyncio.create_task(stubborn())\n"
            "await asyncio.sleep(0)\n"
            "print('end')\n"
        )
        r = run_sandbox(code)
        self.assertEqual((r.stdout, r.exit), ("end\n", 0))
        self.assertLess(r.elapsed, 10)


class NamespaceTests(unittest.TestCase):
    def test_injected_names(self):
        code = (
            "print(sorted(k for k in globals() if not k.startswith('__')))\n"
            "print(__name__, type(mcp_servers).__name__, len(mcp_servers), LOADED_MCP_SERVERS)\n"
            "import sys\nprint(sys.modules['__main__'].__dict__ is globals())\n"
        )
        r = run_sandbox(code)
        self.assertEqual(
            r.stdout,
            "['LOADED_MCP_SERVERS', 'delete_memory', 'delete_saved_tool', 'get_memory_info',"
            " 'list_memories', 'list_saved_tools', 'load_memory', 'mcp', 'mcp_servers', 'memory_exists',"
            " 'runtime', 'save_memory', 'save_tool', 'update_memory']\n"
            "__main__ dict 0 ()\nTrue\n",
        )

    def test_runtime_module_imports(self):
        code = (
            "import mcp.runtime\n"
            "from mcp import runtime as r2\n"
            "import mcp.servers\n"
            "print(runtime is mcp.runtime is r2, mcp.__all__, mcp.servers.__all__)\n"
            "print(runtime.discovered_servers(), runtime.discovered_servers(detailed=True))\n"
            "print(runtime.list_servers_sync(), runtime.list_loaded_server_metadata())\n"
            "print(issubclass(runtime.MCPError, RuntimeError), sorted(runtime.__all__))\n"
            "try:\n    runtime.describe_server('x')\nexcept runtime.MCPError as e:\n    print(e)\n"
        )
        r = run_sandbox(code)
        self.assertEqual(
            r.stdout.splitlines(),
            [
                "True ['runtime', 'servers'] []",
                "() ()",
                "() ()",
                "True ['MCPError', 'PolicyDenied', 'ToolError', 'ToolResult', 'attach', 'call_tool',"
                " 'capability_summary', 'delete_memory', 'delete_saved_tool', 'describe_server',"
                " 'discovered_servers', 'end_session', 'get_memory_info', 'list_loaded_server_metadata',"
                " 'list_memories',"
                " 'list_saved_tools', 'list_servers',"
                " 'list_servers_sync', 'list_tools', 'list_tools_sync', 'load_memory', 'memory_exists',"
                " 'query_tool_docs', 'query_tool_docs_sync', 'save_memory', 'save_tool', 'search_tool_docs',"
                " 'search_tool_docs_sync', 'session_name', 'show', 'update_memory']",
                "Server 'x' is not loaded (loaded: none)",
            ],
        )

    def test_capability_summary_returns_the_host_manual(self):
        r = run_sandbox("print(runtime.capability_summary(), end='')", manual=MANUAL)
        self.assertEqual(r.stdout, MANUAL)
        self.assertTrue(MANUAL.startswith("# Code Execution MCP Capabilities\n"))

    def test_capability_summary_fallback(self):
        r = run_sandbox("print(runtime.capability_summary())")
        self.assertTrue(r.stdout.startswith("--- PYTHON SANDBOX MANUAL ---\n"), r.stdout)

    def test_inspect_getsource_sees_user_code(self):
        code = "import inspect\ndef f():\n    return 1\nprint(inspect.getsource(f), end='')"
        self.assertEqual(run_sandbox(code).stdout, "def f():\n    return 1\n")


class BootTests(unittest.TestCase):
    def test_truncated_boot_frame_exits_70(self):
        body = boot_body()
        r = run_payload(b"%012d" % len(body) + body[:100])
        self.assertEqual((r.returncode, r.frames), (70, []))

    def test_a_warm_runtime_says_ready_and_waits_for_its_run(self):
        # The host plays the pool: boot frame, wait for ready, then the run frame.
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", BOOTSTRAP],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            proc.stdin.write(with_header(boot_body()))
            proc.stdin.flush()
            self.assertEqual(json.loads(proc.stdout.readline()), {"t": "ready"})
            time.sleep(0.2)
            self.assertIsNone(proc.poll(), "it waits for the run frame")
            proc.stdin.write(with_header(run_body("print('warm')")))
            proc.stdin.close()
            frames = [json.loads(line) for line in proc.stdout.read().splitlines()]
            proc.wait(timeout=30)
        finally:
            proc.kill()
            proc.stdout.close()
            proc.stderr.close()
        self.assertEqual(frames[0], {"t": "started"})
        self.assertIn({"t": "out", "s": "stdout", "d": "warm\n"}, frames)
        self.assertEqual(frames[-1], {"t": "done", "exit": 0})

    def test_after_done_the_runtime_exits_with_its_status_once_stdin_closes(self):
        # Exiting at once would start the container's teardown while `done` is on its way to the host.
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", BOOTSTRAP],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            proc.stdin.write(with_header(boot_body()) + with_header(run_body("raise SystemExit(3)")))
            proc.stdin.flush()
            frames = []
            for line in iter(proc.stdout.readline, b""):
                frames.append(json.loads(line))
                if frames[-1]["t"] == "done":
                    break
            time.sleep(0.3)
            self.assertIsNone(proc.poll(), "it waits for the host to let go")
            proc.stdin.close()
            self.assertEqual(proc.wait(timeout=30), 3)
        finally:
            proc.kill()
            proc.stdout.close()
            proc.stderr.close()
        self.assertEqual(frames[-1], {"t": "done", "exit": 3})

    def test_a_warm_runtime_let_go_exits_70_without_running_anything(self):
        r = run_payload(with_header(boot_body()))
        self.assertEqual((r.returncode, [f["t"] for f in r.frames]), (70, ["ready"]))

    def test_runtime_error_still_sends_done(self):
        body = json.loads(run_body("print(1)"))
        del body["code"]
        r = run_payload(with_header(boot_body()) + with_header(json.dumps(body).encode()))
        self.assertEqual((r.exit, r.returncode), (1, 1))
        self.assertIn("mcp-bridge sandbox runtime error", r.stderr)
        self.assertIn("KeyError", r.stderr)

    def test_a_run_imports_none_of_the_heavy_modules(self):
        # re, enum-heavy socket and signal, tokenize, ctypes...: tens of ms of CPU in every container, paid
        # only by code that uses them.
        heavy = (
            "array",
            "collections",
            "ctypes",
            "enum",
            "functools",
            "json",
            "linecache",
            "queue",
            "re",
            "signal",
            "socket",
            "threading",
            "tokenize",
            "traceback",
        )
        code = f"import sys\nprint(sorted(m for m in {heavy!r} if m in sys.modules))"
        self.assertEqual(run_sandbox(code).stdout, "[]\n")

    def test_the_code_is_in_linecache_once_the_code_imports_it(self):
        # linecache is imported late (by the code here): the lines of the code compiled before reach it.
        code = (
            "import linecache, traceback\n"
            "def f():\n"
            "    raise KeyError('k')\n"
            "try:\n"
            "    f()\n"
            "except KeyError:\n"
            "    print(traceback.format_exc())\n"
            "print(linecache.getline('<sandbox>', 2), end='')\n"
        )
        r = run_sandbox(code)
        self.assertIn("    raise KeyError('k')\n", r.stdout)
        self.assertIn("    f()\n", r.stdout)
        self.assertTrue(r.stdout.endswith("def f():\n"), r.stdout)


class FrameCodecTests(unittest.TestCase):
    """mcp_bridge_relay's JSON (json's C half, without the json module): what json.dumps / json.loads give."""

    VALUES = (
        {"t": "out", "s": "stdout", "d": 'é ✓ \n\t"\\ \x00 \u2028'},
        [1, -2, 3.5, 1e300, 10**30, True, False, None, "", [], {}],
        {"nested": [{"a": [[{}]]}], "1": 2},
        "text",
        0,
    )

    def setUp(self):
        sys.path.insert(0, str(PY_DIR))
        self.addCleanup(sys.path.remove, str(PY_DIR))
        import mcp_bridge_relay

        self.relay = mcp_bridge_relay

    def test_encode_writes_what_json_dumps_writes(self):
        for value in self.VALUES:
            expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
            self.assertEqual(self.relay.encode(value), expected.encode("utf-8"))
        self.assertEqual(self.relay.encode({1: 2, None: 3}), b'{"1":2,"null":3}\n')
        self.assertEqual(self.relay.encode("\ud800"), b'"?"\n')

    def test_encode_refuses_what_json_refuses(self):
        loop = []
        loop.append(loop)
        for value, error in (
            (float("nan"), ValueError),
            (float("inf"), ValueError),
            (loop, ValueError),
            ({"k": object()}, TypeError),
            (b"bytes", TypeError),
        ):
            with self.assertRaises(error):
                self.relay.encode(value)
        self.assertEqual(self.relay.encode([1]), b"[1]\n", "a failed encode leaves nothing behind")

    def test_decode_reads_what_json_loads_reads(self):
        for value in self.VALUES:
            text = json.dumps(value)
            self.assertEqual(self.relay.decode(text), json.loads(text))
            self.assertEqual(self.relay.decode(f" \n{text}\r\n".encode()), value)

    def test_decode_refuses_anything_but_one_json_value(self):
        for text in ("", "  ", "{", '{"a":}', "[1] [2]", "NaN", "Infinity", "[1,]", '"\x01"', b"\xff"):
            with self.assertRaises(ValueError, msg=repr(text)):
                self.relay.decode(text)


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


if __name__ == "__main__":
    unittest.main()
