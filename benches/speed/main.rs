//! How fast a `run_python` call is, in one table: `cargo bench --bench speed`.
//!
//! For each OCI runtime the engine has (runc always; runsc when registered), against release `bridge serve`
//! children driven by an rmcp client over stdio, round-robin per round (order rotated) after warm-up:
//!
//! - **cold**: `print(1)` with `MCP_BRIDGE_POOL_SIZE=0` (a container started for the call; its removal is
//!   waited for, untimed);
//! - **pooled**: the same through a pool of 2 warm single-use containers (the refill is waited for, untimed);
//! - **session call**: `print(1)` as the next call of an open session;
//! - **pooled and session call over HTTP**: the same two against `bridge serve --http` on loopback, with rmcp's
//!   Streamable HTTP client (`initialize`, an MCP session);
//! - **bollard floor**: create → start → wait → remove of a container with the bridge's hardening running
//!   `python3 -c "print(1)"`, no attach (`floor.rs`).
//!
//! Then, for `BENCH_SUSTAIN_SECONDS` (default 60) each at concurrency `BENCH_CONCURRENCY` (default: the CPU
//! count): fresh runs/s through the pool (pool = concurrency limit = that concurrency) and the floor's own
//! create→start→remove containers/s at the same concurrency, taking turns in six windows, and session calls/s
//! (one session per client task); 16 concurrent calls against the default settings (every one must succeed);
//! the bridge's RSS idle with a pool of 2 and its peak under the sustained load; spawn → `initialize`
//! answered.
//!
//! Settings: `BENCH_ITERATIONS` (default 30), `BENCH_SUSTAIN_SECONDS`, `BENCH_CONCURRENCY`, `BENCH_RUNTIMES`
//! (`runc,runsc` by default, the ones the engine has), `MCP_BRIDGE_IMAGE` (default
//! `mcp-bridge/sandbox:bookworm`). The bridges' stderr goes to `target/speed-*.log`. Without `--bench` (as under
//! `cargo test --all-targets`) it does nothing. See BENCHMARKS.md.

mod bridge;
mod floor;
mod stats;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bollard::Docker;
use std::process::ExitCode;

use bridge::Bridge;
use floor::Floor;
use mcp_bridge::sandbox::container::Dialect;
use stats::{Stats, ms};

const DEFAULT_IMAGE: &str = "mcp-bridge/sandbox:bookworm";
const WARMUP: usize = 3;
/// The pool of the latency bridge (the default `MCP_BRIDGE_POOL_SIZE`).
const POOL_SIZE: usize = 2;
/// Calls fired at once at a bridge with the default settings.
const BURST: usize = 16;
/// The sustained fresh runs and the floor alternate in this many windows (`BENCH_SUSTAIN_SECONDS` each in all).
const SUSTAIN_WINDOWS: u32 = 6;

/// An OCI runtime the sandboxes run under.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Runtime {
    Runc,
    Runsc,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Runsc => "runsc",
        }
    }
}

struct Settings {
    iterations: usize,
    sustain: Duration,
    concurrency: usize,
    image: String,
    binary: std::path::PathBuf,
    logs: std::path::PathBuf,
}

impl Settings {
    /// The bridge's environment for `runtime`, with `extra` settings.
    fn vars(
        &self,
        runtime: Runtime,
        extra: &[(&'static str, String)],
    ) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            ("MCP_BRIDGE_IMAGE", self.image.clone()),
            ("MCP_BRIDGE_LOG_LEVEL", "warn".to_string()),
        ];
        if runtime == Runtime::Runsc {
            vars.push(("MCP_BRIDGE_RUNTIME", "runsc".to_string()));
        }
        vars.extend_from_slice(extra);
        vars
    }

    fn log(&self, name: &str) -> std::path::PathBuf {
        self.logs.join(format!("speed-{name}.log"))
    }
}

/// One line of the table.
struct Row {
    what: String,
    runtime: &'static str,
    n: String,
    p50: String,
    p95: String,
    note: String,
}

impl Row {
    fn latency(what: &str, runtime: Runtime, samples: &[f64], note: String) -> Row {
        let s = Stats::of(samples);
        Row {
            what: what.into(),
            runtime: runtime.name(),
            n: s.n.to_string(),
            p50: format!("{:.1}", s.p50),
            p95: format!("{:.1}", s.p95),
            note,
        }
    }

    fn value(what: &str, runtime: &'static str, note: String) -> Row {
        Row {
            what: what.into(),
            runtime,
            n: "".into(),
            p50: "".into(),
            p95: "".into(),
            note,
        }
    }
}

fn main() -> ExitCode {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("speed: skipped (not run with --bench); use `cargo bench --bench speed`");
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("speed: cannot start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nspeed: FAILED: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn number<T: std::str::FromStr>(var: &str, default: T) -> Result<T> {
    match std::env::var(var) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse()
            .ok()
            .with_context(|| format!("{var}={text:?}: expected a positive number")),
        _ => Ok(default),
    }
}

async fn bench() -> Result<()> {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let image = std::env::var("MCP_BRIDGE_IMAGE")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_IMAGE.to_string());
    let binary = bridge::build()?;
    let settings = Settings {
        iterations: number("BENCH_ITERATIONS", 30usize)?.max(1),
        sustain: Duration::from_secs(number("BENCH_SUSTAIN_SECONDS", 60u64)?.max(1)),
        concurrency: number("BENCH_CONCURRENCY", cpus)?.max(1),
        image: image.clone(),
        logs: binary
            .parent()
            .and_then(std::path::Path::parent)
            .unwrap_or(std::path::Path::new("."))
            .to_path_buf(),
        binary,
    };
    let docker = Docker::connect_with_defaults()
        .context("connecting to the Docker engine")?
        .negotiate_version()
        .await
        .context("negotiating the Docker API version (is the engine running?)")?;
    docker.inspect_image(&image).await.with_context(|| {
        format!("image {image} is missing; build it (scripts/build-offline-image.sh) or set MCP_BRIDGE_IMAGE")
    })?;
    let registered = docker
        .info()
        .await
        .ok()
        .and_then(|info| info.runtimes)
        .unwrap_or_default();
    let wanted = std::env::var("BENCH_RUNTIMES").unwrap_or_else(|_| "runc,runsc".into());
    let mut runtimes = Vec::new();
    for name in wanted.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "runc" => runtimes.push(Runtime::Runc),
            "runsc" if registered.contains_key("runsc") => runtimes.push(Runtime::Runsc),
            "runsc" => eprintln!("runsc is not registered with the engine: its rows are left out"),
            other => bail!("BENCH_RUNTIMES: unknown runtime {other:?} (runc, runsc)"),
        }
    }
    print_machine(&docker, &settings, &runtimes).await;
    floor::remove_leftovers(&docker).await;
    // Podman's compatible API takes the seccomp profile as a file its engine can read (also a rootless one).
    let podman = mcp_bridge::sandbox::engine::is_podman(&docker).await;
    let dialect = Dialect::new(podman, &std::env::temp_dir().join("mcp-bridge-bench"))?;
    let floor = Arc::new(Floor::new(docker.clone(), &image, dialect));

    let mut rows = Vec::new();
    for &runtime in &runtimes {
        rows.extend(latency(&settings, &docker, &floor, runtime).await?);
        rows.extend(sustained(&settings, &docker, &floor, runtime).await?);
        rows.push(burst(&settings, &docker, runtime).await?);
    }
    rows.push(start_up(&settings).await?);
    floor::remove_leftovers(&docker).await;
    print_table(&rows);
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    Cold,
    Pooled,
    Session,
    Floor,
    HttpPooled,
    HttpSession,
}

const KINDS: [Kind; 6] = [
    Kind::Cold,
    Kind::Pooled,
    Kind::Session,
    Kind::Floor,
    Kind::HttpPooled,
    Kind::HttpSession,
];

/// p50/p95 of cold, pooled and session calls and of the floor, round-robin; the idle RSS of the pooled bridge.
async fn latency(
    settings: &Settings,
    docker: &Docker,
    floor: &Floor,
    runtime: Runtime,
) -> Result<Vec<Row>> {
    eprintln!(
        "[{}] latency: {WARMUP} warm-up + {} rounds",
        runtime.name(),
        settings.iterations
    );
    let cold = Bridge::spawn(
        &settings.binary,
        &settings.vars(runtime, &[("MCP_BRIDGE_POOL_SIZE", "0".into())]),
        &settings.log(&format!("{}-cold", runtime.name())),
    )
    .await?;
    let pooled = Bridge::spawn(
        &settings.binary,
        &settings.vars(runtime, &[("MCP_BRIDGE_POOL_SIZE", POOL_SIZE.to_string())]),
        &settings.log(&format!("{}-pooled", runtime.name())),
    )
    .await?;
    let http = Bridge::spawn_http(
        &settings.binary,
        &settings.vars(runtime, &[("MCP_BRIDGE_POOL_SIZE", POOL_SIZE.to_string())]),
        &settings.log(&format!("{}-http", runtime.name())),
    )
    .await?;
    http.pool_full(docker).await?;
    bridge::call(&http.peer(), Some("bench")).await?;
    pooled.pool_full(docker).await?;
    // Idle: the pool full, nothing else happening.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = pooled.rss_mib();
    // The session's first call starts its container; later calls are what is timed.
    bridge::call(&pooled.peer(), Some("bench")).await?;

    let mut samples: [Vec<f64>; 6] = Default::default();
    for round in 0..WARMUP + settings.iterations {
        for i in 0..KINDS.len() {
            let kind = KINDS[(round + i) % KINDS.len()];
            // Nothing else on the machine while a call is timed: both pools refilled after the last call (a
            // cold run's container is waited for after its own call).
            pooled.pool_full(docker).await?;
            http.pool_full(docker).await?;
            let elapsed = match kind {
                Kind::Cold => {
                    let elapsed = bridge::call(&cold.peer(), None).await?;
                    cold.settled(docker).await?;
                    elapsed
                }
                Kind::Pooled => bridge::call(&pooled.peer(), None).await?,
                Kind::Session => bridge::call(&pooled.peer(), Some("bench")).await?,
                Kind::Floor => floor.once(runtime).await?,
                Kind::HttpPooled => bridge::call(&http.peer(), None).await?,
                Kind::HttpSession => bridge::call(&http.peer(), Some("bench")).await?,
            };
            if round >= WARMUP {
                samples[kind as usize].push(ms(elapsed));
            }
        }
    }
    pooled.pool_full(docker).await?;
    http.pool_full(docker).await?;
    cold.stop().await;
    pooled.stop().await;
    http.stop().await;
    let floor_p50 = Stats::of(&samples[Kind::Floor as usize]).p50;
    let ratio = |kind: Kind| {
        format!(
            "{:.3} × floor p50",
            Stats::of(&samples[kind as usize]).p50 / floor_p50
        )
    };
    Ok(vec![
        Row::latency(
            "print(1) round trip, cold",
            runtime,
            &samples[0],
            ratio(Kind::Cold),
        ),
        Row::latency(
            "print(1) round trip, pooled",
            runtime,
            &samples[1],
            ratio(Kind::Pooled),
        ),
        Row::latency("print(1) session call", runtime, &samples[2], String::new()),
        Row::latency(
            "print(1) round trip, pooled, over HTTP",
            runtime,
            &samples[Kind::HttpPooled as usize],
            ratio(Kind::HttpPooled),
        ),
        Row::latency(
            "print(1) session call over HTTP",
            runtime,
            &samples[Kind::HttpSession as usize],
            String::new(),
        ),
        Row::latency(
            "bollard floor (create → start → wait → remove)",
            runtime,
            &samples[3],
            String::new(),
        ),
        Row::value(
            "bridge RSS, idle, pool of 2",
            runtime.name(),
            format!("{idle_rss:.1} MiB"),
        ),
    ])
}

/// Sustained fresh runs/s through the pool, the floor's containers/s, session calls/s; peak RSS.
async fn sustained(
    settings: &Settings,
    docker: &Docker,
    floor: &Arc<Floor>,
    runtime: Runtime,
) -> Result<Vec<Row>> {
    let c = settings.concurrency;
    let seconds = settings.sustain.as_secs();
    eprintln!(
        "[{}] sustained: {seconds} s each at concurrency {c}",
        runtime.name()
    );
    let bridge = Bridge::spawn(
        &settings.binary,
        &settings.vars(
            runtime,
            &[
                ("MCP_BRIDGE_POOL_SIZE", c.to_string()),
                ("MCP_BRIDGE_MAX_CONCURRENCY", c.to_string()),
            ],
        ),
        &settings.log(&format!("{}-sustained", runtime.name())),
    )
    .await?;
    // Fresh runs and the floor take turns in windows, so a machine whose speed drifts (a shared VM's steal
    // time moved the floor by a third between runs) weighs on both alike; every window starts with the bridge's
    // pool full and nothing else under way.
    let window = settings.sustain / SUSTAIN_WINDOWS;
    let (mut fresh, mut floor_rate, mut fresh_rss) = (0.0, 0.0, 0f64);
    for _ in 0..SUSTAIN_WINDOWS {
        bridge.pool_full(docker).await?;
        let (rate, rss) = sustain(&bridge, c, window, |_| None).await?;
        fresh += rate / f64::from(SUSTAIN_WINDOWS);
        fresh_rss = fresh_rss.max(rss);
        // The floor's window starts once the bridge is quiet again (its pool refilled, the used containers
        // removed): that work belongs to the fresh runs, not to the floor's window.
        bridge.pool_full(docker).await?;
        floor_rate += floor.throughput(runtime, c, window).await? / f64::from(SUSTAIN_WINDOWS);
    }
    bridge.pool_full(docker).await?;
    for i in 0..c {
        bridge::call(&bridge.peer(), Some(&format!("s{i}"))).await?;
    }
    let (sessions, session_rss) =
        sustain(&bridge, c, settings.sustain, |i| Some(format!("s{i}"))).await?;
    bridge.stop().await;
    Ok(vec![
        Row::value(
            &format!("fresh runs through the pool, {seconds} s at concurrency {c}"),
            runtime.name(),
            format!(
                "{fresh:.1} runs/s = {:.2} × the floor's",
                fresh / floor_rate
            ),
        ),
        Row::value(
            &format!("floor: create → start → remove, {seconds} s at concurrency {c}"),
            runtime.name(),
            format!("{floor_rate:.1} containers/s"),
        ),
        Row::value(
            &format!("session calls, {seconds} s, {c} sessions at once"),
            runtime.name(),
            format!("{sessions:.1} calls/s"),
        ),
        Row::value(
            "bridge RSS, peak under the sustained load",
            runtime.name(),
            format!("{:.1} MiB", fresh_rss.max(session_rss)),
        ),
    ])
}

/// `concurrency` tasks calling for `duration` (in the session `session(i)` of task i): calls/s and peak RSS.
/// Any failed call fails the benchmark.
async fn sustain(
    bridge: &Bridge,
    concurrency: usize,
    duration: Duration,
    session: impl Fn(usize) -> Option<String>,
) -> Result<(f64, f64)> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let loops = (0..concurrency).map(|i| {
        let (peer, name) = (bridge.peer(), session(i));
        tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                bridge::call(&peer, name.as_deref()).await?;
                done += 1;
            }
            anyhow::Ok(done)
        })
    });
    let pid = bridge.pid;
    let sampler = tokio::spawn(async move {
        let mut peak = 0f64;
        while Instant::now() < deadline {
            peak = peak.max(bridge::rss_mib(pid));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        peak
    });
    let mut total = 0;
    for handle in futures::future::join_all(loops).await {
        total += handle.context("a call loop panicked")??;
    }
    let peak = sampler.await.unwrap_or(0.0);
    Ok((total as f64 / started.elapsed().as_secs_f64(), peak))
}

/// 16 calls at once against the default settings (pool 2, 4 at a time): every one must succeed.
async fn burst(settings: &Settings, docker: &Docker, runtime: Runtime) -> Result<Row> {
    eprintln!("[{}] {BURST} concurrent calls", runtime.name());
    let bridge = Bridge::spawn(
        &settings.binary,
        &settings.vars(runtime, &[]),
        &settings.log(&format!("{}-burst", runtime.name())),
    )
    .await?;
    bridge.pool_full(docker).await?;
    let started = Instant::now();
    let calls = (0..BURST).map(|_| {
        let peer = bridge.peer();
        async move { bridge::call(&peer, None).await }
    });
    let results = futures::future::join_all(calls).await;
    let wall = started.elapsed();
    bridge.stop().await;
    let mut samples = Vec::new();
    for result in results {
        samples.push(ms(result.context("a call of the burst failed")?));
    }
    Ok(Row::latency(
        &format!("{BURST} calls at once (defaults: pool 2, 4 at a time)"),
        runtime,
        &samples,
        format!("all {BURST} succeeded in {:.0} ms", ms(wall)),
    ))
}

/// Spawn → `initialize` answered, five times.
async fn start_up(settings: &Settings) -> Result<Row> {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let bridge = Bridge::spawn(
            &settings.binary,
            &settings.vars(Runtime::Runc, &[("MCP_BRIDGE_POOL_SIZE", "0".into())]),
            &settings.log("start-up"),
        )
        .await?;
        samples.push(ms(bridge.started_in));
        bridge.stop().await;
    }
    let mut row = Row::latency(
        "bridge start → initialize answered",
        Runtime::Runc,
        &samples,
        String::new(),
    );
    row.runtime = "–";
    Ok(row)
}

fn print_table(rows: &[Row]) {
    println!("## Results\n");
    println!("| measurement | runtime | n | p50 ms | p95 ms | |");
    println!("|---|---|---:|---:|---:|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.what, row.runtime, row.n, row.p50, row.p95, row.note
        );
    }
}

async fn print_machine(docker: &Docker, settings: &Settings, runtimes: &[Runtime]) {
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
    let (server, kernel) = match docker.version().await {
        Ok(version) => (
            version.version.unwrap_or_default(),
            version.kernel_version.unwrap_or_default(),
        ),
        Err(error) => (format!("unknown ({error})"), String::new()),
    };
    println!("## Machine\n");
    println!("- nproc: {nproc} ({cpu}), kernel {kernel}, Docker {server}");
    println!("- image: {}; runtimes: {runtimes:?}", settings.image);
    println!(
        "- {} rounds after {WARMUP} warm-up; sustained {} s at concurrency {}\n",
        settings.iterations,
        settings.sustain.as_secs(),
        settings.concurrency
    );
}
