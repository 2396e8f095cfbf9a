//! Recognising a configured server that would start this bridge (or the seed bridge) again: a bridge that
//! proxies itself doubles every container at best and recurses at worst, so such entries are dropped unless
//! `MCP_BRIDGE_ALLOW_SELF_SERVER` says otherwise.

use super::ServerEntry;

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
    use super::super::tests::stdio;
    use super::*;

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
