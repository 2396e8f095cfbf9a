//! Built-in encoder `json`: the payload as a fenced JSON block, keys sorted, as the seed printed its fallback.

wit_bindgen::generate!({ world: "encoder-plugin", path: "../../wit" });

use exports::mcp_bridge::plugin::encoder::{Encoded, Guest as Encoder};
use exports::mcp_bridge::plugin::plugin::Guest as Plugin;
use mcp_bridge::plugin::types::Info;

struct Json;

impl Plugin for Json {
    fn metadata() -> Info {
        Info {
            name: "json".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: env!("CARGO_PKG_DESCRIPTION").into(),
        }
    }

    fn configure(_config: String) -> Result<(), String> {
        Ok(())
    }
}

impl Encoder for Json {
    fn encode(payload: String) -> Result<Encoded, String> {
        let value: serde_json::Value =
            serde_json::from_str(&payload).map_err(|e| format!("payload is not JSON: {e}"))?;
        let text = serde_json::to_string_pretty(&sorted(value)).map_err(|e| e.to_string())?;
        Ok(Encoded {
            text: format!("```json\n{text}\n```"),
            mime_type: "text/markdown".into(),
        })
    }
}

/// The value with every object's keys sorted. Sorting is explicit: other built-ins (toon) switch on serde_json's
/// `preserve_order`, and cargo unifies that feature across the workspace build.
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

export!(Json);
