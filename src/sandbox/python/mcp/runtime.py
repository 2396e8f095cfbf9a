"""Helpers for code running in the mcp-bridge sandbox (pre-imported as ``runtime``).

The names match the original bridge's ``mcp.runtime`` so existing snippets keep working; the host fills in the
server metadata and the request channel before the user's code starts.
"""

import sys

from . import _rpc

__all__ = [
    "MCPError",
    "PolicyDenied",
    "ToolError",
    "ToolResult",
    "attach",
    "call_tool",
    "capability_summary",
    "describe_server",
    "discovered_servers",
    "list_loaded_server_metadata",
    "list_servers",
    "list_servers_sync",
    "list_tools",
    "list_tools_sync",
    "delete_memory",
    "delete_saved_tool",
    "end_session",
    "get_memory_info",
    "list_memories",
    "list_saved_tools",
    "load_memory",
    "memory_exists",
    "query_tool_docs",
    "query_tool_docs_sync",
    "search_tool_docs",
    "save_memory",
    "save_tool",
    "search_tool_docs_sync",
    "session_name",
    "show",
    "update_memory",
]

_FALLBACK_MANUAL = """--- PYTHON SANDBOX MANUAL ---
1. The code runs in an isolated container: no network, read-only root, writable /tmp and /workspace (cwd).
2. Top-level `await` works; stdout and stderr are returned as lists of lines.
3. An uncaught exception gives exit code 1 (traceback on stderr); `sys.exit(n)` gives exit code n.
4. Servers named in the `servers` argument appear as `mcp_<alias>`, in `mcp_servers` and as
   `from mcp.servers.<alias> import *`.
5. `runtime` (this module) is pre-imported.
"""

_DETAILS = ("name", "summary", "full")


class MCPError(RuntimeError):
    """A request to an MCP server failed: the server is not loaded, the host refused, or the server broke."""


class PolicyDenied(MCPError):
    """A policy plugin of the bridge refused this tool call; ``reason`` says which one and why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class ToolError(MCPError):
    """The tool ran and reported an error (``isError``); ``result`` is its full :class:`ToolResult`."""

    def __init__(self, server, tool, result):
        text = result.text.strip() if isinstance(result, ToolResult) else ""
        super().__init__(f"{server}.{tool} failed: {text or 'the tool reported an error'}")
        self.server = server
        self.tool = tool
        self.result = result


class _AttrDict(dict):
    """A dict whose keys also read as attributes (``block.text`` as well as ``block["text"]``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no key or attribute {name!r}") from None


def _wrap(value):
    if isinstance(value, dict):
        return _AttrDict((k, _wrap(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class ToolResult(_AttrDict):
    """A tool's result: the MCP ``CallToolResult`` dict (``r["content"][0]["text"]``), plus attribute access,
    ``.text`` (the text content joined) and ``.data`` (``structuredContent``, else the text parsed as JSON
    when it parses, else None)."""

    @property
    def text(self):
        blocks = self.get("content") or []
        return "\n".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")

    @property
    def data(self):
        structured = self.get("structuredContent")
        if structured is not None:
            return structured
        try:
            # json itself (imported when needed): servers' JSON text may hold NaN, which json.loads reads.
            import json

            return _wrap(json.loads(self.text))
        except ValueError:
            return None

    @property
    def is_error(self):
        return bool(self.get("isError"))


# Per-run state, set by the sandbox runtime through _configure().
_manual = None
_client = _rpc.Unavailable()
_loaded = ()
_discovered = ()
# The session this call runs in (None: a single-use container), and whether the code asked to end it.
_session = None
_end_requested = False


def _configure(*, manual=None, server_info=None, client=None, session=None):
    """Install per-run data sent by the host (internal: called by the sandbox runtime)."""
    global _manual, _client, _loaded, _discovered, _session, _end_requested
    _session = session if isinstance(session, str) and session else None
    _end_requested = False
    _manual = manual if isinstance(manual, str) and manual else None
    info = server_info if isinstance(server_info, dict) else {}
    _loaded = tuple(s for s in info.get("loaded") or () if isinstance(s, dict))
    _discovered = tuple(s for s in info.get("discovered") or () if isinstance(s, dict))
    if client is not None:
        _client = client


def session_name():
    """The name of the session this code runs in, or None when the container serves this one run only."""
    return _session


def end_session():
    """End this session once the current call finishes: its container is removed and its state is gone.

    The next ``run_python`` call naming the session starts a new one. Outside a session this raises
    RuntimeError (a single-use container ends with its run anyway).
    """
    global _end_requested
    if _session is None:
        raise RuntimeError(
            "runtime.end_session(): this run is not in a session (pass `session` to run_python to start one)"
        )
    _end_requested = True


def _session_end_requested():
    """Whether the code called end_session() during this call (internal: read by the sandbox runtime)."""
    return _end_requested


def attach(file, name=None):
    """Hand a file back with this run's result: a path (named by its path below ``/workspace/out/`` or its
    base name, unless ``name`` is given) or bytes with a ``name``. Images (PNG, JPEG, GIF, WebP, SVG) come
    back as pictures the client can show, other files as embedded resources. Returns the host's answer,
    ``{"attached": True, "name", "mimeType"}``, or ``{"attached": False, "name", "reason"}`` when a size or
    count limit leaves the file out (the result lists it with the reason)."""
    from . import _files

    return _files.attach(file, name)


def show(figure=None, *, name=None, dpi=None):
    """Render a matplotlib figure or axes (the current figure when none is given) or a PIL image as PNG and
    hand it back with this run's result, like ``attach``; a matplotlib figure is closed once shown. Figures
    still open when the code ends are shown anyway."""
    from . import _files

    return _files.show(figure, name=name, dpi=dpi)


def _raise(failure):
    if failure.kind == "policy_denied":
        raise PolicyDenied(str(failure)) from None
    raise MCPError(str(failure)) from None


async def _call(method, params):
    try:
        return await _client.call(method, params)
    except _rpc.RpcFailure as failure:
        _raise(failure)


def _call_sync(method, params):
    try:
        return _client.call_sync(method, params)
    except _rpc.RpcFailure as failure:
        _raise(failure)


def _server(name):
    """The metadata of a loaded server, by name or alias."""
    for server in _loaded:
        if name in (server.get("name"), server.get("alias")):
            return server
    raise MCPError(f"Server {name!r} is not loaded (loaded: {', '.join(list_servers_sync()) or 'none'})")


def _tool_name(server, tool):
    """A tool's real name from its name or Python alias (unknown names pass through for the host to judge)."""
    for meta in server.get("tools") or ():
        if tool in (meta.get("name"), meta.get("alias")):
            return meta["name"]
    return tool


def _detail(detail):
    value = str(detail).lower()
    if value not in _DETAILS:
        raise ValueError(f"detail must be one of {', '.join(_DETAILS)}, not {detail!r}")
    return value


def capability_summary():
    """Return the sandbox manual (Markdown): what the sandbox allows and how MCP servers are used."""
    return _manual if _manual is not None else _FALLBACK_MANUAL


async def call_tool(server, tool, arguments=None, *, raise_on_error=True):
    """Call ``tool`` of loaded ``server`` (name or alias) with ``arguments`` (a dict).

    Returns a :class:`ToolResult`. A result with ``isError`` raises :class:`ToolError` unless
    ``raise_on_error=False``; a policy refusal raises :class:`PolicyDenied`.
    """
    if arguments is not None and not isinstance(arguments, dict):
        raise TypeError(f"arguments must be a dict, not {type(arguments).__name__}")
    meta = _server(server) if any(server in (s.get("name"), s.get("alias")) for s in _loaded) else None
    server_name = meta["name"] if meta else server
    tool_name = _tool_name(meta, tool) if meta else tool
    params = {"server": server_name, "tool": tool_name, "arguments": arguments or {}}
    result = ToolResult(_wrap(await _call("call_tool", params) or {}))
    if raise_on_error and result.is_error:
        raise ToolError(server_name, tool_name, result)
    return result


async def list_tools(server):
    """The tools of a loaded server as it reports them now (dicts with name, description, inputSchema…)."""
    return [_wrap(tool) for tool in await _call("list_tools", {"server": server})]


async def list_servers():
    """The names of the servers loaded for this run, sorted."""
    return tuple(await _call("list_servers", {}))


def list_servers_sync():
    """The names of the servers loaded for this run, in request order."""
    return tuple(server["name"] for server in _loaded)


def discovered_servers(detailed=False):
    """Every configured MCP server's name (dicts with name and description when ``detailed``)."""
    if detailed:
        return tuple({"name": s["name"], "description": s.get("description") or ""} for s in _discovered)
    return tuple(s["name"] for s in _discovered)


def _metadata(server):
    return {
        "name": server["name"],
        "alias": server["alias"],
        "tools": [
            {
                "name": t["name"],
                "alias": t["alias"],
                "description": t.get("description") or "",
                "input_schema": t.get("input_schema") or {},
            }
            for t in server.get("tools") or ()
        ],
        "cwd": server.get("cwd"),
    }


def describe_server(name):
    """The metadata dict of a loaded server (name, alias, tools, cwd); MCPError if it is not loaded."""
    return _metadata(_server(name))


def list_loaded_server_metadata():
    """The metadata dicts of every loaded server."""
    return tuple(_metadata(server) for server in _loaded)


def list_tools_sync(server=None):
    """The tool metadata of a loaded server, from what the host sent at start."""
    if server is None:
        raise MCPError("list_tools_sync(server) requires a server name")
    return tuple(_metadata(_server(server))["tools"])


def _doc(server, tool, detail):
    doc = {
        "server": server["name"],
        "serverAlias": server["alias"],
        "tool": tool["name"],
        "toolAlias": tool["alias"],
    }
    description = (tool.get("description") or "").strip()
    if detail != "name" and description:
        doc["description"] = description
    if detail == "full" and tool.get("input_schema"):
        doc["inputSchema"] = tool["input_schema"]
    return doc


def query_tool_docs_sync(server, tool=None, detail="summary"):
    """Docs of a loaded server's tools (all, or ``tool`` by name or alias), from the metadata sent at start.

    ``detail`` is ``name``, ``summary`` or ``full`` (with the input schema). Always a list.
    """
    if tool is not None and not isinstance(tool, str):
        raise MCPError("'tool' must be a string when provided")
    detail = _detail(detail)
    meta = _server(server)
    tools = meta.get("tools") or ()
    if tool is not None:
        wanted = tool.lower()
        tools = [t for t in tools if wanted in (t["name"].lower(), t["alias"].lower())]
        if not tools:
            raise MCPError(f"Tool {tool!r} not found for server {meta['name']}")
    return [_doc(meta, t, detail) for t in tools]


async def query_tool_docs(server, tool=None, detail="summary"):
    """Like :func:`query_tool_docs_sync`, asked of the host (the server's current list); with ``tool`` and one
    match, a single dict."""
    params = {"server": server, "tool": tool, "detail": _detail(detail)}
    docs = [_wrap(d) for d in await _call("query_tool_docs", params)]
    if tool is not None and len(docs) == 1:
        return docs[0]
    return docs


async def search_tool_docs(query, *, limit=5, detail="summary"):
    """Search the tools of EVERY configured server (not only loaded ones) by name and description.

    Best matches first; ``detail`` is ``name``, ``summary`` or ``full``."""
    params = {"query": str(query), "limit": _limit(limit), "detail": _detail(detail)}
    return [_wrap(d) for d in await _call("search_tool_docs", params)]


def search_tool_docs_sync(query, *, limit=5, detail="summary"):
    """:func:`search_tool_docs` for code without ``await``."""
    params = {"query": str(query), "limit": _limit(limit), "detail": _detail(detail)}
    return [_wrap(d) for d in _call_sync("search_tool_docs", params)]


def _limit(limit):
    try:
        value = int(limit)
    except (TypeError, ValueError):
        raise ValueError(f"limit must be an integer, not {limit!r}") from None
    return max(1, min(value, 50))


# Memory: small JSON values kept by the host between runs (<state dir>/user_tools/memory), by key. Keys are
# sanitised as the original bridge did: characters outside [A-Za-z0-9_-] become "_", at most 100 characters.


def _json_value(value):
    # Values go as JSON; like the original bridge, anything JSON cannot hold is stored as its str().
    import json

    return json.loads(json.dumps(value, default=str))


def save_memory(key, value, *, metadata=None):
    """Store ``value`` (JSON-compatible) under ``key`` for later runs; returns ``"Memory 'key' saved."``."""
    params = {"key": str(key), "value": _json_value(value), "metadata": _json_value(metadata)}
    return _call_sync("memory_save", params)


def load_memory(key, *, default=None):
    """The value stored under ``key``, or ``default``."""
    reply = _call_sync("memory_load", {"key": str(key)})
    return _wrap(reply["value"]) if reply.get("found") else default


def delete_memory(key):
    """Remove ``key``; returns ``"Memory 'key' deleted."`` or ``"Memory 'key' not found."``."""
    return _call_sync("memory_delete", {"key": str(key)})


def list_memories():
    """Every entry's key, metadata, created_at and updated_at (no values), sorted by key."""
    entries = []
    cursor = 0
    seen = set()
    # The host answers one page at a time; `next` is the cursor of the following page, null after the last.
    while True:
        seen.add(cursor)
        page = _call_sync("memory_list", {"cursor": cursor})
        if not isinstance(page, dict) or not isinstance(page.get("entries"), list):
            raise MCPError(f"memory_list: the host's reply is not a page of entries: {page!r:.200}")
        entries.extend(_wrap(entry) for entry in page["entries"])
        cursor = page.get("next")
        if cursor is None:
            return entries
        if not isinstance(cursor, int) or isinstance(cursor, bool) or cursor in seen:
            raise MCPError(f"memory_list: the host's next cursor {cursor!r} would not end the listing")


def get_memory_info(key):
    """``key``'s metadata, created_at and updated_at, or None."""
    info = _call_sync("memory_info", {"key": str(key)})
    return _wrap(info) if info is not None else None


def memory_exists(key):
    """Whether something is stored under ``key``."""
    return get_memory_info(key) is not None


def update_memory(key, updater):
    """Store ``updater(current value or None)`` under ``key``; returns the new value."""
    value = updater(load_memory(key))
    save_memory(key, value)
    return value


# Saved tools: functions kept by the host (<state dir>/user_tools/<name>.py). A run uses one only by
# importing it (`from mcp.user_tools import name`, see mcp.user_tools); saving and loading go through the
# user's policies.


def _forget_saved_tool(name):
    # A tool this run imported stays cached in mcp.user_tools; once it is saved again or deleted, the next
    # import must ask the host. Nothing to forget when mcp.user_tools was never used (no loader imported).
    loader = sys.modules.get("mcp._saved_tools")
    if loader is not None:
        loader.forget(name)


def save_tool(func):
    """Keep ``func``'s source on the host so later runs can use it: ``from mcp.user_tools import <name>``.

    The source goes through the user's policies first (a refusal raises :class:`PolicyDenied`) and saving
    replaces a tool of the same name. Later runs never run it unless they import it. Returns the host's
    message.
    """
    import inspect
    import textwrap

    name = getattr(func, "__name__", "")
    if not callable(func) or not isinstance(name, str) or not name.isidentifier():
        raise TypeError("save_tool() needs a function defined with def")
    if name.startswith("__") and name.endswith("__"):
        raise ValueError(f"save_tool(): {name!r} cannot be imported from mcp.user_tools; rename the function")
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError) as exc:
        raise MCPError(f"save_tool(): the source of {name} is not available ({exc})") from None
    compile(source, f"<user_tools/{name}>", "exec")
    message = _call_sync("tool_save", {"name": name, "source": source})
    _forget_saved_tool(name)
    return message


def list_saved_tools():
    """The saved tools as dicts with ``name``, ``bytes`` (source size) and ``saved_at``, sorted by name."""
    return [_wrap(tool) for tool in _call_sync("tool_list", {}) or ()]


def delete_saved_tool(name):
    """Delete saved tool ``name``; returns the host's message (``"Tool 'name' deleted."`` or not found)."""
    message = _call_sync("tool_delete", {"name": str(name)})
    _forget_saved_tool(str(name))
    return message
