//! A release `bridge serve` child driven by an rmcp client over stdio, or over HTTP (`serve --http`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{Peer, RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Value, json};

/// The bridge's own labels (src/sandbox/container.rs).
const BRIDGE_LABEL: &str = "mcp-bridge";
const BRIDGE_OWNER_LABEL: &str = "mcp-bridge.owner";
/// Its run label: `warm-<key>` on a pool container.
const BRIDGE_RUN_LABEL: &str = "mcp-bridge.run";
/// How long a pool may take to refill before the benchmark gives up.
const REFILL_LIMIT: Duration = Duration::from_secs(30);

/// One `bridge serve` process.
pub struct Bridge {
    pub client: RunningService<RoleClient, ()>,
    pub pid: u32,
    pub pool_size: usize,
    /// Spawn → `initialize` answered.
    pub started_in: Duration,
    /// The process, when the client does not own it (over HTTP).
    _child: Option<tokio::process::Child>,
}

impl Bridge {
    /// Spawns `bridge serve` with `vars`, its stderr to `log`.
    pub async fn spawn(binary: &Path, vars: &[(&str, String)], log: &Path) -> Result<Bridge> {
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = tokio::process::Command::new(binary);
        command.arg("serve");
        for (key, value) in vars {
            command.env(key, value);
        }
        let pool_size = vars
            .iter()
            .find(|(key, _)| *key == "MCP_BRIDGE_POOL_SIZE")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(2);
        let started = Instant::now();
        let (transport, _) = TokioChildProcess::builder(command)
            .stderr(Stdio::from(log_file))
            .spawn()
            .with_context(|| format!("spawning {} serve", binary.display()))?;
        let pid = transport.id().context("the bridge exited at once")?;
        let client = ()
            .serve(transport)
            .await
            .with_context(|| format!("MCP handshake with the bridge (see {})", log.display()))?;
        Ok(Bridge {
            client,
            pid,
            pool_size,
            started_in: started.elapsed(),
            _child: None,
        })
    }

    /// Spawns `bridge serve --http` on a free loopback port with `vars` (no token: loopback), its stderr to
    /// `log`, and connects an rmcp client with `initialize`, as over stdio.
    pub async fn spawn_http(binary: &Path, vars: &[(&str, String)], log: &Path) -> Result<Bridge> {
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("a free port")?
            .port();
        let mut command = tokio::process::Command::new(binary);
        command
            .args(["serve", "--http", &format!("127.0.0.1:{port}")])
            .env_remove("MCP_BRIDGE_HTTP_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        for (key, value) in vars {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("spawning {} serve --http", binary.display()))?;
        let pid = child.id().context("the bridge exited at once")?;
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            ensure!(
                started.elapsed() < REFILL_LIMIT,
                "the bridge did not listen (see {})",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let url = format!("http://127.0.0.1:{port}/mcp");
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(url),
        );
        let client = ().serve(transport).await.with_context(|| {
            format!(
                "MCP handshake over HTTP with the bridge (see {})",
                log.display()
            )
        })?;
        Ok(Bridge {
            client,
            pid,
            pool_size: 2,
            started_in: started.elapsed(),
            _child: Some(child),
        })
    }

    /// A handle for concurrent calls.
    pub fn peer(&self) -> Peer<RoleClient> {
        self.client.peer().clone()
    }

    /// Resident memory of the bridge process, in MiB.
    pub fn rss_mib(&self) -> f64 {
        rss_mib(self.pid)
    }

    /// Waits until the pool has its containers, all running, then a little longer for their runtimes to say
    /// `ready` (a container is `running` ~0.1 s before).
    pub async fn pool_full(&self, docker: &Docker) -> Result<()> {
        let started = Instant::now();
        loop {
            let (mine, running) = containers_of(docker, self.pid, true).await?;
            if mine == self.pool_size && running == self.pool_size {
                tokio::time::sleep(Duration::from_millis(300)).await;
                return Ok(());
            }
            if started.elapsed() > REFILL_LIMIT {
                bail!("the pool did not refill within {REFILL_LIMIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until the bridge has no container (a cold run's is removed in the background).
    pub async fn settled(&self, docker: &Docker) -> Result<()> {
        let started = Instant::now();
        while containers_of(docker, self.pid, false).await?.0 > 0 {
            if started.elapsed() > REFILL_LIMIT {
                bail!("the bridge's container was still there {REFILL_LIMIT:?} after the response");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    pub async fn stop(self) {
        let _ = self.client.cancel().await;
    }
}

/// One `run_python {"code": "print(1)"}` (in `session` if given), checked; its latency.
pub async fn call(peer: &Peer<RoleClient>, session: Option<&str>) -> Result<Duration> {
    let mut arguments = json!({"code": "print(1)"});
    if let Some(name) = session {
        arguments["session"] = name.into();
    }
    let Value::Object(arguments) = arguments else {
        unreachable!("a JSON object literal")
    };
    let started = Instant::now();
    let result = peer
        .call_tool(CallToolRequestParams::new("run_python").with_arguments(arguments))
        .await
        .context("tools/call run_python")?;
    let elapsed = started.elapsed();
    let payload = result.structured_content.clone().unwrap_or(Value::Null);
    ensure!(
        result.is_error != Some(true)
            && payload["status"] == "success"
            && payload["stdout"] == json!(["1"]),
        "run_python did not succeed with stdout [\"1\"]: {payload}"
    );
    Ok(elapsed)
}

/// (containers, running containers) of the bridge process `pid`; `warm`: its pool's only.
async fn containers_of(docker: &Docker, pid: u32, warm: bool) -> Result<(usize, usize)> {
    let marker = format!("/{pid}/");
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&HashMap::from([("label", vec![BRIDGE_LABEL])]))
        .build();
    let containers = mcp_bridge::sandbox::engine::list_containers(docker, options)
        .await
        .context("listing the bridge's containers")?;
    let mine: Vec<_> = containers
        .iter()
        .filter(|c| {
            let label = |name| c.labels.as_ref().and_then(|labels| labels.get(name));
            label(BRIDGE_OWNER_LABEL).is_some_and(|owner| owner.contains(&marker))
                && (!warm || label(BRIDGE_RUN_LABEL).is_some_and(|run| run.starts_with("warm-")))
        })
        .collect();
    let running = mine
        .iter()
        .filter(|c| c.state.map(|s| s.to_string()).as_deref() == Some("running"))
        .count();
    Ok((mine.len(), running))
}

/// VmRSS of `pid` in MiB (0 when it cannot be read).
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Builds the release `bridge` (`cargo build --release --bin bridge`) and returns its path.
pub fn build() -> Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => manifest_dir.join(dir),
        _ => manifest_dir.join("target"),
    };
    let binary = target_dir.join("release").join("bridge");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the release bridge (cargo build --release --bin bridge)…");
    let status = Command::new(&cargo)
        .args(["build", "--release", "--bin", "bridge"])
        .current_dir(&manifest_dir)
        .stdin(Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => bail!("`cargo build --release --bin bridge` failed ({status})"),
        Err(error) => bail!("cannot run {cargo:?} to build the bridge: {error}"),
    }
    ensure!(
        binary.is_file(),
        "{} is missing after the build",
        binary.display()
    );
    Ok(binary)
}
