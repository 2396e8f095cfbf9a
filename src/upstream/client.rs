//! One upstream MCP server as an rmcp client: started on first use, kept warm, restarted after it dies, its
//! tool list refreshed when it says `tools/list_changed`, and ended with the bridge.
//!
//! The first start finds out which lifecycle the server speaks: `server/discover` for MCP 2026-07-28 (then
//! stateless requests), else the `initialize` handshake ([`Era`], remembered for its restarts). A 2026 server
//! that answers a call with `input_required` carrying only state is called again with it; one that wants the
//! user's input gets a refusal (the bridge does not forward questions from upstream servers).
//!
//! stdio servers run in their own process group (so `npx`'s node child ends with it) with a minimal inherited
//! environment ([`INHERITED_ENV`]) plus the config's `env`. `url` entries speak streamable HTTP. What a server
//! sends is bounded at the transport (`transport/`): a reply larger than
//! [`UpstreamLimits::max_message_bytes`] fails its request with [`UpstreamError::TooLarge`].
//!
//! A server's stderr is hostile data that may hold secrets (a token it logged): it is kept as a short tail of
//! capped lines and written to the bridge's log when a start fails or the server dies, never into an
//! [`UpstreamError`], whose text reaches the sandbox and so the model.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    DEFAULT_MRTR_MAX_ROUNDS, Implementation, JsonObject, ProtocolVersion, ServerNotification,
    SubscriptionFilter, Tool,
};
use rmcp::service::{NotificationContext, Peer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient};

use super::transport::{self, ChildTransport, stderr};
use crate::servers::DiscoveredServer;

/// Variables a stdio server inherits from the bridge (as the MCP SDKs do), before the config's own `env`.
/// Everything else (tokens, the bridge's own settings) stays out unless the config passes it explicitly.
pub const INHERITED_ENV: &[&str] = &[
    "HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
    "TMPDIR",
];

/// How long a server gets from spawn to answering `initialize` (or `server/discover`) and `tools/list` (`npx`
/// may download first).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest pause before calling a server again that answered with state only.
const MRTR_MAX_BACKOFF: Duration = Duration::from_millis(250);

/// Why an upstream could not serve a request. The text is what the sandbox (and so the model) sees.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The server is disabled in its config file.
    #[error("MCP server '{0}' is disabled in its config file")]
    Disabled(String),
    /// It could not be started or did not complete the handshake. Its stderr is in the bridge's log only.
    #[error("MCP server '{server}' failed to start: {reason} (see the bridge's log)")]
    Start {
        /// The server's name.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// The connection broke during a request (the server crashed or closed); the next request restarts it.
    /// Its stderr is in the bridge's log only.
    #[error(
        "MCP server '{server}' stopped while handling {what}; it will be restarted on the next call \
         (see the bridge's log)"
    )]
    Crashed {
        /// The server's name.
        server: String,
        /// The request, e.g. `tools/call 'crash'`.
        what: String,
    },
    /// The server's reply was larger than [`UpstreamLimits::max_message_bytes`]; it was dropped unread (never
    /// held in memory) and the connection stays usable.
    #[error(
        "MCP server '{server}' sent a reply to {what} larger than MCP_BRIDGE_MAX_TOOL_RESULT ({limit} bytes); it was dropped"
    )]
    TooLarge {
        /// The server's name.
        server: String,
        /// The request.
        what: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// It did not answer within [`UpstreamLimits::call_timeout`]; the request was cancelled
    /// (`notifications/cancelled`) and the connection stays usable.
    #[error(
        "MCP server '{server}' did not answer {what} within {seconds} s (MCP_BRIDGE_TOOL_TIMEOUT), so the call was \
         cancelled"
    )]
    TimedOut {
        /// The server's name.
        server: String,
        /// The request.
        what: String,
        /// The limit in seconds.
        seconds: u64,
    },
    /// The server answered with a JSON-RPC error.
    #[error("MCP server '{server}' refused {what}: {message}")]
    Refused {
        /// The server's name.
        server: String,
        /// The request.
        what: String,
        /// The server's message.
        message: String,
    },
}

/// Bounds on what an upstream server may send, from the bridge's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// The largest single message (`MCP_BRIDGE_MAX_TOOL_RESULT`): a larger reply fails its request with an
    /// error naming the limit.
    pub max_message_bytes: usize,
    /// The longest one tool call may take (`MCP_BRIDGE_TOOL_TIMEOUT`), every `input_required` round included.
    pub call_timeout: Duration,
}

/// The client-side handler: notices `tools/list_changed`.
#[derive(Clone)]
struct Handler {
    tools_stale: Arc<AtomicBool>,
    server: String,
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        // `initialize` names the newest revision that has it; a 2026 server is reached through discovery.
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("mcp-bridge", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::debug!(server = self.server, "tools/list_changed");
        self.tools_stale.store(true, Ordering::Release);
    }
}

/// Which lifecycle a server speaks, learnt at its first start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    /// MCP 2026-07-28: `server/discover`, then stateless requests.
    Stateless,
    /// The `initialize` handshake (revisions up to 2025-11-25).
    Handshake,
}

/// How to start a server of `era` (unknown: try discovery, fall back to the handshake).
fn lifecycle(era: Option<Era>) -> ClientLifecycleMode {
    let preferred_versions = vec![ProtocolVersion::V_2026_07_28];
    match era {
        None => ClientLifecycleMode::Auto {
            preferred_versions,
            legacy_version: Some(ProtocolVersion::LATEST_WITH_INITIALIZE),
        },
        Some(Era::Stateless) => ClientLifecycleMode::Discover { preferred_versions },
        Some(Era::Handshake) => ClientLifecycleMode::Initialize,
    }
}

/// A started server: its session and its tools as last listed.
struct Connection {
    service: RunningService<RoleClient, Handler>,
    tools: Arc<Vec<Tool>>,
}

/// One configured server and, once used, its live connection.
pub struct UpstreamClient {
    server: DiscoveredServer,
    limits: UpstreamLimits,
    connection: tokio::sync::Mutex<Option<Connection>>,
    tools_stale: Arc<AtomicBool>,
    /// The lifecycle it answered with last time.
    era: Mutex<Option<Era>>,
    /// The stderr tail of the current (or last) process; each process gets its own, so a previous one's
    /// late lines never mix in.
    stderr_tail: Mutex<stderr::Tail>,
}

impl UpstreamClient {
    /// A client for `server`; nothing starts until the first request.
    pub fn new(server: DiscoveredServer, limits: UpstreamLimits) -> Self {
        UpstreamClient {
            server,
            limits,
            connection: tokio::sync::Mutex::new(None),
            tools_stale: Arc::new(AtomicBool::new(false)),
            era: Mutex::new(None),
            stderr_tail: Mutex::new(stderr::Tail::default()),
        }
    }

    /// The server's configuration.
    pub fn server(&self) -> &DiscoveredServer {
        &self.server
    }

    /// The protocol revision of the live connection, if there is one (`None` while another request holds it).
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        let slot = self.connection.try_lock().ok()?;
        let info = slot.as_ref()?.service.peer().peer_info()?;
        Some(info.protocol_version.clone())
    }

    /// The bounds it enforces.
    pub fn limits(&self) -> UpstreamLimits {
        self.limits
    }

    /// The last lines its current (or last) stdio process wrote to stderr, each cut to about 1 KiB with a
    /// marker. For the host only (logs, diagnostics): it may hold secrets, so it must never reach the sandbox.
    pub fn stderr_tail(&self) -> Vec<String> {
        let Some(tail) = self.stderr_tail.lock().ok().map(|t| t.clone()) else {
            return Vec::new();
        };
        tail.lock()
            .map(|lines| lines.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Its tools: listed when it starts, and again after `tools/list_changed` or a restart.
    pub async fn tools(&self) -> Result<Arc<Vec<Tool>>, UpstreamError> {
        let (_, tools) = self.connected(false).await?;
        Ok(tools)
    }

    /// The tool list of a live connection, without starting anything or waiting; `None` when there is no
    /// current list (not started, busy, stale or dead).
    pub fn current_tools(&self) -> Option<Arc<Vec<Tool>>> {
        if self.tools_stale.load(Ordering::Acquire) {
            return None;
        }
        let slot = self.connection.try_lock().ok()?;
        let connection = slot.as_ref()?;
        (!connection.service.is_transport_closed()).then(|| connection.tools.clone())
    }

    /// Lists the tools again now, whatever the cache says.
    pub async fn refresh_tools(&self) -> Result<Arc<Vec<Tool>>, UpstreamError> {
        let (_, tools) = self.connected(true).await?;
        Ok(tools)
    }

    /// Calls `tool`. A connection that breaks during the call is dropped, so the next call starts afresh. A call
    /// not answered within [`UpstreamLimits::call_timeout`] is cancelled: dropping rmcp's request sends the
    /// server `notifications/cancelled`, and its other calls go on.
    pub async fn call(
        &self,
        tool: &str,
        arguments: JsonObject,
    ) -> Result<CallToolResult, UpstreamError> {
        let (peer, _) = self.connected(false).await?;
        let what = format!("tools/call '{tool}'");
        let limit = self.limits.call_timeout;
        match tokio::time::timeout(limit, self.call_rounds(&peer, tool, arguments, &what)).await {
            Ok(answer) => answer,
            Err(_) => {
                tracing::warn!(
                    server = self.server.name,
                    tool,
                    "tool call cancelled after {} s (MCP_BRIDGE_TOOL_TIMEOUT)",
                    limit.as_secs()
                );
                Err(UpstreamError::TimedOut {
                    server: self.server.name.clone(),
                    what,
                    seconds: limit.as_secs(),
                })
            }
        }
    }

    /// One call's requests: the first, then each `input_required` round that carries only state.
    async fn call_rounds(
        &self,
        peer: &Peer<RoleClient>,
        tool: &str,
        arguments: JsonObject,
        what: &str,
    ) -> Result<CallToolResult, UpstreamError> {
        let what = what.to_string();
        let mut params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        let refused = |message: String| UpstreamError::Refused {
            server: self.server.name.clone(),
            what: what.clone(),
            message,
        };
        for round in 1..=DEFAULT_MRTR_MAX_ROUNDS {
            let asked = match peer.call_tool_once(params.clone()).await {
                Ok(CallToolResponse::Complete(result)) => return Ok(result),
                Ok(CallToolResponse::InputRequired(asked)) => asked,
                Ok(_) => {
                    return Err(refused(
                        "it answered with a task, which the bridge does not follow".into(),
                    ));
                }
                Err(error) => return Err(self.request_failed(error, what, peer).await),
            };
            if asked
                .input_requests
                .as_ref()
                .is_some_and(|requests| !requests.is_empty())
            {
                return Err(refused(
                    "it asked for the user's input (elicitation, sampling or roots), which the bridge does \
                     not pass on to its own client"
                        .into(),
                ));
            }
            // Only state: the server wants the same call again with it (a multi-step tool, load shedding).
            let Some(state) = asked.request_state else {
                return Err(refused(
                    "it answered input_required with nothing to answer".into(),
                ));
            };
            params = params.with_request_state(state);
            tokio::time::sleep(Duration::from_millis(50 * round as u64).min(MRTR_MAX_BACKOFF))
                .await;
        }
        Err(refused(format!(
            "it still answered input_required after {DEFAULT_MRTR_MAX_ROUNDS} rounds"
        )))
    }

    /// Ends the server (its whole process group, for stdio servers).
    pub async fn shutdown(&self) {
        if let Some(connection) = self.connection.lock().await.take() {
            let _ = connection.service.cancel().await;
        }
    }

    /// A live peer and the current tool list, starting or restarting the server as needed.
    async fn connected(
        &self,
        force_refresh: bool,
    ) -> Result<(Peer<RoleClient>, Arc<Vec<Tool>>), UpstreamError> {
        let mut slot = self.connection.lock().await;
        if slot
            .as_ref()
            .is_some_and(|c| c.service.is_transport_closed() || c.service.is_closed())
        {
            tracing::warn!(
                server = self.server.name,
                "upstream server exited; restarting"
            );
            if let Some(dead) = slot.take() {
                let _ = dead.service.cancel().await;
            }
        }
        let connection = match slot.take() {
            Some(live) => slot.insert(live),
            None => slot.insert(self.start().await?),
        };
        if force_refresh || self.tools_stale.swap(false, Ordering::AcqRel) {
            let peer = connection.service.peer().clone();
            match peer.list_all_tools().await {
                Ok(tools) => connection.tools = Arc::new(tools),
                Err(error) => {
                    let error = self.request_failed(error, "tools/list".into(), &peer).await;
                    if matches!(error, UpstreamError::Crashed { .. }) {
                        *slot = None;
                    } else {
                        // Still stale: the next request lists again.
                        self.tools_stale.store(true, Ordering::Release);
                    }
                    return Err(error);
                }
            }
        }
        Ok((connection.service.peer().clone(), connection.tools.clone()))
    }

    async fn start(&self) -> Result<Connection, UpstreamError> {
        let entry = &self.server.entry;
        if entry.disabled {
            return Err(UpstreamError::Disabled(self.server.name.clone()));
        }
        self.tools_stale.store(false, Ordering::Release);
        let handler = Handler {
            tools_stale: self.tools_stale.clone(),
            server: self.server.name.clone(),
        };
        let started = tokio::time::timeout(START_TIMEOUT, async {
            let known = self.known_era();
            let service = match self.connect(handler.clone(), lifecycle(known)).await {
                Ok(service) => service,
                // A server that closes the connection on `server/discover` instead of answering it with an
                // error speaks only the handshake: started again with it.
                Err(first) if known.is_none() => self
                    .connect(handler, lifecycle(Some(Era::Handshake)))
                    .await
                    .map_err(|again| format!("{first}; started again with initialize: {again}"))?,
                Err(error) => return Err(error),
            };
            let era = match service.peer().peer_info() {
                Some(info) if !info.protocol_version.has_initialize() => Era::Stateless,
                _ => Era::Handshake,
            };
            if known != Some(era) {
                tracing::info!(
                    server = self.server.name,
                    protocol = service
                        .peer()
                        .peer_info()
                        .map(|i| i.protocol_version.to_string()),
                    "connected to MCP server"
                );
            }
            *self
                .era
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(era);
            if era == Era::Stateless {
                self.listen_for_list_changes(service.peer().clone());
            }
            let tools = service
                .peer()
                .list_all_tools()
                .await
                .map_err(|e| format!("tools/list failed: {e}"))?;
            Ok(Connection {
                service,
                tools: Arc::new(tools),
            })
        })
        .await;
        let result = match started {
            Ok(result) => result,
            Err(_) => Err(format!(
                "no answer to initialize (or server/discover) and tools/list within {} s",
                START_TIMEOUT.as_secs()
            )),
        };
        match result {
            Ok(connection) => Ok(connection),
            Err(reason) => {
                settle_stderr().await;
                tracing::warn!(
                    server = self.server.name,
                    "MCP server failed to start: {reason}{}",
                    self.tail_for_log()
                );
                Err(UpstreamError::Start {
                    server: self.server.name.clone(),
                    reason,
                })
            }
        }
    }

    fn known_era(&self) -> Option<Era> {
        *self
            .era
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a session in `lifecycle`: a new process for a stdio server, a new session for a `url` one.
    async fn connect(
        &self,
        handler: Handler,
        lifecycle: ClientLifecycleMode,
    ) -> Result<RunningService<RoleClient, Handler>, String> {
        let entry = &self.server.entry;
        match (&entry.command, &entry.url) {
            (Some(command), _) => {
                let transport = self.spawn(command)?;
                handler
                    .serve_with_lifecycle(transport, lifecycle)
                    .await
                    .map_err(|e| e.to_string())
            }
            (None, Some(url)) => {
                let config = transport::http_config(url, self.limits.max_message_bytes);
                let transport = StreamableHttpClientTransport::from_config(config);
                handler
                    .serve_with_lifecycle(transport, lifecycle)
                    .await
                    .map_err(|e| e.to_string())
            }
            (None, None) => Err("its entry has neither a command nor a url".to_string()),
        }
    }

    /// A 2026 server says `tools/list_changed` only on a subscription: one is kept open while the session
    /// lasts. A server that refuses it still works; its list is then refreshed only on restart.
    fn listen_for_list_changes(&self, peer: Peer<RoleClient>) {
        let (stale, server) = (self.tools_stale.clone(), self.server.name.clone());
        tokio::spawn(async move {
            let filter = SubscriptionFilter::builder().tools_list_changed().build();
            let mut subscription = match peer.listen(filter).await {
                Ok(subscription) => subscription,
                Err(error) => {
                    tracing::debug!(server, "no tools/list_changed subscription: {error}");
                    return;
                }
            };
            while let Ok(Some(notification)) = subscription.next().await {
                if matches!(
                    notification,
                    ServerNotification::ToolListChangedNotification(_)
                ) {
                    tracing::debug!(server, "tools/list_changed");
                    stale.store(true, Ordering::Release);
                }
            }
        });
    }

    fn spawn(&self, command: &str) -> Result<ChildTransport, String> {
        let entry = &self.server.entry;
        let mut cmd = tokio::process::Command::new(command);
        cmd.args(&entry.args).env_clear();
        for name in INHERITED_ENV {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        cmd.envs(entry.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &entry.cwd {
            cmd.current_dir(cwd);
        }
        // SAFETY: prctl is async-signal-safe; it runs in the child between fork and exec. If the bridge dies
        // without its shutdown path (SIGKILL), the server gets SIGTERM instead of living on.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut wrapped = process_wrap::tokio::CommandWrap::from(cmd);
        wrapped.wrap(process_wrap::tokio::ProcessGroup::leader());
        wrapped.wrap(process_wrap::tokio::KillOnDrop);
        let server: Arc<str> = Arc::from(self.server.name.as_str());
        let (transport, stderr) =
            transport::spawn_child(wrapped, self.limits.max_message_bytes, server.clone())
                .map_err(|e| format!("cannot run {command:?}: {e}"))?;
        let tail = stderr::Tail::default();
        if let Ok(mut current) = self.stderr_tail.lock() {
            *current = tail.clone();
        }
        if let Some(stderr) = stderr {
            tokio::spawn(stderr::keep_tail(stderr, tail, server));
        }
        Ok(transport)
    }

    /// Classifies a failed request: a reply over the size limit, the server's own refusal, a streamable HTTP
    /// reply stream that ended early, or a broken connection (crash, whose stderr tail goes to the log).
    async fn request_failed(
        &self,
        error: rmcp::ServiceError,
        what: String,
        peer: &Peer<RoleClient>,
    ) -> UpstreamError {
        let too_large = match &error {
            rmcp::ServiceError::McpError(data) => transport::too_large_limit(data),
            other => transport::http_too_large(other),
        };
        if let Some(limit) = too_large {
            return UpstreamError::TooLarge {
                server: self.server.name.clone(),
                what,
                limit,
            };
        }
        match error {
            rmcp::ServiceError::McpError(data) => UpstreamError::Refused {
                server: self.server.name.clone(),
                what,
                message: data.message.to_string(),
            },
            // A reply of the wrong shape (a JSON-RPC message, but no `tools/call` result): that call fails, the
            // connection stays.
            rmcp::ServiceError::UnexpectedResponse if !peer.is_transport_closed() => {
                UpstreamError::Refused {
                    server: self.server.name.clone(),
                    what,
                    message: "its reply is not a valid result for that request".into(),
                }
            }
            // rmcp fails one HTTP request this way, leaving the session open, when the event stream that
            // was to carry its reply ends first; it does not say why (see `transport::http_config`).
            rmcp::ServiceError::TransportClosed
                if self.server.entry.command.is_none() && !peer.is_transport_closed() =>
            {
                UpstreamError::Refused {
                    server: self.server.name.clone(),
                    what,
                    message: format!(
                        "the event stream carrying its reply ended before the reply (as when an event is \
                         larger than MCP_BRIDGE_MAX_TOOL_RESULT, {} bytes); see the bridge's log",
                        self.limits.max_message_bytes
                    ),
                }
            }
            other => {
                settle_stderr().await;
                tracing::warn!(
                    server = self.server.name,
                    "{what} failed: {other}{}",
                    self.tail_for_log()
                );
                UpstreamError::Crashed {
                    server: self.server.name.clone(),
                    what,
                }
            }
        }
    }

    /// The stderr tail as `"; its last stderr lines:\n  …"` for the host's log, or nothing.
    fn tail_for_log(&self) -> String {
        let tail = self.stderr_tail();
        if tail.is_empty() {
            return String::new();
        }
        let lines: Vec<String> = tail.iter().map(|l| format!("  {l}")).collect();
        format!("; its last stderr lines:\n{}", lines.join("\n"))
    }
}

/// Gives the stderr reader a moment to catch up with what a dying process wrote, so the log has it.
async fn settle_stderr() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}
