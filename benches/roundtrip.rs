//! Round-trip latency of `run_python` over MCP against the engine's own floor for the same container.
//!
//! `cargo bench --bench roundtrip` builds the release `bridge`, then measures, round-robin per iteration:
//!
//! 1. **round trip, cold**: `tools/call run_python {"code": "print(1)"}` from an rmcp client to `bridge serve`
//!    (a child process over stdio, `MCP_BRIDGE_POOL_SIZE=0`) until the result is back;
//! 2. **round trip, pooled**: the same against a second `bridge serve` with a pool of 2 warm containers,
//!    each round once the pool is full again (waited for untimed);
//! 3. **bollard floor**: create → start → wait → remove of a container running `python3 -c "print(1)"` with
//!    the bridge's hardening flags (and its seccomp profile, `src/sandbox/seccomp.json`, when the checkout
//!    has one), through bollard directly;
//! 4. **docker CLI**: `docker run --rm <same flags> IMAGE python3 -c 'print(1)'`.
//!
//! and prints a Markdown table (n, p50, p90, mean, min, max in ms), the ratio round-trip p50 / floor p50, and
//! whether it meets the target ≤ 1.1. Settings: `BENCH_ITERATIONS` (default 20), `MCP_BRIDGE_IMAGE` (default
//! `mcp-bridge/sandbox:bookworm`, also passed to the bridge). The bridge's stderr goes to
//! `target/roundtrip-bridge.log`. See BENCHMARKS.md.
//!
//! Without `--bench` on the command line (as under `cargo test --all-targets`) it does nothing, so test runs
//! never start a benchmark.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::StreamExt;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

const DEFAULT_IMAGE: &str = "mcp-bridge/sandbox:bookworm";
const DEFAULT_ITERATIONS: usize = 20;
const WARMUP: usize = 3;
/// Label on the containers this benchmark creates itself (floor and CLI), for clean-up after a crash.
const BENCH_LABEL: &str = "mcp-bridge-bench";
/// The bridge's own labels (src/sandbox/container.rs).
const BRIDGE_LABEL: &str = "mcp-bridge";
const BRIDGE_OWNER_LABEL: &str = "mcp-bridge.owner";
/// How long the bridge's background removal may take before the benchmark gives up waiting for it.
const SETTLE_LIMIT: Duration = Duration::from_secs(20);
/// The target: round-trip p50 at most this many times the bollard floor's p50.
const TARGET_RATIO: f64 = 1.1;

// The hardening of src/sandbox/container.rs with the bridge's default settings.
const MEMORY_BYTES: i64 = 512 << 20;
const PIDS: i64 = 128;
const NANO_CPUS: i64 = 1_000_000_000;
const USER: &str = "65534:65534";
const NOFILE: i64 = 1024;
const SHM_BYTES: i64 = 16 << 20;
const TMP_OPTS: &str = "rw,noexec,nosuid,nodev,size=64m,mode=1777";
const WORKSPACE_OPTS: &str = "rw,noexec,nosuid,nodev,size=128m,mode=1777,uid=65534,gid=65534";
const ENV: [&str; 3] = ["HOME=/workspace", "LANG=C.UTF-8", "PYTHONIOENCODING=utf-8"];

fn main() -> ExitCode {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("roundtrip: skipped (not run with --bench); use `cargo bench --bench roundtrip`");
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("roundtrip: cannot start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nroundtrip: FAILED: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The measurements.
#[derive(Clone, Copy)]
enum Kind {
    RoundTrip,
    Floor,
    Cli,
    Pooled,
}

const KINDS: [Kind; 4] = [Kind::RoundTrip, Kind::Floor, Kind::Cli, Kind::Pooled];

/// Warm containers of the pooled bridge.
const POOL_SIZE: usize = 2;

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::RoundTrip => {
                "run_python round trip, cold (MCP stdio → bridge → new container → result)"
            }
            Kind::Pooled => {
                "run_python round trip, pooled (MCP stdio → bridge → warm container → result)"
            }
            Kind::Floor => "bollard floor (create → start → wait → remove)",
            Kind::Cli => "docker CLI (`docker run --rm`)",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What the floor and CLI containers run with, besides the constant flags.
struct Sandbox {
    image: String,
    /// The bridge's own seccomp profile (`src/sandbox/seccomp.json`, sent inline as `seccomp=<json>` by
    /// container.rs), when the checkout has one: its path (for the CLI) and text (for bollard).
    seccomp: Option<(PathBuf, String)>,
}

impl Sandbox {
    fn new(image: String) -> Sandbox {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sandbox/seccomp.json");
        let seccomp = std::fs::read_to_string(&path).ok().map(|text| (path, text));
        Sandbox { image, seccomp }
    }
}

struct Bench {
    sandbox: Sandbox,
    docker: Docker,
    client: RunningService<RoleClient, ()>,
    bridge_pid: u32,
    pooled_client: RunningService<RoleClient, ()>,
    pooled_pid: u32,
    seq: u64,
}

async fn bench() -> Result<()> {
    let iterations = match std::env::var("BENCH_ITERATIONS") {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("BENCH_ITERATIONS={text:?}: expected a positive integer"))?,
        _ => DEFAULT_ITERATIONS,
    };
    let image = std::env::var("MCP_BRIDGE_IMAGE")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_IMAGE.to_string());

    let bridge_bin = build_bridge()?;

    let docker = Docker::connect_with_defaults()
        .context("connecting to the Docker engine")?
        .negotiate_version()
        .await
        .context("negotiating the Docker API version (is the engine running?)")?;
    docker.inspect_image(&image).await.with_context(|| {
        format!("image {image} is missing; build it (scripts/build-offline-image.sh) or set MCP_BRIDGE_IMAGE")
    })?;
    let sandbox = Sandbox::new(image.clone());
    print_machine(&docker, &sandbox, iterations, &bridge_bin).await;
    remove_leftovers(&docker).await;

    let log_path = bridge_bin
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .join("roundtrip-bridge.log");
    let (client, bridge_pid) = spawn_bridge(&bridge_bin, &image, 0, &log_path).await?;
    let pooled_log = log_path.with_file_name("roundtrip-bridge-pooled.log");
    let (pooled_client, pooled_pid) =
        spawn_bridge(&bridge_bin, &image, POOL_SIZE, &pooled_log).await?;

    let mut bench = Bench {
        sandbox,
        docker,
        client,
        bridge_pid,
        pooled_client,
        pooled_pid,
        seq: 0,
    };
    let result = measure(&mut bench, iterations).await;
    let Bench {
        client,
        pooled_client,
        docker,
        ..
    } = bench;
    let _ = client.cancel().await;
    let _ = pooled_client.cancel().await;
    remove_leftovers(&docker).await;
    let (samples, settle) =
        result.with_context(|| format!("bridge log: {}", log_path.display()))?;
    report(&samples, &settle);
    Ok(())
}

/// `bridge serve` with a pool of `pool_size`, its stderr to `log_path`: the client and the bridge's pid.
async fn spawn_bridge(
    bridge_bin: &Path,
    image: &str,
    pool_size: usize,
    log_path: &Path,
) -> Result<(RunningService<RoleClient, ()>, u32)> {
    let log = std::fs::File::create(log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut command = tokio::process::Command::new(bridge_bin);
    command
        .arg("serve")
        .env("MCP_BRIDGE_IMAGE", image)
        .env("MCP_BRIDGE_POOL_SIZE", pool_size.to_string());
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(Stdio::from(log))
        .spawn()
        .with_context(|| format!("spawning {} serve", bridge_bin.display()))?;
    let pid = transport.id().context("the bridge exited at once")?;
    let client = ()
        .serve(transport)
        .await
        .with_context(|| format!("MCP handshake with the bridge (see {})", log_path.display()))?;
    Ok((client, pid))
}

/// Warm-up, then `iterations` rounds of all three measurements, the order rotated each round.
async fn measure(bench: &mut Bench, iterations: usize) -> Result<([Vec<f64>; 4], Vec<f64>)> {
    eprintln!("warming up ({WARMUP} rounds)…");
    for round in 0..WARMUP {
        for kind in rotated(round) {
            one(bench, kind).await?;
        }
    }
    let progress = std::io::stderr().is_terminal();
    let mut samples: [Vec<f64>; 4] = Default::default();
    let mut settle = Vec::new();
    for round in 0..iterations {
        for kind in rotated(round) {
            let (elapsed, settled) = one(bench, kind).await?;
            samples[kind.index()].push(ms(elapsed));
            if let Some(settled) = settled {
                settle.push(ms(settled));
            }
        }
        if progress {
            eprint!("\riteration {}/{iterations}", round + 1);
        }
    }
    if progress {
        eprintln!();
    }
    Ok((samples, settle))
}

fn rotated(round: usize) -> impl Iterator<Item = Kind> {
    (0..KINDS.len()).map(move |i| KINDS[(round + i) % KINDS.len()])
}

/// One timed measurement. For the round trip, also the time until the bridge's background removal of the
/// container finished (waited for untimed, so it never overlaps the next measurement).
async fn one(bench: &mut Bench, kind: Kind) -> Result<(Duration, Option<Duration>)> {
    bench.seq += 1;
    match kind {
        Kind::RoundTrip => {
            let elapsed = round_trip(&bench.client).await?;
            let settled = settle(&bench.docker, bench.bridge_pid).await?;
            Ok((elapsed, Some(settled)))
        }
        Kind::Pooled => {
            pool_full(&bench.docker, bench.pooled_pid).await?;
            let elapsed = round_trip(&bench.pooled_client).await?;
            // The refill (a container start) must not overlap the next measurement.
            pool_full(&bench.docker, bench.pooled_pid).await?;
            Ok((elapsed, None))
        }
        Kind::Floor => Ok((floor(&bench.docker, &bench.sandbox, bench.seq).await?, None)),
        Kind::Cli => {
            let args = cli_args(&bench.sandbox);
            let elapsed = tokio::task::spawn_blocking(move || docker_cli(args)).await??;
            Ok((elapsed, None))
        }
    }
}

async fn round_trip(client: &RunningService<RoleClient, ()>) -> Result<Duration> {
    let arguments = match json!({"code": "print(1)"}) {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    };
    let started = Instant::now();
    let result = client
        .call_tool(CallToolRequestParams::new("run_python").with_arguments(arguments))
        .await
        .context("tools/call run_python")?;
    let elapsed = started.elapsed();
    let payload = result.structured_content.clone().unwrap_or(Value::Null);
    ensure!(
        result.is_error != Some(true)
            && payload["status"] == "success"
            && payload["stdout"] == json!(["1"]),
        "run_python did not succeed with stdout [\"1\"]: {payload}"
    );
    Ok(elapsed)
}

/// Waits until the pooled bridge has exactly its [`POOL_SIZE`] containers, all running, then a little longer
/// for their runtimes to finish importing (a container is `running` ~0.1 s before its runtime says `ready`).
async fn pool_full(docker: &Docker, bridge_pid: u32) -> Result<()> {
    let started = Instant::now();
    let marker = format!("/{bridge_pid}/");
    loop {
        let containers = docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&HashMap::from([("label", vec![BRIDGE_LABEL])]))
                    .build(),
            ))
            .await
            .context("listing the pooled bridge's containers")?;
        let mine: Vec<_> = containers
            .iter()
            .filter(|c| {
                c.labels
                    .as_ref()
                    .and_then(|labels| labels.get(BRIDGE_OWNER_LABEL))
                    .is_some_and(|owner| owner.contains(&marker))
            })
            .collect();
        let running = mine
            .iter()
            .filter(|c| c.state.map(|s| s.to_string()).as_deref() == Some("running"))
            .count();
        if mine.len() == POOL_SIZE && running == POOL_SIZE {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return Ok(());
        }
        if started.elapsed() > SETTLE_LIMIT {
            bail!("the pool did not refill within {SETTLE_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until the bridge process has no container left (it removes them in the background after `done`).
async fn settle(docker: &Docker, bridge_pid: u32) -> Result<Duration> {
    let started = Instant::now();
    let filters = HashMap::from([("label", vec![BRIDGE_LABEL])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let marker = format!("/{bridge_pid}/");
    loop {
        let containers = docker
            .list_containers(Some(options.clone()))
            .await
            .context("listing the bridge's containers")?;
        let mine = containers.iter().any(|c| {
            c.labels
                .as_ref()
                .and_then(|labels| labels.get(BRIDGE_OWNER_LABEL))
                .is_some_and(|owner| owner.contains(&marker))
        });
        if !mine {
            return Ok(started.elapsed());
        }
        if started.elapsed() > SETTLE_LIMIT {
            bail!("the bridge's container was still there {SETTLE_LIMIT:?} after the response");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The create body: src/sandbox/container.rs's HostConfig with the default settings, but a plain
/// `python3 -c "print(1)"` instead of the bootstrap, and no stdin.
fn floor_body(sandbox: &Sandbox) -> ContainerCreateBody {
    let mut security_opt = vec!["no-new-privileges".to_string()];
    if let Some((_, profile)) = &sandbox.seccomp {
        security_opt.push(format!("seccomp={profile}"));
    }
    let host_config = HostConfig {
        network_mode: Some("none".into()),
        readonly_rootfs: Some(true),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(security_opt),
        memory: Some(MEMORY_BYTES),
        memory_swap: Some(MEMORY_BYTES),
        pids_limit: Some(PIDS),
        nano_cpus: Some(NANO_CPUS),
        ulimits: Some(vec![ResourcesUlimits {
            name: Some("nofile".into()),
            soft: Some(NOFILE),
            hard: Some(NOFILE),
        }]),
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
        auto_remove: Some(false),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(sandbox.image.clone()),
        cmd: Some(["python3", "-c", "print(1)"].map(String::from).to_vec()),
        user: Some(USER.into()),
        working_dir: Some("/workspace".into()),
        env: Some(ENV.map(String::from).to_vec()),
        labels: Some(HashMap::from([(BENCH_LABEL.to_string(), "1".to_string())])),
        tty: Some(false),
        host_config: Some(host_config),
        ..Default::default()
    }
}

async fn floor(docker: &Docker, sandbox: &Sandbox, seq: u64) -> Result<Duration> {
    let name = format!("mcp-bridge-bench-{}-{seq}", std::process::id());
    let body = floor_body(sandbox);
    let started = Instant::now();
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .context("floor: create")?;
    let ran = async {
        docker
            .start_container(&created.id, None)
            .await
            .context("floor: start")?;
        match docker.wait_container(&created.id, None).next().await {
            Some(Ok(response)) if response.status_code == 0 => {}
            Some(Ok(response)) => bail!("floor: container exited {}", response.status_code),
            Some(Err(error)) => bail!("floor: wait: {error}"),
            None => bail!("floor: wait returned nothing"),
        }
        docker
            .remove_container(&created.id, None)
            .await
            .context("floor: remove")
    }
    .await;
    let elapsed = started.elapsed();
    if ran.is_err() {
        force_remove(docker, &created.id).await;
    }
    ran.map(|()| elapsed)
}

/// The `docker run` arguments equivalent to [`floor_body`].
fn cli_args(sandbox: &Sandbox) -> Vec<String> {
    let mut args: Vec<String> = [
        "run",
        "--rm",
        "--network=none",
        "--read-only",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        "--user=65534:65534",
        "--memory=512m",
        "--memory-swap=512m",
        "--pids-limit=128",
        "--cpus=1",
        "--ulimit=nofile=1024:1024",
        "--shm-size=16m",
        "--ipc=private",
        "--log-driver=none",
        "--workdir=/workspace",
    ]
    .map(String::from)
    .to_vec();
    args.push(format!("--tmpfs=/tmp:{TMP_OPTS}"));
    args.push(format!("--tmpfs=/workspace:{WORKSPACE_OPTS}"));
    for env in ENV {
        args.push(format!("--env={env}"));
    }
    if let Some((path, _)) = &sandbox.seccomp {
        args.push(format!("--security-opt=seccomp={}", path.display()));
    }
    args.push(format!("--label={BENCH_LABEL}=1"));
    args.extend([sandbox.image.as_str(), "python3", "-c", "print(1)"].map(String::from));
    args
}

fn docker_cli(args: Vec<String>) -> Result<Duration> {
    let mut command = Command::new("docker");
    command.args(args).stdin(Stdio::null());
    let started = Instant::now();
    let output = command
        .output()
        .context("running `docker run` (is the docker CLI installed?)")?;
    let elapsed = started.elapsed();
    ensure!(
        output.status.success() && output.stdout == b"1\n",
        "docker run: {} stdout {:?} stderr {:?}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(elapsed)
}

async fn force_remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = docker.remove_container(id, Some(options)).await;
}

/// Removes containers a crashed earlier run of this benchmark left behind.
async fn remove_leftovers(docker: &Docker) {
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

/// Builds the release `bridge` (`cargo build --release --bin bridge`) and returns its path.
fn build_bridge() -> Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => manifest_dir.join(dir),
        _ => manifest_dir.join("target"),
    };
    let binary = target_dir.join("release").join("bridge");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the release bridge (cargo build --release --bin bridge)…");
    let status = Command::new(&cargo)
        .args(["build", "--release", "--bin", "bridge"])
        .current_dir(&manifest_dir)
        .stdin(Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => bail!(
            "`cargo build --release --bin bridge` failed ({status}); fix the build, or build it yourself and rerun"
        ),
        Err(error) => bail!("cannot run {cargo:?} to build the bridge: {error}"),
    }
    ensure!(
        binary.is_file(),
        "{} is missing after `cargo build --release --bin bridge`",
        binary.display()
    );
    Ok(binary)
}

async fn print_machine(docker: &Docker, sandbox: &Sandbox, iterations: usize, bridge: &Path) {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("PRETTY_NAME="))
                .map(|name| name.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let (server, api, kernel) = match docker.version().await {
        Ok(version) => (
            version.version.unwrap_or_default(),
            version.api_version.unwrap_or_default(),
            version.kernel_version.unwrap_or_default(),
        ),
        Err(error) => (format!("unknown ({error})"), String::new(), String::new()),
    };
    let (memory, storage, cgroup) = match docker.info().await {
        Ok(info) => (
            info.mem_total.map_or("?".into(), |b| {
                format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
            }),
            info.driver.unwrap_or_default(),
            info.cgroup_version
                .map(|v| v.to_string())
                .unwrap_or_default(),
        ),
        Err(_) => Default::default(),
    };
    println!("## Machine\n");
    println!("- nproc: {nproc} ({cpu}), memory {memory}");
    println!("- OS: {os}, kernel {kernel}");
    println!(
        "- Docker server {server} (API {api}, negotiated {}), storage driver {storage}, cgroup v{cgroup}",
        docker.client_version()
    );
    println!("- image: {}", sandbox.image);
    match &sandbox.seccomp {
        Some((path, _)) => println!(
            "- floor and CLI seccomp: the bridge's profile ({})",
            path.display()
        ),
        None => {
            println!("- floor and CLI seccomp: the engine's default (no src/sandbox/seccomp.json)")
        }
    }
    println!("- bridge: {}", bridge.display());
    println!(
        "- iterations: {iterations} (after {WARMUP} warm-up rounds), round-robin, order rotated each round\n"
    );
}

fn report(samples: &[Vec<f64>; 4], settle: &[f64]) {
    println!("## Results (ms)\n");
    println!("| measurement | n | p50 | p90 | mean | min | max |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for kind in KINDS {
        let s = Stats::of(&samples[kind.index()]);
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            kind.label(),
            s.n,
            s.p50,
            s.p90,
            s.mean,
            s.min,
            s.max
        );
    }
    let s = Stats::of(settle);
    println!(
        "| (not timed above) bridge's background removal, response → container gone | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
        s.n, s.p50, s.p90, s.mean, s.min, s.max
    );
    let round_trip = Stats::of(&samples[Kind::RoundTrip.index()]).p50;
    let floor = Stats::of(&samples[Kind::Floor.index()]).p50;
    let cli = Stats::of(&samples[Kind::Cli.index()]).p50;
    let ratio = round_trip / floor;
    println!();
    println!(
        "round-trip p50 / bollard-floor p50 = {round_trip:.1} / {floor:.1} = {ratio:.3} → {} (target ≤ {TARGET_RATIO})",
        if ratio <= TARGET_RATIO {
            "MEETS the target"
        } else {
            "MISSES the target"
        }
    );
    println!("docker-CLI p50 / bollard-floor p50 = {:.3}", cli / floor);
    let pooled = Stats::of(&samples[Kind::Pooled.index()]);
    println!(
        "pooled round trip p50 {:.1} ms, p90 {:.1} ms (targets: p50 ≤ 5, p95 ≤ 10); pooled / floor p50 = {:.3}",
        pooled.p50,
        pooled.p90,
        pooled.p50 / floor
    );
    println!("\nRaw samples in measurement order (ms):\n");
    for kind in KINDS {
        let raw: Vec<String> = samples[kind.index()]
            .iter()
            .map(|v| format!("{v:.0}"))
            .collect();
        println!("- {}: {}", kind.label(), raw.join(" "));
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

struct Stats {
    n: usize,
    p50: f64,
    p90: f64,
    mean: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn of(values: &[f64]) -> Stats {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        if n == 0 {
            return Stats {
                n,
                p50: f64::NAN,
                p90: f64::NAN,
                mean: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        Stats {
            n,
            p50: percentile(&sorted, 0.5),
            p90: percentile(&sorted, 0.9),
            mean: sorted.iter().sum::<f64>() / n as f64,
            min: sorted[0],
            max: sorted[n - 1],
        }
    }
}

/// Linear interpolation between the closest ranks (numpy's default) over sorted, non-empty values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = q * (sorted.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
}
