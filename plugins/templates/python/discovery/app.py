"""{{name}}: an mcp-bridge discovery source (world discovery-plugin of wit/plugin.wit, API 0.2.0).

Reads the project's mcp-servers.json: {"mcpServers": {"NAME": {"command": ..., "args": [...], "env": {...}} or
{"url": ...}}}. The host reads the file for the plugin (a plugin has no file system) and hands it to `parse`.
"""

import mcp_bridge_plugin as mbp
from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.discovery import FilePattern, ServerEntry, SourceFile
from wit_world.imports.types import Info


def _text(entry: dict, key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) else None


class Plugin(exports.Plugin):
    def metadata(self) -> Info:
        return mbp.info("{{name}}", "0.1.0", "{{description}}")

    def configure(self, config: str) -> None:
        mbp.config(config, allowed=[])


class Discovery(exports.Discovery):
    def wanted_files(self) -> list[FilePattern]:
        return [mbp.cwd("mcp-servers.json")]

    def parse(self, file: SourceFile) -> list[ServerEntry]:
        # Raising Err is the WIT `err`: the host skips the file with a warning naming it.
        servers = mbp.parse_object(file.contents, file.path).get("mcpServers", {})
        if not isinstance(servers, dict):
            raise Err(f'{file.path}: "mcpServers" must be an object')
        entries = []
        for name, entry in servers.items():
            if not isinstance(entry, dict):
                raise Err(f'{file.path}: server "{name}" must be an object')
            args = entry.get("args")
            env = entry.get("env")
            entries.append(
                mbp.server(
                    name,
                    command=_text(entry, "command"),
                    args=args if isinstance(args, list) else [],
                    env=env if isinstance(env, dict) else None,
                    url=_text(entry, "url"),
                    transport=_text(entry, "type"),
                    disabled=entry.get("disabled") is True,
                )
            )
        return entries
