//! Plugin benchmarks (run with `cargo bench --bench plugins`; not a test):
//! - component load, uncached (compile) vs cached (precompiled), per plugin;
//! - `check-call` latency of the example policies in Rust, JavaScript and Python (and the built-in `rules`);
//! - `check-result` latency of the built-in `secrets` over results of 1 KiB to 1 MiB;
//! - bridge start → `initialize` answered, with the default plugins and a warm cache.
//!
//! The examples must be built first: `plugins/examples/build-all.sh`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcp_bridge::config::Config;
use mcp_bridge::config::settings::Settings;
use mcp_bridge::plugins::{CallCheck, PluginHost, ProjectPlugins, ResultCheck, ToolAnnotations};

const EXAMPLES: &[(&str, &str)] = &[
    (
        "rust",
        "rust/target/wasm32-wasip2/release/example_deny_destructive_rust.wasm",
    ),
    (
        "javascript",
        "javascript/dist/example_deny_destructive_javascript.wasm",
    ),
    ("python", "python/dist/example_deny_destructive_python.wasm"),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let rank = p * (samples.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    samples[low] + (samples[high] - samples[low]) * (rank - low as f64)
}

struct Env {
    _dir: tempfile::TempDir,
    vars: HashMap<String, String>,
    cwd: PathBuf,
}

fn env(cache: Option<&Path>, plugins: &[&Path], config: Option<&str>) -> Env {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
    for (i, plugin) in plugins.iter().enumerate() {
        std::fs::copy(plugin, plugin_dir.join(format!("p{i}.wasm"))).expect("copy plugin");
    }
    let mut vars = HashMap::from([
        ("HOME".to_string(), dir.path().display().to_string()),
        (
            "MCP_BRIDGE_PLUGIN_PATH".to_string(),
            plugin_dir.display().to_string(),
        ),
        (
            "MCP_BRIDGE_CACHE_DIR".to_string(),
            cache
                .map(|c| c.display().to_string())
                .unwrap_or_else(|| "off".into()),
        ),
    ]);
    if let Some(text) = config {
        let path = dir.path().join("bridge.toml");
        std::fs::write(&path, text).expect("config file");
        vars.insert("MCP_BRIDGE_CONFIG".into(), path.display().to_string());
    }
    let cwd = dir.path().to_path_buf();
    Env {
        _dir: dir,
        vars,
        cwd,
    }
}

fn load(env: &Env) -> PluginHost {
    // The plugins alone: no project files to judge here.
    let no_project = |_: &PluginHost| ProjectPlugins::Load(Vec::new());
    let config = Config::from_map(&env.vars).expect("settings");
    let settings = Settings::load(&config, &env.cwd).expect("config files");
    PluginHost::load(&config, settings, no_project).expect("plugins load")
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("skipped (run with cargo bench --bench plugins)");
        return;
    }
    let examples: Vec<(&str, PathBuf)> = EXAMPLES
        .iter()
        .map(|(lang, rel)| (*lang, root().join("plugins/examples").join(rel)))
        .collect();
    for (_, path) in &examples {
        assert!(
            path.is_file(),
            "{} is missing: run plugins/examples/build-all.sh",
            path.display()
        );
    }
    let example_paths: Vec<&Path> = examples.iter().map(|(_, p)| p.as_path()).collect();

    // Load: uncached (3 runs) and cached (10 runs), per plugin, median.
    let mut uncached: HashMap<String, Vec<f64>> = HashMap::new();
    for _ in 0..3 {
        for report in load(&env(None, &example_paths, None)).reports() {
            uncached
                .entry(report.name.clone())
                .or_default()
                .push(report.load_ms);
        }
    }
    // Cached: the same plugin files each start (the usual case), and a fresh copy of them each start (the
    // component is read and hashed to find its entry).
    let cache = tempfile::TempDir::new().expect("cache dir");
    let steady = env(Some(cache.path()), &example_paths, None);
    load(&steady);
    let mut cached: HashMap<String, Vec<f64>> = HashMap::new();
    let mut copied: HashMap<String, Vec<f64>> = HashMap::new();
    for _ in 0..10 {
        for report in load(&steady).reports() {
            cached
                .entry(report.name.clone())
                .or_default()
                .push(report.load_ms);
        }
        for report in load(&env(Some(cache.path()), &example_paths, None)).reports() {
            copied
                .entry(report.name.clone())
                .or_default()
                .push(report.load_ms);
        }
    }
    println!("## Plugin load (ms, median)\n");
    println!(
        "| plugin | uncached (compile), n=3 | cached, same file, n=10 | cached, new copy of the file, n=10 |"
    );
    println!("|---|---:|---:|---:|");
    let mut names: Vec<String> = uncached.keys().cloned().collect();
    names.sort();
    for name in names {
        let u = percentile(uncached.get_mut(&name).expect("samples"), 0.5);
        let c = percentile(cached.get_mut(&name).expect("samples"), 0.5);
        let n = percentile(copied.get_mut(&name).expect("samples"), 0.5);
        println!("| {name} | {u:.1} | {c:.2} | {n:.2} |");
    }

    // check-call latency: one policy at a time, 10,000 calls after 1,000 warm-up.
    println!("\n## check-call latency (µs, 10,000 calls after 1,000 warm-up)\n");
    println!("| policy | p50 | p90 | p99 |");
    println!("|---|---:|---:|---:|");
    let call = CallCheck {
        run_id: "r1".into(),
        server: "github".into(),
        tool: "get_issue".into(),
        arguments: r#"{"owner": "o", "repo": "r", "issue_number": 1}"#.into(),
        annotations: ToolAnnotations {
            read_only: Some(true),
            ..ToolAnnotations::default()
        },
    };
    let rules =
        std::fs::read_to_string(root().join("plugins/rules/examples/deny-github-writes.toml"))
            .expect("example");
    let mut cases: Vec<(String, Env)> = examples
        .iter()
        .map(|(lang, path)| {
            (
                format!("example ({lang})"),
                env(Some(cache.path()), &[path.as_path()], None),
            )
        })
        .collect();
    cases.push((
        "built-in rules (deny-github-writes.toml)".into(),
        env(Some(cache.path()), &[], Some(&rules)),
    ));
    for (label, case) in &cases {
        let host = load(case);
        for _ in 0..1_000 {
            std::hint::black_box(host.check_call(&call));
        }
        let mut samples: Vec<f64> = (0..10_000)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(host.check_call(&call));
                started.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        let (p50, p90, p99) = (
            percentile(&mut samples, 0.5),
            percentile(&mut samples, 0.9),
            percentile(&mut samples, 0.99),
        );
        println!("| {label} | {p50:.2} | {p90:.2} | {p99:.2} |");
    }

    // check-result: the built-in `secrets` policy over results of growing size, clean and with one token.
    println!("\n## check-result latency, built-in secrets (ms)\n");
    println!("| result text | n | p50 | p90 | max |");
    println!("|---|---:|---:|---:|---:|");
    let secrets = env(
        Some(cache.path()),
        &[],
        Some("[plugins.secrets]\nenabled = true\n"),
    );
    let host = load(&secrets);
    assert!(host.inspects_results(), "secrets did not load");
    let line = "issue 42: the build fails on arm64 when the cache is cold, see logs\n";
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    for (kib, n) in [(1usize, 1_000usize), (64, 200), (1024, 20)] {
        let clean = line.repeat(kib * 1024 / line.len());
        let dirty = format!("{clean}token = {token}\n");
        for (what, text) in [("clean", &clean), ("one token", &dirty)] {
            let check = ResultCheck {
                call: call.clone(),
                result: serde_json::json!({"content": [{"type": "text", "text": text}]})
                    .to_string(),
            };
            std::hint::black_box(host.check_result(&check));
            let mut samples: Vec<f64> = (0..n)
                .map(|_| {
                    let started = Instant::now();
                    std::hint::black_box(host.check_result(&check));
                    started.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            let (p50, p90) = (percentile(&mut samples, 0.5), percentile(&mut samples, 0.9));
            let max = samples[samples.len() - 1];
            println!("| {kib} KiB, {what} | {n} | {p50:.3} | {p90:.3} | {max:.3} |");
        }
    }

    // Start → initialize answered, release binary, default plugins, warm cache.
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--bin", "bridge"])
        .current_dir(root())
        .status()
        .expect("cargo build");
    assert!(status.success(), "building the release bridge failed");
    let bridge = root().join("target/release/bridge");
    let cache_dir = cache.path().display().to_string();
    let mut samples: Vec<f64> = (0..23)
        .map(|_| initialize_ms(&bridge, &cache_dir))
        .skip(3)
        .collect();
    println!("\n## bridge start → initialize answered (ms, n=20, default plugins, warm cache)\n");
    println!("| p50 | p90 | min | max |");
    println!("|---:|---:|---:|---:|");
    let (p50, p90) = (percentile(&mut samples, 0.5), percentile(&mut samples, 0.9));
    println!(
        "| {p50:.1} | {p90:.1} | {:.1} | {:.1} |",
        samples[0],
        samples[samples.len() - 1]
    );
}

/// Spawns `bridge serve`, sends `initialize`, returns the time until its answer.
fn initialize_ms(bridge: &Path, cache_dir: &str) -> f64 {
    let started = Instant::now();
    let mut child = Command::new(bridge)
        .arg("serve")
        .env("MCP_BRIDGE_CACHE_DIR", cache_dir)
        .env("MCP_BRIDGE_LOG_LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bridge starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"0\"}}}\n")
        .expect("write initialize");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read answer");
    let elapsed = started.elapsed();
    assert!(line.contains("\"id\":1"), "unexpected answer: {line}");
    drop(stdin);
    let _ = child.wait_timeout_or_kill(Duration::from_secs(10));
    elapsed.as_secs_f64() * 1000.0
}

trait WaitOrKill {
    fn wait_timeout_or_kill(&mut self, limit: Duration) -> std::io::Result<()>;
}

impl WaitOrKill for std::process::Child {
    fn wait_timeout_or_kill(&mut self, limit: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill()
    }
}
