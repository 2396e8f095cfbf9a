//! Write mcp-bridge plugins in Rust: your logic, nothing else.
//!
//! An mcp-bridge plugin is a WebAssembly component (WASI 0.2) implementing one world of the WIT API
//! `mcp-bridge:plugin@0.2.0` (`wit/since_v0.2.0/plugin.wit`). This crate hides the component glue: you implement
//! [`Plugin`] (configuration) and one kind trait — [`Policy`], [`Encoder`] or [`Discovery`] — on a type of your
//! own, on plain Rust types this crate owns, and export it with one macro: [`register_policy!`],
//! [`register_encoder!`] or [`register_discovery!`]. The plugin's name, version and description come from your
//! `Cargo.toml` (`name = "…"` in the macro overrides the package name).
//!
//! # A complete policy
//!
//! ```
//! use mcp_bridge_plugin_sdk::{CallRequest, Decision, Plugin, Policy, RunRequest, log, register_policy};
//!
//! /// Denies destructive tool calls and runs that call `os.system(`.
//! #[derive(Default)]
//! struct DenyDestructive;
//!
//! // No settings: the default `configure` accepts only `{}` and names any key it is given.
//! impl Plugin for DenyDestructive {}
//!
//! impl Policy for DenyDestructive {
//!     fn check_run(&self, run: &RunRequest) -> Decision {
//!         if run.code.contains("os.system(") {
//!             return Decision::deny("runs may not call os.system()");
//!         }
//!         Decision::Allow
//!     }
//!
//!     fn check_call(&self, call: &CallRequest) -> Decision {
//!         if call.annotations.destructive == Some(true) || call.tool.starts_with("delete_") {
//!             log::info!("denied {}.{}", call.server, call.tool);
//!             return Decision::deny(format!("{} on {} is destructive", call.tool, call.server));
//!         }
//!         Decision::Allow
//!     }
//! }
//!
//! register_policy!(DenyDestructive, name = "deny-destructive");
//! # fn main() {}
//! ```
//!
//! ```toml
//! # Cargo.toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! mcp-bridge-plugin-sdk = { path = "…/plugins/sdk" }
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2 --release`; the `.wasm` in `target/wasm32-wasip2/release/` is
//! the plugin.
//!
//! # Targets
//!
//! On wasm32 the crate links the bindings of all three worlds (one small crate per world,
//! `mcp-bridge-plugin-bindings-*`); only the world you register ends up exported. On other targets it is plain
//! Rust: the types, [`Instance`] for native tests, [`config`] helpers and [`render::json_block`] — which is how the
//! bridge itself uses it — and the register macros only check that your type implements the kind's trait.
//!
//! # How the bridge calls a plugin
//!
//! The bridge calls `metadata`, then `configure` once, then the kind's functions, one request at a time. The
//! register macros keep the configured value in a static [`Instance`]: [`Plugin::configure`] runs on a fresh
//! `Default` value, and only a configuration it accepts replaces the current one. Until one has been accepted,
//! a policy denies, an encoder fails and a discovery source wants no files. After a call that failed, the bridge
//! replaces the instance with a fresh one and configures it again, so keep only configuration in your type:
//! that is why the kind traits take `&self`.
//!
//! A panic is a trap, which the bridge treats as a failure (for a policy: a deny). Return an error or a decision
//! instead; never panic on input.

#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod component;
pub mod config;
mod discovery;
mod encoder;
mod instance;
pub mod log;
mod macros;
mod policy;
pub mod render;

#[cfg(test)]
mod tests;

pub use config::{Config, Kind};
pub use discovery::{Base, FilePattern, ServerEntry, SourceFile};
pub use encoder::{Encoded, FileInfo, Payload, SessionInfo, Status};
pub use instance::Instance;
pub use policy::{
    Annotations, CallRequest, CallResult, Decision, ResultDecision, RunPurpose, RunRequest,
};

/// What every plugin implements, whatever its kind: its configuration.
///
/// The type must be `Default`: the SDK builds a fresh value and hands it the configuration.
pub trait Plugin: Default + Send + Sync + 'static {
    /// Applies the plugin's configuration: its `config` table of the bridge config file, as a JSON object (`{}`
    /// when there is none). `Err` says what is wrong; the plugin is then reported as failed and not used.
    ///
    /// The default accepts only `{}` and refuses anything else with a message naming the keys it got
    /// ([`Config::expect_empty`]).
    fn configure(&mut self, config: &Config<'_>) -> Result<(), String> {
        config.expect_empty()
    }
}

/// A policy: decides whether a run may start, whether a tool call may go through, and what of a tool's result
/// reaches the sandbox. Every method defaults to allowing.
///
/// Every enabled policy is consulted: any deny wins, then any ask, else the request is allowed.
pub trait Policy: Plugin {
    /// Whether a run may start, or a saved tool be stored or loaded, or tool search start a server: see
    /// [`RunRequest::purpose`].
    fn check_run(&self, run: &RunRequest) -> Decision {
        let _ = run;
        Decision::Allow
    }

    /// Whether a tool call may go through.
    fn check_call(&self, call: &CallRequest) -> Decision {
        let _ = call;
        Decision::Allow
    }

    /// What of a tool's result may go back to the sandbox: called for every result of a call this policy
    /// allowed, errors included.
    fn check_result(&self, result: &CallResult) -> ResultDecision {
        let _ = result;
        ResultDecision::Allow
    }
}

/// A response encoder: renders the structured result of a run as the text the model reads.
pub trait Encoder: Plugin {
    /// Renders a payload. `Err` makes the bridge fall back to plain JSON, with a note naming this encoder.
    fn encode(&self, payload: &Payload) -> Result<Encoded, String>;
}

/// A discovery source: finds the MCP servers the user has configured, in files the host reads for it.
pub trait Discovery: Plugin {
    /// The files to read, in precedence order: when two files define the same server name, the first wins.
    fn wanted_files(&self) -> Vec<FilePattern>;

    /// Parses one file into server entries, in the file's order. `Err` says why the file is unusable; the host
    /// then skips it with a warning naming it.
    fn parse(&self, file: &SourceFile) -> Result<Vec<ServerEntry>, String>;
}

/// Not part of the API: what the register macros expand to.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::component::*;
}
