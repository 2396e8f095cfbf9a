//! `call_tool`: find the tool, ask the policies (and the user), log the decision, call the server, bound the
//! result, log the end. The audit lines are kept by a guard ([`CallAudit`]), so a call whose run ends first
//! still gets its `call-end` (`run-ended-first`) when the request's future is dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rmcp::model::{CallToolResult, Tool};
use serde_json::{Map, Value, json};

use super::ask::{self, Subject};
use super::audit::{AuditEvent, AuditLog, CallDecided, CallEnded};
use super::store::json_size;
use super::{Inner, string_param};
use crate::plugins::{CallCheck, ResultCheck, ResultVerdict, ToolAnnotations};
use crate::sandbox::RpcError;
use crate::upstream::{UpstreamClient, UpstreamError};

/// Where a call's audit stands; dropping the guard writes whatever line is still owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not decided yet: no line written.
    Deciding,
    /// Allowed and sent: the `call` line is written, the `call-end` is owed.
    Sent,
    /// Every line is written.
    Logged,
}

/// The audit lines of one call.
struct CallAudit {
    log: Arc<AuditLog>,
    run_id: String,
    call: u64,
    server: String,
    tool: String,
    argument_bytes: usize,
    started: Instant,
    stage: Stage,
    /// The policies that replaced the result (`check-result`), for the `call-end` line.
    changed_by: Option<String>,
}

impl CallAudit {
    /// Writes the `call` line; an allowed call then owes its `call-end`.
    fn decided(
        &mut self,
        decision: &str,
        decided_by: Option<String>,
        arguments: Option<Value>,
        error: Option<String>,
    ) {
        let allowed = error.is_none();
        self.log.write(
            &self.run_id,
            &AuditEvent::Call(CallDecided {
                call: self.call,
                server: self.server.clone(),
                tool: self.tool.clone(),
                decision: decision.to_string(),
                decided_by,
                argument_bytes: self.argument_bytes,
                arguments,
                error,
            }),
        );
        self.stage = if allowed { Stage::Sent } else { Stage::Logged };
    }

    /// Writes the `call-end` line.
    fn ended(
        &mut self,
        outcome: &'static str,
        result_bytes: Option<u64>,
        error: Option<String>,
        result: Option<Value>,
    ) {
        self.log.write(
            &self.run_id,
            &AuditEvent::CallEnd(CallEnded {
                call: self.call,
                server: self.server.clone(),
                tool: self.tool.clone(),
                outcome,
                duration_ms: self.started.elapsed().as_secs_f64() * 1000.0,
                result_bytes,
                error,
                result,
                result_changed_by: self.changed_by.take(),
            }),
        );
        self.stage = Stage::Logged;
    }
}

impl Drop for CallAudit {
    fn drop(&mut self) {
        match self.stage {
            Stage::Logged => {}
            Stage::Deciding => self.decided(
                "undecided",
                None,
                None,
                Some("the run ended before the call was decided".into()),
            ),
            Stage::Sent => self.ended(
                "run-ended-first",
                None,
                Some("the run ended before the server answered; the server may still act on the call".into()),
                None,
            ),
        }
    }
}

impl Inner {
    pub(super) async fn call_tool(
        &self,
        mut params: Map<String, Value>,
    ) -> Result<Value, RpcError> {
        let started = Instant::now();
        let arguments = match params.remove("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(RpcError::new("Arguments must be an object")),
        };
        let client = self.loaded_client(&params)?;
        let tool_name =
            string_param(&params, "tool")?.ok_or_else(|| RpcError::new("Missing tool name"))?;
        let server = client.server().name.clone();
        let tool = self.find_tool(client, tool_name).await?;
        // Serialised once: the policies read this text, the audit log its size.
        let arguments_text = serde_json::to_string(&arguments)
            .map_err(|e| RpcError::new(format!("arguments not serialisable: {e}")))?;
        let mut audit = CallAudit {
            log: self.context.audit.clone(),
            run_id: self.run_id().to_string(),
            call: self.calls.fetch_add(1, Ordering::Relaxed) + 1,
            server: server.clone(),
            tool: tool_name.to_string(),
            argument_bytes: arguments_text.len(),
            started,
            stage: Stage::Deciding,
            changed_by: None,
        };
        let check = CallCheck {
            run_id: self.run_id().to_string(),
            server: server.clone(),
            tool: tool_name.to_string(),
            arguments: arguments_text,
            annotations: annotations_of(&tool),
        };
        let verdict = self.context.plugins.check_call_async(check.clone()).await;
        let question = |prompt: &str| {
            ask::call_question(self.run_id(), &server, tool_name, &arguments, prompt)
        };
        let settled = ask::settle(verdict, Subject::Call, question, self.asker.as_deref()).await;
        let logged_arguments = self
            .context
            .audit
            .settings()
            .log_arguments
            .then(|| Value::Object(arguments.clone()));
        audit.decided(
            settled.decision,
            settled.decided_by,
            logged_arguments,
            settled.outcome.as_ref().err().cloned(),
        );
        if let Err(message) = settled.outcome {
            return Err(RpcError::policy_denied(message));
        }
        match client.call(tool_name, arguments).await {
            Ok(result) => self.checked_result(&mut audit, &result, check).await,
            Err(error @ UpstreamError::TooLarge { .. }) => {
                let message = error.to_string();
                audit.ended("failed", None, Some(message.clone()), None);
                Ok(too_large(message))
            }
            Err(error) => {
                let message = error.to_string();
                audit.ended("failed", None, Some(message.clone()), None);
                Err(RpcError::new(message))
            }
        }
    }

    /// The result as the sandbox gets it: itself, or, past `MCP_BRIDGE_MAX_TOOL_RESULT`, a tool error naming the
    /// limit (counted without building the JSON text, stopping at the limit); then what the policies'
    /// `check-result` make of it: unchanged, withheld (a policy denial), or replaced (e.g. secrets masked).
    /// The audit log records the result as handed back, never what a policy replaced.
    async fn checked_result(
        &self,
        audit: &mut CallAudit,
        result: &CallToolResult,
        call: CallCheck,
    ) -> Result<Value, RpcError> {
        let limit = self.context.config.max_tool_result_bytes as u64;
        let size = match json_size(result, limit) {
            Ok(size) => size,
            Err(_) => {
                let message = format!(
                    "the result of {}.{} is larger than MCP_BRIDGE_MAX_TOOL_RESULT ({limit} bytes), so it was \
                     dropped; ask the tool for less (a filter, a smaller page)",
                    audit.server, audit.tool
                );
                audit.ended("failed", None, Some(message.clone()), None);
                return Ok(too_large(message));
            }
        };
        let value = match serde_json::to_value(result) {
            Ok(value) => value,
            Err(error) => {
                let message = format!(
                    "the result of {}.{} is not JSON: {error}",
                    audit.server, audit.tool
                );
                audit.ended("failed", Some(size), Some(message.clone()), None);
                return Err(RpcError::new(message));
            }
        };
        let outcome = if result.is_error.unwrap_or(false) {
            "tool-error"
        } else {
            "ok"
        };
        let plugins = &self.context.plugins;
        let verdict = if plugins.inspects_results() {
            let check = ResultCheck {
                call,
                result: value.to_string(),
            };
            plugins.check_result_async(check).await
        } else {
            ResultVerdict::Allow
        };
        let (value, changed_by) = match verdict {
            ResultVerdict::Allow => (value, None),
            ResultVerdict::Replaced { plugins, result } => {
                match serde_json::from_str::<Value>(&result) {
                    Ok(replaced) if result.len() as u64 <= limit => {
                        (replaced, Some(plugins.join(", ")))
                    }
                    _ => {
                        let message = format!(
                            "the result of {}.{} was replaced by policy '{}' with one that is not JSON or \
                             is over MCP_BRIDGE_MAX_TOOL_RESULT, so it is withheld",
                            audit.server,
                            audit.tool,
                            plugins.join("', '")
                        );
                        audit.ended("withheld", Some(size), Some(message.clone()), None);
                        return Err(RpcError::policy_denied(message));
                    }
                }
            }
            denied @ ResultVerdict::Deny { .. } => {
                let message = denied.describe();
                audit.ended("withheld", Some(size), Some(message.clone()), None);
                return Err(RpcError::policy_denied(message));
            }
        };
        let logged = self
            .context
            .audit
            .settings()
            .log_results
            .then(|| value.clone());
        audit.changed_by = changed_by;
        audit.ended(outcome, Some(size), None, logged);
        Ok(value)
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
                    "Tool '{}' not found for server {}; its tools: {}",
                    name.chars().take(100).collect::<String>(),
                    client.server().name,
                    names.join(", ")
                ))
            })
    }
}

/// The `CallToolResult` that stands for a result over the limit: a tool error whose text names it, so the
/// sandbox raises `ToolError` and the run goes on.
fn too_large(message: String) -> Value {
    json!({"content": [{"type": "text", "text": message}], "isError": true})
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
