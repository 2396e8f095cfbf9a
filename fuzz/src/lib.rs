//! The bridge's protocol decoder compiled on its own for fuzzing: the very files the bridge builds
//! (`src/sandbox/protocol/`, `src/sandbox/frames.rs`), which use nothing of the crate but serde, serde_json,
//! strum, thiserror and bytes. Building the whole bridge here would drag in wasmtime and the plugin build.
//! Likewise the built-in plugins' parsers of what the user writes, and the built-in response encoders, from their
//! own source files.
#![allow(dead_code)]

// Siblings, as in the bridge's `sandbox` module: `frames.rs` names the protocol `super::protocol`.
#[path = "../../src/sandbox/protocol/mod.rs"]
pub mod protocol;

#[path = "../../src/sandbox/frames.rs"]
pub mod frames;

/// The `config-files` discovery plugin's parser: one client config file (JSON, JSONC, TOML) → server entries.
#[path = "../../plugins/config-files/src/parse.rs"]
pub mod config_files;

/// The `rules` policy (its `crate::glob` is this crate's `glob`).
#[path = "../../plugins/rules/src/policy.rs"]
pub mod rules;

#[path = "../../plugins/rules/src/glob.rs"]
pub mod glob;

// The built-in response encoders (plugins/{toon,auto,compact,json}: cdylibs, so compiled here from their own files;
// `toon` and `auto` share the `mcp-bridge-toon-render` library, a dependency here as there). Natively their
// `register_encoder!` only checks the trait, so each is the plain `mcp_bridge_plugin_sdk::Encoder` the plugin's
// component export calls.

/// The `toon` encoder.
#[path = "../../plugins/toon/src/lib.rs"]
pub mod toon;

/// The `auto` encoder.
#[path = "../../plugins/auto/src/lib.rs"]
pub mod auto;

/// The `compact` encoder, the bridge's default.
#[path = "../../plugins/compact/src/lib.rs"]
pub mod compact;

/// The `json` encoder.
#[path = "../../plugins/json/src/lib.rs"]
pub mod json;

use protocol::Request;

/// Longest error message a request may produce: names from the sandbox are echoed shortened, so a message
/// never grows with the input.
pub const MAX_MESSAGE: usize = 4096;

/// A decoded request must mean what it says: written back in the wire format and decoded again, it is the
/// same request.
pub fn assert_round_trip(request: &Request) {
    let wire = serde_json::to_value(request).expect("a request is JSON");
    let method = wire["method"]
        .as_str()
        .expect("a request has a method name");
    assert_eq!(method, request.method().name());
    let again = Request::parse(method, wire["params"].clone());
    assert_eq!(again.as_ref(), Ok(request), "{wire}");
}
