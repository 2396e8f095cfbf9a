//! The configured MCP servers as plain data: what a discovery source reported ([`ServerEntry`], one
//! [`SourceFile`] per config file), and what the bridge offers after [`merge`]: the first definition of a name
//! wins, a project file never shadows the user's own ([`Shadowed`]), configs that would start this bridge again
//! are dropped ([`is_self_reference`]), and every server gets the Python alias the sandbox knows it by
//! (`mcp_<alias>`, `mcp.servers.<alias>`; [`tool_aliases`] names tools the same way, one level down).
//!
//! A leaf: pure functions, no plugin runtime, no filesystem and no crate-internal imports (only the plugin SDK's
//! plain [`ServerEntry`]), so both the plugin host (which fills entries from its discovery plugins) and
//! [`crate::upstream`] (which starts the servers) depend on it and not on each other.

mod alias;
mod self_reference;

use std::collections::HashSet;

pub use alias::{dedupe, server_alias, tool_alias, tool_aliases};
pub use self_reference::is_self_reference;

/// One configured MCP server as a discovery plugin reported it: the plugin SDK's type (a mirror of the WIT
/// record `server-entry`), so discovery plugins written with the SDK and the host share one definition.
pub use mcp_bridge_plugin_sdk::ServerEntry;

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

impl DiscoveredServer {
    /// What starts or reaches it, for people: the command line of a stdio server, else its URL.
    pub fn target(&self) -> String {
        match (&self.entry.command, &self.entry.url) {
            (Some(command), _) => std::iter::once(command.as_str())
                .chain(self.entry.args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            (None, Some(url)) => url.clone(),
            (None, None) => String::new(),
        }
    }
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

#[cfg(test)]
mod tests;
