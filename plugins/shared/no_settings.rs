//! `configure` for encoders that take no settings: an empty JSON object, nothing else. Included by path into the
//! `compact`, `toon` and `auto` crates (`#[path = "../../shared/no_settings.rs"] mod no_settings;`).

/// Accepts `{}`; anything else is refused with a message naming the encoder and the unknown keys.
pub fn check(encoder: &str, config: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("configuration is not JSON: {e}"))?;
    let map = value
        .as_object()
        .ok_or("configuration must be a JSON object")?;
    if map.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<String> = map.keys().map(|key| format!("`{key}`")).collect();
    keys.sort();
    Err(format!(
        "encoder `{encoder}` takes no configuration, unknown key(s): {}",
        keys.join(", ")
    ))
}
