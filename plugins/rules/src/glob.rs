//! The tiny glob dialect of the `rules` policy: `*` matches any run of characters (including none), `?`
//! matches exactly one character, everything else matches itself, case-sensitively. The whole name must match.

/// A checked glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
}

/// Characters other glob dialects give a meaning that this one does not have. They are refused rather than
/// taken literally, so that `[a-z]*` or `{get,list}_*` fail at configuration instead of silently never matching.
const RESERVED: &[char] = &['[', ']', '{', '}', '\\'];

impl Glob {
    /// Checks a pattern; the error says what is wrong with it (the caller adds where it is).
    pub fn new(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("empty pattern (use \"*\" to match every name)".into());
        }
        if let Some(c) = pattern.chars().find(|c| RESERVED.contains(c)) {
            return Err(format!(
                "{pattern:?} contains {c:?}, which is not supported (only * and ? are wildcards)"
            ));
        }
        if let Some(c) = pattern.chars().find(|c| c.is_control()) {
            return Err(format!("{pattern:?} contains the control character {c:?}"));
        }
        Ok(Glob {
            pattern: pattern.chars().collect(),
        })
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        let pat = &self.pattern;
        let (mut p, mut n) = (0usize, 0usize);
        // Where to resume after the last `*`: the pattern index after it and the name index it now covers up to.
        let mut star: Option<(usize, usize)> = None;
        while n < name.len() {
            if p < pat.len() && (pat[p] == '?' || pat[p] == name[n]) {
                p += 1;
                n += 1;
            } else if p < pat.len() && pat[p] == '*' {
                star = Some((p + 1, n));
                p += 1;
            } else if let Some((sp, sn)) = star {
                // Let the last `*` swallow one more character and retry from there.
                p = sp;
                n = sn + 1;
                star = Some((sp, sn + 1));
            } else {
                return false;
            }
        }
        pat[p..].iter().all(|&c| c == '*')
    }
}

impl std::fmt::Display for Glob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.pattern.iter().collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, n: &str) -> bool {
        Glob::new(p).unwrap().matches(n)
    }

    #[test]
    fn literal_names_match_only_themselves() {
        assert!(m("github", "github"));
        assert!(!m("github", "github2"));
        assert!(!m("github", "gitHub"));
        assert!(!m("github", ""));
    }

    #[test]
    fn star_matches_any_run_including_none() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("get_*", "get_"));
        assert!(m("get_*", "get_issue"));
        assert!(!m("get_*", "forget_issue"));
        assert!(m("*_issue", "create_issue"));
        assert!(m("*issue*", "list_issues_by_label"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "axxbyybzc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(!m("a*b*c", "axxcyyb"));
        assert!(m("**", "x"));
        assert!(m("a*a*a*a*b", "aaaaaaaaaaaaaaab"));
        assert!(!m("a*a*a*a*b", "aaaaaaaaaaaaaaaa"));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(m("v?", "v1"));
        assert!(!m("v?", "v"));
        assert!(!m("v?", "v12"));
        assert!(m("?*", "x"));
        assert!(!m("?*", ""));
        assert!(m("caf?", "café"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(Glob::new("").unwrap_err().contains("empty"));
        assert!(Glob::new("[a-z]*").unwrap_err().contains("'['"));
        assert!(Glob::new("{get,list}_*").unwrap_err().contains("'{'"));
        assert!(Glob::new("a\\*").unwrap_err().contains("'\\\\'"));
        assert!(Glob::new("a\nb").unwrap_err().contains("control"));
    }
}
