//! Built-in encoder `json`: the payload as a fenced JSON block, keys sorted, as the seed printed its fallback.
//! The rendering is the SDK's [`json_block`], which the bridge's own fallback uses too.

use mcp_bridge_plugin_sdk::render::json_block;
use mcp_bridge_plugin_sdk::{Encoded, Encoder, Payload, Plugin, register_encoder};

/// The plugin's name, as the bridge config refers to it.
pub const NAME: &str = "json";

/// The encoder (no settings).
#[derive(Default)]
pub struct Json;

impl Plugin for Json {}

impl Encoder for Json {
    fn encode(&self, payload: &Payload) -> Result<Encoded, String> {
        Ok(Encoded::markdown(json_block(payload.to_value())?))
    }
}

register_encoder!(Json, name = NAME);

/// Renders a payload given as a JSON text as a ```json fenced block with sorted keys.
pub fn render(payload: &str) -> Result<String, String> {
    let value = serde_json::from_str(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    json_block(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_bridge_plugin_sdk::{Config, Kind};

    /// `configure` as the bridge calls it.
    fn configure(config: &str) -> Result<(), String> {
        Json.configure(&Config::new(Kind::Encoder, NAME, config))
    }

    #[test]
    fn keys_are_sorted_at_every_level_and_fenced() {
        let text = render(r#"{"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": null}}"#).unwrap();
        assert_eq!(
            text,
            "```json\n{\n  \"a\": {\n    \"c\": null,\n    \"d\": [\n      {\n        \"y\": 2,\n        \
             \"z\": 1\n      }\n    ]\n  },\n  \"b\": 1\n}\n```"
        );
    }

    #[test]
    fn bad_payloads_and_settings_are_refused() {
        assert!(
            render("not json")
                .unwrap_err()
                .starts_with("payload is not JSON")
        );
        assert!(configure("{}").is_ok());
        assert!(
            configure(r#"{"indent": 2}"#)
                .unwrap_err()
                .contains("`indent`")
        );
    }
}
