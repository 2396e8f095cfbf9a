//! Tests of [`merge`]: precedence, project files, self-references, and aliases in first-come order.
use super::*;

/// A stdio server entry (also used by the self-reference tests).
pub(super) fn stdio(name: &str, command: &str, args: &[&str]) -> ServerEntry {
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
