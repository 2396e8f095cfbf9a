"""{{name}}: an mcp-bridge response encoder (world encoder-plugin of wit/plugin.wit, API 0.2.0).

Renders a run's result as plain text: the summary, then stdout, stderr and the error, each under a heading.
"""

import mcp_bridge_plugin as mbp
from wit_world import exports
from wit_world.exports.encoder import Encoded, Payload
from wit_world.imports.types import Info


class Plugin(exports.Plugin):
    def metadata(self) -> Info:
        return mbp.info("{{name}}", "0.1.0", "{{description}}")

    def configure(self, config: str) -> None:
        mbp.config(config, allowed=[])


class Encoder(exports.Encoder):
    def encode(self, payload: Payload) -> Encoded:
        # payload.status is a Status enum: Status.SUCCESS, ERROR, TIMEOUT, VALIDATION_ERROR.
        status = payload.status.name.lower().replace("_", "-")
        lines = [f"{status}: {payload.summary}"]
        if payload.exit_code is not None:
            lines.append(f"exit code: {payload.exit_code}")
        if payload.stdout:
            lines += ["", "stdout:", *payload.stdout]
        if payload.stderr:
            lines += ["", "stderr:", *payload.stderr]
        if payload.error is not None:
            lines += ["", f"error: {payload.error}"]
        return mbp.encoded("\n".join(lines))
