//! The user's own MCP servers ("upstream" of the sandbox) at run time: which ones are configured
//! ([`Upstreams::discover`] runs the discovery plugins; [`crate::servers`] merges what they found and names
//! each), the live clients that reach their tools ([`client`]), and the catalog of those tools ([`catalog`]).
//!
//! Servers defined only in project files (the working directory's `.mcp.json`, `.vscode/mcp.json`, …) get no
//! client until the user trusts the project: they are listed, never started, and a run cannot name them.

pub mod catalog;
pub mod client;
mod transport;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::plugins::{DiscoveryContext, PluginHost};
use crate::servers::{self, DiscoveredServer, Shadowed, SourceFile};
pub use client::{UpstreamClient, UpstreamError, UpstreamLimits};

/// A discovery source that could not be read, for warnings.
#[derive(Debug, Clone)]
pub struct SkippedSource {
    /// The file.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Every configured server, with a (lazily started) client for each usable one.
pub struct Upstreams {
    servers: Vec<DiscoveredServer>,
    clients: HashMap<String, Arc<UpstreamClient>>,
    skipped: Vec<SkippedSource>,
    shadowed: Vec<Shadowed>,
    /// The project's servers may be used (the user trusts the project).
    project_trusted: bool,
    /// How the user trusts the project, for messages.
    trust_hint: String,
}

impl Upstreams {
    /// Runs the discovery plugins over the config files (home and `cwd`) and merges what they found. The
    /// project's servers get clients only when `project_trusted`; `trust_hint` tells the user how to trust it.
    /// Nothing is started.
    pub fn discover(
        config: &Config,
        plugins: &PluginHost,
        cwd: &Path,
        project_trusted: bool,
        trust_hint: &str,
    ) -> Self {
        let context = DiscoveryContext {
            home: config.home.clone(),
            cwd: cwd.to_path_buf(),
            env: Box::new(|name| std::env::var(name).ok()),
        };
        let mut skipped = Vec::new();
        let mut files = Vec::new();
        for file in plugins.discover(&context) {
            match file.entries {
                Ok(entries) => files.push(SourceFile {
                    plugin: file.plugin,
                    path: file.path.display().to_string(),
                    project: file.project,
                    entries,
                }),
                Err(reason) => {
                    tracing::warn!(file = %file.path.display(), "skipped MCP server config: {reason}");
                    skipped.push(SkippedSource {
                        path: file.path.display().to_string(),
                        reason,
                    });
                }
            }
        }
        let merged = servers::merge(files, config.allow_self_server);
        for shadowed in &merged.shadowed {
            tracing::warn!(
                server = shadowed.name,
                "{} defines this server too; the definition in {} is used",
                shadowed.project_source,
                shadowed.user_source
            );
        }
        let limits = UpstreamLimits {
            max_message_bytes: config.max_tool_result_bytes,
            call_timeout: config.tool_timeout,
        };
        let clients = merged
            .servers
            .iter()
            .filter(|s| project_trusted || !s.project)
            .map(|s| {
                let client = UpstreamClient::new(s.clone(), limits);
                (s.name.clone(), Arc::new(client))
            })
            .collect();
        Upstreams {
            servers: merged.servers,
            clients,
            skipped,
            shadowed: merged.shadowed,
            project_trusted,
            trust_hint: trust_hint.to_string(),
        }
    }

    /// The servers, in precedence order (disabled and untrusted ones included, for listing).
    pub fn servers(&self) -> &[DiscoveredServer] {
        &self.servers
    }

    /// The servers a run may use (and the sandbox is told about): neither disabled nor from an untrusted project.
    pub fn usable(&self) -> impl Iterator<Item = &DiscoveredServer> {
        self.servers
            .iter()
            .filter(|s| !s.entry.disabled && !self.is_untrusted(s))
    }

    /// Defined only in a project file the user has not trusted.
    pub fn is_untrusted(&self, server: &DiscoveredServer) -> bool {
        server.project && !self.project_trusted
    }

    /// Why server `name` cannot be used, when it is configured but disabled or untrusted.
    pub fn unusable_reason(&self, name: &str) -> Option<String> {
        let server = self.servers.iter().find(|s| s.name == name)?;
        if server.entry.disabled {
            return Some(format!(
                "MCP server '{name}' is disabled in {}",
                server.source
            ));
        }
        self.is_untrusted(server).then(|| {
            format!(
                "MCP server '{name}' is defined in the project file {}, and the project is not trusted; {}",
                server.source, self.trust_hint
            )
        })
    }

    /// Project definitions that lost to the user's own.
    pub fn shadowed(&self) -> &[Shadowed] {
        &self.shadowed
    }

    /// Config files that were skipped.
    pub fn skipped(&self) -> &[SkippedSource] {
        &self.skipped
    }

    /// The client for `name` (none for an untrusted project's server).
    pub fn client(&self, name: &str) -> Option<&Arc<UpstreamClient>> {
        self.clients.get(name)
    }

    /// Names of the servers that can be used, for error messages.
    pub fn available_names(&self) -> Vec<&str> {
        self.usable().map(|s| s.name.as_str()).collect()
    }

    /// Ends every started server.
    pub async fn shutdown(&self) {
        futures::future::join_all(self.clients.values().map(|c| c.shutdown())).await;
    }
}
