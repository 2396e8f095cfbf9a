//! A plugin's configuration: the JSON object `configure` receives, and helpers to check it strictly (an unknown
//! key is refused by name, so a typo never silently does nothing).

use serde_json::{Map, Value};
use std::fmt;

/// The three kinds of plugin, one per WIT world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `policy-plugin`.
    Policy,
    /// `encoder-plugin`.
    Encoder,
    /// `discovery-plugin`.
    Discovery,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Policy => "policy",
            Kind::Encoder => "encoder",
            Kind::Discovery => "discovery source",
        })
    }
}

/// The configuration handed to [`crate::Plugin::configure`]: the plugin's `config` table of the bridge config
/// file as a JSON object text (`{}` when there is none), and who it is for (so messages can name the plugin).
#[derive(Debug, Clone, Copy)]
pub struct Config<'a> {
    kind: Kind,
    plugin: &'a str,
    json: &'a str,
}

impl<'a> Config<'a> {
    /// A configuration for the plugin `plugin` of kind `kind`. The register macros build it; tests can too.
    pub fn new(kind: Kind, plugin: &'a str, json: &'a str) -> Self {
        Config { kind, plugin, json }
    }

    /// The JSON text, as the bridge sent it.
    pub fn json(&self) -> &'a str {
        self.json
    }

    /// The plugin's name (its metadata name).
    pub fn plugin(&self) -> &'a str {
        self.plugin
    }

    /// The plugin's kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The configuration parsed as a JSON object; `Err` when it is not JSON or not an object.
    pub fn object(&self) -> Result<Map<String, Value>, String> {
        let value: Value = serde_json::from_str(self.json)
            .map_err(|e| format!("configuration is not JSON: {e}"))?;
        match value {
            Value::Object(map) => Ok(map),
            _ => Err("configuration must be a JSON object".into()),
        }
    }

    /// Accepts `{}` only; anything else is refused with a message naming the plugin and the keys it got, e.g.
    /// ``encoder `compact` takes no configuration, unknown key(s): `color`, `indent` ``.
    pub fn expect_empty(&self) -> Result<(), String> {
        let map = self.object()?;
        if map.is_empty() {
            return Ok(());
        }
        let mut keys: Vec<String> = map.keys().map(|key| format!("`{key}`")).collect();
        keys.sort();
        Err(format!(
            "{} `{}` takes no configuration, unknown key(s): {}",
            self.kind,
            self.plugin,
            keys.join(", ")
        ))
    }
}

/// Refuses the keys of `map` that are not in `known`, naming them (sorted) and the keys that are: e.g.
/// `rules[1]: unknown key "tools" (expected one of: server, tool, action)`. `path` says where the object is in
/// the configuration (empty at the top).
pub fn check_keys(map: &Map<String, Value>, known: &[&str], path: &str) -> Result<(), String> {
    let mut unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|key| !known.contains(key))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    let at = if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    };
    let noun = if unknown.len() == 1 { "key" } else { "keys" };
    // Named as `show` names values: a message stays short however long or many the keys (fuzzing found a
    // 5,000-character key repeated whole).
    let mut names: Vec<String> = unknown
        .iter()
        .take(MAX_KEYS_NAMED)
        .map(|key| show(&Value::String((*key).to_string())))
        .collect();
    if unknown.len() > MAX_KEYS_NAMED {
        names.push(format!("and {} more", unknown.len() - MAX_KEYS_NAMED));
    }
    Err(format!(
        "{at}unknown {noun} {} (expected one of: {})",
        names.join(", "),
        known.join(", ")
    ))
}

/// Unknown keys named in one message; the rest are counted.
const MAX_KEYS_NAMED: usize = 5;

/// A value as it appears in an error message: its JSON text, cut short when long.
pub fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(57).collect::<String>())
    } else {
        text
    }
}
