//! Text rendering of a [`Payload`] for the model: the one seam that response encoders plug into.
//!
//! Built-ins mirror the seed: `compact` (its default), `toon` (its fenced TOON block) and `json` (its fenced JSON
//! fallback). A failing encoder falls back to built-in JSON with a note, so a response is never lost.

use anyhow::{Context, Result};

use super::{Payload, Status};

/// Turns a payload into the text content of the MCP result.
pub trait ResponseEncoder: Send + Sync {
    /// The name `MCP_BRIDGE_OUTPUT_MODE` selects it by.
    fn name(&self) -> &str;
    /// Renders the payload.
    fn encode(&self, payload: &Payload) -> Result<String>;
}

/// Looks an encoder up by name; `None` for an unknown name.
pub fn by_name(name: &str) -> Option<Box<dyn ResponseEncoder>> {
    match name {
        "compact" => Some(Box::new(Compact)),
        "toon" => Some(Box::new(Toon)),
        "json" => Some(Box::new(Json)),
        _ => None,
    }
}

/// Renders with `encoder`, falling back to built-in JSON (with a note naming the encoder) when it fails.
pub fn render(encoder: &dyn ResponseEncoder, payload: &Payload) -> String {
    match encoder.encode(payload) {
        Ok(text) => text,
        Err(error) => {
            tracing::warn!(
                encoder = encoder.name(),
                "encoder failed, falling back to JSON: {error:#}"
            );
            let fallback = Json.encode(payload).unwrap_or_default();
            format!(
                "{fallback}\n(note: encoder '{}' failed: {error:#})",
                encoder.name()
            )
        }
    }
}

/// The seed's compact text: stdout, then `stderr:` and stderr, with `status:` / `exit:` lines for failures.
pub struct Compact;

impl ResponseEncoder for Compact {
    fn name(&self) -> &str {
        "compact"
    }

    fn encode(&self, payload: &Payload) -> Result<String> {
        let mut lines: Vec<String> = Vec::new();
        if !payload.stdout.is_empty() {
            lines.push(payload.stdout.join("\n"));
        }
        if !payload.stderr.is_empty() {
            lines.push(format!("stderr:\n{}", payload.stderr.join("\n")));
        }
        if lines.is_empty() && !payload.summary.is_empty() {
            lines.push(payload.summary.clone());
        }
        if let Some(error) = &payload.error
            && (lines.is_empty() || payload.status != Status::Error)
        {
            lines.push(format!("error: {error}"));
        }
        if let Some(code) = payload.exit_code.filter(|code| *code != 0) {
            lines.insert(0, format!("exit: {code}"));
        }
        if payload.status != Status::Success {
            lines.insert(0, format!("status: {}", payload.status.as_str()));
        }
        let text = lines
            .iter()
            .filter(|line| !line.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        let text = text.trim();
        Ok(if text.is_empty() {
            payload.status.as_str().to_string()
        } else {
            text.to_string()
        })
    }
}

/// The seed's TOON mode: the payload as a fenced TOON block.
pub struct Toon;

impl ResponseEncoder for Toon {
    fn name(&self) -> &str {
        "toon"
    }

    fn encode(&self, payload: &Payload) -> Result<String> {
        let toon = toon_format::encode_default(&payload.to_value()).context("TOON encoding")?;
        Ok(format!("```toon\n{}\n```", toon.trim_end()))
    }
}

/// Pretty JSON with sorted keys in a fence, as the seed's fallback printed it.
pub struct Json;

impl ResponseEncoder for Json {
    fn name(&self) -> &str {
        "json"
    }

    fn encode(&self, payload: &Payload) -> Result<String> {
        let text =
            serde_json::to_string_pretty(&sorted(payload.to_value())).context("JSON encoding")?;
        Ok(format!("```json\n{text}\n```"))
    }
}

/// The value with every object's keys in sorted order (serde_json preserves insertion order in this build).
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{RunEnd, RunOutcome};
    use std::time::Duration;

    fn payload(stdout: &str, stderr: &str, end: RunEnd) -> Payload {
        Payload::from_outcome(
            &RunOutcome {
                stdout: stdout.into(),
                stderr: stderr.into(),
                end,
            },
            vec![],
        )
    }

    fn compact(p: &Payload) -> String {
        Compact.encode(p).unwrap()
    }

    #[test]
    fn compact_matches_the_seed_examples() {
        assert_eq!(
            compact(&payload("hello\n\n()\n", "", RunEnd::Exited(0))),
            "hello"
        );
        assert_eq!(
            compact(&payload("", "", RunEnd::Exited(0))),
            "Success (no output)"
        );
        assert_eq!(
            compact(&payload("out\n", "warn\n", RunEnd::Exited(0))),
            "out\nstderr:\nwarn"
        );
        assert_eq!(
            compact(&payload(
                "start\n",
                "",
                RunEnd::TimedOut(Duration::from_secs(2))
            )),
            "status: timeout\nstart\nerror: Execution timed out after 2s"
        );
        assert_eq!(
            compact(&payload("", "", RunEnd::TimedOut(Duration::from_secs(2)))),
            "status: timeout\nTimeout: execution exceeded 2s\nerror: Execution timed out after 2s"
        );
        assert_eq!(
            compact(&Payload::validation_error("Missing 'code' argument")),
            "status: validation_error\nMissing 'code' argument\nerror: Missing 'code' argument"
        );
    }

    #[test]
    fn compact_reports_the_exit_code_of_failures() {
        assert_eq!(
            compact(&payload("", "", RunEnd::Exited(3))),
            "status: error\nexit: 3\nSandbox error: Sandbox exited with code 3"
        );
        assert_eq!(
            compact(&payload(
                "before\n",
                "Traceback\nValueError: boom\n",
                RunEnd::Exited(1)
            )),
            "status: error\nexit: 1\nbefore\nstderr:\nTraceback\nValueError: boom"
        );
    }

    #[test]
    fn toon_is_a_fenced_block_that_decodes_back() {
        let p = payload("line1\nline2\n", "", RunEnd::Exited(0));
        let text = Toon.encode(&p).unwrap();
        assert!(
            text.starts_with("```toon\n") && text.ends_with("\n```"),
            "{text}"
        );
        let body = text
            .trim_start_matches("```toon\n")
            .trim_end_matches("\n```");
        let decoded: serde_json::Value = toon_format::decode_default(body).unwrap();
        assert_eq!(decoded, p.to_value());
    }

    #[test]
    fn json_is_sorted_and_fenced() {
        let text = Json.encode(&payload("a\n", "", RunEnd::Exited(0))).unwrap();
        assert!(text.starts_with("```json\n{\n  \"exitCode\": 0,"), "{text}");
    }
}
