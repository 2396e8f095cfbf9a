//! Starting a container: create it, attach before start (so no output is lost), give it the boot frame, start
//! it. What comes out is a [`Started`] container — waiting warm in the pool for a run frame, or, on a cold
//! start, already given its run — that serves exactly one run (`run.rs`) and is then removed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bollard::container::{AttachContainerResults, LogOutput};
use bollard::query_parameters::{AttachContainerOptionsBuilder, CreateContainerOptionsBuilder};
use futures::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::frames::{FrameReader, StderrReader};
use super::live::ContainerGuard;
use super::output::BoundedOutput;
use super::protocol::{Frame, MAX_FRAME};
use super::{Engine, SandboxError, boot, container, protections};
use crate::config::Config;

/// Bytes of the container's own stderr (bootstrap failures, interpreter crashes) kept.
const RAW_STDERR_BUDGET: usize = 16 << 10;

/// The container's output: stdout (frames) and stderr (PID 1's exit record) as the engine attaches them.
pub type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// A started container and everything read from it so far. Dropping it removes the container (its guard).
pub struct Started {
    /// Removes the container and holds its concurrency slot.
    pub guard: ContainerGuard,
    /// The attach stream.
    pub output: Output,
    /// Its stdin.
    pub stdin: StdinFeed,
    /// Frames on stdout, split into lines.
    pub frames: FrameReader,
    /// PID 1's stderr: its exit record, and anything the bootstrap printed before user code ran.
    pub container_stderr: StderrReader,
    /// The raw stderr kept for the run's result when it fails.
    pub raw_stderr: BoundedOutput,
    /// Bytes received on the attach stream, for the flood limit.
    pub received: u64,
    /// When the engine started it.
    pub started_at: tokio::time::Instant,
}

/// What a container is started for.
pub enum Purpose<'a> {
    /// A cold start for one run: the run frame follows the boot frame at once.
    Run {
        /// The run's id (the container's name and label).
        run_id: &'a str,
        /// The run frame.
        run_frame: Vec<u8>,
        /// The run's timeout.
        timeout: Duration,
    },
    /// A session's container: its first call's run frame follows the boot frame; it lives for at most
    /// `lifetime` and serves the session's later calls.
    Session {
        /// The first call's run id (the container's name and label).
        run_id: &'a str,
        /// The first call's run frame (naming the session).
        run_frame: Vec<u8>,
        /// The longest it may live.
        lifetime: Duration,
    },
    /// A warm container for the pool, waiting for a run of at most `max_timeout` for at most `max_idle`.
    Warm {
        /// The key in its name and label.
        key: &'a str,
        /// How long it may wait for a run.
        max_idle: Duration,
    },
}

/// Creates, attaches and starts a container. `permit` (a concurrency slot) is held until the container has
/// exited, or, if it does not exit by itself, until it is removed ([`ContainerGuard`]).
pub async fn start(
    engine: &Engine,
    config: &Config,
    purpose: Purpose<'_>,
    permit: OwnedSemaphorePermit,
) -> Result<Started, SandboxError> {
    let docker = &engine.docker;
    // The container's own deadline (a backstop for a bridge that died): the run's timeout, or for a warm
    // container the longest it may wait plus the longest run it may get.
    let (label, lifetime, run_frame) = match purpose {
        Purpose::Run {
            run_id,
            run_frame,
            timeout,
        } => (run_id.to_string(), timeout, Some(run_frame)),
        Purpose::Session {
            run_id,
            run_frame,
            lifetime,
        } => (format!("session-{run_id}"), lifetime, Some(run_frame)),
        Purpose::Warm { key, max_idle } => {
            (format!("warm-{key}"), max_idle + config.max_timeout, None)
        }
    };
    let name = format!("mcp-bridge-{label}");
    let body = container::create_body(config, &label, &engine.owner, lifetime, &engine.dialect);
    // The first container shows whether the engine keeps what it is asked for (later ones get the same answer).
    let asked = match engine.kept.get() {
        Some(Ok(())) => None,
        Some(Err(refusal)) => return Err(engine.refused(refusal.clone())),
        None => body.host_config.clone(),
    };
    let admission = engine.reaper.admit().await.ok_or(SandboxError::Cancelled)?;
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .map_err(|error| create_error(error, &config.image))?;
    let guard = engine.reaper.track(created.id, permit, admission);
    tracing::debug!(container = guard.id(), name, "created");
    if let Some(asked) = asked {
        // Refused: dropping the guard removes the container, which never started.
        verify_kept(engine, guard.id(), &asked, config).await?;
    }

    let attach = AttachContainerOptionsBuilder::default()
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .build();
    let AttachContainerResults { output, input } = docker
        .attach_container(guard.id(), Some(attach))
        .await
        .map_err(|e| SandboxError::Engine(format!("attaching to the sandbox: {e}")))?;
    let mut first = boot::boot_frame().to_vec();
    if let Some(run_frame) = run_frame {
        first.extend_from_slice(&run_frame);
    }
    let stdin = StdinFeed::start(input, first);

    docker
        .start_container(guard.id(), None)
        .await
        .map_err(|e| SandboxError::Engine(format!("starting the sandbox: {e}")))?;
    tracing::debug!(container = guard.id(), "started");
    Ok(Started {
        guard,
        output,
        stdin,
        frames: FrameReader::new(MAX_FRAME),
        container_stderr: StderrReader::new(),
        raw_stderr: BoundedOutput::new("sandbox stderr", RAW_STDERR_BUDGET),
        received: 0,
        started_at: tokio::time::Instant::now(),
    })
}

/// Compares the engine's record of the container `id` with the host config `asked` for it, once per engine
/// (`Engine::kept`): a protection it dropped without saying so refuses every run, unless the user accepted
/// exactly that (`MCP_BRIDGE_ALLOW_WEAKER`, warned about once). An engine that does not answer is not cached:
/// the next container asks again.
async fn verify_kept(
    engine: &Engine,
    id: &str,
    asked: &bollard::models::HostConfig,
    config: &Config,
) -> Result<(), SandboxError> {
    let outcome = engine
        .kept
        .get_or_try_init(|| async {
            let inspected = engine
                .docker
                .inspect_container(id, None)
                .await
                .map_err(|e| SandboxError::Engine(format!("inspecting the new sandbox: {e}")))?;
            let kept = inspected.host_config.unwrap_or_default();
            let dropped = protections::dropped(asked, &kept);
            let outcome = protections::check(dropped, &config.allow_weaker);
            match &outcome {
                Ok(accepted) => {
                    for shortfall in accepted {
                        tracing::warn!(
                            "sandboxes run without {} ({}), as MCP_BRIDGE_ALLOW_WEAKER allows",
                            shortfall.protection,
                            shortfall.reason
                        );
                    }
                }
                Err(refusal) => tracing::error!("the container engine is refused: {refusal}"),
            }
            Ok::<_, SandboxError>(outcome.map(|_| ()))
        })
        .await?;
    outcome.clone().map_err(|refusal| engine.refused(refusal))
}

impl Started {
    /// Closes the attach connection and keeps what the removal and the report need: the guard and the
    /// container's own stderr. Closed first, because the engine will not finish removing a container while it
    /// is still trying to copy output to an attach client that stopped reading.
    pub fn detach(self) -> (ContainerGuard, BoundedOutput) {
        let Started {
            guard,
            output,
            stdin,
            raw_stderr,
            ..
        } = self;
        drop(output);
        drop(stdin);
        (guard, raw_stderr)
    }

    /// Reads until the runtime's `ready` frame: it has imported itself and waits for its run frame. Anything
    /// else first (output, a request, the end of the stream) means the container is of no use.
    pub async fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(frame) = self.frames.next_frame() {
                return match frame {
                    Ok(Frame::Ready) => Ok(()),
                    Ok(other) => Err(format!("expected the ready frame, got {other:?}")),
                    Err(error) => Err(error.to_string()),
                };
            }
            let item = tokio::time::timeout_at(deadline, self.output.next())
                .await
                .map_err(|_| format!("not ready within {} s", limit.as_secs()))?;
            match item {
                Some(Ok(LogOutput::StdOut { message })) => self.frames.push(&message),
                Some(Ok(LogOutput::StdErr { message })) => {
                    let text = self.container_stderr.push(&message);
                    self.raw_stderr.push(&text);
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(format!("attach stream: {error}")),
                None => return Err("it ended before it was ready".into()),
            }
        }
    }
}

/// The container's stdin, written by its own task so a container that stops reading can never block the read
/// loop. Replies the container has not read yet are capped: past the cap the run is stopped, so host memory
/// stays bounded whatever the container does.
pub struct StdinFeed {
    queue: mpsc::UnboundedSender<Vec<u8>>,
    unread: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// Bytes of replies a container may leave unread on its stdin.
const STDIN_BACKLOG_LIMIT: usize = 1 << 20;

impl StdinFeed {
    /// Starts the writer with the first bytes (the boot frame, and on a cold start the run frame; not counted
    /// against the backlog).
    fn start(mut input: Pin<Box<dyn AsyncWrite + Send>>, first: Vec<u8>) -> Self {
        let (queue, mut pending) = mpsc::unbounded_channel::<Vec<u8>>();
        let unread = Arc::new(AtomicUsize::new(0));
        let written = unread.clone();
        let task = tokio::spawn(async move {
            if input.write_all(&first).await.is_err() || input.flush().await.is_err() {
                return;
            }
            while let Some(bytes) = pending.recv().await {
                if input.write_all(&bytes).await.is_err() || input.flush().await.is_err() {
                    return;
                }
                written.fetch_sub(bytes.len(), Ordering::Relaxed);
            }
            let _ = input.shutdown().await;
        });
        StdinFeed {
            queue,
            unread,
            task,
        }
    }

    /// Queues bytes for the container; an error when it has stopped reading. The cap applies to what is
    /// already waiting, so one message of any size (a tool result over 1 MiB, a large run frame) still goes
    /// through.
    pub fn send(&self, bytes: Vec<u8>) -> Result<(), String> {
        let unread = self.unread.fetch_add(bytes.len(), Ordering::Relaxed);
        if unread > STDIN_BACKLOG_LIMIT {
            return Err(format!(
                "the sandbox left more than {STDIN_BACKLOG_LIMIT} bytes of replies unread on its stdin"
            ));
        }
        // A closed queue means the writer ended (the container closed stdin): nothing to deliver to.
        let _ = self.queue.send(bytes);
        Ok(())
    }
}

impl Drop for StdinFeed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn create_error(error: bollard::errors::Error, image: &str) -> SandboxError {
    match error {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        } => SandboxError::ImageMissing {
            image: image.to_string(),
            detail: message,
        },
        other => SandboxError::Engine(format!("creating the sandbox container: {other}")),
    }
}
