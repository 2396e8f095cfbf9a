//! Built-in encoder `compact`, the bridge's default: the seed's compact text (seed-behaviour §1.5).
//!
//! stdout lines, then `stderr:` and the stderr lines; the summary when there is no output; `error: …` unless an
//! `error` run already shows output; `exit: N` and `status: …` lines in front for failures. The rendering is the
//! plain [`text`] function so it is tested natively.

use mcp_bridge_plugin_sdk::{Encoded, Encoder, Payload, Plugin, Status, register_encoder};

/// The plugin's name, as the bridge config refers to it.
pub const NAME: &str = "compact";

/// The encoder (no settings).
#[derive(Default)]
pub struct Compact;

impl Plugin for Compact {}

impl Encoder for Compact {
    fn encode(&self, payload: &Payload) -> Result<Encoded, String> {
        Ok(Encoded::plain(text(payload)))
    }
}

register_encoder!(Compact, name = NAME);

/// Renders a payload given as a JSON object text; `Err` says why the payload is unusable.
pub fn render(payload: &str) -> Result<String, String> {
    let payload: Payload = serde_json::from_str(payload)
        .map_err(|e| format!("payload is not a valid run payload: {e}"))?;
    Ok(text(&payload))
}

/// The compact text of a payload.
pub fn text(payload: &Payload) -> String {
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
    if text.is_empty() {
        payload.status.as_str().to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_bridge_plugin_sdk::{Config, Kind};
    use serde_json::{Value, json};

    /// `configure` as the bridge calls it.
    fn configure(config: &str) -> Result<(), String> {
        Compact.configure(&Config::new(Kind::Encoder, NAME, config))
    }

    fn compact(payload: Value) -> String {
        render(&payload.to_string()).unwrap()
    }

    // The payloads below are what the bridge builds for each case (`Payload::from_outcome` and friends).

    #[test]
    fn compact_matches_the_seed_examples() {
        // stdout "hello\n\n()\n", exit 0: blank and `()` lines are already dropped from the payload.
        assert_eq!(
            compact(
                json!({"status":"success","summary":"Success","exitCode":0,"stdout":["hello"]})
            ),
            "hello"
        );
        assert_eq!(
            compact(json!({"status":"success","summary":"Success (no output)","exitCode":0})),
            "Success (no output)"
        );
        assert_eq!(
            compact(json!({"status":"success","summary":"Success","exitCode":0,
                "stdout":["out"],"stderr":["warn"]})),
            "out\nstderr:\nwarn"
        );
        assert_eq!(
            compact(
                json!({"status":"timeout","summary":"Timeout: execution exceeded 2s","stdout":["start"],
                "error":"Execution timed out after 2s","timeoutSeconds":2})
            ),
            "status: timeout\nstart\nerror: Execution timed out after 2s"
        );
        assert_eq!(
            compact(
                json!({"status":"timeout","summary":"Timeout: execution exceeded 2s",
                "error":"Execution timed out after 2s","timeoutSeconds":2})
            ),
            "status: timeout\nTimeout: execution exceeded 2s\nerror: Execution timed out after 2s"
        );
        assert_eq!(
            compact(
                json!({"status":"validation_error","summary":"Missing 'code' argument",
                "error":"Missing 'code' argument"})
            ),
            "status: validation_error\nMissing 'code' argument\nerror: Missing 'code' argument"
        );
    }

    #[test]
    fn compact_reports_the_exit_code_of_failures() {
        assert_eq!(
            compact(
                json!({"status":"error","summary":"Sandbox error: Sandbox exited with code 3","exitCode":3,
                "error":"Sandbox exited with code 3"})
            ),
            "status: error\nexit: 3\nSandbox error: Sandbox exited with code 3"
        );
        assert_eq!(
            compact(
                json!({"status":"error","summary":"Sandbox error: Sandbox exited with code 1","exitCode":1,
                "stdout":["before"],"stderr":["Traceback","ValueError: boom"],
                "error":"Sandbox exited with code 1"})
            ),
            "status: error\nexit: 1\nbefore\nstderr:\nTraceback\nValueError: boom"
        );
    }

    #[test]
    fn sandbox_errors_without_an_exit_code_show_summary_and_no_exit_line() {
        assert_eq!(
            compact(
                json!({"status":"error","summary":"Sandbox error: Unknown MCP server: doesnotexist",
                "servers":["doesnotexist"],"error":"Unknown MCP server: doesnotexist"})
            ),
            "status: error\nSandbox error: Unknown MCP server: doesnotexist"
        );
    }

    #[test]
    fn an_error_is_shown_alongside_output_unless_the_status_is_error() {
        // Status `error` with output: the output says enough, the error line is left out.
        assert_eq!(
            compact(json!({"status":"error","summary":"s","stderr":["tb"],"error":"boom"})),
            "status: error\nstderr:\ntb"
        );
        // Any other status keeps it.
        assert_eq!(
            compact(json!({"status":"success","summary":"s","stdout":["out"],"error":"odd"})),
            "out\nerror: odd"
        );
    }

    #[test]
    fn exit_zero_and_a_missing_summary_add_nothing() {
        assert_eq!(
            compact(json!({"status":"success","exitCode":0,"stdout":["x"]})),
            "x"
        );
        assert_eq!(
            compact(json!({"status":"error","exitCode":-1,"stdout":["x"]})),
            "status: error\nexit: -1\nx"
        );
    }

    #[test]
    fn empty_text_falls_back_to_the_status() {
        assert_eq!(compact(json!({"status":"success"})), "success");
        assert_eq!(compact(json!({"status":"success","summary":""})), "success");
        // Lines that are empty or only whitespace leave nothing either.
        assert_eq!(
            compact(json!({"status":"success","stdout":[""]})),
            "success"
        );
        assert_eq!(
            compact(json!({"status":"success","stdout":["  "]})),
            "success"
        );
        assert_eq!(compact(json!({"status":"error"})), "status: error");
    }

    #[test]
    fn the_whole_text_is_trimmed_but_inner_lines_are_kept() {
        assert_eq!(
            compact(json!({"status":"success","stdout":["  indented","    deeper  "]})),
            "indented\n    deeper"
        );
        assert_eq!(
            compact(json!({"status":"success","stdout":["a","","b"]})),
            "a\n\nb"
        );
    }

    #[test]
    fn unicode_passes_through() {
        assert_eq!(
            compact(json!({"status":"success","stdout":["héllo — 日本語 🎉"]})),
            "héllo — 日本語 🎉"
        );
    }

    #[test]
    fn unknown_keys_in_the_payload_are_ignored() {
        assert_eq!(
            compact(json!({"status":"success","stdout":["x"],"extra":{"a":1}})),
            "x"
        );
    }

    #[test]
    fn malformed_payloads_are_refused() {
        for bad in [
            "not json",
            "[]",
            r#"{"summary":"no status"}"#,
            r#"{"status":"maybe"}"#,
            r#"{"status":"success","stdout":"not a list"}"#,
            r#"{"status":"error","exitCode":"1"}"#,
        ] {
            let error = render(bad).unwrap_err();
            assert!(
                error.starts_with("payload is not a valid run payload"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn configure_accepts_only_an_empty_object() {
        assert_eq!(configure("{}"), Ok(()));
        assert_eq!(configure(" { } "), Ok(()));
        assert_eq!(
            configure(r#"{"indent":2,"color":true}"#),
            Err(
                "encoder `compact` takes no configuration, unknown key(s): `color`, `indent`"
                    .into()
            )
        );
        assert_eq!(
            configure("[]"),
            Err("configuration must be a JSON object".into())
        );
        assert!(
            configure("")
                .unwrap_err()
                .starts_with("configuration is not JSON")
        );
    }
}
