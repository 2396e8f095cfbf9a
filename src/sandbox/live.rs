//! Keeping track of the containers that exist, and making sure each one is removed: after every run, on
//! timeout, cancellation and shutdown, from a dropped run (a guard), and — for a bridge that crashed — by the
//! orphan sweep at the next start.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use futures::StreamExt;
use tokio::sync::{OwnedRwLockReadGuard, OwnedSemaphorePermit, RwLock};
use tokio_util::task::TaskTracker;

use super::container::{LABEL, LABEL_OWNER};
use super::engine::owner_of;

/// The longest pause between two attempts to remove a container.
const REMOVE_RETRY_MAX: Duration = Duration::from_secs(2);

/// How long a container whose runtime said `done` gets to exit on its own before it is force-removed. Its
/// processes exit within milliseconds of `done`; removing it after that is a plain delete, where removing it
/// running costs the engine a kill (one more `runc` run per container, which on a busy host is throughput).
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// At most this many containers whose run is done but which are not yet deleted have given back their
/// concurrency slot; past it, a container's slot waits for its deletion again, so an engine slow to tear
/// containers down slows new ones down instead of piling up old ones.
const ENDING_MAX: usize = 4;

/// Called each time a removal gives back a concurrency slot.
pub type OnRelease = Arc<dyn Fn() + Send + Sync>;

/// The containers this bridge created and has not yet seen removed.
#[derive(Clone)]
pub struct Reaper {
    docker: Docker,
    live: Arc<Mutex<HashSet<String>>>,
    background: TaskTracker,
    on_release: OnRelease,
    /// Containers whose slot came free when their run was done and whose removal is still under way.
    ending: Arc<Ending>,
    /// True once shutdown began. A creation holds the read side from its `create` request until the container
    /// is tracked, so the shutdown (which takes the write side before it lists what to remove) never misses a
    /// container whose creation was in flight, and no creation starts after it.
    closed: Arc<RwLock<bool>>,
}

/// Permission to create one container, held until it is tracked ([`Reaper::admit`]).
pub struct Admission {
    _held: OwnedRwLockReadGuard<bool>,
}

impl Reaper {
    /// A reaper removing through `docker`; `background` tracks removals still under way; `on_release` runs
    /// whenever a removed container's slot comes free (the pool refills then).
    pub fn new(docker: Docker, background: TaskTracker, on_release: OnRelease) -> Self {
        Reaper {
            docker,
            live: Arc::default(),
            background,
            on_release,
            ending: Arc::default(),
            closed: Arc::default(),
        }
    }

    /// Permission to create a container, or `None` once shutdown began. Hold it until the container is
    /// [`track`](Self::track)ed.
    pub async fn admit(&self) -> Option<Admission> {
        let closed = self.closed.clone().read_owned().await;
        (!*closed).then_some(Admission { _held: closed })
    }

    /// Starts tracking a created container. The permit (a concurrency slot) is released once it is removed, or
    /// once its run is done ([`ContainerGuard::remove_later`]). The admission is given back here.
    pub fn track(
        &self,
        id: String,
        permit: OwnedSemaphorePermit,
        admission: Admission,
    ) -> ContainerGuard {
        self.lock().insert(id.clone());
        drop(admission);
        ContainerGuard {
            reaper: self.clone(),
            id,
            permit: Some(permit),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A poisoned set is still a correct set of ids.
        self.live
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Force-removes (SIGKILL + remove) a container and returns once the engine confirms it is gone (its
    /// `DELETE` answered, or an inspect says it does not exist), retrying (with back-off up to
    /// [`REMOVE_RETRY_MAX`]) for as long as it takes: the container stays tracked (and, but for a done run's,
    /// [`ContainerGuard::remove_later`], holds its concurrency slot) until then, so a container the engine
    /// failed to remove is never forgotten while it may still run.
    pub async fn remove(&self, id: &str) {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let mut delay = Duration::from_millis(50);
        for attempt in 1u32.. {
            match self
                .docker
                .remove_container(id, Some(options.clone()))
                .await
            {
                // The engine answers a `DELETE` once the container is gone: no inspect needed to confirm it
                // (one API call less per container, which the pool's throughput feels).
                Ok(()) => break,
                Err(error) if super::engine::is_gone(&error) => break,
                // 409: a removal is already in progress; wait for it below.
                Err(error) => tracing::debug!(container = id, attempt, "remove: {error}"),
            }
            if let Err(error) = self.docker.inspect_container(id, None).await
                && super::engine::is_gone(&error)
            {
                break;
            }
            if attempt % 10 == 0 {
                tracing::error!(
                    container = id,
                    attempt,
                    "the engine has not removed the container yet; still trying"
                );
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(REMOVE_RETRY_MAX);
        }
        self.lock().remove(id);
    }

    /// Waits (at most [`EXIT_GRACE`]) for a container that is ending by itself to exit, so that removing it
    /// needs no kill.
    async fn await_exit(&self, id: &str) {
        let exited = self.docker.wait_container(id, None);
        // Exited, failed or late alike: the removal that follows copes with each.
        let _ = tokio::time::timeout(EXIT_GRACE, exited.into_future()).await;
    }

    /// Removes every container still tracked (shutdown) and waits for background removals.
    pub async fn remove_all(&self) {
        // Waits for creations in flight to be tracked, and refuses new ones.
        *self.closed.write().await = true;
        let ids: Vec<String> = self.lock().iter().cloned().collect();
        futures::future::join_all(ids.iter().map(|id| self.remove(id))).await;
        self.background.close();
        self.background.wait().await;
    }

    /// Removes containers left by a bridge process that no longer exists. Containers of other live bridges
    /// (another client's, or a test's) are left alone. Returns how many were removed.
    pub async fn sweep_orphans(&self, my_boot_id: &str) -> usize {
        let filters = HashMap::from([("label", vec![LABEL])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let containers = match super::engine::list_containers(&self.docker, options).await {
            Ok(list) => list,
            Err(error) => {
                tracing::warn!("orphan sweep: listing containers failed: {error}");
                return 0;
            }
        };
        let orphans: Vec<String> = containers
            .into_iter()
            .filter(|c| {
                let owner = c
                    .labels
                    .as_ref()
                    .and_then(|labels| labels.get(LABEL_OWNER))
                    .map(String::as_str)
                    .unwrap_or("");
                let running = c.state.as_ref().map(|s| s.to_string()) == Some("running".into());
                is_orphan(owner, my_boot_id, running)
            })
            .filter_map(|c| c.id)
            .collect();
        for id in &orphans {
            tracing::info!(container = id.as_str(), "removing orphan sandbox container");
            self.remove(id).await;
        }
        orphans.len()
    }
}

/// An orphan: its owner ran since this boot and is gone, or it is a stopped leftover from before a reboot.
fn is_orphan(owner: &str, my_boot_id: &str, running: bool) -> bool {
    let mut parts = owner.splitn(3, '/');
    let (Some(boot), Some(pid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return !running;
    };
    if boot != my_boot_id {
        return !running;
    }
    match pid.parse::<u32>() {
        Ok(pid) => owner_of(pid).as_deref() != Some(owner),
        Err(_) => !running,
    }
}

/// How many containers on their way out (run done, not yet deleted) have given back their slot (at most
/// [`ENDING_MAX`]).
#[derive(Default)]
struct Ending(AtomicUsize);

impl Ending {
    /// Counts one more whose slot comes free now; false (nothing counted) when the most already have.
    fn admit(&self) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |pending| {
                (pending < ENDING_MAX).then_some(pending + 1)
            })
            .is_ok()
    }

    /// One admitted container is deleted.
    fn deleted(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One run's container: removed when the run is done with it, or when the guard is dropped (a cancelled
/// request whose future was dropped mid-run still removes its container).
pub struct ContainerGuard {
    reaper: Reaper,
    id: String,
    permit: Option<OwnedSemaphorePermit>,
}

impl ContainerGuard {
    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Removes the container and waits until it is gone.
    pub async fn remove_now(mut self) {
        let permit = self.permit.take();
        self.reaper.remove(&self.id).await;
        drop(permit);
        (self.reaper.on_release)();
        self.id.clear();
    }

    /// For a container whose run is done (its runtime said `done`, and the detach closed its stdin, so it is
    /// exiting): gives the concurrency slot back now, and removes the container in the background (tracked, so
    /// shutdown waits for it) once it has exited by itself, or after a short grace.
    ///
    /// The slot's next container (a pool refill) is created while this one exits and is deleted: under gVisor,
    /// `done` → exit → the next create took ~90 ms of a slot's ~380 ms cycle, and overlapping it raised the
    /// pool's fresh runs/s from ~5.3 to 6.2–6.4 (BENCHMARKS.md). It is bounded: the runtime exits once its
    /// stdin closes, PID 1 ends the container within a guard tick of its stdin closing whatever the code left
    /// running, and at most [`ENDING_MAX`] such containers hold no slot — past that, a slot waits for its
    /// container's deletion again.
    pub fn remove_later(mut self) {
        self.spawn_removal(true);
    }

    fn spawn_removal(&mut self, run_done: bool) {
        if self.id.is_empty() {
            return;
        }
        let id = std::mem::take(&mut self.id);
        let permit = self.permit.take();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let reaper = self.reaper.clone();
                self.reaper.background.spawn_on(
                    async move {
                        if run_done && reaper.ending.admit() {
                            drop(permit);
                            (reaper.on_release)();
                            reaper.await_exit(&id).await;
                            reaper.remove(&id).await;
                            reaper.ending.deleted();
                        } else {
                            if run_done {
                                reaper.await_exit(&id).await;
                            }
                            reaper.remove(&id).await;
                            drop(permit);
                            (reaper.on_release)();
                        }
                    },
                    &handle,
                );
            }
            Err(_) => {
                tracing::error!(container = %id, "no async runtime left to remove the container")
            }
        }
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        self.spawn_removal(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_a_few_containers_on_their_way_out_give_back_their_slot_early() {
        let pending = Ending::default();
        for _ in 0..ENDING_MAX {
            assert!(pending.admit());
        }
        assert!(
            !pending.admit(),
            "past the limit a slot waits for the deletion"
        );
        pending.deleted();
        assert!(pending.admit());
    }

    #[test]
    fn orphans_are_containers_of_dead_owners() {
        let boot = "b0";
        let me = super::super::engine::owner_id();
        let my_boot = me.split('/').next().unwrap();
        assert!(
            !is_orphan(&me, my_boot, true),
            "a live owner's container is not an orphan"
        );
        // PID 0 never names a process we can read.
        assert!(is_orphan(&format!("{my_boot}/999999999/1"), my_boot, true));
        assert!(is_orphan("other-boot/1/1", boot, false));
        assert!(!is_orphan("other-boot/1/1", boot, true));
        assert!(is_orphan("", boot, false));
    }
}
