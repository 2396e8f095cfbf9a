//! The `rules` policy itself, free of any WebAssembly binding so that it is tested natively: the
//! configuration (parsed and strictly checked from JSON) and the two decisions.

use crate::glob::Glob;
use mcp_bridge_plugin_sdk::config::{check_keys, show};
use serde_json::{Map, Value};

/// What a rule, the default or a run limit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
    Ask,
}

pub use mcp_bridge_plugin_sdk::{Annotations, Decision};

/// The parts of a tool call that rules look at.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub server: &'a str,
    pub tool: &'a str,
    pub annotations: Annotations,
}

/// The parts of a run that the `run` section looks at.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub code: &'a str,
    pub servers: &'a [String],
    pub timeout_seconds: u32,
}

/// One entry of `rules`: every condition given must hold for it to match.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Any of these matches the server's name (`["*"]` when not given).
    pub server: Vec<Glob>,
    /// Any of these matches the tool's name (`["*"]` when not given).
    pub tool: Vec<Glob>,
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: Option<bool>,
    pub action: Action,
    pub reason: Option<String>,
}

/// The `run` section.
#[derive(Debug, Clone)]
pub struct RunLimits {
    pub max_timeout: Option<u32>,
    pub deny_servers: Vec<Glob>,
    pub deny_code_contains: Vec<String>,
    /// What a run that breaks a limit gets: `Deny` (the default) or `Ask`.
    pub action: Action,
}

/// A whole, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub default: Action,
    pub default_reason: Option<String>,
    pub rules: Vec<Rule>,
    pub run: RunLimits,
}

impl Default for Config {
    /// The configuration of `{}`: every run and every call allowed.
    fn default() -> Self {
        Config {
            default: Action::Allow,
            default_reason: None,
            rules: Vec::new(),
            run: RunLimits {
                max_timeout: None,
                deny_servers: Vec::new(),
                deny_code_contains: Vec::new(),
                action: Action::Deny,
            },
        }
    }
}

const TOP_KEYS: &[&str] = &["default", "default_reason", "rules", "run"];
const RULE_KEYS: &[&str] = &[
    "server",
    "tool",
    "read_only",
    "destructive",
    "idempotent",
    "open_world",
    "action",
    "reason",
];
const RUN_KEYS: &[&str] = &[
    "max_timeout",
    "deny_servers",
    "deny_code_contains",
    "action",
];

impl Config {
    /// Parses and checks a configuration. The error names the offending path, e.g.
    /// `rules[2].action: expected allow, deny or ask, got "block"`.
    pub fn parse(json: &str) -> Result<Config, String> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| format!("the configuration is not valid JSON: {e}"))?;
        let top = expect_object(&value, "configuration")?;
        check_keys(top, TOP_KEYS, "")?;
        let mut config = Config::default();
        if let Some(v) = top.get("default") {
            config.default = parse_action(v, "default", true)?;
        }
        if let Some(v) = top.get("default_reason") {
            config.default_reason = Some(parse_reason(v, "default_reason")?);
            if config.default == Action::Allow {
                return Err("default_reason: only a default of deny or ask uses a reason".into());
            }
        }
        if let Some(v) = top.get("rules") {
            let Value::Array(items) = v else {
                return Err(format!("rules: expected a list of rules, got {}", show(v)));
            };
            for (i, item) in items.iter().enumerate() {
                config.rules.push(parse_rule(item, &format!("rules[{i}]"))?);
            }
        }
        if let Some(v) = top.get("run") {
            config.run = parse_run(v)?;
        }
        Ok(config)
    }

    /// The decision for a tool call: the first rule that matches, else the default.
    pub fn check_call(&self, call: &Call) -> Decision {
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.matches(call) {
                let fallback = match rule.action {
                    Action::Allow => String::new(),
                    Action::Deny => format!(
                        "the rules policy denies tool {} on server {} (rule {})",
                        call.tool,
                        call.server,
                        i + 1
                    ),
                    Action::Ask => format!("Allow tool {} on server {}?", call.tool, call.server),
                };
                return decide(rule.action, rule.reason.as_deref(), fallback, call);
            }
        }
        let fallback = match self.default {
            Action::Allow => String::new(),
            Action::Deny => format!(
                "the rules policy denies tool {} on server {}: no rule allows it",
                call.tool, call.server
            ),
            Action::Ask => format!(
                "Allow tool {} on server {}? (no rule covers it)",
                call.tool, call.server
            ),
        };
        decide(self.default, self.default_reason.as_deref(), fallback, call)
    }

    /// The decision for a run: allowed unless it breaks a limit of the `run` section.
    pub fn check_run(&self, run: &Run) -> Decision {
        let limits = &self.run;
        let mut broken = None;
        if let Some(max) = limits.max_timeout
            && run.timeout_seconds > max
        {
            broken = Some(format!(
                "the run asks for a {} s timeout, more than the {} s the rules policy allows",
                run.timeout_seconds, max
            ));
        }
        if broken.is_none() {
            'servers: for server in run.servers {
                for glob in &limits.deny_servers {
                    if glob.matches(server) {
                        broken = Some(format!(
                            "the run requests server {server}, which the rules policy forbids to runs (run.deny_servers: {glob:?})",
                            glob = glob.to_string()
                        ));
                        break 'servers;
                    }
                }
            }
        }
        if broken.is_none()
            && let Some(needle) = limits
                .deny_code_contains
                .iter()
                .find(|n| run.code.contains(n.as_str()))
        {
            broken = Some(format!(
                "the code contains {needle:?}, which the rules policy forbids (run.deny_code_contains)"
            ));
        }
        match (broken, limits.action) {
            (None, _) => Decision::Allow,
            (Some(why), Action::Ask) => Decision::Ask(format!("{why}. Start the run anyway?")),
            (Some(why), _) => Decision::Deny(why),
        }
    }
}

impl Rule {
    fn matches(&self, call: &Call) -> bool {
        let a = &call.annotations;
        self.server.iter().any(|g| g.matches(call.server))
            && self.tool.iter().any(|g| g.matches(call.tool))
            && hint_matches(self.read_only, a.read_only)
            && hint_matches(self.destructive, a.destructive)
            && hint_matches(self.idempotent, a.idempotent)
            && hint_matches(self.open_world, a.open_world)
    }
}

/// A condition on a hint holds only when the tool declares that hint with the wanted value: a hint the
/// tool leaves out matches neither `true` nor `false`.
fn hint_matches(wanted: Option<bool>, declared: Option<bool>) -> bool {
    match wanted {
        None => true,
        Some(w) => declared == Some(w),
    }
}

fn decide(action: Action, reason: Option<&str>, fallback: String, call: &Call) -> Decision {
    let text = || match reason {
        Some(r) => r
            .replace("{server}", call.server)
            .replace("{tool}", call.tool),
        None => fallback.clone(),
    };
    match action {
        Action::Allow => Decision::Allow,
        Action::Deny => Decision::Deny(text()),
        Action::Ask => Decision::Ask(text()),
    }
}

fn parse_rule(v: &Value, path: &str) -> Result<Rule, String> {
    let map = expect_object(v, path)?;
    check_keys(map, RULE_KEYS, path)?;
    let globs = |key: &str| -> Result<Vec<Glob>, String> {
        match map.get(key) {
            None => Ok(vec![Glob::new("*").expect("* is a valid glob")]),
            Some(v) => parse_globs(v, &format!("{path}.{key}")),
        }
    };
    let hint = |key: &str| -> Result<Option<bool>, String> {
        match map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(format!(
                "{path}.{key}: expected true or false, got {}",
                show(other)
            )),
        }
    };
    let action = match map.get("action") {
        Some(v) => parse_action(v, &format!("{path}.action"), true)?,
        None => return Err(format!("{path}: missing \"action\" (allow, deny or ask)")),
    };
    let reason = match map.get("reason") {
        None => None,
        Some(v) => Some(parse_reason(v, &format!("{path}.reason"))?),
    };
    if reason.is_some() && action == Action::Allow {
        return Err(format!(
            "{path}.reason: only deny and ask rules use a reason"
        ));
    }
    Ok(Rule {
        server: globs("server")?,
        tool: globs("tool")?,
        read_only: hint("read_only")?,
        destructive: hint("destructive")?,
        idempotent: hint("idempotent")?,
        open_world: hint("open_world")?,
        action,
        reason,
    })
}

fn parse_run(v: &Value) -> Result<RunLimits, String> {
    let map = expect_object(v, "run")?;
    check_keys(map, RUN_KEYS, "run")?;
    let mut limits = Config::default().run;
    if let Some(v) = map.get("max_timeout") {
        limits.max_timeout = Some(match v.as_u64() {
            Some(n) if n >= 1 && n <= u64::from(u32::MAX) => n as u32,
            _ => {
                return Err(format!(
                    "run.max_timeout: expected a whole number of seconds, at least 1, got {}",
                    show(v)
                ));
            }
        });
    }
    if let Some(v) = map.get("deny_servers") {
        let Value::Array(items) = v else {
            return Err(format!(
                "run.deny_servers: expected a list of globs, got {}",
                show(v)
            ));
        };
        for (i, item) in items.iter().enumerate() {
            limits
                .deny_servers
                .push(parse_glob(item, &format!("run.deny_servers[{i}]"))?);
        }
    }
    if let Some(v) = map.get("deny_code_contains") {
        let Value::Array(items) = v else {
            return Err(format!(
                "run.deny_code_contains: expected a list of strings, got {}",
                show(v)
            ));
        };
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) if !s.is_empty() => limits.deny_code_contains.push(s.clone()),
                Value::String(_) => {
                    return Err(format!(
                        "run.deny_code_contains[{i}]: empty string (it would match every run)"
                    ));
                }
                other => {
                    return Err(format!(
                        "run.deny_code_contains[{i}]: expected a string, got {}",
                        show(other)
                    ));
                }
            }
        }
    }
    if let Some(v) = map.get("action") {
        limits.action = match parse_action(v, "run.action", false)? {
            Action::Allow => unreachable!("parse_action refuses allow here"),
            a => a,
        };
    }
    Ok(limits)
}

fn parse_action(v: &Value, path: &str, allow_ok: bool) -> Result<Action, String> {
    let expected = if allow_ok {
        "allow, deny or ask"
    } else {
        "deny or ask"
    };
    match v.as_str() {
        Some("allow") if allow_ok => Ok(Action::Allow),
        Some("deny") => Ok(Action::Deny),
        Some("ask") => Ok(Action::Ask),
        _ => Err(format!("{path}: expected {expected}, got {}", show(v))),
    }
}

fn parse_reason(v: &Value, path: &str) -> Result<String, String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        Value::String(_) => Err(format!(
            "{path}: empty text (leave it out to get the default text)"
        )),
        other => Err(format!("{path}: expected a string, got {}", show(other))),
    }
}

/// A glob, or a non-empty list of globs (any of which may match).
fn parse_globs(v: &Value, path: &str) -> Result<Vec<Glob>, String> {
    match v {
        Value::String(_) => Ok(vec![parse_glob(v, path)?]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_glob(item, &format!("{path}[{i}]")))
            .collect(),
        Value::Array(_) => Err(format!("{path}: empty list (it would match nothing)")),
        other => Err(format!(
            "{path}: expected a glob or a list of globs, got {}",
            show(other)
        )),
    }
}

fn parse_glob(v: &Value, path: &str) -> Result<Glob, String> {
    match v {
        Value::String(s) => Glob::new(s).map_err(|e| format!("{path}: {e}")),
        other => Err(format!(
            "{path}: expected a glob (a string), got {}",
            show(other)
        )),
    }
}

fn expect_object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    match v {
        Value::Object(map) => Ok(map),
        other => Err(format!(
            "{path}: expected a table (a JSON object), got {}",
            show(other)
        )),
    }
}
