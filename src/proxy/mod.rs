//! The host side of one run's requests (PROTOCOL.md §5): tool proxying (`list_servers`, `list_tools`,
//! `call_tool`, `query_tool_docs`, `search_tool_docs`), the memory helpers and saved tools ([`store`]).
//!
//! - Every `call_tool` goes through the policy plugins' `check-call` (asking the user through the MCP client
//!   when a policy says `ask`, showing the arguments: [`ask`]); a result larger than
//!   `MCP_BRIDGE_MAX_TOOL_RESULT` comes back as a tool error naming the limit (`call.rs`).
//! - A saved tool's source goes through every policy's `check-run`, as run code, both when it is saved and
//!   when a run loads it (`stored.rs`).
//! - Search starts a server the run did not name only when the policies allow this run to use it
//!   ([`index::StartGate`]).
//! - Everything is written to the audit log ([`audit`]), including calls the run did not wait for.
//!
//! Only the servers named in the run's `servers` can be listed or called. Everything the sandbox sends is
//! untrusted: names and arguments are checked here, not there.

pub mod ask;
pub mod audit;
mod call;
pub mod store;
mod stored;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use rmcp::model::Tool;
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::plugins::{PluginHost, RunCheck, RunPurpose, Verdict};
use crate::sandbox::{RpcError, RpcHandler};
use crate::upstream::index::{self, Detail, StartGate, StartOutcome, ToolCatalog};
use crate::upstream::{DiscoveredServer, UpstreamClient, Upstreams};
pub use ask::Asker;
use audit::{AuditEvent, AuditLog, IndexStart};
use store::SandboxStore;
use stored::{MemoryRequest, ToolRequest};

/// What a run's proxy needs from the bridge, shared by all runs.
#[derive(Clone)]
pub struct ProxyContext {
    /// The bridge's settings (limits such as `MCP_BRIDGE_MAX_TOOL_RESULT`).
    pub config: Arc<Config>,
    /// Every configured server.
    pub upstreams: Arc<Upstreams>,
    /// Tool lists and search.
    pub catalog: Arc<ToolCatalog>,
    /// The policies.
    pub plugins: Arc<PluginHost>,
    /// The audit log.
    pub audit: Arc<AuditLog>,
    /// Memory entries and saved tools.
    pub store: Arc<SandboxStore>,
}

/// The rpc handler of one run.
pub struct RunProxy {
    inner: Arc<Inner>,
}

struct Inner {
    context: ProxyContext,
    /// The run as the policies saw it at its start.
    run: RunCheck,
    /// This run's servers, in request order.
    loaded: Vec<Arc<UpstreamClient>>,
    asker: Option<Arc<dyn Asker>>,
    /// The last call number given out (the audit log links a call's lines by it).
    calls: AtomicU64,
    /// The policies' verdicts on this run using a server search wanted to start, by server: asked once.
    search_verdicts: Mutex<HashMap<String, Verdict>>,
    /// The `refused` and `backoff` search starts logged already: once per run and server is enough, since
    /// they repeat the same decision or state.
    search_logged: Mutex<HashSet<(String, &'static str)>>,
}

impl RunProxy {
    /// A proxy for `run` (as the policies checked it) that may use `loaded` (already checked to exist).
    pub fn new(
        context: ProxyContext,
        run: RunCheck,
        loaded: Vec<Arc<UpstreamClient>>,
        asker: Option<Arc<dyn Asker>>,
    ) -> Self {
        RunProxy {
            inner: Arc::new(Inner {
                context,
                run,
                loaded,
                asker,
                calls: AtomicU64::new(0),
                search_verdicts: Mutex::new(HashMap::new()),
                search_logged: Mutex::new(HashSet::new()),
            }),
        }
    }
}

/// The methods of PROTOCOL.md §5, for the error about any other.
const METHODS: &str = "list_servers, list_tools, call_tool, query_tool_docs, search_tool_docs, memory_save, \
                       memory_load, memory_delete, memory_info, memory_list, tool_save, tool_load, tool_list, \
                       tool_delete";

impl RpcHandler for RunProxy {
    fn handle(&self, method: String, params: Value) -> BoxFuture<'static, Result<Value, RpcError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let params = match params {
                Value::Object(map) => map,
                Value::Null => Map::new(),
                _ => return Err(RpcError::new("rpc params must be an object")),
            };
            match method.as_str() {
                "list_servers" => Ok(json!(inner.loaded_names_sorted())),
                "list_tools" => inner.list_tools(&params).await,
                "call_tool" => inner.call_tool(params).await,
                "query_tool_docs" => inner.query_tool_docs(&params).await,
                "search_tool_docs" => inner.search_tool_docs(&params).await,
                "memory_save" => inner.memory(MemoryRequest::Save, params).await,
                "memory_load" => inner.memory(MemoryRequest::Load, params).await,
                "memory_delete" => inner.memory(MemoryRequest::Delete, params).await,
                "memory_info" => inner.memory(MemoryRequest::Info, params).await,
                "memory_list" => inner.memory(MemoryRequest::List, params).await,
                "tool_save" => inner.tool_save(params).await,
                "tool_load" => inner.tool_load(params).await,
                "tool_list" => inner.saved_tools(ToolRequest::List, params).await,
                "tool_delete" => inner.saved_tools(ToolRequest::Delete, params).await,
                other => Err(RpcError::new(format!(
                    "Unknown RPC method {:?}; the methods are {METHODS}",
                    other.chars().take(100).collect::<String>()
                ))),
            }
        })
    }
}

impl Inner {
    fn run_id(&self) -> &str {
        &self.run.run_id
    }

    fn loaded_names_sorted(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .loaded
            .iter()
            .map(|c| c.server().name.clone())
            .collect();
        names.sort();
        names
    }

    /// The client for a server of this run, or an error listing what this run has.
    fn loaded_client(&self, params: &Map<String, Value>) -> Result<&Arc<UpstreamClient>, RpcError> {
        let name =
            string_param(params, "server")?.ok_or_else(|| RpcError::new("Missing server name"))?;
        self.loaded
            .iter()
            .find(|c| c.server().name == name)
            .ok_or_else(|| {
                let loaded = self.loaded_names_sorted();
                let upstreams = &self.context.upstreams;
                let why = match upstreams.unusable_reason(name) {
                    Some(reason) => format!(" ({reason})"),
                    None if upstreams.client(name).is_some() => {
                        " (add it to run_python's `servers` to use it)".to_string()
                    }
                    None => " (no server by that name is configured)".to_string(),
                };
                RpcError::new(format!(
                    "Server {name:?} is not available in this run{why}; loaded: {}",
                    if loaded.is_empty() {
                        "none".to_string()
                    } else {
                        loaded.join(", ")
                    }
                ))
            })
    }

    async fn tools_of(&self, client: &UpstreamClient) -> Result<Arc<Vec<Tool>>, RpcError> {
        self.context
            .catalog
            .live_tools(client)
            .await
            .map_err(|e| RpcError::new(e.to_string()))
    }

    async fn list_tools(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let client = self.loaded_client(params)?;
        let tools = self.tools_of(client).await?;
        serde_json::to_value(&*tools).map_err(|e| RpcError::new(e.to_string()))
    }

    async fn query_tool_docs(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let client = self.loaded_client(params)?;
        let wanted = match params.get("tool") {
            None | Some(Value::Null) => None,
            Some(Value::String(tool)) => Some(tool.to_lowercase()),
            Some(_) => return Err(RpcError::new("'tool' must be a string when provided")),
        };
        let detail = Detail::parse(string_param(params, "detail")?).map_err(RpcError::new)?;
        let tools = self.tools_of(client).await?;
        let server = client.server();
        let docs: Vec<Value> = tools
            .iter()
            .zip(index::aliases(&tools))
            .filter(|(tool, alias)| {
                wanted
                    .as_ref()
                    .is_none_or(|w| tool.name.to_lowercase() == *w || alias.to_lowercase() == *w)
            })
            .map(|(tool, alias)| index::doc(server, tool, &alias, detail))
            .collect();
        if let (Some(tool), true) = (&wanted, docs.is_empty()) {
            return Err(RpcError::new(format!(
                "Tool '{tool}' not found for server {}",
                server.name
            )));
        }
        Ok(Value::Array(docs))
    }

    async fn search_tool_docs(
        self: &Arc<Self>,
        params: &Map<String, Value>,
    ) -> Result<Value, RpcError> {
        let query =
            string_param(params, "query")?.ok_or_else(|| RpcError::new("Missing 'query' value"))?;
        let limit = match params.get("limit") {
            None | Some(Value::Null) => 5,
            Some(value) => value
                .as_u64()
                .ok_or_else(|| RpcError::new("'limit' must be a positive integer"))?
                .clamp(1, 50) as usize,
        };
        let detail = Detail::parse(string_param(params, "detail")?).map_err(RpcError::new)?;
        let gate: Arc<dyn StartGate> = Arc::new(SearchGate(self.clone()));
        let docs = self
            .context
            .catalog
            .search(&self.context.upstreams, query, limit, detail, gate)
            .await;
        Ok(Value::Array(docs))
    }
}

/// Search's permission to start a server for one run: the policies' `check-run` for this run's code using
/// that server, asked once per server; only an outright allow counts.
struct SearchGate(Arc<Inner>);

impl StartGate for SearchGate {
    fn check(&self, server: &DiscoveredServer) -> Verdict {
        let inner = &self.0;
        let mut verdicts = inner
            .search_verdicts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        verdicts
            .entry(server.name.clone())
            .or_insert_with(|| {
                inner.context.plugins.check_run(&RunCheck {
                    run_id: inner.run.run_id.clone(),
                    code: inner.run.code.clone(),
                    servers: vec![server.name.clone()],
                    timeout_seconds: inner.run.timeout_seconds,
                    purpose: RunPurpose::Search,
                })
            })
            .clone()
    }

    fn record(&self, server: &DiscoveredServer, verdict: &Verdict, outcome: &StartOutcome) {
        let repeatable = match outcome {
            StartOutcome::Refused => Some("refused"),
            StartOutcome::Backoff { .. } => Some("backoff"),
            _ => None,
        };
        if let Some(kind) = repeatable {
            let mut logged = self
                .0
                .search_logged
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if !logged.insert((server.name.clone(), kind)) {
                return;
            }
        }
        let (decision, decided_by) = match verdict {
            Verdict::Allow => ("allow", None),
            Verdict::Deny { plugin, .. } => ("deny", Some(plugin.clone())),
            Verdict::Ask { plugin, .. } => ("ask", Some(plugin.clone())),
        };
        let (outcome, tools, error) = match outcome {
            StartOutcome::Refused => (
                "refused",
                None,
                Some(match verdict {
                    Verdict::Ask { .. } => format!(
                        "{}; search never asks, so the server was not started",
                        verdict.describe()
                    ),
                    _ => verdict.describe(),
                }),
            ),
            StartOutcome::Backoff { failures, retry_in } => (
                "backoff",
                None,
                Some(format!(
                    "listing its tools failed {failures} time{} in a row; next try in {} s",
                    if *failures == 1 { "" } else { "s" },
                    retry_in.as_secs().max(1)
                )),
            ),
            StartOutcome::Listed(count) => ("listed", Some(*count), None),
            StartOutcome::Failed(error) => ("failed", None, Some(error.clone())),
        };
        self.0.context.audit.write(
            self.0.run_id(),
            &AuditEvent::IndexStart(IndexStart {
                server: server.name.clone(),
                decision,
                decided_by,
                outcome,
                tools,
                error,
            }),
        );
    }
}

fn string_param<'a>(
    params: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, RpcError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(RpcError::new(format!("'{key}' must be a string"))),
    }
}
