//! The bridge's own share of `bridge doctor`: the directories it writes, its plugins, and the MCP servers it
//! would start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::HumanBytes;

use super::Check;
use crate::config::Config;
use crate::plugins::PluginHost;
use crate::sandbox::inputs::Inputs;
use crate::servers::DiscoveredServer;
use crate::upstream::Upstreams;

/// How long a server gets to start and list its tools before doctor gives up on it.
const SERVER_START: Duration = Duration::from_secs(60);

/// The state directory (saved tools, stored values, the audit log, trust) and the cache (compiled plugins,
/// tool lists) must be writable; runs work without them, but lose those.
pub(super) fn check_dirs(config: &Config) -> Vec<Check> {
    let mut checks = vec![check_writable(
        "state dir",
        &config.state_dir,
        "MCP_BRIDGE_STATE_DIR",
        "saved tools, stored values, the audit log and trust decisions are not kept",
    )];
    checks.push(match &config.cache_dir {
        Some(dir) => check_writable(
            "cache dir",
            dir,
            "MCP_BRIDGE_CACHE_DIR",
            "plugins are compiled at every start and tool lists are not cached",
        ),
        None => Check::ok(
            "cache dir",
            "none (MCP_BRIDGE_CACHE_DIR is off): plugins compile at every start",
        ),
    });
    checks
}

fn check_writable(name: &str, dir: &Path, var: &str, without: &str) -> Check {
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    let written = crate::state::create_private_dir(dir)
        .and_then(|()| std::fs::write(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe));
    match written {
        Ok(()) => Check::ok(name, format!("{} is writable", dir.display())),
        Err(error) => Check::warn(
            name,
            format!("{} is not writable ({error}): {without}", dir.display()),
            format!(
                "make it writable for this user (`mkdir -p {0} && chown $(id -u) {0}`), or set {var} to a \
                 directory that is",
                dir.display()
            ),
        ),
    }
}

/// The `[inputs]` directories, copied as a run would copy them: one that cannot be read, or more than
/// `MCP_BRIDGE_MAX_INPUT` in all, refuses every run, so it is a failure.
pub(super) fn check_inputs(inputs: &BTreeMap<String, PathBuf>, config: &Config) -> Check {
    if inputs.is_empty() {
        return Check::ok(
            "inputs",
            "none listed ([inputs] in your config file copies directories into every run)",
        );
    }
    let names = inputs.keys().cloned().collect::<Vec<_>>().join(", ");
    match Inputs::new(inputs.clone(), config.max_input_bytes).archive() {
        Ok(archive) => Check::ok(
            "inputs",
            format!(
                "{names}: {} copied into every run as /workspace/in/<name>",
                HumanBytes(archive.map_or(0, |a| a.len() as u64))
            ),
        ),
        Err(error) => Check::fail(
            "inputs",
            error,
            "fix the directory or remove it under [inputs] in your config file (docs/files.md)",
        ),
    }
}

/// Every plugin as loaded: a failed policy is a failure (runs are refused while it is not in force), any other
/// failed plugin a warning.
pub(super) fn check_plugins(host: &PluginHost, config: &Config) -> Vec<Check> {
    let config_file = config.config_file.as_ref().map_or_else(
        || "your bridge.toml".to_string(),
        |p| p.display().to_string(),
    );
    let mut checks = Vec::new();
    for report in host.reports() {
        let name = format!("plugin {}", report.name);
        let kind = report.kind.map_or("plugin", |k| k.as_str());
        let api = report.api_version.map_or("?", |v| v.as_str());
        let check = if report.status == "loaded" {
            Check::ok(
                name,
                format!(
                    "{kind} {}, API {api}, {}, loaded in {:.1} ms",
                    report.version,
                    if report.source == "builtin" {
                        "built in".to_string()
                    } else {
                        format!("{} {}", report.origin.as_str(), report.source)
                    },
                    report.load_ms
                ),
            )
        } else if report.status == "disabled" {
            Check::ok(name, format!("{kind}, disabled"))
        } else if let Some(why) = report.status.strip_prefix("untrusted: ") {
            Check::warn(
                name,
                format!("{kind} from an untrusted project, not loaded"),
                why.to_string(),
            )
        } else {
            let detail = format!("{kind} ({}): {}", report.source, report.status);
            let fix = format!(
                "`bridge plugin check {}` shows why; fix the component, or set `[plugins.{}] enabled = false` \
                 in {config_file}",
                report.source, report.name
            );
            if report.blocks_runs {
                Check::fail(
                    name,
                    format!("{detail}; runs are refused while it is not in force"),
                    fix,
                )
            } else {
                Check::warn(name, detail, fix)
            }
        };
        checks.push(check);
    }
    // Reasons to refuse runs that no single plugin's line already says (a policy entry that names no file…).
    let named: Vec<&str> = host
        .reports()
        .iter()
        .filter(|r| r.blocks_runs)
        .map(|r| r.name.as_str())
        .collect();
    for reason in host.blocking() {
        if named
            .iter()
            .any(|name| reason.starts_with(&format!("plugin {name} ")))
        {
            continue;
        }
        checks.push(Check::fail(
            "policies",
            format!("runs are refused: {reason}"),
            format!("correct the entry in {config_file}; `bridge plugin list` shows every plugin"),
        ));
    }
    checks
}

/// Every discovered server: started and asked for its tools (all at once), or why it is not used.
pub(super) async fn check_servers(upstreams: &Upstreams) -> Vec<Check> {
    let mut checks: Vec<Check> = upstreams
        .skipped()
        .iter()
        .map(|skipped| {
            Check::warn(
                format!("servers file {}", skipped.path),
                format!("skipped: {}", skipped.reason),
                "correct the file; `bridge servers` lists what was read",
            )
        })
        .collect();
    if upstreams.servers().is_empty() {
        checks.push(Check::ok(
            "servers",
            "none configured (README, \"Your MCP servers, inside the sandbox\")",
        ));
        return checks;
    }
    let started = upstreams
        .servers()
        .iter()
        .map(|server| check_server(upstreams, server));
    checks.extend(futures::future::join_all(started).await);
    checks
}

async fn check_server(upstreams: &Upstreams, server: &DiscoveredServer) -> Check {
    let name = format!("server {}", server.name);
    if let Some(reason) = upstreams.unusable_reason(&server.name) {
        return if server.entry.disabled {
            Check::ok(name, format!("disabled in {}", server.source))
        } else {
            Check::warn(name, "not started: its project is not trusted", reason)
        };
    }
    let Some(client) = upstreams.client(&server.name) else {
        return Check::warn(name, "no client was made for it", "report this as a bug");
    };
    let started = Instant::now();
    let listed = tokio::time::timeout(SERVER_START, client.tools()).await;
    let target = server.target();
    let fix = format!(
        "check that `{target}` starts and speaks MCP (run it yourself), or set it disabled in {}",
        server.source
    );
    match listed {
        Ok(Ok(tools)) => {
            let protocol = client
                .protocol_version()
                .map_or_else(|| "?".to_string(), |v| v.to_string());
            Check::ok(
                name,
                format!(
                    "started, {} tool(s), MCP {protocol}, from {}",
                    tools.len(),
                    server.source
                ),
            )
            .timed(started)
        }
        Ok(Err(error)) => {
            let stderr = client.stderr_tail();
            let tail = if stderr.is_empty() {
                String::new()
            } else {
                let last: Vec<&str> = stderr
                    .iter()
                    .rev()
                    .take(3)
                    .rev()
                    .map(String::as_str)
                    .collect();
                format!("; its stderr ends: {}", last.join(" | "))
            };
            Check::warn(name, format!("{error}{tail}"), fix).timed(started)
        }
        Err(_) => Check::warn(
            name,
            format!(
                "did not start and list its tools within {} s",
                SERVER_START.as_secs()
            ),
            fix,
        )
        .timed(started),
    }
}
