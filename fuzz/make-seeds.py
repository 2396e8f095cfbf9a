#!/usr/bin/env python3
"""Writes the seed corpus (corpus/<target>): frames exactly as the sandbox runtime encodes them
(mcp_bridge_relay.encode, and the requests mcp/runtime.py and mcp/_files.py make), plus the hostile frames
tests/protocol.rs forges; client config files and `rules` configurations; run payloads and JSON objects for the
encoders. Run from anywhere; it replaces the seeds it writes."""

import hashlib
import json
import pathlib
import sys

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here.parent / "src" / "sandbox" / "python"))
import mcp_bridge_relay  # noqa: E402

# The relay writes every frame the host reads, encoded by this function (the runner's go through it too).
encode = mcp_bridge_relay.encode

# (method, params) as mcp/runtime.py and mcp/_saved_tools.py send them.
REQUESTS = [
    ("list_servers", {}),
    ("list_tools", {"server": "github"}),
    ("call_tool", {"server": "stub", "tool": "echo", "arguments": {"text": "positional"}}),
    ("query_tool_docs", {"server": "stub", "tool": None, "detail": "summary"}),
    ("search_tool_docs", {"query": "issue", "limit": 5, "detail": "full"}),
    ("memory_save", {"key": "k007", "value": "secret-value-7", "metadata": {"n": 7}}),
    ("memory_load", {"key": "k007"}),
    ("memory_delete", {"key": "k0"}),
    ("memory_info", {"key": "flood"}),
    ("memory_list", {"cursor": 100}),
    ("tool_save", {"name": "helper", "source": "def helper():\n    return 1\n"}),
    ("tool_load", {"name": "double"}),
    ("tool_list", {}),
    ("tool_delete", {"name": "planted"}),
    ("attach", {"name": "plots/figure-1.png", "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"}),
    ("attach", {"name": "big.bin", "size": 9437184}),
]

# Frames, each seed a few lines as one read of the container's stdout; the first byte is the fuzz target's
# knob (0xff: the largest cap, reads of 36 bytes).
rpc = [encode({"t": "rpc", "id": i, "method": m, "params": p}) for i, (m, p) in enumerate(REQUESTS, 1)]
FRAMES = [
    encode({"t": "out", "s": "stdout", "d": "('stub',)\n"}) + encode({"t": "done", "exit": 0}),
    encode({"t": "out", "s": "stderr", "d": 'Traceback (most recent call last):\n  File "<sandbox>"\né\n'}),
    rpc[2] + encode({"t": "out", "s": "stdout", "d": "5 5\n"}),
    rpc[4] + rpc[5],
    rpc[9] + rpc[10],
    rpc[0] + rpc[12] + encode({"t": "done", "exit": 3}),
    # A session's call ends with a done that says whether the code ended the session.
    encode({"t": "started"}) + encode({"t": "done", "exit": 1, "end": False}),
    encode({"t": "done", "exit": 0, "end": True}),
    # Forged by tests/protocol.rs: a reused id, an unknown type, a duplicate key, invalid UTF-8.
    b'{"t":"rpc","id":7,"method":"a"}\n{"t":"rpc","id":7,"method":"b"}\n',
    b'{"t":"exec","code":"x"}\n',
    b'{"t":"done","exit":0,"exit":1}\n',
    b"\xff\xfe\n",
    b'{"t":"rpc","id":1,"method":"memory_save","params":{"key":"deep","value":'
    + b"[" * 130
    + b"]" * 130
    + b"}}\n",
    b'{"t":"rpc","id":2,"method":"memory_list","params":{"cursor":-1}}\n',
]


def write(directory, seeds):
    path = here / "corpus" / directory
    path.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        (path / hashlib.sha1(seed).hexdigest()).write_bytes(seed)


write("frame", [b"\xff" + frame for frame in FRAMES])
write(
    "request",
    [json.dumps({"method": m, "params": p}, separators=(",", ":")).encode() for m, p in REQUESTS]
    + [b'{"method":"tool_saev","params":{"name":"x","source":"def x(): pass"}}', b'{"method":"memory_load"}'],
)

# Client config files as the clients write them; the first byte picks the file name (0: ~/.claude.json,
# 1: .vscode/mcp.json, 2: ~/.codex/config.toml, 3: VS Code's settings.json), as the discovery target reads it.
CONFIG_FILES = [
    (
        0,
        '{"mcpServers": {"github": {"command": "npx", "args": ["-y", "@mcp/github"], "env": {"T": "x"}},'
        ' "web": {"url": "https://example.com/mcp", "type": "http"}}}',
    ),
    (
        1,
        '// comments and trailing commas\n{"servers": {"stub": {"command": "python3", "args": ["s.py"],},},}',
    ),
    (
        2,
        '[mcp_servers.docs]\ncommand = "uvx"\nargs = ["docs-mcp"]\nenv = { KEY = "v" }\n'
        '[mcp_servers.remote]\nurl = "http://127.0.0.1:9/mcp"\n',
    ),
    (3, '{"editor.fontSize": 12, "mcp": {"servers": {"a": {"command": "a", "disabled": true}}}}'),
]
# The `rules` policy's configuration, as [plugins.rules.config] becomes JSON.
RULES = [
    {"default": "allow"},
    {
        "default": "deny",
        "default_reason": "not listed",
        "rules": [
            {"server": "github", "tool": ["delete_*", "drop?"], "action": "deny", "reason": "no deletes"},
            {"server": "*", "read_only": True, "action": "allow"},
            {"tool": "write*", "action": "ask"},
        ],
        "run": {
            "max_timeout": 60,
            "deny_servers": ["prod"],
            "deny_code_contains": ["os.system"],
            "action": "ask",
        },
    },
]

write("discovery", [bytes([knob]) + text.encode() for knob, text in CONFIG_FILES])
write("rules", [json.dumps(config).encode() for config in RULES])

# Response payloads as the bridge builds them (src/response: from_outcome, validation_error, a session call with
# files), and JSON objects of the shapes TOON writes differently (tabular rows, list items, nested and empty
# containers, floats TOON writes without exponents, -0, the ends of the i64/u64 domains), for the encoders target.
PAYLOADS = [
    {"status": "success", "summary": "Success", "exitCode": 0, "servers": ["stub", "fs"], "stdout": ["line1", "line2"]},
    {
        "status": "timeout",
        "summary": "Timeout: execution exceeded 5s",
        "stdout": ["partial"],
        "stderr": ["tb"],
        "error": "Execution timed out after 5s",
        "timeoutSeconds": 5,
    },
    {
        "status": "error",
        "summary": "Sandbox error: Sandbox exited with code 1",
        "exitCode": 1,
        "stdout": ["a, b", "x: y", "  lead", '"q"', "-1", "true", "", "héllo 🎉", "tab\there", "[1]", "# c"],
        "stderr": ["Traceback (most recent call last):", "ValueError: boom"],
        "error": "Sandbox exited with code 1\nline two",
    },
    {"status": "validation_error", "summary": "Missing 'code' argument", "error": "Missing 'code' argument"},
    {
        "status": "success",
        "summary": "Success (session 'db', call 2)",
        "exitCode": 0,
        "session": {"name": "db", "call": 2},
        "files": [
            {"name": "plots/figure-1.png", "mimeType": "image/png", "bytes": 2048},
            {"name": "big.bin", "bytes": 9437184, "skipped": "over the limit"},
        ],
    },
]
OBJECTS = [
    {"users": [{"id": 1, "name": "Alice", "role": "admin"}, {"id": 2, "name": "Bob", "role": "user"}]},
    {"n": [1.0, -0.0, 0.1, 1e20, 5e-324, -9223372036854775808, 18446744073709551615, 1.5e300], "x": None, "t": True},
    {"a": [[1], [2, [3]], {}, "- x"], "b": {"c": {"d": []}}, "": "", "k y": {"e": [{"f": 1}, 2]}},
]
write(
    "encoders",
    [json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() for value in PAYLOADS + OBJECTS],
)
