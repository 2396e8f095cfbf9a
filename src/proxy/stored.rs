//! The memory and saved-tool requests (PROTOCOL.md §5) on top of [`SandboxStore`], each audited.
//!
//! File work runs off the async workers, and each request's audit line is written by the same blocking task
//! that did the work: a write that happened is logged even if the run ended while it ran. A saved tool's
//! source goes through every policy's `check-run` as run code (the run's id, servers and timeout) both when
//! it is saved and when it is loaded: a tool is code the run would otherwise have to pass in `code`.

use std::sync::Arc;

use super::Inner;
use super::ask::{self, Subject};
use super::audit::{AuditEvent, AuditLog, MemoryAccess, ToolAccess};
use crate::plugins::{RunCheck, RunPurpose};
use crate::sandbox::RpcError;
use crate::sandbox::protocol::{
    MemorySave, Method, RequestError, Response, SavedToolSource, ToolName, ToolSave,
};
use crate::store::{self, SandboxStore, Stored};

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

/// The answer to a memory write or delete; its size and whether the entry existed go to the audit record.
fn noted(access: &mut MemoryAccess, stored: Stored) -> Response {
    access.bytes = Some(stored.bytes);
    access.found = Some(stored.found);
    Response::Message(stored.message)
}

/// A memory request's work on the store: its answer, filling in the audit record as it goes.
type MemoryWork =
    Box<dyn FnOnce(&SandboxStore, &mut MemoryAccess) -> Result<Response, String> + Send>;

impl Inner {
    /// Runs `work` on the store off the async workers and writes its audit line there, so a request that
    /// changed the store is logged even if the run has ended meanwhile.
    async fn audited(
        &self,
        work: impl FnOnce(&SandboxStore) -> (Result<Response, String>, AuditEvent) + Send + 'static,
    ) -> Result<Response, RpcError> {
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

    /// Logs a store request the decoder refused (its parameters were wrong): every memory and saved-tool
    /// request is a line in the audit log, the refused ones too. Other requests are not logged here.
    pub(super) fn refused(&self, error: &RequestError) {
        let Some(method) = error.method else {
            return;
        };
        let message = error.to_string();
        let memory = || MemoryAccess {
            outcome: "failed",
            error: Some(message.clone()),
            ..MemoryAccess::default()
        };
        let tool = || ToolAccess {
            outcome: "failed",
            error: Some(message.clone()),
            ..ToolAccess::default()
        };
        let event = match method {
            Method::MemorySave => AuditEvent::MemorySave(memory()),
            Method::MemoryLoad => AuditEvent::MemoryLoad(memory()),
            Method::MemoryDelete => AuditEvent::MemoryDelete(memory()),
            Method::MemoryInfo => AuditEvent::MemoryInfo(memory()),
            Method::MemoryList => AuditEvent::MemoryList(memory()),
            Method::ToolSave => AuditEvent::ToolSave(tool()),
            Method::ToolLoad => AuditEvent::ToolLoad(tool()),
            Method::ToolList => AuditEvent::ToolList(tool()),
            Method::ToolDelete => AuditEvent::ToolDelete(tool()),
            Method::ListServers
            | Method::ListTools
            | Method::CallTool
            | Method::QueryToolDocs
            | Method::SearchToolDocs
            | Method::Attach => return,
        };
        self.context.audit.write(self.run_id(), &event);
    }

    /// One memory request, logged as `event` (never with the value).
    async fn memory(
        &self,
        event: fn(MemoryAccess) -> AuditEvent,
        work: MemoryWork,
    ) -> Result<Response, RpcError> {
        self.audited(move |store| {
            let mut access = MemoryAccess {
                outcome: "ok",
                ..MemoryAccess::default()
            };
            let answer = work(store, &mut access);
            if let Err(error) = &answer {
                access.outcome = "failed";
                access.error = Some(error.clone());
            }
            (answer, event(access))
        })
        .await
    }

    pub(super) async fn memory_save(&self, save: MemorySave) -> Result<Response, RpcError> {
        let work: MemoryWork = Box::new(move |store, access| {
            access.key = store::memory_key(&save.key);
            let stored = store.save_memory(&save.key, &save.value, &save.metadata)?;
            Ok(noted(access, stored))
        });
        self.memory(AuditEvent::MemorySave, work).await
    }

    pub(super) async fn memory_load(&self, key: String) -> Result<Response, RpcError> {
        let work: MemoryWork = Box::new(move |store, access| {
            access.key = store::memory_key(&key);
            let (answer, bytes) = store.load_memory(&key)?;
            access.bytes = Some(bytes);
            access.found = Some(answer.found);
            Ok(Response::Memory(answer))
        });
        self.memory(AuditEvent::MemoryLoad, work).await
    }

    pub(super) async fn memory_delete(&self, key: String) -> Result<Response, RpcError> {
        let work: MemoryWork = Box::new(move |store, access| {
            access.key = store::memory_key(&key);
            let stored = store.delete_memory(&key)?;
            Ok(noted(access, stored))
        });
        self.memory(AuditEvent::MemoryDelete, work).await
    }

    pub(super) async fn memory_info(&self, key: String) -> Result<Response, RpcError> {
        let work: MemoryWork = Box::new(move |store, access| {
            access.key = store::memory_key(&key);
            let (info, bytes) = store.memory_info(&key)?;
            access.bytes = Some(bytes);
            access.found = Some(info.is_some());
            Ok(Response::MemoryInfo(info.map(Box::new)))
        });
        self.memory(AuditEvent::MemoryInfo, work).await
    }

    pub(super) async fn memory_list(&self, cursor: u64) -> Result<Response, RpcError> {
        let work: MemoryWork = Box::new(move |store, access| {
            access.cursor = Some(cursor);
            let page = store.list_memories(usize::try_from(cursor).unwrap_or(usize::MAX));
            access.count = Some(page.entries.len());
            Ok(Response::MemoryPage(page))
        });
        self.memory(AuditEvent::MemoryList, work).await
    }

    pub(super) async fn tool_list(&self) -> Result<Response, RpcError> {
        self.audited(|store| {
            let tools = store.list_tools();
            let event = AuditEvent::ToolList(ToolAccess {
                outcome: "ok",
                count: Some(tools.len()),
                ..ToolAccess::default()
            });
            (Ok(Response::SavedTools(tools)), event)
        })
        .await
    }

    pub(super) async fn tool_delete(&self, name: ToolName) -> Result<Response, RpcError> {
        self.audited(move |store| {
            let mut access = ToolAccess {
                name: Some(name.to_string()),
                ..ToolAccess::default()
            };
            let answer = match store.delete_tool(name.as_str()) {
                Ok(stored) => {
                    access.outcome = "ok";
                    access.bytes = Some(stored.bytes);
                    access.found = Some(stored.found);
                    Ok(Response::Message(stored.message))
                }
                Err(error) => {
                    access.outcome = "failed";
                    access.error = Some(error.clone());
                    Err(error)
                }
            };
            (answer, AuditEvent::ToolDelete(access))
        })
        .await
    }

    /// `tool_save`: size checked, then the policies on the source, then the store.
    pub(super) async fn tool_save(&self, save: ToolSave) -> Result<Response, RpcError> {
        let ToolSave { name, source } = save;
        let bytes = source.len() as u64;
        if let Err(error) = store::check_source_size(name.as_str(), source.len()) {
            self.context.audit.write(
                self.run_id(),
                &AuditEvent::ToolSave(ToolAccess {
                    name: Some(name.to_string()),
                    bytes: Some(bytes),
                    outcome: "failed",
                    error: Some(error.clone()),
                    ..ToolAccess::default()
                }),
            );
            return Err(RpcError::new(error));
        }
        let mut access = self
            .decide_on_source(Subject::SaveTool, name.as_str(), &source)
            .await?;
        self.audited(move |store| {
            let answer = store.save_tool(name.as_str(), &source);
            match &answer {
                Ok(_) => access.outcome = "ok",
                Err(error) => {
                    access.outcome = "failed";
                    access.error = Some(error.clone());
                }
            }
            let answer = answer.map(|stored| Response::Message(stored.message));
            (answer, AuditEvent::ToolSave(access))
        })
        .await
    }

    /// `tool_load`: the source from the store, then the policies on it; `{"name", "source"}`.
    pub(super) async fn tool_load(&self, name: ToolName) -> Result<Response, RpcError> {
        let store = self.context.store.clone();
        let read = {
            let name = name.clone();
            blocking(move || store.load_tool(name.as_str())).await?
        };
        let source = match read {
            Ok(source) => source,
            Err(error) => {
                self.context.audit.write(
                    self.run_id(),
                    &AuditEvent::ToolLoad(ToolAccess {
                        name: Some(name.to_string()),
                        outcome: "failed",
                        error: Some(error.clone()),
                        ..ToolAccess::default()
                    }),
                );
                return Err(RpcError::new(error));
            }
        };
        let mut access = self
            .decide_on_source(Subject::LoadTool, name.as_str(), &source)
            .await?;
        access.outcome = "ok";
        self.context
            .audit
            .write(self.run_id(), &AuditEvent::ToolLoad(access));
        Ok(Response::SavedTool(SavedToolSource {
            name: name.into_string(),
            source,
        }))
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
