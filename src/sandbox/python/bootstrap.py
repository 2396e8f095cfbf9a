# mcp-bridge sandbox bootstrap (PROTOCOL.md §1-2), the container's PID 1: reads the boot frame on fd 0 and
# runs the runtime from memory, which forks at once. PID 1 stays on as the relay (mcp_bridge_relay: it reaps,
# guards the deadline and the host's stdin, forwards frames, writes the exit record); the child, the runner,
# runs the code. One fork per container, not two: under gVisor a fork and its exit cost ~10 ms of CPU.
import _frozen_importlib
import _frozen_importlib_external
import _json
import marshal
import os
import sys

# The image's bytecode of the runtime (scripts/runtime_bytecode.py, run when the image is built), by the key
# the host sends for each module. Part of the image like the interpreter itself: nothing a sandbox wrote.
BYTECODE_CACHE = "/usr/lib/mcp-bridge/bytecode/"
# Larger than any module's bytecode (the largest is ~38 KB), so one read takes a whole file; below malloc's
# mmap threshold, so the buffer costs no system call of its own.
READ_CHUNK = 64 * 1024


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


# Not the importlib package (it imports warnings and types: three more modules, each a file to read and
# under gVisor ~25 trapped system calls): the import system's own frozen halves hold all that is needed here,
# and the import system only needs these methods.
class _MemoryImporter:
    def find_spec(self, name, path=None, target=None):
        if name in modules:
            return _frozen_importlib.ModuleSpec(name, self, is_package=bool(modules[name]["package"]))
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
        data = _read_file(path)
    except OSError:
        return None
    # Bytecode of another interpreter version cannot run here.
    if data[:4] != _frozen_importlib_external.MAGIC_NUMBER:
        return None
    try:
        code = marshal.loads(memoryview(data)[16:])
    except (EOFError, ValueError, TypeError):
        return None
    module.__cached__ = path
    return code


def _read_file(path):
    """The whole file, in three system calls (open() adds fstat, ioctl and lseeks: under gVisor's ptrace
    platform each one is a trap to the sandbox kernel, ~40 µs of CPU)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, READ_CHUNK)
            chunks.append(chunk)
            # A regular file's read returns less than asked for only at its end.
            if len(chunk) < READ_CHUNK:
                return b"".join(chunks)
    finally:
        os.close(fd)


sys.meta_path.insert(0, _MemoryImporter())
__import__(boot["entry"])
sys.modules[boot["entry"]].main(boot)
