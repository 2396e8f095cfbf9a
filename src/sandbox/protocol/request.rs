//! The rpc requests (PROTOCOL.md §5): one [`Request`] variant per method, each with its parameters as a struct.
//! On the wire a request is `"method": "<name>", "params": {…}` inside an `rpc` frame; [`Request::parse`]
//! turns the two into a request or a [`RequestError`] naming the method or parameter at fault.

use serde::{Deserialize, Deserializer, Serialize, de::Error as _};
use serde_json::{Map, Value};
use strum::{EnumDiscriminants, EnumIter, EnumString, IntoEnumIterator, IntoStaticStr};

use super::params::{self, RequestError, RequestProblem};

/// A request from the sandbox, as the host serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, EnumDiscriminants)]
#[serde(
    tag = "method",
    content = "params",
    rename_all = "snake_case",
    deny_unknown_fields
)]
#[strum_discriminants(
    name(Method),
    derive(Hash, EnumIter, EnumString, IntoStaticStr),
    strum(serialize_all = "snake_case"),
    doc = "The name of a request: what `rpc` frames carry as `method`."
)]
pub enum Request {
    /// `list_servers`: this run's server names, sorted.
    ListServers(NoParams),
    /// `list_tools`: a server's current `tools/list`.
    ListTools(ServerParam),
    /// `call_tool`: call a tool of one of this run's servers.
    CallTool(CallTool),
    /// `query_tool_docs`: the docs of a server's tools, or of one of them.
    QueryToolDocs(QueryToolDocs),
    /// `search_tool_docs`: the best-matching tools of every configured, trusted server.
    SearchToolDocs(SearchToolDocs),
    /// `memory_save`: store a value under a key.
    MemorySave(MemorySave),
    /// `memory_load`: the value under a key.
    MemoryLoad(MemoryKey),
    /// `memory_delete`: remove a key.
    MemoryDelete(MemoryKey),
    /// `memory_info`: a key's entry without its value.
    MemoryInfo(MemoryKey),
    /// `memory_list`: one page of entries, by key.
    MemoryList(MemoryList),
    /// `tool_save`: keep a function's source for later runs.
    ToolSave(ToolSave),
    /// `tool_load`: a saved function's source.
    ToolLoad(NamedTool),
    /// `tool_list`: the saved tools.
    ToolList(NoParams),
    /// `tool_delete`: remove a saved tool.
    ToolDelete(NamedTool),
    /// `attach`: hand a file back with the run's result.
    Attach(Attach),
}

impl Request {
    /// The request an `rpc` frame's `method` and `params` make. Missing or null `params` is no parameters.
    pub fn parse(method: &str, params: Value) -> Result<Request, RequestError> {
        let known: Method = method.parse().map_err(|_| RequestError {
            method: None,
            problem: RequestProblem::UnknownMethod(super::echo(method)),
        })?;
        let refused = |problem| RequestError {
            method: Some(known),
            problem,
        };
        let params = match params {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            _ => return Err(refused(RequestProblem::NotAnObject)),
        };
        params::deserialize(known.name(), params).map_err(refused)
    }

    /// Its method.
    pub fn method(&self) -> Method {
        self.into()
    }
}

impl Method {
    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Every method, in the order of PROTOCOL.md's table.
    pub fn all() -> impl Iterator<Item = Method> {
        Method::iter()
    }

    /// The names of every method, comma-separated, for messages.
    pub fn list() -> String {
        Method::all()
            .map(Method::name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// No parameters: `params` is `{}` (or missing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// A server of this run, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerParam {
    /// The server's name (not its alias: the runtime resolves aliases).
    #[serde(deserialize_with = "string")]
    pub server: String,
}

/// `call_tool`'s parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallTool {
    /// The server's name.
    #[serde(deserialize_with = "string")]
    pub server: String,
    /// The tool's name.
    #[serde(deserialize_with = "string")]
    pub tool: String,
    /// The tool's arguments (missing or null: none).
    #[serde(default, deserialize_with = "object")]
    pub arguments: Map<String, Value>,
}

/// `query_tool_docs`' parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryToolDocs {
    /// The server's name.
    #[serde(deserialize_with = "string")]
    pub server: String,
    /// Only this tool (name or alias, case-insensitive); all of them when missing or null.
    #[serde(default, deserialize_with = "optional_string")]
    pub tool: Option<String>,
    /// How much of each doc.
    #[serde(default, deserialize_with = "detail")]
    pub detail: Detail,
}

/// `search_tool_docs`' parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchToolDocs {
    /// What to look for.
    #[serde(deserialize_with = "string")]
    pub query: String,
    /// How many docs at most: [`SearchToolDocs::DEFAULT_LIMIT`] when missing or null, and any number is
    /// brought into 1..=[`SearchToolDocs::MAX_LIMIT`].
    #[serde(default = "default_limit", deserialize_with = "limit")]
    pub limit: usize,
    /// How much of each doc.
    #[serde(default, deserialize_with = "detail")]
    pub detail: Detail,
}

impl SearchToolDocs {
    /// The limit when none is given.
    pub const DEFAULT_LIMIT: usize = 5;
    /// The largest limit.
    pub const MAX_LIMIT: usize = 50;
}

/// How much of a tool's documentation to return (`name`, `summary` or `full`; case-insensitive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    /// Names only.
    Name,
    /// Names and description.
    #[default]
    Summary,
    /// Names, description and input schema.
    Full,
}

/// `memory_save`'s parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorySave {
    /// The key, as the code gave it (the store sanitises it).
    #[serde(deserialize_with = "string")]
    pub key: String,
    /// The value (missing: null).
    #[serde(default)]
    pub value: Value,
    /// Metadata kept with it (missing: null).
    #[serde(default)]
    pub metadata: Value,
}

/// A memory entry, by key (`memory_load`, `memory_delete`, `memory_info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryKey {
    /// The key, as the code gave it (the store sanitises it).
    #[serde(deserialize_with = "string")]
    pub key: String,
}

/// `memory_list`'s parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryList {
    /// Where the page starts: the `next` of the previous page (missing or null: 0).
    #[serde(default, deserialize_with = "cursor")]
    pub cursor: u64,
}

/// `tool_save`'s parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSave {
    /// The function's name.
    pub name: ToolName,
    /// Its source.
    #[serde(deserialize_with = "string")]
    pub source: String,
}

/// A saved tool, by name (`tool_load`, `tool_delete`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedTool {
    /// The function's name.
    pub name: ToolName,
}

/// `attach`'s parameters: a file for the run's result, its bytes as base64, or only its size when it is too
/// large to send (so the result can say it was left out, and why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attach {
    /// The file's name as the result shows it (the host checks it).
    #[serde(deserialize_with = "string")]
    pub name: String,
    /// Its bytes, base64 (standard alphabet, padded); missing or null when only `size` is sent.
    #[serde(
        default,
        deserialize_with = "optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub data: Option<String>,
    /// Its size in bytes, for a file sent without `data`.
    #[serde(
        default,
        deserialize_with = "optional_size",
        skip_serializing_if = "Option::is_none"
    )]
    pub size: Option<u64>,
}

/// A saved tool's name: a Python identifier (ASCII) of at most [`ToolName::MAX_CHARS`] characters, so it is
/// also a safe file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ToolName(String);

impl ToolName {
    /// The longest name.
    pub const MAX_CHARS: usize = 100;

    /// `name`, if it is one; the error says why not.
    pub fn new(name: String) -> Result<Self, String> {
        if Self::is_valid(&name) {
            return Ok(ToolName(name));
        }
        Err(format!(
            "is not a function name (a Python identifier of at most {} characters): {:?}",
            Self::MAX_CHARS,
            super::echo(&name)
        ))
    }

    /// Whether `name` can be a saved tool's name.
    pub fn is_valid(name: &str) -> bool {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && name.len() <= Self::MAX_CHARS
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for ToolName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ToolName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ToolName::new(string(deserializer)?).map_err(D::Error::custom)
    }
}

// Parameter readers. Each reads one parameter's JSON and, when it is wrong, says what was expected in words that
// follow the parameter's name ("'cursor' must be …"): the params deserializer puts the name in front.

fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(text) => Ok(text),
        _ => Err(D::Error::custom("must be a string")),
    }
}

fn optional_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text)),
        _ => Err(D::Error::custom("must be a string when provided")),
    }
}

fn object<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        _ => Err(D::Error::custom("must be an object")),
    }
}

fn cursor<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(0),
        value => value
            .as_u64()
            .ok_or_else(|| D::Error::custom("must be a non-negative integer")),
    }
}

fn optional_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        value => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| D::Error::custom("must be a non-negative integer when provided")),
    }
}

fn default_limit() -> usize {
    SearchToolDocs::DEFAULT_LIMIT
}

fn limit<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(SearchToolDocs::DEFAULT_LIMIT),
        value => value
            .as_u64()
            .map(|n| n.clamp(1, SearchToolDocs::MAX_LIMIT as u64) as usize)
            .ok_or_else(|| D::Error::custom("must be a positive integer")),
    }
}

fn detail<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Detail, D::Error> {
    let text = match Value::deserialize(deserializer)? {
        Value::Null => return Ok(Detail::default()),
        Value::String(text) => text,
        _ => return Err(D::Error::custom("must be 'name', 'summary' or 'full'")),
    };
    match text.to_ascii_lowercase().as_str() {
        "name" => Ok(Detail::Name),
        "summary" => Ok(Detail::Summary),
        "full" => Ok(Detail::Full),
        _ => Err(D::Error::custom(format!(
            "must be 'name', 'summary' or 'full', not {:?}",
            super::echo(&text)
        ))),
    }
}
