//! The response of one `run_python` call: the seed-compatible structured payload, and its text rendering.
//!
//! [`Payload`] is what goes out as `structuredContent` (and what `bridge run --json` prints). Turning it into text
//! for the model goes through one seam, [`encode::ResponseEncoder`], chosen by `MCP_BRIDGE_OUTPUT_MODE`.

pub mod encode;
pub mod files;

use crate::sandbox::{RunEnd, RunOutcome};

pub use mcp_bridge_plugin_sdk::{Payload, SessionInfo, Status};

// The payload is the SDK's type, so that the host and every Rust encoder agree on it by construction; the
// constructors for the host's cases live here, as functions, since the type is foreign to this crate.

/// A `validation_error` payload: the arguments were refused, nothing ran.
pub fn validation_error(message: impl Into<String>) -> Payload {
    let message = message.into();
    Payload {
        summary: message.clone(),
        error: Some(message),
        ..Payload::new(Status::ValidationError)
    }
}

/// An `error` payload for a failure outside the code (engine unreachable, image missing, …).
pub fn sandbox_error(message: impl Into<String>, servers: Vec<String>) -> Payload {
    let message = message.into();
    Payload {
        summary: format!("Sandbox error: {message}"),
        error: Some(message),
        servers,
        ..Payload::new(Status::Error)
    }
}

/// An `error` payload for a run a policy refused; nothing ran.
pub fn policy_denied(message: impl Into<String>, servers: Vec<String>) -> Payload {
    let message = message.into();
    Payload {
        summary: format!("Policy denied: {message}"),
        error: Some(message),
        servers,
        ..Payload::new(Status::Error)
    }
}

/// The payload for a run that reached the sandbox.
pub fn from_outcome(outcome: &RunOutcome, servers: Vec<String>) -> Payload {
    let stdout = output_lines(&outcome.stdout);
    let stderr = output_lines(&outcome.stderr);
    let no_output = outcome.stdout.is_empty() && outcome.stderr.is_empty();
    let mut payload = Payload {
        servers,
        stdout,
        stderr,
        ..Payload::new(Status::Error)
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
    if let Some(session) = &outcome.session {
        payload.summary = format!("{} {}", payload.summary, session_note(session));
        payload.session = Some(session.clone());
    }
    payload
}

/// Lists the files the run handed back in the payload's `files`.
pub fn with_files(payload: &mut Payload, attached: &[files::Attachment]) {
    payload.files = attached.iter().map(|file| file.info.clone()).collect();
}

/// The encoder's text with a last line saying what files the run handed back, if any. The host adds it, not
/// the encoder, so every encoder's text says it (a plugin encoder's payload record has no `files`).
pub fn with_files_note(text: String, attached: &[files::Attachment], unlisted: u64) -> String {
    match files::note(attached, unlisted) {
        Some(note) if text.is_empty() => note,
        Some(note) => format!("{text}\n{note}"),
        None => text,
    }
}

/// What the summary says about a session call, e.g. `(session 'db', call 3)`.
fn session_note(session: &SessionInfo) -> String {
    let name = &session.name;
    let mut note = match (&session.replaces, session.call) {
        (Some(reason), _) => format!(
            "(new session '{name}'; the previous one ended: {reason}, so its state is gone)"
        ),
        (None, 1) => format!("(new session '{name}')"),
        (None, call) => format!("(session '{name}', call {call})"),
    };
    if let Some(reason) = &session.ended {
        note.push_str(&format!(
            " — the session ended: {reason}; its state is gone, and the next call naming it starts a new one"
        ));
    }
    note
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
///
/// Written out rather than derived with schemars: the derived schema differs from this declared one in three
/// places that would each need a transform (documented `Status` variants become a `oneOf` of `const`s instead
/// of an `enum`; every `Option` field allows `null`, which is never written since empty fields are left out;
/// integers get `format` and `minimum`). A test keeps its properties and Payload's keys the same.
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
            "timeoutSeconds": {"type": "integer", "description": "The deadline that was hit"},
            "session": {
                "type": "object",
                "description": "The session the call ran in (when it named one)",
                "required": ["name", "call"],
                "properties": {
                    "name": {"type": "string"},
                    "call": {"type": "integer", "description": "Which of the session's calls this was; 1 started it"},
                    "ended": {"type": "string", "description": "The session ended with this call, and why: its state is gone"},
                    "replaces": {"type": "string", "description": "A new session that took the name of one that had ended, and why that one ended"}
                }
            },
            "files": {
                "type": "array",
                "description": "Files the run handed back (runtime.attach, runtime.show, /workspace/out/, open matplotlib figures): attached as content, or left out with the reason",
                "items": {
                    "type": "object",
                    "required": ["name", "bytes"],
                    "properties": {
                        "name": {"type": "string", "description": "Relative to /workspace/out/ for files found there"},
                        "mimeType": {"type": "string"},
                        "bytes": {"type": "integer"},
                        "skipped": {"type": "string", "description": "Why the file is not in the result"}
                    }
                }
            }
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
            container: crate::sandbox::ContainerUse {
                id: "c".into(),
                warm: false,
            },
            stdout: stdout.into(),
            stderr: stderr.into(),
            end,
            session: None,
        }
    }

    #[test]
    fn success_filters_blank_and_unit_lines() {
        let p = from_outcome(&outcome("hello\n\n()\n", "", RunEnd::Exited(0)), vec![]);
        assert_eq!(p.stdout, vec!["hello"]);
        assert_eq!(p.summary, "Success");
        assert_eq!(
            p.to_value(),
            serde_json::json!({"status":"success","summary":"Success","exitCode":0,"stdout":["hello"]})
        );
    }

    #[test]
    fn no_output_is_said() {
        let p = from_outcome(&outcome("", "", RunEnd::Exited(0)), vec![]);
        assert_eq!(p.summary, "Success (no output)");
        let p = from_outcome(&outcome("\n()\n", "", RunEnd::Exited(0)), vec![]);
        assert_eq!(p.summary, "Success (no output)");
    }

    #[test]
    fn timeout_matches_the_seed() {
        let p = from_outcome(
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
    fn the_output_schema_declares_every_key_of_the_payload() {
        let full = Payload {
            status: Status::Timeout,
            summary: "s".into(),
            exit_code: Some(1),
            servers: vec!["a".into()],
            stdout: vec!["o".into()],
            stderr: vec!["e".into()],
            error: Some("x".into()),
            timeout_seconds: Some(2),
            session: Some(mcp_bridge_plugin_sdk::SessionInfo {
                name: "n".into(),
                call: 1,
                ended: None,
                replaces: None,
            }),
            files: vec![files::FileInfo {
                name: "plot.png".into(),
                mime_type: Some("image/png".into()),
                bytes: 3,
                skipped: None,
            }],
        };
        let written: Vec<String> = full
            .to_value()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let schema = output_schema();
        let declared: Vec<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(written, declared);
    }

    #[test]
    fn files_are_listed_and_said_after_the_text() {
        let attached = files::AttachedFiles::with_limits(4, 100);
        attached
            .attach(crate::sandbox::protocol::Attach {
                name: "a.csv".into(),
                data: Some("YSxi".into()),
                size: None,
            })
            .unwrap();
        attached
            .attach(crate::sandbox::protocol::Attach {
                name: "big.bin".into(),
                data: None,
                size: Some(5 << 20),
            })
            .unwrap();
        let (taken, unlisted) = attached.take();
        let mut p = from_outcome(&outcome("", "", RunEnd::Exited(0)), vec![]);
        with_files(&mut p, &taken);
        assert_eq!(
            with_files_note("out".into(), &taken, unlisted),
            "out\nattached: a.csv (text/csv, 3 B) — not attached: big.bin: 5.00 MiB is over the per-file \
             limit of 4 B (MCP_BRIDGE_MAX_ATTACHMENT)"
        );
        assert_eq!(with_files_note("out".into(), &[], 0), "out");
        assert_eq!(
            p.to_value()["files"],
            serde_json::json!([
                {"name": "a.csv", "mimeType": "text/csv", "bytes": 3},
                {"name": "big.bin", "bytes": 5 << 20, "skipped": "5.00 MiB is over the per-file limit of 4 B (MCP_BRIDGE_MAX_ATTACHMENT)"}
            ])
        );
    }

    #[test]
    fn a_session_call_says_which_and_whether_the_session_ended() {
        let mut call = outcome("", "", RunEnd::Exited(0));
        call.session = Some(SessionInfo {
            name: "db".into(),
            call: 3,
            ended: None,
            replaces: None,
        });
        let p = from_outcome(&call, vec![]);
        assert_eq!(p.summary, "Success (no output) (session 'db', call 3)");
        assert_eq!(
            p.to_value()["session"],
            serde_json::json!({"name": "db", "call": 3})
        );
        call.end = RunEnd::TimedOut(Duration::from_secs(2));
        call.session = Some(SessionInfo {
            name: "db".into(),
            call: 1,
            ended: Some("the call timed out after 2 s".into()),
            replaces: Some("the code called runtime.end_session()".into()),
        });
        let summary = from_outcome(&call, vec![]).summary;
        assert!(summary.starts_with("Timeout: execution exceeded 2s (new session 'db'; the previous one ended: the code called runtime.end_session()"), "{summary}");
        assert!(summary.ends_with("the session ended: the call timed out after 2 s; its state is gone, and the next call naming it starts a new one"), "{summary}");
    }

    #[test]
    fn keys_keep_the_seed_order() {
        let p = from_outcome(&outcome("a\n", "b\n", RunEnd::Exited(3)), vec!["s".into()]);
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
