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
mod tests {
    use super::*;

    fn stdio(name: &str, command: &str, args: &[&str]) -> ServerEntry {
        ServerEntry {
            name: name.into(),
            command: Some(command.into()),
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        }
    }

    fn file(source: &str, entries: Vec<ServerEntry>) -> SourceFile {
        SourceFile {
            plugin: "config-files".into(),
            path: source.into(),
            project: false,
            entries,
        }
    }

    fn aliases_of(names: &[&str]) -> Vec<String> {
        let entries = names.iter().map(|n| stdio(n, "srv", &[])).collect();
        merge([file("a.json", entries)], false)
            .servers
            .into_iter()
            .map(|s| s.alias)
            .collect()
    }

    #[test]
    fn seed_server_alias_examples_in_first_come_order() {
        let names = [
            "Weird-Name 2",
            "weird_name_2",
            "123abc",
            "my.server",
            "MY_SERVER",
            "my-server",
        ];
        let want = [
            "weird_name_2",
            "weird_name_2_2",
            "_123abc",
            "my_server",
            "my_server_2",
            "my_server_3",
        ];
        assert_eq!(aliases_of(&names), want);
    }

    #[test]
    fn server_alias_edges() {
        assert_eq!(server_alias(""), "server");
        assert_eq!(
            server_alias("!!!"),
            "_",
            "a name of only symbols is one run, as in the seed"
        );
        assert_eq!(
            server_alias(" GitHub "),
            "_github_",
            "server names are not stripped, as in the seed"
        );
        assert_eq!(server_alias("Météo ☀"), "m_t_o_");
        assert_eq!(
            server_alias("\u{212a}8s"),
            "k8s",
            "KELVIN SIGN lower-cases to ASCII k, as in Python"
        );
        assert_eq!(
            server_alias("İzmir"),
            "i_zmir",
            "İ lower-cases to i + combining dot, as in Python"
        );
        assert_eq!(server_alias("2"), "_2");
        assert_eq!(
            server_alias("a__b--c"),
            "a__b_c",
            "underscores are kept, only other runs collapse"
        );
    }

    #[test]
    fn server_aliases_escape_python_keywords() {
        assert_eq!(server_alias("class"), "class_");
        assert_eq!(server_alias("Import"), "import_");
        assert_eq!(server_alias("FROM"), "from_");
        assert_eq!(
            server_alias("None"),
            "none",
            "lower-case none is not a keyword"
        );
        assert_eq!(
            server_alias("match"),
            "match",
            "soft keywords are valid module names"
        );
        assert_eq!(
            aliases_of(&["class", "Class", "class_"]),
            ["class_", "class__2", "class__3"]
        );
    }

    #[test]
    fn seed_tool_alias_examples_and_duplicates() {
        assert_eq!(tool_alias("read-file"), "read_file");
        assert_eq!(tool_alias("Read File"), "read_file");
        assert_eq!(tool_alias("class"), "class_");
        assert_eq!(tool_alias("2fa"), "_2fa");
        assert_eq!(
            tool_aliases(["read-file", "Read File", "class", "2fa", "read_file"]),
            ["read_file", "read_file_2", "class_", "_2fa", "read_file_3"]
        );
    }

    #[test]
    fn tool_alias_edges() {
        assert_eq!(tool_alias(""), "tool");
        assert_eq!(tool_alias("   "), "tool");
        assert_eq!(
            tool_alias("\u{1c} get \t"),
            "get",
            "Python's strip() also strips U+001C..U+001F"
        );
        assert_eq!(tool_alias("  -x-  "), "_x_");
        assert_eq!(
            tool_alias("getÜbersicht"),
            "get_bersicht",
            "non-ASCII letters are replaced before lower()"
        );
        assert_eq!(tool_alias("Lambda"), "lambda_");
        assert_eq!(tool_alias("9"), "_9");
    }

    #[test]
    fn dedupe_numbers_in_first_come_order() {
        let mut taken = HashSet::new();
        let got: Vec<_> = ["a", "a", "a_2", "a"]
            .iter()
            .map(|a| dedupe(a.to_string(), &mut taken))
            .collect();
        assert_eq!(got, ["a", "a_2", "a_2_2", "a_3"]);
    }

    #[test]
    fn first_definition_wins_across_and_within_files() {
        let merged = merge(
            [
                file(
                    "/p/.vscode/mcp.json",
                    vec![stdio("git", "project-git", &[]), stdio("git", "dup", &[])],
                ),
                SourceFile {
                    plugin: "other".into(),
                    ..file(
                        "/h/.claude.json",
                        vec![stdio("git", "user-git", &[]), stdio("web", "w", &[])],
                    )
                },
            ],
            false,
        );
        let summary: Vec<_> = merged
            .servers
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.entry.command.as_deref().unwrap(),
                    s.source.as_str(),
                    s.plugin.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("git", "project-git", "/p/.vscode/mcp.json", "config-files"),
                ("web", "w", "/h/.claude.json", "other")
            ]
        );
    }

    #[test]
    fn names_match_exactly_but_aliases_still_collide() {
        let merged = merge(
            [file(
                "a.json",
                vec![stdio("GitHub", "a", &[]), stdio("github", "b", &[])],
            )],
            false,
        );
        let got: Vec<_> = merged
            .servers
            .iter()
            .map(|s| (s.name.as_str(), s.alias.as_str()))
            .collect();
        assert_eq!(got, [("GitHub", "github"), ("github", "github_2")]);
    }

    #[test]
    fn disabled_entries_are_kept_marked_and_claim_their_name() {
        let mut off = stdio("db", "db-off", &[]);
        off.disabled = true;
        let merged = merge(
            [
                file("a.json", vec![off]),
                file("b.json", vec![stdio("db", "db-on", &[])]),
            ],
            false,
        )
        .servers;
        assert_eq!(merged.len(), 1);
        assert!(merged[0].entry.disabled);
        assert_eq!(merged[0].entry.command.as_deref(), Some("db-off"));
        assert_eq!(merged[0].alias, "db");
    }

    #[test]
    fn a_project_file_never_redefines_a_users_server() {
        let project = |path: &str, entries| SourceFile {
            project: true,
            ..file(path, entries)
        };
        let merged = merge(
            [
                project(
                    "/p/.mcp.json",
                    vec![stdio("github", "evil", &[]), stdio("local", "l", &[])],
                ),
                file("/h/.claude.json", vec![stdio("github", "gh-mcp", &[])]),
                project("/p/.vscode/mcp.json", vec![stdio("local", "other", &[])]),
            ],
            false,
        );
        let got: Vec<_> = merged
            .servers
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.entry.command.as_deref().unwrap(),
                    s.project,
                )
            })
            .collect();
        assert_eq!(got, [("github", "gh-mcp", false), ("local", "l", true)]);
        assert_eq!(
            merged.shadowed,
            [Shadowed {
                name: "github".into(),
                project_source: "/p/.mcp.json".into(),
                user_source: "/h/.claude.json".into(),
            }]
        );
    }

    #[test]
    fn self_references_are_dropped_unless_allowed_and_do_not_claim_names_or_aliases() {
        let files = || {
            [
                file(
                    "claude",
                    vec![stdio(
                        "python",
                        "/opt/mcp-bridge/target/release/bridge",
                        &[],
                    )],
                ),
                file(
                    "cursor",
                    vec![stdio("python", "python-mcp", &[]), stdio("tools", "t", &[])],
                ),
            ]
        };
        let merged = merge(files(), false).servers;
        let got: Vec<_> = merged
            .iter()
            .map(|s| (s.alias.as_str(), s.source.as_str()))
            .collect();
        assert_eq!(got, [("python", "cursor"), ("tools", "cursor")]);

        let allowed = merge(files(), true).servers;
        assert_eq!(allowed.len(), 2);
        assert_eq!(
            allowed[0].entry.command.as_deref(),
            Some("/opt/mcp-bridge/target/release/bridge")
        );
        assert_eq!(allowed[0].source, "claude");
    }

    /// `name|command|arg|arg…` → whether it is a self-reference (one case a line keeps the tables readable).
    fn check(cases: &[&str], want: bool) {
        for case in cases {
            let mut parts = case.split('|');
            let (name, command) = (parts.next().unwrap(), parts.next().unwrap());
            let entry = stdio(name, command, &parts.collect::<Vec<_>>());
            assert_eq!(is_self_reference(&entry), want, "{case}");
        }
    }

    #[test]
    fn these_configs_launch_a_bridge() {
        check(
            &[
                // The seed, by name, program, argument or script (seed §3.2).
                "mcp-server-code-execution-mode|whatever",
                "MCP_Server_Code_Execution_Mode|whatever",
                "x|uvx|--from|git+https://github.com/elusznik/mcp-server-code-execution-mode|mcp-server-code-execution-mode|run",
                "x|python3|/src/mcp_server_code_execution_mode.py",
                "x|/usr/local/bin/mcp-server-code-execution-mode",
                // This bridge, by name or package.
                "mcp-bridge|anything",
                "x|mcp-bridge|serve",
                "x|cargo|run|--release|-p|mcp-bridge|--|serve",
                "x|cargo|run|--manifest-path|/src/Cargo.toml|--bin|bridge",
                "x|cargo|run|--bin=bridge|--|serve",
                // The `bridge` binary serving: bare, `serve`, by path, on Windows, behind wrappers.
                "python|bridge",
                "python|bridge|serve",
                "python|/home/u/.cargo/bin/bridge",
                "python|C:\\Tools\\Bridge.exe|serve",
                "python|env|RUST_LOG=debug|MCP_BRIDGE_TIMEOUT=60|bridge|serve",
                "python|/usr/bin/env|-i|bridge",
                "python|nohup|/opt/bridge/target/release/bridge",
                // The repo's launcher script, directly or through a shell.
                "python|/home/u/src/mcp-bridge/scripts/bridge",
                "python|scripts/bridge",
                "python|bash|/work/main/scripts/bridge",
                "python|sh|-c|cd ~/code/mcp-bridge && ./scripts/bridge",
                "python|sh|-c|exec /opt/x/target/release/bridge serve",
                "python|bash|-lc|RUST_LOG=info bridge",
            ],
            true,
        );
    }

    #[test]
    fn these_configs_are_someone_elses() {
        check(
            &[
                "python|uvx|mcp-server-fetch",
                "bridge|npx|-y|@acme/bridge",
                "x|npx|-y|github:acme/bridge",
                "x|docker|run|-i|--rm|--network|bridge|acme/mcp",
                "x|docker|run|--network|bridge",
                "x|node|/srv/bridge/index.js",
                "x|bridge-mcp",
                "x|mcp-bridge-extras",
                "x|/opt/bridges/bin/server",
                "x|/home/u/scripts/bridge-tool",
                // `bridge run …` is a one-shot command; a flag before any subcommand makes clap refuse: no loop.
                "x|bridge|run|-c|print(1)",
                "x|bridge|--version",
                "x|python3|-m|bridge",
                "x|sh|-c|echo bridge && run-other",
            ],
            false,
        );
        let remote = ServerEntry {
            name: "bridge".into(),
            url: Some("http://localhost/mcp".into()),
            ..Default::default()
        };
        assert!(
            !is_self_reference(&remote),
            "a URL server cannot be this stdio-only bridge"
        );
    }
}
