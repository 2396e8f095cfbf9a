"""mcp-bridge sandbox runtime: runs the user's code and speaks the frame protocol (PROTOCOL.md §2).

bootstrap.py loads this module from memory and calls ``main(boot)``, which forks: the parent becomes the relay
(mcp_bridge_relay, the only writer of the host's stdout), the child (the runner) imports the rest of the
runtime, says ``ready`` and waits for the one run frame this container will ever get (a warm container waits
here in the host's pool; a cold one finds the frame already sent), says ``started`` and runs the code. A run
frame that names a session makes the container a session's: after each call it says ``done`` and waits for the
next call in the same interpreter (PROTOCOL.md §2.1). The runner's frames go to the relay over a socket. Fds 1
and 2 become pipes whose read ends the relay holds and forwards as ``out`` frames, so nothing the code, a C
extension or a child process writes can be taken for a frame, and output written just before a memory kill
of the runner still arrives."""

import _frozen_importlib
import _frozen_importlib_external
import _socket
import _thread
import builtins
import io
import os
import sys

import mcp_bridge_relay as relay

__all__ = ["main"]

FILENAME = "<sandbox>"
# Call n of a session compiles as "<sandbox#n>", so tracebacks through code defined by earlier calls show the
# right lines.
SESSION_FILENAME = "<sandbox#{}>"
# inspect.CO_COROUTINE, without importing inspect: set on code compiled with top-level await.
CO_COROUTINE = 0x0080
# ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, without importing ast (~12 ms of every container's start).
PYCF_ALLOW_TOP_LEVEL_AWAIT = 0x2000
DEFAULT_MAX_FRAME = 4 * 1024 * 1024
# A floor keeps the frame splitter finite: any single character fits in a frame of this size.
MIN_MAX_FRAME = 256
RUN_HEADER_DIGITS = 12
# How long leftover asyncio tasks get to handle their cancellation.
CANCEL_TIMEOUT = 1.0
# mcp.runtime helpers also available as bare names (the original bridge's manual promised them).
MEMORY_HELPERS = (
    "save_memory",
    "load_memory",
    "delete_memory",
    "list_memories",
    "update_memory",
    "memory_exists",
    "get_memory_info",
    "save_tool",
    "list_saved_tools",
    "delete_saved_tool",
)
# Files the code leaves here (relative to the working directory: /workspace/out) go back with the result.
OUT_DIR = "out"
# The user's input directories (the [inputs] of the bridge's config) are copied here: /workspace/in/<name>.
IN_DIR = "in"
# Top-level module names kept for older code: `import user_tools` is the lazy module mcp.user_tools.
MODULE_ALIASES = {"user_tools": "mcp.user_tools"}


def _import(name):
    """The module ``name``, imported if need be: ``importlib.import_module`` without the importlib package,
    which would load warnings and types into every container (three files, ~75 trapped system calls under
    gVisor)."""
    module = sys.modules.get(name)
    if module is None:
        __import__(name)
        module = sys.modules[name]
    return module


class _Channel:
    """Frame writer to the relay (PROTOCOL.md §2): one compact JSON object per line, thread-safe. The relay
    forwards whole lines to the host, so frames of the runner and its own ``out`` frames never interleave."""

    def __init__(self, sock, max_frame):
        self._sock = sock
        self._fd = sock.fileno()
        self._max_frame = max_frame
        # _thread, not threading: threading imports functools and collections, a few ms in every container.
        self._lock = _thread.allocate_lock()
        self._closed = False

    def _write(self, data):
        # Caller holds the lock. A failed write means the relay (and so the host) is gone: stop sending and
        # keep running until the container ends (raising would fail the code over something it did not do).
        if self._closed:
            return
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            self._closed = True

    def send_out(self, stream, text):
        """Send text as the current call's output on ``stream`` (``out`` frames, none over max_frame)."""
        frames = list(relay.out_frames(stream, text, self._max_frame))
        with self._lock:
            for data in frames:
                self._write(data)

    def send(self, obj):
        """Send one frame (an rpc request); a frame over max_frame is refused here, not sent."""
        data = relay.encode(obj)
        if len(data) > self._max_frame:
            raise ValueError(
                f"request too large: {len(data)} bytes encoded, the limit is {self._max_frame} "
                "(send large data in several calls)"
            )
        with self._lock:
            self._write(data)

    def pass_output(self, read_ends):
        """Hand the read ends of a call's new output pipes to the relay, which forwards them from now on."""
        with self._lock:
            if not self._closed:
                try:
                    relay.send_fds(self._sock, relay.PIPES + b"\n", read_ends)
                except OSError:
                    self._closed = True

    def end_output(self):
        """The call's output is complete (fds 1/2 closed here): the relay forwards the rest of it now, and
        drops whatever a lingering child writes to those pipes later."""
        with self._lock:
            self._write(relay.DRAIN + b"\n")

    def finish(self, obj):
        """Send the last frame; anything sent afterwards (e.g. by a lingering thread) is dropped."""
        data = relay.encode(obj)
        with self._lock:
            self._write(data)
            self._closed = True


class _ModuleAlias:
    """Meta path finder: importing an alias of ``MODULE_ALIASES`` gives the module it names.

    Nothing is imported before the code imports the alias, so a run that never uses it pays nothing.
    """

    def __init__(self, aliases):
        self._aliases = aliases

    def find_spec(self, name, path=None, target=None):
        if name in self._aliases:
            return _frozen_importlib.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        # The import system returns whatever sys.modules holds under the name once this returns: the real
        # module, so both names are one object.
        sys.modules[module.__name__] = _import(self._aliases[module.__name__])


class _SourceLines:
    """The source of each call's code, in ``linecache`` so tracebacks and ``inspect.getsource`` show it.

    linecache (with the tokenize and re it imports, ~10 ms of CPU) is imported only when something reads it —
    a traceback, inspect, the code itself: until then the lines wait here, and this meta path finder hands
    them over as linecache is imported.
    """

    def __init__(self):
        self._waiting = {}

    def add(self, filename, code):
        # mtime None: linecache.checkcache() keeps the entry.
        entry = (len(code), None, code.splitlines(True), filename)
        cache = getattr(sys.modules.get("linecache"), "cache", None)
        if isinstance(cache, dict):
            cache[filename] = entry
        else:
            self._waiting[filename] = entry

    def find_spec(self, name, path=None, target=None):
        if name != "linecache" or not self._waiting:
            return None
        spec = _frozen_importlib_external.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        waiting, load = self._waiting, spec.loader.exec_module

        def exec_module(module):
            load(module)
            module.cache.update(waiting)
            waiting.clear()

        # The loader is this import's own object: replacing its method changes nothing else.
        spec.loader.exec_module = exec_module
        return spec


_SOURCES = _SourceLines()


def _runtime_error():
    """The exception being handled, as a failure of the runtime itself (not of the code)."""
    import traceback

    return "mcp-bridge sandbox runtime error:\n" + traceback.format_exc()


def _text_stream(fd):
    # Line buffering keeps print() and raw os.write(fd) output in order; closefd=False because the fd
    # belongs to the process, not to this object.
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
        write_through=True,
    )


def _max_frame(boot):
    try:
        value = int(boot.get("max_frame") or DEFAULT_MAX_FRAME)
    except (AttributeError, TypeError, ValueError):
        value = DEFAULT_MAX_FRAME
    return max(value, MIN_MAX_FRAME)


def _read_exact(fd, n):
    """Exactly ``n`` bytes from ``fd``, unbuffered so nothing after them is consumed; EOFError if it ends."""
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError("the host closed stdin before the run frame")
        buf += chunk
    return bytes(buf)


def _read_run_frame(fd):
    """The run frame (PROTOCOL.md §2): a 12-digit length, then that many bytes of JSON; then the inputs' tar
    of as many bytes as its ``inputs`` says (§2.2), returned as the frame's ``inputs_archive``."""
    run = relay.decode(_read_exact(fd, int(_read_exact(fd, RUN_HEADER_DIGITS))))
    if not isinstance(run, dict):
        raise TypeError(f"the run frame must be an object, not {type(run).__name__}")
    size = run.get("inputs")
    if isinstance(size, int) and size > 0:
        run["inputs_archive"] = _read_exact(fd, size)
    return run


def _unpack_inputs(archive):
    """Unpack the user's input directories into ``in/`` of the working directory (``/workspace/in``), with the
    modes the host gave them (files 0444, directories 0555). tarfile is imported only for a run that has
    inputs."""
    import io
    import tarfile

    destination = os.path.abspath(IN_DIR)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        # The "data" filter (3.12, 3.11.4) refuses links, devices and paths outside the destination; the host
        # sends none, and an older interpreter without the filter gets the same archive.
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
        else:
            tar.extractall(destination)
        # The filter gives files their owner's write bit back: the copies are read-only to say that writing
        # them changes nothing on the host (the code owns them, so it can still chmod its own copy).
        for member in tar.getmembers():
            if member.isfile():
                os.chmod(os.path.join(destination, member.name), 0o444)


def _is_user_file(filename):
    return filename == FILENAME or (filename.startswith("<sandbox#") and filename.endswith(">"))


def _user_traceback(tb):
    """Drop the runtime's own frames: start the traceback at the first frame of the user's code."""
    current = tb
    while current is not None and not _is_user_file(current.tb_frame.f_code.co_filename):
        current = current.tb_next
    return current if current is not None else tb


async def _execute(compiled, namespace):
    # Code compiled with top-level await evaluates to a coroutine, run here inside the event loop.
    await eval(compiled, namespace)


def _shutdown_loop(loop):
    import asyncio

    # Like asyncio.run's cleanup, but bounded: asyncio.run waits without limit for tasks that ignore
    # cancellation and (3.11) for the default executor's threads, which would hang the run until the timeout.
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        done, _ = loop.run_until_complete(asyncio.wait(tasks, timeout=CANCEL_TIMEOUT))
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                loop.call_exception_handler(
                    {
                        "message": "unhandled exception in a task cancelled at the end of the code",
                        "exception": task.exception(),
                        "task": task,
                    }
                )
    loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), CANCEL_TIMEOUT))
    loop.close()


def _run_in_loop(compiled, namespace):
    # asyncio is imported only here: it costs ~40 ms of start-up, which code without top-level await skips.
    import asyncio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_execute(compiled, namespace))
    finally:
        try:
            _shutdown_loop(loop)
        except Exception:
            # A cleanup failure must not replace the outcome of the code itself.
            import traceback

            traceback.print_exc()
        asyncio.set_event_loop(None)


class _Session:
    """The container's runs: the fd plumbing around the user's code, its execution and its exit status. A
    single-use container has one run; a session's container one per call, in one ``__main__``."""

    def __init__(self, channel, proto_in):
        self.channel = channel
        # Host → container rpc_result frames (tool proxies), read by mcp._rpc.
        self.proto_in = proto_in
        self.pid = os.getpid()
        self.stdout = None
        self.stderr = None
        # Texts that could not go through fd 2; sent as frames once the pipes are drained.
        self.pending = []
        # The code's module, kept across a session's calls.
        self.main_module = None
        self.calls = 0
        self.devnull = None

    def redirect(self):
        """Point fd 0 at /dev/null and fds 1/2 at forwarded pipes; install matching sys streams."""
        devnull = os.open(os.devnull, os.O_RDWR)
        # The protocol stream stays on proto_in only: input() and children reading fd 0 see EOF.
        os.dup2(devnull, 0)
        if devnull > 2:
            os.close(devnull)
        # Kept for teardown, close-on-exec: code that used up every descriptor must still be able to finish.
        self.devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        self.open_output()

    def open_output(self):
        """Fresh pipes on fds 1/2, their read ends handed to the relay, which forwards them as this call's
        output (a session's next call gets new ones, so nothing left writing to these reaches it)."""
        read_ends = []
        try:
            for fd in (1, 2):
                read_end, write_end = os.pipe()
                read_ends.append(read_end)
                # dup2 makes fd 1/2 inheritable (children share them); the read end is only the relay's.
                os.dup2(write_end, fd)
                os.close(write_end)
            self.channel.pass_output(read_ends)
        finally:
            for read_end in read_ends:
                os.close(read_end)
        self.stdout = _text_stream(1)
        self.stderr = _text_stream(2)
        sys.stdout = sys.__stdout__ = self.stdout
        sys.stderr = sys.__stderr__ = self.stderr

    def write_stderr(self, text):
        """Write to the real fd 2 (even if the code replaced sys.stderr), else keep it for a direct frame."""
        try:
            self.stderr.write(text)
            self.stderr.flush()
        except Exception:
            self.pending.append(text)

    def report(self, exc, tb):
        """Print an exception the way the interpreter would, to the real stderr."""
        import traceback

        self.flush()
        self.write_stderr("".join(traceback.format_exception(type(exc), exc, tb)))

    def exit_status(self, code):
        """Map a SystemExit code to a process exit status, as the interpreter does."""
        if code is None:
            return 0
        if isinstance(code, int):
            return code & 0xFF
        try:
            text = str(code)
        except Exception:
            text = object.__repr__(code)
        self.flush()
        self.write_stderr(text + "\n")
        return 1

    def prepare(self, max_frame):
        """Import the runtime's modules and note where ``out/`` is (``/workspace/out``: the files the code
        leaves there go back with the result): done while the container waits warm, so a run does not pay."""
        for name in ("mcp", "mcp.runtime", "mcp._rpc", "mcp._tools", "mcp._files"):
            _import(name)
        sys.modules["mcp._files"]._setup(os.path.abspath(OUT_DIR), max_frame)

    def execute(self, run, manual, client=None, session=None):
        """Compile and run the code in ``__main__`` (fresh for the first call, a session's own for later
        ones), then hand back the files it left (open figures, new files in ``out/``); return the exit status.
        ``client``: the session's request channel (one per call otherwise)."""
        files = _import("mcp._files")
        files._begin_call(run.get("attach"))
        status = self.run_code(run, manual, client, session)
        # Only the original process speaks to the host: a child the code forked finishes the code too.
        if os.getpid() == self.pid:
            self.flush()
            try:
                files._collect(self.write_stderr)
            except BaseException as exc:
                self.write_stderr(f"mcp-bridge: the files the code left could not be sent: {exc!r}\n")
        return status

    def run_code(self, run, manual, client, session):
        """Compile and run the code; return its exit status."""
        code = run["code"]
        if not isinstance(code, str):
            raise TypeError(f"run.code must be a string, not {type(code).__name__}")
        mcp = _import("mcp")
        runtime = _import("mcp.runtime")
        rpc = _import("mcp._rpc")
        tools = _import("mcp._tools")
        server_info = run.get("server_info") if isinstance(run.get("server_info"), dict) else {}
        runtime._configure(
            manual=manual,
            server_info=server_info,
            client=client or rpc.RpcClient(self.channel.send, self.proto_in),
            session=session,
        )

        self.calls += 1
        if self.main_module is None:
            # A real module in sys.modules, so pickle, dataclasses and typing can find what the code defines.
            self.main_module = type(sys)("__main__")
            self.main_module.__dict__.update({"__builtins__": builtins, "mcp": mcp, "runtime": runtime})
            # Saved tools are never loaded here: the code imports the ones it wants (mcp.user_tools), so a
            # broken or hostile saved tool cannot touch a run that does not ask for it.
            sys.meta_path.insert(0, _ModuleAlias(MODULE_ALIASES))
            sys.meta_path.insert(0, _SOURCES)
        namespace = self.main_module.__dict__
        # A session's later call may name more servers: their proxies join the ones already there.
        tools.install(runtime._loaded, namespace)
        for name in MEMORY_HELPERS:
            namespace[name] = getattr(runtime, name)
        sys.modules["__main__"] = self.main_module
        filename = FILENAME if session is None else SESSION_FILENAME.format(self.calls)
        _SOURCES.add(filename, code)

        try:
            compiled = compile(code, filename, "exec", flags=PYCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        except Exception as exc:
            # SyntaxError, plus ValueError/UnicodeEncodeError for NUL bytes or lone surrogates.
            self.report(exc, None)
            return 1
        try:
            if compiled.co_flags & CO_COROUTINE:
                _run_in_loop(compiled, namespace)
            else:
                # No top-level await: a plain script, so asyncio.run() works in it as it would anywhere.
                exec(compiled, namespace)
        except SystemExit as exc:
            return self.exit_status(exc.code)
        except BaseException as exc:
            self.report(exc, _user_traceback(exc.__traceback__))
            return 1
        return 0

    def flush(self):
        """Flush the code's sys streams and ours; errors (closed or odd replacement streams) are ignored."""
        for stream in (sys.stdout, sys.stderr, self.stdout, self.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except Exception:
                pass

    def wind_up(self, status):
        """The code is finished: drain its output and return the status to report (a runtime failure here
        makes a success 1). Only the original process returns: a child forked by the code that finished the
        code too exits, since only the original process speaks to the host."""
        if os.getpid() != self.pid:
            self.flush()
            os._exit(status)
        try:
            self.teardown()
        except BaseException:
            self.pending.append(_runtime_error())
            status = status or 1
        return status

    def teardown(self):
        """Close our ends of the output pipes and have the relay forward the rest (the end of a run, or of a
        session's call: the next call gets new pipes)."""
        self.flush()
        # dup2 onto 1 and 2 needs no new descriptor (the code may hold every one it may have).
        os.dup2(self.devnull, 1)
        os.dup2(self.devnull, 2)
        self.channel.end_output()


def _end_call(session, status):
    """A session's call is over: drain its output, then say ``done``; returns (the code asked to end the
    session, the status)."""
    status = session.wind_up(status)
    channel = session.channel
    for text in session.pending:
        channel.send_out("stderr", text)
    session.pending = []
    end = bool(_import("mcp.runtime")._session_end_requested())
    channel.send({"t": "done", "exit": status, "end": end})
    return end, status


def _serve_session(session, run, manual):
    """Run a session's calls in one interpreter until the host closes stdin or the code ends the session.

    Later run frames come as ``{"t":"run",…}`` lines on the same stream as the rpc replies, so the request
    client's reader hands them over. Never returns.
    """
    import queue

    runs = queue.SimpleQueue()
    rpc = _import("mcp._rpc")
    client = rpc.RpcClient(session.channel.send, session.proto_in, on_run=runs.put)
    client.start()
    name = run["session"]
    while True:
        try:
            status = session.execute(run, manual, client=client, session=name)
        except BaseException:
            session.pending.append(_runtime_error())
            status = 1
        end, status = _end_call(session, status)
        if end:
            _await_host_hangup(session.proto_in)
            os._exit(status)
        run = runs.get()
        if not isinstance(run, dict):
            # The host closed stdin: the session is over.
            os._exit(0)
        session.open_output()
        session.channel.send({"t": "started"})


def _await_host_hangup(fd):
    """Block until the host closes stdin, which it does once it has ``done``.

    The runner's exit starts the container's teardown (the relay, as PID 1, follows it), and under gVisor that
    teardown takes the CPU the engine needs to deliver ``done``: exiting at once put ~3 ms on a pooled run's
    answer (BENCHMARKS.md). Bounded all the same: PID 1 ends the container when stdin hangs up or at the
    deadline, whatever the code did to this descriptor; a read error ends the wait.
    """
    while True:
        try:
            if not os.read(fd, relay.READ_SIZE):
                return
        except InterruptedError:
            continue
        except OSError:
            return


def _fork_relay(max_frame):
    """Fork: the parent becomes the relay (mcp_bridge_relay, never returns), the child the runner; returns
    the runner's end of the frame socket."""
    relay_end, runner_end = _socket.socketpair()
    runner = os.fork()
    if runner:
        runner_end.close()
        relay.relay(runner, relay_end, max_frame)
    relay_end.close()
    # The memory kill takes the process with the highest score: the runner (or a child of the code, which
    # inherits this), never the relay that forwards the output printed before it. Only raising it needs no
    # privilege; a runtime that cannot still runs (the kill then may take output with it, as without a relay).
    try:
        adj = os.open("/proc/self/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(adj, b"1000")
        finally:
            os.close(adj)
    except OSError:
        pass
    return runner_end


def main(boot):
    """Fork the relay, get ready, read the run frame, run its code, send its output and ``done``, and exit.

    Never returns.
    """
    max_frame = _max_frame(boot)
    try:
        channel = _Channel(_fork_relay(max_frame), max_frame)
        proto_in = os.dup(0)
    except BaseException:
        # Without a frame channel nothing can be reported; 70 (EX_SOFTWARE) as in the bootstrap.
        os._exit(70)

    session = _Session(channel, proto_in)
    status = 1
    try:
        session.redirect()
        session.prepare(max_frame)
        channel.send({"t": "ready"})
        try:
            run = _read_run_frame(proto_in)
        except EOFError:
            # The host let go of a warm container it did not need: nothing to report to anyone.
            os._exit(70)
        channel.send({"t": "started"})
        archive = run.pop("inputs_archive", None)
        if archive:
            try:
                _unpack_inputs(archive)
            except Exception as exc:
                session.write_stderr(f"mcp-bridge: the input directories could not be copied in: {exc!r}\n")
            del archive
        if isinstance(run.get("session"), str):
            _serve_session(session, run, boot.get("manual"))
        status = session.execute(run, boot.get("manual"))
    except BaseException:
        session.pending.append(_runtime_error())
        status = 1

    status = session.wind_up(status)
    try:
        for text in session.pending:
            channel.send_out("stderr", text)
        channel.finish({"t": "done", "exit": status})
        _await_host_hangup(proto_in)
    finally:
        # os._exit: non-daemon threads, atexit handlers and children cannot keep the run alive.
        os._exit(status)
