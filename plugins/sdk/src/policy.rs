//! The policy types: what `check-run`, `check-call` and `check-result` see and answer.

use serde_json::Value;

/// The MCP annotations a tool declares (`None`: the server did not say). They come from the server, so they are
/// claims: trust the user's own rules more than a server's `read_only`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Annotations {
    /// `readOnlyHint`: the tool does not change its environment.
    pub read_only: Option<bool>,
    /// `destructiveHint`: the tool may destroy or overwrite things.
    pub destructive: Option<bool>,
    /// `idempotentHint`: calling it twice with the same arguments does nothing more.
    pub idempotent: Option<bool>,
    /// `openWorldHint`: the tool reaches outside systems.
    pub open_world: Option<bool>,
}

/// Why the host asks [`crate::Policy::check_run`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RunPurpose {
    /// A `run_python` call is about to start a sandbox; `code` is the model's code.
    #[default]
    Run,
    /// Code inside a run saves a tool under this name; `code` is the tool's source.
    SaveTool(String),
    /// Code inside a run loads the saved tool of this name; `code` is the tool's source.
    LoadTool(String),
    /// Tool search inside a run needs to start the one server in `servers` to list its tools; `code` is the
    /// run's code. Search never asks the user, so only `Allow` lets it start the server.
    Search,
}

/// A request to run code, or to store or load code that will run later.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunRequest {
    /// The run's id (also on its container).
    pub run_id: String,
    /// The Python source: see `purpose`.
    pub code: String,
    /// The MCP servers requested for the run (configured names, not aliases).
    pub servers: Vec<String>,
    /// The run's timeout in seconds.
    pub timeout_seconds: u32,
    /// What is being asked.
    pub purpose: RunPurpose,
}

/// A tool call made by code inside the sandbox, about to be sent to an MCP server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallRequest {
    /// The run the call comes from.
    pub run_id: String,
    /// The server's name as configured (not its alias).
    pub server: String,
    /// The tool's name as the server lists it.
    pub tool: String,
    /// The arguments: a JSON object text (see [`CallRequest::arguments_json`]).
    pub arguments: String,
    /// What the tool's definition says about it.
    pub annotations: Annotations,
}

impl CallRequest {
    /// The arguments parsed; `Err` when they are not JSON (the host sends JSON, so this is a host bug).
    pub fn arguments_json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.arguments).map_err(|e| format!("arguments are not JSON: {e}"))
    }
}

/// What a tool returned, about to be handed back to the code in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallResult {
    /// The call it answers (as `check-call` saw it).
    pub call: CallRequest,
    /// MCP's `CallToolResult` as a JSON text: `content` (a list of `{"type":"text","text":…}` and other items),
    /// and when present `structuredContent` and `isError`.
    pub result: String,
}

impl CallResult {
    /// The result parsed; `Err` when it is not JSON.
    pub fn result_json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.result).map_err(|e| format!("result is not JSON: {e}"))
    }
}

/// A policy's answer to `check-run` and `check-call`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No objection.
    Allow,
    /// Refuse; the text says why (the model sees it).
    Deny(String),
    /// Ask the user; the text is the question. Proceeds only if the user accepts (a client that cannot be asked
    /// turns this into a deny).
    Ask(String),
}

impl Decision {
    /// `Deny(reason)`.
    pub fn deny(reason: impl Into<String>) -> Self {
        Decision::Deny(reason.into())
    }

    /// `Ask(question)`.
    pub fn ask(question: impl Into<String>) -> Self {
        Decision::Ask(question.into())
    }
}

/// A policy's answer to `check-result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultDecision {
    /// Hand the result back unchanged.
    Allow,
    /// Withhold the whole result; the code sees a failed call with this reason.
    Deny(String),
    /// Hand this `CallToolResult` JSON text back instead (e.g. the result with secrets masked). Policies after
    /// this one see the replacement; one that is not a valid `CallToolResult` counts as a deny.
    Replace(String),
}

impl ResultDecision {
    /// `Deny(reason)`.
    pub fn deny(reason: impl Into<String>) -> Self {
        ResultDecision::Deny(reason.into())
    }

    /// `Replace` with `result` serialised.
    pub fn replace(result: &Value) -> Self {
        ResultDecision::Replace(result.to_string())
    }
}
