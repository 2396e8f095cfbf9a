//! From the policies' verdict to go or refusal, for runs and tool calls alike: an `ask` is put to the user
//! through the [`Asker`] (MCP elicitation) and only an explicit acceptance goes ahead.

use futures::future::BoxFuture;

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
