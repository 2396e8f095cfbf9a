//! The response encoders, on any JSON the bytes are: the `toon`, `auto`, `json` and `compact` plugins (their own
//! sources) and the bridge's built-in JSON fallback (the SDK's `json_block`, which `src/response/encode.rs` calls).
//!
//! - Any JSON object, through the renderings `toon`, `auto` and `json` offer for a payload given as JSON text:
//!   the TOON inside the ```toon fence decodes (toon-format's decoder, the Rust reference implementation, strict)
//!   to the same value, keys in the same order, up to the number forms TOON defines (§4 of the spec, as
//!   toon-format documents it: an integer-valued float in the `i64`/`u64` domain is that integer, -0 is 0; every
//!   other float keeps its exact value); `auto` is exactly the shorter (in characters, a tie to TOON) of that TOON
//!   block and compact JSON in a ```json fence, and either decodes back; `json`'s block parses back to the same
//!   value with every object's keys sorted. A value that is not an object is refused by `toon` and `auto` with
//!   their one message. Nothing panics and every text stays within a bound linear in the input.
//! - A run payload (the bytes as the SDK's `Payload`, read leniently as `compact`'s `render` reads it), as the
//!   bridge hands it to an encoder plugin (the WIT record: no `session`, no `files`): each encoder's `encode`
//!   gives the text its `render` gives for the payload's JSON, with its media type; TOON and `auto` decode back
//!   exactly to the payload (no number forms to mind: a payload has only strings and integers), `json` parses
//!   back to it; the fallback on the whole payload (`session` and `files` too) parses back to it; no line inside
//!   a fence could close it; and `compact` shows what it promises: `status: S` first unless the run succeeded,
//!   then `exit: N` for a non-zero exit code, stdout and then `stderr:` and stderr, the summary when there is no
//!   output, `error: …` unless an `error` run shows something else, trimmed, never empty.
//!
//! With `ENCODERS_REFERENCE_DIR` set (`fuzz/toon-reference.sh`), every TOON block is also written there with the
//! value it decodes to, for the JavaScript reference decoder to check afterwards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_bridge_fuzz::{auto, compact, json, toon};
use mcp_bridge_plugin_sdk::render::json_block;
use mcp_bridge_plugin_sdk::{Encoded, Encoder, Payload, Status};
use serde_json::Value;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return;
    };
    any_value(text, &value);
    if let Ok(payload) = serde_json::from_value::<Payload>(value) {
        run_payload(&payload);
    }
});

/// 2^63 and 2^64: the ends of the `i64` and `u64` domains as floats.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// The longest text TOON writes for one number: no exponents (§2), so `5e-324` is `0.` and 323 more digits and
/// `1.7976931348623157e308` is 309 digits.
const LONGEST_TOON_NUMBER: usize = 330;

fn any_value(text: &str, value: &Value) {
    let compact_json = serde_json::to_string(value).expect("a parsed value serialises");
    let (depth, numbers) = shape(value);
    // Every line of a rendering is indented at most two spaces a level, and a line holds at least one value; the
    // rest is quoting and escaping (at most six bytes for one) and headers.
    let bound = (8 + 2 * depth) * compact_json.len() + LONGEST_TOON_NUMBER * numbers + 256;

    let json = json::render(text).expect("any JSON renders as JSON");
    assert!(
        json.len() <= bound,
        "json: {} bytes, bound {bound}",
        json.len()
    );
    let parsed = parse_json_block(&json);
    assert_eq!(&parsed, value, "json: not the same value:\n{json}");
    assert_sorted(&parsed, &json);

    if !value.is_object() {
        assert_eq!(
            toon::render(text).unwrap_err(),
            "payload is not a JSON object"
        );
        assert_eq!(
            auto::render(text).unwrap_err(),
            "payload is not a JSON object"
        );
        return;
    }

    let toon_text = toon::render(text).expect("any JSON object encodes as TOON");
    assert!(
        toon_text.len() <= bound,
        "toon: {} bytes, bound {bound}",
        toon_text.len()
    );
    let decoded = decode_toon_block(&toon_text);
    assert_same(&decoded, &toon_numbers(value), &toon_text);
    for_reference(&toon_text, &decoded);

    let auto_text = auto::render(text).expect("auto renders any JSON object");
    let json_text = format!("```json\n{compact_json}\n```");
    if toon_text.chars().count() <= json_text.chars().count() {
        assert_eq!(auto_text, toon_text, "auto: TOON is not longer");
        assert_same(
            &decode_toon_block(&auto_text),
            &toon_numbers(value),
            &auto_text,
        );
    } else {
        assert_eq!(auto_text, json_text, "auto: compact JSON is shorter");
        assert_same(&parse_json_block(&auto_text), value, &auto_text);
    }
}

fn run_payload(payload: &Payload) {
    // What an encoder plugin receives: the WIT payload record has no session and no files.
    let wit = Payload {
        session: None,
        files: Vec::new(),
        ..payload.clone()
    };
    let wire = wit.to_json();
    let expected = wit.to_value();
    let bound = 4 * wire.len() + 256;

    let toon_text = encoded(toon::Toon.encode(&wit), "text/markdown", bound);
    assert_eq!(Ok(&toon_text), toon::render(&wire).as_ref());
    assert_same(&decode_toon_block(&toon_text), &expected, &toon_text);
    for_reference(&toon_text, &expected);
    let body = unfence(&toon_text, "toon");
    assert_eq!(
        toon_format::decode_default::<Payload>(body).as_ref(),
        Ok(&wit),
        "{toon_text}"
    );
    assert_fence_holds(body, &toon_text);

    let auto_text = encoded(auto::Auto.encode(&wit), "text/markdown", bound);
    assert_eq!(Ok(&auto_text), auto::render(&wire).as_ref());
    if auto_text.starts_with("```toon\n") {
        assert_eq!(auto_text, toon_text);
    } else {
        assert_same(&parse_json_block(&auto_text), &expected, &auto_text);
        assert!(
            auto_text.chars().count() < toon_text.chars().count(),
            "{auto_text}"
        );
    }

    let json_text = encoded(json::Json.encode(&wit), "text/markdown", bound);
    assert_eq!(Ok(&json_text), json::render(&wire).as_ref());
    let parsed = parse_json_block(&json_text);
    assert_eq!(parsed, expected, "{json_text}");
    assert_sorted(&parsed, &json_text);

    // The bridge's own fallback sees the whole payload.
    let fallback = json_block(payload.to_value()).expect("the fallback renders any payload");
    assert!(
        fallback.len() <= 4 * payload.to_json().len() + 256,
        "{fallback}"
    );
    let back: Payload = serde_json::from_value(parse_json_block(&fallback)).expect("a payload");
    assert_eq!(&back, payload, "{fallback}");

    let compact_text = encoded(compact::Compact.encode(&wit), "text/plain", wire.len() + 64);
    assert_eq!(Ok(&compact_text), compact::render(&wire).as_ref());
    assert_compact(&wit, &compact_text);
}

/// Writes a TOON block and the value it decodes to into `ENCODERS_REFERENCE_DIR`, when that is set, as
/// `<hash>.toon` and `<hash>.json`.
fn for_reference(toon_text: &str, value: &Value) {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    let Some(dir) =
        DIR.get_or_init(|| std::env::var_os("ENCODERS_REFERENCE_DIR").map(PathBuf::from))
    else {
        return;
    };
    let mut hasher = DefaultHasher::new();
    toon_text.hash(&mut hasher);
    let name = format!("{:016x}", hasher.finish());
    let json = serde_json::to_string(value).expect("a value serialises");
    std::fs::write(dir.join(format!("{name}.toon")), toon_text).expect("writes the TOON");
    std::fs::write(dir.join(format!("{name}.json")), json).expect("writes the value");
}

/// The text of an encoder's answer, checked for its media type and length.
fn encoded(answer: Result<Encoded, String>, mime_type: &str, bound: usize) -> String {
    let encoded = answer.expect("a built-in encoder renders any payload");
    assert_eq!(encoded.mime_type, mime_type);
    assert!(
        encoded.text.len() <= bound,
        "{} bytes, bound {bound}: {}",
        encoded.text.len(),
        encoded.text
    );
    encoded.text
}

/// What `compact` promises (its module documentation), for any payload.
fn assert_compact(payload: &Payload, text: &str) {
    assert!(!text.is_empty());
    assert_eq!(text, text.trim(), "compact: not trimmed");
    let mut head = Vec::new();
    if payload.status != Status::Success {
        head.push(format!("status: {}", payload.status.as_str()));
    }
    if let Some(code) = payload.exit_code.filter(|code| *code != 0) {
        head.push(format!("exit: {code}"));
    }
    let head = head.join("\n");
    let rest = text
        .strip_prefix(head.as_str())
        .unwrap_or_else(|| panic!("compact: does not start with {head:?}: {text:?}"));
    assert!(
        head.is_empty() || rest.is_empty() || rest.starts_with('\n'),
        "compact: {text:?}"
    );
    let stdout = payload.stdout.join("\n");
    let stderr = format!("stderr:\n{}", payload.stderr.join("\n"));
    let output = match (payload.stdout.is_empty(), payload.stderr.is_empty()) {
        (true, true) => String::new(),
        (false, true) => stdout,
        (true, false) => stderr,
        (false, false) if stdout.is_empty() => stderr,
        (false, false) => format!("{stdout}\n{stderr}"),
    };
    // The whole text is trimmed, so a part shows trimmed.
    assert!(
        rest.contains(output.trim()),
        "compact: no output {output:?}: {text:?}"
    );
    let no_output = payload.stdout.is_empty() && payload.stderr.is_empty();
    if no_output {
        assert!(
            rest.contains(payload.summary.trim()),
            "compact: no summary: {text:?}"
        );
    }
    if let Some(error) = &payload.error
        && (payload.status != Status::Error || (no_output && payload.summary.is_empty()))
    {
        let line = format!("error: {error}");
        assert!(rest.contains(line.trim()), "compact: no {line:?}: {text:?}");
    }
}

/// The document inside "```toon\n" … "\n```", decoded strictly.
fn decode_toon_block(text: &str) -> Value {
    let body = unfence(text, "toon");
    toon_format::decode_default(body)
        .unwrap_or_else(|error| panic!("the TOON does not decode: {error}\n{text}"))
}

fn parse_json_block(text: &str) -> Value {
    let body = unfence(text, "json");
    assert_fence_holds(body, text);
    serde_json::from_str(body).unwrap_or_else(|error| panic!("not JSON: {error}\n{text}"))
}

fn unfence<'a>(text: &'a str, language: &str) -> &'a str {
    text.strip_prefix(&format!("```{language}\n"))
        .and_then(|rest| rest.strip_suffix("\n```"))
        .unwrap_or_else(|| panic!("not a ```{language} block: {text:?}"))
}

/// No line of a fenced block's body could close the fence (CommonMark: up to three spaces, then three or more
/// backticks).
fn assert_fence_holds(body: &str, text: &str) {
    for line in body.lines() {
        let unindented = line.trim_start_matches(' ');
        assert!(
            line.len() - unindented.len() > 3 || !unindented.starts_with("```"),
            "a line closes the fence early: {line:?}\n{text}"
        );
    }
}

/// The same value, keys in the same order, numbers of the same kind (`Value`'s `==` ignores key order and is
/// enough for neither, so the JSON texts are compared: serde_json writes each finite float one way).
fn assert_same(decoded: &Value, expected: &Value, text: &str) {
    let (decoded, expected) = (
        serde_json::to_string(decoded).unwrap(),
        serde_json::to_string(expected).unwrap(),
    );
    assert!(
        decoded == expected,
        "decodes to\n{decoded}\ninstead of\n{expected}\nfrom\n{text}"
    );
}

/// `value` with its numbers as TOON gives them back (toon-format's crate documentation, "numeric out-of-range
/// policy", and its `normalize`): a float with an integer value inside [-2^63, 2^64) is that integer (`1.0` is
/// `1`, `-0.0` is `0`, `1e19` is the `u64` 10000000000000000000); every other float is written without an
/// exponent in its shortest round-tripping digits and decodes to the same float (`1e20`, `0.1`, `5e-324`).
/// NaN and infinities (which TOON writes as `null`) cannot come out of JSON. Strings, keys and their order are
/// kept as they are.
fn toon_numbers(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().expect("a float");
            if f.fract() == 0.0 && (-TWO_POW_63..0.0).contains(&f) {
                Value::from(f as i64)
            } else if f.fract() == 0.0 && (-0.0..TWO_POW_64).contains(&f) {
                Value::from(f as u64)
            } else {
                value.clone()
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(toon_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), toon_numbers(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every object's keys in ascending order, as `json` promises (the parsed value keeps the text's order:
/// `preserve_order`).
fn assert_sorted(value: &Value, text: &str) {
    match value {
        Value::Object(map) => {
            let keys: Vec<&String> = map.keys().collect();
            assert!(keys.is_sorted(), "keys not sorted: {keys:?}\n{text}");
            map.values().for_each(|value| assert_sorted(value, text));
        }
        Value::Array(items) => items.iter().for_each(|value| assert_sorted(value, text)),
        _ => {}
    }
}

/// The nesting depth of a value and how many numbers it holds.
fn shape(value: &Value) -> (usize, usize) {
    match value {
        Value::Number(_) => (0, 1),
        Value::Array(items) => nested(items.iter()),
        Value::Object(map) => nested(map.values()),
        _ => (0, 0),
    }
}

fn nested<'a>(children: impl Iterator<Item = &'a Value>) -> (usize, usize) {
    children
        .map(shape)
        .fold((1, 0), |(depth, numbers), (d, n)| {
            (depth.max(d + 1), numbers + n)
        })
}
