//! Native tests of the parsing rules and the wanted-file list (no component runtime involved).

use crate::parse::normalise_transport;
use crate::{Base, Entry, WANTED, configure, parse_file};

fn names(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.name.as_str()).collect()
}

fn one(path: &str, text: &str) -> Entry {
    let entries = parse_file(path, text).unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.into_iter().next().unwrap()
}

#[test]
fn claude_style_json_with_every_field() {
    let text = r#"{
      "mcpServers": {
        "files": {
          "command": "npx",
          "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
          "env": {"DEBUG": "1", "LEVEL": "info"},
          "cwd": "/srv",
          "description": "Reads files"
        },
        "remote": {"type": "http", "url": "https://example.com/mcp"}
      }
    }"#;
    let entries = parse_file("/home/u/.claude.json", text).unwrap();
    assert_eq!(
        entries[0],
        Entry {
            name: "files".into(),
            command: Some("npx".into()),
            args: vec![
                "-y".into(),
                "@modelcontextprotocol/server-filesystem".into(),
                "/tmp".into()
            ],
            env: vec![
                ("DEBUG".into(), "1".into()),
                ("LEVEL".into(), "info".into())
            ],
            cwd: Some("/srv".into()),
            description: Some("Reads files".into()),
            url: None,
            transport: None,
            disabled: false,
        }
    );
    assert_eq!(entries[1].url.as_deref(), Some("https://example.com/mcp"));
    assert_eq!(entries[1].transport.as_deref(), Some("http"));
    assert_eq!(entries[1].command, None);
}

#[test]
fn entries_keep_the_files_order_in_json_and_toml() {
    let json = r#"{"mcpServers": {"zeta": {"command": "z"}, "alpha": {"command": "a"}, "mid": {"command": "m"}}}"#;
    assert_eq!(
        names(&parse_file("x.json", json).unwrap()),
        ["zeta", "alpha", "mid"]
    );
    let toml = "[mcp_servers.zeta]\ncommand = \"z\"\n[mcp_servers.alpha]\ncommand = \"a\"\n[mcp_servers.mid]\ncommand = \"m\"\n";
    assert_eq!(
        names(&parse_file("config.toml", toml).unwrap()),
        ["zeta", "alpha", "mid"]
    );
}

#[test]
fn file_level_description_is_the_default() {
    let text = r#"{
      "description": "Team servers",
      "mcpServers": {
        "a": {"command": "a"},
        "b": {"command": "b", "description": "Own words"},
        "c": {"command": "c", "description": 42},
        "d": {"command": "d", "description": "   "}
      }
    }"#;
    let entries = parse_file("team.json", text).unwrap();
    let descriptions: Vec<_> = entries.iter().map(|e| e.description.as_deref()).collect();
    assert_eq!(
        descriptions,
        [
            Some("Team servers"),
            Some("Own words"),
            Some("Team servers"),
            Some("Team servers")
        ]
    );
    // No file-level description: none at all.
    assert_eq!(
        one("x.json", r#"{"mcpServers": {"a": {"command": "a"}}}"#).description,
        None
    );
}

#[test]
fn vscode_workspace_file_with_comments_and_trailing_commas() {
    let text = r#"// VS Code writes JSONC
    {
      /* prompted values */
      "inputs": [{"type": "promptString", "id": "token", "password": true},],
      "servers": {
        "local": {
          "type": "stdio",
          "command": "uvx", // the runner
          "args": ["mcp-server-git", "--repository", "${workspaceFolder}",],
          "env": {"TOKEN": "${input:token}",},
        },
        "web": {"type": "http", "url": "http://localhost:3000/mcp",},
        "events": {"type": "sse", "url": "http://localhost:3001/sse"},
      },
    }"#;
    let entries = parse_file(".vscode/mcp.json", text).unwrap();
    assert_eq!(names(&entries), ["local", "web", "events"]);
    assert_eq!(entries[0].transport.as_deref(), Some("stdio"));
    assert_eq!(
        entries[0].args,
        ["mcp-server-git", "--repository", "${workspaceFolder}"]
    );
    assert_eq!(
        entries[0].env,
        [("TOKEN".to_string(), "${input:token}".to_string())]
    );
    assert_eq!(entries[1].transport.as_deref(), Some("http"));
    assert_eq!(entries[2].transport.as_deref(), Some("sse"));
    assert_eq!(entries[2].url.as_deref(), Some("http://localhost:3001/sse"));
}

#[test]
fn vscode_user_settings_mcp_servers() {
    let text = r#"{
      "editor.fontSize": 14, // unrelated settings around it
      "mcp": {
        "servers": {"gh": {"type": "stdio", "command": "github-mcp", "args": ["stdio"]}},
        "inputs": [],
      },
      "mcp.servers": {"flat": {"command": "flat-mcp"}},
    }"#;
    let entries = parse_file("/home/u/.config/Code/User/settings.json", text).unwrap();
    assert_eq!(names(&entries), ["gh", "flat"]);
    assert_eq!(entries[0].args, ["stdio"]);
    // A settings file without MCP servers is fine and empty.
    assert!(
        parse_file("settings.json", r#"{"editor.tabSize": 4}"#)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn codex_toml() {
    let text = r#"
model = "o4-mini"
description = "Codex servers"

[mcp_servers.docs]
command = "npx"
args = ["-y", "mcp-docs", 8080, true]
cwd = "/work"

[mcp_servers.docs.env]
API_KEY = "k"
PORT = 8080

[mcp_servers.off]
command = "off-mcp"
enabled = false

[mcp_servers.remote]
url = "https://mcp.example.com/mcp"
bearer_token_env_var = "TOKEN"
"#;
    let entries = parse_file("/home/u/.codex/config.toml", text).unwrap();
    assert_eq!(names(&entries), ["docs", "off", "remote"]);
    let docs = &entries[0];
    assert_eq!(docs.command.as_deref(), Some("npx"));
    assert_eq!(docs.args, ["-y", "mcp-docs", "8080", "true"]);
    assert_eq!(
        docs.env,
        [
            ("API_KEY".to_string(), "k".to_string()),
            ("PORT".to_string(), "8080".to_string())
        ]
    );
    assert_eq!(docs.cwd.as_deref(), Some("/work"));
    assert_eq!(docs.description.as_deref(), Some("Codex servers"));
    assert!(!docs.disabled);
    assert!(entries[1].disabled);
    assert_eq!(
        entries[2].url.as_deref(),
        Some("https://mcp.example.com/mcp")
    );
    assert_eq!(entries[2].transport, None);
}

#[test]
fn toml_is_chosen_by_suffix_and_reads_every_key() {
    // MCP_SERVERS_CONFIG may name a TOML file in the seed's own format (`mcpServers`), any case of suffix.
    let text =
        "[mcpServers.a]\ncommand = \"a\"\n[mcpServers.b]\ncommand = \"b\"\ndisabled = true\n";
    let entries = parse_file("/etc/mcp/SERVERS.TOML", text).unwrap();
    assert_eq!(names(&entries), ["a", "b"]);
    assert!(entries[1].disabled);
    // The same text as a .json file is a JSON syntax error, not silently empty.
    assert!(parse_file("servers.json", text).is_err());
    // Inline tables work too.
    let inline = "mcp_servers = { x = { command = \"x\", env = { A = \"1\" } } }\n";
    assert_eq!(
        one("c.toml", inline).env,
        [("A".to_string(), "1".to_string())]
    );
}

#[test]
fn disabled_entries_are_returned_and_marked() {
    let text = r#"{"mcpServers": {
        "off": {"command": "a", "disabled": true},
        "on": {"command": "b", "disabled": false},
        "opencode-off": {"command": "c", "enabled": false},
        "odd": {"command": "d", "disabled": "yes"}
    }}"#;
    let flags: Vec<_> = parse_file("x.json", text)
        .unwrap()
        .iter()
        .map(|e| e.disabled)
        .collect();
    // Only a real boolean disables: a string "yes" is not a setting we can trust either way.
    assert_eq!(flags, [true, false, true, false]);
}

#[test]
fn entries_without_command_or_url_are_skipped_not_errors() {
    let text = r#"{"mcpServers": {
        "empty": {},
        "blank": {"command": "  "},
        "numeric": {"command": 7},
        "text": "not an object",
        "list": ["npx"],
        "ok": {"command": "ok"},
        "args-only": {"args": ["x"]}
    }}"#;
    assert_eq!(names(&parse_file("x.json", text).unwrap()), ["ok"]);
}

#[test]
fn url_spellings_and_transports() {
    let windsurf = one(
        "mcp_config.json",
        r#"{"mcpServers": {"w": {"serverUrl": "https://w.example/mcp"}}}"#,
    );
    assert_eq!(windsurf.url.as_deref(), Some("https://w.example/mcp"));
    assert_eq!(windsurf.transport, None);
    let gemini = one(
        "settings.json",
        r#"{"mcpServers": {"g": {"httpUrl": "https://g.example/mcp"}}}"#,
    );
    assert_eq!(
        (gemini.url.as_deref(), gemini.transport.as_deref()),
        (Some("https://g.example/mcp"), Some("http"))
    );
    let sse = one(
        "x.json",
        r#"{"mcpServers": {"s": {"url": "https://s.example/sse", "transport": "sse"}}}"#,
    );
    assert_eq!(sse.transport.as_deref(), Some("sse"));
    let both = one(
        "x.json",
        r#"{"mcpServers": {"b": {"type": "streamable-http", "url": "u", "transport": "sse"}}}"#,
    );
    assert_eq!(
        both.transport.as_deref(),
        Some("http"),
        "`type` is read before `transport`"
    );

    for (raw, want) in [
        ("stdio", Some("stdio")),
        ("STDIO", Some("stdio")),
        ("local", Some("stdio")),
        ("http", Some("http")),
        ("streamable-http", Some("http")),
        ("streamable_http", Some("http")),
        ("streamableHttp", Some("http")),
        ("sse", Some("sse")),
        ("SSE", Some("sse")),
        ("websocket", None),
        ("remote", None),
    ] {
        assert_eq!(normalise_transport(raw), want, "{raw}");
    }
    // An unknown transport word keeps the server (the host infers from command/url).
    let ws = one(
        "x.json",
        r#"{"mcpServers": {"w": {"type": "websocket", "command": "w"}}}"#,
    );
    assert_eq!((ws.command.as_deref(), ws.transport), (Some("w"), None));
}

#[test]
fn values_are_stringified_like_the_seed_but_nulls_and_nesting_are_dropped() {
    let text = r#"{"mcpServers": {"a": {
        "command": "run",
        "args": ["--port", 8080, 1.5, true, null, ["nested"], {"k": "v"}, "last"],
        "env": {"N": 1, "B": false, "S": "s", "Z": null, "O": {"x": 1}}
    }}}"#;
    let e = one("x.json", text);
    assert_eq!(e.args, ["--port", "8080", "1.5", "true", "last"]);
    let env: Vec<_> = e.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(env, ["N=1", "B=false", "S=s"]);
}

#[test]
fn env_as_a_list_and_command_as_argv() {
    // Older opencode: env is a list of KEY=VALUE strings. Newer opencode: command is the whole argv.
    let text = r#"{"mcpServers": {"o": {
        "type": "local",
        "command": ["bunx", "my-mcp", "--flag"],
        "args": ["extra"],
        "env": ["A=1", "B=x=y", "broken", "=nokey"]
    }}}"#;
    let e = one("/home/u/.opencode.json", text);
    assert_eq!(e.command.as_deref(), Some("bunx"));
    assert_eq!(e.args, ["my-mcp", "--flag", "extra"]);
    assert_eq!(
        e.env,
        [
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "x=y".to_string())
        ]
    );
    assert_eq!(e.transport.as_deref(), Some("stdio"));
}

#[test]
fn keys_are_read_in_file_order_and_duplicates_are_all_returned() {
    // The host's merge keeps the first definition; the plugin reports what the file says, in order.
    let text = r#"{
      "servers": {"s": {"command": "from-servers"}},
      "mcpServers": {"s": {"command": "from-mcpServers"}, "t": {"command": "t"}}
    }"#;
    let entries = parse_file("x.json", text).unwrap();
    assert_eq!(names(&entries), ["s", "s", "t"]);
    assert_eq!(entries[0].command.as_deref(), Some("from-servers"));
}

#[test]
fn a_repeated_key_in_one_object_keeps_the_last_value_like_the_clients_do() {
    let text = r#"{"mcpServers": {
        "a": {"command": "old", "command": "new"},
        "b": {"command": "b"},
        "a": {"command": "replaced", "args": ["x"]}
    }}"#;
    let entries = parse_file("x.json", text).unwrap();
    assert_eq!(
        names(&entries),
        ["a", "b"],
        "the key keeps its first position"
    );
    assert_eq!(entries[0].command.as_deref(), Some("replaced"));
    assert_eq!(entries[0].args, ["x"]);
    let inner = one(
        "x.json",
        r#"{"mcpServers": {"a": {"command": "old", "command": "new"}}}"#,
    );
    assert_eq!(inner.command.as_deref(), Some("new"));
}

#[test]
fn broken_files_are_errors_with_a_position() {
    let err = parse_file(
        "x.json",
        "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"a\"}\n    \"b\": {}\n  }\n}",
    )
    .unwrap_err();
    assert!(err.starts_with("invalid JSON: "), "{err}");
    // The missing comma is reported where it belongs: right after the first entry's closing brace.
    assert_eq!(err, "invalid JSON: Expected comma on line 3 column 26");

    let err = parse_file("x.json", "{\"mcpServers\": {").unwrap_err();
    assert!(
        err.starts_with("invalid JSON: ") && err.contains("line 1"),
        "{err}"
    );

    let err = parse_file("c.toml", "[mcp_servers.a]\ncommand = \"a\"\nargs = [\n").unwrap_err();
    assert!(
        err.starts_with("invalid TOML: ") && err.contains("on line "),
        "{err}"
    );

    let err = parse_file("c.toml", "[mcp_servers.a]\ncommand = 'a'\ncommand = 'b'\n").unwrap_err();
    assert!(
        err.contains("duplicate key") && err.contains("on line 3 column 1"),
        "{err}"
    );

    // JSON5 liberties that no client writes stay errors.
    assert!(parse_file("x.json", "{'mcpServers': {}}").is_err());
    assert!(parse_file("x.json", "{mcpServers: {}}").is_err());
    assert!(
        parse_file(
            "x.json",
            r#"{"mcpServers": {"a": {"command": "a"} "b": {"command": "b"}}}"#
        )
        .is_err()
    );
}

#[test]
fn top_level_must_be_an_object() {
    assert_eq!(
        parse_file("x.json", "[1, 2]").unwrap_err(),
        "the top level is an array, not an object"
    );
    assert_eq!(
        parse_file("x.json", "\"text\"").unwrap_err(),
        "the top level is a string, not an object"
    );
}

#[test]
fn empty_files_and_files_without_servers_have_no_entries() {
    for text in [
        "",
        "   \n",
        "// nothing yet\n",
        "{}",
        "\u{feff}{}",
        "{\"mcpServers\": {}}",
        "{\"mcpServers\": []}",
    ] {
        assert!(parse_file("x.json", text).unwrap().is_empty(), "{text:?}");
    }
    assert!(parse_file("c.toml", "").unwrap().is_empty());
    assert!(parse_file("c.toml", "model = \"x\"\n").unwrap().is_empty());
}

#[test]
fn a_byte_order_mark_is_ignored() {
    assert_eq!(
        one(
            "x.json",
            "\u{feff}{\"mcpServers\": {\"a\": {\"command\": \"a\"}}}"
        )
        .name,
        "a"
    );
    assert_eq!(
        one("x.toml", "\u{feff}[mcp_servers.a]\ncommand = \"a\"\n").name,
        "a"
    );
}

#[test]
fn unicode_names_and_values_pass_through() {
    let e = one(
        "x.json",
        r#"{"mcpServers": {"Météo ☀": {"command": "météo", "args": ["\u00e9\n"]}}}"#,
    );
    assert_eq!(e.name, "Météo ☀");
    assert_eq!(e.args, ["é\n"]);
}

#[test]
fn configure_accepts_only_an_empty_object() {
    assert_eq!(configure("{}"), Ok(()));
    assert_eq!(configure(" { } "), Ok(()));
    assert_eq!(configure(""), Ok(()));
    let err = configure(r#"{"paths": [], "extra": 1}"#).unwrap_err();
    assert!(
        err.contains("no settings") && err.contains("`paths`") && err.contains("`extra`"),
        "{err}"
    );
    assert!(configure("[]").unwrap_err().contains("JSON object"));
    assert!(configure("{").unwrap_err().contains("not valid JSON"));
}

#[test]
fn wanted_files_in_precedence_order() {
    let listed: Vec<String> = WANTED.iter().map(|(b, p)| format!("{b:?}:{p}")).collect();
    assert_eq!(
        listed,
        [
            "Home:MCPs/*.json",
            "Home:.config/mcp/servers/*.json",
            "Cwd:mcp-servers/*.json",
            "Cwd:.vscode/mcp.json",
            "Cwd:.mcp.json",
            "Cwd:.cursor/mcp.json",
            "Home:.claude.json",
            "Home:.cursor/mcp.json",
            "Home:.opencode.json",
            "Home:.codeium/windsurf/mcp_config.json",
            "Home:.codex/config.toml",
            "Home:Library/Application Support/Claude Code/claude_code_config.json",
            "Home:Library/Application Support/Claude/claude_desktop_config.json",
            "Home:Library/Application Support/Code/User/settings.json",
            "Home:.config/Code/User/settings.json",
            "EnvVar:MCP_SERVERS_CONFIG",
        ]
    );
}

#[test]
fn wanted_patterns_are_relative_and_glob_only_the_last_component() {
    for (base, pattern) in WANTED {
        if *base == Base::EnvVar {
            assert!(
                pattern.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{pattern}"
            );
            continue;
        }
        assert!(
            !pattern.starts_with('/') && !pattern.contains('\\'),
            "{pattern}"
        );
        let parts: Vec<&str> = pattern.split('/').collect();
        assert!(
            parts
                .iter()
                .all(|p| !p.is_empty() && *p != ".." && *p != "."),
            "{pattern}"
        );
        let (last, dirs) = parts.split_last().unwrap();
        assert!(dirs.iter().all(|d| !d.contains(['*', '?'])), "{pattern}");
        assert!(!last.contains('?'), "{pattern}");
    }
    assert_eq!(
        WANTED.last().unwrap().0,
        Base::EnvVar,
        "MCP_SERVERS_CONFIG has the lowest precedence"
    );
}
