//! Built-in encoder `json`: the payload as a fenced JSON block, keys sorted, as the seed printed its fallback.
//! The rendering lives in `render.rs` (shared with the bridge's fallback); only the component glue needs wasm32.

mod render;

/// The plugin's name, as the bridge config refers to it.
pub const NAME: &str = "json";

/// Renders a payload (a JSON text) as a ```json fenced block with sorted keys.
pub fn render(payload: &str) -> Result<String, String> {
    let value = serde_json::from_str(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    render::json_block(value)
}

#[path = "../../shared/no_settings.rs"]
mod no_settings;

/// Checks the configuration: this encoder has no settings, so only an empty JSON object is accepted.
pub fn configure(config: &str) -> Result<(), String> {
    no_settings::check(NAME, config)
}

#[path = "../../shared/encoder_component.rs"]
#[macro_use]
mod encoder_component;
encoder_component!(Json, "text/markdown");

#[cfg(test)]
mod tests {
    use super::*;

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
