//! One run in a started container (`start.rs`), to its end: send the run frame (a warm container) or find it
//! already sent (a cold one), read frames until the code has ended (PID 1's exit record and the end of
//! output), the deadline, cancellation, a flood or a protocol error, then remove the container.

use std::collections::HashSet;

use bollard::container::LogOutput;
use futures::StreamExt;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::live::ContainerGuard;
use super::output::BoundedOutput;
use super::protocol::{Frame, Response, RpcFrame, RpcResult, Stream};
use super::start::Started;
use super::{Engine, RpcError, RunEnd, RunOutcome, RunSpec, SandboxError, boot};
use crate::config::Config;

/// Requests of one run handled at once; more are refused at once (so a flood of requests cannot make the host
/// run unbounded upstream calls), and the code can retry once some have finished.
const MAX_IN_FLIGHT: usize = 64;

/// Why a run in a container produced no outcome.
#[derive(Debug)]
pub enum Unfinished {
    /// The run failed or was cancelled.
    Failed(SandboxError),
    /// A warm container ended before its runtime said it had read the run frame: the code never ran there,
    /// so the run can go to another container.
    NeverStarted,
}

impl From<SandboxError> for Unfinished {
    fn from(error: SandboxError) -> Self {
        Unfinished::Failed(error)
    }
}

/// How a call's read loop ended.
pub enum Ending {
    /// The runtime said `done`: the code finished with `exit` and all its output was sent (`end`: in a
    /// session, the code ended the session).
    Done {
        exit: i64,
        end: bool,
    },
    /// The output ended without `done`, and PID 1 reported how the runtime's process ended.
    Exited {
        code: i64,
    },
    Eof,
    TimedOut,
    Cancelled,
    Flood,
    Protocol(String),
}

/// What one call read from its container, up to how it ended.
pub struct Call {
    /// How the read loop ended.
    pub ending: Ending,
    /// The code's stdout.
    pub stdout: BoundedOutput,
    /// The code's stderr.
    pub stderr: BoundedOutput,
    /// The runtime said `started`: the code had its run frame.
    pub code_started: bool,
}

/// Runs `spec` in `container`, which serves no other run. A `warm` container (from the pool) gets its run frame
/// now and its deadline counts from here; a cold one was given it at start and its deadline counts from then.
pub async fn execute(
    engine: &Engine,
    config: &Config,
    spec: &RunSpec,
    cancel: &CancellationToken,
    mut container: Started,
    warm: bool,
) -> Result<RunOutcome, Unfinished> {
    let deadline = if warm {
        let run_frame = boot::run_frame(spec, None)
            .map_err(|e| SandboxError::Engine(format!("encoding the run frame: {e}")))?;
        if let Err(reason) = container.stdin.send(run_frame) {
            return Err(SandboxError::Engine(reason).into());
        }
        Instant::now() + spec.timeout
    } else {
        container.started_at + spec.timeout
    };
    tracing::debug!(
        run = spec.run_id,
        container = container.guard.id(),
        warm,
        "run"
    );
    let call = read_call(config, spec, cancel, &mut container, deadline).await;
    let (guard, raw_stderr) = container.detach();
    let container = super::ContainerUse {
        id: guard.id().to_string(),
        warm,
    };

    if warm && !call.code_started && matches!(call.ending, Ending::Eof | Ending::Exited { .. }) {
        tracing::warn!(
            run = spec.run_id,
            container = guard.id(),
            "the warm container ended before it read the run; the run goes to another"
        );
        guard.remove_now().await;
        return Err(Unfinished::NeverStarted);
    }
    let end = conclude(engine, config, spec, cancel, guard, call.ending, deadline).await?;
    let (stdout, stderr) = assemble(call.stdout, call.stderr, raw_stderr, &end);
    Ok(RunOutcome {
        container,
        stdout,
        stderr,
        end,
        session: None,
    })
}

/// Reads one call's frames from `container` until the code has ended (the runtime's `done`, or the end of the
/// output), the deadline, cancellation, a flood or a protocol error. Requests still in flight when it returns
/// are aborted. A single-use run and a session's call read alike; what the ending means is the caller's.
pub async fn read_call(
    config: &Config,
    spec: &RunSpec,
    cancel: &CancellationToken,
    container: &mut Started,
    deadline: Instant,
) -> Call {
    let Started {
        output,
        stdin,
        frames,
        container_stderr,
        raw_stderr,
        received,
        ..
    } = container;
    // Set by the runtime's `started` frame; a container that ends without it never ran the code.
    let mut code_started = false;
    let half = config.max_output_bytes / 2;
    let mut stdout = BoundedOutput::new("stdout", half);
    let mut stderr = BoundedOutput::new("stderr", config.max_output_bytes - half);
    let mut rpc_ids = HashSet::new();
    // Requests in flight; dropping the set (however the call ends) aborts them.
    let mut requests: JoinSet<Vec<u8>> = JoinSet::new();

    let ending = 'read: loop {
        let item = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break Ending::TimedOut,
            _ = cancel.cancelled() => break Ending::Cancelled,
            Some(reply) = requests.join_next() => {
                match reply {
                    Ok(reply) => if let Err(reason) = stdin.send(reply) {
                        break Ending::Protocol(reason);
                    },
                    Err(error) => tracing::warn!(run = spec.run_id, "rpc handler failed: {error}"),
                }
                continue;
            }
            item = output.next() => item,
        };
        let chunk = match item {
            Some(Ok(chunk)) => chunk,
            // The container's output ended: every process is gone, so PID 1 has reported or never will.
            end => {
                if let Some(Err(error)) = end {
                    tracing::debug!(run = spec.run_id, "attach stream ended: {error}");
                }
                break match container_stderr.exit() {
                    Some(code) => Ending::Exited { code },
                    None => Ending::Eof,
                };
            }
        };
        *received += chunk.as_ref().len() as u64;
        if *received > config.output_limit_bytes {
            break Ending::Flood;
        }
        match chunk {
            LogOutput::StdOut { message } => frames.push(&message),
            LogOutput::StdErr { message } => {
                let had_exit = container_stderr.exit().is_some();
                raw_stderr.push(&container_stderr.push(&message));
                if let (false, Some(code)) = (had_exit, container_stderr.exit()) {
                    tracing::debug!(run = spec.run_id, code, "exit record");
                }
                continue;
            }
            _ => continue,
        }
        while let Some(frame) = frames.next_frame() {
            match frame {
                Ok(Frame::Started) => code_started = true,
                // A cold container's runtime says it is ready before it reads the run frame already sent.
                Ok(Frame::Ready) => {}
                Ok(Frame::Out { s, d }) => {
                    if let Some(progress) = &spec.progress {
                        progress.saw_output(&d);
                    }
                    match s {
                        Stream::Stdout => stdout.push(&d),
                        Stream::Stderr => stderr.push(&d),
                    }
                }
                Ok(Frame::Done { exit, end }) => {
                    tracing::debug!(run = spec.run_id, exit, end, "done frame");
                    // The status is the code's own (PROTOCOL.md §4): waiting for PID 1's record as well would
                    // add the process's teardown to every run and tell nothing the code could not set itself.
                    break 'read Ending::Done { exit, end };
                }
                Ok(Frame::Rpc(RpcFrame { id, request })) => {
                    if !rpc_ids.insert(id) {
                        break 'read Ending::Protocol(format!("duplicate rpc id {id}"));
                    }
                    if requests.len() >= MAX_IN_FLIGHT {
                        let refusal = RpcError::new(format!(
                            "too many requests at once (at most {MAX_IN_FLIGHT} in flight); wait for some to finish"
                        ));
                        if let Err(reason) = stdin.send(rpc_reply(id, Err(refusal))) {
                            break 'read Ending::Protocol(reason);
                        }
                        continue;
                    }
                    let answer = spec.rpc.handle(request);
                    requests.spawn(async move { rpc_reply(id, answer.await) });
                }
                Err(error) => break 'read Ending::Protocol(error.to_string()),
            }
        }
    };
    Call {
        ending,
        stdout,
        stderr,
        code_started,
    }
}

/// How a run ended (for a session: one that ends the session), the container removed (in the
/// background when the code finished normally; now otherwise, so the engine's OOM flag can still be read).
pub async fn conclude(
    engine: &Engine,
    config: &Config,
    spec: &RunSpec,
    cancel: &CancellationToken,
    guard: ContainerGuard,
    ending: Ending,
    deadline: Instant,
) -> Result<RunEnd, Unfinished> {
    let end = match ending {
        Ending::Done { exit, .. } => {
            // The code is finished (the runtime exits once the detach above closed its stdin); the caller need
            // not wait for the removal.
            guard.remove_later();
            RunEnd::Exited(exit)
        }
        Ending::Exited { code } => {
            // The process ended without the runtime finishing (os._exit, a signal). A SIGKILL may be the memory
            // limit: the engine says so once the container has exited (PID 1 exits right after its record).
            let oom = code == 137
                && tokio::select! {
                    status = exit_status(engine, guard.id()) => status.is_ok_and(|(_, oom)| oom),
                    _ = tokio::time::sleep_until(deadline) => false,
                };
            guard.remove_now().await;
            ended_early(config, code, oom)
        }
        Ending::Cancelled => {
            guard.remove_now().await;
            return Err(SandboxError::Cancelled.into());
        }
        Ending::TimedOut => {
            guard.remove_now().await;
            RunEnd::TimedOut(spec.timeout)
        }
        Ending::Flood => {
            guard.remove_now().await;
            RunEnd::Failed {
                exit_code: None,
                message: format!(
                    "output limit exceeded: the code wrote more than {} bytes (MCP_BRIDGE_OUTPUT_LIMIT); the run was stopped",
                    config.output_limit_bytes
                ),
            }
        }
        Ending::Protocol(reason) => {
            guard.remove_now().await;
            RunEnd::Failed {
                exit_code: None,
                message: format!("sandbox protocol error ({reason}); the run was stopped"),
            }
        }
        Ending::Eof => {
            // No `done`: the process exited (or closed its protocol fd). Its exit status tells what happened.
            let exited = tokio::select! {
                status = exit_status(engine, guard.id()) => Some(status),
                _ = tokio::time::sleep_until(deadline) => None,
                _ = cancel.cancelled() => {
                    guard.remove_now().await;
                    return Err(SandboxError::Cancelled.into());
                }
            };
            guard.remove_now().await;
            match exited {
                None => RunEnd::TimedOut(spec.timeout),
                Some(Ok((code, oom))) => ended_early(config, code, oom),
                Some(Err(detail)) => engine_failed(&detail),
            }
        }
    };
    Ok(end)
}

/// The run's stdout and stderr text; the container's own stderr (bootstrap or interpreter failures) is added
/// when the run did not succeed.
pub fn assemble(
    stdout: BoundedOutput,
    stderr: BoundedOutput,
    raw_stderr: BoundedOutput,
    end: &RunEnd,
) -> (String, String) {
    let mut stderr = stderr.finish();
    let raw = raw_stderr.finish();
    if !raw.trim().is_empty() && !matches!(end, RunEnd::Exited(0)) {
        stderr.push_str(&raw);
    } else if !raw.trim().is_empty() {
        tracing::debug!("sandbox stderr: {raw}");
    }
    (stdout.finish(), stderr)
}

/// The `rpc_result` line for request `id`.
fn rpc_reply(id: u64, outcome: Result<Response, RpcError>) -> Vec<u8> {
    RpcResult { id, outcome }.to_line()
}

/// A run whose code did not finish: killed for memory, or exited without the runtime's completion.
fn ended_early(config: &Config, code: i64, oom: bool) -> RunEnd {
    if oom {
        return RunEnd::Failed {
            exit_code: Some(137),
            message: format!(
                "memory limit hit: the code used all of its {} MiB (MCP_BRIDGE_MEMORY) and was killed",
                config.memory_bytes >> 20
            ),
        };
    }
    let message = match code - 128 {
        // SIGSYS: the seccomp filter's kill (a system call of another ABI, such as `int 0x80`).
        31 => format!(
            "blocked system call: the sandbox's seccomp filter killed the code's process (exit {code}, SIGSYS) \
             for a system call it does not allow"
        ),
        9 => format!(
            "the code's process was killed (exit {code}, SIGKILL) before it finished, not by the memory limit"
        ),
        11 => format!("the interpreter crashed (exit {code}, SIGSEGV: a segmentation fault)"),
        6 => format!("the interpreter aborted (exit {code}, SIGABRT)"),
        signal if (1..=64).contains(&signal) => {
            format!(
                "the code's process was killed by signal {signal} (exit {code}) before it finished"
            )
        }
        _ => format!(
            "the code's process exited with code {code} before it finished (os._exit, or the runtime failed)"
        ),
    };
    RunEnd::Failed {
        exit_code: Some(code),
        message,
    }
}

/// Waits for the container to exit: (exit code, killed by the OOM killer), or why the engine could not say (it
/// stopped answering: restarted, or crashed).
async fn exit_status(engine: &Engine, id: &str) -> Result<(i64, bool), String> {
    let code = match engine.docker.wait_container(id, None).next().await {
        Some(Ok(response)) => response.status_code,
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(error)) => return Err(error.to_string()),
        None => return Err("its wait request ended without an answer".into()),
    };
    let oom = super::engine::inspect_container(&engine.docker, id)
        .await
        .ok()
        .and_then(|info| info.state)
        .and_then(|state| state.oom_killed)
        .unwrap_or(false);
    Ok((code, oom))
}

/// A run whose container the engine lost track of: the engine stopped answering (or forgot the container)
/// while the code ran.
fn engine_failed(detail: &str) -> RunEnd {
    RunEnd::Failed {
        exit_code: None,
        message: format!(
            "the container engine failed while the code ran (it was restarted or stopped: {detail}); the run's \
             container is gone and its result lost. Run it again: the bridge starts a new container once the \
             engine answers"
        ),
    }
}
