//! The pool of warm, single-use containers (`MCP_BRIDGE_POOL_SIZE`).
//!
//! A warm container is created and started ahead of need with exactly the cold path's body (same flags, limits,
//! seccomp, user: `container.rs`), given the boot frame, and kept once its runtime says `ready` — imported and
//! waiting for its one run frame. A run takes it, sends the run frame, and the container is removed after that
//! run like any other: no container ever sees two runs. Its replacement starts in the background once the run
//! is done (its slot comes free then, `ContainerGuard::remove_later` and `Reaper::on_release`, and the
//! replacement is created while the used one exits and is deleted), or [`REFILL_DELAY`] after it was taken if
//! the run is still going. Starting a container keeps the engine busy for ~100 ms of CPU: begun while a quick
//! run's answer is still on its way, it put milliseconds on that answer on a 2-core host (pooled p95 10.3 →
//! 7.3 ms between two speed runs; BENCHMARKS.md).
//!
//! Refills never starve live runs: a refill takes a concurrency slot only when one is free right now
//! (`try_acquire`; the semaphore hands freed slots to waiting runs first), and at most [`MAX_STARTING`] are
//! under way at once. Each idle container holds its slot, so the pool counts in `MCP_BRIDGE_MAX_CONCURRENCY`.
//! A watcher per idle container retires it after `MCP_BRIDGE_POOL_MAX_IDLE`, and drops it the moment its attach
//! stream says anything (an engine restart, a container that died): a run never gets a dead one knowingly, and
//! one that dies in the instant between (the runtime never says `started`) sends its run to a cold container.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Engine;
use super::start::{self, Purpose, Started};
use crate::config::Config;

/// Containers being started for the pool at once: enough to refill behind a burst, few enough that the
/// engine's time goes to live runs.
const MAX_STARTING: usize = 2;

/// How long after a run took a warm container its replacement starts, if the run is not done by then (its end
/// starts it at once: [`Pool::refill`]).
const REFILL_DELAY: Duration = Duration::from_millis(250);

/// How long a warm container may take from create to `ready` before it is given up.
const READY_LIMIT: Duration = Duration::from_secs(30);

/// How long the pool waits after a failed start before trying again (the engine may be restarting), doubled
/// after each further failure up to [`RETRY_MAX`], so a missing image is not retried (and logged) every second.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(120);

/// Warm containers waiting for runs.
pub struct Pool {
    size: usize,
    max_idle: Duration,
    config: Arc<Config>,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    background: TaskTracker,
    /// Set by [`Pool::activate`] (`bridge serve`); a one-shot `bridge run` never fills a pool.
    engine: OnceLock<Arc<Engine>>,
    state: Mutex<State>,
    /// Woken when a container becomes ready, for runs waiting for a slot.
    warmed: Notify,
}

#[derive(Default)]
struct State {
    idle: VecDeque<Idle>,
    starting: usize,
    next_key: u64,
    /// While set, a start failed recently: refills wait (a run still starts cold).
    backing_off: bool,
    /// Starts that failed in a row.
    failures: u32,
}

/// An idle container, owned by its watcher task until taken.
struct Idle {
    key: u64,
    take: CancellationToken,
    watcher: JoinHandle<Option<Started>>,
}

impl Pool {
    /// An empty, inactive pool of at most `config.pool_size` containers.
    pub fn new(
        config: Arc<Config>,
        slots: Arc<Semaphore>,
        shutdown: CancellationToken,
        background: TaskTracker,
    ) -> Arc<Self> {
        Arc::new(Pool {
            size: config.pool_size,
            max_idle: config.pool_max_idle,
            config,
            slots,
            shutdown,
            background,
            engine: OnceLock::new(),
            state: Mutex::default(),
            warmed: Notify::new(),
        })
    }

    /// Starts filling the pool through `engine` (once; later calls do nothing).
    pub fn activate(self: &Arc<Self>, engine: Arc<Engine>) {
        if self.size == 0 || self.engine.set(engine).is_err() {
            return;
        }
        tracing::info!(
            size = self.size,
            max_idle_s = self.max_idle.as_secs(),
            "warm container pool on"
        );
        self.refill();
    }

    /// Whether runs may wait for warm containers.
    pub fn is_active(&self) -> bool {
        self.engine.get().is_some()
    }

    /// Whether every run goes through the pool: it may hold every concurrency slot
    /// (`MCP_BRIDGE_POOL_SIZE` ≥ `MCP_BRIDGE_MAX_CONCURRENCY`), so a run waits for a warm container rather
    /// than a slot — except while starts are failing, when runs start cold.
    pub fn serves_every_run(&self) -> bool {
        self.is_active() && self.size >= self.config.max_concurrency && !self.lock().backing_off
    }

    /// Warm containers ready now.
    pub fn idle(&self) -> usize {
        self.lock().idle.len()
    }

    /// A handle to wait on for the next container to become ready; [`tokio::sync::Notified::enable`] it before
    /// [`Pool::take`] so a container that becomes ready in between is not missed.
    pub fn warmed(&self) -> tokio::sync::futures::Notified<'_> {
        self.warmed.notified()
    }

    /// A ready container, if one is waiting. Its replacement starts in the background when the container's
    /// slot comes free (its run is done; [`Pool::refill`]), or after [`REFILL_DELAY`], whichever comes first.
    pub async fn take(self: &Arc<Self>) -> Option<Started> {
        loop {
            let idle = self.lock().idle.pop_front()?;
            idle.take.cancel();
            // None: its watcher retired it at this very moment; try the next one.
            if let Ok(Some(started)) = idle.watcher.await {
                let pool = self.clone();
                self.background.spawn(async move {
                    tokio::select! {
                        _ = tokio::time::sleep(REFILL_DELAY) => pool.refill(),
                        _ = pool.shutdown.cancelled() => {}
                    }
                });
                return Some(started);
            }
        }
    }

    /// Starts containers until the pool is full, while slots are free and at most [`MAX_STARTING`] at once.
    pub fn refill(self: &Arc<Self>) {
        let Some(engine) = self.engine.get() else {
            return;
        };
        loop {
            let mut state = self.lock();
            if self.shutdown.is_cancelled()
                || state.backing_off
                || state.starting >= MAX_STARTING
                || state.idle.len() + state.starting >= self.size
            {
                return;
            }
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                return;
            };
            state.starting += 1;
            state.next_key += 1;
            let key = state.next_key;
            drop(state);
            let (pool, engine) = (self.clone(), engine.clone());
            self.background
                .spawn(async move { pool.prestart(engine, key, permit).await });
        }
    }

    async fn prestart(
        self: Arc<Self>,
        engine: Arc<Engine>,
        key: u64,
        permit: OwnedSemaphorePermit,
    ) {
        let name = format!("{}-{key}", std::process::id());
        let purpose = Purpose::Warm {
            key: &name,
            max_idle: self.max_idle,
        };
        let result = match start::start(&engine, &self.config, purpose, permit).await {
            Ok(mut started) => match started.wait_ready(READY_LIMIT).await {
                Ok(()) => Ok(started),
                // Dropping it removes the container.
                Err(reason) => Err(reason),
            },
            Err(error) => Err(error.to_string()),
        };
        let mut state = self.lock();
        state.starting -= 1;
        match result {
            Ok(started) if !self.shutdown.is_cancelled() => {
                state.failures = 0;
                let take = CancellationToken::new();
                let watcher = tokio::spawn(self.clone().watch(key, started, take.clone()));
                state.idle.push_back(Idle { key, take, watcher });
                drop(state);
                tracing::debug!(key, "warm container ready");
                self.warmed.notify_waiters();
                self.refill();
            }
            // Refused or cut short by the shutdown: nothing to retry.
            Ok(_) => {}
            Err(_) if self.shutdown.is_cancelled() => {}
            Err(reason) => {
                state.backing_off = true;
                let retry_in = RETRY_AFTER_FAILURE
                    .saturating_mul(1 << state.failures.min(10))
                    .min(RETRY_MAX);
                state.failures += 1;
                drop(state);
                // Runs waiting only for the pool go cold now.
                self.warmed.notify_waiters();
                tracing::warn!(
                    "could not start a warm container ({reason}); runs start cold meanwhile, retrying in {} s",
                    retry_in.as_secs()
                );
                let pool = self.clone();
                self.background.spawn(async move {
                    tokio::select! {
                        _ = tokio::time::sleep(retry_in) => {}
                        _ = pool.shutdown.cancelled() => return,
                    }
                    pool.lock().backing_off = false;
                    pool.refill();
                });
            }
        }
    }

    /// Holds an idle container until it is taken (returns it), ages out, or its stream says anything — which
    /// for a container waiting for its run frame means it is broken (returns None, having removed it).
    async fn watch(
        self: Arc<Self>,
        key: u64,
        mut started: Started,
        take: CancellationToken,
    ) -> Option<Started> {
        enum Wake {
            Taken,
            Stream,
            Aged,
            Shutdown,
        }
        let wake = tokio::select! {
            biased;
            _ = take.cancelled() => Wake::Taken,
            _ = self.shutdown.cancelled() => Wake::Shutdown,
            _ = started.output.next() => Wake::Stream,
            _ = tokio::time::sleep(self.max_idle) => Wake::Aged,
        };
        match wake {
            Wake::Taken => return Some(started),
            Wake::Shutdown => return None,
            Wake::Stream => tracing::warn!(
                container = started.guard.id(),
                "a warm container ended or wrote while idle; replacing it"
            ),
            Wake::Aged => {
                tracing::debug!(container = started.guard.id(), "warm container aged out")
            }
        }
        self.lock().idle.retain(|idle| idle.key != key);
        started.guard.remove_now().await;
        self.refill();
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent across a panic (plain counters and a queue).
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}
