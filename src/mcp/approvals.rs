//! How a policy's `ask` reaches the user, in either protocol era.
//!
//! - Clients that connected with `initialize` (revisions up to 2025-11-25) get an elicitation request in the
//!   middle of the call ([`ElicitingAsker`]), as MCP had it.
//! - 2026-07-28 clients cannot be sent requests: a question becomes an `input_required` result (a Multi
//!   Round-Trip Request) and the client answers by calling `run_python` again with the answers and the opaque
//!   `requestState` it was given. The run goes on meanwhile in its own task ([`PendingRuns`]): the retry finds it
//!   by that handle, hands it the answers and waits for the next question or the result.
//!
//! Either way a question nobody answers within `MCP_BRIDGE_APPROVAL_TIMEOUT` is a denial that says so, and a
//! question about a tool call inside a run is also cut off by the run's own deadline.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rmcp::model::{
    CallToolResult, ContentBlock, ElicitRequest, ElicitRequestParams, ElicitationSchema,
    InputRequest, InputRequests, InputRequiredResult, InputResponses, JsonObject,
};
use rmcp::service::RequestContext;
use rmcp::service::{ElicitationError, ServiceError};
use rmcp::{ErrorData, Peer, RoleServer};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::bridge::{Bridge, Caller, Cancelled, Response};
use crate::proxy::Asker;
use crate::sandbox::RunProgress;

/// The user's answer to a policy's question.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct Approval {
    /// Allow this tool call?
    approve: bool,
}
rmcp::elicit_safe!(Approval);

/// Why a question counts as a denial when nobody answered it.
pub(super) fn unanswered(wait: Duration) -> String {
    format!(
        "nobody answered within {} s (MCP_BRIDGE_APPROVAL_TIMEOUT)",
        wait.as_secs()
    )
}

/// Puts policy questions to a client that connected with `initialize`, through MCP elicitation (a form with one
/// yes/no field).
pub struct ElicitingAsker {
    /// The client's connection.
    pub peer: Peer<RoleServer>,
    /// How long a question waits for its answer.
    pub wait: Duration,
}

impl Asker for ElicitingAsker {
    fn ask(&self, prompt: String) -> BoxFuture<'static, Result<bool, String>> {
        let (peer, wait) = (self.peer.clone(), self.wait);
        Box::pin(async move {
            match peer
                .elicit_with_timeout::<Approval>(prompt, Some(wait))
                .await
            {
                Ok(Some(answer)) => Ok(answer.approve),
                Ok(None) => Ok(false),
                Err(ElicitationError::UserDeclined | ElicitationError::UserCancelled) => Ok(false),
                Err(ElicitationError::CapabilityNotSupported) => {
                    Err("the MCP client does not support elicitation".into())
                }
                Err(ElicitationError::Service(ServiceError::Timeout { .. })) => {
                    Err(unanswered(wait))
                }
                Err(other) => Err(format!("asking the user failed ({other})")),
            }
        })
    }
}

/// The runs started by 2026-07-28 clients able to answer questions, by the opaque handle each `input_required`
/// result carries as its `requestState`. One set per stdio connection; over HTTP one set for the server, each run
/// answerable only by the client that started it.
#[derive(Default)]
pub struct PendingRuns {
    runs: Mutex<HashMap<String, Arc<PendingRun>>>,
}

/// A run going on in its own task, and what it is waiting for.
struct PendingRun {
    /// The run's output so far and when it began, for each round's progress notifications.
    progress: Arc<RunProgress>,
    started: Instant,
    /// The connection (over HTTP: the client) that started it; nobody else's retry reaches it.
    owner: Arc<str>,
    /// The call's arguments: a retry must be the same call.
    arguments: JsonObject,
    /// Cancels the run. Not the request's token: rmcp cancels that once the request is answered, and an
    /// `input_required` answer must leave the run going.
    cancel: CancellationToken,
    state: Mutex<RunState>,
    /// Bumped on every change of `state`.
    changed: watch::Sender<u64>,
    /// One retry at a time drives the run.
    driver: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct RunState {
    next_question: u64,
    /// Questions not answered yet, by key.
    questions: BTreeMap<String, Question>,
    /// The run's outcome once it ended, until a call collects it.
    outcome: Option<Result<Response, Cancelled>>,
}

struct Question {
    prompt: String,
    answer: oneshot::Sender<bool>,
}

impl PendingRun {
    fn update<T>(&self, change: impl FnOnce(&mut RunState) -> T) -> T {
        let value = change(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.send_modify(|version| *version += 1);
        value
    }
}

/// What a retry brought: the handle of its run and the answers.
pub struct Retry {
    /// The `requestState` of the retry.
    pub handle: String,
    /// The client's `inputResponses`.
    pub answers: Option<InputResponses>,
}

impl PendingRuns {
    /// Starts `arguments` as a run in its own task and waits for its first question or its result.
    pub async fn start(
        self: &Arc<Self>,
        bridge: Arc<Bridge>,
        connection: Arc<str>,
        arguments: JsonObject,
        request: &RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        let handle = uuid::Uuid::new_v4().simple().to_string();
        let run = Arc::new(PendingRun {
            progress: Arc::default(),
            started: Instant::now(),
            owner: connection.clone(),
            arguments: arguments.clone(),
            cancel: CancellationToken::new(),
            state: Mutex::default(),
            changed: watch::Sender::new(0),
            driver: tokio::sync::Mutex::new(()),
        });
        self.lock().insert(handle.clone(), run.clone());
        let wait = bridge.config().approval_wait;
        let asker: Arc<dyn Asker> = Arc::new(RetryAsker {
            run: run.clone(),
            wait,
        });
        let (runs, task_run, task_handle) = (self.clone(), run.clone(), handle.clone());
        tokio::spawn(async move {
            let caller = Caller {
                asker: Some(asker),
                connection: Some(&connection),
                progress: Some(task_run.progress.clone()),
                ..Caller::default()
            };
            let outcome = bridge
                .run_python_for(&arguments, &task_run.cancel, caller)
                .await;
            task_run.update(|state| state.outcome = Some(outcome));
            // An outcome nobody collects (the client stopped retrying) is dropped after a while.
            tokio::time::sleep(wait).await;
            runs.forget(&task_handle, &task_run);
        });
        self.drive(&handle, &run, request).await
    }

    /// Hands a retry's answers to its run and waits for the next question or the result.
    pub async fn resume(
        &self,
        connection: &str,
        retry: Retry,
        arguments: &JsonObject,
        request: &RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        // Another client's run is answered exactly as a run that does not exist: its handle tells nothing.
        let run = self
            .lock()
            .get(&retry.handle)
            .filter(|run| *run.owner == *connection)
            .cloned();
        let Some(run) = run else {
            return Ok(refusal(
                "this requestState names no run waiting for answers (it ended, was collected, or its \
                 questions expired); call run_python again without it",
            ));
        };
        if run.arguments != *arguments {
            return Ok(refusal(
                "a retry must repeat the arguments of the call that asked; these differ, so nothing was \
                 answered",
            ));
        }
        let answers = retry.answers.unwrap_or_default();
        run.update(|state| {
            for (key, answer) in answers {
                if let Some(question) = state.questions.remove(&key) {
                    let _ = question.answer.send(approved(&answer));
                }
            }
        });
        self.drive(&retry.handle, &run, request).await
    }

    /// Waits for the run's result (collected: the run is forgotten) or for questions to answer.
    async fn drive(
        &self,
        handle: &str,
        run: &Arc<PendingRun>,
        request: &RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        let _driving = run.driver.lock().await;
        // This round's request hears how the run goes while it waits, if it asked to.
        let _reporter = super::progress::report(request, run.progress.clone(), run.started);
        let request = &request.ct;
        let mut changes = run.changed.subscribe();
        loop {
            // Looked at after subscribing: a change in between wakes the wait below.
            let next = {
                let mut state = run.state.lock().unwrap_or_else(PoisonError::into_inner);
                match state.outcome.take() {
                    Some(outcome) => Some(Err(outcome)),
                    None if !state.questions.is_empty() => Some(Ok(input_requests(&state))),
                    None => None,
                }
            };
            match next {
                Some(Err(outcome)) => {
                    self.forget(handle, run);
                    return match outcome {
                        Ok(response) => Ok(super::tool_result(response).into()),
                        Err(cancelled) => {
                            Err(ErrorData::internal_error(cancelled.to_string(), None))
                        }
                    };
                }
                Some(Ok(questions)) => {
                    return Ok(
                        InputRequiredResult::new(Some(questions), Some(handle.to_string())).into(),
                    );
                }
                None => {}
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Err(ErrorData::internal_error("the run's task ended", None));
                    }
                }
                () = request.cancelled() => {
                    // The client cancelled this call (or went away): the run ends with it.
                    run.cancel.cancel();
                    self.forget(handle, run);
                    return Err(ErrorData::internal_error("the call was cancelled", None));
                }
            }
        }
    }

    fn forget(&self, handle: &str, run: &Arc<PendingRun>) {
        let mut runs = self.lock();
        if runs
            .get(handle)
            .is_some_and(|known| Arc::ptr_eq(known, run))
        {
            runs.remove(handle);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<PendingRun>>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Asks by leaving the question with the run for the next `input_required` result.
struct RetryAsker {
    run: Arc<PendingRun>,
    wait: Duration,
}

impl Asker for RetryAsker {
    fn ask(&self, prompt: String) -> BoxFuture<'static, Result<bool, String>> {
        let (run, wait) = (self.run.clone(), self.wait);
        Box::pin(async move {
            let (answer, answered) = oneshot::channel();
            let key = run.update(|state| {
                state.next_question += 1;
                let key = format!("approval-{}", state.next_question);
                state
                    .questions
                    .insert(key.clone(), Question { prompt, answer });
                key
            });
            // A question whose asker is gone (the run ended at its deadline) is not shown any more.
            let _withdraw = Withdraw {
                run: run.clone(),
                key,
            };
            match tokio::time::timeout(wait, answered).await {
                Ok(Ok(approve)) => Ok(approve),
                Ok(Err(_)) => Err("the question was withdrawn".to_string()),
                Err(_) => Err(unanswered(wait)),
            }
        })
    }
}

struct Withdraw {
    run: Arc<PendingRun>,
    key: String,
}

impl Drop for Withdraw {
    fn drop(&mut self) {
        let key = &self.key;
        let mut state = self
            .run
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.questions.remove(key);
    }
}

/// The unanswered questions as elicitation requests: a form with one yes/no field each.
fn input_requests(state: &RunState) -> InputRequests {
    state
        .questions
        .iter()
        .filter_map(|(key, question)| {
            Some((key.clone(), approval_request(question.prompt.clone())?))
        })
        .collect()
}

/// A policy's question as an elicitation request: a form with one yes/no field (None only if the form's
/// schema cannot be built, which its fixed type rules out).
pub(super) fn approval_request(prompt: String) -> Option<InputRequest> {
    let params = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: prompt,
        requested_schema: ElicitationSchema::from_type::<Approval>().ok()?,
    };
    Some(InputRequest::Elicitation(ElicitRequest::new(params)))
}

/// Only an explicit acceptance with `approve: true` approves (an `ElicitResult`); anything else declines.
pub(super) fn approved(answer: &serde_json::Value) -> bool {
    answer.get("action").and_then(|a| a.as_str()) == Some("accept")
        && answer
            .get("content")
            .and_then(|c| c.get("approve"))
            .and_then(|a| a.as_bool())
            == Some(true)
}

fn refusal(message: &str) -> rmcp::model::CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(message)]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_acceptance_approves() {
        let accept = serde_json::json!({"action": "accept", "content": {"approve": true}});
        assert!(approved(&accept));
        for other in [
            serde_json::json!({"action": "accept", "content": {"approve": false}}),
            serde_json::json!({"action": "accept", "content": {"approve": "true"}}),
            serde_json::json!({"action": "accept"}),
            serde_json::json!({"action": "decline", "content": {"approve": true}}),
            serde_json::json!({"action": "cancel"}),
            serde_json::json!("yes"),
        ] {
            assert!(!approved(&other), "{other}");
        }
    }

    #[test]
    fn the_approval_form_has_one_boolean_field() {
        let schema = ElicitationSchema::from_type::<Approval>().expect("a form schema");
        let json = serde_json::to_value(schema).expect("serialisable");
        assert_eq!(json["properties"]["approve"]["type"], "boolean");
        assert_eq!(json["required"], serde_json::json!(["approve"]));
    }
}
