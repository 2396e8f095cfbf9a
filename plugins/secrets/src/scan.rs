//! The scanner: finds secrets in text and in JSON (every string, keys included), and masks them.

use crate::rules::{self, Check};
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How a rule also looks at a JSON key and the string value under it (a `{"password": "…"}` pair has no `=` for
/// a regex to see).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// Only the rule's regex.
    None,
    /// Under a key like `aws_secret_access_key`, a 40-character base64 value.
    AwsSecret,
    /// Under a secret-looking key, a high-entropy value (after an auth scheme such as `Bearer `).
    SecretName,
}

/// One rule, built in or the user's.
pub struct Rule {
    /// Its name.
    pub name: String,
    /// What it finds, for reasons.
    pub label: String,
    pub(crate) regex: Regex,
    pub(crate) group: usize,
    pub(crate) check: Check,
    pub(crate) key: KeyCheck,
    pub(crate) show_prefix: bool,
}

impl Rule {
    /// A built-in rule (its regex is known to compile; `Err` would be a bug, reported rather than a panic).
    pub fn builtin(b: &rules::Builtin) -> Result<Rule, String> {
        let regex = Regex::new(b.pattern)
            .map_err(|e| format!("built-in rule {} does not compile: {e}", b.name))?;
        Ok(Rule {
            name: b.name.into(),
            label: b.label.into(),
            regex,
            group: b.group,
            check: b.check,
            key: match b.name {
                "aws-secret-access-key" => KeyCheck::AwsSecret,
                "secret-assignment" => KeyCheck::SecretName,
                _ => KeyCheck::None,
            },
            show_prefix: b.show_prefix,
        })
    }

    /// A user's pattern: the whole match is the secret, or its first capture group when it has one.
    pub fn custom(name: &str, regex: Regex) -> Rule {
        let group = usize::from(regex.captures_len() > 1);
        Rule {
            name: name.into(),
            label: format!("a match of the pattern `{name}`"),
            regex,
            group,
            check: Check::None,
            key: KeyCheck::None,
            show_prefix: false,
        }
    }
}

/// Where a secret is in a text, and which rule found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offsets of the secret.
    pub start: usize,
    /// See `start`.
    pub end: usize,
    /// The rule's index in the scanner.
    pub rule: usize,
}

/// A secret found in JSON: the rule, where, and what a reason may show of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's index in the scanner.
    pub rule: usize,
    /// The JSON path of the string, e.g. `arguments.headers.Authorization`.
    pub path: String,
    /// The secret is in a key of the object at `path`, not in a value.
    pub in_key: bool,
    /// The secret's first four characters, for rules whose prefix is public (`ghp_`).
    pub prefix: Option<String>,
}

/// The enabled rules, in priority order, and the values that are never secrets.
pub struct Scanner {
    rules: Vec<Rule>,
    allow: Vec<Regex>,
}

impl Scanner {
    /// A scanner with these rules (earlier ones win overlaps) and allow-list.
    pub fn new(rules: Vec<Rule>, allow: Vec<Regex>) -> Self {
        Scanner { rules, allow }
    }

    /// The rule at `index`.
    pub fn rule(&self, index: usize) -> &Rule {
        &self.rules[index]
    }

    /// The rules' names, in order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    /// The secrets in `text`, in text order, without overlaps (the earlier rule wins). `key` is the JSON key
    /// whose value `text` is, when it is one.
    pub fn spans(&self, text: &str, key: Option<&str>) -> Vec<Span> {
        let mut candidates = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            self.rule_candidates(index, rule, text, key, &mut candidates);
        }
        // `candidates` is in rule order: accept each that overlaps nothing accepted before it. Accepted spans never
        // overlap, so only the nearest one on each side can; a map keeps this O(n log n) on hostile output full
        // of candidates.
        let mut accepted: BTreeMap<usize, Span> = BTreeMap::new();
        for c in candidates {
            let before = accepted.range(..=c.start).next_back();
            let after = accepted.range(c.start..).next();
            let clashes = before.is_some_and(|(_, a)| a.end > c.start)
                || after.is_some_and(|(_, a)| a.start < c.end);
            if !clashes {
                accepted.insert(c.start, c);
            }
        }
        accepted.into_values().collect()
    }

    fn rule_candidates(
        &self,
        index: usize,
        rule: &Rule,
        text: &str,
        key: Option<&str>,
        out: &mut Vec<Span>,
    ) {
        let mut push = |start: usize, end: usize| {
            let secret = &text[start..end];
            if start < end && !self.allow.iter().any(|a| a.is_match(secret)) {
                out.push(Span {
                    start,
                    end,
                    rule: index,
                });
            }
        };
        if let Some(key) = key {
            match rule.key {
                KeyCheck::None => {}
                KeyCheck::AwsSecret => {
                    let joined = rules::words(key).concat();
                    let value = text.trim();
                    if (joined == "awssecretaccesskey" || joined == "awssecretkey")
                        && value.len() == 40
                        && value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "/+=".contains(c))
                    {
                        let start = text.len() - text.trim_start().len();
                        push(start, start + value.len());
                    }
                }
                KeyCheck::SecretName => {
                    let lead = text.len() - text.trim_start().len();
                    let (offset, credential) = rules::strip_scheme(text.trim());
                    if rules::secret_name(key)
                        && !credential.contains(char::is_whitespace)
                        && rules::high_entropy(credential)
                    {
                        let start = lead + offset;
                        push(start, start + credential.len());
                    }
                }
            }
        }
        for caps in rule.regex.captures_iter(text) {
            let Some(m) = caps.get(rule.group) else {
                continue;
            };
            let ok = match rule.check {
                Check::None => true,
                Check::Mixed => rules::mixed(m.as_str()),
                Check::Assignment => {
                    caps.get(1)
                        .is_some_and(|name| rules::secret_name(name.as_str()))
                        && rules::high_entropy(m.as_str())
                }
            };
            if ok {
                push(m.start(), m.end());
            }
        }
    }

    /// `text` with every secret replaced by `[REDACTED:<rule>]`, and the spans replaced; `None` when it has none.
    pub fn redact(&self, text: &str, key: Option<&str>) -> Option<(String, Vec<Span>)> {
        let spans = self.spans(text, key);
        if spans.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for s in &spans {
            out.push_str(&text[at..s.start]);
            out.push_str(&format!("[REDACTED:{}]", self.rules[s.rule].name));
            at = s.end;
        }
        out.push_str(&text[at..]);
        Some((out, spans))
    }

    /// What a reason may show of a secret: its first four characters, for a rule whose prefix is public and a
    /// secret long enough that four characters give nothing away.
    fn prefix(&self, span: &Span, text: &str) -> Option<String> {
        let secret = &text[span.start..span.end];
        (self.rules[span.rule].show_prefix && secret.chars().count() >= 12)
            .then(|| secret.chars().take(4).collect())
    }

    /// Every secret in `value` (strings and keys), with its path under `path`.
    pub fn scan_json(&self, value: &Value, path: &str) -> Vec<Finding> {
        let mut findings = Vec::new();
        self.scan_value(value, None, path, &mut findings);
        findings
    }

    fn scan_value(&self, value: &Value, key: Option<&str>, path: &str, out: &mut Vec<Finding>) {
        match value {
            Value::String(text) => {
                for span in self.spans(text, key) {
                    out.push(Finding {
                        rule: span.rule,
                        path: path.into(),
                        in_key: false,
                        prefix: self.prefix(&span, text),
                    });
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.scan_value(item, None, &format!("{path}[{i}]"), out);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let key_spans = self.spans(k, None);
                    for span in &key_spans {
                        out.push(Finding {
                            rule: span.rule,
                            path: path.into(),
                            in_key: true,
                            prefix: self.prefix(span, k),
                        });
                    }
                    let child = format!("{path}{}", self.path_step(k, &key_spans));
                    self.scan_value(item, Some(k), &child, out);
                }
            }
            _ => {}
        }
    }

    /// Masks every secret in `value` in place (keys included) and returns what it masked.
    pub fn redact_json(&self, value: &mut Value, path: &str) -> Vec<Finding> {
        let mut findings = Vec::new();
        self.redact_value(value, None, path, &mut findings);
        findings
    }

    fn redact_value(
        &self,
        value: &mut Value,
        key: Option<&str>,
        path: &str,
        out: &mut Vec<Finding>,
    ) {
        match value {
            Value::String(text) => {
                if let Some((masked, spans)) = self.redact(text, key) {
                    for span in &spans {
                        out.push(Finding {
                            rule: span.rule,
                            path: path.into(),
                            in_key: false,
                            prefix: self.prefix(span, text),
                        });
                    }
                    *text = masked;
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.redact_value(item, None, &format!("{path}[{i}]"), out);
                }
            }
            Value::Object(map) => {
                let mut masked_map = Map::new();
                for (k, mut item) in std::mem::take(map) {
                    let key_spans = self.spans(&k, None);
                    let child = format!("{path}{}", self.path_step(&k, &key_spans));
                    self.redact_value(&mut item, Some(&k), &child, out);
                    let mut new_key = k.clone();
                    if let Some((masked, spans)) = self.redact(&k, None) {
                        for span in &spans {
                            out.push(Finding {
                                rule: span.rule,
                                path: path.into(),
                                in_key: true,
                                prefix: self.prefix(span, &k),
                            });
                        }
                        new_key = masked;
                    }
                    // Two keys masked alike must not overwrite each other.
                    let mut unique = new_key.clone();
                    let mut n = 2;
                    while masked_map.contains_key(&unique) {
                        unique = format!("{new_key} ({n})");
                        n += 1;
                    }
                    masked_map.insert(unique, item);
                }
                *map = masked_map;
            }
            _ => {}
        }
    }

    /// One step of a JSON path: `.key` for a plain key, `["odd key"]` otherwise, and `[REDACTED:<rule>]` for a
    /// key that holds a secret (a path must never carry one).
    fn path_step(&self, key: &str, key_spans: &[Span]) -> String {
        if let Some(span) = key_spans.first() {
            return format!("[REDACTED:{}]", self.rules[span.rule].name);
        }
        let plain = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if plain {
            format!(".{key}")
        } else {
            format!("[{}]", Value::String(key.into()))
        }
    }
}
