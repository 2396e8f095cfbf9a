//! Persistent sessions: `run_python` calls that name the same `session` run one after another in one container
//! and one interpreter, so globals, imports, `/workspace` and `/tmp` carry over.
//!
//! A session is owned by the connection that opened it (its key is the owner and the name) and holds one
//! container, started cold by its first call with the same body as every other (`container.rs`); its slot is
//! one of `MCP_BRIDGE_MAX_SESSIONS`, apart from the runs' concurrency slots. The first call's run frame names
//! the session; later calls go as `run` lines (PROTOCOL.md §2.1) and end with the runtime's `done`. A call
//! holds the session's lock from start to end, so calls to one session queue and never interleave. A call that
//! times out, is cancelled, or whose process dies (memory, `os._exit`) ends the session and removes its
//! container; so does `runtime.end_session()`, an idle time of `MCP_BRIDGE_SESSION_IDLE`, and [`MAX_AGE`]. The
//! next call naming an ended session starts a new one and is told why the old one ended.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::run::{self, Ending};
use super::start::{self, Purpose, Started};
use super::{ContainerUse, Engine, RunEnd, RunOutcome, RunSpec, SandboxError, SessionInfo, boot};
use crate::config::Config;

/// The longest a session's container lives (its own deadline, PROTOCOL.md §1): a call that would run past it
/// goes to a new session instead, with the reason said.
pub const MAX_AGE: Duration = Duration::from_secs(8 * 60 * 60);

/// How long a new session waits for an ended one's container to exit or be removed (its slot is held until then).
const REMOVAL_WAIT: Duration = Duration::from_secs(30);

/// How many ended sessions are remembered, to tell the next call naming one why its state is gone.
const ENDED_REMEMBERED: usize = 64;

/// (owner, name).
type Key = (String, String);

/// The open sessions of a bridge.
pub struct Sessions {
    config: Arc<Config>,
    slots: Arc<Semaphore>,
    live: Mutex<HashMap<Key, Arc<Session>>>,
    ended: Mutex<VecDeque<(Key, String)>>,
    sweeper: Once,
    background: TaskTracker,
    shutdown: CancellationToken,
}

/// One session: its container, behind the lock every call holds.
struct Session {
    key: Key,
    state: tokio::sync::Mutex<State>,
    last_used: Mutex<Instant>,
}

struct State {
    /// The container, between calls; `None` before the first call.
    container: Option<Started>,
    calls: u64,
    born: Option<Instant>,
    /// Ended: a call that was queued behind the one that ended it opens a new session.
    closed: bool,
    /// Why the previous session of this name ended, told to this one's first call.
    replaces: Option<String>,
}

impl Session {
    fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }
}

impl Sessions {
    /// No sessions yet; at most `config.max_sessions` at once.
    pub fn new(config: Arc<Config>, background: TaskTracker, shutdown: CancellationToken) -> Self {
        Sessions {
            slots: Arc::new(Semaphore::new(config.max_sessions)),
            config,
            live: Mutex::default(),
            ended: Mutex::default(),
            sweeper: Once::new(),
            background,
            shutdown,
        }
    }

    /// Runs `spec` as the next call of `owner`'s session `name`, opening the session if it is not open.
    pub async fn call(
        self: &Arc<Self>,
        engine: &Engine,
        spec: &RunSpec,
        cancel: &CancellationToken,
        owner: &str,
        name: &str,
    ) -> Result<RunOutcome, SandboxError> {
        self.start_sweeper();
        loop {
            let session = self.open(owner, name)?;
            let mut state = tokio::select! {
                state = session.state.lock() => state,
                _ = cancel.cancelled() => return Err(SandboxError::Cancelled),
            };
            if state.closed {
                continue;
            }
            session.touch();
            if let Some(born) = state.born
                && born.elapsed() + spec.timeout + Duration::from_secs(60) > MAX_AGE
            {
                let container = state.container.take();
                let reason = format!(
                    "it reached the {} h limit on a session's life",
                    MAX_AGE.as_secs() / 3600
                );
                self.close(&session, &mut state, reason);
                drop(container);
                continue;
            }
            let outcome = self
                .run_call(engine, spec, cancel, &session, &mut state)
                .await;
            session.touch();
            match outcome {
                // The session's container had stopped before this call reached it: a new one runs it.
                Ok(None) => continue,
                Ok(Some(outcome)) => return Ok(outcome),
                Err(error) => return Err(error),
            }
        }
    }

    /// The session `name` of `owner`, opened now if it is not open.
    fn open(&self, owner: &str, name: &str) -> Result<Arc<Session>, SandboxError> {
        let key = (owner.to_string(), name.to_string());
        let mut live = lock(&self.live);
        if let Some(session) = live.get(&key) {
            return Ok(session.clone());
        }
        if self.config.max_sessions == 0 {
            return Err(SandboxError::Session(
                "sessions are turned off (MCP_BRIDGE_MAX_SESSIONS=0): call run_python without `session`"
                    .into(),
            ));
        }
        if live.len() >= self.config.max_sessions {
            let mut mine: Vec<&str> = live
                .keys()
                .filter(|(o, _)| o == owner)
                .map(|(_, n)| n.as_str())
                .collect();
            mine.sort_unstable();
            return Err(SandboxError::Session(format!(
                "cannot open session '{name}': {} sessions are open, the limit (MCP_BRIDGE_MAX_SESSIONS); yours: {}. \
                 End one with runtime.end_session() inside it, reuse one, or call without `session`; an unused \
                 session ends after {} (MCP_BRIDGE_SESSION_IDLE)",
                self.config.max_sessions,
                if mine.is_empty() {
                    "none".to_string()
                } else {
                    mine.join(", ")
                },
                human(self.config.session_idle)
            )));
        }
        let replaces = {
            let mut ended = lock(&self.ended);
            ended
                .iter()
                .position(|(k, _)| *k == key)
                .and_then(|at| ended.remove(at))
                .map(|(_, reason)| reason)
        };
        let session = Arc::new(Session {
            key: key.clone(),
            state: tokio::sync::Mutex::new(State {
                container: None,
                calls: 0,
                born: None,
                closed: false,
                replaces,
            }),
            last_used: Mutex::new(Instant::now()),
        });
        live.insert(key, session.clone());
        Ok(session)
    }

    /// One call in the session whose lock `state` is; `None` when the session's container had stopped before
    /// the call reached it (the session is closed, and the call can go to a new one).
    async fn run_call(
        &self,
        engine: &Engine,
        spec: &RunSpec,
        cancel: &CancellationToken,
        session: &Arc<Session>,
        state: &mut State,
    ) -> Result<Option<RunOutcome>, SandboxError> {
        let name = session.key.1.as_str();
        let (mut container, deadline) = match state.container.take() {
            None => {
                // A slot of an ended session comes free once its container is removed, which is under way.
                let permit = tokio::select! {
                    permit = tokio::time::timeout(REMOVAL_WAIT, self.slots.clone().acquire_owned()) => permit,
                    _ = cancel.cancelled() => {
                        self.close(session, state, "a call to it was cancelled".into());
                        return Err(SandboxError::Cancelled);
                    }
                };
                let Ok(Ok(permit)) = permit else {
                    self.close(session, state, "no session slot came free".into());
                    return Err(SandboxError::Session(format!(
                        "cannot open session '{name}': the containers of ended sessions were not removed within \
                         {} s; the engine may be overloaded",
                        REMOVAL_WAIT.as_secs()
                    )));
                };
                let run_frame = boot::run_frame(spec, Some(name))
                    .map_err(|e| SandboxError::Engine(format!("encoding the run frame: {e}")))?;
                let purpose = Purpose::Session {
                    run_id: &spec.run_id,
                    run_frame,
                    lifetime: MAX_AGE,
                };
                // Not raced against `cancel`, like a cold run's start (see `Sandbox::run`).
                match start::start(engine, &self.config, purpose, permit).await {
                    Ok(started) => {
                        state.born = Some(Instant::now());
                        let deadline = started.started_at + spec.timeout;
                        (started, deadline)
                    }
                    Err(error) => {
                        self.close(
                            session,
                            state,
                            format!("its container did not start ({error})"),
                        );
                        return Err(error);
                    }
                }
            }
            Some(mut started) => {
                let line = boot::run_line(spec, name)
                    .map_err(|e| SandboxError::Engine(format!("encoding the run frame: {e}")))?;
                // The output limit is per call.
                started.received = 0;
                if let Err(reason) = started.stdin.send(line) {
                    self.close(session, state, reason.clone());
                    return Err(SandboxError::Engine(reason));
                }
                (started, Instant::now() + spec.timeout)
            }
        };
        state.calls += 1;
        let mut info = SessionInfo {
            name: name.to_string(),
            call: state.calls,
            ended: None,
            replaces: if state.calls == 1 {
                state.replaces.take()
            } else {
                None
            },
        };
        tracing::debug!(
            run = spec.run_id,
            session = name,
            call = info.call,
            container = container.guard.id(),
            "session call"
        );
        let call = run::read_call(&self.config, spec, cancel, &mut container, deadline).await;
        let container_use = ContainerUse {
            id: container.guard.id().to_string(),
            warm: false,
        };
        if let Ending::Done { exit, end: false } = call.ending {
            state.container = Some(container);
            return Ok(Some(RunOutcome {
                container: container_use,
                stdout: call.stdout.finish(),
                stderr: call.stderr.finish(),
                end: RunEnd::Exited(exit),
                session: Some(info),
            }));
        }
        if info.call > 1
            && !call.code_started
            && matches!(call.ending, Ending::Eof | Ending::Exited { .. })
        {
            // Something the code left running between calls ended the process (a thread's os._exit, memory).
            container.guard.remove_now().await;
            self.close(session, state, "its process ended between two calls".into());
            return Ok(None);
        }
        let ended_by_code = matches!(call.ending, Ending::Done { end: true, .. });
        let (guard, raw_stderr) = container.detach();
        let concluded = run::conclude(
            engine,
            &self.config,
            spec,
            cancel,
            guard,
            call.ending,
            deadline,
        )
        .await;
        let end = match concluded {
            Ok(end) => end,
            Err(unfinished) => {
                self.close(session, state, "a call to it was cancelled".into());
                return Err(match unfinished {
                    run::Unfinished::Failed(error) => error,
                    run::Unfinished::NeverStarted => SandboxError::Cancelled,
                });
            }
        };
        let reason = match &end {
            _ if ended_by_code => "the code called runtime.end_session()".to_string(),
            RunEnd::TimedOut(limit) => format!("the call timed out after {} s", limit.as_secs()),
            RunEnd::Failed { message, .. } => message.clone(),
            RunEnd::Exited(code) => format!("its process exited with code {code}"),
        };
        self.close(session, state, reason.clone());
        info.ended = Some(reason);
        let (stdout, stderr) = run::assemble(call.stdout, call.stderr, raw_stderr, &end);
        Ok(Some(RunOutcome {
            container: container_use,
            stdout,
            stderr,
            end,
            session: Some(info),
        }))
    }

    /// Ends `session` (its container, if any, is the caller's to drop): later calls naming it open a new one
    /// and are told `reason`.
    fn close(&self, session: &Arc<Session>, state: &mut State, reason: String) {
        state.closed = true;
        tracing::info!(session = session.key.1, "session ended: {reason}");
        let mut live = lock(&self.live);
        if live
            .get(&session.key)
            .is_some_and(|open| Arc::ptr_eq(open, session))
        {
            live.remove(&session.key);
        }
        drop(live);
        let mut ended = lock(&self.ended);
        ended.retain(|(key, _)| *key != session.key);
        if ended.len() >= ENDED_REMEMBERED {
            ended.pop_front();
        }
        ended.push_back((session.key.clone(), reason));
    }

    /// Starts, once, the task that ends sessions unused for `MCP_BRIDGE_SESSION_IDLE`.
    fn start_sweeper(self: &Arc<Self>) {
        self.sweeper.call_once(|| {
            let sessions = Arc::downgrade(self);
            let idle = self.config.session_idle;
            let tick = (idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
            let shutdown = self.shutdown.clone();
            self.background.spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(tick) => {}
                        _ = shutdown.cancelled() => return,
                    }
                    let Some(sessions) = sessions.upgrade() else {
                        return;
                    };
                    sessions.expire_idle(idle);
                }
            });
        });
    }

    /// Ends the sessions unused for `idle` that no call holds.
    fn expire_idle(&self, idle: Duration) {
        let stale: Vec<Arc<Session>> = lock(&self.live)
            .values()
            .filter(|session| session.idle_for() >= idle)
            .cloned()
            .collect();
        for session in stale {
            // A call holding the lock is not idle; it is looked at again next tick.
            let Ok(mut state) = session.state.try_lock() else {
                continue;
            };
            if state.closed || session.idle_for() < idle {
                continue;
            }
            let container = state.container.take();
            let reason = format!(
                "it was unused for {} (MCP_BRIDGE_SESSION_IDLE)",
                human(idle)
            );
            self.close(&session, &mut state, reason);
            // Dropping the container removes it in the background.
            drop(container);
        }
    }

    /// How many sessions are open.
    pub fn open_count(&self) -> usize {
        lock(&self.live).len()
    }
}

/// A duration as people say it: `15 min`, `90 s`, `2 h`.
fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data stays consistent under every lock here (single assignments), so a poisoned one is usable.
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(900)), "15 min");
        assert_eq!(human(Duration::from_secs(90)), "90 s");
        assert_eq!(human(Duration::from_secs(7200)), "2 h");
    }
}
