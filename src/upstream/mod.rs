//! The user's own MCP servers ("upstream" of the sandbox): which ones are configured ([`discovery`]), under
//! which Python names, and the live clients that reach their tools ([`client`]).

pub mod client;
pub mod discovery;
pub mod index;
mod transport;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::plugins::{DiscoveryContext, PluginHost};
pub use client::{UpstreamClient, UpstreamError, UpstreamLimits};
pub use discovery::DiscoveredServer;

/// A discovery source that could not be read, for warnings.
#[derive(Debug, Clone)]
pub struct SkippedSource {
    /// The file.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Every configured server, with a (lazily started) client each.
pub struct Upstreams {
    servers: Vec<DiscoveredServer>,
    clients: HashMap<String, Arc<UpstreamClient>>,
    skipped: Vec<SkippedSource>,
}

impl Upstreams {
    /// Runs the discovery plugins over the user's config files (home and `cwd`) and merges what they found.
    /// Nothing is started.
    pub fn discover(config: &Config, plugins: &PluginHost, cwd: &Path) -> Self {
        let context = DiscoveryContext {
            home: config.home.clone(),
            cwd: cwd.to_path_buf(),
            env: Box::new(|name| std::env::var(name).ok()),
        };
        let mut skipped = Vec::new();
        let mut files = Vec::new();
        for file in plugins.discover(&context) {
            match file.entries {
                Ok(entries) => files.push((file.plugin, file.path.display().to_string(), entries)),
                Err(reason) => {
                    tracing::warn!(file = %file.path.display(), "skipped MCP server config: {reason}");
                    skipped.push(SkippedSource {
                        path: file.path.display().to_string(),
                        reason,
                    });
                }
            }
        }
        let mut upstreams = Self::from_servers(
            discovery::merge(files, config.allow_self_server),
            UpstreamLimits {
                max_message_bytes: config.max_tool_result_bytes,
            },
        );
        upstreams.skipped = skipped;
        upstreams
    }

    /// Upstreams for an already merged server list.
    pub fn from_servers(servers: Vec<DiscoveredServer>, limits: UpstreamLimits) -> Self {
        let clients = servers
            .iter()
            .map(|s| {
                let client = UpstreamClient::new(s.clone(), limits);
                (s.name.clone(), Arc::new(client))
            })
            .collect();
        Upstreams {
            servers,
            clients,
            skipped: Vec::new(),
        }
    }

    /// The servers, in precedence order (disabled ones included).
    pub fn servers(&self) -> &[DiscoveredServer] {
        &self.servers
    }

    /// Config files that were skipped.
    pub fn skipped(&self) -> &[SkippedSource] {
        &self.skipped
    }

    /// The client for `name`.
    pub fn client(&self, name: &str) -> Option<&Arc<UpstreamClient>> {
        self.clients.get(name)
    }

    /// Names of the servers that can be used (not disabled), for error messages.
    pub fn available_names(&self) -> Vec<&str> {
        self.servers
            .iter()
            .filter(|s| !s.entry.disabled)
            .map(|s| s.name.as_str())
            .collect()
    }

    /// Ends every started server.
    pub async fn shutdown(&self) {
        futures::future::join_all(self.clients.values().map(|c| c.shutdown())).await;
    }
}
