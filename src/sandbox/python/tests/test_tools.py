"""Unit tests of the tool proxies (mcp._tools), the request channel (mcp._rpc) and ToolResult (mcp.runtime).

These import the package directly; the end-to-end path (container, host, real MCP servers) is covered by the
Rust integration tests in tests/proxy.rs.
"""

import asyncio
import inspect
import json
import os
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp import _rpc, _tools, runtime  # noqa: E402

SERVER = {
    "name": "Weird-Name 2",
    "alias": "weird_name_2",
    "tools": [
        {
            "name": "search",
            "alias": "search",
            "description": "Search things.",
            "input_schema": {
                "type": "object",
                "properties": {
                    "limit": {"type": "integer", "default": 10},
                    "query": {"type": "string", "description": "What to look for."},
                    "mode": {"type": "string", "enum": ["fast", "full"]},
                },
                "required": ["query"],
            },
        },
        {
            "name": "read-file",
            "alias": "read_file",
            "description": "",
            "input_schema": {"type": "object", "properties": {"file-path": {"type": "string"}}},
        },
        {
            "name": "name",
            "alias": "name",
            "description": "Shadowed by the proxy's own attribute.",
            "input_schema": {},
        },
    ],
}


class SignatureTests(unittest.TestCase):
    def setUp(self):
        self.proxy = _tools.ServerProxy(SERVER)

    def test_required_first_then_schema_order_with_defaults(self):
        self.assertEqual(str(inspect.signature(self.proxy.search)), "(query, limit=10, mode=None)")
        self.assertTrue(inspect.iscoroutinefunction(self.proxy.search))
        self.assertEqual(self.proxy.search.__qualname__, "mcp_weird_name_2.search")
        self.assertIn("query (string, required): What to look for.", self.proxy.search.__doc__)

    def test_names_that_are_not_identifiers_go_through_var_keyword(self):
        self.assertEqual(str(inspect.signature(self.proxy.read_file)), "(**arguments)")
        self.assertEqual(self.proxy.read_file.__doc__.splitlines()[0], "MCP tool read-file from Weird-Name 2")

    def test_shadowed_tool_names_stay_reachable_by_item(self):
        self.assertEqual(self.proxy.name, "Weird-Name 2")
        self.assertEqual(self.proxy["name"].tool_name, "name")

    def test_unknown_tools_suggest_close_names(self):
        with self.assertRaisesRegex(AttributeError, "has no tool 'serch'; did you mean search"):
            self.proxy.serch  # noqa: B018


class ArgumentTests(unittest.TestCase):
    def setUp(self):
        self.sent = []

        async def fake_call(server, tool, arguments=None, **_):
            self.sent.append((server, tool, arguments))
            return "ok"

        self.original = runtime.call_tool
        runtime.call_tool = fake_call
        self.proxy = _tools.ServerProxy(SERVER)

    def tearDown(self):
        runtime.call_tool = self.original

    def call(self, function, *args, **kwargs):
        return asyncio.run(function(*args, **kwargs))

    def test_positional_and_keyword_arguments_map_to_schema_names(self):
        self.call(self.proxy.search, "cats", 3)
        self.call(self.proxy.search, query="dogs", mode=None)
        self.call(self.proxy.read_file, **{"file-path": "/x"})
        self.assertEqual(
            self.sent,
            [
                ("Weird-Name 2", "search", {"query": "cats", "limit": 3}),
                ("Weird-Name 2", "search", {"query": "dogs"}),
                ("Weird-Name 2", "read-file", {"file-path": "/x"}),
            ],
        )

    def test_schema_violations_are_type_errors_before_any_call(self):
        cases = [
            ((), {}, "missing a required argument: 'query'"),
            ((1,), {}, "argument 'query' must be string, not int"),
            (("q",), {"limit": True}, "argument 'limit' must be integer, not bool"),
            (("q",), {"mode": "slow"}, "argument 'mode' must be one of \\['fast', 'full'\\]"),
            (("q",), {"qurey": 1}, "unexpected keyword argument 'qurey'; did you mean 'query'"),
        ]
        for args, kwargs, message in cases:
            with self.subTest(message=message), self.assertRaisesRegex(TypeError, message):
                self.call(self.proxy.search, *args, **kwargs)
        self.assertEqual(self.sent, [])

    def test_integral_floats_pass_as_integers(self):
        self.call(self.proxy.search, "q", limit=2.0)
        self.assertEqual(self.sent[0][2]["limit"], 2.0)


class ToolResultTests(unittest.TestCase):
    def test_dict_and_attribute_access_text_and_data(self):
        result = runtime.ToolResult(
            runtime._wrap({"content": [{"type": "text", "text": '{"a": 1}'}, {"type": "image", "data": "x"}]})
        )
        self.assertEqual(result["content"][0]["text"], result.content[0].text)
        self.assertEqual(result.text, '{"a": 1}')
        self.assertEqual(result.data, {"a": 1})
        self.assertEqual(result.data.a, 1)
        self.assertFalse(result.is_error)
        plain = runtime.ToolResult(
            runtime._wrap({"content": [{"type": "text", "text": "hi"}], "isError": True})
        )
        self.assertIsNone(plain.data)
        self.assertTrue(plain.is_error)
        structured = runtime.ToolResult({"content": [], "structuredContent": {"b": 2}})
        self.assertEqual(structured.data, {"b": 2})
        with self.assertRaises(AttributeError):
            result.missing  # noqa: B018


class FakeHost:
    """The host end of an RpcClient: reads request frames, answers them through ``answer(request)``."""

    def __init__(self, answer):
        self.to_host_r, self.to_host_w = os.pipe()
        self.to_sandbox_r, self.to_sandbox_w = os.pipe()
        self.answer = answer
        self.lock = threading.Lock()
        self.client = _rpc.RpcClient(self.send, self.to_sandbox_r)
        threading.Thread(target=self.serve, daemon=True).start()

    def send(self, frame):
        os.write(self.to_host_w, (json.dumps(frame) + "\n").encode())

    def serve(self):
        with os.fdopen(self.to_host_r, "rb") as requests:
            for line in requests:
                request = json.loads(line)
                threading.Thread(target=self.reply, args=(request,), daemon=True).start()

    def reply(self, request):
        reply = self.answer(request)
        if reply is None:
            return
        reply["id"] = request["id"]
        with self.lock:
            os.write(self.to_sandbox_w, (json.dumps(reply) + "\n").encode())

    def close(self):
        os.close(self.to_sandbox_w)


class RpcTests(unittest.TestCase):
    def test_concurrent_requests_get_their_own_replies(self):
        release = threading.Event()

        def answer(request):
            if request["params"]["n"] == 0:
                release.wait(5)  # the first request is answered last
            else:
                release.set()
            return {"t": "rpc_result", "ok": True, "result": request["params"]["n"]}

        host = FakeHost(answer)

        async def both():
            return await asyncio.gather(host.client.call("m", {"n": 0}), host.client.call("m", {"n": 1}))

        self.assertEqual(asyncio.run(both()), [0, 1])
        self.assertEqual(host.client.call_sync("m", {"n": 2}), 2)
        host.close()

    def test_failures_keep_their_kind_and_eof_fails_what_waits(self):
        def answer(request):
            if request["method"] == "hang":
                return None
            return {"t": "rpc_result", "ok": False, "error": "no", "kind": "policy_denied"}

        host = FakeHost(answer)
        with self.assertRaises(_rpc.RpcFailure) as caught:
            host.client.call_sync("deny", {})
        self.assertEqual((str(caught.exception), caught.exception.kind), ("no", "policy_denied"))
        threading.Timer(0.2, host.close).start()
        with self.assertRaisesRegex(_rpc.RpcFailure, "RPC channel closed"):
            host.client.call_sync("hang", {})
        with self.assertRaisesRegex(_rpc.RpcFailure, "RPC channel closed"):
            host.client.call_sync("after", {})


if __name__ == "__main__":
    unittest.main()
