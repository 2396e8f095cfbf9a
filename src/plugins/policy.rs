//! Composing policy decisions, failing closed: every enabled policy is asked; any deny wins, then any ask,
//! else allow. A policy that traps, overruns its deadline or its memory cap counts as a deny that names it.

/// The combined answer of the enabled policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nobody objected.
    Allow,
    /// Refused.
    Deny {
        /// The policy that refused (the first, in plugin order).
        plugin: String,
        /// Its reason (or why it failed).
        reason: String,
    },
    /// The user must be asked.
    Ask {
        /// The policy that asks.
        plugin: String,
        /// Its question.
        prompt: String,
    },
}

impl Verdict {
    /// Folds one more policy's answer in: deny beats ask beats allow; among equals the first one stays.
    pub fn and(self, other: Verdict) -> Verdict {
        match (&self, &other) {
            (Verdict::Deny { .. }, _) => self,
            (_, Verdict::Deny { .. }) => other,
            (Verdict::Ask { .. }, _) => self,
            (_, Verdict::Ask { .. }) => other,
            _ => Verdict::Allow,
        }
    }

    /// The message a model sees for a refusal.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Allow => "allowed".into(),
            Verdict::Deny { plugin, reason } => format!("denied by policy '{plugin}': {reason}"),
            Verdict::Ask { plugin, prompt } => format!("policy '{plugin}' asks: {prompt}"),
        }
    }
}

/// The combined answer of the enabled policies' `check-result` on one tool result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultVerdict {
    /// Unchanged.
    Allow,
    /// Withheld.
    Deny {
        /// The policy that withheld it.
        plugin: String,
        /// Its reason (or why it failed).
        reason: String,
    },
    /// Replaced (e.g. with secrets masked).
    Replaced {
        /// The policies that changed it, in order.
        plugins: Vec<String>,
        /// The result to hand back: a `CallToolResult` JSON text.
        result: String,
    },
}

impl ResultVerdict {
    /// The message a model sees for a withheld result.
    pub fn describe(&self) -> String {
        match self {
            ResultVerdict::Allow => "allowed".into(),
            ResultVerdict::Deny { plugin, reason } => {
                format!("result withheld by policy '{plugin}': {reason}")
            }
            ResultVerdict::Replaced { plugins, .. } => {
                format!("result changed by policy '{}'", plugins.join("', '"))
            }
        }
    }
}

/// Whether a policy's replacement is a `CallToolResult` the bridge can hand back; the error says what is
/// wrong with it (never echoing it: it may hold what the policy meant to hide).
pub fn valid_result(result: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(result).map_err(|e| format!("not JSON: {e}"))?;
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    serde_json::from_value::<rmcp::model::CallToolResult>(value)
        .map(|_| ())
        .map_err(|e| format!("not a CallToolResult: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deny(p: &str) -> Verdict {
        Verdict::Deny {
            plugin: p.into(),
            reason: "no".into(),
        }
    }

    fn ask(p: &str) -> Verdict {
        Verdict::Ask {
            plugin: p.into(),
            prompt: "ok?".into(),
        }
    }

    #[test]
    fn replacements_must_be_call_tool_results() {
        assert!(valid_result(r#"{"content":[{"type":"text","text":"[REDACTED]"}]}"#).is_ok());
        assert!(valid_result(r#"{"content":[],"isError":true}"#).is_ok());
        assert!(
            valid_result("[1]")
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(valid_result("nope").unwrap_err().starts_with("not JSON"));
        assert!(
            valid_result(r#"{"content":"text"}"#)
                .unwrap_err()
                .starts_with("not a CallToolResult")
        );
    }

    #[test]
    fn deny_beats_ask_beats_allow_and_the_first_stays() {
        assert_eq!(Verdict::Allow.and(Verdict::Allow), Verdict::Allow);
        assert_eq!(Verdict::Allow.and(ask("a")), ask("a"));
        assert_eq!(ask("a").and(deny("b")), deny("b"));
        assert_eq!(deny("a").and(ask("b")), deny("a"));
        assert_eq!(deny("a").and(deny("b")), deny("a"));
        assert_eq!(ask("a").and(ask("b")), ask("a"));
    }
}
