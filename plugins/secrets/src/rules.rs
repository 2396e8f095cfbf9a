//! The built-in rules: what each credential looks like, and the checks that keep lookalikes (prose, UUIDs, commit
//! SHAs, kebab-case names, pagination cursors) from firing.

/// What a match must also satisfy, beyond its regex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Nothing: the regex is specific enough.
    None,
    /// The secret has upper- and lower-case letters and digits (real API keys do; kebab-case names do not).
    Mixed,
    /// A `name = value` assignment: capture group 1 is the name, which must look secret (see [`secret_name`]),
    /// and the secret is a value that passes [`high_entropy`].
    Assignment,
}

/// One built-in rule.
pub struct Builtin {
    /// Its name, as `disable` and deny reasons give it.
    pub name: &'static str,
    /// What it finds, for reasons: "a GitHub token".
    pub label: &'static str,
    /// The regex.
    pub pattern: &'static str,
    /// The capture group that is the secret (0: the whole match).
    pub group: usize,
    /// The extra check.
    pub check: Check,
    /// Whether reasons may show the secret's first four characters: only where those are the credential type's
    /// public prefix (`ghp_`, `AKIA`), never for passwords or key material.
    pub show_prefix: bool,
}

/// The built-in rules, in priority order: where two match the same text, the earlier names it (so
/// `sk-ant-…` is an Anthropic key, not an OpenAI one, and `GITHUB_TOKEN=ghp_…` a GitHub token).
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "private-key",
        label: "a private key",
        pattern: r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s]*)",
        group: 0,
        check: Check::None,
        show_prefix: false,
    },
    Builtin {
        name: "aws-access-key-id",
        label: "an AWS access key id",
        pattern: r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
        group: 0,
        check: Check::None,
        show_prefix: true,
    },
    Builtin {
        name: "aws-secret-access-key",
        label: "an AWS secret access key",
        pattern: r#"(?i)\baws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        group: 1,
        check: Check::None,
        show_prefix: false,
    },
    Builtin {
        name: "github-token",
        label: "a GitHub token",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,247})\b",
        group: 0,
        check: Check::None,
        show_prefix: true,
    },
    Builtin {
        name: "gitlab-token",
        label: "a GitLab token",
        pattern: r"\bglpat-[A-Za-z0-9_-]{20,}",
        group: 0,
        check: Check::None,
        show_prefix: true,
    },
    Builtin {
        name: "slack-webhook",
        label: "a Slack webhook URL",
        pattern: r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]{6,}/B[A-Za-z0-9_]{6,}/[A-Za-z0-9_]{16,}",
        group: 0,
        check: Check::None,
        show_prefix: false,
    },
    Builtin {
        name: "slack-token",
        label: "a Slack token",
        pattern: r"\bxox[baprs]-[A-Za-z0-9-]{10,}",
        group: 0,
        check: Check::None,
        show_prefix: true,
    },
    Builtin {
        name: "anthropic-api-key",
        label: "an Anthropic API key",
        pattern: r"\bsk-ant-[A-Za-z0-9_-]{32,}",
        group: 0,
        check: Check::None,
        show_prefix: true,
    },
    Builtin {
        name: "openai-api-key",
        label: "an OpenAI-style API key",
        pattern: r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        group: 0,
        check: Check::Mixed,
        show_prefix: true,
    },
    Builtin {
        name: "stripe-key",
        label: "a Stripe live key",
        pattern: r"\b[sr]k_live_[A-Za-z0-9]{20,}",
        group: 0,
        check: Check::None,
        show_prefix: true,
    },
    Builtin {
        name: "google-api-key",
        label: "a Google API key",
        pattern: r"\bAIza[A-Za-z0-9_-]{35}",
        group: 0,
        check: Check::None,
        show_prefix: true,
    },
    Builtin {
        name: "jwt",
        label: "a JSON Web Token",
        pattern: r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        group: 0,
        check: Check::None,
        show_prefix: true,
    },
    Builtin {
        name: "secret-assignment",
        label: "a high-entropy value assigned to a secret-looking name",
        // name, optional quote, `:` or `=`, optional quote, optional auth scheme, then the value up to a
        // delimiter (not starting with `/`, `=` or `?`, so `https://…?key=…` is read as `key=…`, not as a value
        // of `https`). The name and the value are checked in code (`secret_name`, `high_entropy`).
        pattern: r#"([A-Za-z][A-Za-z0-9_.-]{0,63})["']?[ \t]*[:=][ \t]*["']?(?:(?:[Bb]earer|[Bb]asic|[Tt]oken)[ \t]+)?([^\s"'`,;&<>{}()\[\]=/?][^\s"'`,;&<>{}()\[\]?]*)"#,
        group: 2,
        check: Check::Assignment,
        show_prefix: false,
    },
];

/// The shortest value [`high_entropy`] accepts.
pub const MIN_LENGTH: usize = 12;
/// The Shannon entropy, in bits per character, a value must reach.
pub const MIN_ENTROPY: f64 = 3.0;

/// Words that make a name secret-looking, after splitting it into lower-case words (`apiKey`, `API_KEY` and
/// `api-key` all give `api` `key`, whose join `apikey` is here).
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "credential",
    "credentials",
    "authorization",
    "auth",
    "cookie",
];

/// Words that make a secret-looking name ordinary: pagination cursors, limits, metadata about a token.
const ORDINARY_WORDS: &[&str] = &[
    "page",
    "cursor",
    "next",
    "continuation",
    "url",
    "uri",
    "endpoint",
    "type",
    "path",
    "file",
    "name",
    "count",
    "limit",
    "max",
    "min",
    "length",
    "size",
    "expires",
    "expiry",
    "ttl",
    "usage",
    "budget",
];

/// The lower-case words of a name: split at anything but letters and digits, and where camelCase goes from
/// lower to upper case.
pub fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a name (a JSON key, or the left side of `name = value`) looks like it holds a secret.
pub fn secret_name(name: &str) -> bool {
    let words = words(name);
    if words.iter().any(|w| ORDINARY_WORDS.contains(&w.as_str())) {
        return false;
    }
    let pairs = words
        .windows(2)
        .map(|pair| format!("{}{}", pair[0], pair[1]));
    words
        .iter()
        .cloned()
        .chain(pairs)
        .any(|w| SECRET_WORDS.contains(&w.as_str()))
}

/// The Shannon entropy of `text`, in bits per character.
pub fn entropy(text: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut total = 0usize;
    for c in text.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    counts
        .values()
        .map(|&n| {
            let p = n as f64 / total as f64;
            -p * p.log2()
        })
        .sum()
}

/// Whether a value assigned to a secret-looking name is itself a likely secret: long enough, random enough,
/// letters mixed with digits or symbols, and not a placeholder (`${TOKEN}`, `<your key>`, `%s`, `****`).
pub fn high_entropy(value: &str) -> bool {
    if value.chars().count() < MIN_LENGTH || entropy(value) < MIN_ENTROPY {
        return false;
    }
    if value.starts_with(['$', '%', '<', '{', '*']) || value.contains("***") {
        return false;
    }
    let letters = value.chars().any(|c| c.is_alphabetic());
    let others = value.chars().any(|c| !c.is_alphabetic());
    letters && others
}

/// Whether an API-key-shaped match mixes upper- and lower-case letters and digits.
pub fn mixed(secret: &str) -> bool {
    secret.chars().any(|c| c.is_ascii_uppercase())
        && secret.chars().any(|c| c.is_ascii_lowercase())
        && secret.chars().any(|c| c.is_ascii_digit())
}

/// Strips an HTTP auth scheme (`Bearer `, `Basic `, `token `) from a header-like value: the credential is what
/// follows it.
pub fn strip_scheme(value: &str) -> (usize, &str) {
    for scheme in ["Bearer ", "bearer ", "Basic ", "basic ", "Token ", "token "] {
        if let Some(rest) = value.strip_prefix(scheme) {
            let rest_trimmed = rest.trim_start();
            return (value.len() - rest_trimmed.len(), rest_trimmed);
        }
    }
    (0, value)
}
