//! Long runs as tasks: the `io.modelcontextprotocol/tasks` extension, for 2026-07-28 clients that declare it.
//!
//! Such a call starts like any other. If it has finished within `MCP_BRIDGE_TASK_AFTER` (default 1 s) its result
//! comes back at once, in one round trip; otherwise, or as soon as a policy asks a question, the call becomes a
//! task: the client gets a task id at once and polls `tasks/get`, which says how long the run has gone and how
//! many lines it has printed, shows a policy's question as `input_required` (answered with `tasks/update`), and
//! ends with the run's result. `tasks/cancel` kills the container. A task's timeout may be up to
//! `MCP_BRIDGE_MAX_TASK_TIMEOUT`. Tasks belong to the connection (over HTTP: the client) that started them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, CreateTaskResult, DetailedTask, JsonObject};
use rmcp::task_manager::{TaskContext, TaskExit, TaskManager, TaskOptions};
use tokio::sync::{Notify, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::approvals::{approval_request, approved, unanswered};
use crate::bridge::{Bridge, Caller, Cancelled, Response};
use crate::proxy::Asker;
use crate::sandbox::RunProgress;

/// How often a task's status message is brought up to date, and the polling interval suggested to clients.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);
const POLL_INTERVAL_MS: u64 = 500;

/// How long a task stays known after it could have ended at the latest: its outcome waits this long for a
/// `tasks/get`.
const RETENTION_MARGIN: Duration = Duration::from_secs(600);

/// The tasks of one connection (over HTTP: of the server, each one its client's).
#[derive(Default)]
pub struct Tasks {
    manager: TaskManager,
    owners: Mutex<HashMap<String, Arc<str>>>,
}

impl Tasks {
    /// Runs `arguments` for `connection`: its result if it ends within `MCP_BRIDGE_TASK_AFTER` and asks
    /// nothing, else a task. A policy's question goes through the task when the client `can_elicit`; otherwise
    /// an `ask` is the clear denial of a client that cannot be asked.
    pub async fn call(
        &self,
        bridge: Arc<Bridge>,
        connection: Arc<str>,
        arguments: JsonObject,
        can_elicit: bool,
        request: &CancellationToken,
    ) -> Result<CallToolResponse, ErrorData> {
        // The status counts from the call, not from the task made of it.
        let started = Instant::now();
        let config = bridge.config();
        let (after, wait, max_timeout) = (
            config.task_after,
            config.approval_wait,
            config.max_task_timeout,
        );
        let cancel = CancellationToken::new();
        let progress = Arc::new(RunProgress::default());
        let (context_tx, context_rx) = watch::channel(None);
        let asked = Arc::new(Notify::new());
        let asker = can_elicit.then(|| {
            Arc::new(TaskAsker {
                manager: self.manager.clone(),
                context: context_rx,
                asked: asked.clone(),
                wait,
                next: AtomicU64::new(1),
            }) as Arc<dyn Asker>
        });
        let (done_tx, mut done_rx) = oneshot::channel();
        let (run_cancel, run_progress, owner) =
            (cancel.clone(), progress.clone(), connection.clone());
        tokio::spawn(async move {
            let caller = Caller {
                asker,
                connection: Some(&owner),
                progress: Some(run_progress),
                max_timeout: Some(max_timeout),
            };
            let outcome = bridge.run_python_for(&arguments, &run_cancel, caller).await;
            let _ = done_tx.send(outcome);
        });

        tokio::select! {
            outcome = &mut done_rx => return finished(outcome),
            () = tokio::time::sleep(after) => {}
            () = asked.notified() => {}
            () = request.cancelled() => {
                cancel.cancel();
                return Err(ErrorData::internal_error("the call was cancelled", None));
            }
        }

        let ttl = max_timeout + wait + RETENTION_MARGIN;
        let options = TaskOptions::new()
            .with_ttl_ms(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
            .with_poll_interval_ms(POLL_INTERVAL_MS)
            .with_status_message(status(started.elapsed(), progress.output_lines()));
        let task = self.manager.spawn(options, move |context| {
            let _ = context_tx.send(Some(context.clone()));
            Box::pin(async move {
                // Dropped (the task expired, the server shut down): the run ends with it.
                let _end_run = cancel.clone().drop_guard();
                let reporter = tokio::spawn(report(context.clone(), progress, started));
                let _stop_reporting = AbortOnDrop(reporter);
                tokio::select! {
                    outcome = done_rx => match outcome {
                        Ok(Ok(response)) => Ok(super::tool_result(response)),
                        Ok(Err(_)) if context.is_cancel_requested() => Err(TaskExit::Cancelled),
                        other => Err(TaskExit::Error(match finished(other) {
                            Err(error) => error,
                            Ok(_) => ErrorData::internal_error("the run ended without a result", None),
                        })),
                    },
                    () = context.cancelled() => {
                        cancel.cancel();
                        Err(TaskExit::Cancelled)
                    }
                }
            })
        });
        self.lock().insert(task.task_id.clone(), connection);
        Ok(CallToolResponse::Task(CreateTaskResult::new(task)))
    }

    /// `tasks/get` for `connection`: another connection's task is as unknown as one that never existed.
    pub fn get(&self, connection: &str, task_id: &str) -> Result<DetailedTask, ErrorData> {
        self.check_owner(connection, task_id)?;
        self.manager.get_task(task_id)
    }

    /// `tasks/update`: answers to a task's questions.
    pub fn update(
        &self,
        connection: &str,
        task_id: &str,
        answers: impl IntoIterator<Item = (String, serde_json::Value)>,
    ) -> Result<(), ErrorData> {
        self.check_owner(connection, task_id)?;
        self.manager.update_task(task_id, answers)
    }

    /// `tasks/cancel`: the run is stopped and its container removed.
    pub fn cancel(&self, connection: &str, task_id: &str) -> Result<(), ErrorData> {
        self.check_owner(connection, task_id)?;
        self.manager.cancel_task(task_id)
    }

    fn check_owner(&self, connection: &str, task_id: &str) -> Result<(), ErrorData> {
        let mut owners = self.lock();
        if owners.len() > 1024 {
            // Forget the owners of tasks the manager no longer knows (it evicts ended ones after their TTL).
            owners.retain(|id, _| self.manager.get_task(id).is_ok());
        }
        match owners.get(task_id) {
            Some(owner) if **owner == *connection => Ok(()),
            _ => Err(ErrorData::invalid_params(
                format!("unknown task: {task_id}"),
                None,
            )),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<str>>> {
        self.owners.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Tasks {
    /// The connection is gone (or the server): its tasks' runs end and their containers go.
    fn drop(&mut self) {
        self.manager.shutdown();
    }
}

fn finished(
    outcome: Result<Result<Response, Cancelled>, oneshot::error::RecvError>,
) -> Result<CallToolResponse, ErrorData> {
    match outcome {
        Ok(Ok(response)) => Ok(super::tool_result(response).into()),
        Ok(Err(cancelled)) => Err(ErrorData::internal_error(cancelled.to_string(), None)),
        Err(_) => Err(ErrorData::internal_error(
            "the run's task ended without a result",
            None,
        )),
    }
}

fn status(elapsed: Duration, lines: u64) -> String {
    format!(
        "running for {} s, {lines} line{} of output so far",
        elapsed.as_secs(),
        if lines == 1 { "" } else { "s" }
    )
}

async fn report(context: TaskContext, progress: Arc<RunProgress>, started: Instant) {
    let mut ticks = tokio::time::interval(STATUS_INTERVAL);
    loop {
        ticks.tick().await;
        context.set_status_message(status(started.elapsed(), progress.output_lines()));
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Puts a policy's question to the client through the task (`input_required` in `tasks/get`, answered with
/// `tasks/update`); a question before the task exists makes the call a task at once.
struct TaskAsker {
    /// To withdraw a question nobody answered, so `tasks/get` stops showing it.
    manager: TaskManager,
    context: watch::Receiver<Option<TaskContext>>,
    asked: Arc<Notify>,
    wait: Duration,
    next: AtomicU64,
}

impl Asker for TaskAsker {
    fn ask(&self, prompt: String) -> BoxFuture<'static, Result<bool, String>> {
        self.asked.notify_one();
        let (mut context, wait) = (self.context.clone(), self.wait);
        let manager = self.manager.clone();
        let key = format!("approval-{}", self.next.fetch_add(1, Ordering::Relaxed));
        let withdraw = (context.clone(), key.clone());
        Box::pin(async move {
            let Some(request) = approval_request(prompt) else {
                return Err("the approval form could not be built".to_string());
            };
            let asking = async {
                let context = match context.wait_for(Option::is_some).await {
                    Ok(context) => context.clone(),
                    Err(_) => return Err("the call ended before it could ask".to_string()),
                };
                let Some(context) = context else {
                    return Err("the call ended before it could ask".to_string());
                };
                match context.request_input(key, request).await {
                    Ok(answer) => Ok(approved(&answer)),
                    Err(TaskExit::Cancelled) => Err("the task was cancelled".to_string()),
                    Err(TaskExit::Error(error)) => {
                        Err(format!("asking the user failed ({})", error.message))
                    }
                }
            };
            let answer = tokio::time::timeout(wait, asking).await;
            answer.unwrap_or_else(|_| {
                // rmcp's TaskContext cannot take a question back; answering it on the client's behalf does
                // (the answer goes nowhere: the run has moved on), so the task no longer reads input_required.
                let (context, key) = withdraw;
                if let Some(context) = context.borrow().as_ref() {
                    let withdrawn = serde_json::json!({"action": "cancel"});
                    let _ = manager.update_task(context.task_id(), [(key, withdrawn)]);
                }
                Err(unanswered(wait))
            })
        })
    }
}
