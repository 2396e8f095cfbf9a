"""Session mode of the runtime (PROTOCOL.md §2.1), end to end: the real bootstrap + runtime in a subprocess,
the test playing the host. A run frame naming a session keeps the interpreter after ``done`` and reads the
next call as a ``run`` line; ``runtime.end_session()`` or the end of stdin ends it.
"""

import json
import subprocess
import sys
import threading
import unittest

from .test_runtime import BOOTSTRAP, payload_for


class Session:
    """A runtime process in session mode, driven call by call."""

    def __init__(self, code, name="s"):
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", BOOTSTRAP],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.killer = threading.Timer(30, self.proc.kill)
        self.killer.start()
        self.name = name
        self.proc.stdin.write(payload_for(code, session=name))
        self.proc.stdin.flush()

    def frames(self):
        """The frames up to and including the next ``done``."""
        frames = []
        for line in iter(self.proc.stdout.readline, b""):
            frame = json.loads(line)
            frames.append(frame)
            if frame["t"] == "done":
                break
        return frames

    def call(self, code):
        """Send the next call; return its frames."""
        line = {"t": "run", "id": "r-next", "code": code, "servers": [], "timeout": 30, "session": self.name}
        self.proc.stdin.write(json.dumps(line).encode() + b"\n")
        self.proc.stdin.flush()
        return self.frames()

    def close(self):
        """Close stdin and wait: the exit status."""
        self.proc.stdin.close()
        status = self.proc.wait()
        self.killer.cancel()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return status


def stdout(frames):
    return "".join(f["d"] for f in frames if f["t"] == "out" and f["s"] == "stdout")


def stderr(frames):
    return "".join(f["d"] for f in frames if f["t"] == "out" and f["s"] == "stderr")


class SessionTests(unittest.TestCase):
    def test_state_survives_calls_and_exceptions(self):
        session = Session("import json\nx = 41\ndef twice(v):\n    return 2 * v\nprint('one')")
        first = session.frames()
        self.assertEqual([f["t"] for f in first[:2]], ["ready", "started"])
        self.assertEqual(stdout(first), "one\n")
        self.assertEqual(first[-1], {"t": "done", "exit": 0, "end": False})
        second = session.call("x += 1\nprint(x, twice(x), json.dumps(x))")
        self.assertEqual(second[0], {"t": "started"})
        self.assertEqual(stdout(second), "42 84 42\n")
        failing = session.call("twice(None) + [1]")
        self.assertEqual(failing[-1]["exit"], 1)
        self.assertIn('File "<sandbox#1>", line 4, in twice', stderr(failing))
        self.assertIn('File "<sandbox#3>", line 1', stderr(failing))
        exiting = session.call("raise SystemExit(4)")
        self.assertEqual(exiting[-1]["exit"], 4)
        after = session.call("print(x, runtime.session_name())")
        self.assertEqual(stdout(after), "42 s\n")
        self.assertEqual(session.close(), 0, "the end of stdin ends the session quietly")

    def test_end_session_exits_once_the_host_lets_go(self):
        session = Session("print('a')")
        session.frames()
        last = session.call("runtime.end_session()\nprint('b')")
        self.assertEqual(stdout(last), "b\n")
        self.assertEqual(last[-1], {"t": "done", "exit": 0, "end": True})
        # It waits for the host to close stdin: exiting at once would start the container's teardown while
        # `done` is still on its way to the host.
        with self.assertRaises(subprocess.TimeoutExpired):
            session.proc.wait(timeout=0.3)
        self.assertEqual(session.close(), 0)

    def test_output_left_behind_is_not_the_next_calls(self):
        # A child that outlives its call keeps that call's pipe; what it writes later is dropped, not mixed
        # into the next call's output.
        late = "import time\\ntime.sleep(0.8)\\nprint('late', flush=True)"
        session = Session(
            f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', \"{late}\"])\nprint('first')"
        )
        self.assertEqual(stdout(session.frames()), "first\n")
        later = session.call("import time\ntime.sleep(1.5)\nprint('second')")
        self.assertEqual(stdout(later), "second\n")
        session.close()

    def test_top_level_await_and_new_servers_in_later_calls(self):
        session = Session("import asyncio\nvalue = await asyncio.sleep(0, result=7)")
        session.frames()
        frames = session.call("print(value, 'mcp_servers' in globals(), LOADED_MCP_SERVERS)")
        self.assertEqual(stdout(frames), "7 True ()\n")
        session.close()


if __name__ == "__main__":
    unittest.main()
