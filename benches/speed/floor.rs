//! The engine's own floor: create → start → wait → remove of a container with the bridge's hardening running
//! `python3 -c "print(1)"`, through bollard, with no attach. Once for latency, and in a loop at a concurrency
//! for throughput.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::StreamExt;

use super::Runtime;

/// Label on the containers this benchmark creates itself, for clean-up after a crash.
const BENCH_LABEL: &str = "mcp-bridge-bench";

// The hardening of src/sandbox/container.rs with the bridge's default settings.
const MEMORY_BYTES: i64 = 512 << 20;
const PIDS: i64 = 128;
/// container.rs's GVISOR_HOST_PIDS: the host limit for gVisor's own threads (the code's is `nproc`).
const GVISOR_HOST_PIDS: i64 = 1024;
const NANO_CPUS: i64 = 1_000_000_000;
const NOFILE: i64 = 1024;
const SHM_BYTES: i64 = 16 << 20;
const TMP_OPTS: &str = "rw,noexec,nosuid,nodev,size=64m,mode=1777";
const WORKSPACE_OPTS: &str = "rw,noexec,nosuid,nodev,size=128m,mode=1777,uid=65534,gid=65534";

/// Creates floor containers.
pub struct Floor {
    docker: Docker,
    image: String,
    seccomp: String,
    seq: AtomicU64,
}

impl Floor {
    pub fn new(docker: Docker, image: &str) -> Result<Floor> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sandbox/seccomp.json");
        let seccomp = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the bridge's seccomp profile {}", path.display()))?;
        Ok(Floor {
            docker,
            image: image.to_string(),
            seccomp,
            seq: AtomicU64::new(0),
        })
    }

    /// container.rs's HostConfig, but a plain `python3 -c "print(1)"` and no stdin.
    fn body(&self, runtime: Runtime) -> ContainerCreateBody {
        let limit = |name: &str, value: i64| ResourcesUlimits {
            name: Some(name.into()),
            soft: Some(value),
            hard: Some(value),
        };
        let mut ulimits = vec![limit("nofile", NOFILE), limit("core", 0)];
        let gvisor = runtime == Runtime::Runsc;
        if gvisor {
            ulimits.push(limit("nproc", PIDS));
        }
        let host_config = HostConfig {
            network_mode: Some("none".into()),
            readonly_rootfs: Some(true),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec![
                "no-new-privileges".into(),
                format!("seccomp={}", self.seccomp),
            ]),
            memory: Some(MEMORY_BYTES),
            memory_swap: Some(MEMORY_BYTES),
            pids_limit: Some(if gvisor { GVISOR_HOST_PIDS } else { PIDS }),
            nano_cpus: Some(NANO_CPUS),
            ulimits: Some(ulimits),
            tmpfs: Some(HashMap::from([
                ("/tmp".to_string(), TMP_OPTS.to_string()),
                ("/workspace".to_string(), WORKSPACE_OPTS.to_string()),
            ])),
            shm_size: Some(SHM_BYTES),
            ipc_mode: Some("private".into()),
            log_config: Some(HostConfigLogConfig {
                typ: Some("none".into()),
                config: None,
            }),
            runtime: gvisor.then(|| "runsc".to_string()),
            auto_remove: Some(false),
            ..Default::default()
        };
        ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: Some(["python3", "-c", "print(1)"].map(String::from).to_vec()),
            network_disabled: Some(true),
            user: Some("65534:65534".into()),
            working_dir: Some("/workspace".into()),
            env: Some(
                ["HOME=/workspace", "LANG=C.UTF-8", "PYTHONIOENCODING=utf-8"]
                    .map(String::from)
                    .to_vec(),
            ),
            labels: Some(HashMap::from([(BENCH_LABEL.to_string(), "1".to_string())])),
            tty: Some(false),
            host_config: Some(host_config),
            ..Default::default()
        }
    }

    /// One create → start → wait → remove.
    pub async fn once(&self, runtime: Runtime) -> Result<Duration> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let name = format!("mcp-bridge-bench-{}-{seq}", std::process::id());
        let started = Instant::now();
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                self.body(runtime),
            )
            .await
            .context("floor: create")?;
        let ran = async {
            self.docker
                .start_container(&created.id, None)
                .await
                .context("floor: start")?;
            match self.docker.wait_container(&created.id, None).next().await {
                Some(Ok(response)) if response.status_code == 0 => {}
                Some(Ok(response)) => bail!("floor: container exited {}", response.status_code),
                Some(Err(error)) => bail!("floor: wait: {error}"),
                None => bail!("floor: wait returned nothing"),
            }
            self.docker
                .remove_container(&created.id, None)
                .await
                .context("floor: remove")
        }
        .await;
        let elapsed = started.elapsed();
        if ran.is_err() {
            force_remove(&self.docker, &created.id).await;
        }
        ran.map(|()| elapsed)
    }

    /// Containers per second, `concurrency` loops of [`Floor::once`] for `duration`.
    pub async fn throughput(
        self: &Arc<Self>,
        runtime: Runtime,
        concurrency: usize,
        duration: Duration,
    ) -> Result<f64> {
        let deadline = Instant::now() + duration;
        let started = Instant::now();
        let loops = (0..concurrency).map(|_| {
            let floor = self.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    floor.once(runtime).await?;
                    done += 1;
                }
                anyhow::Ok(done)
            })
        });
        let mut total = 0;
        for handle in futures::future::join_all(loops).await {
            total += handle.context("a floor loop panicked")??;
        }
        Ok(total as f64 / started.elapsed().as_secs_f64())
    }
}

async fn force_remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = docker.remove_container(id, Some(options)).await;
}

/// Removes containers a crashed earlier run of this benchmark left behind.
pub async fn remove_leftovers(docker: &Docker) {
    let filters = HashMap::from([("label", vec![BENCH_LABEL])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    if let Ok(containers) = docker.list_containers(Some(options)).await {
        for id in containers.into_iter().filter_map(|c| c.id) {
            force_remove(docker, &id).await;
        }
    }
}
