//! {{name}}: an mcp-bridge response encoder (world `encoder-plugin` of `wit/plugin.wit`, API 0.2.0), on the Rust
//! plugin SDK.
//!
//! Renders a run's result as plain text: the summary, then stdout, stderr and the error, each under a heading.

use mcp_bridge_plugin_sdk::{Encoded, Encoder, Payload, Plugin, register_encoder};

#[derive(Default)]
struct MyEncoder;

/// No settings: the SDK's default `configure` accepts only `{}`.
impl Plugin for MyEncoder {}

impl Encoder for MyEncoder {
    fn encode(&self, payload: &Payload) -> Result<Encoded, String> {
        let mut lines = vec![format!("{}: {}", payload.status.as_str(), payload.summary)];
        if let Some(code) = payload.exit_code {
            lines.push(format!("exit code: {code}"));
        }
        for (heading, stream) in [("stdout:", &payload.stdout), ("stderr:", &payload.stderr)] {
            if !stream.is_empty() {
                lines.push(String::new());
                lines.push(heading.to_string());
                lines.extend(stream.iter().cloned());
            }
        }
        if let Some(error) = &payload.error {
            lines.push(String::new());
            lines.push(format!("error: {error}"));
        }
        Ok(Encoded::plain(lines.join("\n")))
    }
}

register_encoder!(MyEncoder);
