//! The tool catalog ([`ToolCatalog`]): the tool list of every discovered server, the docs of each tool ([`doc`])
//! and search over all of them (`search_tool_docs`).
//!
//! `search_tool_docs` covers ALL discovered servers, not only the run's. Listing tools means starting a server,
//! so each server's last-known tool list is kept on disk (`<cache dir>/tools/<key>.json`), keyed by a hash of
//! the server's whole definition: a changed command, argument, env or url is a different key. A live server's
//! list (refreshed on `tools/list_changed`) always wins and rewrites the entry.
//!
//! A server with neither is started just long enough to list its tools, then ended, but only when the
//! searching run's [`StartGate`] allows it (the policies' `check-run` for that run using that server; an `ask`
//! counts as no, since search never prompts). Concurrent searches share one start per server; a server whose
//! listing failed is not started again before its back-off ([`backoff`]: 30 s, doubling up to 10 min) has
//! passed. Every start, and every start refused, is reported to the gate (the audit log).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use rmcp::model::Tool;
use serde_json::{Value, json};
use xxhash_rust::xxh3::xxh3_64;

use super::{UpstreamClient, UpstreamError, Upstreams};
use crate::plugins::Verdict;
use crate::servers::{DiscoveredServer, tool_aliases};

/// How long a search waits for a server that has neither a live connection nor a cache entry.
const SEARCH_START_TIMEOUT: Duration = Duration::from_secs(20);

/// The wait before a server whose listing failed once is started again by search.
const FIRST_BACKOFF: Duration = Duration::from_secs(30);

/// The longest wait between search starts of a server that keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

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

/// What became of a search's wish to start a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// The policies did not allow it (deny, or ask); nothing was started.
    Refused,
    /// Its last listing failed; it is not started again yet.
    Backoff {
        /// Failed listings in a row.
        failures: u32,
        /// Time left before the next try.
        retry_in: Duration,
    },
    /// It was started and listed this many tools.
    Listed(usize),
    /// It was started but gave no tool list.
    Failed(String),
}

/// Decides, for one run, whether search may start a server to list its tools, and records what happened.
pub trait StartGate: Send + Sync {
    /// The policies' verdict on this run using `server`; only [`Verdict::Allow`] lets search start it.
    fn check(&self, server: &DiscoveredServer) -> Verdict;
    /// Records a start or a refusal (called once per start, even when the search that asked has gone).
    fn record(&self, server: &DiscoveredServer, verdict: &Verdict, outcome: &StartOutcome);
}

/// A listing in progress, shared by every search that wants it.
type Listing = Shared<BoxFuture<'static, Option<Arc<Vec<Tool>>>>>;

/// Failed listings of one server.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    retry_at: Instant,
}

/// The wait after `failures` failed listings in a row: 30 s, doubling, at most 10 min.
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

/// The tool lists of all servers: live, else cached, else fetched (and cached).
pub struct ToolCatalog {
    state: Arc<State>,
}

struct State {
    dir: Option<PathBuf>,
    /// The list last written for each server, so an unchanged list is not rewritten on every call.
    written: Mutex<HashMap<String, Arc<Vec<Tool>>>>,
    /// Lists read from disk or fetched for search, by server name (so no cache dir still means one start).
    indexed: Mutex<HashMap<String, Arc<Vec<Tool>>>>,
    /// Listings under way, by server name.
    starting: Mutex<HashMap<String, Listing>>,
    /// Servers whose last listing failed.
    failures: Mutex<HashMap<String, Failures>>,
}

/// Locks a map that holds no invariant a panic could break.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl ToolCatalog {
    /// A catalog caching in `<cache_dir>/tools`; `None` keeps nothing on disk.
    pub fn new(cache_dir: Option<PathBuf>) -> Self {
        ToolCatalog {
            state: Arc::new(State {
                dir: cache_dir.map(|d| d.join("tools")),
                written: Mutex::new(HashMap::new()),
                indexed: Mutex::new(HashMap::new()),
                starting: Mutex::new(HashMap::new()),
                failures: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The tools of a server the caller is about to use: starts it if needed, and records the list.
    pub async fn live_tools(
        &self,
        client: &UpstreamClient,
    ) -> Result<Arc<Vec<Tool>>, UpstreamError> {
        let tools = client.tools().await?;
        let fresh = {
            let mut written = lock(&self.state.written);
            let name = &client.server().name;
            let unchanged = written.get(name).is_some_and(|w| Arc::ptr_eq(w, &tools));
            written.insert(name.clone(), tools.clone());
            !unchanged
        };
        if fresh {
            self.state.store(client.server(), &tools);
            lock(&self.state.indexed).insert(client.server().name.clone(), tools.clone());
        }
        Ok(tools)
    }

    /// The tools of a server for search: live list, else the cache, else (when `gate` allows) list them from
    /// a throwaway instance of the server (bounded wait), so a search does not leave servers running.
    async fn known_tools(
        &self,
        client: &UpstreamClient,
        gate: &Arc<dyn StartGate>,
    ) -> Option<Arc<Vec<Tool>>> {
        if let Some(tools) = client.current_tools() {
            return Some(tools);
        }
        let server = client.server();
        if let Some(tools) = self.state.cached(server) {
            return Some(tools);
        }
        let verdict = gate.check(server);
        if verdict != Verdict::Allow {
            gate.record(server, &verdict, &StartOutcome::Refused);
            return None;
        }
        let listing = {
            let mut starting = lock(&self.state.starting);
            match starting.get(&server.name) {
                Some(listing) => listing.clone(),
                None => {
                    // A listing may have finished since the first look: it fills the cache (or records its
                    // failure) before it leaves `starting`, so this second look under the lock is exact.
                    if let Some(tools) = self.state.cached(server) {
                        return Some(tools);
                    }
                    if let Some(failed) = self.state.backing_off(&server.name) {
                        gate.record(server, &verdict, &failed);
                        return None;
                    }
                    let listing = self.start_listing(client, gate.clone());
                    starting.insert(server.name.clone(), listing.clone());
                    listing
                }
            }
        };
        listing.await
    }

    /// Lists `client`'s server's tools from a fresh instance, in a task of its own: it finishes (and caches,
    /// and reports) even when every search waiting for it has gone.
    fn start_listing(&self, client: &UpstreamClient, gate: Arc<dyn StartGate>) -> Listing {
        let state = self.state.clone();
        let server = client.server().clone();
        let limits = client.limits();
        let task = tokio::spawn(async move {
            let indexer = UpstreamClient::new(server.clone(), limits);
            let listed = tokio::time::timeout(SEARCH_START_TIMEOUT, indexer.tools()).await;
            indexer.shutdown().await;
            let listed = match listed {
                Ok(Ok(tools)) => Ok(tools),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(format!(
                    "no tool list within {} s",
                    SEARCH_START_TIMEOUT.as_secs()
                )),
            };
            let outcome = match &listed {
                Ok(tools) => {
                    state.store(&server, tools);
                    lock(&state.indexed).insert(server.name.clone(), tools.clone());
                    lock(&state.failures).remove(&server.name);
                    StartOutcome::Listed(tools.len())
                }
                Err(error) => {
                    tracing::warn!(server = server.name, "not searchable: {error}");
                    let mut failures = lock(&state.failures);
                    let count = failures.get(&server.name).map_or(0, |f| f.count) + 1;
                    failures.insert(
                        server.name.clone(),
                        Failures {
                            count,
                            retry_at: Instant::now() + backoff(count),
                        },
                    );
                    StartOutcome::Failed(error.clone())
                }
            };
            // Recorded before leaving `starting`, so a later search's `backoff` line follows this one.
            gate.record(&server, &Verdict::Allow, &outcome);
            lock(&state.starting).remove(&server.name);
            listed.ok()
        });
        async move { task.await.ok().flatten() }.boxed().shared()
    }

    /// Ranks the tools of every enabled server against `query`; at most `limit` docs. Servers with no known
    /// tool list are started only as `gate` allows.
    pub async fn search(
        &self,
        upstreams: &Upstreams,
        query: &str,
        limit: usize,
        detail: Detail,
        gate: Arc<dyn StartGate>,
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
        // Neither disabled nor from an untrusted project: those are never listed, let alone started.
        let servers: Vec<&DiscoveredServer> = upstreams.usable().collect();
        let lists = futures::future::join_all(servers.iter().map(|server| {
            let gate = &gate;
            async move {
                let client = upstreams.client(&server.name)?;
                self.known_tools(client, gate).await
            }
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
}

impl State {
    /// A list got earlier by search, else the disk cache's.
    fn cached(&self, server: &DiscoveredServer) -> Option<Arc<Vec<Tool>>> {
        if let Some(tools) = lock(&self.indexed).get(&server.name) {
            return Some(tools.clone());
        }
        let tools = Arc::new(self.load(server)?);
        lock(&self.indexed).insert(server.name.clone(), tools.clone());
        Some(tools)
    }

    /// The back-off a failing server is still in, as the outcome to record.
    fn backing_off(&self, name: &str) -> Option<StartOutcome> {
        let failures = *lock(&self.failures).get(name)?;
        let retry_in = failures.retry_at.checked_duration_since(Instant::now())?;
        Some(StartOutcome::Backoff {
            failures: failures.count,
            retry_in,
        })
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

/// The Python aliases of a tool list, in order: [`tool_aliases`] over rmcp's tools (the alias rules live in
/// [`crate::servers`], which stays free of rmcp).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30_seconds_to_10_minutes() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600, 600]);
        assert_eq!(backoff(0).as_secs(), 30);
        assert_eq!(backoff(u32::MAX).as_secs(), 600);
    }
}
