//! {{name}}: an mcp-bridge policy (world `policy-plugin` of `wit/plugin.wit`, API 0.2.0), on the Rust plugin SDK.
//!
//! Denies tool calls whose tool name contains `delete`, asks the user before those whose name contains `write`,
//! allows every run, and hands every tool result back unchanged.

use mcp_bridge_plugin_sdk::{
    CallRequest, CallResult, Decision, Plugin, Policy, ResultDecision, RunRequest, log,
    register_policy,
};

#[derive(Default)]
struct MyPolicy;

/// No settings: the SDK's default `configure` accepts only `{}` and names any key it is given. To take some,
/// implement `configure` and keep them in fields of `MyPolicy`.
impl Plugin for MyPolicy {}

impl Policy for MyPolicy {
    fn check_run(&self, _run: &RunRequest) -> Decision {
        // `run.purpose` says why: a run, saving or loading a tool, or tool search starting a server.
        Decision::Allow
    }

    fn check_call(&self, call: &CallRequest) -> Decision {
        if call.tool.contains("delete") {
            log::info!("denied {}.{}", call.server, call.tool);
            return Decision::deny(format!(
                "{} on {} may delete data, and this policy does not allow that",
                call.tool, call.server
            ));
        }
        if call.tool.contains("write") {
            return Decision::ask(format!("Let {} on {} write?", call.tool, call.server));
        }
        Decision::Allow
    }

    fn check_result(&self, _result: &CallResult) -> ResultDecision {
        // Redacts nothing. To mask a secret instead: parse `result.result_json()`, change it, and return
        // `ResultDecision::replace(&changed)`.
        ResultDecision::Allow
    }
}

register_policy!(MyPolicy);
