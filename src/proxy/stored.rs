//! The memory and saved-tool requests (PROTOCOL.md §5) on top of [`SandboxStore`], each audited.
//!
//! File work runs off the async workers, and each request's audit line is written by the same blocking task
//! that did the work: a write that happened is logged even if the run ended while it ran. A saved tool's
//! source goes through every policy's `check-run` as run code (the run's id, servers and timeout) both when
//! it is saved and when it is loaded: a tool is code the run would otherwise have to pass in `code`.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::Inner;
use super::ask::{self, Subject};
use super::audit::{AuditEvent, AuditLog, MemoryAccess, ToolAccess};
use super::store::{self, SandboxStore};
use crate::plugins::{RunCheck, RunPurpose};
use crate::sandbox::RpcError;

/// A memory request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MemoryRequest {
    /// `memory_save`.
    Save,
    /// `memory_load`.
    Load,
    /// `memory_delete`.
    Delete,
    /// `memory_info`.
    Info,
    /// `memory_list`.
    List,
}

/// A saved-tool request that needs no policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ToolRequest {
    /// `tool_list`.
    List,
    /// `tool_delete`.
    Delete,
}

/// Runs `work` (store file operations) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RpcError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RpcError::new(format!("store request failed: {e}")))
}

/// Writes a `tool-save` / `tool-load` line when dropped before it was disarmed: the run ended while the
/// request was being decided.
struct Undecided {
    log: Arc<AuditLog>,
    run_id: String,
    event: Option<AuditEvent>,
}

impl Drop for Undecided {
    fn drop(&mut self) {
        if let Some(event) = self.event.take() {
            self.log.write(&self.run_id, &event);
        }
    }
}

impl Inner {
    /// Runs `work` on the store off the async workers and writes its audit line there, so a request that
    /// changed the store is logged even if the run has ended meanwhile.
    async fn audited(
        &self,
        work: impl FnOnce(&SandboxStore) -> (Result<Value, String>, AuditEvent) + Send + 'static,
    ) -> Result<Value, RpcError> {
        let store = self.context.store.clone();
        let log = self.context.audit.clone();
        let run_id = self.run_id().to_string();
        blocking(move || {
            let (answer, event) = work(&store);
            log.write(&run_id, &event);
            answer.map_err(RpcError::new)
        })
        .await?
    }

    pub(super) async fn memory(
        &self,
        request: MemoryRequest,
        params: Map<String, Value>,
    ) -> Result<Value, RpcError> {
        self.audited(move |store| memory_request(store, request, &params))
            .await
    }

    pub(super) async fn saved_tools(
        &self,
        request: ToolRequest,
        params: Map<String, Value>,
    ) -> Result<Value, RpcError> {
        self.audited(move |store| match request {
            ToolRequest::List => {
                let tools = store.list_tools();
                let event = AuditEvent::ToolList(ToolAccess {
                    outcome: "ok",
                    count: Some(tools.len()),
                    ..ToolAccess::default()
                });
                (Ok(json!(tools)), event)
            }
            ToolRequest::Delete => {
                let name = name_param(&params);
                let deleted = name.clone().and_then(|name| store.delete_tool(&name));
                let mut access = ToolAccess {
                    name: name.ok(),
                    ..ToolAccess::default()
                };
                let answer = match deleted {
                    Ok(stored) => {
                        access.outcome = "ok";
                        access.bytes = Some(stored.bytes);
                        access.found = Some(stored.found);
                        Ok(json!(stored.message))
                    }
                    Err(error) => {
                        access.outcome = "failed";
                        access.error = Some(error.clone());
                        Err(error)
                    }
                };
                (answer, AuditEvent::ToolDelete(access))
            }
        })
        .await
    }

    /// `tool_save`: name and size checked, then the policies on the source, then the store.
    pub(super) async fn tool_save(&self, params: Map<String, Value>) -> Result<Value, RpcError> {
        let log = self.context.audit.clone();
        let run_id = self.run_id().to_string();
        let failed = |name: Option<String>, bytes: Option<u64>, error: String| {
            log.write(
                &run_id,
                &AuditEvent::ToolSave(ToolAccess {
                    name,
                    bytes,
                    outcome: "failed",
                    error: Some(error.clone()),
                    ..ToolAccess::default()
                }),
            );
            RpcError::new(error)
        };
        let name = name_param(&params).map_err(|e| failed(None, None, e))?;
        let source = match params.get("source") {
            Some(Value::String(source)) => source.clone(),
            _ => return Err(failed(Some(name), None, "'source' must be a string".into())),
        };
        let bytes = source.len() as u64;
        store::check_source_size(&name, source.len())
            .map_err(|e| failed(Some(name.clone()), Some(bytes), e))?;
        let mut access = self
            .decide_on_source(Subject::SaveTool, &name, &source)
            .await?;
        self.audited(move |store| {
            let answer = store.save_tool(&name, &source);
            match &answer {
                Ok(_) => access.outcome = "ok",
                Err(error) => {
                    access.outcome = "failed";
                    access.error = Some(error.clone());
                }
            }
            let answer = answer.map(|stored| json!(stored.message));
            (answer, AuditEvent::ToolSave(access))
        })
        .await
    }

    /// `tool_load`: the source from the store, then the policies on it; `{"name", "source"}`.
    pub(super) async fn tool_load(&self, params: Map<String, Value>) -> Result<Value, RpcError> {
        let store = self.context.store.clone();
        let name = name_param(&params);
        let read = {
            let name = name.clone();
            blocking(move || name.and_then(|name| store.load_tool(&name))).await?
        };
        let source = match read {
            Ok(source) => source,
            Err(error) => {
                self.context.audit.write(
                    self.run_id(),
                    &AuditEvent::ToolLoad(ToolAccess {
                        name: name.ok(),
                        outcome: "failed",
                        error: Some(error.clone()),
                        ..ToolAccess::default()
                    }),
                );
                return Err(RpcError::new(error));
            }
        };
        // The store only reads identifiers, so the name is one here.
        let name = name.unwrap_or_default();
        let mut access = self
            .decide_on_source(Subject::LoadTool, &name, &source)
            .await?;
        access.outcome = "ok";
        self.context
            .audit
            .write(self.run_id(), &AuditEvent::ToolLoad(access));
        Ok(json!({"name": name, "source": source}))
    }

    /// Puts a saved tool's source through every policy's `check-run` as this run's code, asking the user when a
    /// policy asks. A refusal is audited here and returned as `policy_denied`; a go-ahead returns the audit
    /// record (decision filled in) for the caller to finish.
    async fn decide_on_source(
        &self,
        subject: Subject,
        name: &str,
        source: &str,
    ) -> Result<ToolAccess, RpcError> {
        let wrap = |access: ToolAccess| match subject {
            Subject::LoadTool => AuditEvent::ToolLoad(access),
            _ => AuditEvent::ToolSave(access),
        };
        let mut pending = Undecided {
            log: self.context.audit.clone(),
            run_id: self.run_id().to_string(),
            event: Some(wrap(ToolAccess {
                name: Some(name.to_string()),
                bytes: Some(source.len() as u64),
                decision: Some("undecided".into()),
                outcome: "run-ended-first",
                error: Some("the run ended before the request was decided".into()),
                ..ToolAccess::default()
            })),
        };
        let purpose = match subject {
            Subject::LoadTool => RunPurpose::LoadTool(name.to_string()),
            _ => RunPurpose::SaveTool(name.to_string()),
        };
        let verdict = self
            .context
            .plugins
            .check_run_async(RunCheck {
                run_id: self.run.run_id.clone(),
                code: source.to_string(),
                servers: self.run.servers.clone(),
                timeout_seconds: self.run.timeout_seconds,
                purpose,
            })
            .await;
        let question =
            |prompt: &str| ask::tool_question(self.run_id(), subject, name, source.len(), prompt);
        let settled = ask::settle(verdict, subject, question, self.asker.as_deref()).await;
        pending.event = None;
        let mut access = ToolAccess {
            name: Some(name.to_string()),
            bytes: Some(source.len() as u64),
            decision: Some(settled.decision.to_string()),
            decided_by: settled.decided_by,
            outcome: "ok",
            ..ToolAccess::default()
        };
        if let Err(message) = settled.outcome {
            access.outcome = "denied";
            access.error = Some(message.clone());
            self.context.audit.write(self.run_id(), &wrap(access));
            return Err(RpcError::policy_denied(message));
        }
        Ok(access)
    }
}

/// The `name` of a saved-tool request: a string (the store checks it is an identifier).
fn name_param(params: &Map<String, Value>) -> Result<String, String> {
    match params.get("name") {
        Some(Value::String(name)) if store::is_identifier(name) => Ok(name.clone()),
        Some(Value::String(name)) => Err(format!(
            "{:?} is not a function name (a Python identifier of at most 100 characters)",
            name.chars().take(100).collect::<String>()
        )),
        _ => Err("'name' must be a string".into()),
    }
}

/// One memory request: the answer, and its audit line (never the value).
fn memory_request(
    store: &SandboxStore,
    request: MemoryRequest,
    params: &Map<String, Value>,
) -> (Result<Value, String>, AuditEvent) {
    let mut access = MemoryAccess {
        outcome: "ok",
        ..MemoryAccess::default()
    };
    let answer = (|| -> Result<Value, String> {
        if request == MemoryRequest::List {
            let cursor = match params.get("cursor") {
                None | Some(Value::Null) => 0,
                Some(value) => value
                    .as_u64()
                    .ok_or("'cursor' must be a non-negative integer")?,
            };
            access.cursor = Some(cursor);
            let page = store.list_memories(usize::try_from(cursor).unwrap_or(usize::MAX));
            access.count = page["entries"].as_array().map(Vec::len);
            return Ok(page);
        }
        let key = store::key_param(params)?;
        access.key = store::memory_key(key);
        Ok(match request {
            MemoryRequest::Save => {
                let null = Value::Null;
                let value = params.get("value").unwrap_or(&null);
                let metadata = params.get("metadata").unwrap_or(&null);
                let stored = store.save_memory(key, value, metadata)?;
                access.bytes = Some(stored.bytes);
                access.found = Some(stored.found);
                json!(stored.message)
            }
            MemoryRequest::Delete => {
                let stored = store.delete_memory(key)?;
                access.bytes = Some(stored.bytes);
                access.found = Some(stored.found);
                json!(stored.message)
            }
            MemoryRequest::Load => {
                let (answer, bytes) = store.load_memory(key)?;
                access.bytes = Some(bytes);
                access.found = answer["found"].as_bool();
                answer
            }
            MemoryRequest::Info | MemoryRequest::List => {
                let (info, bytes) = store.memory_info(key)?;
                access.bytes = Some(bytes);
                access.found = Some(!info.is_null());
                info
            }
        })
    })();
    if let Err(error) = &answer {
        access.outcome = "failed";
        access.error = Some(error.clone());
    }
    let event = match request {
        MemoryRequest::Save => AuditEvent::MemorySave(access),
        MemoryRequest::Load => AuditEvent::MemoryLoad(access),
        MemoryRequest::Delete => AuditEvent::MemoryDelete(access),
        MemoryRequest::Info => AuditEvent::MemoryInfo(access),
        MemoryRequest::List => AuditEvent::MemoryList(access),
    };
    (answer, event)
}
