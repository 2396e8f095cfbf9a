//! Tests of the pure discovery rules (seed aliases, precedence, self-references, project files).
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
