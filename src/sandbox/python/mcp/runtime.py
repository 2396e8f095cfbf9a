"""Helpers for code running in the mcp-bridge sandbox (pre-imported as ``runtime``).

The names match the original bridge's ``mcp.runtime`` so existing snippets keep working. Server metadata and
tool proxies are filled in by the sandbox runtime before the user's code starts.
"""

__all__ = [
    "MCPError",
    "capability_summary",
    "describe_server",
    "discovered_servers",
    "list_loaded_server_metadata",
    "list_servers_sync",
]

_FALLBACK_MANUAL = """--- PYTHON SANDBOX MANUAL ---
1. The code runs in an isolated container: no network, read-only root, writable /tmp and /workspace (cwd).
2. Top-level `await` works; stdout and stderr are returned as lists of lines.
3. An uncaught exception gives exit code 1 (traceback on stderr); `sys.exit(n)` gives exit code n.
4. Servers named in the `servers` argument appear as `mcp_<alias>`, in `mcp_servers` and as
   `from mcp.servers.<alias> import *`.
5. `runtime` (this module) is pre-imported.
"""

# Set by the sandbox runtime through _configure(); None means "use the built-in fallback".
_manual = None


class MCPError(RuntimeError):
    """Raised by the sandbox helpers, e.g. when a server is not loaded in this run."""


def _configure(*, manual=None):
    """Install per-run data sent by the host (internal: called by the sandbox runtime)."""
    global _manual
    _manual = manual if isinstance(manual, str) and manual else None


def capability_summary():
    """Return the sandbox manual (Markdown): what the sandbox allows and how MCP servers are used."""
    return _manual if _manual is not None else _FALLBACK_MANUAL


def discovered_servers(detailed=False):
    """Return the names of every configured MCP server (dicts with name/description when ``detailed``)."""
    return ()


def list_servers_sync():
    """Return the names of the MCP servers loaded for this run, in request order."""
    return ()


def list_loaded_server_metadata():
    """Return the metadata dicts of the MCP servers loaded for this run."""
    return ()


def describe_server(name):
    """Return the metadata dict of a loaded server; raise MCPError if ``name`` is not loaded."""
    raise MCPError(f"Server {name!r} is not loaded")
