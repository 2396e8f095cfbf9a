//! {{name}}: an mcp-bridge discovery source (world `discovery-plugin` of `wit/plugin.wit`, API 0.2.0), on the
//! Rust plugin SDK.
//!
//! Reads the project's `mcp-servers.json`: `{"mcpServers": {"NAME": {"command": …, "args": […], "env": {…}}` or
//! `{"url": …}}}`. The host reads the file for the plugin (a plugin has no file system) and hands it to `parse`.

use mcp_bridge_plugin_sdk::{
    Base, Discovery, FilePattern, Plugin, ServerEntry, SourceFile, register_discovery,
};
use serde_json::{Map, Value};

#[derive(Default)]
struct MyDiscovery;

/// No settings: the SDK's default `configure` accepts only `{}`.
impl Plugin for MyDiscovery {}

impl Discovery for MyDiscovery {
    fn wanted_files(&self) -> Vec<FilePattern> {
        vec![FilePattern::new(Base::Cwd, "mcp-servers.json")]
    }

    /// `Err` makes the host skip the file with a warning naming it.
    fn parse(&self, file: &SourceFile) -> Result<Vec<ServerEntry>, String> {
        let value: Value = serde_json::from_str(&file.contents)
            .map_err(|e| format!("{} is not JSON: {e}", file.path))?;
        let servers = match value.get("mcpServers") {
            None => return Ok(Vec::new()),
            Some(Value::Object(servers)) => servers,
            Some(_) => return Err(format!("{}: \"mcpServers\" must be an object", file.path)),
        };
        servers
            .iter()
            .map(|(name, entry)| match entry {
                Value::Object(entry) => Ok(server(name, entry)),
                _ => Err(format!("{}: server \"{name}\" must be an object", file.path)),
            })
            .collect()
    }
}

fn server(name: &str, entry: &Map<String, Value>) -> ServerEntry {
    let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_string);
    let strings = |value: Option<&Value>| -> Vec<String> {
        value
            .and_then(Value::as_array)
            .map(|items| items.iter().map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_string)).collect())
            .unwrap_or_default()
    };
    let env = entry
        .get("env")
        .and_then(Value::as_object)
        .map(|env| {
            env.iter()
                .map(|(key, value)| (key.clone(), value.as_str().map_or_else(|| value.to_string(), str::to_string)))
                .collect()
        })
        .unwrap_or_default();
    ServerEntry {
        name: name.to_string(),
        command: text("command"),
        args: strings(entry.get("args")),
        env,
        url: text("url"),
        transport: text("type"),
        disabled: entry.get("disabled").and_then(Value::as_bool).unwrap_or(false),
        ..ServerEntry::default()
    }
}

register_discovery!(MyDiscovery);
