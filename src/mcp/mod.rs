//! The MCP face of the bridge: one tool, `run_python`, and one resource, the sandbox manual.
//!
//! [`BridgeServer`] is the rmcp handler; the work itself is [`Bridge::run_python`], shared with `bridge run`.

mod approvals;
pub mod http;
mod progress;
mod tasks;

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::model::{
    CallToolResponse, CallToolResult, CancelTaskParams, ContentBlock, GetTaskParams, GetTaskResult,
    Implementation, JsonObject, ListResourcesResult, PaginatedRequestParams, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ServerCapabilities, ServerConfig, UpdateTaskParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};

use crate::bridge::{Bridge, Caller, Response};
use crate::proxy::Asker;
use crate::{request, response, sandbox};
use approvals::{ElicitingAsker, PendingRuns, Retry};
use tasks::Tasks;

/// Where the manual is served (the seed's URI, kept for compatibility).
pub const CAPABILITIES_URI: &str = "resource://mcp-server-code-execution-mode/capabilities";

/// The newest protocol revision the bridge serves: 2026-07-28 (stateless requests, `server/discover`, approvals
/// as `input_required` results), next to every older one (an `initialize` handshake, which settles on at most
/// [`HANDSHAKE_VERSION`]).
pub const PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion::V_2026_07_28;

/// The newest revision that still has an `initialize` handshake: what a client asking `initialize` for a newer
/// one is answered with.
pub const HANDSHAKE_VERSION: ProtocolVersion = ProtocolVersion::LATEST_WITH_INITIALIZE;

const INSTRUCTIONS: &str = "Use run_python to run Python 3 code in an isolated, throwaway container: no network, \
read-only filesystem except /tmp and /workspace, nothing kept between calls. Print what you want to see: stdout \
and stderr come back as line lists, and status/exitCode say whether the code succeeded (an uncaught exception is \
status error with the traceback in stderr). Top-level await works. Pass `servers` to call configured MCP servers' \
tools from the code as Python functions, and filter or combine their results in code instead of in the \
conversation. Pass `session` (a name) to keep variables, imports and files across calls in one interpreter \
instead of a fresh container each time. Files the code writes under /workspace/out/ (and matplotlib figures left \
open) come back with the result as images and files; the user's chosen input directories, if any, are at \
/workspace/in/. Read the capabilities resource or print(runtime.capability_summary()) \
for the manual.";

/// The rmcp handler: one tool router over a shared [`Bridge`]. Over stdio one handler serves the one MCP
/// connection, whose id owns the sessions its calls open; over HTTP ([`http`]) the owner is the client each
/// request comes from.
#[derive(Clone)]
pub struct BridgeServer {
    bridge: Arc<Bridge>,
    scope: Scope,
    /// Runs of 2026-07-28 clients waiting for answers to their questions.
    pending: Arc<PendingRuns>,
    /// Calls run as tasks for clients with the tasks extension.
    tasks: Arc<Tasks>,
    tool_router: ToolRouter<Self>,
}

/// Who owns the sessions and pending approvals a call opens.
#[derive(Clone)]
enum Scope {
    /// One stdio connection, by a random id.
    Connection(Arc<str>),
    /// Each request's HTTP client ([`http::HttpClient`]), and its MCP session if it has one.
    Http,
}

#[tool_router]
impl BridgeServer {
    /// A handler for one stdio connection over `bridge`; the tool's schema takes its limits from the bridge's
    /// settings.
    pub fn new(bridge: Arc<Bridge>) -> Self {
        let connection = uuid::Uuid::new_v4().simple().to_string().into();
        Self::scoped(bridge, Scope::Connection(connection))
    }

    /// The handler behind `bridge serve --http`, cloned for each HTTP session and each sessionless request: they
    /// share the pending approvals, which each request finds by its client.
    pub fn for_http(bridge: Arc<Bridge>) -> Self {
        Self::scoped(bridge, Scope::Http)
    }

    fn scoped(bridge: Arc<Bridge>, scope: Scope) -> Self {
        let mut tool_router = Self::tool_router();
        if let Some(route) = tool_router.map.get_mut("run_python") {
            route.attr.input_schema = Arc::new(request::input_schema(bridge.config()));
            route.attr.output_schema = Some(Arc::new(response::output_schema()));
        }
        BridgeServer {
            bridge,
            scope,
            pending: Arc::default(),
            tasks: Arc::default(),
            tool_router,
        }
    }

    /// Execute Python code inside a rootless container sandbox. Use the optional 'servers' array to load MCP
    /// servers for this execution, and 'session' to keep state between calls.
    #[tool(
        name = "run_python",
        description = "Execute Python code inside a rootless container sandbox. Use the optional 'servers' array to load MCP servers for this execution. Each call gets a fresh container; name a 'session' to keep variables, imports and files between calls. Files written to /workspace/out/ come back with the result.",
        annotations(
            title = "Run Python in a sandbox",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn run_python(
        &self,
        arguments: JsonObject,
        context: RequestContext<RoleServer>,
        RequestState(state): RequestState,
        InputResponses(answers): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let cancel = &context.ct;
        let connection = self.connection(&context)?;
        if let Some(handle) = state {
            let retry = Retry { handle, answers };
            return self
                .pending
                .resume(&connection, retry, &arguments, &context)
                .await;
        }
        let asker: Option<Arc<dyn Asker>> = match era(&context) {
            Era::Handshake => Some(Arc::new(ElicitingAsker {
                peer: context.peer.clone(),
                wait: self.bridge.config().approval_wait,
            })),
            Era::Stateless {
                can_elicit,
                tasks: true,
            } => {
                return self
                    .tasks
                    .call(
                        self.bridge.clone(),
                        connection,
                        arguments,
                        can_elicit,
                        cancel,
                    )
                    .await;
            }
            Era::Stateless {
                can_elicit: true, ..
            } => {
                return self
                    .pending
                    .start(self.bridge.clone(), connection, arguments, &context)
                    .await;
            }
            Era::Stateless { .. } => None,
        };
        let (progress, _reporter) = progress::start(&context).unzip();
        let caller = Caller {
            asker,
            connection: Some(&connection),
            progress,
            ..Caller::default()
        };
        let response = self
            .bridge
            .run_python_for(&arguments, cancel, caller)
            .await
            .map_err(|cancelled| ErrorData::internal_error(cancelled.to_string(), None))?;
        Ok(tool_result(response).into())
    }
}

impl BridgeServer {
    /// The owner of what this call opens: the stdio connection, or over HTTP the client (and its MCP session,
    /// for a client that connected with `initialize`).
    fn connection(&self, context: &RequestContext<RoleServer>) -> Result<Arc<str>, ErrorData> {
        match &self.scope {
            Scope::Connection(id) => Ok(id.clone()),
            Scope::Http => {
                let parts = context.extensions.get::<axum::http::request::Parts>();
                let client = parts.and_then(|parts| parts.extensions.get::<http::HttpClient>());
                let Some((parts, client)) = parts.zip(client) else {
                    // The HTTP layer always sets both; a request without them is not served blind.
                    return Err(ErrorData::internal_error(
                        "the HTTP request carries no client identity",
                        None,
                    ));
                };
                let session = parts
                    .headers
                    .get(http::SESSION_HEADER)
                    .and_then(|value| value.to_str().ok());
                Ok(match session {
                    Some(session) => format!("http:{}:{session}", client.id()).into(),
                    None => format!("http:{}", client.id()).into(),
                })
            }
        }
    }
}

/// How a request's client can be asked a question.
enum Era {
    /// It connected with `initialize`: elicitation requests, if it declared them.
    Handshake,
    /// A 2026-07-28 request: only through `input_required` results, if it declares elicitation; `tasks`: it
    /// declares the tasks extension.
    Stateless { can_elicit: bool, tasks: bool },
}

fn era(context: &RequestContext<RoleServer>) -> Era {
    let stateless = context
        .protocol_version()
        .is_some_and(|version| !version.has_initialize());
    if !stateless {
        return Era::Handshake;
    }
    let capabilities = context.client_capabilities();
    // A declared `elicitation` capability without modes means the form mode (the approval form).
    let can_elicit = capabilities
        .as_ref()
        .and_then(|capabilities| capabilities.elicitation.as_ref())
        .is_some_and(|elicitation| elicitation.form.is_some() || elicitation.url.is_none());
    let tasks = capabilities.is_some_and(|capabilities| capabilities.supports_tasks());
    Era::Stateless { can_elicit, tasks }
}

/// The `run_python` result: the encoder's text, then the files the run handed back (images as image content,
/// other files as embedded resources), the structured payload, `isError` unless it succeeded.
fn tool_result(response: Response) -> CallToolResult {
    let mut content = vec![ContentBlock::text(response.text)];
    content.extend(response::files::content(
        response.run_id.as_deref().unwrap_or("run"),
        &response.files,
    ));
    let mut result = CallToolResult::success(content);
    result.is_error = Some(response.payload.status != response::Status::Success);
    result.structured_content = Some(response.payload.to_value());
    result
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BridgeServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_tasks()
                .build(),
        );
        info.protocol_version = HANDSHAKE_VERSION;
        info.server_info = Implementation::new("mcp-bridge", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(INSTRUCTIONS.to_string());
        info
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&PROTOCOL_VERSION))
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let connection = self.connection(&context)?;
        let task = self.tasks.get(&connection, &request.task_id)?;
        Ok(GetTaskResult::new(task))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let connection = self.connection(&context)?;
        self.tasks
            .update(&connection, &request.task_id, request.input_responses)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let connection = self.connection(&context)?;
        self.tasks.cancel(&connection, &request.task_id)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut resource = Resource::new(CAPABILITIES_URI, "code-execution-capabilities");
        resource.title = Some("Code Execution Sandbox Helpers".into());
        resource.description = Some(
            "Capability overview, helper reference, and sandbox usage notes (call runtime.capability_summary() \
             inside the sandbox for this text)."
                .into(),
        );
        resource.mime_type = Some("text/markdown".into());
        resource.size = Some(sandbox::MANUAL.len() as u64);
        Ok(ListResourcesResult::with_all_items(vec![resource]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != CAPABILITIES_URI {
            return Err(ErrorData::resource_not_found(
                format!("Unknown resource: {}", request.uri),
                None,
            ));
        }
        let contents = ResourceContents::text(sandbox::MANUAL, CAPABILITIES_URI)
            .with_mime_type("text/markdown");
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}
