//! The host's side of the plugin API, in the latest version's terms: what the bridge hands to plugins and what
//! it gets back. They are the Rust SDK's own types (`plugins/sdk`), so the host and every plugin written with the
//! SDK share one definition; the host names the request types after what it does with them (`RunCheck` is the
//! SDK's `RunRequest`). Each WIT version's module (`wit/since_v0_*.rs`) converts these into its own generated
//! types and back, so nothing outside `wit/` knows which version a plugin was built against.

pub use mcp_bridge_plugin_sdk::{
    Base, Decision, Encoded, FilePattern, ResultDecision, RunPurpose, SourceFile,
};

/// A run about to start (or code about to be stored or loaded: see [`RunPurpose`]), as policies see it.
/// Policies built against 0.1.0 cannot tell the purposes apart and see each as a run.
pub type RunCheck = mcp_bridge_plugin_sdk::RunRequest;

/// A tool call about to be made, as policies see it.
pub type CallCheck = mcp_bridge_plugin_sdk::CallRequest;

/// A tool's result about to go back to the sandbox, as policies see it (0.2.0 and later).
pub type ResultCheck = mcp_bridge_plugin_sdk::CallResult;

/// The MCP hints a tool declares.
pub type ToolAnnotations = mcp_bridge_plugin_sdk::Annotations;

/// Who a plugin says it is (`metadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Unique name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// One line.
    pub description: String,
}
