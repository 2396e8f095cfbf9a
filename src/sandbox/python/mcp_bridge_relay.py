"""mcp-bridge sandbox relay: the one process that writes to the host's stdout (PROTOCOL.md §1-2).

The runtime forks as soon as it boots. The child (the runner) runs the user's code; this parent never does. It
copies the runner's frames from a socket to the host's stdout a whole line at a time, turns the code's output
pipes into ``out`` frames, and exits with the runner's status. The runner gives itself the highest
``oom_score_adj``, so the kernel's memory kill takes the runner (or a child of it) and never this relay: what
the code printed just before the kill still reaches the host, and the kill is reported as such.

In a container the relay is PID 1 (the bootstrap's process, which forked the runner) and has PID 1's
duties too (PROTOCOL.md §1): it reaps every orphan, ends the container at its deadline or when the host's
stdin hangs up, and writes the exit record, the one line on the container's stderr the host trusts. It is
non-dumpable: the code, with the same uid, can neither read its memory nor write it, nor open its fds; and as
the PID namespace's init it gets no signal from the code that it has no handler for. It trusts the runner for
nothing: every line it forwards is a claim the host checks (PROTOCOL.md §4).
"""

# The C halves of json and socket: the Python modules import re, enum and selectors, ~20 ms of CPU at every
# container's start (a pool container boots before it is needed, but the engine, the bridge and the other
# containers share the same cores). Frames need only what these give.
import _json
import _signal  # not signal: its enums import enum, ~2 ms of CPU in every container
import _socket
import codecs
import os
import select
import sys
import time

__all__ = ["decode", "encode", "out_frames", "relay", "recv_fds", "send_fds"]

READ_SIZE = 65536
# How long the end of a call (or of the runner) waits for the output pipes to reach EOF: a daemonised child of
# the code can hold them open for ever, so the wait is bounded.
DRAIN_TIMEOUT = 0.5
# How often the runner's state is looked at when nothing else happens (a wedged runner never exits).
WATCH_INTERVAL = 0.25
# More than /proc/PID/stat ever holds (52 numbers and a command name of at most 16 bytes).
STAT_SIZE = 4096
# Control lines from the runner, never forwarded: new output pipes (their read ends ride along as SCM_RIGHTS),
# and "the call is over: forward the rest of its output now".
PIPES = b'{"t":"pipes"}'
DRAIN = b'{"t":"drain"}'
PR_SET_DUMPABLE = 4
# The relay's own failure: nothing it was given could be reported (EX_SOFTWARE, as in the bootstrap).
RELAY_FAILED = 70
# Statuses of a relay that, as PID 1, ends the container itself (PROTOCOL.md §1).
DEADLINE_STATUS = 124
HOST_GONE_STATUS = 129
UNPROTECTED_STATUS = 71
# How often PID 1 looks at its deadline and the host's stdin, from a timer signal: it interrupts even a relay
# blocked writing to a host that stopped reading.
GUARD_INTERVAL = 0.25


JSON_WHITESPACE = " \t\n\r"


def _not_json(obj):
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


class _Strict:
    """What the C scanner reads from a ``json.JSONDecoder``: standard JSON into plain dicts, lists, str,
    int, float, bool and None; NaN and Infinity refused."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_no_constant)


_scan = _json.make_scanner(_Strict)


def decode(data):
    """The one JSON value in ``data`` (str, or UTF-8 bytes), as ``json.loads`` gives it; ValueError when
    ``data`` is not exactly one JSON value."""
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    start = len(text) - len(text.lstrip(JSON_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as stop:
        raise ValueError(f"not JSON: no value at character {stop.value}") from None
    if text[end:].strip(JSON_WHITESPACE):
        raise ValueError(f"not JSON: extra data at character {end}")
    return value


def encode(obj):
    """One frame as a compact JSON line (bytes), as ``json.dumps(obj, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False)`` writes it; lone surrogates become "?" so the host gets valid UTF-8.

    NaN and infinities are not JSON, and the host would stop the run over a frame holding one; refused here,
    they are a ValueError the code can catch (as is a circular structure; a value JSON has no type for is a
    TypeError).
    """
    # A new encoder each time: its circular-reference markers must start empty.
    # Arguments: markers, default, string encoder, indent, separators, sort_keys, skipkeys, allow_nan.
    encoder = _json.make_encoder({}, _not_json, _json.encode_basestring, None, ":", ",", False, False, False)
    chunks = encoder(obj, 0)
    return ("".join(chunks) + "\n").encode("utf-8", "replace")


# SCM_RIGHTS carries C ints. Packed by hand: the array module imports collections.abc (~2.5 ms of CPU).
_FD_SIZE = 4


def send_fds(sock, data, fds):
    """``data`` on ``sock`` with ``fds`` attached (SCM_RIGHTS), as ``socket.send_fds``."""
    packed = b"".join(fd.to_bytes(_FD_SIZE, sys.byteorder, signed=True) for fd in fds)
    return sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, packed)])


def recv_fds(sock, size, max_fds):
    """Up to ``size`` bytes from ``sock`` and the descriptors that came with them, as ``socket.recv_fds``."""
    fds = []
    data, ancillary, _, _ = sock.recvmsg(size, _socket.CMSG_LEN(max_fds * _FD_SIZE))
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            whole = len(payload) - len(payload) % _FD_SIZE
            fds.extend(
                int.from_bytes(payload[i : i + _FD_SIZE], sys.byteorder, signed=True)
                for i in range(0, whole, _FD_SIZE)
            )
    return data, fds


def out_frames(stream, text, max_frame):
    """``text`` written to ``stream`` as ``out`` frames, none longer than ``max_frame`` bytes."""
    data = encode({"t": "out", "s": stream, "d": text})
    if len(data) <= max_frame or len(text) <= 1:
        yield data
        return
    # JSON escaping can grow a character to 6 bytes, so split by the encoded size, not the text length.
    mid = len(text) // 2
    yield from out_frames(stream, text[:mid], max_frame)
    yield from out_frames(stream, text[mid:], max_frame)


class _Output:
    """One of the code's output pipes. ``live`` until its call ends; a retired pipe is read and dropped, so
    output a lingering child of an earlier call writes is never taken for the next call's."""

    __slots__ = ("fd", "stream", "decoder", "live")

    def __init__(self, fd, stream):
        self.fd = fd
        self.stream = stream
        # Incremental: a character split across two reads stays whole; invalid bytes become U+FFFD.
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.live = True


class _Relay:
    def __init__(self, runner, sock, max_frame, reap_all):
        self.runner = runner
        # As PID 1, every orphan of the container is the relay's to reap, not only the runner.
        self.reap_all = reap_all
        self.sock = sock
        self.max_frame = max_frame
        self.poller = select.poll()
        self.outputs = {}
        # fd sets received with PIPES lines, oldest first.
        self.passed_fds = []
        # The runner's current line, in chunks (a 4 MB frame arrives in many reads).
        self.line = []
        self.line_size = 0
        self.host_open = True
        self.status = None
        # Set when the runner's main thread was killed by the seccomp filter and the relay ended the rest.
        self.ended_because = None
        self.next_watch = time.monotonic() + WATCH_INTERVAL
        # Every fd is read non-blocking: one poll's events can be stale by the time they are handled (a drain
        # in between may have read everything).
        self.sock.setblocking(False)
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        self.wake = wake_read
        # SIGCHLD (a Python handler, so the child is not auto-reaped) wakes the poll through this pipe.
        _signal.signal(_signal.SIGCHLD, lambda signum, frame: None)
        _signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        self.poller.register(self.wake, select.POLLIN)
        self.poller.register(self.sock, select.POLLIN)

    def write(self, data):
        """Write to the host. A failed write means the host is gone: stop writing; PID 1 sees the hang-up."""
        if not self.host_open:
            return
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(1, view) :]
        except OSError:
            self.host_open = False

    def run(self):
        """Relay until the runner has exited, then forward what it left and return its status."""
        while self.status is None:
            # One clock read per turn: under gVisor's ptrace platform each is a trapped system call.
            now = time.monotonic()
            if now >= self.next_watch:
                self.next_watch = now + WATCH_INTERVAL
                self.watch()
                if self.status is not None:
                    break
            for fd, _ in self.poller.poll((self.next_watch - now) * 1000):
                if fd == self.wake:
                    try:
                        os.read(self.wake, READ_SIZE)
                    except BlockingIOError:
                        pass
                    self.reap()
                elif fd == self.sock.fileno():
                    self.from_runner()
                elif fd in self.outputs:
                    self.from_output(self.outputs[fd])
        # The runner is gone: its last frames are in the socket, its last output in the pipes. A partial frame
        # (killed mid-write) is dropped: the host must never receive half a line.
        while self.from_runner():
            pass
        self.drain()
        return self.status

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1 if self.reap_all else self.runner, os.WNOHANG)
            except ChildProcessError:
                if self.status is None:
                    # Not ours to wait for (cannot happen unless something reaped it): nothing to report.
                    self.status = RELAY_FAILED
                return
            if pid == 0:
                return
            if pid == self.runner:
                code = os.waitstatus_to_exitcode(status)
                # A signal death (negative) becomes 128 + signal, as a shell reports it.
                code = code if code >= 0 else 128 - code
                if self.ended_because is not None and code == 128 + _signal.SIGKILL:
                    code = self.ended_because
                self.status = code

    def watch(self):
        """End a runner whose main thread died while other threads live (a zombie leader never becomes
        waitable, so the run would otherwise last until its deadline); it may also have exited unnoticed."""
        self.reap()
        if self.status is not None:
            return
        try:
            # os.open/os.read: open() would add an fstat, an ioctl and two lseeks, four each time.
            stat = os.open(f"/proc/{self.runner}/stat", os.O_RDONLY | os.O_CLOEXEC)
            try:
                fields = os.read(stat, STAT_SIZE).rpartition(b")")[2].split()
            finally:
                os.close(stat)
        except OSError:
            return
        if fields[:1] != [b"Z"]:
            return
        # Field 52 of stat (index 49 after the command): how the leader thread ended. SIGSYS is the seccomp
        # filter's kill, reported as such rather than as the SIGKILL that follows.
        try:
            leader_signal = int(fields[49]) & 0x7F
        except (IndexError, ValueError):
            leader_signal = 0
        if leader_signal == _signal.SIGSYS and self.ended_because is None:
            self.ended_because = 128 + _signal.SIGSYS
        os.kill(self.runner, _signal.SIGKILL)

    def from_runner(self):
        """Forward the runner's complete lines; False once nothing more can be read now."""
        try:
            data, fds = recv_fds(self.sock, READ_SIZE, 2)
        except BlockingIOError:
            return False
        except OSError:
            data, fds = b"", []
        if fds:
            # The kernel ends a read at a message that carries descriptors: they belong to its last line.
            self.passed_fds.append(fds)
        if not data:
            if self.sock.fileno() >= 0:
                self.poller.unregister(self.sock)
                self.sock.close()
            return False
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            self.line.append(data[start : end + 1])
            line = b"".join(self.line)
            self.line = []
            self.line_size = 0
            self.runner_line(line)
            start = end + 1
        if start < len(data):
            self.line.append(data[start:])
            self.line_size += len(data) - start
            if self.line_size > self.max_frame:
                # No newline within a frame's length: passed on as it is, for the host to refuse.
                self.write(b"".join(self.line))
                self.line = []
                self.line_size = 0
        return True

    def runner_line(self, line):
        body = line.rstrip(b"\n")
        if body == PIPES:
            fds = self.passed_fds.pop(0) if self.passed_fds else []
            if len(fds) == 2 and self.readable(fds):
                self.retire()
                for fd, stream in zip(fds, ("stdout", "stderr"), strict=True):
                    self.outputs[fd] = _Output(fd, stream)
                    self.poller.register(fd, select.POLLIN)
            else:
                for fd in fds:
                    os.close(fd)
        elif body == DRAIN:
            self.drain()
        else:
            self.write(line)

    @staticmethod
    def readable(fds):
        """Whether passed fds can be forwarded (made non-blocking); other fds the code sent are refused."""
        try:
            for fd in fds:
                os.set_blocking(fd, False)
        except OSError:
            return False
        return True

    def from_output(self, output):
        try:
            data = os.read(output.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        text = output.decoder.decode(data, final=not data)
        if text and output.live:
            for frame in out_frames(output.stream, text, self.max_frame):
                self.write(frame)
        if not data:
            self.poller.unregister(output.fd)
            del self.outputs[output.fd]
            os.close(output.fd)

    def drain(self):
        """Forward the live pipes until EOF (bounded by DRAIN_TIMEOUT), then retire them."""
        live = select.poll()
        for output in self.outputs.values():
            if output.live:
                live.register(output.fd, select.POLLIN)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while any(output.live for output in self.outputs.values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for fd, _ in live.poll(remaining * 1000):
                output = self.outputs.get(fd)
                if output is not None:
                    self.from_output(output)
                if fd not in self.outputs:
                    live.unregister(fd)
        self.retire()

    def retire(self):
        for output in self.outputs.values():
            output.live = False


def _prctl(option, value):
    """prctl(2) through ``_ctypes``: ``ctypes`` itself costs ~5 ms of CPU to import, in every container."""
    import _ctypes

    class _Int(_ctypes._SimpleCData):
        _type_ = "i"

    class _Function(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = _Int

    prctl = _Function(_ctypes.dlsym(_ctypes.dlopen(None), "prctl"))
    if prctl(option, value, 0, 0, 0) != 0:
        errno = _ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _deadline_seconds():
    """The container's own deadline, from ``python3 -c BOOTSTRAP <seconds>``; None when not given (tests)."""
    try:
        seconds = float(sys.argv[1])
    except (IndexError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _guard_container(deadline):
    """PID 1's watch (PROTOCOL.md §1): exit at once, ending every process of the container, when ``deadline``
    seconds have passed or the host's stdin hangs up (the bridge closed it, or died). stdin is polled, never
    read: it is the runner's."""
    started = time.monotonic()
    stdin = select.poll()
    stdin.register(0, select.POLLHUP | select.POLLERR)

    def guard(signum, frame):
        if deadline is not None and time.monotonic() - started >= deadline:
            os._exit(DEADLINE_STATUS)
        if stdin.poll(0):
            os._exit(HOST_GONE_STATUS)

    _signal.signal(_signal.SIGALRM, guard)
    _signal.setitimer(_signal.ITIMER_REAL, GUARD_INTERVAL, GUARD_INTERVAL)


def _exit(status, init):
    """Exit with ``status``; as PID 1, first write the exit record (after a newline, so it starts a line)."""
    if init:
        try:
            os.write(2, b'\n{"t":"exit","code":%d}\n' % status)
        finally:
            os._exit(status)
    os._exit(status)


def _kill(runner):
    try:
        os.kill(runner, _signal.SIGKILL)
    except OSError:
        pass


def relay(runner, sock, max_frame):
    """The relay's whole life (in the parent, right after the fork): never returns."""
    init = os.getpid() == 1
    # Stray signals from the code (same uid) must not end the relay with a traceback.
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    try:
        _prctl(PR_SET_DUMPABLE, 0)
    except Exception as exc:
        # Fail closed: a dumpable relay's fds are open to the code, which could forge frames and exit records.
        _kill(runner)
        os.write(
            2,
            f"mcp-bridge: the sandbox relay cannot make itself non-dumpable ({exc}); not running\n".encode(),
        )
        os._exit(UNPROTECTED_STATUS)
    if init:
        _guard_container(_deadline_seconds())
    status = RELAY_FAILED
    try:
        status = _Relay(runner, sock, max_frame, reap_all=init).run()
    except BaseException as exc:
        # A relay that cannot relay must not leave the runner going: the run ends, and says why on stderr
        # (which the host shows for a run that failed).
        _kill(runner)
        os.write(2, f"mcp-bridge: the sandbox relay failed: {exc!r}\n".encode())
    _exit(status, init)
