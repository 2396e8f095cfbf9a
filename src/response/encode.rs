//! Text rendering of a [`Payload`] for the model: the one seam that response encoders plug into
//! ([`ResponseEncoder`]), and the built-in JSON fallback.
//!
//! The encoders themselves are plugins (`plugins/compact`, `toon`, `json`, `auto`, or the user's); the plugin
//! host implements this seam (`crate::plugins::PluginEncoder`) and the bridge drives the one
//! `MCP_BRIDGE_OUTPUT_MODE` names through it. A failing encoder falls back to [`Json`], built into the host,
//! with a note, so a response is never lost.

use anyhow::Result;

use super::Payload;

/// Turns a payload into the text content of the MCP result.
pub trait ResponseEncoder: Send + Sync {
    /// The name `MCP_BRIDGE_OUTPUT_MODE` selects it by.
    fn name(&self) -> &str;
    /// Renders the payload.
    fn encode(&self, payload: &Payload) -> Result<String>;
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

/// Pretty JSON with sorted keys in a fence, as the seed's fallback printed it: the `json` plugin's own rendering
/// (from the plugin SDK), built into the bridge too, since the fallback must work when no plugin does and must
/// read exactly like the plugin.
pub struct Json;

impl ResponseEncoder for Json {
    fn name(&self) -> &str {
        "json"
    }

    fn encode(&self, payload: &Payload) -> Result<String> {
        mcp_bridge_plugin_sdk::render::json_block(payload.to_value()).map_err(anyhow::Error::msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{RunEnd, RunOutcome};

    struct Broken;

    impl ResponseEncoder for Broken {
        fn name(&self) -> &str {
            "broken"
        }

        fn encode(&self, _payload: &Payload) -> Result<String> {
            anyhow::bail!("it trapped")
        }
    }

    fn payload() -> Payload {
        crate::response::from_outcome(
            &RunOutcome {
                container: crate::sandbox::ContainerUse {
                    id: "c".into(),
                    warm: false,
                },
                stdout: "a\n".into(),
                stderr: String::new(),
                end: RunEnd::Exited(0),
                session: None,
            },
            vec![],
        )
    }

    #[test]
    fn json_is_sorted_and_fenced() {
        let text = Json.encode(&payload()).unwrap();
        assert!(text.starts_with("```json\n{\n  \"exitCode\": 0,"), "{text}");
    }

    #[test]
    fn a_failing_encoder_falls_back_to_json_with_a_note() {
        let text = render(&Broken, &payload());
        assert!(text.starts_with("```json\n"), "{text}");
        assert!(
            text.ends_with("(note: encoder 'broken' failed: it trapped)"),
            "{text}"
        );
    }
}
