//! Built-in encoder `toon`: the payload as a fenced TOON block, as the seed's TOON mode printed it
//! (seed-behaviour §1.5). The rendering is `mcp-bridge-toon-render`, shared with `auto`.

use mcp_bridge_plugin_sdk::{Encoded, Encoder, Payload, Plugin, register_encoder};
use mcp_bridge_toon_render as toon;

/// The plugin's name, as the bridge config refers to it.
pub const NAME: &str = "toon";

/// The encoder (no settings).
#[derive(Default)]
pub struct Toon;

impl Plugin for Toon {}

impl Encoder for Toon {
    fn encode(&self, payload: &Payload) -> Result<Encoded, String> {
        Ok(Encoded::markdown(toon::toon_block(&payload.to_value())?))
    }
}

register_encoder!(Toon, name = NAME);

/// Renders a payload given as a JSON object text as a ```toon fenced block; `Err` says why it could not.
pub fn render(payload: &str) -> Result<String, String> {
    toon::toon_block(&toon::parse_payload(payload)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_bridge_plugin_sdk::{Config, Kind, Status};
    use serde_json::{Value, json};

    /// `configure` as the bridge calls it.
    fn configure(config: &str) -> Result<(), String> {
        Toon.configure(&Config::new(Kind::Encoder, NAME, config))
    }

    fn toon(payload: &Value) -> String {
        render(&payload.to_string()).unwrap()
    }

    /// The document inside the fence, decoded with the Rust decoder (the reference decoder is checked by
    /// `tests/toon-reference/decode.mjs`).
    fn decoded(text: &str) -> Value {
        let body = text
            .strip_prefix("```toon\n")
            .and_then(|rest| rest.strip_suffix("\n```"))
            .unwrap_or_else(|| panic!("not a ```toon fence: {text}"));
        toon_format::decode_default(body).unwrap()
    }

    #[test]
    fn success_with_servers_matches_the_seed() {
        let p = json!({"status":"success","summary":"Success","exitCode":0,"servers":["stub","fs"],
            "stdout":["line1","line2"]});
        let text = toon(&p);
        assert_eq!(
            text,
            "```toon\nstatus: success\nsummary: Success\nexitCode: 0\nservers[2]: stub,fs\nstdout[2]: line1,line2\n```"
        );
        assert_eq!(decoded(&text), p);
    }

    #[test]
    fn timeout_matches_the_seed() {
        let p = json!({"status":"timeout","summary":"Timeout: execution exceeded 5s","stdout":["partial"],
            "stderr":["tb"],"error":"Execution timed out after 5s","timeoutSeconds":5});
        let text = toon(&p);
        assert_eq!(
            text,
            "```toon\nstatus: timeout\nsummary: \"Timeout: execution exceeded 5s\"\nstdout[1]: partial\nstderr[1]: tb\n\
             error: Execution timed out after 5s\ntimeoutSeconds: 5\n```"
        );
        assert_eq!(decoded(&text), p);
    }

    #[test]
    fn quoting_matches_the_seed() {
        let p = json!({"status":"success","summary":"Success","exitCode":0,
            "stdout":["a, b","x: y","  lead","\"q\"","-1","true",""]});
        let text = toon(&p);
        assert!(
            text.contains(
                "\nstdout[7]: \"a, b\",\"x: y\",\"  lead\",\"\\\"q\\\"\",\"-1\",\"true\",\"\"\n"
            ),
            "{text}"
        );
        assert_eq!(decoded(&text), p);
    }

    #[test]
    fn key_order_is_the_payloads_not_alphabetical() {
        let text = toon(&json!({"status":"error","summary":"s","exitCode":1,"error":"e"}));
        assert_eq!(
            text,
            "```toon\nstatus: error\nsummary: s\nexitCode: 1\nerror: e\n```"
        );
    }

    #[test]
    fn awkward_strings_round_trip() {
        let p = json!({"status":"error","summary":"Sandbox error: x","exitCode":-1,
            "stdout":["héllo — 日本語 🎉","tab\there","cr\rlf","back\\slash","[1]","{a}","# not a comment",
                "- item","null","05","1e5","trailing ","\u{7f}\u{1}"],
            "stderr":["Traceback (most recent call last):","  File \"<stdin>\", line 1, in <module>",
                "ValueError: boom"],
            "error":"line one\nline two\n\tindented"});
        let text = toon(&p);
        assert!(
            text.contains("\nerror: \"line one\\nline two\\n\\tindented\"\n"),
            "{text}"
        );
        assert_eq!(decoded(&text), p);
    }

    #[test]
    fn output_has_no_trailing_whitespace_inside_the_fence() {
        let text = toon(&json!({"status":"success","summary":"Success (no output)","exitCode":0}));
        assert_eq!(
            text,
            "```toon\nstatus: success\nsummary: Success (no output)\nexitCode: 0\n```"
        );
    }

    #[test]
    fn whitespace_toon_leaves_unquoted_survives_at_the_end_of_the_block() {
        // TOON quotes only ASCII whitespace at a value's ends; the last value's U+00A0, U+3000 or U+0085 is data.
        for p in [
            json!({"status":"error","summary":"s","error":"x\u{a0}"}),
            json!({"status":"success","summary":"Success","exitCode":0,"stdout":["日本語\u{3000}"]}),
            json!({"status":"success","summary":"S\u{85}"}),
        ] {
            let text = toon(&p);
            assert_eq!(decoded(&text), p, "{text}");
        }
    }

    #[test]
    fn the_typed_payload_renders_as_its_json_does() {
        let mut p = Payload::new(Status::Error);
        p.summary = "Sandbox error: x".into();
        p.exit_code = Some(1);
        p.stdout = vec!["a, b".into()];
        p.error = Some("x".into());
        let encoded = Toon.encode(&p).unwrap();
        assert_eq!(encoded.mime_type, "text/markdown");
        assert_eq!(encoded.text, render(&p.to_json()).unwrap());
        assert_eq!(
            encoded.text,
            "```toon\nstatus: error\nsummary: \"Sandbox error: x\"\nexitCode: 1\nstdout[1]: \"a, b\"\nerror: x\n```"
        );
    }

    #[test]
    fn malformed_payloads_are_refused() {
        assert!(
            render("nope")
                .unwrap_err()
                .starts_with("payload is not JSON")
        );
        assert_eq!(render("[1]").unwrap_err(), "payload is not a JSON object");
        assert_eq!(render("\"s\"").unwrap_err(), "payload is not a JSON object");
    }

    #[test]
    fn configure_accepts_only_an_empty_object() {
        assert_eq!(configure("{}"), Ok(()));
        assert_eq!(
            configure(r#"{"indent":2,"delimiter":"|"}"#),
            Err(
                "encoder `toon` takes no configuration, unknown key(s): `delimiter`, `indent`"
                    .into()
            )
        );
        assert_eq!(
            configure("null"),
            Err("configuration must be a JSON object".into())
        );
        assert!(
            configure("{")
                .unwrap_err()
                .starts_with("configuration is not JSON")
        );
    }
}
