//! The encoder types: the run's payload, and the text an encoder makes of it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a run ended. Serialises as `success`, `error`, `timeout`, `validation_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The code ran and exited 0.
    Success,
    /// It raised, exited non-zero, hit a limit, was refused by a policy, or the sandbox failed.
    Error,
    /// The deadline passed; the container was killed.
    Timeout,
    /// The arguments were refused before anything ran.
    ValidationError,
}

impl Status {
    /// The wire name: `success`, `error`, `timeout` or `validation_error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::ValidationError => "validation_error",
        }
    }
}

/// The structured result of one run: the `structuredContent` of the MCP result.
///
/// As JSON (`serde`) it is exactly what 0.1.0 encoders received: the keys `status`, `summary`, `exitCode`,
/// `servers`, `stdout`, `stderr`, `error`, `timeoutSeconds` in that order, each left out when empty except
/// `summary` (which the bridge always sets). Deserialising is lenient the other way: only `status` is required,
/// and unknown keys are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// How it ended.
    pub status: Status,
    /// One line saying what happened.
    #[serde(default)]
    pub summary: String,
    /// The code's exit status, when it got to exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// The MCP servers requested for the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    /// stdout as lines (blank and `()` lines dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stdout: Vec<String>,
    /// stderr as lines, same filtering.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr: Vec<String>,
    /// What went wrong, when something did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The deadline that was hit, for timeouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// The session the call ran in, for a call that named one (not in WIT 0.2.0's payload record: an encoder
    /// sees it in `summary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionInfo>,
    /// The files the run handed back (attached, or listed with why not), in the order they came (not in WIT
    /// 0.2.0's payload record: an encoder sees them in `summary`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
}

/// A file a run handed back (`runtime.attach`, `runtime.show`, `/workspace/out/`, an open matplotlib figure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    /// Its name, relative to `/workspace/out/` for files found there.
    pub name: String,
    /// Its media type, judged by the bridge from its bytes (images) and its name (text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Its size in bytes.
    pub bytes: u64,
    /// Why it is not in the result (a size or count limit), when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The session a `run_python` call ran in (its `session` argument).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The name the model gave it.
    pub name: String,
    /// Which of the session's calls this was; 1 started it.
    pub call: u64,
    /// The session ended with this call, and why: its state is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// A new session that took the name of one that had ended, and why that one ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

impl Payload {
    /// A payload with this status and nothing else.
    pub fn new(status: Status) -> Self {
        Payload {
            status,
            summary: String::new(),
            exit_code: None,
            servers: Vec::new(),
            stdout: Vec::new(),
            stderr: Vec::new(),
            error: None,
            timeout_seconds: None,
            session: None,
            files: Vec::new(),
        }
    }

    /// The payload as a JSON value. Its keys keep the payload's order only when serde_json's `preserve_order`
    /// feature is on (an encoder that renders key order, like TOON, turns it on).
    pub fn to_value(&self) -> Value {
        // Serialising strings and integers cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The payload as a compact JSON text, keys in the payload's order (whatever serde_json's features).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Encoded text and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The text content of the MCP result.
    pub text: String,
    /// Its media type, e.g. `text/plain` or `text/markdown`.
    pub mime_type: String,
}

impl Encoded {
    /// `text` as `text/plain`.
    pub fn plain(text: impl Into<String>) -> Self {
        Encoded {
            text: text.into(),
            mime_type: "text/plain".into(),
        }
    }

    /// `text` as `text/markdown` (e.g. a fenced block).
    pub fn markdown(text: impl Into<String>) -> Self {
        Encoded {
            text: text.into(),
            mime_type: "text/markdown".into(),
        }
    }
}
