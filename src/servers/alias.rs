//! The Python names the sandbox knows servers and tools by, exactly as the seed sanitised them (seed §3.4): a
//! server `My-Server` is `mcp_my_server` / `mcp.servers.my_server`, its tool `read-file` is `read_file`, and
//! clashes are numbered in first-come order.

use std::collections::HashSet;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Server aliases as `merge` gives them: in order, duplicates numbered.
    fn server_aliases(names: &[&str]) -> Vec<String> {
        let mut taken = HashSet::new();
        names
            .iter()
            .map(|name| dedupe(server_alias(name), &mut taken))
            .collect()
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
            server_aliases(&["class", "Class", "class_"]),
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
}
