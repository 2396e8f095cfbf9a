"""The sandbox's ``mcp`` package: ``mcp.runtime`` helpers and ``mcp.servers.<alias>`` tool modules.

It shadows any real ``mcp`` distribution in the image: the bootstrap's in-memory importer comes first.
"""

from . import runtime, servers

__all__ = ["runtime", "servers"]
