"""One submodule per MCP server loaded for this run: ``from mcp.servers.<alias> import *``."""

__all__ = []
