//! The discovery types: the files a source wants, the files it gets, and the servers it finds in them.

/// Where a wanted file is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The user's home directory.
    Home,
    /// The bridge's working directory (the project). Servers found here are used only once the user trusts the
    /// project, and never in place of a server the user defined.
    Cwd,
    /// The path held by an environment variable; the pattern is the variable's name.
    EnvVar,
}

/// A file the plugin wants to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePattern {
    /// Where `pattern` is relative to.
    pub base: Base,
    /// A relative path, `*` and `?` allowed within one path component (e.g. `MCPs/*.json`); for
    /// [`Base::EnvVar`], the variable's name. Absolute paths and `..` are refused.
    pub pattern: String,
}

impl FilePattern {
    /// A pattern relative to `base`.
    pub fn new(base: Base, pattern: impl Into<String>) -> Self {
        FilePattern {
            base,
            pattern: pattern.into(),
        }
    }
}

/// A file the host read for the plugin (read-only, size-capped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Where it was found.
    pub base: Base,
    /// Its path relative to `base` (for [`Base::EnvVar`]: the path the variable held).
    pub path: String,
    /// Its contents as UTF-8 text.
    pub contents: String,
}

/// One configured MCP server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerEntry {
    /// The name the user gave it (the key in the config file).
    pub name: String,
    /// The program to start, for stdio servers.
    pub command: Option<String>,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables for it, in file order.
    pub env: Vec<(String, String)>,
    /// The directory to start it in.
    pub cwd: Option<String>,
    /// What the server is for.
    pub description: Option<String>,
    /// The endpoint, for HTTP servers.
    pub url: Option<String>,
    /// `stdio`, `http` (streamable HTTP) or `sse`, when the file says.
    pub transport: Option<String>,
    /// Disabled in its config file: listed but never started.
    pub disabled: bool,
}
