"""The official Python MCP SDK's client (PyPI ``mcp``) against ``bridge serve`` over stdio or HTTP: a second,
independent implementation of both lifecycles (the ``initialize`` handshake and 2026-07-28's discovery).

    PYTHONPATH=tests/sdk/.deps python3 tests/sdk/python_client.py BRIDGE MODE [URL]

MODE is ``legacy`` or ``2026-07-28``. Without URL the client starts ``BRIDGE serve`` and speaks stdio; with
it, it speaks Streamable HTTP to a running ``bridge serve --http`` at URL, with the bearer token in
``MCP_TEST_TOKEN``. The bridge's settings come from the environment (tests/sdk.rs sets a policy that asks
before the stub server's ``echo``). Prints one JSON object with what the client saw; every elicitation is
answered with an approval.
"""

import asyncio
import json
import os
import sys

from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcp import Client, StdioServerParameters, types

TRY_ECHO = """
try:
    print((await mcp_stub.echo(text="hi")).text)
except runtime.PolicyDenied as exc:
    print("denied:", exc)
"""


async def main(bridge, mode, url=None):
    asked = []

    async def approve(context, params):
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    if url is None:
        server = StdioServerParameters(command=bridge, args=["serve"], env=dict(os.environ))
    else:
        headers = {"Authorization": f"Bearer {os.environ['MCP_TEST_TOKEN']}"}
        server = streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
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
    asyncio.run(main(*sys.argv[1:4]))
