//! `bridge install --client NAME`: registers the bridge with an MCP client by editing that client's own config
//! file, or prints the entry with `--print`.
//!
//! Editing keeps everything else in the file as it was — comments, key order, formatting (JSONC through
//! `jsonc-parser`'s concrete syntax tree, TOML through `toml_edit`) — backs the file up before it changes, and
//! changes nothing when the entry is already there as it would be written, so running it twice is harmless.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstRootNode};
use serde_json::{Map, Value, json};

use crate::config::Config;

/// The clients `bridge install` knows the config files of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Client {
    /// Claude Code: `~/.claude.json`, `mcpServers` (user scope).
    ClaudeCode,
    /// Claude Desktop: `claude_desktop_config.json`, `mcpServers`.
    ClaudeDesktop,
    /// Cursor: `~/.cursor/mcp.json`, `mcpServers`.
    Cursor,
    /// VS Code: the user profile's `mcp.json`, `servers`.
    Vscode,
    /// Codex CLI: `~/.codex/config.toml` (or `$CODEX_HOME`), `[mcp_servers.NAME]`.
    Codex,
}

/// `bridge install`'s arguments.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The client to register the bridge with.
    #[arg(long, value_enum)]
    client: Client,
    /// The entry's name in the client's config (what the client shows).
    #[arg(long, default_value = "mcp-bridge")]
    name: String,
    /// Print the entry and the file it belongs in instead of editing the file.
    #[arg(long)]
    print: bool,
    /// The command the client launches (default: this bridge binary, with `serve`).
    #[arg(long, value_name = "PATH")]
    command: Option<PathBuf>,
    /// A setting for the bridge, as KEY=VALUE (repeatable). MCP_BRIDGE_IMAGE and MCP_BRIDGE_DEFAULT_IMAGE are
    /// included when they are set here.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
}

/// What the client is told to launch.
struct Launch {
    command: String,
    args: Vec<String>,
    env: Map<String, Value>,
}

/// Registers the bridge with `args.client`, or prints the entry.
pub fn install(config: &Config, args: InstallArgs) -> Result<ExitCode> {
    if args.name.trim().is_empty() || args.name.contains(['.', '/', '\\']) {
        bail!(
            "--name {:?}: use a plain name such as mcp-bridge (no dots or slashes)",
            args.name
        );
    }
    let launch = launch(&args)?;
    let file = config_file(args.client, config);
    let entry = entry(args.client, &launch);
    if args.print {
        println!("# {}", file.display());
        print!("{}", render(args.client, &args.name, &entry)?);
        return Ok(ExitCode::SUCCESS);
    }
    let existing = match std::fs::read_to_string(&file) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(error).with_context(|| format!("reading {}", file.display())),
    };
    let edited = match args.client {
        Client::Codex => edit_toml(existing.as_deref().unwrap_or(""), &args.name, &entry),
        client => edit_json(
            existing.as_deref().unwrap_or(""),
            key(client),
            &args.name,
            &entry,
        ),
    }
    .with_context(|| format!("editing {}", file.display()))?;
    let Some(edited) = edited else {
        println!(
            "{} already has '{}' as it would be written; nothing changed",
            file.display(),
            args.name
        );
        return Ok(ExitCode::SUCCESS);
    };
    if existing.is_some() {
        let backup = backup_path(&file);
        std::fs::copy(&file, &backup)
            .with_context(|| format!("backing up {} to {}", file.display(), backup.display()))?;
        println!("backed up {} to {}", file.display(), backup.display());
    }
    // A new file is private (0600); an edited one keeps the mode it had.
    let mode = std::fs::metadata(&file).ok().map(|m| m.permissions());
    crate::state::replace_file(&file, edited.as_bytes()).map_err(anyhow::Error::msg)?;
    if let Some(mode) = mode {
        std::fs::set_permissions(&file, mode)
            .with_context(|| format!("restoring the mode of {}", file.display()))?;
    }
    println!(
        "registered '{}' in {}: {} {}",
        args.name,
        file.display(),
        launch.command,
        launch.args.join(" ")
    );
    println!("restart the client (or reload its MCP servers) to pick it up");
    Ok(ExitCode::SUCCESS)
}

fn launch(args: &InstallArgs) -> Result<Launch> {
    let command = match &args.command {
        Some(path) => {
            std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?
        }
        None => std::env::current_exe().context("finding this bridge binary")?,
    };
    let mut env = Map::new();
    for var in ["MCP_BRIDGE_IMAGE", "MCP_BRIDGE_DEFAULT_IMAGE"] {
        if let Ok(image) = std::env::var(var)
            && !image.is_empty()
        {
            env.insert(var.into(), Value::String(image));
        }
    }
    for pair in &args.env {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!("--env {pair:?}: give it as KEY=VALUE");
        };
        env.insert(key.to_string(), Value::String(value.to_string()));
    }
    // scripts/bridge takes the command line as is; the binary needs `serve`.
    let wrapper = command.file_name().is_some_and(|n| n == "bridge")
        && command.parent().is_some_and(|d| d.ends_with("scripts"));
    Ok(Launch {
        command: command.display().to_string(),
        args: if wrapper {
            vec![]
        } else {
            vec!["serve".into()]
        },
        env,
    })
}

/// The file a client reads its MCP servers from.
fn config_file(client: Client, config: &Config) -> PathBuf {
    let home = &config.home;
    // macOS keeps application settings under ~/Library/Application Support; elsewhere, XDG's config home.
    let app_config = if cfg!(target_os = "macos") {
        home.join("Library/Application Support")
    } else {
        config.config_home.clone()
    };
    match client {
        Client::ClaudeCode => home.join(".claude.json"),
        Client::ClaudeDesktop => app_config.join("Claude/claude_desktop_config.json"),
        Client::Cursor => home.join(".cursor/mcp.json"),
        Client::Vscode => app_config.join("Code/User/mcp.json"),
        Client::Codex => std::env::var_os("CODEX_HOME")
            .filter(|v| !v.is_empty())
            .map_or_else(|| home.join(".codex"), PathBuf::from)
            .join("config.toml"),
    }
}

/// The key of the JSON object that holds the servers.
fn key(client: Client) -> &'static str {
    match client {
        Client::Vscode => "servers",
        _ => "mcpServers",
    }
}

/// The entry, as the client's format spells it.
fn entry(client: Client, launch: &Launch) -> Value {
    let mut entry = Map::new();
    // Claude Code and VS Code name the transport; the others take a command to mean stdio.
    if matches!(client, Client::ClaudeCode | Client::Vscode) {
        entry.insert("type".into(), json!("stdio"));
    }
    entry.insert("command".into(), json!(launch.command));
    entry.insert("args".into(), json!(launch.args));
    if !launch.env.is_empty() {
        entry.insert("env".into(), Value::Object(launch.env.clone()));
    }
    Value::Object(entry)
}

/// The entry as it would stand in the file, for `--print`.
fn render(client: Client, name: &str, entry: &Value) -> Result<String> {
    Ok(match client {
        Client::Codex => edit_toml("", name, entry)?.unwrap_or_default(),
        client => {
            let wrapped = json!({ key(client): { name: entry } });
            format!("{}\n", serde_json::to_string_pretty(&wrapped)?)
        }
    })
}

/// `text` (JSON or JSONC) with `entry` under `key.name`; `None` when it is already there as is.
fn edit_json(text: &str, key: &str, name: &str, entry: &Value) -> Result<Option<String>> {
    let root = CstRootNode::parse(text, &ParseOptions::default())
        .map_err(|error| anyhow::anyhow!("it is not valid JSON: {error}"))?;
    if root.value().is_some() && root.object_value().is_none() {
        bail!("its top level is not an object");
    }
    let servers = root
        .object_value_or_set()
        .object_value_or_create(key)
        .with_context(|| format!("its \"{key}\" is not an object"))?;
    match servers.get(name) {
        Some(existing) if existing.to_serde_value().as_ref() == Some(entry) => return Ok(None),
        Some(existing) => existing.set_value(cst_value(entry)),
        None => {
            servers.append(name, cst_value(entry));
        }
    }
    let mut edited = root.to_string();
    if !edited.ends_with('\n') {
        edited.push('\n');
    }
    Ok(Some(edited))
}

fn cst_value(value: &Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(items) => CstInputValue::Array(items.iter().map(cst_value).collect()),
        Value::Object(map) => {
            CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), cst_value(v))).collect())
        }
    }
}

/// Codex's `config.toml` with `[mcp_servers.NAME]` set to `entry`; `None` when it is already there as is.
fn edit_toml(text: &str, name: &str, entry: &Value) -> Result<Option<String>> {
    let mut document: toml_edit::DocumentMut = text
        .parse()
        .map_err(|error| anyhow::anyhow!("it is not valid TOML: {error}"))?;
    let wanted: toml::Value =
        toml::Value::try_from(entry).context("the entry cannot be written as TOML")?;
    let current: Option<toml::Value> = toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|table| table.get("mcp_servers")?.get(name).cloned());
    if current.as_ref() == Some(&wanted) {
        return Ok(None);
    }
    let servers = document
        .entry("mcp_servers")
        .or_insert_with(|| {
            let mut table = toml_edit::Table::new();
            table.set_implicit(true);
            toml_edit::Item::Table(table)
        })
        .as_table_mut()
        .context("its mcp_servers is not a table")?;
    let mut table = toml_edit::Table::new();
    if let Some(object) = entry.as_object() {
        for (key, value) in object {
            table.insert(key, toml_edit::value(toml_edit_value(value)));
        }
    }
    servers.insert(name, toml_edit::Item::Table(table));
    Ok(Some(document.to_string()))
}

fn toml_edit_value(value: &Value) -> toml_edit::Value {
    match value {
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| n.as_f64().unwrap_or(0.0).into(), Into::into),
        Value::Array(items) => items
            .iter()
            .map(toml_edit_value)
            .collect::<toml_edit::Array>()
            .into(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), toml_edit_value(v)))
            .collect::<toml_edit::InlineTable>()
            .into(),
        Value::String(s) => s.as_str().into(),
        Value::Null => "".into(),
    }
}

/// `<file>.<UTC time>.bak`, next to it.
fn backup_path(file: &Path) -> PathBuf {
    // 2026-12-03T13:28:14.556Z → 20261203T132814Z: sortable, and no colons for file systems that refuse them.
    let now = crate::state::now_rfc3339();
    let seconds = now.split('.').next().unwrap_or(&now);
    let stamp: String = seconds
        .chars()
        .filter(|c| !matches!(c, ':' | '-'))
        .chain(['Z'])
        .collect();
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!("{name}.{stamp}.bak"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> Launch {
        Launch {
            command: "/usr/local/bin/bridge".into(),
            args: vec!["serve".into()],
            env: Map::new(),
        }
    }

    #[test]
    fn json_edits_keep_comments_and_other_entries_and_repeat_as_no_change() {
        let text = "{\n  // mine\n  \"mcpServers\": {\n    \"github\": {\"command\": \"gh-mcp\"},\n  },\n  \"theme\": \"dark\"\n}\n";
        let entry = entry(Client::Cursor, &launch());
        let edited = edit_json(text, "mcpServers", "mcp-bridge", &entry)
            .unwrap()
            .unwrap();
        assert!(
            edited.contains("// mine") && edited.contains("\"theme\": \"dark\""),
            "{edited}"
        );
        assert!(edited.contains("\"github\""), "{edited}");
        let parsed = CstRootNode::parse(&edited, &ParseOptions::default())
            .unwrap()
            .object_value()
            .and_then(|object| object.to_serde_value())
            .unwrap();
        assert_eq!(
            parsed["mcpServers"]["mcp-bridge"]["command"],
            "/usr/local/bin/bridge"
        );
        assert_eq!(parsed["mcpServers"]["mcp-bridge"]["args"], json!(["serve"]));
        assert_eq!(
            edit_json(&edited, "mcpServers", "mcp-bridge", &entry).unwrap(),
            None
        );
    }

    #[test]
    fn an_empty_file_becomes_an_object_and_a_wrong_one_is_refused() {
        let entry = entry(Client::Vscode, &launch());
        let edited = edit_json("", "servers", "py", &entry).unwrap().unwrap();
        let parsed: Value = serde_json::from_str(&edited).unwrap();
        assert_eq!(parsed["servers"]["py"]["type"], "stdio");
        let error = edit_json("[1, 2]", "servers", "py", &entry).unwrap_err();
        assert!(error.to_string().contains("not an object"), "{error}");
        let error = edit_json("{\"servers\": 3}", "servers", "py", &entry).unwrap_err();
        assert!(
            error.to_string().contains("\"servers\" is not an object"),
            "{error}"
        );
        let error = edit_json("{oops", "servers", "py", &entry).unwrap_err();
        assert!(error.to_string().contains("not valid JSON"), "{error}");
    }

    #[test]
    fn toml_edits_keep_the_rest_and_repeat_as_no_change() {
        let text = "# codex\nmodel = \"o4\"\n\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\n";
        let mut with_env = launch();
        with_env
            .env
            .insert("MCP_BRIDGE_IMAGE".into(), json!("img:1"));
        let entry = entry(Client::Codex, &with_env);
        let edited = edit_toml(text, "mcp-bridge", &entry).unwrap().unwrap();
        assert!(edited.starts_with("# codex\nmodel = \"o4\""), "{edited}");
        let parsed: toml::Table = toml::from_str(&edited).unwrap();
        let ours = &parsed["mcp_servers"]["mcp-bridge"];
        assert_eq!(ours["command"].as_str(), Some("/usr/local/bin/bridge"));
        assert_eq!(ours["env"]["MCP_BRIDGE_IMAGE"].as_str(), Some("img:1"));
        assert_eq!(
            parsed["mcp_servers"]["docs"]["command"].as_str(),
            Some("docs-mcp")
        );
        assert_eq!(edit_toml(&edited, "mcp-bridge", &entry).unwrap(), None);
    }
}
