//! The command line: `bridge serve` (the default) and `bridge run`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use rmcp::ServiceExt;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::bridge::Bridge;
use crate::config::Config;
use crate::mcp::BridgeServer;
use crate::plugins::{self, PluginHost};
use crate::response::Status;
use crate::upstream::Upstreams;

/// An MCP server with one tool, run_python: the model's Python runs in a hardened container.
#[derive(Debug, Parser)]
#[command(
    name = "bridge",
    version,
    after_help = "With no command, `bridge` is `bridge serve`, so an MCP client \
config of {\"command\": \"bridge\"} works. Settings come from MCP_BRIDGE_* environment variables (see README)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP over stdio (stdout carries only protocol; logs go to stderr).
    #[command(
        after_help = "Example client config:\n  {\"mcpServers\": {\"python\": {\"command\": \"bridge\", \"args\": [\"serve\"]}}}"
    )]
    Serve,
    /// Run code through the same path as the run_python tool and print the response.
    #[command(
        after_help = "Examples:\n  bridge run -c 'print(1 + 1)'\n  bridge run script.py --timeout 60\n  \
echo 'import sys; print(sys.version)' | bridge run - --json\n\nExit status: 0 success; the code's exit code when it \
failed (1 for an uncaught exception); 124 timeout; 2 invalid arguments; 1 other sandbox errors."
    )]
    Run(RunArgs),
    /// List or check plugins (policies, encoders, discovery sources).
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// List the MCP servers discovered in the user's config files, with their aliases and sources.
    #[command(after_help = "Example:\n  bridge servers --json | jq '.[].alias'")]
    Servers {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Every plugin found (built-in, user, project, MCP_BRIDGE_PLUGIN_PATH): name, kind, version, source,
    /// enabled, status and load time.
    #[command(after_help = "Example:\n  bridge plugin list\n  bridge plugin list --json")]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Load one component file: which world it implements, its metadata, and a dry `configure`.
    #[command(
        after_help = "Example:\n  bridge plugin check policy.wasm --config '{\"default\": \"deny\"}'"
    )]
    Check {
        /// The component (.wasm).
        file: PathBuf,
        /// Configuration passed to `configure` (a JSON object).
        #[arg(long, default_value = "{}")]
        config: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The code to run.
    #[arg(short = 'c', long = "code", conflicts_with = "file")]
    code: Option<String>,
    /// A file with the code, or `-` for stdin.
    file: Option<PathBuf>,
    /// Timeout in seconds (default MCP_BRIDGE_TIMEOUT).
    #[arg(long)]
    timeout: Option<i64>,
    /// MCP servers to load (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    servers: Vec<String>,
    /// Print the structured payload as JSON instead of the text.
    #[arg(long)]
    json: bool,
}

/// Parses arguments and runs the chosen command.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("bridge: invalid setting {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.log_level);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => match bridge(config) {
            Ok(bridge) => serve(bridge).await.map(|()| ExitCode::SUCCESS),
            Err(code) => Ok(code),
        },
        Command::Run(args) => match bridge(config) {
            Ok(bridge) => run(bridge, args).await,
            Err(code) => Ok(code),
        },
        Command::Plugin(PluginCommand::List { json }) => plugin_list(&config, json),
        Command::Plugin(PluginCommand::Check {
            file,
            config: json_config,
            json,
        }) => plugin_check(&file, &json_config, json),
        Command::Servers { json } => servers(&config, json),
    };
    result.unwrap_or_else(|error| {
        eprintln!("bridge: {error:#}");
        ExitCode::FAILURE
    })
}

fn init_logging(level: &str) {
    // rmcp logs every upstream connection's start and end at info; at a plain info level that is noise.
    let level = if level == "info" {
        "info,rmcp=warn"
    } else {
        level
    };
    let filter = tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// The bridge for `serve` and `run`. What stops it here is configuration (the config file, an unknown encoder,
/// the engine endpoint): said on stderr, exit status 2 like any other invalid setting.
fn bridge(config: Config) -> Result<Arc<Bridge>, ExitCode> {
    Bridge::new(config).map(Arc::new).map_err(|error| {
        eprintln!("bridge: {error:#}");
        ExitCode::from(2)
    })
}

async fn serve(bridge: Arc<Bridge>) -> Result<()> {
    let sweeper = bridge.clone();
    tokio::spawn(async move {
        match sweeper.sandbox().sweep_orphans().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!("removed {n} orphan sandbox container(s) left by an earlier bridge")
            }
            Err(error) => tracing::warn!("orphan sweep skipped: {error}"),
        }
    });
    let service = BridgeServer::new(bridge.clone())
        .serve(rmcp::transport::stdio())
        .await
        .context("MCP handshake")?;
    let stop = service.cancellation_token();
    let ended = tokio::spawn(service.waiting());
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = ended => tracing::info!("client disconnected"),
        _ = sigterm.recv() => { tracing::info!("SIGTERM"); stop.cancel(); }
        _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT"); stop.cancel(); }
    }
    bridge.shutdown().await;
    Ok(())
}

async fn run(bridge: Arc<Bridge>, args: RunArgs) -> Result<ExitCode> {
    let code = match (args.code, args.file) {
        (Some(code), _) => code,
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut code = String::new();
            std::io::stdin()
                .read_to_string(&mut code)
                .context("reading code from stdin")?;
            code
        }
        (None, Some(path)) => {
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, None) => {
            bail!("give the code with -c CODE, a FILE, or - for stdin (see `bridge run --help`)")
        }
    };
    let mut arguments = Map::new();
    arguments.insert("code".into(), Value::String(code));
    if let Some(timeout) = args.timeout {
        arguments.insert("timeout".into(), json!(timeout));
    }
    if !args.servers.is_empty() {
        arguments.insert("servers".into(), json!(args.servers));
    }

    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let outcome = bridge.run_python(&arguments, &cancel).await;
    bridge.shutdown().await;
    let response = outcome.context("interrupted")?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&response.payload.to_value())?
        );
    } else {
        println!("{}", response.text);
    }
    let payload = &response.payload;
    Ok(match payload.status {
        Status::Success => ExitCode::SUCCESS,
        Status::Timeout => ExitCode::from(124),
        Status::ValidationError => ExitCode::from(2),
        Status::Error => match payload.exit_code {
            Some(code) if (1..=255).contains(&code) => ExitCode::from(code as u8),
            _ => ExitCode::FAILURE,
        },
    })
}

fn plugin_list(config: &Config, json: bool) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("finding the working directory")?;
    let host = PluginHost::load(config, &cwd)?;
    let reports = host.reports();
    if json {
        println!("{}", serde_json::to_string_pretty(reports)?);
    } else {
        if let Some(path) = host.settings_source() {
            println!("config: {}", path.display());
        }
        let rows: Vec<[String; 7]> = reports
            .iter()
            .map(|r| {
                [
                    r.name.clone(),
                    r.kind.map(|k| k.as_str()).unwrap_or("?").to_string(),
                    r.version.clone(),
                    r.source.clone(),
                    if r.enabled { "yes" } else { "no" }.to_string(),
                    r.status.clone(),
                    format!("{:.1} ms", r.load_ms),
                ]
            })
            .collect();
        print_table(
            &[
                "NAME", "KIND", "VERSION", "SOURCE", "ENABLED", "STATUS", "LOAD",
            ],
            &rows,
        );
    }
    let failed = reports.iter().any(|r| r.status.starts_with("failed"));
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn plugin_check(file: &Path, config_json: &str, json: bool) -> Result<ExitCode> {
    let report = plugins::check_file(file, config_json)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("file:        {}", file.display());
        println!(
            "world:       {}",
            report
                .kind
                .map(|k| format!("{}-plugin", k.as_str()))
                .unwrap_or_else(|| "?".into())
        );
        println!("name:        {}", report.name);
        println!("version:     {}", report.version);
        println!("description: {}", report.description);
        println!("configure:   {}", report.status);
        println!("load time:   {:.1} ms", report.load_ms);
    }
    Ok(if report.status == "ok" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Left-aligned columns, two spaces apart.
fn print_table(header: &[&str], rows: &[[String; 7]]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn servers(config: &Config, json: bool) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("finding the working directory")?;
    let host = PluginHost::load(config, &cwd)?;
    let upstreams = Upstreams::discover(config, &host, &cwd);
    for skipped in upstreams.skipped() {
        eprintln!("warning: skipped {}: {}", skipped.path, skipped.reason);
    }
    let servers = upstreams.servers();
    if json {
        let rows: Vec<Value> = servers
            .iter()
            .map(|s| {
                json!({
                    "name": s.name, "alias": s.alias, "source": s.source, "plugin": s.plugin,
                    "command": s.entry.command, "args": s.entry.args, "url": s.entry.url,
                    "transport": s.entry.transport, "cwd": s.entry.cwd,
                    "description": s.entry.description, "disabled": s.entry.disabled,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let rows: Vec<[String; 7]> = servers
            .iter()
            .map(|s| {
                let target = match (&s.entry.command, &s.entry.url) {
                    (Some(command), _) => std::iter::once(command.as_str())
                        .chain(s.entry.args.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(" "),
                    (None, Some(url)) => url.clone(),
                    (None, None) => String::new(),
                };
                [
                    s.name.clone(),
                    format!("mcp_{}", s.alias),
                    s.entry.transport.clone().unwrap_or_else(|| "stdio".into()),
                    if s.entry.disabled { "disabled" } else { "" }.to_string(),
                    target,
                    s.source.clone(),
                    s.entry.description.clone().unwrap_or_default(),
                ]
            })
            .collect();
        print_table(
            &[
                "NAME",
                "PROXY",
                "TRANSPORT",
                "STATE",
                "COMMAND / URL",
                "SOURCE",
                "DESCRIPTION",
            ],
            &rows,
        );
    }
    Ok(ExitCode::SUCCESS)
}
