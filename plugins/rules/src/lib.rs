//! Built-in policy `rules`: allow, deny or ask about tool calls by ordered rules on the server's name, the
//! tool's name and the tool's MCP annotations, and refuse runs that break simple limits.
//!
//! Disabled unless the bridge config file enables it (`[plugins.rules] enabled = true`); its configuration is
//! the `[plugins.rules.config]` table, handed to `configure` as JSON.
//!
//! # Configuration
//!
//! Every key is optional; `{}` allows everything.
//!
//! ```toml
//! [plugins.rules.config]
//! default = "allow"              # allow | deny | ask: what a call that no rule matches gets (default: allow)
//! default_reason = "..."         # text for a default of deny or ask (optional)
//!
//! [[plugins.rules.config.rules]] # ordered: the first rule that matches decides
//! server = "github"              # glob, or list of globs, on the server's configured name (default: "*")
//! tool = ["get_*", "list_*"]     # glob, or list of globs, on the tool's name (default: "*")
//! read_only = true               # the tool declares readOnlyHint with this value (optional)
//! destructive = true             # ... destructiveHint (optional)
//! idempotent = true              # ... idempotentHint (optional)
//! open_world = true              # ... openWorldHint (optional)
//! action = "allow"               # allow | deny | ask (required)
//! reason = "..."                 # text the model (deny) or the user (ask) sees; {server} and {tool} are
//!                                # replaced by the call's (optional; not allowed with allow)
//!
//! [plugins.rules.config.run]     # limits on runs (check-run); a run breaking none is allowed
//! max_timeout = 300              # largest timeout a run may ask for, in seconds
//! deny_servers = ["prod-*"]      # globs: servers a run may not request
//! deny_code_contains = ["os.system("] # plain substrings the code may not contain
//! action = "deny"                # deny | ask: what a run breaking a limit gets (default: deny)
//! ```
//!
//! - A rule matches when every condition it gives holds. `server` and `tool` match when any of their globs
//!   matches the whole name.
//! - Globs: `*` matches any run of characters (none included), `?` exactly one; everything else matches
//!   itself, case-sensitively. `[`, `]`, `{`, `}` and `\` are refused (other dialects give them meanings this
//!   one does not have), and so is the empty pattern.
//! - Annotation conditions match only when the tool declares that hint: a tool whose server does not say
//!   `readOnlyHint` matches neither `read_only = true` nor `read_only = false`. Write the rule for the
//!   missing case yourself (usually: let it fall through to a deny).
//! - `configure` is strict: an unknown key, a value of the wrong type, an action outside its set, a bad glob
//!   or an empty text fails the configuration with a message naming where, e.g.
//!   `rules[2].action: expected allow, deny or ask, got "block"`, and the bridge then reports the plugin failed.
//! - Before `configure` succeeds, every call and run is denied.
//! - `check-result` allows every result (rules decide calls, not what they return).
//!
//! The logic lives in [`policy`] and [`glob`]; the SDK does the component glue, so it is all tested natively
//! (`cargo test --target x86_64-unknown-linux-gnu -p mcp-bridge-plugin-rules`).

pub mod glob;
pub mod policy;

use mcp_bridge_plugin_sdk::{CallRequest, Decision, Plugin, Policy, RunRequest, register_policy};

/// The plugin's name, as the bridge config refers to it.
pub const NAME: &str = "rules";

/// The policy: the configuration `configure` accepted (`{}`, allowing everything, until then; the SDK denies
/// every request before a configuration was accepted).
#[derive(Default)]
pub struct Rules {
    config: policy::Config,
}

impl Plugin for Rules {
    fn configure(&mut self, config: &mcp_bridge_plugin_sdk::Config<'_>) -> Result<(), String> {
        self.config = policy::Config::parse(config.json())?;
        Ok(())
    }
}

impl Policy for Rules {
    // Every purpose (a run, saving or loading a tool, search starting a server) meets the same run limits, as
    // 0.1.0 policies saw them all as runs.
    fn check_run(&self, run: &RunRequest) -> Decision {
        self.config.check_run(&policy::Run {
            code: &run.code,
            servers: &run.servers,
            timeout_seconds: run.timeout_seconds,
        })
    }

    fn check_call(&self, call: &CallRequest) -> Decision {
        self.config.check_call(&policy::Call {
            server: &call.server,
            tool: &call.tool,
            annotations: call.annotations,
        })
    }
}

register_policy!(Rules, name = NAME);

#[cfg(test)]
mod tests;
