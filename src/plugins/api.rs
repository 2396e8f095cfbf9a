//! The host's side of the plugin API, in the latest version's terms: what the bridge hands to plugins and what
//! it gets back. Each WIT version's module (`wit/since_v0_*.rs`) converts these into its own generated types
//! and back, so nothing outside `wit/` knows which version a plugin was built against.

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

/// Why the host asks a policy's `check-run`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RunPurpose {
    /// A `run_python` call about to start a sandbox.
    #[default]
    Run,
    /// Code inside a run saves a tool of this name; the code is the tool's source.
    SaveTool(String),
    /// Code inside a run loads the saved tool of this name; the code is its source.
    LoadTool(String),
    /// Tool search inside a run wants to start the one server named in the request.
    Search,
}

/// A run about to start (or code about to be stored or loaded: see [`RunPurpose`]), as policies see it.
#[derive(Debug, Clone, Default)]
pub struct RunCheck {
    /// The run's id.
    pub run_id: String,
    /// Its code.
    pub code: String,
    /// Requested servers.
    pub servers: Vec<String>,
    /// Timeout in seconds.
    pub timeout_seconds: u32,
    /// What is being asked. Policies built against 0.1.0 cannot tell and see every purpose as a run.
    pub purpose: RunPurpose,
}

/// A tool call about to be made, as policies see it.
#[derive(Debug, Clone, Default)]
pub struct CallCheck {
    /// The run it comes from.
    pub run_id: String,
    /// Server name.
    pub server: String,
    /// Tool name.
    pub tool: String,
    /// Arguments, a JSON object text.
    pub arguments: String,
    /// The tool's MCP annotations.
    pub annotations: ToolAnnotations,
}

/// A tool's result about to go back to the sandbox, as policies see it (0.2.0 and later).
#[derive(Debug, Clone, Default)]
pub struct ResultCheck {
    /// The call it answers.
    pub call: CallCheck,
    /// MCP's `CallToolResult` as a JSON text.
    pub result: String,
}

/// The MCP hints a tool declares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolAnnotations {
    /// `readOnlyHint`.
    pub read_only: Option<bool>,
    /// `destructiveHint`.
    pub destructive: Option<bool>,
    /// `idempotentHint`.
    pub idempotent: Option<bool>,
    /// `openWorldHint`.
    pub open_world: Option<bool>,
}

/// One policy's answer to `check-run` or `check-call`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No objection.
    Allow,
    /// Refused, with the reason.
    Deny(String),
    /// Ask the user this question.
    Ask(String),
}

/// One policy's answer to `check-result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultDecision {
    /// Unchanged.
    Allow,
    /// Withheld, with the reason.
    Deny(String),
    /// Replaced by this `CallToolResult` JSON text.
    Replace(String),
}

/// An encoder's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The text content of the MCP result.
    pub text: String,
    /// Its media type.
    pub mime_type: String,
}

/// Where a discovery plugin's wanted file is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The user's home directory.
    Home,
    /// The working directory (the project).
    Cwd,
    /// The path an environment variable holds.
    EnvVar,
}

/// A file a discovery plugin wants to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePattern {
    /// Where `pattern` is relative to.
    pub base: Base,
    /// A relative path with `*`/`?` in components, or an environment variable's name.
    pub pattern: String,
}

/// A file the host read for a discovery plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Where it was found.
    pub base: Base,
    /// Its path relative to `base`.
    pub path: String,
    /// Its contents.
    pub contents: String,
}
