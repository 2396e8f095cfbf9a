//! Built-in policy `secrets`: keeps credentials out of tool calls and tool results.
//!
//! - `check-call` denies a call whose arguments carry a credential anywhere (any string, keys included): AWS
//!   access key ids and secret keys, GitHub, GitLab, Slack (tokens and webhooks), OpenAI-style, Anthropic,
//!   Google and Stripe keys, private-key PEM blocks, JWTs, and high-entropy values assigned to secret-looking
//!   names (`password=…`, `"api_key": "…"`, `Authorization: Bearer …`). The reason names the rule and the JSON
//!   path (`arguments.headers.Authorization`), never the secret: at most its public four-character prefix
//!   (`ghp_…`), and nothing of passwords or key material.
//! - `check-result` replaces each secret in a result (every string: `content[*].text`, `structuredContent`, the
//!   rest) with `[REDACTED:<rule>]`.
//! - `check-run` allows, unless `runs = "block"`: then code (a run's, or a saved tool's) that holds a literal
//!   credential is denied.
//!
//! Built in, but off unless the bridge config enables it (`[plugins.secrets] enabled = true`).
//!
//! # Configuration
//!
//! Every key is optional; `{}` checks every server with every rule.
//!
//! ```toml
//! [plugins.secrets.config]
//! mode = "block"            # calls carrying a secret: block (deny) | ask (the user decides) | redact (let it
//!                           # through with a warning in the log: a policy cannot rewrite arguments)
//! results = "redact"        # results carrying a secret: redact | block (withhold the result) | off
//! runs = "off"              # code holding a literal secret: off (allow) | block
//! disable = ["jwt"]         # built-in rules to turn off, by name
//! servers = ["github"]      # check only calls to these servers (default: all)
//! allow = ["EXAMPLE"]       # regexes: a match of a rule that one of these finds in it is not a secret
//! patterns = [{ name = "acme-key", regex = "acme_[a-z0-9]{32}" }]  # more rules: the whole match, or its
//!                                                                  # first group, is the secret
//! ```
//!
//! The logic lives in [`rules`], [`scan`] and [`config`]; the SDK does the component glue, so it is all tested
//! natively (`cargo test -p mcp-bridge-plugin-secrets`).

#![warn(missing_docs)]

pub mod config;
pub mod rules;
pub mod scan;

use config::{CallMode, ResultMode, RunMode, Settings};
use mcp_bridge_plugin_sdk::{
    CallRequest, CallResult, Config, Decision, Plugin, Policy, ResultDecision, RunRequest, log,
    register_policy,
};
use scan::{Finding, Scanner};
use serde_json::Value;

/// The plugin's name, as the bridge config refers to it.
pub const NAME: &str = "secrets";

/// The policy: its configuration.
#[derive(Default)]
pub struct Secrets {
    settings: Settings,
}

impl Plugin for Secrets {
    fn configure(&mut self, config: &Config<'_>) -> Result<(), String> {
        self.settings = Settings::parse(&config.object()?)?;
        Ok(())
    }
}

impl Policy for Secrets {
    fn check_run(&self, run: &RunRequest) -> Decision {
        if self.settings.runs == RunMode::Off {
            return Decision::Allow;
        }
        let scanner = &self.settings.scanner;
        let Some(span) = scanner.spans(&run.code, None).into_iter().next() else {
            return Decision::Allow;
        };
        let line = run.code[..span.start].matches('\n').count() + 1;
        let rule = scanner.rule(span.rule);
        Decision::deny(format!(
            "secrets: the code holds {} on line {line} (rule {}); pass credentials through an MCP server's own \
             configuration, not in code",
            rule.label, rule.name
        ))
    }

    fn check_call(&self, call: &CallRequest) -> Decision {
        if !self.settings.covers(&call.server) {
            return Decision::Allow;
        }
        let findings = scan(&self.settings.scanner, &call.arguments, "arguments");
        let Some(first) = findings.first() else {
            return Decision::Allow;
        };
        let what = describe(&self.settings.scanner, first, findings.len());
        match self.settings.calls {
            CallMode::Block => Decision::deny(format!(
                "secrets: the call to {}.{} was blocked: {what}",
                call.server, call.tool
            )),
            CallMode::Ask => Decision::ask(format!(
                "{what}. Send this call to {}.{} anyway?",
                call.server, call.tool
            )),
            CallMode::Redact => {
                log::warn!(
                    "a call to {}.{} carries a secret and was let through (mode = \"redact\"): {what}",
                    call.server,
                    call.tool
                );
                Decision::Allow
            }
        }
    }

    fn check_result(&self, result: &CallResult) -> ResultDecision {
        let call = &result.call;
        if self.settings.results == ResultMode::Off || !self.settings.covers(&call.server) {
            return ResultDecision::Allow;
        }
        let scanner = &self.settings.scanner;
        let Ok(mut value) = serde_json::from_str::<Value>(&result.result) else {
            // Not JSON (a host bug): nothing can be replaced, so a secret withholds the whole result.
            return withheld(scanner, call, &scan(scanner, &result.result, "result"));
        };
        match self.settings.results {
            ResultMode::Block => withheld(scanner, call, &scanner.scan_json(&value, "result")),
            _ => {
                let findings = scanner.redact_json(&mut value, "result");
                let Some(first) = findings.first() else {
                    return ResultDecision::Allow;
                };
                log::info!(
                    "masked the result of {}.{}: {}",
                    call.server,
                    call.tool,
                    describe(scanner, first, findings.len())
                );
                ResultDecision::replace(&value)
            }
        }
    }
}

register_policy!(Secrets, name = NAME);

/// A deny naming the first finding, or allow when there is none.
fn withheld(scanner: &Scanner, call: &CallRequest, findings: &[Finding]) -> ResultDecision {
    match findings.first() {
        Some(first) => ResultDecision::deny(format!(
            "secrets: the result of {}.{} was withheld: {}",
            call.server,
            call.tool,
            describe(scanner, first, findings.len())
        )),
        None => ResultDecision::Allow,
    }
}

/// The findings in a JSON text under `root` (the raw text when it is not JSON, which the host never sends).
fn scan(scanner: &Scanner, json: &str, root: &str) -> Vec<Finding> {
    match serde_json::from_str::<Value>(json) {
        Ok(value) => scanner.scan_json(&value, root),
        Err(_) => scanner.scan_json(&Value::String(json.into()), root),
    }
}

/// A finding in words, never the secret: "arguments.token holds a GitHub token (rule github-token, ghp_…)",
/// plus how many more there are.
fn describe(scanner: &Scanner, finding: &Finding, total: usize) -> String {
    let rule = scanner.rule(finding.rule);
    let place = if finding.in_key {
        format!("a key of {}", finding.path)
    } else {
        finding.path.clone()
    };
    let shown = finding
        .prefix
        .as_ref()
        .map(|p| format!(", {p}…"))
        .unwrap_or_default();
    let more = match total {
        0 | 1 => String::new(),
        2 => " (and 1 more secret)".into(),
        n => format!(" (and {} more secrets)", n - 1),
    };
    format!(
        "{place} holds {} (rule {}{shown}){more}",
        rule.label, rule.name
    )
}

#[cfg(test)]
mod tests;
