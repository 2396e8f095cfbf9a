"""The sandbox's ``mcp`` package: ``mcp.runtime`` helpers, ``mcp.servers.<alias>`` tool modules and
``mcp.user_tools`` (saved tools, each loaded when imported by name; not imported here).

It shadows any real ``mcp`` distribution in the image: the bootstrap's in-memory importer comes first.
"""

from . import runtime, servers

__all__ = ["runtime", "servers"]
