"""Saved tools and the store helpers, end to end: the real bootstrap + runtime in a subprocess, and the test
playing the host (answering ``tool_*`` and ``memory_list`` requests as PROTOCOL.md §5 says the bridge does).

A saved tool is code an earlier run left behind. The attacks here are the ones that motivated loading them on
demand: saved code that ends every later run before the model's code starts, and saved code that runs although
the run never asked for it.
"""

import unittest

from .test_runtime import run_sandbox

DOUBLE = "def double(x):\n    '''Twice x.'''\n    return 2 * x\n"
# Each of these ran at the start of every later run when saved tools were loaded eagerly.
EXITS = "print('SAVED CODE RAN')\nraise SystemExit(0)\n"
INTERRUPTS = "raise KeyboardInterrupt\n"
BASE = "class Escape(BaseException):\n    pass\nraise Escape('out of here')\n"
NO_FUNCTION = "def something_else():\n    return 1\n"
FAILS_LATER = "def fails_later(x):\n    return 1 / x\n"
CYCLE_A = "from mcp.user_tools import cycle_b\ndef cycle_a():\n    return cycle_b()\n"
CYCLE_B = "from mcp.user_tools import cycle_a\ndef cycle_b():\n    return cycle_a()\n"
USES_OTHER = "from mcp.user_tools import double\ndef quadruple(x):\n    return double(double(x))\n"


class FakeHost:
    """The bridge's store, as the runtime sees it over rpc: saved tools by name, memory entries by key."""

    def __init__(self, tools=None, memories=(), denied=(), page_size=2):
        self.tools = dict(tools or {})
        self.memories = sorted(memories)
        self.denied = set(denied)
        self.page_size = page_size
        self.requests = []

    def methods(self, name=None):
        """The methods requested so far (only those called ``name``, when given)."""
        return [method for method, _ in self.requests if name in (None, method)]

    def answer(self, method, params):
        self.requests.append((method, params))
        name = params.get("name")
        if method == "tool_load":
            if name in self.denied:
                return {
                    "ok": False,
                    "error": f"policy 'no-saved' denied loading tool {name!r}",
                    "kind": "policy_denied",
                }
            if name not in self.tools:
                return {"ok": False, "error": f"Tool '{name}' not found.", "kind": "error"}
            return {"ok": True, "result": {"name": name, "source": self.tools[name]}}
        if method == "tool_list":
            listed = [
                {"name": n, "bytes": len(s.encode()), "saved_at": "2026-01-01T00:00:00Z"}
                for n, s in sorted(self.tools.items())
            ]
            return {"ok": True, "result": listed}
        if method == "tool_save":
            self.tools[name] = params["source"]
            return {
                "ok": True,
                "result": f"Tool '{name}' saved. Use it with: from mcp.user_tools import {name}",
            }
        if method == "tool_delete":
            found = self.tools.pop(name, None) is not None
            return {"ok": True, "result": f"Tool '{name}' {'deleted' if found else 'not found'}."}
        if method == "memory_list":
            cursor = params.get("cursor", 0)
            keys = self.memories[cursor : cursor + self.page_size]
            after = cursor + len(keys)
            entries = [{"key": k, "metadata": None, "created_at": "t", "updated_at": "t"} for k in keys]
            return {
                "ok": True,
                "result": {"entries": entries, "next": after if after < len(self.memories) else None},
            }
        return {"ok": False, "error": f"unknown method {method}", "kind": "error"}


def saved_host(**extra):
    tools = {
        "double": DOUBLE,
        "exits": EXITS,
        "interrupts": INTERRUPTS,
        "escapes": BASE,
        "no_function": NO_FUNCTION,
        "fails_later": FAILS_LATER,
        **extra,
    }
    return FakeHost(tools=tools, denied={"secret"})


class LazyLoadingTests(unittest.TestCase):
    def test_a_run_that_imports_no_saved_tool_runs_no_saved_code(self):
        # The attack: a saved tool that prints and exits. Eagerly loaded, it ended every later run first.
        host = saved_host()
        r = run_sandbox("print('model code ran')", host=host)
        self.assertEqual((r.stdout, r.stderr, r.exit), ("model code ran\n", "", 0))
        self.assertEqual(host.requests, [])

    def test_saved_tools_smuggled_into_the_boot_frame_are_ignored(self):
        # An older host put every saved tool into server_info.user_tools; the runtime must not run them.
        smuggled = {"user_tools": [{"name": "exits", "source": EXITS}], "loaded": [], "discovered": []}
        r = run_sandbox("print('model code ran')\nprint(dir())", host=FakeHost(), server_info=smuggled)
        self.assertEqual(r.exit, 0)
        self.assertNotIn("SAVED CODE RAN", r.stdout)
        self.assertNotIn("exits", r.stdout)

    def test_importing_the_module_under_either_name_loads_nothing(self):
        host = saved_host()
        code = (
            "import user_tools\nimport mcp.user_tools\nfrom mcp import user_tools as again\n"
            "print(user_tools is mcp.user_tools is again, user_tools.__name__)\n"
            "print(hasattr(user_tools, '__path__'), hasattr(user_tools, '__wrapped__'), user_tools.__all__)\n"
        )
        r = run_sandbox(code, host=host)
        self.assertEqual((r.stdout, r.exit), ("True mcp.user_tools\nFalse False ()\n", 0))
        self.assertEqual(host.requests, [])

    def test_an_imported_tool_is_loaded_once_and_cached(self):
        host = saved_host()
        code = (
            "from mcp.user_tools import double\n"
            "from mcp.user_tools import double as again\n"
            "import user_tools\n"
            "print(double(21), again is double is user_tools.double, double.__doc__)\n"
            "print(double.__module__, double.__code__.co_filename)\n"
        )
        r = run_sandbox(code, host=host)
        self.assertEqual(
            (r.stdout, r.stderr, r.exit),
            ("42 True Twice x.\nmcp.user_tools.double <user_tools/double>\n", "", 0),
        )
        self.assertEqual(host.requests, [("tool_load", {"name": "double"})])

    def test_start_up_imports_no_saved_tool_machinery(self):
        # Start-up time is benchmarked: the loader comes with the first import of a saved tool, not before.
        code = "import sys\nprint([m for m in sys.modules if 'user_tools' in m or 'saved' in m])"
        self.assertEqual(run_sandbox(code, host=saved_host()).stdout, "[]\n")

    def test_only_the_imported_tool_runs_also_under_await(self):
        host = saved_host()
        code = "import asyncio\nawait asyncio.sleep(0)\nimport user_tools\nprint(user_tools.double(2))"
        r = run_sandbox(code, host=host)
        self.assertEqual((r.stdout, r.exit), ("4\n", 0))
        self.assertEqual(host.methods(), ["tool_load"])

    def test_source_and_tracebacks_show_the_saved_lines(self):
        code = (
            "import inspect\nfrom mcp.user_tools import double, fails_later\n"
            "print(inspect.getsource(double), end='')\n"
            "fails_later(0)\n"
        )
        r = run_sandbox(code, host=saved_host())
        self.assertEqual(r.stdout, DOUBLE)
        self.assertEqual(r.exit, 1)
        self.assertIn('File "<sandbox>", line 4, in <module>', r.stderr)
        self.assertIn('File "<user_tools/fails_later>", line 2, in fails_later\n    return 1 / x\n', r.stderr)
        self.assertTrue(r.stderr.endswith("ZeroDivisionError: division by zero\n"), r.stderr)

    def test_a_saved_tool_can_import_another(self):
        host = saved_host(quadruple=USES_OTHER)
        r = run_sandbox("from mcp.user_tools import quadruple, double\nprint(quadruple(3))", host=host)
        self.assertEqual((r.stdout, r.exit), ("12\n", 0))
        self.assertEqual(host.methods(), ["tool_load", "tool_load"])

    def test_dir_lists_saved_tools_without_loading_them(self):
        host = saved_host()
        code = "import user_tools\nprint([n for n in dir(user_tools) if not n.startswith('__')])"
        r = run_sandbox(code, host=host)
        self.assertEqual(
            r.stdout, "['double', 'escapes', 'exits', 'fails_later', 'interrupts', 'no_function']\n"
        )
        self.assertEqual(host.methods(), ["tool_list"])

    def test_star_import_is_refused_and_runs_nothing(self):
        host = saved_host()
        code = (
            "try:\n    from mcp.user_tools import *\nexcept ImportError as e:\n    print(e)\nprint('after')"
        )
        r = run_sandbox(code, host=host)
        self.assertIn("from mcp.user_tools import * is not supported", r.stdout)
        self.assertIn("saved: double, escapes, exits", r.stdout)
        self.assertTrue(r.stdout.endswith("after\n"))
        self.assertNotIn("SAVED CODE RAN", r.stdout)
        self.assertEqual(host.methods("tool_load"), [])


class LoadFailureTests(unittest.TestCase):
    def test_a_tool_that_exits_while_loading_fails_only_its_import(self):
        code = """
from mcp.user_tools import double
def report(e):
    print(type(e).__name__, '|', e, '|', type(e.__cause__).__name__)
try:
    from mcp.user_tools import exits
except ImportError as e:
    report(e)
try:
    from mcp.user_tools import interrupts
except ImportError as e:
    report(e)
try:
    import user_tools
    user_tools.escapes
except ImportError as e:
    report(e)
print('still running', double(5))
"""
        r = run_sandbox(code, host=saved_host())
        self.assertEqual(r.exit, 0, r.stderr)
        self.assertEqual(
            r.stdout.splitlines(),
            [
                "SAVED CODE RAN",  # it printed before raising: the run asked for it
                "ImportError | saved tool 'exits' failed while loading: SystemExit: 0 | SystemExit",
                "ImportError | saved tool 'interrupts' failed while loading: KeyboardInterrupt"
                " | KeyboardInterrupt",
                "ImportError | saved tool 'escapes' failed while loading: Escape: out of here | Escape",
                "still running 10",
            ],
        )

    def test_an_uncaught_load_failure_shows_the_tool_and_its_line(self):
        r = run_sandbox("from mcp.user_tools import escapes\nprint('never')", host=saved_host())
        self.assertEqual((r.stdout, r.exit), ("", 1))
        self.assertIn('File "<user_tools/escapes>", line 3, in <module>\n', r.stderr)
        self.assertIn("Escape: out of here", r.stderr)
        self.assertIn("The above exception was the direct cause of the following exception", r.stderr)
        self.assertIn('File "<sandbox>", line 1, in <module>', r.stderr)
        self.assertTrue(
            r.stderr.endswith(
                "ImportError: saved tool 'escapes' failed while loading: Escape: out of here\n"
            ),
            r.stderr,
        )

    def test_a_policy_refusal_raises_policy_denied(self):
        code = (
            "try:\n    from mcp.user_tools import secret\n"
            "except runtime.PolicyDenied as e:\n    print('denied:', e.reason)\n"
        )
        r = run_sandbox(code, host=saved_host(secret="def secret():\n    pass\n"))
        self.assertEqual((r.stdout, r.exit), ("denied: policy 'no-saved' denied loading tool 'secret'\n", 0))

    def test_a_tool_that_is_not_saved_lists_the_saved_ones(self):
        code = "try:\n    from mcp.user_tools import nope\nexcept ImportError as e:\n    print(e)\n"
        host = FakeHost(tools={"double": DOUBLE, "triple": "def triple(x):\n    return 3 * x\n"})
        r = run_sandbox(code, host=host)
        self.assertEqual(
            r.stdout,
            "no saved tool named 'nope' (saved: double, triple); runtime.save_tool(func) saves one\n",
        )
        self.assertEqual(host.methods(), ["tool_load", "tool_list"])

    def test_a_source_without_its_function_is_an_import_error(self):
        code = "try:\n    from mcp.user_tools import no_function\nexcept ImportError as e:\n    print(e)\n"
        r = run_sandbox(code, host=saved_host())
        self.assertEqual(
            r.stdout,
            "saved tool 'no_function' does not define a function named 'no_function' "
            "(it defines: something_else)\n",
        )

    def test_a_failed_import_is_retried_not_cached(self):
        host = saved_host()
        code = (
            "for _ in range(2):\n"
            "    try:\n        from mcp.user_tools import no_function\n"
            "    except ImportError:\n        print('failed')\n"
        )
        r = run_sandbox(code, host=host)
        self.assertEqual(r.stdout, "failed\nfailed\n")
        self.assertEqual(host.methods("tool_load"), ["tool_load", "tool_load"])

    def test_tools_importing_each_other_fail_instead_of_recursing(self):
        host = saved_host(cycle_a=CYCLE_A, cycle_b=CYCLE_B)
        code = "try:\n    from mcp.user_tools import cycle_a\nexcept ImportError as e:\n    print(e)\n"
        r = run_sandbox(code, host=host)
        self.assertEqual(
            r.stdout,
            "saved tool 'cycle_a' failed while loading: ImportError: saved tool 'cycle_b' failed while"
            " loading: ImportError: saved tool 'cycle_a' imports itself (cycle_a -> cycle_b -> cycle_a)\n",
        )

    def test_the_channel_closing_is_an_import_error_naming_the_tool(self):
        # Without a host the rpc channel is closed: the import fails with the reason, the run goes on.
        code = (
            "try:\n    from mcp.user_tools import double\nexcept ImportError as e:\n    print(e)\nprint('ok')"
        )
        r = run_sandbox(code)
        self.assertEqual(r.stdout, "saved tool 'double' could not be loaded: RPC channel closed\nok\n")


class HelperTests(unittest.TestCase):
    def test_save_list_delete_and_the_cache_follows(self):
        host = saved_host()
        code = """
from mcp.user_tools import double
def double(x):
    return x + x + 1
print(save_tool(double))
from mcp.user_tools import double as new
print(new(1))
print([(t['name'], t.bytes) for t in list_saved_tools()][:1])
print(runtime.delete_saved_tool('double'))
print(delete_saved_tool('double'))
try:
    from mcp.user_tools import double
except ImportError as e:
    print(e)
"""
        r = run_sandbox(code, host=host)
        self.assertEqual(r.exit, 0, r.stderr)
        self.assertEqual(
            r.stdout.splitlines(),
            [
                "Tool 'double' saved. Use it with: from mcp.user_tools import double",
                "3",
                "[('double', 36)]",  # len("def double(x):\n    return x + x + 1\n")
                "Tool 'double' deleted.",
                "Tool 'double' not found.",
                "no saved tool named 'double' (saved: escapes, exits, fails_later, interrupts, no_function);"
                " runtime.save_tool(func) saves one",
            ],
        )
        self.assertEqual(
            host.requests[1],
            ("tool_save", {"name": "double", "source": "def double(x):\n    return x + x + 1\n"}),
        )

    def test_save_tool_refuses_names_that_cannot_be_imported(self):
        code = (
            "def __init__():\n    pass\n"
            "try:\n    save_tool(__init__)\nexcept ValueError as e:\n    print(e)\n"
        )
        host = FakeHost()
        r = run_sandbox(code, host=host)
        self.assertEqual(
            r.stdout, "save_tool(): '__init__' cannot be imported from mcp.user_tools; rename the function\n"
        )
        self.assertEqual(host.requests, [])

    def test_list_memories_reads_every_page(self):
        host = FakeHost(memories=[f"k{i}" for i in range(5)])
        r = run_sandbox("print([m.key for m in list_memories()])", host=host)
        self.assertEqual(r.stdout, "['k0', 'k1', 'k2', 'k3', 'k4']\n")
        self.assertEqual(
            [params for _, params in host.requests], [{"cursor": 0}, {"cursor": 2}, {"cursor": 4}]
        )

    def test_list_memories_stops_on_a_cursor_that_repeats(self):
        class Looping(FakeHost):
            def answer(self, method, params):
                self.requests.append((method, params))
                return {"ok": True, "result": {"entries": [{"key": "k"}], "next": 0}}

        code = "try:\n    list_memories()\nexcept runtime.MCPError as e:\n    print(e)\n"
        host = Looping()
        r = run_sandbox(code, host=host)
        self.assertEqual(r.stdout, "memory_list: the host's next cursor 0 would not end the listing\n")
        self.assertEqual(len(host.requests), 1)


if __name__ == "__main__":
    unittest.main()
