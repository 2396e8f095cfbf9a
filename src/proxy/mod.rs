//! The host side of tool proxying for one run: answers the sandbox's rpc frames (`list_servers`, `list_tools`,
//! `call_tool`, `query_tool_docs`, `search_tool_docs`), puts every `call_tool` through the policy plugins
//! (asking the user through the MCP client when a policy says `ask`), and writes the audit log.
//!
//! Only the servers named in the run's `servers` can be listed or called; search covers every discovered
//! server. Everything the sandbox sends is untrusted: names and arguments are checked here, not there.

pub mod ask;
pub mod audit;
pub mod store;

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use rmcp::model::Tool;
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::plugins::{CallCheck, PluginHost, RunCheck, ToolAnnotations};
use crate::sandbox::{RpcError, RpcHandler};
use crate::upstream::index::{self, Detail, ToolCatalog};
use crate::upstream::{UpstreamClient, Upstreams};
pub use ask::Asker;
use ask::Subject;
use audit::{AuditLog, AuditRecord};
use store::SandboxStore;

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
    run_id: String,
    /// This run's servers, in request order.
    loaded: Vec<Arc<UpstreamClient>>,
    asker: Option<Arc<dyn Asker>>,
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
                run_id: run.run_id.clone(),
                run,
                loaded,
                asker,
            }),
        }
    }
}

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
                "call_tool" => inner.call_tool(&params).await,
                "query_tool_docs" => inner.query_tool_docs(&params).await,
                "search_tool_docs" => inner.search_tool_docs(&params).await,
                "memory_save" | "memory_load" | "memory_delete" | "memory_info" | "memory_list"
                | "tool_save" => {
                    // File operations on small files: off the async workers.
                    let store = inner.context.store.clone();
                    tokio::task::spawn_blocking(move || stored(&store, &method, &params))
                        .await
                        .map_err(|e| RpcError::new(format!("store request failed: {e}")))?
                        .map_err(RpcError::new)
                }
                other => Err(RpcError::new(format!("Unknown RPC type: {other}"))),
            }
        })
    }
}

impl Inner {
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
                let known = self.context.upstreams.client(name).is_some();
                RpcError::new(format!(
                    "Server {name:?} is not available in this run{}; loaded: {}",
                    if known {
                        " (add it to run_python's `servers` to use it)"
                    } else {
                        " (no server by that name is configured)"
                    },
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

    async fn search_tool_docs(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
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
        let docs = self
            .context
            .catalog
            .search(&self.context.upstreams, query, limit, detail)
            .await;
        Ok(Value::Array(docs))
    }

    async fn call_tool(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let started = Instant::now();
        let client = self.loaded_client(params)?;
        let tool_name =
            string_param(params, "tool")?.ok_or_else(|| RpcError::new("Missing tool name"))?;
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => return Err(RpcError::new("Arguments must be an object")),
        };
        let server = client.server().name.clone();
        let tool = self.find_tool(client, tool_name).await?;
        // Serialised once: the policies read this text, the audit log its size.
        let arguments_text = serde_json::to_string(&arguments).unwrap_or_default();
        let mut record = AuditRecord {
            time: audit::now_rfc3339(),
            run_id: self.run_id.clone(),
            server: server.clone(),
            tool: tool_name.to_string(),
            decision: "allow".into(),
            decided_by: None,
            duration_ms: 0.0,
            argument_bytes: arguments_text.len(),
            result_bytes: None,
            tool_error: None,
            error: None,
            arguments: self
                .context
                .audit
                .settings()
                .log_arguments
                .then(|| Value::Object(arguments.clone())),
            result: None,
        };
        let verdict = self.context.plugins.check_call(&CallCheck {
            run_id: self.run_id.clone(),
            server: server.clone(),
            tool: tool_name.to_string(),
            arguments: arguments_text,
            annotations: annotations_of(&tool),
        });
        let question = |prompt: &str| {
            format!(
                "Run {} wants to call {server}.{tool_name}: {prompt}",
                self.run_id
            )
        };
        let settled = ask::settle(verdict, Subject::Call, question, self.asker.as_deref()).await;
        record.decision = settled.decision.into();
        record.decided_by = settled.decided_by;
        if let Err(message) = settled.outcome {
            record.error = Some(message.clone());
            record.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
            self.context.audit.write(&record);
            return Err(RpcError::policy_denied(message));
        }
        let outcome = client.call(tool_name, arguments).await;
        record.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let answer = match outcome {
            Ok(result) => {
                let value = serde_json::to_value(&result).map_err(|e| RpcError::new(e.to_string()));
                if let Ok(value) = &value {
                    record.result_bytes = Some(value.to_string().len());
                    record.tool_error = Some(result.is_error.unwrap_or(false));
                    if self.context.audit.settings().log_results {
                        record.result = Some(value.clone());
                    }
                }
                value
            }
            Err(error) => Err(RpcError::new(error.to_string())),
        };
        if let Err(error) = &answer {
            record.error = Some(error.message.clone());
        }
        self.context.audit.write(&record);
        answer
    }

    /// The tool's metadata (annotations for the policies); an unknown name is refused before any policy or
    /// upstream sees it. A name missing from the cached list triggers one fresh `tools/list`.
    async fn find_tool(&self, client: &UpstreamClient, name: &str) -> Result<Tool, RpcError> {
        let tools = self.tools_of(client).await?;
        if let Some(tool) = tools.iter().find(|t| t.name == name) {
            return Ok(tool.clone());
        }
        let tools = client
            .refresh_tools()
            .await
            .map_err(|e| RpcError::new(e.to_string()))?;
        tools
            .iter()
            .find(|t| t.name == name)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
                RpcError::new(format!(
                    "Tool '{name}' not found for server {}; its tools: {}",
                    client.server().name,
                    names.join(", ")
                ))
            })
    }
}

/// The memory and saved-tool requests (see [`store`]).
fn stored(
    store: &SandboxStore,
    method: &str,
    params: &Map<String, Value>,
) -> Result<Value, String> {
    let field = |name: &str| params.get(name).cloned().unwrap_or(Value::Null);
    Ok(match method {
        "memory_save" => json!(store.save_memory(
            store::key_param(params)?,
            field("value"),
            field("metadata")
        )?),
        "memory_load" => store.load_memory(store::key_param(params)?)?,
        "memory_delete" => json!(store.delete_memory(store::key_param(params)?)?),
        "memory_info" => store.memory_info(store::key_param(params)?)?,
        "memory_list" => store.list_memories(),
        _ => {
            let (Some(Value::String(name)), Some(Value::String(source))) =
                (params.get("name"), params.get("source"))
            else {
                return Err("'name' and 'source' must be strings".into());
            };
            json!(store.save_tool(name, source)?)
        }
    })
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

fn annotations_of(tool: &Tool) -> ToolAnnotations {
    let Some(a) = &tool.annotations else {
        return ToolAnnotations::default();
    };
    ToolAnnotations {
        read_only: a.read_only_hint,
        destructive: a.destructive_hint,
        idempotent: a.idempotent_hint,
        open_world: a.open_world_hint,
    }
}
