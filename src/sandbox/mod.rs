//! Running Python in a hardened, throwaway container through the Docker Engine API.
//!
//! [`Sandbox::run`] is the whole job: make sure the engine and image are ready, take a warm container from the
//! pool (`pool.rs`) or wait for a concurrency slot and start one cold (`start.rs`), run the code in it
//! (`run.rs`), and remove the container whatever happened (`live.rs`). Every container serves one run.
//! The in-container side is the Python runtime in `python/`, shipped over stdin (`boot.rs`); what the two sides
//! say to each other is [`protocol`] (`PROTOCOL.md`), read off the container's output by `frames.rs`.

mod boot;
pub mod container;
pub mod engine;
mod error;
mod frames;
pub mod images;
pub mod inputs;
mod live;
mod output;
mod pool;
pub mod protections;
pub mod protocol;
mod run;
mod seccomp;
mod session;
mod start;

use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use tokio::sync::{OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use boot::{MANUAL, runtime_files};
pub use container::LABEL;
pub use error::SandboxError;
use live::Reaper;
use pool::Pool;
pub use protocol::{Request, RequestError, Response, RpcError};
use session::Sessions;

use crate::config::Config;
pub use mcp_bridge_plugin_sdk::SessionInfo;

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
    /// Deadline, counted from the run frame (a warm container) or the container's start (a cold one).
    pub timeout: Duration,
    /// What the in-sandbox runtime is told about MCP servers (`{"loaded": [...], "discovered": [...]}`).
    pub server_info: serde_json::Value,
    /// Answers the run's tool requests.
    pub rpc: Arc<dyn RpcHandler>,
    /// Counts the run's output as it arrives, for progress reports.
    pub progress: Option<Arc<RunProgress>>,
    /// The limits on the files the run hands back, as the runtime is told them.
    pub attach: protocol::AttachLimits,
    /// The user's `[inputs]` directories as a tar, unpacked to `/workspace/in/` before the code runs.
    pub inputs: Option<Arc<Vec<u8>>>,
}

/// How far a run has got, for progress reports while it goes on.
#[derive(Debug, Default)]
pub struct RunProgress {
    output_lines: std::sync::atomic::AtomicU64,
}

impl RunProgress {
    /// Counts the complete lines of a piece of the run's output.
    pub fn saw_output(&self, text: &str) {
        let lines = text.bytes().filter(|&byte| byte == b'\n').count() as u64;
        self.output_lines
            .fetch_add(lines, std::sync::atomic::Ordering::Relaxed);
    }

    /// Lines of output (stdout and stderr) so far.
    pub fn output_lines(&self) -> u64 {
        self.output_lines.load(std::sync::atomic::Ordering::Relaxed)
    }
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

/// The container a run had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerUse {
    /// The engine's container id.
    pub id: String,
    /// Taken warm from the pool (true), or started for this run.
    pub warm: bool,
}

/// The result of a run that reached a container.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The container it ran in (removed by now, or being removed).
    pub container: ContainerUse,
    /// Captured stdout (within the output budget, cuts marked).
    pub stdout: String,
    /// Captured stderr, tracebacks included.
    pub stderr: String,
    /// How it ended.
    pub end: RunEnd,
    /// The session it ran in, for a call that named one.
    pub session: Option<SessionInfo>,
}

/// A negotiated engine with the image checked.
struct Engine {
    docker: Docker,
    /// Which engine (its socket), for messages.
    endpoint: String,
    /// Whether the engine kept every protection of the first container it created (`start::verify_kept`).
    kept: OnceCell<Result<(), protections::Refusal>>,
    reaper: Reaper,
    owner: String,
    /// How this engine reads the create request (Docker or Podman).
    dialect: container::Dialect,
}

impl Engine {
    /// The error for a run on an engine that lacks what `refusal` names.
    fn refused(&self, refusal: protections::Refusal) -> SandboxError {
        SandboxError::WeakerContainment {
            endpoint: self.endpoint.clone(),
            refusal,
        }
    }
}

/// Runs code in containers; shared by every request of a bridge process.
pub struct Sandbox {
    config: Arc<Config>,
    endpoint: engine::Endpoint,
    engine: OnceCell<Arc<Engine>>,
    pool: Arc<Pool>,
    sessions: Arc<Sessions>,
    /// Set by [`Sandbox::warm_up`]: the pool fills once the engine answers, even if it did not at start.
    pool_wanted: std::sync::atomic::AtomicBool,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    background: TaskTracker,
}

impl Sandbox {
    /// Prepares a sandbox; nothing is contacted until the first run (or [`Sandbox::warm_up`]).
    pub fn new(config: Arc<Config>) -> Result<Self, SandboxError> {
        // Requests outlive the longest run (a task's included, waits too) with room to spare.
        let request_timeout =
            config.max_task_timeout.max(config.max_timeout) + Duration::from_secs(60);
        let endpoint = engine::connect(config.runtime, request_timeout)?;
        let slots = Arc::new(Semaphore::new(config.max_concurrency));
        let shutdown = CancellationToken::new();
        let background = TaskTracker::new();
        Ok(Sandbox {
            pool: Pool::new(
                config.clone(),
                slots.clone(),
                shutdown.clone(),
                background.clone(),
            ),
            sessions: Arc::new(Sessions::new(
                config.clone(),
                background.clone(),
                shutdown.clone(),
            )),
            pool_wanted: std::sync::atomic::AtomicBool::new(false),
            slots,
            config,
            endpoint,
            engine: OnceCell::new(),
            shutdown,
            background,
        })
    }

    /// The engine, negotiated and checked on first use. That first use also starts (in the background) the
    /// removal of containers left by bridges that died, so every bridge start sweeps, `bridge run` included.
    async fn engine(&self) -> Result<&Arc<Engine>, SandboxError> {
        self.engine
            .get_or_try_init(|| async {
                let docker = engine::negotiate(&self.endpoint).await?;
                // Said once at start, off the first run's path.
                let (asked, at) = (docker.clone(), self.endpoint.description.clone());
                let unix_path = self.endpoint.unix_path.clone();
                self.background.spawn(async move {
                    match engine::describe(&asked, unix_path.as_deref()).await {
                        Ok(facts) => tracing::info!(
                            "container engine: {} {} ({}), API {}, at {at}",
                            facts.kind,
                            facts.version,
                            if facts.rootless {
                                "rootless"
                            } else {
                                "rootful"
                            },
                            facts.api_version
                        ),
                        Err(error) => tracing::warn!("container engine at {at}: {error}"),
                    }
                });
                engine::ensure_image(&docker, &self.config.image).await?;
                let info = docker.info().await.map_err(|error| {
                    SandboxError::Engine(format!("asking the engine what it can apply: {error}"))
                })?;
                self.check_protections(&info)?;
                if let Some(runtime) = &self.config.oci_runtime {
                    engine::ensure_runtime(&info, runtime)?;
                    tracing::info!(runtime, "sandboxes run under the OCI runtime {runtime}");
                }
                let podman = engine::is_podman(&docker).await;
                if let (true, Some(runtime)) = (podman, &self.config.oci_runtime) {
                    return Err(SandboxError::RuntimeIgnored {
                        runtime: runtime.clone(),
                        endpoint: self.endpoint.description.clone(),
                    });
                }
                let dialect = container::Dialect::new(podman, &self.config.state_dir)?;
                // Weak: the pool holds the engine, which holds the reaper.
                let pool = Arc::downgrade(&self.pool);
                let refill = move || {
                    if let Some(pool) = pool.upgrade() {
                        pool.refill();
                    }
                };
                let reaper = Reaper::new(docker.clone(), self.background.clone(), Arc::new(refill));
                let sweeper = reaper.clone();
                self.background.spawn(async move {
                    let removed = sweeper.sweep_orphans(&engine::boot_id()).await;
                    if removed > 0 {
                        tracing::info!(
                            "removed {removed} sandbox container(s) left by a bridge that died"
                        );
                    }
                });
                Ok(Arc::new(Engine {
                    endpoint: self.endpoint.description.clone(),
                    kept: OnceCell::new(),
                    dialect,
                    reaper,
                    docker,
                    owner: engine::owner_id(),
                }))
            })
            .await
    }

    /// Refuses an engine that cannot apply a protection the user did not allow to go (`MCP_BRIDGE_ALLOW_WEAKER`);
    /// says once what an allowed shortfall costs.
    fn check_protections(&self, info: &bollard::models::SystemInfo) -> Result<(), SandboxError> {
        let wanted = protections::Wanted {
            cpu_quota: self.config.cpus > 0.0,
        };
        let found = protections::shortfalls(info, wanted);
        let accepted = protections::check(found, &self.config.allow_weaker).map_err(|refusal| {
            SandboxError::WeakerContainment {
                endpoint: self.endpoint.description.clone(),
                refusal,
            }
        })?;
        for shortfall in accepted {
            tracing::warn!(
                "sandboxes run without {} ({}), as MCP_BRIDGE_ALLOW_WEAKER allows",
                shortfall.protection,
                shortfall.reason
            );
        }
        Ok(())
    }

    /// Contacts the engine now (negotiation, image check, the orphan sweep) instead of at the first run, and
    /// starts filling the pool of warm containers (`MCP_BRIDGE_POOL_SIZE`): what a long-lived `bridge serve`
    /// does at start. A one-shot `bridge run` skips it and runs cold.
    pub async fn warm_up(&self) -> Result<(), SandboxError> {
        self.pool_wanted
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let engine = self.engine().await?;
        self.pool.activate(engine.clone());
        Ok(())
    }

    /// Runs `spec` in a warm container when one is ready, else in a cold one, queueing for a slot when
    /// `MCP_BRIDGE_MAX_CONCURRENCY` containers exist. Cancelling `cancel` (or shutting the sandbox down) stops
    /// the run and removes its container.
    pub async fn run(
        &self,
        spec: &RunSpec,
        cancel: &CancellationToken,
    ) -> Result<RunOutcome, SandboxError> {
        let (cancel, _end_link) = self.linked(cancel);
        let engine = self.engine_unless(&cancel).await?;
        if self.pool_wanted.load(std::sync::atomic::Ordering::Relaxed) {
            // The engine may have come up only now (it did not answer at start); does nothing once active.
            self.pool.activate(engine.clone());
        }
        // A warm container that died before reading the run sends it here again, then only to a cold one. A
        // run longer than MCP_BRIDGE_MAX_TIMEOUT (a task) goes cold too: a warm container's own deadline allows
        // no more.
        let mut warm_allowed = spec.timeout <= self.config.max_timeout;
        loop {
            let outcome = match self.container_for(&cancel, warm_allowed).await? {
                // Its replacement starts once this run is done (`ContainerGuard::remove_later`), not here.
                Container::Warm(started) => {
                    run::execute(engine, &self.config, spec, &cancel, *started, true).await
                }
                Container::Cold(permit) => {
                    let purpose = start::Purpose::Run {
                        run_id: &spec.run_id,
                        run_frame: boot::run_frame(spec, None).map_err(|e| {
                            SandboxError::Engine(format!("encoding the run frame: {e}"))
                        })?,
                        timeout: spec.timeout,
                    };
                    // Not raced against `cancel`: a create the engine completed after the request was
                    // dropped would leave a container nobody tracks. The read loop sees the cancel at once.
                    let started = start::start(engine, &self.config, purpose, permit).await?;
                    run::execute(engine, &self.config, spec, &cancel, started, false).await
                }
            };
            match outcome {
                Ok(outcome) => return Ok(outcome),
                Err(run::Unfinished::Failed(error)) => return Err(error),
                Err(run::Unfinished::NeverStarted) => warm_allowed = false,
            }
        }
    }

    /// Runs `spec` as the next call of the session `name` that `owner` (an MCP connection) opened, opening it
    /// if it is not open: same interpreter, globals and files as the session's earlier calls. Calls to one
    /// session run one after another. See `session.rs` for what ends a session.
    pub async fn run_in_session(
        &self,
        spec: &RunSpec,
        owner: &str,
        name: &str,
        cancel: &CancellationToken,
    ) -> Result<RunOutcome, SandboxError> {
        let (cancel, _end_link) = self.linked(cancel);
        let engine = self.engine_unless(&cancel).await?;
        self.sessions.call(engine, spec, &cancel, owner, name).await
    }

    /// `cancel` linked to the sandbox's shutdown, and the guard that ends the link (drop it when the run is
    /// over, whichever way it ends).
    fn linked(
        &self,
        cancel: &CancellationToken,
    ) -> (CancellationToken, tokio_util::sync::DropGuard) {
        let linked = combine(cancel, &self.shutdown);
        let guard = linked.clone().drop_guard();
        (linked, guard)
    }

    /// The engine, unless `cancel` comes first.
    async fn engine_unless(
        &self,
        cancel: &CancellationToken,
    ) -> Result<&Arc<Engine>, SandboxError> {
        tokio::select! {
            engine = self.engine() => engine,
            _ = cancel.cancelled() => Err(SandboxError::Cancelled),
        }
    }

    /// Sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.sessions.open_count()
    }

    /// A ready warm container, or a slot for a cold start, whichever comes first (only a warm one when the
    /// pool serves every run).
    async fn container_for(
        &self,
        cancel: &CancellationToken,
        warm_allowed: bool,
    ) -> Result<Container, SandboxError> {
        let use_pool = warm_allowed && self.pool.is_active();
        let give_up = tokio::time::sleep(self.config.queue_wait);
        tokio::pin!(give_up);
        loop {
            let warmed = self.pool.warmed();
            tokio::pin!(warmed);
            warmed.as_mut().enable();
            if use_pool && let Some(started) = self.pool.take().await {
                return Ok(Container::Warm(Box::new(started)));
            }
            let cold_allowed = !(use_pool && self.pool.serves_every_run());
            // Biased: a free slot or warm container wins over giving up (`MCP_BRIDGE_QUEUE_WAIT=0` must still
            // take one that is free).
            tokio::select! {
                biased;
                permit = self.slots.clone().acquire_owned(), if cold_allowed => {
                    return permit.map(Container::Cold).map_err(|_| SandboxError::Cancelled);
                }
                _ = warmed, if use_pool => continue,
                _ = cancel.cancelled() => return Err(SandboxError::Cancelled),
                _ = &mut give_up => {
                    return Err(SandboxError::Busy {
                        limit: self.config.max_concurrency,
                        waited: self.config.queue_wait.as_secs(),
                    });
                }
            }
        }
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

    /// Warm containers ready for runs now.
    pub fn warm_containers(&self) -> usize {
        self.pool.idle()
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// Where a run goes.
enum Container {
    /// A warm container from the pool (it holds its own slot). Boxed: it carries its readers' buffers.
    Warm(Box<start::Started>),
    /// A slot for a container started for this run.
    Cold(tokio::sync::OwnedSemaphorePermit),
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
