"""{{name}}: an mcp-bridge policy (world policy-plugin of wit/plugin.wit, API 0.2.0).

Denies tool calls whose tool name contains "delete", asks the user before those whose name contains "write",
allows every run, and hands every tool result back unchanged.
"""

import mcp_bridge_plugin as mbp
from wit_world import exports
from wit_world.exports.policy import CallRequest, CallResult, Decision, ResultDecision, RunRequest
from wit_world.imports.types import Info


class Plugin(exports.Plugin):
    def metadata(self) -> Info:
        return mbp.info("{{name}}", "0.1.0", "{{description}}")

    def configure(self, config: str) -> None:
        # No settings: anything but {} is refused (raises componentize_py_types.Err, the WIT `err`).
        mbp.config(config, allowed=[])


class Policy(exports.Policy):
    def check_run(self, run: RunRequest) -> Decision:
        # run.purpose says why: RunPurpose_Run(), RunPurpose_SaveTool(name), RunPurpose_LoadTool(name),
        # RunPurpose_Search().
        return mbp.allow()

    def check_call(self, call: CallRequest) -> Decision:
        if "delete" in call.tool:
            mbp.log.info(f"denied {call.server}.{call.tool}")
            return mbp.deny(
                f"{call.tool} on {call.server} may delete data, and this policy does not allow that"
            )
        if "write" in call.tool:
            return mbp.ask(f"Let {call.tool} on {call.server} write?")
        return mbp.allow()

    def check_result(self, outcome: CallResult) -> ResultDecision:
        # Redacts nothing. To mask a secret instead:
        #   result = mbp.result(outcome)   # {"content": [...], "structuredContent"?: ..., "isError"?: ...}
        #   ... change it ...
        #   return mbp.replace(result)
        return mbp.allow_result()
