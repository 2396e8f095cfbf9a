"""A project-owned MCP server for the bridge's tests: plain JSON-RPC over stdio, standard library only.

It exists for the edge cases third-party servers do not offer on demand: tool errors, slow tools, a crash in
the middle of a call, ``tools/list_changed``, results over 1 MB, tool names that are not Python identifiers,
and a ``github``-like profile with read-only and destructive tools.

Usage: ``stub_mcp_server.py [--profile edge|github] [--fail-start MESSAGE]``.
"""

import argparse
import json
import os
import sys
import threading
import time

PROTOCOL_VERSION = "2025-06-18"

_write_lock = threading.Lock()


def _send(message):
    data = json.dumps(message, separators=(",", ":")) + "\n"
    with _write_lock:
        sys.stdout.write(data)
        sys.stdout.flush()


def _text(text, *, is_error=False, structured=None):
    result = {"content": [{"type": "text", "text": text}], "isError": is_error}
    if structured is not None:
        result["structuredContent"] = structured
    return result


def _schema(properties, required=()):
    return {"type": "object", "properties": properties, "required": list(required)}


EDGE_TOOLS = [
    {
        "name": "echo",
        "description": "Echo the text back.",
        "inputSchema": _schema({"text": {"type": "string", "description": "What to echo."}}, ["text"]),
        "annotations": {"readOnlyHint": True},
    },
    {
        "name": "add",
        "description": "Add two integers; the result is JSON text and structured content.",
        "inputSchema": _schema({"a": {"type": "integer"}, "b": {"type": "integer", "default": 0}}, ["a"]),
        "annotations": {"readOnlyHint": True},
    },
    {
        "name": "fail",
        "description": "Always answers with a tool error (isError).",
        "inputSchema": _schema({"message": {"type": "string"}}),
    },
    {
        "name": "slow",
        "description": "Sleep for the given seconds, then answer.",
        "inputSchema": _schema({"seconds": {"type": "number"}}, ["seconds"]),
    },
    {
        "name": "crash",
        "description": "Exit the server process in the middle of the call.",
        "inputSchema": _schema({}),
    },
    {
        "name": "big",
        "description": "Return a text result of exactly `size` bytes.",
        "inputSchema": _schema({"size": {"type": "integer"}}, ["size"]),
    },
    {
        "name": "grow",
        "description": "Add a tool named `name`, then send notifications/tools/list_changed.",
        "inputSchema": _schema({"name": {"type": "string"}}, ["name"]),
    },
    {
        "name": "pid",
        "description": "Return this server's process id.",
        "inputSchema": _schema({}),
    },
    {
        "name": "env",
        "description": "An environment variable (null when unset) and the working directory.",
        "inputSchema": _schema({"name": {"type": "string"}}, ["name"]),
    },
    {
        "name": "read-file",
        "description": "A hyphenated tool name.",
        "inputSchema": _schema({"path": {"type": "string"}}),
    },
    {"name": "class", "description": "A Python keyword as a tool name.", "inputSchema": _schema({})},
    {"name": "2fa", "description": "A tool name with a leading digit.", "inputSchema": _schema({})},
]

GITHUB_TOOLS = [
    {
        "name": "get_issue",
        "description": "Get one issue.",
        "inputSchema": _schema({"number": {"type": "integer"}}, ["number"]),
        "annotations": {"readOnlyHint": True},
    },
    {
        "name": "list_issues",
        "description": "List the open issues.",
        "inputSchema": _schema({}),
    },
    {
        "name": "search_code",
        "description": "Search code.",
        "inputSchema": _schema({"query": {"type": "string"}}, ["query"]),
    },
    {
        "name": "issue_summary",
        "description": "Summarise an issue (annotated read-only, not named like a read).",
        "inputSchema": _schema({"number": {"type": "integer"}}, ["number"]),
        "annotations": {"readOnlyHint": True},
    },
    {
        "name": "create_issue",
        "description": "Open a new issue.",
        "inputSchema": _schema({"title": {"type": "string"}}, ["title"]),
        "annotations": {"readOnlyHint": False, "destructiveHint": False},
    },
    {
        "name": "delete_repository",
        "description": "Delete the repository.",
        "inputSchema": _schema({}),
        "annotations": {"readOnlyHint": False, "destructiveHint": True},
    },
]


class Server:
    def __init__(self, profile):
        self.profile = profile
        self.tools = list(GITHUB_TOOLS if profile == "github" else EDGE_TOOLS)

    def call(self, name, args):
        if self.profile == "github":
            return _text(
                json.dumps({"tool": name, "arguments": args}), structured={"tool": name, "arguments": args}
            )
        if name == "echo":
            return _text(str(args.get("text", "")))
        if name == "add":
            total = int(args["a"]) + int(args.get("b", 0))
            return _text(json.dumps({"sum": total}), structured={"sum": total})
        if name == "fail":
            return _text(args.get("message", "the tool failed"), is_error=True)
        if name == "slow":
            time.sleep(float(args["seconds"]))
            return _text("slept")
        if name == "crash":
            sys.stderr.write("stub: crashing on purpose\n")
            sys.stderr.flush()
            os._exit(3)
        if name == "big":
            return _text("x" * int(args["size"]))
        if name == "grow":
            self.tools.append(
                {"name": args["name"], "description": "Added at run time.", "inputSchema": _schema({})}
            )
            _send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            return _text("added")
        if name == "pid":
            return _text(str(os.getpid()))
        if name == "env":
            return _text(json.dumps({"value": os.environ.get(args["name"]), "cwd": os.getcwd()}))
        if any(tool["name"] == name for tool in self.tools):
            return _text(f"called {name}")
        return None

    def handle(self, message):
        method = message.get("method")
        params = message.get("params") or {}
        if method == "initialize":
            return {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {"tools": {"listChanged": True}},
                "serverInfo": {"name": f"stub-{self.profile}", "version": "1.0.0"},
            }
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": self.tools}
        if method == "tools/call":
            result = self.call(params.get("name"), params.get("arguments") or {})
            if result is None:
                raise LookupError(f"Unknown tool: {params.get('name')}")
            return result
        raise NotImplementedError(method)


def _serve_one(server, message):
    try:
        result = server.handle(message)
    except LookupError as exc:
        _send({"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32602, "message": str(exc)}})
    except NotImplementedError as exc:
        _send(
            {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": f"no method {exc}"}}
        )
    else:
        _send({"jsonrpc": "2.0", "id": message["id"], "result": result})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", choices=["edge", "github"], default="edge")
    parser.add_argument("--fail-start", metavar="MESSAGE")
    options = parser.parse_args()
    if options.fail_start:
        sys.stderr.write(f"stub: starting\nstub: {options.fail_start}\n")
        sys.exit(2)
    server = Server(options.profile)
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        if "id" not in message or "method" not in message:
            continue  # notifications and responses
        # Calls run concurrently, as a real server's would: a slow tool does not hold up the others.
        threading.Thread(target=_serve_one, args=(server, message), daemon=True).start()


if __name__ == "__main__":
    main()
