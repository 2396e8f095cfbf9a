//! From what discovery plugins found to the servers the bridge offers: the first definition of a name wins,
//! configs that would start this bridge again are dropped, and every server gets the Python alias the sandbox
//! knows it by (`mcp_<alias>`, `mcp.servers.<alias>`). Tool aliases follow the same rules one level down.
//!
//! Pure functions over plain data: no plugin runtime, no filesystem, no crate-internal imports (the module
//! compiles and tests on its own with `rustc --edition 2024 --test src/upstream/discovery.rs`).

use std::collections::HashSet;

/// One configured MCP server as a discovery plugin reported it: a mirror of the WIT record `server-entry`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerEntry {
    /// The name the user gave it (the key in the config file).
    pub name: String,
    /// The program to start, for stdio servers.
    pub command: Option<String>,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables for it.
    pub env: Vec<(String, String)>,
    /// The directory to start it in.
    pub cwd: Option<String>,
    /// What the server is for.
    pub description: Option<String>,
    /// The endpoint, for HTTP servers.
    pub url: Option<String>,
    /// `stdio`, `http` or `sse`, when the file says.
    pub transport: Option<String>,
    /// Disabled in its config file: listed, never started.
    pub disabled: bool,
}

/// A server the bridge offers (or lists as disabled), after merging every source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredServer {
    /// The configured name (what `servers=[...]` and `mcp_servers[...]` use).
    pub name: String,
    /// Its Python identifier: `mcp_<alias>` and `mcp.servers.<alias>` in the sandbox.
    pub alias: String,
    /// The winning definition.
    pub entry: ServerEntry,
    /// The file it came from, as shown to users.
    pub source: String,
    /// The discovery plugin that read that file.
    pub plugin: String,
    /// It was defined in a project file (the working directory), not in one of the user's.
    pub project: bool,
}

/// One config file as discovery read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The discovery plugin that read it.
    pub plugin: String,
    /// Its path, as shown to users.
    pub path: String,
    /// It belongs to the project (the working directory), not to the user.
    pub project: bool,
    /// Its entries, in file order.
    pub entries: Vec<ServerEntry>,
}

/// A project file's definition of a name the user already defined: the user's wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed {
    /// The server's name.
    pub name: String,
    /// The project file that defined it too.
    pub project_source: String,
    /// The user's file whose definition is used.
    pub user_source: String,
}

/// What [`merge`] made of the files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    /// The servers, in precedence order.
    pub servers: Vec<DiscoveredServer>,
    /// Project definitions that lost to the user's.
    pub shadowed: Vec<Shadowed>,
}

/// Merges the files discovery read, given in precedence order.
///
/// - The user's files come before the project's, whatever the order given: a project file never redefines a
///   server the user defined (it is recorded in [`Merged::shadowed`] instead). Among the user's files, and among
///   the project's, the given order stands.
/// - The first definition of a name wins (exact, case-sensitive match, as in the seed), whatever its state: a
///   server disabled in a higher-precedence file stays disabled rather than being revived by a lower one.
/// - Disabled entries are kept and marked, so they can be listed; the caller never starts them.
/// - Unless `allow_self` (`MCP_BRIDGE_ALLOW_SELF_SERVER`), entries that would launch this bridge (or the seed)
///   are dropped ([`is_self_reference`]). A dropped entry does not claim its name: as in the seed, a later
///   definition of the same name from another client's file is used instead.
/// - Aliases are given in this (first-come) order, see [`server_alias`] and [`dedupe`].
pub fn merge(files: impl IntoIterator<Item = SourceFile>, allow_self: bool) -> Merged {
    let (user, project): (Vec<SourceFile>, Vec<SourceFile>) =
        files.into_iter().partition(|file| !file.project);
    let mut aliases = HashSet::new();
    let mut merged = Merged::default();
    for file in user.into_iter().chain(project) {
        for entry in file.entries {
            if !allow_self && is_self_reference(&entry) {
                continue;
            }
            if let Some(winner) = merged.servers.iter().find(|s| s.name == entry.name) {
                if file.project && !winner.project {
                    merged.shadowed.push(Shadowed {
                        name: entry.name,
                        project_source: file.path.clone(),
                        user_source: winner.source.clone(),
                    });
                }
                continue;
            }
            let alias = dedupe(server_alias(&entry.name), &mut aliases);
            merged.servers.push(DiscoveredServer {
                name: entry.name.clone(),
                alias,
                entry,
                source: file.path.clone(),
                plugin: file.plugin.clone(),
                project: file.project,
            });
        }
    }
    merged
}

/// Python's keywords (3.x `keyword.kwlist`), lower-case ones only: aliases are lower-case, so `False`, `None`
/// and `True` cannot occur. Soft keywords (`match`, `case`, `type`, `_`) are valid module and variable names.
const PYTHON_KEYWORDS: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
    "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
    "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

/// A server's alias before collisions (seed §3.4, `MCPBridge._alias_for`): lower-cased, every run of characters
/// outside `[a-z0-9_]` becomes one `_`, empty becomes `server`, a leading digit gets a `_` prefix.
///
/// One deliberate change from the seed: a Python keyword gets a `_` suffix (`class` → `class_`), as tool aliases
/// always did, so that `from mcp.servers.class_ import *` is valid Python (the seed's `mcp.servers.class` was
/// a syntax error). `mcp_<alias>` names are unaffected in practice (`mcp_class` was valid, `mcp_class_` is too).
pub fn server_alias(name: &str) -> String {
    // `to_lowercase` first, as Python's `str.lower()`: it can turn non-ASCII into ASCII (KELVIN SIGN → `k`).
    let alias = replace_runs(&name.to_lowercase(), |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
    });
    finish_identifier(alias, "server")
}

/// A tool's alias before duplicates (seed §3.4, `_sanitize_identifier`): surrounding whitespace stripped, every
/// run outside `[0-9a-zA-Z_]` becomes one `_`, then lower-cased; empty becomes `tool`, a leading digit gets a
/// `_` prefix, a Python keyword a `_` suffix. Examples: `read-file` → `read_file`, `Read File` → `read_file`,
/// `class` → `class_`, `2fa` → `_2fa`. Use [`dedupe`] (or [`tool_aliases`]) for duplicates within a server.
pub fn tool_alias(name: &str) -> String {
    // Python's `str.strip()` also strips the ASCII separators U+001C..U+001F, which Rust's `trim` keeps.
    let stripped =
        name.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
    let alias =
        replace_runs(stripped, |c| c.is_ascii_alphanumeric() || c == '_').to_ascii_lowercase();
    finish_identifier(alias, "tool")
}

/// Makes `alias` unique among `taken` (and records it): the first comer keeps it, later ones get `_2`, `_3`, …
/// as in the seed (`my_server`, `my_server_2`, `my_server_3`; `weird_name_2` then `weird_name_2_2`).
pub fn dedupe(alias: String, taken: &mut HashSet<String>) -> String {
    let mut candidate = alias.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{alias}_{n}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

/// The aliases of one server's tools, in listing order, duplicates numbered ([`tool_alias`] + [`dedupe`]).
pub fn tool_aliases<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken = HashSet::new();
    names
        .into_iter()
        .map(|name| dedupe(tool_alias(name), &mut taken))
        .collect()
}

/// Replaces every run of characters that `keep` rejects with a single `_` (the seed's `re.sub(r"[^…]+", "_")`).
fn replace_runs(text: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if keep(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

fn finish_identifier(mut alias: String, default: &str) -> String {
    if alias.is_empty() {
        alias = default.to_string();
    }
    if alias.starts_with(|c: char| c.is_ascii_digit()) {
        alias.insert(0, '_');
    }
    if PYTHON_KEYWORDS.contains(&alias.as_str()) {
        alias.push('_');
    }
    alias
}

/// The seed's names (seed §3.2): its PyPI/console-script name and its module name.
const SEED_TOKENS: &[&str] = &[
    "mcp-server-code-execution-mode",
    "mcp_server_code_execution_mode",
];
/// This project's names: the package (`cargo install mcp-bridge`, `cargo run -p mcp-bridge`) and its crate.
const OWN_TOKENS: &[&str] = &["mcp-bridge", "mcp_bridge"];
/// Programs that run the program named after them (`env FOO=1 bridge`): what follows is in program position.
const WRAPPERS: &[&str] = &["env", "exec", "sudo", "doas", "nohup", "command"];

/// Whether starting this entry would start this bridge (or the seed bridge) again: a server that proxies
/// itself, which at best doubles every container and at worst recurses. Matches, case-insensitively:
///
/// - the name is one of the seed's tokens or `mcp-bridge`/`mcp_bridge`;
/// - any program or argument whose base name (path and `.exe` stripped) is such a token, or ends with
///   `mcp_server_code_execution_mode.py` (the seed's rules, plus our names: `uvx … mcp-server-code-execution-mode
///   run`, `cargo run -p mcp-bridge`, a renamed `mcp-bridge` binary);
/// - this repo's launcher, a path ending in `scripts/bridge` (it always serves);
/// - our binary `bridge` about to serve: base name `bridge` followed by nothing or `serve` (`bridge` alone *is*
///   `bridge serve`; `bridge run …` is a one-shot command, not a server), either as the program (also after
///   `env`/`sudo`/`exec`/`&&`) or as an argument that is a path (`…/target/release/bridge`). A bare `bridge`
///   argument, or a package spec like `@acme/bridge` or `github:acme/bridge`, is someone else's;
/// - `cargo … --bin bridge` (running the bridge from its source tree).
///
/// Arguments containing spaces (`sh -c "cd ~/mcp-bridge && ./scripts/bridge"`) are also read as command lines.
pub fn is_self_reference(entry: &ServerEntry) -> bool {
    let name = entry.name.trim().to_lowercase();
    if SEED_TOKENS.contains(&name.as_str()) || OWN_TOKENS.contains(&name.as_str()) {
        return true;
    }
    let Some(command) = entry.command.as_deref() else {
        return false; // a URL server: this bridge only serves stdio, so it cannot be one
    };
    let argv: Vec<&str> = std::iter::once(command)
        .chain(entry.args.iter().map(String::as_str))
        .collect();
    if launches_bridge(&argv) {
        return true;
    }
    entry
        .args
        .iter()
        .filter(|arg| arg.contains(char::is_whitespace))
        .any(|script| {
            let words: Vec<&str> = script
                .split_whitespace()
                .map(|w| w.trim_matches(['"', '\'']))
                .collect();
            launches_bridge(&words)
        })
}

/// The self-reference rules over one argv (`words[0]` is the program).
fn launches_bridge(words: &[&str]) -> bool {
    let program_at = program_positions(words);
    let runs_cargo = words.first().is_some_and(|w| base_name(w) == "cargo");
    words.iter().enumerate().any(|(i, word)| {
        let base = base_name(word);
        let next = words.get(i + 1).copied();
        let path = word.replace('\\', "/").to_lowercase();
        SEED_TOKENS.contains(&base.as_str())
            || OWN_TOKENS.contains(&base.as_str())
            || base.ends_with("mcp_server_code_execution_mode.py")
            || path == "scripts/bridge"
            || path.ends_with("/scripts/bridge")
            || (base == "bridge"
                && matches!(next, None | Some("serve"))
                && (program_at[i] || is_path(word)))
            || (runs_cargo
                && ((*word == "--bin" && next == Some("bridge")) || *word == "--bin=bridge"))
    })
}

/// Which words start a program: the first real word (skipping `NAME=value` assignments and flags), and the
/// first real word after a wrapper (`env`, `sudo`, …) or a shell separator (`&&`, `||`, `;`, `|`).
fn program_positions(words: &[&str]) -> Vec<bool> {
    let mut at = vec![false; words.len()];
    let mut expecting = true;
    for (i, word) in words.iter().enumerate() {
        if matches!(*word, "&&" | "||" | ";" | "|") {
            expecting = true;
        } else if expecting && (word.starts_with('-') || is_assignment(word)) {
            // still looking for the program: `env -i`, `FOO=1 bridge`
        } else if expecting {
            at[i] = true;
            expecting = WRAPPERS.contains(&base_name(word).as_str());
        }
    }
    at
}

/// `NAME=value`, as `env` and shells take them.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// A filesystem path rather than a package spec: has a separator, is not an npm scope (`@acme/x`) and has no
/// scheme (`github:acme/x`, `git+https://…`), except a Windows drive (`C:\…`).
fn is_path(word: &str) -> bool {
    let word = word.replace('\\', "/");
    let drive = word.as_bytes().get(1) == Some(&b':') && word.as_bytes()[0].is_ascii_alphabetic();
    word.contains('/') && !word.starts_with('@') && (!word.contains(':') || drive)
}

/// The last path component, lower-cased, without a trailing `.exe` (Windows installs).
fn base_name(word: &str) -> String {
    let word = word.replace('\\', "/").to_lowercase();
    let base = word.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    base.strip_suffix(".exe").unwrap_or(base).to_string()
}

#[cfg(test)]
mod tests;
