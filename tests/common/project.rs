//! A scratch project for proxy tests: its own home (with the user's servers file), state, cache and optional
//! bridge config file, and a bridge or a run's proxy context built from it as `bridge serve` builds them.

use std::path::PathBuf;
use std::sync::Arc;

use mcp_bridge::bridge::{Bridge, Response};
use mcp_bridge::project::Workspace;
use mcp_bridge::proxy::audit::AuditLog;
use mcp_bridge::proxy::{Asker, ProxyContext};
use mcp_bridge::store::SandboxStore;
use mcp_bridge::upstream::catalog::ToolCatalog;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// A project directory with its own home, state, cache and (optionally) bridge config file; its servers are
/// configured in a file of the home (`~/.config/mcp/servers/`), as the user's own.
pub struct Project {
    pub dir: TempDir,
    extra: Vec<(String, String)>,
}

impl Project {
    pub fn new(servers: Value) -> Self {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("home/.config/mcp/servers")).unwrap();
        let project = Project {
            dir,
            extra: Vec::new(),
        };
        project.servers(servers);
        project
    }

    /// Replaces the user's servers file.
    pub fn servers(&self, servers: Value) {
        std::fs::write(
            self.path("home/.config/mcp/servers/test.json"),
            json!({ "mcpServers": servers }).to_string(),
        )
        .unwrap();
    }

    /// Just the edge-case stub.
    pub fn stub() -> Self {
        Self::new(json!({"stub": {"command": "python3", "args": [super::stub_script()]}}))
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn var(mut self, key: &str, value: &str) -> Self {
        self.extra.push((key.to_string(), value.to_string()));
        self
    }

    /// Writes `toml` as the bridge config file and points `MCP_BRIDGE_CONFIG` at it.
    pub fn with_config(self, toml: &str) -> Self {
        let path = self.path("bridge.toml");
        std::fs::write(&path, toml).unwrap();
        let path = path.display().to_string();
        self.var("MCP_BRIDGE_CONFIG", &path)
    }

    pub fn config(&self) -> mcp_bridge::config::Config {
        let vars = self.vars();
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        super::config(&vars)
    }

    /// The project's settings as environment variables, for a `bridge` child process.
    pub fn vars(&self) -> Vec<(String, String)> {
        let path = |p: &str| self.path(p).display().to_string();
        let mut vars = vec![
            ("HOME".to_string(), path("home")),
            ("MCP_BRIDGE_STATE_DIR".to_string(), path("state")),
            ("MCP_BRIDGE_CACHE_DIR".to_string(), path("cache")),
        ];
        vars.extend(self.extra.iter().cloned());
        vars
    }

    pub fn bridge(&self) -> Arc<Bridge> {
        Arc::new(Bridge::new_in(self.config(), self.dir.path()).expect("bridge builds"))
    }

    /// What a run's proxy is built from, as the bridge builds it.
    pub fn context(&self) -> ProxyContext {
        let config = self.config();
        let workspace = Workspace::open(&config, self.dir.path()).expect("workspace loads");
        let plugins = Arc::new(workspace.plugins);
        let upstreams = Arc::new(workspace.upstreams);
        ProxyContext {
            catalog: Arc::new(ToolCatalog::new(config.cache_dir.clone())),
            audit: Arc::new(AuditLog::new(&config.state_dir, workspace.settings.audit)),
            store: Arc::new(SandboxStore::new(
                &config.state_dir,
                config.store_quota_bytes,
            )),
            config: Arc::new(config),
            upstreams,
            plugins,
        }
    }

    pub fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("state/audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The audit lines of one event kind.
    pub fn audit_events(&self, event: &str) -> Vec<Value> {
        self.audit_lines()
            .into_iter()
            .filter(|l| l["event"] == event)
            .collect()
    }

    /// A servers-file entry for the stub that first appends its pid to `<project>/<name>-starts`.
    pub fn counted_server(&self, name: &str, stub_args: &[&str]) -> Value {
        let launcher = format!(
            "echo $$ >> '{}'; exec python3 '{}' {}",
            self.path(&format!("{name}-starts")).display(),
            super::stub_script(),
            stub_args.join(" ")
        );
        json!({"command": "sh", "args": ["-c", launcher]})
    }

    /// How many times a [`Project::counted_server`] was started.
    pub fn starts(&self, name: &str) -> usize {
        std::fs::read_to_string(self.path(&format!("{name}-starts")))
            .map_or(0, |s| s.lines().count())
    }
}

pub async fn run_with(
    bridge: &Bridge,
    servers: &[&str],
    code: &str,
    asker: Option<Arc<dyn Asker>>,
) -> Response {
    let arguments = super::args(json!({"code": code, "servers": servers, "timeout": 60}));
    bridge
        .run_python_for(
            &arguments,
            &CancellationToken::new(),
            mcp_bridge::bridge::Caller {
                asker,
                ..Default::default()
            },
        )
        .await
        .expect("not cancelled")
}

/// Runs `code` and asserts it succeeded; returns its stdout lines.
pub async fn ok(bridge: &Bridge, servers: &[&str], code: &str) -> Vec<String> {
    let response = run_with(bridge, servers, code, None).await;
    assert_eq!(
        response.payload.exit_code,
        Some(0),
        "stdout: {:?}\nstderr: {}",
        response.payload.stdout,
        super::stderr_text(&response)
    );
    response.payload.stdout
}
