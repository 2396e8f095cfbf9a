"""Example policy plugin `example-deny-destructive-python`.

Denies any tool call whose tool declares `destructiveHint: true` or whose name starts with `delete_`, and any
run whose code contains `os.system(`.

Built into a WebAssembly component by build.sh (componentize-py: CPython inside the component). The world
`policy-plugin` exports the interfaces `plugin` and `policy`; componentize-py looks in this module for a
class named after each one (`Plugin`, `Policy`) and calls their methods (snake_case names, dataclass
arguments; `option<T>` is the value or None). Run
`componentize-py -d ../../../wit -w policy-plugin bindings wit_bindings` to get the generated types for an
editor or a type checker; the componentize step generates its own copy, the folder is not needed to build.
"""

import json

from wit_world import exports
from wit_world.exports.policy import (
    CallRequest,
    Decision,
    Decision_Allow,
    Decision_Deny,
    RunRequest,
)
from wit_world.imports.types import Info
from componentize_py_types import Err


class Plugin(exports.Plugin):
    def metadata(self) -> Info:
        return Info(
            name="example-deny-destructive-python",
            version="0.1.0",
            description="Example policy: denies destructive tool calls, delete_* tools, "
            "and runs that call os.system(",
        )

    def configure(self, config: str) -> None:
        # This plugin takes no settings: accept `{}` only, so that settings given by mistake are reported.
        # Raising Err(text) returns `err(text)` to the bridge.
        try:
            value = json.loads(config)
        except ValueError as e:
            raise Err(f"the configuration is not JSON: {e}")
        if value != {}:
            raise Err(f"this plugin takes no configuration, got {config}")


class Policy(exports.Policy):
    def check_run(self, run: RunRequest) -> Decision:
        if "os.system(" in run.code:
            return Decision_Deny("runs may not call os.system()")
        return Decision_Allow()

    def check_call(self, call: CallRequest) -> Decision:
        if call.annotations.destructive is True:
            return Decision_Deny(f"{call.tool} on {call.server} is marked destructive")
        if call.tool.startswith("delete_"):
            return Decision_Deny(f"{call.tool} on {call.server} looks like a deletion")
        return Decision_Allow()
