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
    fn deny_beats_ask_beats_allow_and_the_first_stays() {
        assert_eq!(Verdict::Allow.and(Verdict::Allow), Verdict::Allow);
        assert_eq!(Verdict::Allow.and(ask("a")), ask("a"));
        assert_eq!(ask("a").and(deny("b")), deny("b"));
        assert_eq!(deny("a").and(ask("b")), deny("a"));
        assert_eq!(deny("a").and(deny("b")), deny("a"));
        assert_eq!(ask("a").and(ask("b")), ask("a"));
    }
}
