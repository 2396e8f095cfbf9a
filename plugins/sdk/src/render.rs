//! Renderings more than one encoder needs. [`json_block`] is the `json` encoder's text and also the bridge's own
//! fallback (the bridge depends on this crate for it), so the two can never drift apart.

use serde_json::Value;

/// The fenced, pretty-printed, key-sorted text of `value`: "```json\n" + the JSON + "\n```", as the seed printed
/// its fallback.
pub fn json_block(value: Value) -> Result<String, String> {
    let text = serde_json::to_string_pretty(&sorted(value))
        .map_err(|e| format!("JSON encoding failed: {e}"))?;
    Ok(format!("```json\n{text}\n```"))
}

/// The value with every object's keys sorted. Sorting is explicit: serde_json may be built with
/// `preserve_order` (TOON rendering asks for it, and cargo unifies features across a build), which keeps
/// insertion order instead.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
