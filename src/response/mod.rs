//! The response of one `run_python` call: the seed-compatible structured payload, and its text rendering.
//!
//! [`Payload`] is what goes out as `structuredContent` (and what `bridge run --json` prints). Turning it into text
//! for the model goes through one seam, [`encode::ResponseEncoder`], chosen by `MCP_BRIDGE_OUTPUT_MODE`.

pub mod encode;

use serde::{Deserialize, Serialize};

use crate::sandbox::{RunEnd, RunOutcome};

/// The four statuses of the seed's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The code ran and exited 0.
    Success,
    /// It raised, exited non-zero, hit a limit, or the sandbox failed.
    Error,
    /// The deadline passed; the container was killed.
    Timeout,
    /// The arguments were refused before anything ran.
    ValidationError,
}

impl Status {
    /// The wire name (`success`, `error`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::ValidationError => "validation_error",
        }
    }
}

/// The structured payload, with the seed's keys in the seed's order. Empty fields are left out (and may be
/// left out when it is read back, as `bridge run --json` output or a test's payload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// success | error | timeout | validation_error.
    pub status: Status,
    /// One line saying what happened.
    pub summary: String,
    /// The code's exit status, when it got to exit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// The MCP servers requested for this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    /// stdout as lines (blank and `()` lines dropped, as the seed did).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stdout: Vec<String>,
    /// stderr as lines, same filtering.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr: Vec<String>,
    /// What went wrong, when something did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The deadline that was hit, for timeouts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

impl Payload {
    /// A `validation_error` payload: the arguments were refused, nothing ran.
    pub fn validation_error(message: impl Into<String>) -> Self {
        let message = message.into();
        Payload {
            status: Status::ValidationError,
            summary: message.clone(),
            error: Some(message),
            ..Payload::empty(Status::ValidationError)
        }
    }

    /// An `error` payload for a failure outside the code (engine unreachable, image missing, …).
    pub fn sandbox_error(message: impl Into<String>, servers: Vec<String>) -> Self {
        let message = message.into();
        Payload {
            summary: format!("Sandbox error: {message}"),
            error: Some(message),
            servers,
            ..Payload::empty(Status::Error)
        }
    }

    /// An `error` payload for a run a policy refused; nothing ran.
    pub fn policy_denied(message: impl Into<String>, servers: Vec<String>) -> Self {
        let message = message.into();
        Payload {
            summary: format!("Policy denied: {message}"),
            error: Some(message),
            servers,
            ..Payload::empty(Status::Error)
        }
    }

    /// The payload for a run that reached the sandbox.
    pub fn from_outcome(outcome: &RunOutcome, servers: Vec<String>) -> Self {
        let stdout = output_lines(&outcome.stdout);
        let stderr = output_lines(&outcome.stderr);
        let no_output = outcome.stdout.is_empty() && outcome.stderr.is_empty();
        let mut payload = Payload {
            servers,
            stdout,
            stderr,
            ..Payload::empty(Status::Error)
        };
        match &outcome.end {
            RunEnd::Exited(0) => {
                payload.status = Status::Success;
                payload.exit_code = Some(0);
                payload.summary =
                    if no_output || (payload.stdout.is_empty() && payload.stderr.is_empty()) {
                        "Success (no output)".into()
                    } else {
                        "Success".into()
                    };
            }
            RunEnd::Exited(code) => {
                payload.exit_code = Some(*code);
                let message = format!("Sandbox exited with code {code}");
                payload.summary = format!("Sandbox error: {message}");
                payload.error = Some(message);
            }
            RunEnd::TimedOut(limit) => {
                let secs = limit.as_secs();
                payload.status = Status::Timeout;
                payload.summary = format!("Timeout: execution exceeded {secs}s");
                payload.error = Some(format!("Execution timed out after {secs}s"));
                payload.timeout_seconds = Some(secs);
            }
            RunEnd::Failed { exit_code, message } => {
                payload.exit_code = *exit_code;
                payload.summary = format!("Sandbox error: {message}");
                payload.error = Some(message.clone());
            }
        }
        payload
    }

    fn empty(status: Status) -> Self {
        Payload {
            status,
            summary: String::new(),
            exit_code: None,
            servers: Vec::new(),
            stdout: Vec::new(),
            stderr: Vec::new(),
            error: None,
            timeout_seconds: None,
        }
    }

    /// Whether the MCP result carries `isError`.
    pub fn is_error(&self) -> bool {
        self.status != Status::Success
    }

    /// The payload as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        // Serialising plain strings and integers cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The seed's line filter: split into lines, drop whitespace-only lines and lines that are just `()`.
fn output_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.trim().is_empty() && line.trim() != "()")
        .map(str::to_string)
        .collect()
}

/// The JSON Schema of [`Payload`], declared as the tool's `outputSchema`.
pub fn output_schema() -> serde_json::Map<String, serde_json::Value> {
    let schema = serde_json::json!({
        "type": "object",
        "required": ["status", "summary"],
        "properties": {
            "status": {"type": "string", "enum": ["success", "error", "timeout", "validation_error"]},
            "summary": {"type": "string", "description": "One line saying what happened"},
            "exitCode": {"type": "integer", "description": "The code's exit status (0 success, 1 uncaught exception, n for SystemExit(n))"},
            "servers": {"type": "array", "items": {"type": "string"}, "description": "MCP servers requested for this run"},
            "stdout": {"type": "array", "items": {"type": "string"}, "description": "stdout lines (blank lines dropped)"},
            "stderr": {"type": "array", "items": {"type": "string"}, "description": "stderr lines, tracebacks included"},
            "error": {"type": "string", "description": "What went wrong"},
            "timeoutSeconds": {"type": "integer", "description": "The deadline that was hit"}
        }
    });
    match schema {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome(stdout: &str, stderr: &str, end: RunEnd) -> RunOutcome {
        RunOutcome {
            stdout: stdout.into(),
            stderr: stderr.into(),
            end,
        }
    }

    #[test]
    fn success_filters_blank_and_unit_lines() {
        let p = Payload::from_outcome(&outcome("hello\n\n()\n", "", RunEnd::Exited(0)), vec![]);
        assert_eq!(p.stdout, vec!["hello"]);
        assert_eq!(p.summary, "Success");
        assert_eq!(
            p.to_value(),
            serde_json::json!({"status":"success","summary":"Success","exitCode":0,"stdout":["hello"]})
        );
    }

    #[test]
    fn no_output_is_said() {
        let p = Payload::from_outcome(&outcome("", "", RunEnd::Exited(0)), vec![]);
        assert_eq!(p.summary, "Success (no output)");
        let p = Payload::from_outcome(&outcome("\n()\n", "", RunEnd::Exited(0)), vec![]);
        assert_eq!(p.summary, "Success (no output)");
    }

    #[test]
    fn timeout_matches_the_seed() {
        let p = Payload::from_outcome(
            &outcome("start\n", "", RunEnd::TimedOut(Duration::from_secs(2))),
            vec![],
        );
        assert_eq!(
            p.to_value(),
            serde_json::json!({"status":"timeout","summary":"Timeout: execution exceeded 2s","stdout":["start"],
                "error":"Execution timed out after 2s","timeoutSeconds":2})
        );
    }

    #[test]
    fn keys_keep_the_seed_order() {
        let p = Payload::from_outcome(&outcome("a\n", "b\n", RunEnd::Exited(3)), vec!["s".into()]);
        let text = serde_json::to_string(&p).unwrap();
        let order: Vec<usize> = [
            "status", "summary", "exitCode", "servers", "stdout", "stderr", "error",
        ]
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    }
}
