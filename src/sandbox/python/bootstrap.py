# mcp-bridge sandbox bootstrap (PROTOCOL.md §1-2), the container's PID 1: reads the boot frame on fd 0 and
# runs the runtime from memory, which forks at once. PID 1 stays on as the relay (mcp_bridge_relay: it reaps,
# guards the deadline and the host's stdin, forwards frames, writes the exit record); the child, the runner,
# runs the code. One fork per container, not two: under gVisor a fork and its exit cost ~10 ms of CPU.
import _json
import importlib
import importlib.machinery
import marshal
import os
import sys

# The image's bytecode of the runtime (scripts/runtime_bytecode.py, run when the image is built), by the key
# the host sends for each module. Part of the image like the interpreter itself: nothing a sandbox wrote.
BYTECODE_CACHE = "/usr/lib/mcp-bridge/bytecode/"


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
        name = module.__name__
        code = _cached(module, modules[name].get("cache"))
        if code is None:
            code = compile(modules[name]["source"], "<mcp-bridge>/" + name, "exec")
        exec(code, module.__dict__)


def _cached(module, key):
    """The module's code from the image's cache (~10 ms of CPU less per container than compiling it); None
    when the image has none for this exact source (another image, or a bridge with another runtime)."""
    if not isinstance(key, str) or not key.isalnum():
        return None
    path = BYTECODE_CACHE + key + ".pyc"
    try:
        with open(path, "rb") as cached:
            data = cached.read()
    except OSError:
        return None
    # Bytecode of another interpreter version cannot run here.
    if data[:4] != importlib._bootstrap_external.MAGIC_NUMBER:
        return None
    try:
        code = marshal.loads(memoryview(data)[16:])
    except (EOFError, ValueError, TypeError):
        return None
    module.__cached__ = path
    return code


sys.meta_path.insert(0, _MemoryImporter())
importlib.import_module(boot["entry"]).main(boot)
