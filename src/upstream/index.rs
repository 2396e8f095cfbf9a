//! Tool metadata for every discovered server, and search over it.
//!
//! `search_tool_docs` covers ALL discovered servers, not only the run's. Listing tools means starting a server,
//! so each server's last-known tool list is kept on disk (`<cache dir>/tools/<key>.json`), keyed by a hash of
//! the server's whole definition: a changed command, argument, env or url is a different key. A live server's
//! list (refreshed on `tools/list_changed`) always wins and rewrites the entry. A server with neither is started
//! just long enough to list its tools, then ended.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::Tool;
use serde_json::{Value, json};
use xxhash_rust::xxh3::xxh3_64;

use super::discovery::{DiscoveredServer, tool_aliases};
use super::{UpstreamClient, UpstreamError, Upstreams};

/// How long a search waits for a server that has neither a live connection nor a cache entry.
const SEARCH_START_TIMEOUT: Duration = Duration::from_secs(20);

/// How much of a tool's documentation to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Names only.
    Name,
    /// Names and description.
    Summary,
    /// Names, description and input schema.
    Full,
}

impl Detail {
    /// `name`, `summary` or `full` (case-insensitive); anything else is an error naming the choices.
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        match text.map(str::to_ascii_lowercase).as_deref() {
            None | Some("summary") => Ok(Detail::Summary),
            Some("name") => Ok(Detail::Name),
            Some("full") => Ok(Detail::Full),
            Some(other) => Err(format!(
                "detail must be 'name', 'summary' or 'full', not {other:?}"
            )),
        }
    }
}

/// The tool lists of all servers: live, else cached on disk, else fetched (and cached).
pub struct ToolCatalog {
    dir: Option<PathBuf>,
    /// The list last written for each server, so an unchanged list is not rewritten on every call.
    written: Mutex<HashMap<String, Arc<Vec<Tool>>>>,
}

impl ToolCatalog {
    /// A catalog caching in `<cache_dir>/tools`; `None` keeps nothing on disk.
    pub fn new(cache_dir: Option<PathBuf>) -> Self {
        ToolCatalog {
            dir: cache_dir.map(|d| d.join("tools")),
            written: Mutex::new(HashMap::new()),
        }
    }

    /// The tools of a server the caller is about to use: starts it if needed, and records the list.
    pub async fn live_tools(
        &self,
        client: &UpstreamClient,
    ) -> Result<Arc<Vec<Tool>>, UpstreamError> {
        let tools = client.tools().await?;
        let fresh = self.written.lock().map_or(true, |mut written| {
            let name = &client.server().name;
            let unchanged = written.get(name).is_some_and(|w| Arc::ptr_eq(w, &tools));
            written.insert(name.clone(), tools.clone());
            !unchanged
        });
        if fresh {
            self.store(client.server(), &tools);
        }
        Ok(tools)
    }

    /// The tools of a server for search: live list, else the disk cache, else list them from a throwaway
    /// instance of the server (bounded wait), so a search does not leave every configured server running.
    async fn known_tools(&self, client: &UpstreamClient) -> Option<Arc<Vec<Tool>>> {
        if let Some(tools) = client.current_tools() {
            return Some(tools);
        }
        let server = client.server();
        if let Some(tools) = self.load(server) {
            return Some(Arc::new(tools));
        }
        let indexer = UpstreamClient::new(server.clone(), client.limits());
        let listed = tokio::time::timeout(SEARCH_START_TIMEOUT, indexer.tools()).await;
        indexer.shutdown().await;
        match listed {
            Ok(Ok(tools)) => {
                self.store(server, &tools);
                Some(tools)
            }
            Ok(Err(error)) => {
                tracing::warn!(server = server.name, "not searchable: {error}");
                None
            }
            Err(_) => {
                tracing::warn!(
                    server = server.name,
                    "not searchable: no tool list within {} s",
                    SEARCH_START_TIMEOUT.as_secs()
                );
                None
            }
        }
    }

    /// Ranks the tools of every enabled server against `query`; at most `limit` docs.
    pub async fn search(
        &self,
        upstreams: &Upstreams,
        query: &str,
        limit: usize,
        detail: Detail,
    ) -> Vec<Value> {
        let terms: Vec<String> = query
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        if terms.is_empty() {
            return Vec::new();
        }
        let servers: Vec<&DiscoveredServer> = upstreams
            .servers()
            .iter()
            .filter(|s| !s.entry.disabled)
            .collect();
        let lists = futures::future::join_all(servers.iter().map(|server| async {
            let client = upstreams.client(&server.name)?;
            self.known_tools(client).await
        }))
        .await;
        let mut scored: Vec<(u32, Value)> = Vec::new();
        for (server, tools) in servers.iter().zip(lists) {
            let Some(tools) = tools else { continue };
            for (tool, alias) in tools.iter().zip(aliases(&tools)) {
                let score = relevance(&terms, server, tool, &alias);
                if score > 0 {
                    scored.push((score, doc(server, tool, &alias, detail)));
                }
            }
        }
        // Highest score first; ties in server precedence and tool order (the sort is stable).
        scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
        scored.into_iter().take(limit).map(|(_, d)| d).collect()
    }

    fn path(&self, server: &DiscoveredServer) -> Option<PathBuf> {
        let entry = &server.entry;
        let definition = json!({
            "name": server.name, "command": entry.command, "args": entry.args, "env": entry.env,
            "cwd": entry.cwd, "url": entry.url, "transport": entry.transport,
        });
        let key = xxh3_64(definition.to_string().as_bytes());
        Some(self.dir.as_ref()?.join(format!("{key:016x}.json")))
    }

    fn load(&self, server: &DiscoveredServer) -> Option<Vec<Tool>> {
        let text = std::fs::read_to_string(self.path(server)?).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn store(&self, server: &DiscoveredServer, tools: &[Tool]) {
        let Some(path) = self.path(server) else {
            return;
        };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let temporary = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&temporary, serde_json::to_vec(tools)?)?;
            std::fs::rename(&temporary, &path)
        };
        if let Err(error) = write() {
            tracing::warn!(path = %path.display(), "tool metadata cache not written: {error}");
        }
    }
}

/// The Python aliases of a tool list, in order.
pub fn aliases(tools: &[Tool]) -> Vec<String> {
    tool_aliases(tools.iter().map(|t| t.name.as_ref()))
}

/// A doc dict, as the seed shaped it: `server`, `serverAlias`, `tool`, `toolAlias`, `description` (unless
/// `name` detail or empty), `inputSchema` (`full` only).
pub fn doc(server: &DiscoveredServer, tool: &Tool, alias: &str, detail: Detail) -> Value {
    let mut doc = json!({
        "server": server.name, "serverAlias": server.alias, "tool": tool.name, "toolAlias": alias,
    });
    let description = tool.description.as_deref().map(str::trim);
    if let Some(description) = description.filter(|d| detail != Detail::Name && !d.is_empty()) {
        doc["description"] = json!(description);
    }
    if detail == Detail::Full {
        doc["inputSchema"] = Value::Object((*tool.input_schema).clone());
    }
    doc
}

/// Name hits weigh most, then server and description hits; a tool matching every term gets a bonus.
fn relevance(terms: &[String], server: &DiscoveredServer, tool: &Tool, alias: &str) -> u32 {
    let name = format!("{} {}", tool.name, alias).to_lowercase();
    let server_name = format!("{} {}", server.name, server.alias).to_lowercase();
    let description = tool
        .description
        .as_deref()
        .unwrap_or_default()
        .to_lowercase();
    let mut score = 0;
    let mut matched = 0;
    for term in terms {
        let mut hit = false;
        if tool.name.to_lowercase() == *term || alias == term {
            score += 8;
            hit = true;
        } else if name.contains(term.as_str()) {
            score += 4;
            hit = true;
        }
        if server_name.contains(term.as_str()) {
            score += 2;
            hit = true;
        }
        if description.contains(term.as_str()) {
            score += 1;
            hit = true;
        }
        matched += u32::from(hit);
    }
    if matched == terms.len() as u32 {
        score += 4 * matched;
    }
    if matched == 0 { 0 } else { score }
}
