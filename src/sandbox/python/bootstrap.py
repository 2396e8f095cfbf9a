# mcp-bridge sandbox bootstrap (PROTOCOL.md §1-2): PID 1 only reaps, guards the deadline and the host's stdin,
# and reports the run's exit status; its child reads the boot frame on fd 0 and runs the runtime from memory
# (which forks once more: the relay, its parent, reports the status of the runner, which runs the code).
import _json
import _signal  # not signal: its enums import enum, ~2 ms of CPU in every container
import importlib
import importlib.machinery
import os
import sys

PR_SET_DUMPABLE = 4
# Statuses of a PID 1 that ends the container itself (PROTOCOL.md §1).
DEADLINE_STATUS = 124
HOST_GONE_STATUS = 129
UNPROTECTED_STATUS = 71


def _deadline_seconds():
    """The container's own deadline from ``python3 -c BOOTSTRAP <seconds>``; None when not given (tests)."""
    try:
        seconds = float(sys.argv[1])
    except (IndexError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _prctl(option, value):
    """prctl(2) through ``_ctypes``: ``ctypes`` itself costs ~5 ms of CPU to import, in every container.
    (mcp_bridge_relay has the same, for the relay.)"""
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


def _reap_as_pid1():
    """As PID 1: fork, let the child run everything, reap orphans, report the child's status, exit with it.

    A runtime that is PID 1 itself can be wedged by the code: if its main thread dies while other threads live
    (``syscall(SYS_exit)``, or the seccomp kill of a non-x86_64 syscall), PID 1 becomes a zombie leader that
    runc reports as stopped, so the engine's kill never reaches the live threads and they outlive the removed
    container. A healthy PID 1 that is killed takes the whole PID namespace with it. The engine's ``init``
    would do this too, but it bind-mounts a host binary. (A runner wedged the same way is the relay's to end:
    the relay is PID 1's child and the runner's parent.) Returns only in the child.

    PID 1 is also the one part of the container the code cannot reach: it turns itself non-dumpable before the
    fork (so ``/proc/1/fd/*`` and its memory are closed to every other process, all of which share its uid and
    have no capabilities), keeps the container's stderr to itself, and writes the exit record there. The host
    trusts that record for how a run ended that never said ``done`` (a kill cannot pass for an exit).
    """
    deadline = _deadline_seconds()
    try:
        _prctl(PR_SET_DUMPABLE, 0)
    except Exception as exc:
        # Fail closed: without it, the code could forge the exit record.
        os.write(2, f"mcp-bridge: PID 1 cannot make itself non-dumpable ({exc}); refusing to run\n".encode())
        os._exit(UNPROTECTED_STATUS)
    child = os.fork()
    if child == 0:
        # The child is an ordinary process again (its descendants may read its /proc entries, as usual).
        _prctl(PR_SET_DUMPABLE, 1)
        return

    import select
    import time

    started = time.monotonic()
    # The host's stdin: polled for hang-up (the bridge closed it or died), never read (the child reads it).
    stdin = select.poll()
    stdin.register(0, select.POLLHUP | select.POLLERR)

    def watchdog(signum, frame):
        if deadline is not None and time.monotonic() - started >= deadline:
            os._exit(DEADLINE_STATUS)
        if stdin.poll(0):
            os._exit(HOST_GONE_STATUS)

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    _signal.signal(_signal.SIGALRM, watchdog)
    _signal.setitimer(_signal.ITIMER_REAL, 0.25, 0.25)
    # stdout belongs to the child: the host sees EOF when the child's copies close. stderr stays here, for the
    # exit record only.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(70)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            # A signal death (negative) becomes 128 + signal, as a shell reports it.
            code = code if code >= 0 else 128 - code
            try:
                os.write(2, b'\n{"t":"exit","code":%d}\n' % code)
            finally:
                os._exit(code)


if os.getpid() == 1:
    _reap_as_pid1()


def _read(n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(0, n - len(buf))
        if not chunk:
            os._exit(70)
        buf += chunk
    return bytes(buf)


class _Strict:
    # What json's C scanner reads from a JSONDecoder; the json module itself imports re (~15 ms at start).
    # mcp_bridge_relay decodes frames the same way; the boot frame is read before any module is loaded.
    strict = True
    object_hook = object_pairs_hook = parse_constant = None
    parse_float = float
    parse_int = int


boot = _json.make_scanner(_Strict)(_read(int(_read(12))).decode("utf-8"), 0)[0]
modules = boot["modules"]


# No importlib.abc / importlib.util: they cost ~25 ms of start-up on every run, and the import system only
# needs these methods.
class _MemoryImporter:
    def find_spec(self, name, path=None, target=None):
        if name in modules:
            return importlib.machinery.ModuleSpec(name, self, is_package=bool(modules[name]["package"]))
        return None

    def create_module(self, spec):
        return None

    def get_source(self, name):
        return modules[name]["source"]

    def exec_module(self, module):
        code = compile(modules[module.__name__]["source"], "<mcp-bridge>/" + module.__name__, "exec")
        exec(code, module.__dict__)


sys.meta_path.insert(0, _MemoryImporter())
importlib.import_module(boot["entry"]).main(boot)
