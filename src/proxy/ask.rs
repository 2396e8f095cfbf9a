//! From the policies' verdict to go or refusal, for runs, tool calls and saved tools alike: an `ask` is put to
//! the user through the [`Asker`] (MCP elicitation) and only an explicit acceptance goes ahead.
//!
//! The question shows what is being approved, never just a name: for a tool call the server, the tool and the
//! arguments ([`preview_arguments`]: compact JSON, the first KiB, secret-looking values masked), for a saved
//! tool its name and size.

use futures::future::BoxFuture;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::plugins::Verdict;

/// Asks the user a yes/no question (MCP elicitation). `Err` says why they cannot be asked.
pub trait Asker: Send + Sync {
    /// Shows `prompt`; `Ok(true)` only on an explicit acceptance.
    fn ask(&self, prompt: String) -> BoxFuture<'static, Result<bool, String>>;
}

/// What is being decided, for the wording of refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A `run_python` call, before its container starts.
    Run,
    /// One proxied tool call.
    Call,
    /// Saving a tool's source for later runs (`tool_save`).
    SaveTool,
    /// Loading a saved tool into a run (`tool_load`).
    LoadTool,
}

/// How a verdict came out once the user, if asked, answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// `allow`, `deny`, `ask-accepted` or `ask-declined` (the audit log's `decision`).
    pub decision: &'static str,
    /// The policy that denied or asked.
    pub decided_by: Option<String>,
    /// `Err` with the message the model sees when the request may not go ahead.
    pub outcome: Result<(), String>,
}

/// Settles `verdict`; `question` turns the policy's prompt into the text the user is shown.
pub async fn settle(
    verdict: Verdict,
    subject: Subject,
    question: impl FnOnce(&str) -> String,
    asker: Option<&dyn Asker>,
) -> Settlement {
    let (plugin, prompt) = match verdict {
        Verdict::Allow => {
            return Settlement {
                decision: "allow",
                decided_by: None,
                outcome: Ok(()),
            };
        }
        Verdict::Deny { ref plugin, .. } => {
            return Settlement {
                decision: "deny",
                decided_by: Some(plugin.clone()),
                outcome: Err(verdict.describe()),
            };
        }
        Verdict::Ask { plugin, prompt } => (plugin, prompt),
    };
    let answer = match asker {
        Some(asker) => asker.ask(question(&prompt)).await,
        None => Err("this client cannot be asked (no MCP elicitation)".to_string()),
    };
    let (after_decline, refused) = match subject {
        Subject::Run => (", so the run was not started", "the run is refused"),
        Subject::Call => ("", "the call is denied"),
        Subject::SaveTool => (", so the tool was not saved", "the tool is not saved"),
        Subject::LoadTool => (", so the tool was not loaded", "the tool is not loaded"),
    };
    let (decision, outcome) = match answer {
        Ok(true) => ("ask-accepted", Ok(())),
        Ok(false) => (
            "ask-declined",
            Err(format!(
                "policy '{plugin}' asked ({prompt}) and the user declined{after_decline}"
            )),
        ),
        Err(why) => (
            "deny",
            Err(format!(
                "policy '{plugin}' asks: {prompt}; but {why}, so {refused}"
            )),
        ),
    };
    Settlement {
        decision,
        decided_by: Some(plugin),
        outcome,
    }
}

/// The question for a tool call: run, server, tool and the arguments as [`preview_arguments`] shows them.
pub fn call_question(
    run_id: &str,
    server: &str,
    tool: &str,
    arguments: &Map<String, Value>,
    prompt: &str,
) -> String {
    format!(
        "Run {run_id} wants to call {server}.{tool} with arguments {}: {prompt}",
        preview_arguments(arguments)
    )
}

/// The question for saving or loading a saved tool: its name and size.
pub fn tool_question(
    run_id: &str,
    subject: Subject,
    name: &str,
    bytes: usize,
    prompt: &str,
) -> String {
    let action = match subject {
        Subject::LoadTool => "load and run the saved tool",
        _ => "save, for later runs to load, the tool",
    };
    format!("Run {run_id} wants to {action} '{name}' ({bytes} bytes of Python source): {prompt}")
}

/// What replaces a masked value.
pub const MASK: &str = "***";

/// How much of the arguments a question shows.
pub const PREVIEW_BYTES: usize = 1024;

/// The arguments as compact JSON for a question: values under secret-looking keys ([`is_secret_key`]) and
/// strings that look like credentials ([`looks_like_credential`]) become `"***"`, at any depth; at most the
/// first [`PREVIEW_BYTES`], cut at a character boundary, with a note of how much was cut.
pub fn preview_arguments(arguments: &Map<String, Value>) -> String {
    let mut preview = Preview {
        shown: Vec::with_capacity(PREVIEW_BYTES),
        total: 0,
    };
    let mut serializer = serde_json::Serializer::new(&mut preview);
    if MaskedMap(arguments).serialize(&mut serializer).is_err() {
        return "(arguments that could not be shown)".into();
    }
    let shown = match std::str::from_utf8(&preview.shown) {
        Ok(text) => text,
        // Cut inside a character: show up to the last whole one.
        Err(error) => {
            std::str::from_utf8(&preview.shown[..error.valid_up_to()]).unwrap_or_default()
        }
    };
    let cut = preview.total - shown.len() as u64;
    if cut == 0 {
        shown.to_string()
    } else {
        format!("{shown}… ({cut} more bytes not shown)")
    }
}

/// Keeps the first [`PREVIEW_BYTES`] written and counts the rest.
struct Preview {
    shown: Vec<u8>,
    total: u64,
}

impl std::io::Write for Preview {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = PREVIEW_BYTES.saturating_sub(self.shown.len());
        self.shown.extend_from_slice(&buf[..room.min(buf.len())]);
        self.total += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A value serialised with secrets masked (no copy of the value is made).
struct Masked<'a>(&'a Value);

/// An object serialised with secrets masked.
struct MaskedMap<'a>(&'a Map<String, Value>);

impl Serialize for Masked<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::String(text) if looks_like_credential(text) => serializer.serialize_str(MASK),
            Value::Array(items) => serializer.collect_seq(items.iter().map(Masked)),
            Value::Object(map) => MaskedMap(map).serialize(serializer),
            other => other.serialize(serializer),
        }
    }
}

impl Serialize for MaskedMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            // null and booleans say nothing secret ("use_auth": true); anything else under such a key goes.
            if is_secret_key(key) && !matches!(value, Value::Null | Value::Bool(_)) {
                map.serialize_entry(key, MASK)?;
            } else {
                map.serialize_entry(key, &Masked(value))?;
            }
        }
        map.end()
    }
}

/// Whether a key names a secret: its letters and digits (any case, any separators) contain `password`,
/// `passwd`, `passphrase`, `secret`, `token`, `apikey`, `privatekey`, `accesskey`, `credential`,
/// `authorization` or `cookie`, or one of its words (split at separators and camelCase) is `auth`, `oauth`,
/// `pwd`, `pass`, `session`, `bearer` or `jwt`.
pub fn is_secret_key(key: &str) -> bool {
    const INSIDE: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "privatekey",
        "accesskey",
        "credential",
        "authorization",
        "cookie",
    ];
    const WORDS: &[&str] = &["auth", "oauth", "pwd", "pass", "session", "bearer", "jwt"];
    let joined: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if INSIDE.iter().any(|needle| joined.contains(needle)) {
        return true;
    }
    words(key).iter().any(|word| WORDS.contains(&word.as_str()))
}

/// A key's words, lower-cased: split at anything but letters and digits, and before an upper-case letter
/// that follows a lower-case one (`sessionId` → `session`, `id`).
fn words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            words.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    words.extend((!current.is_empty()).then_some(current));
    words
}

/// Whether a string looks like (or contains) a credential: a PEM private key, an `Authorization`-style
/// `Bearer …`/`Basic …` value, or a piece (split at spaces, quotes and URL punctuation) that is a well-known
/// token format (GitHub `ghp_…`/`github_pat_…`, OpenAI/Anthropic `sk-…`, Slack `xox?-…`, AWS `AKIA…`, GitLab,
/// Google, npm, Hugging Face, a JWT) or a long high-entropy token.
pub fn looks_like_credential(text: &str) -> bool {
    if text.contains("-----BEGIN") && text.contains("PRIVATE KEY") {
        return true;
    }
    let lower_start: String = text
        .trim_start()
        .chars()
        .take(7)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if (lower_start.starts_with("bearer ") || lower_start.starts_with("basic "))
        && text.trim().len() >= 14
    {
        return true;
    }
    text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '"' | '\''
                    | '`'
                    | ','
                    | ';'
                    | '&'
                    | '?'
                    | '#'
                    | '='
                    | ':'
                    | '@'
                    | '('
                    | ')'
                    | '<'
                    | '>'
                    | '['
                    | ']'
                    | '{'
                    | '}'
            )
    })
    .any(is_token)
}

/// One piece of a string: a known token format, or a long random-looking token.
fn is_token(piece: &str) -> bool {
    let token_chars = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let prefixed = |prefix: &str, min_rest: usize| {
        piece
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.len() >= min_rest && token_chars(rest))
    };
    if ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]
        .iter()
        .any(|p| prefixed(p, 20))
        || prefixed("github_pat_", 20)
        || prefixed("sk-", 16)
        || prefixed("glpat-", 16)
        || prefixed("npm_", 30)
        || prefixed("hf_", 30)
        || prefixed("AIza", 30)
    {
        return true;
    }
    let bytes = piece.as_bytes();
    if bytes.len() >= 14
        && bytes.starts_with(b"xox")
        && matches!(bytes[3], b'a' | b'b' | b'p' | b'o' | b's' | b'r' | b'e')
        && bytes[4] == b'-'
        && token_chars(&piece[5..])
    {
        return true;
    }
    if (piece.starts_with("AKIA") || piece.starts_with("ASIA"))
        && piece.len() == 20
        && piece
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return true;
    }
    if piece.starts_with("eyJ") {
        let parts: Vec<&str> = piece.split('.').collect();
        if parts.len() == 3 && parts[..2].iter().all(|p| token_chars(p)) && piece.len() >= 20 {
            return true;
        }
    }
    high_entropy(piece)
}

/// At least 32 characters of a token alphabet (letters, digits, `+/_=-`), with upper- and lower-case letters
/// and digits, and more than 4 bits of entropy per character: random keys, not words, paths or hex digests
/// (which never pass 4 bits).
fn high_entropy(piece: &str) -> bool {
    if piece.len() < 32
        || !piece
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'=' | b'-'))
        || !piece.bytes().any(|b| b.is_ascii_uppercase())
        || !piece.bytes().any(|b| b.is_ascii_lowercase())
        || !piece.bytes().any(|b| b.is_ascii_digit())
    {
        return false;
    }
    let mut counts = [0u32; 128];
    for b in piece.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = piece.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    entropy > 4.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn preview(value: Value) -> String {
        match value {
            Value::Object(map) => preview_arguments(&map),
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn secret_keys_are_masked_at_any_depth_and_in_any_spelling() {
        let shown = preview(json!({
            "query": "open issues",
            "token": "abc",
            "headers": {"Authorization": "xyz", "X-Api-Key": "k1", "accept": "json"},
            "config": [{"api_key": "k2"}, {"apiKey": "k3"}, {"client_secret": 7}],
            "sessionId": "s1", "PASSWORD": "p", "db_passwd": "p2", "private_key": "pk", "cookies": ["c"],
            "credentials": {"user": "u"}, "auth": "a", "refresh-token": "r",
            "author": "octocat", "use_auth": true, "password_hint": null,
        }));
        let shown: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(
            shown,
            json!({
                "query": "open issues",
                "token": "***",
                "headers": {"Authorization": "***", "X-Api-Key": "***", "accept": "json"},
                "config": [{"api_key": "***"}, {"apiKey": "***"}, {"client_secret": "***"}],
                "sessionId": "***", "PASSWORD": "***", "db_passwd": "***", "private_key": "***",
                "cookies": "***", "credentials": "***", "auth": "***", "refresh-token": "***",
                "author": "octocat", "use_auth": true, "password_hint": null,
            })
        );
    }

    #[test]
    fn credential_looking_strings_are_masked_wherever_they_are() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let secrets = [
            "ghp_1234567890abcdefghijABCDEFGHIJ123456",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "sk-proj-abcdefghijklmnop1234567890",
            "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
            "xoxb-123456789012-abcdefghijkl",
            "AKIAIOSFODNN7EXAMPLE",
            jwt,
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----",
            "Bearer abcdef0123456789",
            "https://user:ghp_1234567890abcdefghijABCDEFGHIJ@github.com/o/r.git",
            "export OPENAI_KEY=sk-abcdefghijklmnopqrstuv",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "Zx8Qw2Lm9Rt5Yp3Vn7Bc1Kd6Hs4Gf0Ja",
        ];
        for secret in secrets {
            assert!(looks_like_credential(secret), "not masked: {secret}");
            assert_eq!(
                preview(json!({"body": [secret]})),
                r#"{"body":["***"]}"#,
                "{secret}"
            );
        }
        let ordinary = [
            "open issues",
            "https://github.com/octocat/hello-world/issues/42",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "123e4567-e89b-12d3-a456-426614174000",
            "src/proxy/mod.rs",
            "/usr/local/lib/python3.12/site-packages/requests",
            "the quick brown fox jumps over the lazy dog",
            "sk-short",
            "ThisIsALongCamelCaseIdentifierName",
            "skeleton-key",
        ];
        for text in ordinary {
            assert!(!looks_like_credential(text), "masked: {text}");
        }
    }

    #[test]
    fn the_preview_is_bounded_at_a_character_boundary_and_says_how_much_was_cut() {
        let short = preview(json!({"text": "hi"}));
        assert_eq!(short, r#"{"text":"hi"}"#);
        // 'é' is two bytes: 1 KiB of them cannot end on a whole character after the 9 bytes of `{"text":"`.
        let long = preview(json!({"text": "é".repeat(2000)}));
        let (shown, note) = long.split_once('…').unwrap();
        assert!(shown.len() <= PREVIEW_BYTES && shown.len() >= PREVIEW_BYTES - 1);
        assert!(shown.starts_with(r#"{"text":"éé"#));
        let total = 9 + 4000 + 2;
        assert_eq!(
            note,
            format!(" ({} more bytes not shown)", total - shown.len())
        );
    }

    #[test]
    fn different_arguments_make_different_questions() {
        let ask = |text: &str| {
            call_question(
                "r1",
                "github",
                "create_issue",
                json!({"title": text}).as_object().unwrap(),
                "writes need a human",
            )
        };
        assert_eq!(
            ask("a"),
            r#"Run r1 wants to call github.create_issue with arguments {"title":"a"}: writes need a human"#
        );
        assert_ne!(ask("a"), ask("b"));
    }

    #[test]
    fn key_words_split_at_separators_and_camel_case() {
        assert_eq!(words("sessionId"), ["session", "id"]);
        assert_eq!(words("X-Auth-Token"), ["x", "auth", "token"]);
        assert_eq!(words("APIKey"), ["apikey"]);
        assert!(is_secret_key("oauthToken"));
        assert!(is_secret_key("x-session"));
        assert!(!is_secret_key("authors"));
        assert!(!is_secret_key("passenger"));
        assert!(!is_secret_key("key"));
    }
}
