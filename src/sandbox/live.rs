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

/// At most this many containers that have exited but are not yet deleted have given back their concurrency
/// slot; past it, a container's slot waits for its deletion again, so an engine slow to delete slows new
/// containers down instead of piling up exited ones.
const EXITED_UNDELETED_MAX: usize = 4;

/// Called each time a removal gives back a concurrency slot.
pub type OnRelease = Arc<dyn Fn() + Send + Sync>;

/// The containers this bridge created and has not yet seen removed.
#[derive(Clone)]
pub struct Reaper {
    docker: Docker,
    live: Arc<Mutex<HashSet<String>>>,
    background: TaskTracker,
    on_release: OnRelease,
    /// Containers whose slot came free at their exit and whose deletion is still under way.
    exited_undeleted: Arc<ExitedUndeleted>,
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
            exited_undeleted: Arc::default(),
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
    /// once it has exited by itself ([`ContainerGuard::remove_later`]). The admission is given back here.
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
    /// `DELETE` answered, or an inspect says it does not exist), retrying (with back-off up to [`REMOVE_RETRY_MAX`]) for as long
    /// as it takes: the run's concurrency slot is held until then, so a container the engine failed to remove is
    /// never forgotten while it may still run.
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

    /// Waits (at most [`EXIT_GRACE`]) for a container that is ending by itself to exit; true once the engine
    /// says it has (it runs nothing any more).
    async fn exited(&self, id: &str) -> bool {
        let exited = self.docker.wait_container(id, None);
        // bollard reports an exit with a non-zero status as this error: exited all the same.
        matches!(
            tokio::time::timeout(EXIT_GRACE, exited.into_future()).await,
            Ok((
                Some(Ok(_) | Err(bollard::errors::Error::DockerContainerWaitError { .. })),
                _
            ))
        )
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

/// How many exited containers awaiting deletion have given back their slot (at most
/// [`EXITED_UNDELETED_MAX`]).
#[derive(Default)]
struct ExitedUndeleted(AtomicUsize);

impl ExitedUndeleted {
    /// Counts one more whose slot comes free now; false (nothing counted) when the most already have.
    fn admit(&self) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |pending| {
                (pending < EXITED_UNDELETED_MAX).then_some(pending + 1)
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

    /// Removes the container in the background (tracked, so shutdown waits for it) once its processes have
    /// exited by themselves (its runtime said `done`), or after a short grace. The concurrency slot comes free
    /// as soon as the engine says the container has exited — it runs nothing any more, and the slot's next
    /// container (a pool refill) is created while this one is deleted — or, if it has not exited (or
    /// [`EXITED_UNDELETED_MAX`] exited ones are still being deleted), once it is gone.
    pub fn remove_later(mut self) {
        self.spawn_removal(true);
    }

    fn spawn_removal(&mut self, ending_by_itself: bool) {
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
                        let released_at_exit = ending_by_itself
                            && reaper.exited(&id).await
                            && reaper.exited_undeleted.admit();
                        if released_at_exit {
                            drop(permit);
                            (reaper.on_release)();
                            reaper.remove(&id).await;
                            reaper.exited_undeleted.deleted();
                        } else {
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
    fn at_most_a_few_exited_containers_awaiting_deletion_give_back_their_slot_early() {
        let pending = ExitedUndeleted::default();
        for _ in 0..EXITED_UNDELETED_MAX {
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
