//! The MCP face of the bridge: one tool, `run_python`, and one resource, the sandbox manual.
//!
//! [`BridgeServer`] is the rmcp handler; the work itself is [`Bridge::run_python`], shared with `bridge run`.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::Peer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, JsonObject, ListResourcesResult,
    PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, ServerCapabilities, ServerConfig,
};
use rmcp::service::{ElicitationError, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use tokio_util::sync::CancellationToken;

use crate::bridge::Bridge;
use crate::proxy::Asker;
use crate::{request, response, sandbox};

/// Where the manual is served (the seed's URI, kept for compatibility).
pub const CAPABILITIES_URI: &str = "resource://mcp-server-code-execution-mode/capabilities";

/// The newest protocol revision the bridge negotiates.
pub const PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion::V_2025_11_25;

const INSTRUCTIONS: &str = "Use run_python to run Python 3 code in an isolated, throwaway container: no network, \
read-only filesystem except /tmp and /workspace, nothing kept between calls. Print what you want to see: stdout \
and stderr come back as line lists, and status/exitCode say whether the code succeeded (an uncaught exception is \
status error with the traceback in stderr). Top-level await works. Pass `servers` to call configured MCP servers' \
tools from the code as Python functions, and filter or combine their results in code instead of in the \
conversation. Pass `session` (a name) to keep variables, imports and files across calls in one interpreter \
instead of a fresh container each time. Read the capabilities resource or print(runtime.capability_summary()) \
for the manual.";

/// The user's answer to a policy's question.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct Approval {
    /// Allow this tool call?
    approve: bool,
}
rmcp::elicit_safe!(Approval);

/// Puts policy questions to the user through MCP elicitation (a form with one yes/no field).
struct ElicitingAsker {
    peer: Peer<RoleServer>,
}

impl Asker for ElicitingAsker {
    fn ask(&self, prompt: String) -> futures::future::BoxFuture<'static, Result<bool, String>> {
        let peer = self.peer.clone();
        Box::pin(async move {
            match peer.elicit::<Approval>(prompt).await {
                Ok(Some(answer)) => Ok(answer.approve),
                Ok(None) => Ok(false),
                Err(ElicitationError::UserDeclined | ElicitationError::UserCancelled) => Ok(false),
                Err(ElicitationError::CapabilityNotSupported) => {
                    Err("the MCP client does not support elicitation".into())
                }
                Err(other) => Err(format!("asking the user failed ({other})")),
            }
        })
    }
}

/// The rmcp handler: one tool router over a shared [`Bridge`]. One handler serves one MCP connection, whose
/// id owns the sessions its calls open.
#[derive(Clone)]
pub struct BridgeServer {
    bridge: Arc<Bridge>,
    connection: Arc<str>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl BridgeServer {
    /// A handler over `bridge`; the tool's schema takes its limits from the bridge's settings.
    pub fn new(bridge: Arc<Bridge>) -> Self {
        let mut tool_router = Self::tool_router();
        if let Some(route) = tool_router.map.get_mut("run_python") {
            route.attr.input_schema = Arc::new(request::input_schema(bridge.config()));
            route.attr.output_schema = Some(Arc::new(response::output_schema()));
        }
        BridgeServer {
            bridge,
            connection: uuid::Uuid::new_v4().simple().to_string().into(),
            tool_router,
        }
    }

    /// Execute Python code inside a rootless container sandbox. Use the optional 'servers' array to load MCP
    /// servers for this execution, and 'session' to keep state between calls.
    #[tool(
        name = "run_python",
        description = "Execute Python code inside a rootless container sandbox. Use the optional 'servers' array to load MCP servers for this execution. Each call gets a fresh container; name a 'session' to keep variables, imports and files between calls.",
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
        cancel: CancellationToken,
        peer: Peer<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let asker: Arc<dyn Asker> = Arc::new(ElicitingAsker { peer });
        let response = self
            .bridge
            .run_python_asking(&arguments, &cancel, Some(asker), Some(&self.connection))
            .await
            .map_err(|cancelled| ErrorData::internal_error(cancelled.to_string(), None))?;
        let mut result = CallToolResult::success(vec![ContentBlock::text(response.text)]);
        result.is_error = Some(response.payload.status != response::Status::Success);
        result.structured_content = Some(response.payload.to_value());
        Ok(result)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BridgeServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        );
        info.protocol_version = PROTOCOL_VERSION;
        info.server_info = Implementation::new("mcp-bridge", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(INSTRUCTIONS.to_string());
        info
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&PROTOCOL_VERSION))
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
