//! Running Python in a hardened, throwaway container through the Docker Engine API.
//!
//! [`Sandbox::run`] is the whole job: wait for a concurrency slot, make sure the engine and image are ready,
//! run the code in a fresh container (`run.rs`), and remove the container whatever happened (`live.rs`).
//! The in-container side is the Python runtime in `python/`, shipped over stdin (`boot.rs`); what the two sides
//! say to each other is [`protocol`] (`PROTOCOL.md`), read off the container's output by `frames.rs`.

mod boot;
mod container;
mod engine;
mod frames;
mod live;
mod output;
pub mod protocol;
mod run;
mod seccomp;

use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use tokio::sync::{OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use boot::MANUAL;
pub use container::LABEL;
use live::Reaper;
pub use protocol::{Request, RequestError, Response, RpcError};

use crate::config::Config;

/// How long shutdown waits for the engine to confirm that every container is gone.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(20);

/// Answers the `rpc` frames of one run (tool proxying). Requests are handled concurrently; a reply is the
/// request's [`Response`], or an [`RpcError`] the sandbox raises as an exception.
pub trait RpcHandler: Send + Sync {
    /// Handles one request as it arrived: decoded, or refused by the decoder with why (the handler answers
    /// that with an error, and may log it).
    fn handle(
        &self,
        request: Result<Request, RequestError>,
    ) -> futures::future::BoxFuture<'static, Result<Response, RpcError>>;
}

/// What to run.
#[derive(Clone)]
pub struct RunSpec {
    /// Unique id, also in the container's name and labels.
    pub run_id: String,
    /// The Python source.
    pub code: String,
    /// MCP servers requested for this run.
    pub servers: Vec<String>,
    /// Deadline, counted from container start.
    pub timeout: Duration,
    /// What the in-sandbox runtime is told about MCP servers (`{"loaded": [...], "discovered": [...]}`).
    pub server_info: serde_json::Value,
    /// Answers the run's tool requests.
    pub rpc: Arc<dyn RpcHandler>,
}

impl std::fmt::Debug for RunSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSpec")
            .field("run_id", &self.run_id)
            .field("servers", &self.servers)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// The code finished with this exit status (0 ok, 1 uncaught exception, n from `SystemExit(n)`).
    Exited(i64),
    /// The deadline passed; the container was killed.
    TimedOut(Duration),
    /// The sandbox itself failed: out of memory, a protocol error, an output flood, an early exit.
    Failed {
        /// The container's exit status, when it got one.
        exit_code: Option<i64>,
        /// What happened, for the model.
        message: String,
    },
}

/// The result of a run that reached a container.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Captured stdout (within the output budget, cuts marked).
    pub stdout: String,
    /// Captured stderr, tracebacks included.
    pub stderr: String,
    /// How it ended.
    pub end: RunEnd,
}

/// Why a run could not produce an outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SandboxError {
    /// The engine's API did not answer.
    #[error(
        "cannot reach the container engine at {endpoint}: {detail}. Start the engine (for Docker: `dockerd` or \
         `systemctl start docker`), or point DOCKER_HOST / MCP_BRIDGE_RUNTIME at a running one"
    )]
    EngineUnavailable {
        /// Where we looked.
        endpoint: String,
        /// The engine client's error.
        detail: String,
    },
    /// The sandbox image is not there and could not be pulled.
    #[error(
        "sandbox image {image} is not available ({detail}). Either pull it where a registry is reachable \
         (`docker pull {image}`), or build the offline image with `scripts/build-offline-image.sh` and set \
         MCP_BRIDGE_IMAGE=mcp-bridge/sandbox:bookworm"
    )]
    ImageMissing {
        /// The image reference.
        image: String,
        /// Why the pull failed.
        detail: String,
    },
    /// The image cannot be used as a sandbox.
    #[error("sandbox image {image} cannot be used: {reason}")]
    ImageRefused {
        /// The image reference.
        image: String,
        /// Why.
        reason: String,
    },
    /// An engine request failed.
    #[error("{0}")]
    Engine(String),
    /// The caller cancelled the run (or the bridge is shutting down); its container was removed.
    #[error("the run was cancelled")]
    Cancelled,
}

/// A negotiated engine with the image checked.
struct Engine {
    docker: Docker,
    reaper: Reaper,
    owner: String,
    /// How the bridge's seccomp profile reaches this engine.
    seccomp: seccomp::Delivery,
}

/// Runs code in containers; shared by every request of a bridge process.
pub struct Sandbox {
    config: Arc<Config>,
    endpoint: engine::Endpoint,
    engine: OnceCell<Engine>,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    background: TaskTracker,
}

impl Sandbox {
    /// Prepares a sandbox; nothing is contacted until the first run (or [`Sandbox::warm_up`]).
    pub fn new(config: Arc<Config>) -> Result<Self, SandboxError> {
        // Requests outlive the longest run (waits included) with room to spare.
        let request_timeout = config.max_timeout + Duration::from_secs(60);
        let endpoint = engine::connect(config.runtime, request_timeout)?;
        Ok(Sandbox {
            slots: Arc::new(Semaphore::new(config.max_concurrency)),
            config,
            endpoint,
            engine: OnceCell::new(),
            shutdown: CancellationToken::new(),
            background: TaskTracker::new(),
        })
    }

    /// The engine, negotiated and checked on first use. That first use also starts (in the background) the
    /// removal of containers left by bridges that died, so every bridge start sweeps, `bridge run` included.
    async fn engine(&self) -> Result<&Engine, SandboxError> {
        self.engine
            .get_or_try_init(|| async {
                let docker = engine::negotiate(&self.endpoint).await?;
                engine::ensure_image(&docker, &self.config.image).await?;
                let seccomp = if engine::is_podman(&docker).await {
                    // Podman's compatible API reads `seccomp=` as a path on the engine's host.
                    let dir = self.config.state_dir.join("seccomp");
                    let path = seccomp::write_profile(&dir).map_err(|error| {
                        SandboxError::Engine(format!(
                            "writing the seccomp profile for Podman under {}: {error}",
                            dir.display()
                        ))
                    })?;
                    seccomp::Delivery::File(path)
                } else {
                    seccomp::Delivery::Inline
                };
                let reaper = Reaper::new(docker.clone(), self.background.clone());
                let sweeper = reaper.clone();
                self.background.spawn(async move {
                    let removed = sweeper.sweep_orphans(&engine::boot_id()).await;
                    if removed > 0 {
                        tracing::info!(
                            "removed {removed} sandbox container(s) left by a bridge that died"
                        );
                    }
                });
                Ok(Engine {
                    seccomp,
                    reaper,
                    docker,
                    owner: engine::owner_id(),
                })
            })
            .await
    }

    /// Contacts the engine now (negotiation, image check, the orphan sweep) instead of at the first run.
    pub async fn warm_up(&self) -> Result<(), SandboxError> {
        self.engine().await.map(|_| ())
    }

    /// Runs `spec`, queueing for a slot when `MCP_BRIDGE_MAX_CONCURRENCY` runs are under way. Cancelling
    /// `cancel` (or shutting the sandbox down) stops the run and removes its container.
    pub async fn run(
        &self,
        spec: &RunSpec,
        cancel: &CancellationToken,
    ) -> Result<RunOutcome, SandboxError> {
        let cancel = combine(cancel, &self.shutdown);
        // Ends the task `combine` spawned once this run is over, whichever way it ends.
        let _end_link = cancel.clone().drop_guard();
        let permit = tokio::select! {
            permit = self.slots.clone().acquire_owned() => permit.map_err(|_| SandboxError::Cancelled)?,
            _ = cancel.cancelled() => return Err(SandboxError::Cancelled),
        };
        let engine = tokio::select! {
            engine = self.engine() => engine?,
            _ = cancel.cancelled() => return Err(SandboxError::Cancelled),
        };
        run::execute(engine, &self.config, spec, &cancel, permit).await
    }

    /// Stops every run and removes every container this bridge created, waiting until the engine confirms they
    /// are gone, for at most [`SHUTDOWN_WAIT`]: past it (an engine that stopped answering) the containers end
    /// themselves at their deadline or when they see their stdin close, and the next bridge's start sweeps them.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.slots.close();
        if let Some(engine) = self.engine.get()
            && tokio::time::timeout(SHUTDOWN_WAIT, engine.reaper.remove_all())
                .await
                .is_err()
        {
            tracing::error!(
                "the engine did not confirm the removal of every sandbox container within {} s",
                SHUTDOWN_WAIT.as_secs()
            );
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// A token cancelled when either input is (and by its holder, which must cancel it when done with it).
fn combine(a: &CancellationToken, b: &CancellationToken) -> CancellationToken {
    let combined = b.child_token();
    let (a, linked) = (a.clone(), combined.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = a.cancelled() => linked.cancel(),
            _ = linked.cancelled() => {}
        }
    });
    combined
}
