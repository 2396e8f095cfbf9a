"""Files handed back with the run's result (PROTOCOL.md §5.1): ``runtime.attach``, ``runtime.show``, and what
the runner collects once the code has finished: matplotlib figures still open, then every file under ``out/``
of the working directory (``/workspace/out``) not sent already.

Each file goes to the host as one ``attach`` request carrying its bytes as base64. The host keeps the files
for the result and applies its limits; it tells them to the runtime in the run frame (``attach``), so a file
the host would leave out goes as its size alone, and the result still lists it with the reason.
"""

import binascii
import os
import stat
import sys

# Bytes of an attach frame besides the file's base64: the frame's keys and the name (at most 255 bytes, up to
# six per byte once JSON-escaped).
FRAME_OVERHEAD = 4096
# Files of out/ looked at when the code has finished; the host lists at most 64 in a result anyway.
MAX_COLLECTED = 64
DEFAULT_LIMITS = {"max_file": 2 << 20, "max_total": 8 << 20, "max_files": 16}


class _State:
    """The current call's files: limits, what was sent, what names are taken."""

    def __init__(self):
        self.out_dir = None
        self.max_frame = 4 << 20
        self.limits = dict(DEFAULT_LIMITS)
        # out/ files sent in this container, by path: (inode, size, mtime) when sent. A session's later call
        # sends only the ones that changed.
        self.sent = {}
        self.begin_call(None)

    def begin_call(self, limits):
        self.names = set()
        self.total = 0
        self.count = 0
        if isinstance(limits, dict):
            for key, default in DEFAULT_LIMITS.items():
                value = limits.get(key, default)
                self.limits[key] = value if isinstance(value, int) and value >= 0 else default


_state = _State()


def _setup(out_dir, max_frame):
    """Where out/ is (internal: the runner calls this once, before any code runs). It is not made here: a run
    starts with an empty /workspace, and the code makes out/ when it has something to hand back."""
    _state.max_frame = max_frame
    _state.out_dir = out_dir


def _begin_call(limits):
    """A new call (internal): the host's limits for it, nothing attached yet."""
    _state.begin_call(limits)


def _capacity():
    """The largest file one frame can carry as base64."""
    return (_state.max_frame - FRAME_OVERHEAD) // 4 * 3


def _fits(size):
    limits = _state.limits
    return (
        size <= min(limits["max_file"], _capacity())
        and _state.total + size <= limits["max_total"]
        and _state.count < limits["max_files"]
    )


def _send(name, data=None, size=None):
    from . import runtime

    params = {"name": name}
    if data is not None:
        params["data"] = binascii.b2a_base64(data, newline=False).decode("ascii")
    else:
        params["size"] = size
    reply = runtime._call_sync("attach", params)
    if isinstance(reply, dict) and reply.get("attached"):
        _state.total += len(data or b"")
        _state.count += 1
    _state.names.add(name)
    return reply


def _unique(name):
    """``name``, or ``name`` with ``-2``, ``-3``… before its extension when this call has used it."""
    if name not in _state.names:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    n = 2
    while True:
        candidate = f"{stem}-{n}.{extension}" if dot else f"{stem}-{n}"
        if candidate not in _state.names:
            return candidate
        n += 1


def _out_name(path):
    """The name of a file under out/ (its path below it), else None."""
    out_dir = _state.out_dir
    if out_dir is None:
        return None
    absolute = os.path.abspath(path)
    if absolute.startswith(out_dir + os.sep):
        return absolute[len(out_dir) + 1 :]
    return None


def attach_bytes(name, data):
    """Hand ``data`` back with the run's result as a file called ``name``; returns the host's answer."""
    data = bytes(data)
    if _fits(len(data)):
        return _send(name, data=data)
    return _send(name, size=len(data))


def attach(file, name=None):
    """Hand a file back with the run's result; returns the host's answer
    (``{"attached": True, "name", "mimeType"}`` or ``{"attached": False, "name", "reason"}``)."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        if not name:
            raise ValueError("runtime.attach(data, name): bytes need a name")
        return attach_bytes(str(name), file)
    path = os.fspath(file)
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"runtime.attach({path!r}): not a regular file")
    out_name = _out_name(path)
    name = str(name) if name else out_name or os.path.basename(path)
    if _fits(info.st_size):
        with open(path, "rb") as handle:
            reply = _send(name, data=handle.read())
    else:
        reply = _send(name, size=info.st_size)
    if out_name is not None:
        _state.sent[os.path.abspath(path)] = (info.st_ino, info.st_size, info.st_mtime_ns)
    return reply


def _figure_of(obj):
    """The matplotlib figure ``obj`` is or belongs to (a Figure, an Axes, anything with ``.figure``)."""
    if hasattr(obj, "savefig"):
        return obj
    figure = getattr(obj, "figure", None)
    if figure is not None and hasattr(figure, "savefig"):
        return figure
    return None


def show(obj=None, *, name=None, dpi=None):
    """Render a picture as PNG and hand it back with the run's result: a matplotlib figure (or axes; the
    current figure when none is given, which is then closed) or a PIL image. Returns the host's answer."""
    import io

    pyplot = sys.modules.get("matplotlib.pyplot")
    if obj is None:
        if pyplot is None or not pyplot.get_fignums():
            raise ValueError("runtime.show(): no figure given, and no matplotlib figure is open")
        obj = pyplot.gcf()
    buffer = io.BytesIO()
    figure = _figure_of(obj)
    if figure is not None:
        options = {"format": "png", "bbox_inches": "tight"}
        if dpi is not None:
            options["dpi"] = dpi
        figure.savefig(buffer, **options)
        number = getattr(figure, "number", None)
        default = f"figure-{number}.png" if isinstance(number, int) else "figure.png"
        if pyplot is not None:
            # Shown once: the figures still open when the code ends are rendered again otherwise.
            pyplot.close(figure)
    elif hasattr(obj, "save") and hasattr(obj, "mode"):
        obj.save(buffer, format="PNG")
        default = "image.png"
    else:
        raise TypeError(
            f"runtime.show() takes a matplotlib figure or axes, or a PIL image, not {type(obj).__name__}"
        )
    return attach_bytes(str(name) if name else _unique(default), buffer.getvalue())


def _collect(write_stderr):
    """Hand back what the code left (internal: the runner calls this when the code has finished): every open
    matplotlib figure, then the files of out/ that are new or changed. A failure is a line through
    ``write_stderr``, and the rest goes on."""
    from . import runtime

    def _note(text):
        write_stderr(f"mcp-bridge: {text}\n")

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            numbers = list(pyplot.get_fignums())
        except Exception as exc:
            numbers = []
            _note(f"could not list the open matplotlib figures: {exc!r}")
        for number in numbers:
            try:
                show(pyplot.figure(number))
            except runtime.MCPError as exc:
                _note(f"figure {number} was not attached: {exc}")
            except Exception as exc:
                _note(f"figure {number} could not be rendered: {exc!r}")
    if _state.out_dir is None:
        return
    looked_at = 0
    for directory, subdirs, files in os.walk(_state.out_dir):
        subdirs.sort()
        for filename in sorted(files):
            path = os.path.join(directory, filename)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            # Regular files only: a symbolic link is not followed, a fifo would block.
            if not stat.S_ISREG(info.st_mode):
                continue
            if _state.sent.get(path) == (info.st_ino, info.st_size, info.st_mtime_ns):
                continue
            looked_at += 1
            if looked_at > MAX_COLLECTED:
                _note(f"out/ has more than {MAX_COLLECTED} new files; the rest were not sent (zip them)")
                return
            try:
                attach(path)
            except runtime.MCPError as exc:
                _note(f"out/{_out_name(path)} was not attached: {exc}")
            except OSError as exc:
                _note(f"out/{_out_name(path)} could not be read: {exc}")
