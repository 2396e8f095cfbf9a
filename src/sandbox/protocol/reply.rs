//! What the host sends back (PROTOCOL.md §3, §5): one `rpc_result` frame per request, carrying its result or an
//! error the runtime raises as an exception.

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize as DeriveSerialize};
use serde_json::Value;

use super::params::RequestError;

/// Which exception an error reply raises in the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, DeriveSerialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// `MCPError`: the request failed or was refused.
    Error,
    /// `PolicyDenied`: a policy (or the user, asked by one) refused it.
    PolicyDenied,
}

/// A refused or failed request, as the sandbox sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    /// The message of the exception raised in the sandbox.
    pub message: String,
    /// Which exception.
    pub kind: ErrorKind,
}

impl RpcError {
    /// A plain failure (`MCPError` in the sandbox).
    pub fn new(message: impl Into<String>) -> Self {
        RpcError {
            message: message.into(),
            kind: ErrorKind::Error,
        }
    }

    /// A policy refusal (`PolicyDenied` in the sandbox).
    pub fn policy_denied(message: impl Into<String>) -> Self {
        RpcError {
            message: message.into(),
            kind: ErrorKind::PolicyDenied,
        }
    }
}

impl From<RequestError> for RpcError {
    fn from(error: RequestError) -> Self {
        RpcError::new(error.to_string())
    }
}

/// A request's result (`result` of a successful reply), by method.
#[derive(Debug, Clone, PartialEq, DeriveSerialize)]
#[serde(untagged)]
pub enum Response {
    /// `list_servers`: this run's server names, sorted.
    Servers(Vec<String>),
    /// `list_tools` (MCP tool objects) and `call_tool` (the MCP `CallToolResult`): the servers' data.
    Data(Value),
    /// `query_tool_docs`, `search_tool_docs`: doc dicts.
    Docs(Vec<Value>),
    /// `memory_save`, `memory_delete`, `tool_save`, `tool_delete`: what was done, in words.
    Message(String),
    /// `memory_load`.
    Memory(MemoryValue),
    /// `memory_info`: the entry without its value; null when there is none. (Boxed: four JSON values.)
    MemoryInfo(Option<Box<MemoryInfo>>),
    /// `memory_list`: one page.
    MemoryPage(MemoryPage),
    /// `tool_load`.
    SavedTool(SavedToolSource),
    /// `tool_list`: by name.
    SavedTools(Vec<SavedToolInfo>),
    /// `attach`: whether the file is in the result.
    Attached(Attached),
}

/// `attach`'s result: `{"attached": true, "name": …, "mimeType": …}`, or `{"attached": false, "name": …,
/// "reason": …}` for a file a limit left out (the result lists it with the reason).
#[derive(Debug, Clone, PartialEq, Eq, DeriveSerialize)]
#[serde(rename_all = "camelCase")]
pub struct Attached {
    /// Whether the file is in the result.
    pub attached: bool,
    /// Its name in the result.
    pub name: String,
    /// Its media type, when attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Why it was left out, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `memory_load`'s result: `{"found": true, "value": …}` or `{"found": false}`.
#[derive(Debug, Clone, PartialEq, DeriveSerialize)]
pub struct MemoryValue {
    /// Whether the key has an entry.
    pub found: bool,
    /// Its value (present exactly when found; null is a value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// A memory entry without its value. The fields are the stored file's, read as they are (a file edited by hand
/// may hold anything), so they are JSON values; a missing one is null.
#[derive(Debug, Clone, Default, PartialEq, DeriveSerialize, Deserialize)]
pub struct MemoryInfo {
    /// The sanitised key.
    #[serde(default)]
    pub key: Value,
    /// The metadata saved with it.
    #[serde(default)]
    pub metadata: Value,
    /// When it was first saved, RFC 3339 UTC.
    #[serde(default)]
    pub created_at: Value,
    /// When it was last saved, RFC 3339 UTC.
    #[serde(default)]
    pub updated_at: Value,
}

/// One entry of a `memory_list` page.
#[derive(Debug, Clone, PartialEq, DeriveSerialize)]
#[serde(untagged)]
pub enum ListedMemory {
    /// A readable entry. (Boxed: four JSON values.)
    Entry(Box<MemoryInfo>),
    /// An entry whose file cannot be read, and why.
    Unreadable {
        /// The file's key.
        key: String,
        /// Why it cannot be read.
        error: String,
    },
}

/// `memory_list`'s result: `{"entries": […], "next": <cursor> | null}`.
#[derive(Debug, Clone, PartialEq, DeriveSerialize)]
pub struct MemoryPage {
    /// This page's entries, by key.
    pub entries: Vec<ListedMemory>,
    /// The cursor of the next page; null after the last.
    pub next: Option<u64>,
}

/// `tool_load`'s result.
#[derive(Debug, Clone, PartialEq, Eq, DeriveSerialize)]
pub struct SavedToolSource {
    /// The function's name.
    pub name: String,
    /// Its source.
    pub source: String,
}

/// One saved tool, as `tool_list` (and `bridge tools list`) shows it.
#[derive(Debug, Clone, PartialEq, Eq, DeriveSerialize)]
pub struct SavedToolInfo {
    /// Its name (the function's).
    pub name: String,
    /// Size of its source in bytes.
    pub bytes: u64,
    /// When it was last saved, RFC 3339 UTC.
    pub saved_at: String,
}

/// The `rpc_result` frame answering request `id`: `{"t":"rpc_result","id":…,"ok":true,"result":…}` or
/// `{"t":"rpc_result","id":…,"ok":false,"error":"…","kind":"error"|"policy_denied"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcResult {
    /// The request's id.
    pub id: u64,
    /// Its result or error.
    pub outcome: Result<Response, RpcError>,
}

impl Serialize for RpcResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut frame = serializer.serialize_struct("RpcResult", 5)?;
        frame.serialize_field("t", "rpc_result")?;
        frame.serialize_field("id", &self.id)?;
        match &self.outcome {
            Ok(result) => {
                frame.serialize_field("ok", &true)?;
                frame.serialize_field("result", result)?;
            }
            Err(error) => {
                frame.serialize_field("ok", &false)?;
                frame.serialize_field("error", &error.message)?;
                frame.serialize_field("kind", &error.kind)?;
            }
        }
        frame.end()
    }
}

impl RpcResult {
    /// The frame as one line for the container's stdin. A result that cannot be written as JSON (a map with
    /// non-string keys cannot come from the handlers, but the type allows it) is answered with an error, so
    /// the request never goes unanswered.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_else(|error| {
            let refusal = RpcResult {
                id: self.id,
                outcome: Err(RpcError::new(format!("the result is not JSON: {error}"))),
            };
            // Strings and numbers only: this cannot fail.
            serde_json::to_vec(&refusal).unwrap_or_default()
        });
        line.push(b'\n');
        line
    }
}
