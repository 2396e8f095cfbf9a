//! Built-in discovery plugin `config-files`: finds the MCP servers the user has configured for this bridge and
//! for other MCP clients (Claude, VS Code, Cursor, Windsurf, opencode, Codex), by reading their config files.
//!
//! The component has no file access: it only says which files it wants ([`WANTED`]) and parses what the host
//! hands back ([`parse::parse_file`]). The SDK does the component glue, so all of it is unit-tested natively
//! (`cargo test --target x86_64-unknown-linux-gnu -p mcp-bridge-plugin-config-files`).

mod parse;
#[cfg(test)]
mod tests;

pub use mcp_bridge_plugin_sdk::Base;
use mcp_bridge_plugin_sdk::{
    Config, Discovery, FilePattern, Plugin, ServerEntry, SourceFile, register_discovery,
};
pub use parse::{Entry, parse_file};

/// The plugin's name, as the bridge config refers to it.
pub const NAME: &str = "config-files";

/// The discovery source (no settings).
#[derive(Default)]
pub struct ConfigFiles;

impl Plugin for ConfigFiles {
    fn configure(&mut self, config: &Config<'_>) -> Result<(), String> {
        configure(config.json())
    }
}

impl Discovery for ConfigFiles {
    fn wanted_files(&self) -> Vec<FilePattern> {
        WANTED
            .iter()
            .map(|(base, pattern)| FilePattern::new(*base, *pattern))
            .collect()
    }

    fn parse(&self, file: &SourceFile) -> Result<Vec<ServerEntry>, String> {
        parse_file(&file.path, &file.contents)
    }
}

register_discovery!(ConfigFiles, name = NAME);

/// The files to read, in precedence order: when two define the same server name, the first wins.
///
/// Why this order:
/// - The seed's 27d23b8 sources keep their relative order, so a setup that worked with the Python bridge
///   resolves every name the same way here. That also gives the shape a user expects:
///   1. this bridge's own directories first (`~/MCPs`, `~/.config/mcp/servers`): an entry there is an explicit
///      instruction to *this* bridge, so it beats anything harvested from another client's file;
///   2. then the project (`./mcp-servers/`, `.vscode/mcp.json`): project settings are more specific than
///      user-wide ones, as Claude Code and VS Code themselves rank them;
///   3. then the user-wide files of other clients, then OS-specific application-data files;
///   4. `MCP_SERVERS_CONFIG` last, as in the seed (its comment said "highest priority", its code made it the
///      lowest; we keep the code's behaviour, which is the one users could have observed).
/// - New sources go beside their kind, after the seed's ones of that kind, so none of the seed's precedences
///   changes: project `.mcp.json` (Claude Code's project scope) after `.vscode/mcp.json`; Codex's
///   `~/.codex/config.toml` after the other dot-file clients in home, before the application-data files;
///   Cursor's project file `.cursor/mcp.json` after `.mcp.json`.
/// - The bridge then puts every user file before every project file (a project never redefines a server the user
///   defined), and uses the project's servers only once the user trusts the project; this order decides among
///   the user's files and among the project's.
/// - macOS and Linux paths are both listed: a path that does not exist on this OS is simply not found.
///   The directory sources read `*.json` only, as the seed did.
pub const WANTED: &[(Base, &str)] = &[
    (Base::Home, "MCPs/*.json"),
    (Base::Home, ".config/mcp/servers/*.json"),
    (Base::Cwd, "mcp-servers/*.json"),
    (Base::Cwd, ".vscode/mcp.json"),
    (Base::Cwd, ".mcp.json"),
    (Base::Cwd, ".cursor/mcp.json"),
    (Base::Home, ".claude.json"),
    (Base::Home, ".cursor/mcp.json"),
    (Base::Home, ".opencode.json"),
    (Base::Home, ".codeium/windsurf/mcp_config.json"),
    (Base::Home, ".codex/config.toml"),
    (
        Base::Home,
        "Library/Application Support/Claude Code/claude_code_config.json",
    ),
    (
        Base::Home,
        "Library/Application Support/Claude/claude_desktop_config.json",
    ),
    (
        Base::Home,
        "Library/Application Support/Code/User/settings.json",
    ),
    (Base::Home, ".config/Code/User/settings.json"),
    (Base::EnvVar, "MCP_SERVERS_CONFIG"),
];

/// Checks the plugin's configuration: it has no settings, so only an empty object (or nothing) is accepted.
/// Unknown keys are rejected by name rather than ignored, so a typo'd setting never silently does nothing.
pub fn configure(config: &str) -> Result<(), String> {
    if config.trim().is_empty() {
        return Ok(());
    }
    match parse::json_document(config) {
        Ok(Some(parse::Val::Obj(fields))) if fields.is_empty() => Ok(()),
        Ok(Some(parse::Val::Obj(fields))) => {
            let keys: Vec<String> = fields.iter().map(|(k, _)| format!("`{k}`")).collect();
            Err(format!(
                "config-files takes no settings, but got {}",
                keys.join(", ")
            ))
        }
        Ok(Some(_)) => Err(
            "config-files: the config must be a JSON object (it takes no settings: use {})".into(),
        ),
        Ok(None) => Ok(()),
        Err(e) => Err(format!("config-files: the config is not valid JSON: {e}")),
    }
}
