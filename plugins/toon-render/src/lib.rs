//! TOON rendering, shared by the `toon` and `auto` encoders (a plain library both depend on). Tested through the
//! `toon` crate.

use serde_json::Value;

/// Parses a payload text: it must be a JSON object. Keys keep their order (serde_json's `preserve_order`).
pub fn parse_payload(payload: &str) -> Result<Value, String> {
    let value: Value =
        serde_json::from_str(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    if !value.is_object() {
        return Err("payload is not a JSON object".into());
    }
    Ok(value)
}

/// The seed's TOON mode: "```toon\n" + the TOON encoding with trailing whitespace trimmed + "\n```".
///
/// Only ASCII whitespace is trimmed: TOON quotes a value that ends in a space, a tab or a control character
/// (§7.2), so those can only be layout, while other whitespace (U+00A0, U+3000, U+0085, …) it writes bare — a
/// `trim_end()` cut it off the document's last value (found by the `encoders` fuzz target).
pub fn toon_block(payload: &Value) -> Result<String, String> {
    let toon =
        toon_format::encode_default(payload).map_err(|e| format!("TOON encoding failed: {e}"))?;
    Ok(format!(
        "```toon\n{}\n```",
        toon.trim_end_matches(|c: char| c.is_ascii_whitespace())
    ))
}
