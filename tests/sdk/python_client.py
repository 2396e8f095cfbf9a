"""The official Python MCP SDK's client (PyPI ``mcp``) against ``bridge serve`` over stdio: a second,
independent implementation of both lifecycles (the ``initialize`` handshake and 2026-07-28's discovery).

    PYTHONPATH=tests/sdk/.deps python3 tests/sdk/python_client.py BRIDGE MODE

MODE is ``legacy`` or ``2026-07-28``. The bridge's settings come from the environment (tests/sdk.rs sets a
policy that asks before the stub server's ``echo``). Prints one JSON object with what the client saw; every
elicitation is answered with an approval.
"""

import asyncio
import json
import os
import sys

from mcp import Client, StdioServerParameters, types

TRY_ECHO = """
try:
    print((await mcp_stub.echo(text="hi")).text)
except runtime.PolicyDenied as exc:
    print("denied:", exc)
"""


async def main(bridge, mode):
    asked = []

    async def approve(context, params):
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    server = StdioServerParameters(command=bridge, args=["serve"], env=dict(os.environ))
    async with Client(server, mode=mode, elicitation_callback=approve) as client:
        tools = await client.list_tools()
        printed = await client.call_tool("run_python", {"code": "print(6 * 7)"})
        asked_run = await client.call_tool("run_python", {"code": TRY_ECHO, "servers": ["stub"]})
        seen = {
            "protocol": client.protocol_version,
            "tools": [tool.name for tool in tools.tools],
            "stdout": printed.structured_content["stdout"],
            "asked_stdout": asked_run.structured_content["stdout"],
            "asked": asked,
        }
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
