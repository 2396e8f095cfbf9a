//! The configuration: parsed and checked strictly from the JSON `configure` receives.

use crate::rules::BUILTINS;
use crate::scan::{Rule, Scanner};
use mcp_bridge_plugin_sdk::config::{check_keys, show};
use regex::Regex;
use serde_json::{Map, Value};

/// What `check-call` does with arguments that carry a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallMode {
    /// Deny the call (the default).
    Block,
    /// Ask the user whether to send it anyway.
    Ask,
    /// Let it through, with a warning in the bridge's log (a policy cannot rewrite arguments); results are
    /// still masked by `results`.
    Redact,
}

/// What `check-result` does with a result that carries a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultMode {
    /// Replace each secret with `[REDACTED:<rule>]` (the default).
    Redact,
    /// Withhold the whole result.
    Block,
    /// Leave results alone.
    Off,
}

/// What `check-run` does with code that carries a literal secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Allow every run (the default).
    Off,
    /// Deny a run (or a saved tool) whose code holds a secret.
    Block,
}

/// A whole, checked configuration.
pub struct Settings {
    /// `mode`.
    pub calls: CallMode,
    /// `results`.
    pub results: ResultMode,
    /// `runs`.
    pub runs: RunMode,
    /// `servers`: the servers whose calls and results are checked (empty: all).
    pub servers: Vec<String>,
    /// The enabled rules and the allow-list.
    pub scanner: Scanner,
}

const KEYS: &[&str] = &[
    "mode", "results", "runs", "disable", "patterns", "servers", "allow",
];
const PATTERN_KEYS: &[&str] = &["name", "regex"];

impl Default for Settings {
    /// The configuration of `{}`: every built-in rule, calls blocked, results masked.
    fn default() -> Self {
        Settings {
            calls: CallMode::Block,
            results: ResultMode::Redact,
            runs: RunMode::Off,
            servers: Vec::new(),
            scanner: Scanner::new(Vec::new(), Vec::new()),
        }
    }
}

impl Settings {
    /// Parses and checks a configuration; the error says which key is wrong and why.
    pub fn parse(top: &Map<String, Value>) -> Result<Settings, String> {
        check_keys(top, KEYS, "")?;
        let mut settings = Settings::default();
        if let Some(v) = top.get("mode") {
            settings.calls = match one_of(v, "mode", &["block", "ask", "redact"])? {
                "ask" => CallMode::Ask,
                "redact" => CallMode::Redact,
                _ => CallMode::Block,
            };
        }
        if let Some(v) = top.get("results") {
            settings.results = match one_of(v, "results", &["redact", "block", "off"])? {
                "block" => ResultMode::Block,
                "off" => ResultMode::Off,
                _ => ResultMode::Redact,
            };
        }
        if let Some(v) = top.get("runs") {
            settings.runs = match one_of(v, "runs", &["off", "block"])? {
                "block" => RunMode::Block,
                _ => RunMode::Off,
            };
        }
        if let Some(v) = top.get("servers") {
            settings.servers = strings(v, "servers")?;
        }
        let disabled = match top.get("disable") {
            Some(v) => strings(v, "disable")?,
            None => Vec::new(),
        };
        for name in &disabled {
            if !BUILTINS.iter().any(|b| b.name == name) {
                let known: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
                return Err(format!(
                    "disable: there is no built-in rule {name:?} (the rules: {})",
                    known.join(", ")
                ));
            }
        }
        let mut rules = Vec::new();
        for b in BUILTINS
            .iter()
            .filter(|b| !disabled.iter().any(|d| d == b.name))
        {
            rules.push(Rule::builtin(b)?);
        }
        if let Some(v) = top.get("patterns") {
            let Value::Array(items) = v else {
                return Err(format!(
                    "patterns: expected a list of {{ name, regex }} tables, got {}",
                    show(v)
                ));
            };
            for (i, item) in items.iter().enumerate() {
                let rule = pattern(item, &format!("patterns[{i}]"))?;
                if BUILTINS.iter().any(|b| b.name == rule.name)
                    || rules.iter().any(|r| r.name == rule.name)
                {
                    return Err(format!(
                        "patterns[{i}]: the name {:?} is taken (by a built-in rule or an earlier pattern)",
                        rule.name
                    ));
                }
                rules.push(rule);
            }
        }
        let mut allow = Vec::new();
        if let Some(v) = top.get("allow") {
            for (i, text) in strings(v, "allow")?.iter().enumerate() {
                allow.push(
                    Regex::new(text)
                        .map_err(|e| format!("allow[{i}]: the regex does not compile: {e}"))?,
                );
            }
        }
        settings.scanner = Scanner::new(rules, allow);
        Ok(settings)
    }

    /// Whether calls to `server` (and their results) are checked.
    pub fn covers(&self, server: &str) -> bool {
        self.servers.is_empty() || self.servers.iter().any(|s| s == server)
    }
}

/// One entry of `patterns`.
fn pattern(v: &Value, path: &str) -> Result<Rule, String> {
    let Value::Object(map) = v else {
        return Err(format!(
            "{path}: expected a {{ name, regex }} table, got {}",
            show(v)
        ));
    };
    check_keys(map, PATTERN_KEYS, path)?;
    let name = match map.get("name") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(format!(
                "{path}.name: expected a string, got {}",
                show(other)
            ));
        }
        None => return Err(format!("{path}: `name` is required")),
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(format!(
            "{path}.name: {name:?} is not a rule name (lower-case letters, digits and dashes)"
        ));
    }
    let regex = match map.get("regex") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(format!(
                "{path}.regex ({name}): expected a string, got {}",
                show(other)
            ));
        }
        None => return Err(format!("{path} ({name}): `regex` is required")),
    };
    if regex.is_empty() {
        return Err(format!("{path}.regex ({name}): the regex is empty"));
    }
    let regex = Regex::new(regex)
        .map_err(|e| format!("{path}.regex ({name}): the regex does not compile: {e}"))?;
    Ok(Rule::custom(name, regex))
}

/// A string that must be one of `allowed`.
fn one_of<'a>(v: &'a Value, path: &str, allowed: &[&str]) -> Result<&'a str, String> {
    match v {
        Value::String(s) if allowed.contains(&s.as_str()) => Ok(s),
        other => Err(format!(
            "{path}: expected {}, got {}",
            allowed.join(" or "),
            show(other)
        )),
    }
}

/// A list of strings.
fn strings(v: &Value, path: &str) -> Result<Vec<String>, String> {
    let Value::Array(items) = v else {
        return Err(format!(
            "{path}: expected a list of strings, got {}",
            show(v)
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!(
                "{path}[{i}]: expected a string, got {}",
                show(other)
            )),
        })
        .collect()
}
