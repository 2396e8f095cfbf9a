//! MCP client handlers the end-to-end tests drive the bridge with (rmcp's own client), and the lifecycles they
//! use.

use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, InputRequest, ProgressNotificationParam, ProtocolVersion,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService};
use rmcp::{ClientHandler, ClientLifecycleMode, ErrorData, RoleClient};
use serde_json::json;

/// The 2026-07-28 lifecycle: `server/discover`, then stateless requests with `_meta` (no `initialize`).
pub fn stateless() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    }
}

/// Both lifecycles, named for assertion messages: legacy `initialize` and 2026-07-28.
pub fn lifecycles() -> [(&'static str, ClientLifecycleMode); 2] {
    [
        ("initialize", ClientLifecycleMode::Initialize),
        ("2026-07-28", stateless()),
    ]
}

/// The stdout lines of a successful run's `structuredContent`.
pub fn success_stdout(payload: &serde_json::Value) -> Vec<String> {
    assert_eq!(payload["status"], "success", "{payload:#}");
    payload["stdout"]
        .as_array()
        .expect("stdout lines")
        .iter()
        .map(|line| line.as_str().expect("a line").to_string())
        .collect()
}

/// Code that calls the stub's `echo` and prints its text, or the policy's denial.
pub const TRY_ECHO: &str = r#"
try:
    print((await mcp_stub.echo(text="hi")).text)
except runtime.PolicyDenied as exc:
    print("denied:", exc)
"#;

/// A client that declares form elicitation and answers it: accept with `approve`, or decline when `None`; or,
/// `silent`, never. It keeps the questions it was asked and the progress messages it heard.
#[derive(Clone)]
pub struct Approver {
    pub approve: Option<bool>,
    pub silent: bool,
    pub asked: Arc<Mutex<Vec<String>>>,
    pub progress: Arc<Mutex<Vec<String>>>,
}

impl Approver {
    pub fn new(approve: Option<bool>) -> Self {
        Approver {
            approve,
            silent: false,
            asked: Arc::default(),
            progress: Arc::default(),
        }
    }

    pub fn silent() -> Self {
        Approver {
            silent: true,
            ..Approver::new(None)
        }
    }
}

impl ClientHandler for Approver {
    fn get_info(&self) -> ClientConfig {
        super::client_config("approver", true, false)
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress
            .lock()
            .unwrap()
            .push(params.message.unwrap_or_default());
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = request {
            self.asked.lock().unwrap().push(message);
        }
        if self.silent {
            std::future::pending::<()>().await;
        }
        Ok(match self.approve {
            Some(approve) => ElicitResult::new(ElicitationAction::Accept)
                .with_content(json!({"approve": approve})),
            None => ElicitResult::new(ElicitationAction::Decline),
        })
    }
}

/// A 2026-07-28 client that declares the tasks extension (and, `elicit`, form elicitation).
#[derive(Clone)]
pub struct TaskClient {
    pub elicit: bool,
}

impl ClientHandler for TaskClient {
    fn get_info(&self) -> ClientConfig {
        super::client_config("task-client", self.elicit, true)
    }
}

/// A 2026-07-28 call that answered `input_required` with one question, and how to answer it.
pub struct Question {
    /// The call as made, to retry with the answer.
    pub params: CallToolRequestParams,
    /// The question's key in `inputRequests`.
    pub key: String,
    /// The question.
    pub request: InputRequest,
    /// The opaque state the retry must carry.
    pub state: String,
}

impl Question {
    /// Calls `run_python` with `arguments` once, expecting exactly one question back.
    pub async fn ask<H: ClientHandler>(
        client: &RunningService<RoleClient, H>,
        arguments: serde_json::Value,
    ) -> Self {
        let params =
            CallToolRequestParams::new("run_python").with_arguments(super::args(arguments));
        let CallToolResponse::InputRequired(asked) =
            client.call_tool_once(params.clone()).await.unwrap()
        else {
            panic!("expected input_required");
        };
        let requests = asked.input_requests.expect("input requests");
        assert_eq!(requests.len(), 1, "{requests:?}");
        let (key, request) = requests.into_iter().next().expect("one question");
        Question {
            params,
            key,
            request,
            state: asked.request_state.expect("a request state"),
        }
    }

    /// The retry that answers it: the approval form accepted with `approve`.
    pub fn answer(&self, approve: bool) -> CallToolRequestParams {
        let answer =
            ElicitResult::new(ElicitationAction::Accept).with_content(json!({"approve": approve}));
        self.params
            .clone()
            .with_input_responses(
                [(self.key.clone(), serde_json::to_value(answer).unwrap())].into(),
            )
            .with_request_state(self.state.clone())
    }
}
