"""How ``mcp.user_tools`` loads a saved tool: asked of the host by name, executed in a module of its own.

A saved tool is code an earlier run left behind, so it is hostile to this run: it runs only when this run's
code imports it by name, the host puts its source through the user's policies first (``tool_load``,
PROTOCOL.md §5), and whatever it raises while loading — ``SystemExit`` and ``KeyboardInterrupt`` included —
fails that import only, as an ``ImportError`` naming the tool.

This lives apart from ``mcp.user_tools`` so that module's namespace holds nothing but dunders and the tools it
loaded: a helper of ours can never shadow a saved tool's name.
"""

import linecache
import sys
import threading
import types

from . import runtime

MODULE = "mcp.user_tools"


def _is_tool_name(name):
    # The host saves ASCII identifiers only. Dunders are never tools: the import system and introspection
    # probe names like __path__ and __wrapped__, which must not reach the host.
    return (
        isinstance(name, str)
        and name.isascii()
        and name.isidentifier()
        and not (name.startswith("__") and name.endswith("__"))
    )


def saved_names():
    """The names of the saved tools, sorted, as the host lists them now."""
    names = []
    for entry in runtime.list_saved_tools():
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            names.append(entry["name"])
    return sorted(names)


def _saved_hint():
    try:
        return ", ".join(saved_names()) or "none"
    except runtime.MCPError as exc:
        return f"unknown: {exc}"


def _describe(exc):
    try:
        text = str(exc)
    except Exception:
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _from_file(tb, filename):
    """The traceback from the tool's own first frame on (the loader's frames say nothing to the reader)."""
    current = tb
    while current is not None and current.tb_frame.f_code.co_filename != filename:
        current = current.tb_next
    return current if current is not None else tb


def _saved_or_none():
    try:
        return saved_names()
    except runtime.MCPError:
        return None


def load(name):
    """Ask the host for saved tool ``name``, run its source in a fresh module, return its function ``name``.

    Raises ``runtime.PolicyDenied`` when a policy refuses the load, ``ImportError`` for everything else.
    """
    try:
        reply = runtime._call_sync("tool_load", {"name": name})
    except runtime.PolicyDenied:
        raise
    except runtime.MCPError as failure:
        saved = _saved_or_none()
        if saved is not None and name not in saved:
            # The host's own "not found" message adds nothing to this one.
            raise ImportError(
                f"no saved tool named {name!r} (saved: {', '.join(saved) or 'none'}); "
                "runtime.save_tool(func) saves one",
                name=MODULE,
            ) from None
        raise ImportError(f"saved tool {name!r} could not be loaded: {failure}", name=MODULE) from failure
    source = reply.get("source") if isinstance(reply, dict) else None
    if not isinstance(source, str):
        raise ImportError(f"saved tool {name!r}: the host's reply carries no source", name=MODULE)

    filename = f"<user_tools/{name}>"
    # mtime None: linecache.checkcache() keeps the entry, so tracebacks and inspect.getsource show the lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(f"{MODULE}.{name}", f"The saved tool {name!r}.")
    try:
        exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)
    except BaseException as exc:
        # BaseException on purpose: a saved tool that calls sys.exit() or raises KeyboardInterrupt must fail
        # this import, not end the run that imported it.
        exc.__traceback__ = _from_file(exc.__traceback__, filename)
        raise ImportError(f"saved tool {name!r} failed while loading: {_describe(exc)}", name=MODULE) from exc
    function = module.__dict__.get(name)
    if not callable(function):
        raise ImportError(
            f"saved tool {name!r} does not define a function named {name!r} "
            f"(it defines: {', '.join(k for k in module.__dict__ if not k.startswith('__')) or 'nothing'})",
            name=MODULE,
        )
    # In sys.modules under the name its functions carry in __module__, so pickle, typing.get_type_hints and
    # inspect.getmodule find their module.
    sys.modules[module.__name__] = module
    return function


class _NoStarImport(tuple):
    """``mcp.user_tools.__all__``: empty to introspection, but ``from mcp.user_tools import *`` raises.

    A star import would run every saved tool's code, including ones this run never meant to use; tools are
    imported by name only.
    """

    __slots__ = ()

    def __getitem__(self, index):
        # The star import reads __all__ item by item; len(), `in` and iteration see an empty tuple.
        raise ImportError(
            "from mcp.user_tools import * is not supported: a saved tool's code runs only when it is "
            f"imported by name, e.g. `from mcp.user_tools import name` (saved: {_saved_hint()})",
            name=MODULE,
        )

    def __repr__(self):
        return "()"


def module_hooks(namespace):
    """``(__getattr__, __dir__, __all__)`` for the lazy module whose globals are ``namespace``.

    A loaded tool is cached in ``namespace``, so the next import finds it without asking the host.
    """
    # Per thread: a tool that imports itself (directly or through others) fails instead of recursing.
    state = threading.local()

    def __getattr__(name):
        if not _is_tool_name(name):
            raise AttributeError(f"module {MODULE!r} has no attribute {name!r}")
        loading = state.__dict__.setdefault("loading", [])
        if name in loading:
            cycle = " -> ".join([*loading[loading.index(name) :], name])
            raise ImportError(f"saved tool {name!r} imports itself ({cycle})", name=MODULE)
        loading.append(name)
        try:
            function = load(name)
        finally:
            loading.pop()
        # setdefault: when two threads load the same tool at once, both get the first one stored.
        return namespace.setdefault(name, function)

    def __dir__():
        return sorted(set(namespace) | set(saved_names()))

    return __getattr__, __dir__, _NoStarImport()


def forget(name):
    """Drop ``name`` from the cache (after this run saved or deleted it), so the next import asks the host."""
    module = sys.modules.get(MODULE)
    if module is not None and _is_tool_name(name):
        module.__dict__.pop(name, None)
        sys.modules.pop(f"{MODULE}.{name}", None)
