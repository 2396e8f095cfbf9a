//! The engine's own floor: create → start → wait → remove of a container with the bridge's hardening running
//! `python3 -c "print(1)"`, through bollard, with no attach. Once for latency, and in a loop at a concurrency
//! for throughput.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::StreamExt;
use mcp_bridge::config::Config;
use mcp_bridge::sandbox::container::{Dialect, create_body};

use super::Runtime;

/// Label on the containers this benchmark creates itself, for clean-up after a crash.
const BENCH_LABEL: &str = "mcp-bridge-bench";

/// Creates floor containers.
pub struct Floor {
    docker: Docker,
    image: String,
    dialect: Dialect,
    seq: AtomicU64,
}

impl Floor {
    /// Floor containers of `image` on `docker`, whose create requests speak `dialect` (Docker's or Podman's).
    pub fn new(docker: Docker, image: &str, dialect: Dialect) -> Floor {
        Floor {
            docker,
            image: image.to_string(),
            dialect,
            seq: AtomicU64::new(0),
        }
    }

    /// The bridge's own create request (`container::create_body`, default settings), but a plain
    /// `python3 -c "print(1)"`, no stdin and no attach, and only this benchmark's label (so no bridge's
    /// orphan sweep takes it).
    fn body(&self, runtime: Runtime) -> Result<ContainerCreateBody> {
        let mut vars = HashMap::from([("MCP_BRIDGE_IMAGE".to_string(), self.image.clone())]);
        if runtime == Runtime::Runsc {
            vars.insert("MCP_BRIDGE_RUNTIME".into(), "runsc".into());
        }
        let config = Config::from_map(&vars).context("the floor's settings")?;
        let body = create_body(
            &config,
            "floor",
            "bench",
            Duration::from_secs(60),
            &self.dialect,
        );
        Ok(ContainerCreateBody {
            entrypoint: Some(["python3", "-c", "print(1)"].map(String::from).to_vec()),
            attach_stdin: Some(false),
            attach_stdout: Some(false),
            attach_stderr: Some(false),
            open_stdin: Some(false),
            stdin_once: Some(false),
            labels: Some(HashMap::from([(BENCH_LABEL.to_string(), "1".to_string())])),
            ..body
        })
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
                self.body(runtime)?,
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
    if let Ok(containers) = mcp_bridge::sandbox::engine::list_containers(docker, options).await {
        for id in containers.into_iter().filter_map(|c| c.id) {
            force_remove(docker, &id).await;
        }
    }
}
