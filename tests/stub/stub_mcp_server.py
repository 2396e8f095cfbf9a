"""A project-owned MCP server for the bridge's tests: plain JSON-RPC over stdio, standard library only.

It exists for the edge cases third-party servers do not offer on demand: tool errors, slow tools, a crash in
the middle of a call, ``tools/list_changed``, results over 1 MB, tool names that are not Python identifiers,
and a ``github``-like profile with read-only and destructive tools.

Usage: ``stub_mcp_server.py [--profile edge|github] [--fail-start MESSAGE] [--limit-tools] [--id-last]
[--http [--sse]]``.
``--limit-tools`` adds the tools that attack the bridge's bounds (``LIMIT_TOOLS``): results full of nested
``"id"`` keys, oversized lines that answer nothing, a flood of stderr without a newline, a secret written to
stderr before a crash, a call never answered (``hang``; ``cancelled`` lists the requests the client cancelled)
and replies that are not valid JSON-RPC (``bad_reply``).
``--id-last`` writes every response with its ``id`` after the ``result``, as the TypeScript SDK does.
``--http`` serves streamable HTTP on a free local port instead of stdio and prints that port as the first
line of stdout; each reply is a JSON body, or (``--sse``) one server-sent event.
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROTOCOL_VERSION = "2025-06-18"

_write_lock = threading.Lock()
_id_last = False
_cancelled = []  # request ids named by the client's notifications/cancelled

# What ``bad_reply`` writes instead of an answer, by ``kind``: ``{id}`` is the request's id as JSON.
BAD_REPLIES = {
    "not-json": '{{"jsonrpc":"2.0","id":{id},"result":{{"content":[',
    "no-result": '{{"jsonrpc":"2.0","id":{id}}}',
    "wrong-shape": '{{"jsonrpc":"2.0","id":{id},"result":{{"content":"not a list","isError":"no"}}}}',
    "wrong-id": '{{"jsonrpc":"2.0","id":"no-such-request","result":{{"content":[]}}}}',
    "wrong-version": '{{"jsonrpc":"1.0","id":{id},"result":{{"content":[]}}}}',
}


def _send(message):
    data = json.dumps(message, separators=(",", ":")) + "\n"
    with _write_lock:
        sys.stdout.write(data)
        sys.stdout.flush()


def _response(request_id, **body):
    """A response: ``result`` or ``error``, with the ``id`` first or (``--id-last``) last."""
    if _id_last:
        return {**body, "jsonrpc": "2.0", "id": request_id}
    return {"jsonrpc": "2.0", "id": request_id, **body}


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

LIMIT_TOOLS = [
    {
        "name": "nested",
        "description": "A result of at least `size` bytes full of nested `id` keys and escaped quotes.",
        "inputSchema": _schema({"size": {"type": "integer"}}, ["size"]),
    },
    {
        "name": "noise",
        "description": "Write a notification and a garbage line of `size` bytes each, then answer.",
        "inputSchema": _schema({"size": {"type": "integer"}}, ["size"]),
    },
    {
        "name": "flood_stderr",
        "description": "Write `size` bytes to stderr without a newline (then one newline if `end_line`).",
        "inputSchema": _schema({"size": {"type": "integer"}, "end_line": {"type": "boolean"}}, ["size"]),
    },
    {
        "name": "hang",
        "description": "Never answer.",
        "inputSchema": _schema({}),
    },
    {
        "name": "cancelled",
        "description": "The ids of the requests the client cancelled so far, as JSON.",
        "inputSchema": _schema({}),
    },
    {
        "name": "bad_reply",
        "description": "Answer with a line that is not a valid JSON-RPC response (see BAD_REPLIES).",
        "inputSchema": _schema({"kind": {"type": "string", "enum": sorted(BAD_REPLIES)}}, ["kind"]),
    },
    {
        "name": "leak_and_crash",
        "description": "Write `stderr` to stderr, then exit in the middle of the call.",
        "inputSchema": _schema({"stderr": {"type": "string"}}, ["stderr"]),
    },
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
    def __init__(self, profile, limit_tools=False):
        self.profile = profile
        self.limit_tools = limit_tools
        self.tools = list(GITHUB_TOOLS if profile == "github" else EDGE_TOOLS)
        if limit_tools:
            self.tools += LIMIT_TOOLS

    def call_limit_tool(self, name, args):
        """The ``LIMIT_TOOLS``; ``None`` for any other name."""
        if name == "nested":
            row = {"id": 666, "text": '","id":666,"x":"\\', "inner": {"id": "nested", "list": [{"id": 1}]}}
            rows = [row] * (int(args["size"]) // len(json.dumps(row)) + 1)
            return _text("nested", structured={"id": "not-the-request-id", "rows": rows})
        if name == "noise":
            size = int(args["size"])
            with _write_lock:
                note = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"data": "n" * size}}
                sys.stdout.write(json.dumps(note) + "\n")
                sys.stdout.write("g" * size + "\n")
                sys.stdout.flush()
            return _text("after noise")
        if name == "flood_stderr":
            chunk = "e" * 65536
            left = int(args["size"])
            while left > 0:
                sys.stderr.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
            if args.get("end_line"):
                sys.stderr.write("\n")
            sys.stderr.flush()
            return _text("flooded")
        if name == "cancelled":
            return _text(json.dumps(_cancelled))
        if name == "leak_and_crash":
            sys.stderr.write(f"{args['stderr']}\nstub: crashing on purpose\n")
            sys.stderr.flush()
            os._exit(3)
        return None

    def call(self, name, args):
        if self.limit_tools and any(tool["name"] == name for tool in LIMIT_TOOLS):
            return self.call_limit_tool(name, args)
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


def _answer(server, message):
    try:
        result = server.handle(message)
    except LookupError as exc:
        return _response(message["id"], error={"code": -32602, "message": str(exc)})
    except NotImplementedError as exc:
        return _response(message["id"], error={"code": -32601, "message": f"no method {exc}"})
    return _response(message["id"], result=result)


def _serve_one(server, message):
    params = message.get("params") or {}
    if server.limit_tools and message.get("method") == "tools/call":
        if params.get("name") == "hang":
            return
        if params.get("name") == "bad_reply":
            kind = (params.get("arguments") or {}).get("kind")
            with _write_lock:
                sys.stdout.write(BAD_REPLIES[kind].format(id=json.dumps(message["id"])) + "\n")
                sys.stdout.flush()
            return
    _send(_answer(server, message))


def _serve_http(server, sse):
    """Streamable HTTP, stateless: each POSTed request is answered in its response; no GET stream."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def _reply(self, status, content_type=None, body=b""):
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (a reply over its size limit)

        def do_POST(self):
            message = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if "id" not in message or "method" not in message:
                self._reply(202)
                return
            data = json.dumps(_answer(server, message), separators=(",", ":"))
            if sse:
                self._reply(200, "text/event-stream", f"event: message\ndata: {data}\n\n".encode())
            else:
                self._reply(200, "application/json", data.encode())

        def do_GET(self):
            self._reply(405)

        def do_DELETE(self):
            self._reply(405)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", choices=["edge", "github"], default="edge")
    parser.add_argument("--fail-start", metavar="MESSAGE")
    parser.add_argument("--limit-tools", action="store_true", help="add the tools that attack size bounds")
    parser.add_argument("--id-last", action="store_true", help="write each response's id after its result")
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP; print the port")
    parser.add_argument("--sse", action="store_true", help="with --http: answer with server-sent events")
    options = parser.parse_args()
    global _id_last
    _id_last = options.id_last
    if options.fail_start:
        sys.stderr.write(f"stub: starting\nstub: {options.fail_start}\n")
        sys.exit(2)
    server = Server(options.profile, options.limit_tools)
    if options.http:
        _serve_http(server, options.sse)
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        if message.get("method") == "notifications/cancelled":
            _cancelled.append((message.get("params") or {}).get("requestId"))
        if "id" not in message or "method" not in message:
            continue  # notifications and responses
        # Calls run concurrently, as a real server's would: a slow tool does not hold up the others.
        threading.Thread(target=_serve_one, args=(server, message), daemon=True).start()


if __name__ == "__main__":
    main()
