//! The host side of one run's requests (PROTOCOL.md §5): tool proxying (`list_servers`, `list_tools`,
//! `call_tool`, `query_tool_docs`, `search_tool_docs`), the memory helpers and saved tools (on [`crate::store`]).
//!
//! - Every `call_tool` goes through the policy plugins' `check-call` (asking the user through the MCP client
//!   when a policy says `ask`, showing the arguments: [`ask`]); a result larger than
//!   `MCP_BRIDGE_MAX_TOOL_RESULT` comes back as a tool error naming the limit (`call.rs`).
//! - A saved tool's source goes through every policy's `check-run`, as run code, both when it is saved and
//!   when a run loads it (`stored.rs`).
//! - Search starts a server the run did not name only when the policies allow this run to use it
//!   ([`catalog::StartGate`]).
//! - Files the run hands back (`attach`) are kept for its result by [`AttachedFiles`], which checks them.
//! - Everything is written to the audit log ([`audit`]), including calls the run did not wait for.
//!
//! Only the servers named in the run's `servers` can be listed or called. Everything the sandbox sends is
//! untrusted: a request arrives decoded by [`crate::sandbox::protocol`] (its method one of the protocol's, its
//! parameters of the right types) or as the decoder's refusal; what the names refer to is checked here.

pub mod ask;
pub mod audit;
mod call;
mod stored;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use rmcp::model::Tool;

use crate::config::Config;
use crate::plugins::{PluginHost, RunCheck, RunPurpose, Verdict};
use crate::response::files::AttachedFiles;
use crate::sandbox::protocol::{
    self, MemoryKey, MemoryList, NamedTool, NoParams, QueryToolDocs, Request, RequestError,
    Response, SearchToolDocs, ServerParam,
};
use crate::sandbox::{RpcError, RpcHandler};
use crate::servers::DiscoveredServer;
use crate::store::SandboxStore;
use crate::upstream::catalog::{self, Detail, StartGate, StartOutcome, ToolCatalog};
use crate::upstream::{UpstreamClient, Upstreams};
pub use ask::Asker;
use audit::{AuditEvent, AuditLog, IndexStart};

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
    /// The files the run hands back with its result.
    files: Arc<AttachedFiles>,
    /// The last call number given out (the audit log links a call's lines by it).
    calls: AtomicU64,
    /// The policies' verdicts on this run using a server search wanted to start, by server: asked once.
    search_verdicts: Mutex<HashMap<String, Verdict>>,
    /// The `refused` and `backoff` search starts logged already: once per run and server is enough, since
    /// they repeat the same decision or state.
    search_logged: Mutex<HashSet<(String, &'static str)>>,
}

impl RunProxy {
    /// A proxy for `run` (as the policies checked it) that may use `loaded` (already checked to exist) and
    /// keeps the files the run hands back in `files`.
    pub fn new(
        context: ProxyContext,
        run: RunCheck,
        loaded: Vec<Arc<UpstreamClient>>,
        asker: Option<Arc<dyn Asker>>,
        files: Arc<AttachedFiles>,
    ) -> Self {
        RunProxy {
            inner: Arc::new(Inner {
                context,
                run,
                loaded,
                asker,
                files,
                calls: AtomicU64::new(0),
                search_verdicts: Mutex::new(HashMap::new()),
                search_logged: Mutex::new(HashSet::new()),
            }),
        }
    }
}

impl RpcHandler for RunProxy {
    fn handle(
        &self,
        request: Result<Request, RequestError>,
    ) -> BoxFuture<'static, Result<Response, RpcError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let request = match request {
                Ok(request) => request,
                Err(error) => {
                    inner.refused(&error);
                    return Err(error.into());
                }
            };
            match request {
                Request::ListServers(NoParams {}) => {
                    Ok(Response::Servers(inner.loaded_names_sorted()))
                }
                Request::ListTools(ServerParam { server }) => inner.list_tools(&server).await,
                Request::CallTool(call) => inner.call_tool(call).await,
                Request::QueryToolDocs(query) => inner.query_tool_docs(query).await,
                Request::SearchToolDocs(search) => inner.search_tool_docs(search).await,
                Request::MemorySave(save) => inner.memory_save(save).await,
                Request::MemoryLoad(MemoryKey { key }) => inner.memory_load(key).await,
                Request::MemoryDelete(MemoryKey { key }) => inner.memory_delete(key).await,
                Request::MemoryInfo(MemoryKey { key }) => inner.memory_info(key).await,
                Request::MemoryList(MemoryList { cursor }) => inner.memory_list(cursor).await,
                Request::ToolSave(save) => inner.tool_save(save).await,
                Request::ToolLoad(NamedTool { name }) => inner.tool_load(name).await,
                Request::ToolList(NoParams {}) => inner.tool_list().await,
                Request::ToolDelete(NamedTool { name }) => inner.tool_delete(name).await,
                Request::Attach(attach) => inner
                    .files
                    .attach(attach)
                    .map(Response::Attached)
                    .map_err(RpcError::new),
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
    fn loaded_client(&self, name: &str) -> Result<&Arc<UpstreamClient>, RpcError> {
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

    async fn list_tools(&self, server: &str) -> Result<Response, RpcError> {
        let client = self.loaded_client(server)?;
        let tools = self.tools_of(client).await?;
        serde_json::to_value(&*tools)
            .map(Response::Data)
            .map_err(|e| RpcError::new(e.to_string()))
    }

    async fn query_tool_docs(&self, query: QueryToolDocs) -> Result<Response, RpcError> {
        let client = self.loaded_client(&query.server)?;
        let wanted = query.tool.map(|tool| tool.to_lowercase());
        let detail = doc_detail(query.detail);
        let tools = self.tools_of(client).await?;
        let server = client.server();
        let docs: Vec<_> = tools
            .iter()
            .zip(catalog::aliases(&tools))
            .filter(|(tool, alias)| {
                wanted
                    .as_ref()
                    .is_none_or(|w| tool.name.to_lowercase() == *w || alias.to_lowercase() == *w)
            })
            .map(|(tool, alias)| catalog::doc(server, tool, &alias, detail))
            .collect();
        if let (Some(tool), true) = (&wanted, docs.is_empty()) {
            return Err(RpcError::new(format!(
                "Tool '{tool}' not found for server {}",
                server.name
            )));
        }
        Ok(Response::Docs(docs))
    }

    async fn search_tool_docs(
        self: &Arc<Self>,
        search: SearchToolDocs,
    ) -> Result<Response, RpcError> {
        let gate: Arc<dyn StartGate> = Arc::new(SearchGate(self.clone()));
        let docs = self
            .context
            .catalog
            .search(
                &self.context.upstreams,
                &search.query,
                search.limit,
                doc_detail(search.detail),
                gate,
            )
            .await;
        Ok(Response::Docs(docs))
    }
}

/// The catalog's name for how much of a doc the sandbox asked for.
fn doc_detail(detail: protocol::Detail) -> Detail {
    match detail {
        protocol::Detail::Name => Detail::Name,
        protocol::Detail::Summary => Detail::Summary,
        protocol::Detail::Full => Detail::Full,
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
