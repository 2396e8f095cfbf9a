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
//!
//! The logic lives in [`policy`] and [`glob`], free of WebAssembly bindings, so it is tested natively
//! (`cargo test --target x86_64-unknown-linux-gnu -p mcp-bridge-plugin-rules`); the WIT glue is built only for
//! `wasm32`.

pub mod glob;
pub mod policy;

use policy::Config;
use std::sync::RwLock;

/// The configuration `configure` accepted last; `None` until then.
static CONFIG: RwLock<Option<Config>> = RwLock::new(None);

/// Applies a configuration (the body of `configure`).
pub fn configure(json: &str) -> Result<(), String> {
    let config = Config::parse(json)?;
    *CONFIG.write().unwrap_or_else(|e| e.into_inner()) = Some(config);
    Ok(())
}

/// Runs `f` on the configuration, or denies when there is none yet.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn with_config(f: impl FnOnce(&Config) -> policy::Decision) -> policy::Decision {
    match CONFIG.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(config) => f(config),
        None => policy::Decision::Deny("the rules policy is not configured".into()),
    }
}

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({ world: "policy-plugin", path: "../../wit/since_v0.1.0" });

    use super::policy::{self, Annotations};
    use exports::mcp_bridge::plugin::plugin::Guest as Plugin;
    use exports::mcp_bridge::plugin::policy::{CallRequest, Decision, Guest as Policy, RunRequest};
    use mcp_bridge::plugin::types::Info;

    struct Rules;

    impl Plugin for Rules {
        fn metadata() -> Info {
            Info {
                name: "rules".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                description: env!("CARGO_PKG_DESCRIPTION").into(),
            }
        }

        fn configure(config: String) -> Result<(), String> {
            super::configure(&config)
        }
    }

    impl Policy for Rules {
        fn check_run(run: RunRequest) -> Decision {
            convert(super::with_config(|c| {
                c.check_run(&policy::Run {
                    code: &run.code,
                    servers: &run.servers,
                    timeout_seconds: run.timeout_seconds,
                })
            }))
        }

        fn check_call(call: CallRequest) -> Decision {
            let a = &call.annotations;
            convert(super::with_config(|c| {
                c.check_call(&policy::Call {
                    server: &call.server,
                    tool: &call.tool,
                    annotations: Annotations {
                        read_only: a.read_only,
                        destructive: a.destructive,
                        idempotent: a.idempotent,
                        open_world: a.open_world,
                    },
                })
            }))
        }
    }

    fn convert(d: policy::Decision) -> Decision {
        match d {
            policy::Decision::Allow => Decision::Allow,
            policy::Decision::Deny(why) => Decision::Deny(why),
            policy::Decision::Ask(prompt) => Decision::Ask(prompt),
        }
    }

    export!(Rules);
}

#[cfg(test)]
mod tests;
