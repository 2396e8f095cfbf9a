# mcp-bridge sandbox bootstrap: PID 1 only reaps; its child reads the boot frame on fd 0 (PROTOCOL.md §1) and
# runs the runtime from memory.
import importlib
import importlib.machinery
import json
import os
import signal
import sys


def _reap_as_pid1():
    """As PID 1: fork, let the child run everything, reap orphans, exit with the child's status.

    A runtime that is PID 1 itself can be wedged by the code: if its main thread dies while other threads live
    (``syscall(SYS_exit)``, or the seccomp kill of a non-x86_64 syscall), PID 1 becomes a zombie leader that
    runc reports as stopped, so the engine's kill never reaches the live threads and they outlive the removed
    container. A healthy PID 1 that is killed takes the whole PID namespace with it. The engine's ``init``
    would do this too, but it bind-mounts a host binary. Returns only in the child.
    """
    child = os.fork()
    if child == 0:
        return

    def watchdog(signum, frame):
        # A zombie leader with live threads never becomes waitable: end it, so the run reports an error
        # now instead of a timeout later.
        try:
            with open(f"/proc/{child}/stat", "rb") as stat:
                state = stat.read().rpartition(b")")[2].split()[0]
        except (OSError, IndexError):
            return
        if state == b"Z":
            os.kill(child, signal.SIGKILL)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, watchdog)
    signal.setitimer(signal.ITIMER_REAL, 0.25, 0.25)
    # fds 0-2 belong to the runtime: the host sees EOF when the child's copies close.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(70)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            # A signal death (negative) becomes 128 + signal, as a shell reports it.
            os._exit(code if code >= 0 else 128 - code)


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


boot = json.loads(_read(int(_read(12))))
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
