//! One config file → server entries. The text (JSON, JSON with comments, or TOML) first becomes a small,
//! format-independent value tree that keeps the file's key order; the entry rules then run on that tree, so
//! every client's format gets exactly the same field handling.

use jsonc_parser::ast;

/// One configured server: the SDK's [`ServerEntry`], under the name the parsing rules use.
pub type Entry = mcp_bridge_plugin_sdk::ServerEntry;

/// A parsed document. Objects are ordered lists of pairs: the WIT promises entries in the file's order, and
/// first-come alias numbering (`_2`, `_3`) on the host depends on it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    /// A number (or TOML date/time), as written.
    Lit(String),
    Str(String),
    Arr(Vec<Val>),
    Obj(Vec<(String, Val)>),
}

/// The top-level keys (and `mcp` → `servers` nesting) that hold a name → server map:
/// `mcpServers` (Claude, Cursor, Windsurf, opencode, ~/MCPs), `servers` (VS Code's `mcp.json`),
/// `mcp_servers` (Codex's `[mcp_servers.<name>]` tables), `mcp.servers` (VS Code user `settings.json`).
const SERVER_MAPS: &[&str] = &["mcpServers", "servers", "mcp_servers", "mcp.servers"];

/// Parses one file: TOML when its path ends in `.toml` (as the seed decided), else JSON with comments and
/// trailing commas allowed (a superset of JSON, so plain JSON files parse the same).
///
/// An entry with neither `command` nor `url` is skipped, as are entries that are not objects: one odd entry
/// should not cost the user the rest of the file. A file that does not parse, or whose top level is not an
/// object, is an `Err` with the parser's message and position; the host then skips it with a warning.
/// An empty (or comments-only) file has no entries.
pub fn parse_file(path: &str, contents: &str) -> Result<Vec<Entry>, String> {
    // Editors on Windows like to write a byte-order mark; neither parser accepts one.
    let text = contents.strip_prefix('\u{feff}').unwrap_or(contents);
    let is_toml = path.to_ascii_lowercase().ends_with(".toml");
    let doc = if is_toml {
        toml_document(text)?
    } else {
        json_document(text)?
    };
    let top = match doc {
        None => return Ok(Vec::new()),
        Some(Val::Obj(top)) => top,
        Some(other) => return Err(format!("the top level is {}, not an object", kind(&other))),
    };
    let file_description = nonempty_str(get(&top, "description"));
    let mut entries = Vec::new();
    for (key, value) in &top {
        let servers = if SERVER_MAPS.contains(&key.as_str()) {
            Some(value)
        } else if key == "mcp" {
            // VS Code's settings.json nests its servers as `"mcp": { "servers": { ... } }`.
            match value {
                Val::Obj(fields) => get(fields, "servers"),
                _ => None,
            }
        } else {
            None
        };
        if let Some(Val::Obj(servers)) = servers {
            entries.extend(
                servers
                    .iter()
                    .filter_map(|(name, v)| entry(name, v, file_description.as_deref())),
            );
        }
    }
    Ok(entries)
}

/// One server's fields → an entry, or `None` when it names nothing to start or connect to.
fn entry(name: &str, value: &Val, file_description: Option<&str>) -> Option<Entry> {
    let Val::Obj(fields) = value else { return None };
    let field = |key: &str| get(fields, key);

    // `command` is normally a string; opencode's newer format gives the whole argv as an array.
    let (command, mut args) = match field("command") {
        Some(Val::Arr(items)) => {
            let mut argv = items.iter().filter_map(scalar_text);
            (argv.next().filter(|c| !c.trim().is_empty()), argv.collect())
        }
        other => (nonempty_str(other), Vec::new()),
    };
    if let Some(Val::Arr(items)) = field("args") {
        args.extend(items.iter().filter_map(scalar_text));
    }

    // Windsurf says `serverUrl`; Gemini says `httpUrl` for streamable HTTP (and `url` for SSE).
    let http_url = nonempty_str(field("httpUrl"));
    let url = nonempty_str(field("url"))
        .or_else(|| nonempty_str(field("serverUrl")))
        .or(http_url.clone());
    if command.is_none() && url.is_none() {
        return None;
    }
    let declared = nonempty_str(field("type")).or_else(|| nonempty_str(field("transport")));
    let transport = match declared {
        Some(t) => normalise_transport(&t),
        None if http_url.is_some() && http_url == url => Some("http"),
        None => None,
    };

    Some(Entry {
        name: name.to_string(),
        command,
        args,
        env: env_pairs(field("env")),
        cwd: nonempty_str(field("cwd")),
        description: nonempty_str(field("description"))
            .or_else(|| file_description.map(str::to_string)),
        url,
        transport: transport.map(str::to_string),
        // Claude/Cursor say `disabled: true`; Codex and opencode say `enabled: false`.
        disabled: field("disabled") == Some(&Val::Bool(true))
            || field("enabled") == Some(&Val::Bool(false)),
    })
}

/// Maps the many spellings of a transport to the WIT's three. An unknown value gives `None` (the host then
/// infers from `command`/`url`) rather than dropping the server over a word we do not know.
pub(crate) fn normalise_transport(raw: &str) -> Option<&'static str> {
    let key: String = raw
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .collect();
    match key.as_str() {
        // `local` is opencode's word for a spawned server.
        "stdio" | "local" => Some("stdio"),
        "http" | "streamablehttp" | "streamable" => Some("http"),
        "sse" => Some("sse"),
        _ => None,
    }
}

/// `env` as an object (everyone) or as a list of `KEY=VALUE` strings (older opencode). Scalars are
/// stringified like the seed's `str()`; null and nested values carry no meaningful text and are dropped.
fn env_pairs(value: Option<&Val>) -> Vec<(String, String)> {
    match value {
        Some(Val::Obj(vars)) => vars
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), scalar_text(v)?)))
            .collect(),
        Some(Val::Arr(items)) => items
            .iter()
            .filter_map(|item| match item {
                Val::Str(s) => s
                    .split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string())),
                _ => None,
            })
            .filter(|(k, _)| !k.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

fn scalar_text(value: &Val) -> Option<String> {
    match value {
        Val::Str(s) | Val::Lit(s) => Some(s.clone()),
        Val::Bool(b) => Some(b.to_string()),
        Val::Null | Val::Arr(_) | Val::Obj(_) => None,
    }
}

/// A string field with something in it; other types (or blank text) count as absent.
fn nonempty_str(value: Option<&Val>) -> Option<String> {
    match value {
        Some(Val::Str(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The value under `key` (objects hold each key once: see `from_json`).
fn get<'a>(fields: &'a [(String, Val)], key: &str) -> Option<&'a Val> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn kind(value: &Val) -> &'static str {
    match value {
        Val::Null => "null",
        Val::Bool(_) => "a boolean",
        Val::Lit(_) => "a number",
        Val::Str(_) => "a string",
        Val::Arr(_) => "an array",
        Val::Obj(_) => "an object",
    }
}

/// JSON with `//` and `/* */` comments and trailing commas, as VS Code and Claude write it. The other JSON5
/// liberties (single quotes, bare keys, hex, missing commas) stay errors: no client writes them, and accepting
/// them would turn a broken file into a silently different one. `Ok(None)` for an empty document.
pub(crate) fn json_document(text: &str) -> Result<Option<Val>, String> {
    let options = jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let parsed = jsonc_parser::parse_to_ast(text, &Default::default(), &options)
        .map_err(|e| format!("invalid JSON: {e}"))?;
    Ok(parsed.value.as_ref().map(from_json))
}

fn from_json(value: &ast::Value<'_>) -> Val {
    match value {
        ast::Value::NullKeyword(_) => Val::Null,
        ast::Value::BooleanLit(b) => Val::Bool(b.value),
        ast::Value::NumberLit(n) => Val::Lit(n.value.to_string()),
        ast::Value::StringLit(s) => Val::Str(s.value.to_string()),
        ast::Value::Array(a) => Val::Arr(a.elements.iter().map(from_json).collect()),
        ast::Value::Object(o) => {
            // A repeated key: the last value wins, at the first one's position, as in JavaScript's and Python's
            // JSON parsers, so we read what the client that owns the file reads.
            // (An index map, not a scan: a big `~/.claude.json` must not go quadratic.)
            let mut pairs: Vec<(String, Val)> = Vec::with_capacity(o.properties.len());
            let mut index = std::collections::HashMap::with_capacity(o.properties.len());
            for p in &o.properties {
                let (key, value) = (p.name.as_str(), from_json(&p.value));
                match index.get(key) {
                    Some(&at) => pairs[at] = (key.to_string(), value),
                    None => {
                        index.insert(key.to_string(), pairs.len());
                        pairs.push((key.to_string(), value));
                    }
                }
            }
            Val::Obj(pairs)
        }
    }
}

/// TOML (Codex's `config.toml`). The document tree's maps are sorted by key unless toml's `preserve_order`
/// feature is on, and that feature would leak into any other plugin of the workspace using toml; the keys'
/// spans give the file order back without it.
fn toml_document(text: &str) -> Result<Option<Val>, String> {
    let doc = toml::de::DeTable::parse(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| line_column(text, s.start))
            .map(|(l, c)| format!(" on line {l} column {c}"));
        format!("invalid TOML: {}{}", e.message(), at.unwrap_or_default())
    })?;
    Ok(Some(from_toml_table(doc.get_ref())))
}

fn from_toml_table(table: &toml::de::DeTable<'_>) -> Val {
    let mut pairs: Vec<_> = table.iter().collect();
    pairs.sort_by_key(|(k, _)| k.span().start);
    Val::Obj(
        pairs
            .into_iter()
            .map(|(k, v)| (k.get_ref().to_string(), from_toml(v.get_ref())))
            .collect(),
    )
}

fn from_toml(value: &toml::de::DeValue<'_>) -> Val {
    use toml::de::DeValue;
    match value {
        DeValue::String(s) => Val::Str(s.to_string()),
        DeValue::Integer(i) => Val::Lit(i.to_string()),
        DeValue::Float(f) => Val::Lit(f.to_string()),
        DeValue::Boolean(b) => Val::Bool(*b),
        DeValue::Datetime(d) => Val::Lit(d.to_string()),
        DeValue::Array(a) => Val::Arr(a.iter().map(|v| from_toml(v.get_ref())).collect()),
        DeValue::Table(t) => from_toml_table(t),
    }
}

/// 1-based line and column (in characters) of a byte offset, for error messages.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}
