# mcp-bridge sandbox bootstrap (PROTOCOL.md §1-2), the container's PID 1: reads the boot frame on fd 0 and
# runs the runtime from memory, which forks at once. PID 1 stays on as the relay (mcp_bridge_relay: it reaps,
# guards the deadline and the host's stdin, forwards frames, writes the exit record); the child, the runner,
# runs the code. One fork per container, not two: under gVisor a fork and its exit cost ~10 ms of CPU.
import _json
import importlib
import importlib.machinery
import os
import sys


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
