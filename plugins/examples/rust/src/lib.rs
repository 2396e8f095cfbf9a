//! Example policy plugin `example-deny-destructive-rust`: denies any tool call whose tool declares
//! `destructiveHint: true` or whose name starts with `delete_`, and any run whose code contains `os.system(`.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` (or `./build.sh`), then copy
//! `target/wasm32-wasip2/release/example_deny_destructive_rust.wasm` into a plugin directory.

// The bindings for the `policy-plugin` world. `path` is the WIT folder of the mcp-bridge repository; when you
// copy this crate elsewhere, copy `wit/plugin.wit` along and point `path` at it.
wit_bindgen::generate!({ world: "policy-plugin", path: "../../../wit/since_v0.1.0" });

use exports::mcp_bridge::plugin::plugin::Guest as Plugin;
use exports::mcp_bridge::plugin::policy::{CallRequest, Decision, Guest as Policy, RunRequest};
use mcp_bridge::plugin::types::Info;

struct DenyDestructive;

impl Plugin for DenyDestructive {
    fn metadata() -> Info {
        Info {
            name: "example-deny-destructive-rust".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: env!("CARGO_PKG_DESCRIPTION").into(),
        }
    }

    fn configure(config: String) -> Result<(), String> {
        // This plugin takes no settings: accept `{}` only, so that settings given by mistake are reported.
        let compact: String = config.split_whitespace().collect();
        if compact == "{}" {
            Ok(())
        } else {
            Err(format!("this plugin takes no configuration, got {config}"))
        }
    }
}

impl Policy for DenyDestructive {
    fn check_run(run: RunRequest) -> Decision {
        if run.code.contains("os.system(") {
            Decision::Deny("runs may not call os.system()".into())
        } else {
            Decision::Allow
        }
    }

    fn check_call(call: CallRequest) -> Decision {
        let (tool, server) = (&call.tool, &call.server);
        if call.annotations.destructive == Some(true) {
            Decision::Deny(format!("{tool} on {server} is marked destructive"))
        } else if tool.starts_with("delete_") {
            Decision::Deny(format!("{tool} on {server} looks like a deletion"))
        } else {
            Decision::Allow
        }
    }
}

export!(DenyDestructive);
