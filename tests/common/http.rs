//! `bridge serve --http` as a child process on a free loopback port, for rmcp's Streamable HTTP client to
//! drive.

use std::process::Stdio;

use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient};
use serde_json::json;
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// A client token the bridge accepts.
pub const TOKEN: &str = "test-token-0123456789abcdef";
/// A second client's token.
pub const OTHER_TOKEN: &str = "other-token-0123456789abcdef";

/// A `bridge serve --http` child on a free loopback port, with a scratch home and the stub server configured.
pub struct HttpBridge {
    _dir: TempDir,
    pub child: Child,
    pub port: u16,
}

impl HttpBridge {
    /// Starts it with `extra` settings and, if given, a bridge config file; returns once it answers `/healthz`.
    pub async fn start(extra: &[(&str, &str)], bridge_config: Option<&str>) -> Self {
        let dir = TempDir::new().unwrap();
        let path = |p: &str| dir.path().join(p);
        std::fs::create_dir_all(path("home")).unwrap();
        let servers =
            json!({"mcpServers": {"stub": {"command": "python3", "args": [super::stub_script()]}}});
        std::fs::write(path("servers.json"), servers.to_string()).unwrap();
        std::fs::write(
            path("tokens"),
            format!("# clients\n{TOKEN}\n\n{OTHER_TOKEN}\n"),
        )
        .unwrap();
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_bridge"));
        command
            .args(["serve", "--http", &format!("127.0.0.1:{port}")])
            .arg("--token-file")
            .arg(path("tokens"))
            .current_dir(dir.path())
            .env("HOME", path("home"))
            .env("MCP_SERVERS_CONFIG", path("servers.json"))
            .env("MCP_BRIDGE_STATE_DIR", path("state"))
            .env("MCP_BRIDGE_CACHE_DIR", path("cache"))
            .env("MCP_BRIDGE_IMAGE", super::image())
            .env("MCP_BRIDGE_LOG_LEVEL", "warn")
            .env_remove("MCP_BRIDGE_HTTP_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        if let Some(text) = bridge_config {
            std::fs::write(path("bridge.toml"), text).unwrap();
            command.env("MCP_BRIDGE_CONFIG", path("bridge.toml"));
        }
        command.envs(extra.iter().copied());
        let child = command.spawn().unwrap();
        let bridge = HttpBridge {
            _dir: dir,
            child,
            port,
        };
        super::eventually("the bridge listens", || async {
            reqwest::get(bridge.url("/healthz")).await.is_ok()
        })
        .await;
        bridge
    }

    /// SIGTERM, then its exit, which must be a clean one within 20 s.
    pub async fn terminate(&mut self) {
        let pid = self.child.id().expect("the bridge is running");
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        let status = tokio::time::timeout(std::time::Duration::from_secs(20), self.child.wait())
            .await
            .expect("the bridge exits within 20 s of SIGTERM")
            .unwrap();
        assert!(status.success(), "{status}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A client of `handler` over HTTP with `token`, in `lifecycle`.
    pub async fn connect<H: ClientHandler>(
        &self,
        handler: H,
        token: &str,
        lifecycle: ClientLifecycleMode,
    ) -> RunningService<RoleClient, H> {
        let config =
            StreamableHttpClientTransportConfig::with_uri(self.url("/mcp")).auth_header(token);
        let transport = StreamableHttpClientTransport::from_config(config);
        handler
            .serve_with_lifecycle(transport, lifecycle)
            .await
            .expect("initialize or discover over HTTP")
    }
}
