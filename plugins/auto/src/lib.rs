//! Built-in encoder `auto`: renders the payload both as the `toon` encoder does and as compact JSON in a ```json
//! fence, and returns the shorter text, in characters (a tie goes to TOON). The two texts differ only in ASCII
//! syntax, so counting bytes would pick the same one. The TOON rendering is the `toon` encoder's own
//! (`mcp-bridge-toon-render`).

use mcp_bridge_plugin_sdk::{Encoded, Encoder, Payload, Plugin, register_encoder};
use mcp_bridge_toon_render as toon;
use serde_json::Value;

/// The plugin's name, as the bridge config refers to it.
pub const NAME: &str = "auto";

/// The encoder (no settings).
#[derive(Default)]
pub struct Auto;

impl Plugin for Auto {}

impl Encoder for Auto {
    fn encode(&self, payload: &Payload) -> Result<Encoded, String> {
        Ok(Encoded::markdown(shorter(&payload.to_value())?))
    }
}

register_encoder!(Auto, name = NAME);

/// Renders a payload given as a JSON object text as whichever of TOON and compact JSON is shorter.
pub fn render(payload: &str) -> Result<String, String> {
    shorter(&toon::parse_payload(payload)?)
}

/// Whichever of TOON and compact JSON renders `payload` shorter.
fn shorter(payload: &Value) -> Result<String, String> {
    let json = json_block(payload)?;
    // TOON cannot fail on a JSON object of strings and integers; if it ever did, the JSON text still serves.
    let Ok(toon) = toon::toon_block(payload) else {
        return Ok(json);
    };
    Ok(if toon.chars().count() <= json.chars().count() {
        toon
    } else {
        json
    })
}

/// The payload as compact JSON (`serde_json::to_string`, keys in the payload's order) in a ```json fence.
fn json_block(payload: &Value) -> Result<String, String> {
    let json = serde_json::to_string(payload).map_err(|e| format!("JSON encoding failed: {e}"))?;
    Ok(format!("```json\n{json}\n```"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_bridge_plugin_sdk::{Config, Kind};
    use serde_json::json;

    /// `configure` as the bridge calls it.
    fn configure(config: &str) -> Result<(), String> {
        Auto.configure(&Config::new(Kind::Encoder, NAME, config))
    }

    fn auto(payload: &Value) -> String {
        render(&payload.to_string()).unwrap()
    }

    #[test]
    fn toon_wins_for_a_typical_payload() {
        let p = json!({"status":"success","summary":"Success","exitCode":0,"servers":["stub","fs"],
            "stdout":["line1","line2"]});
        assert_eq!(
            auto(&p),
            "```toon\nstatus: success\nsummary: Success\nexitCode: 0\nservers[2]: stub,fs\nstdout[2]: line1,line2\n```"
        );
    }

    #[test]
    fn toon_wins_even_when_every_string_is_quoted() {
        assert_eq!(
            auto(&json!({"status":"success","stdout":["a, b","x: y","-1","true",""]})),
            "```toon\nstatus: success\nstdout[5]: \"a, b\",\"x: y\",\"-1\",\"true\",\"\"\n```"
        );
    }

    #[test]
    fn json_wins_when_toon_needs_list_items() {
        // Nested arrays (not in today's payload, but an encoder must not assume the key set) take a `- ` line
        // each in TOON: 66 characters against JSON's 50.
        assert_eq!(
            auto(&json!({"status":"success","a":[[1],[2],[3]]})),
            "```json\n{\"status\":\"success\",\"a\":[[1],[2],[3]]}\n```"
        );
    }

    #[test]
    fn a_tie_goes_to_toon() {
        let p = json!({"status":"success","a":[["xy"]]});
        let toon = "```toon\nstatus: success\na[1]:\n  - [1]: xy\n```";
        let json = "```json\n{\"status\":\"success\",\"a\":[[\"xy\"]]}\n```";
        assert_eq!(toon.chars().count(), json.chars().count());
        assert_eq!(json_block(&p).unwrap(), json);
        assert_eq!(auto(&p), toon);
    }

    #[test]
    fn unicode_stays_raw() {
        let text = auto(&json!({"status":"success","stdout":["日本語 🎉","é"]}));
        assert_eq!(
            text,
            "```toon\nstatus: success\nstdout[2]: 日本語 🎉,é\n```"
        );
    }

    #[test]
    fn json_keeps_the_payload_key_order() {
        let p = json!({"status":"error","summary":"s","exitCode":1,"error":"e"});
        assert_eq!(
            json_block(&p).unwrap(),
            "```json\n{\"status\":\"error\",\"summary\":\"s\",\"exitCode\":1,\"error\":\"e\"}\n```"
        );
    }

    #[test]
    fn malformed_payloads_are_refused() {
        assert!(
            render("nope")
                .unwrap_err()
                .starts_with("payload is not JSON")
        );
        assert_eq!(render("[]").unwrap_err(), "payload is not a JSON object");
    }

    #[test]
    fn configure_accepts_only_an_empty_object() {
        assert_eq!(configure("{}"), Ok(()));
        assert_eq!(
            configure(r#"{"prefer":"json"}"#),
            Err("encoder `auto` takes no configuration, unknown key(s): `prefer`".into())
        );
        assert_eq!(
            configure("1"),
            Err("configuration must be a JSON object".into())
        );
    }
}
