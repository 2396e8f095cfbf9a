//! The command line: `bridge serve` (the default) and `bridge run` here; the commands that look at and manage the
//! configuration (`plugin`, `servers`, `trust`, `tools`) in `manage.rs`.

mod doctor;
mod image;
mod install;
mod manage;
mod policy_test;
mod scaffold;

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
use crate::mcp::http::{HttpOptions, Tokens};
use crate::response::Status;
use crate::response::files::Attachment;
use crate::sandbox::SandboxError;

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
    /// Serve MCP over stdio (stdout carries only protocol; logs go to stderr), or over HTTP with --http.
    #[command(
        after_help = "Example client config:\n  {\"mcpServers\": {\"python\": {\"command\": \"bridge\", \"args\": [\"serve\"]}}}\n\n\
Over HTTP (MCP at /mcp, health at /healthz):\n  bridge serve --http 127.0.0.1:8765\n  \
MCP_BRIDGE_HTTP_TOKEN=$(openssl rand -hex 32) bridge serve --http 0.0.0.0:8765 --allow-host bridge.example\n\
  client: {\"url\": \"http://127.0.0.1:8765/mcp\", \"headers\": {\"Authorization\": \"Bearer <token>\"}}"
    )]
    Serve(ServeArgs),
    /// Run code through the same path as the run_python tool and print the response.
    #[command(
        after_help = "Examples:\n  bridge run -c 'print(1 + 1)'\n  bridge run script.py --timeout 60\n  \
echo 'import sys; print(sys.version)' | bridge run - --json\n\nExit status: 0 success; the code's exit code when it \
failed (1 for an uncaught exception); 124 timeout; 2 invalid arguments; 1 other sandbox errors."
    )]
    Run(RunArgs),
    /// List, check or create plugins (policies, encoders, discovery sources).
    #[command(subcommand)]
    Plugin(manage::PluginCommand),
    /// List the MCP servers discovered in the config files, with their aliases, sources and state.
    #[command(after_help = "Example:\n  bridge servers --json | jq '.[].alias'")]
    Servers {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Trust a project folder: load its plugins and start the MCP servers its files define.
    Trust(manage::TrustArgs),
    /// Check everything a run depends on (engine, image, runtime, seccomp, plugins, servers) and print the fix
    /// for whatever is wrong.
    #[command(
        after_help = "Examples:\n  bridge doctor\n  bridge doctor --json | jq '.checks[] | select(.outcome != \"ok\")'\n\n\
Exit status: 0 when runs work (warnings allowed); 1 when a check failed."
    )]
    Doctor {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Register the bridge with an MCP client in that client's own config file (a backup is made first).
    #[command(
        after_help = "Examples:\n  bridge install --client claude-code\n  bridge install --client codex --print\n  \
bridge install --client vscode --name python --env MCP_BRIDGE_RUNTIME=runsc\n\n\
Files: claude-code ~/.claude.json; claude-desktop ~/.config/Claude/claude_desktop_config.json; cursor \
~/.cursor/mcp.json; vscode ~/.config/Code/User/mcp.json; codex ~/.codex/config.toml (macOS: ~/Library/Application \
Support for Claude Desktop and VS Code)."
    )]
    Install(install::InstallArgs),
    /// List sandbox images, or build one with Python packages baked in.
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// List or delete the functions runs saved with save_tool().
    #[command(subcommand)]
    Tools(manage::ToolsCommand),
}

#[derive(Debug, Default, Args)]
struct ServeArgs {
    /// Serve MCP over Streamable HTTP on this address (e.g. 127.0.0.1:8765) instead of stdio.
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    /// A file of bearer tokens, one per line; each is one client (with --http).
    #[arg(
        long,
        value_name = "FILE",
        env = "MCP_BRIDGE_HTTP_TOKEN_FILE",
        requires = "http"
    )]
    token_file: Option<PathBuf>,
    /// A browser origin allowed to call the server, e.g. http://localhost:3000 (repeatable; with --http).
    #[arg(long = "allow-origin", value_name = "ORIGIN", requires = "http")]
    allowed_origins: Vec<String>,
    /// A host name the server answers to besides loopback and its address (repeatable; with --http).
    #[arg(long = "allow-host", value_name = "HOST", requires = "http")]
    allowed_hosts: Vec<String>,
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
    /// Save the files the run hands back (`/workspace/out/`, `runtime.show`, `runtime.attach`) here.
    #[arg(long, value_name = "DIR")]
    save_files: Option<PathBuf>,
}

/// Writes the attached files under `dir` by their names (checked by the host: relative, no `..`), never
/// through a symbolic link; returns the paths written.
fn save_files(dir: &Path, files: &[Attachment]) -> Result<Vec<PathBuf>> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    let mut written = Vec::new();
    if files.iter().any(|file| file.data.is_some()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for file in files {
        let Some(data) = &file.data else { continue };
        // Every directory between `dir` and the file must be a real one: a link could lead anywhere.
        let mut path = dir.to_path_buf();
        let mut parts = file.info.name.split('/').peekable();
        while let Some(part) = parts.next() {
            path.push(part);
            if parts.peek().is_none() {
                break;
            }
            match path.symlink_metadata() {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => bail!(
                    "not saving {}: {} is not a directory",
                    file.info.name,
                    path.display()
                ),
                Err(_) => std::fs::create_dir_all(&path)
                    .with_context(|| format!("creating {}", path.display()))?,
            }
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .and_then(|mut out| out.write_all(data))
            .with_context(|| format!("saving {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
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
    let result = match cli
        .command
        .unwrap_or_else(|| Command::Serve(ServeArgs::default()))
    {
        Command::Serve(args) => match (http_options(&config, &args), bridge(config)) {
            (Err(error), bridge) => {
                if let Ok(bridge) = bridge {
                    bridge.shutdown().await;
                }
                eprintln!("bridge: {error:#}");
                Ok(ExitCode::from(2))
            }
            (Ok(http), Ok(bridge)) => serve(bridge, http).await.map(|()| ExitCode::SUCCESS),
            (Ok(_), Err(code)) => Ok(code),
        },
        Command::Run(args) => match bridge(config) {
            Ok(bridge) => run(bridge, args).await,
            Err(code) => Ok(code),
        },
        Command::Plugin(command) => manage::plugin(&config, command),
        Command::Servers { json } => manage::servers(&config, json),
        Command::Trust(args) => manage::trust(&config, args),
        Command::Doctor { json } => doctor::doctor(config, json).await,
        Command::Install(args) => install::install(&config, args),
        Command::Image(command) => image::image(config, command).await,
        Command::Tools(command) => manage::tools(&config, command),
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

/// The HTTP settings of `serve --http`, checked before anything starts; None for stdio.
fn http_options(config: &Config, args: &ServeArgs) -> Result<Option<HttpOptions>> {
    let Some(addr) = args.http else {
        return Ok(None);
    };
    // Read here, not kept in Config: a secret has no place in its Debug output.
    let token = std::env::var("MCP_BRIDGE_HTTP_TOKEN").ok();
    let tokens = Tokens::load(token.as_deref(), args.token_file.as_deref())?;
    crate::mcp::http::check_exposure(addr, &tokens)?;
    Ok(Some(HttpOptions {
        addr,
        tokens,
        allowed_origins: args.allowed_origins.clone(),
        allowed_hosts: args.allowed_hosts.clone(),
        max_requests_per_client: config.http_max_requests,
    }))
}

async fn serve(bridge: Arc<Bridge>, http: Option<HttpOptions>) -> Result<()> {
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    // The engine is contacted now rather than at the first run: the first run is faster, containers left by a
    // bridge that died are swept at once, and the pool of warm containers starts filling.
    let warming = bridge.clone();
    tokio::spawn(async move {
        match warming.sandbox().warm_up().await {
            Ok(()) => {}
            // A setting the engine cannot honour: no run will work until the user fixes it.
            Err(error @ SandboxError::RuntimeMissing { .. }) => {
                tracing::error!("every run will fail until this is fixed: {error}")
            }
            Err(error) => tracing::warn!("container engine not ready yet: {error}"),
        }
    });
    if let Some(options) = http {
        // Every way out goes through shutdown, which cancels the runs and removes every container.
        let stop = CancellationToken::new();
        let signalled = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = sigterm.recv() => tracing::info!("SIGTERM"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
            }
            signalled.cancel();
        });
        let served = crate::mcp::http::serve(bridge.clone(), options, stop).await;
        bridge.shutdown().await;
        return served;
    }
    // From here on every way out goes through shutdown, which removes the warm containers too.
    let handshake = BridgeServer::new(bridge.clone()).serve(rmcp::transport::stdio());
    let service = tokio::select! {
        service = handshake => match service {
            Ok(service) => service,
            Err(error) => {
                bridge.shutdown().await;
                return Err(error).context("MCP handshake");
            }
        },
        _ = sigterm.recv() => { tracing::info!("SIGTERM"); bridge.shutdown().await; return Ok(()); }
        _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT"); bridge.shutdown().await; return Ok(()); }
    };
    let stop = service.cancellation_token();
    let ended = tokio::spawn(service.waiting());
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
    let Ok(response) = outcome else {
        // 128 + SIGINT, as a shell reports a command Ctrl-C stopped.
        eprintln!("bridge: interrupted: the run was stopped and its container removed");
        return Ok(ExitCode::from(130));
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&response.payload.to_value())?
        );
    } else {
        println!("{}", response.text);
    }
    if let Some(dir) = &args.save_files {
        for path in save_files(dir, &response.files)? {
            eprintln!("bridge: saved {}", path.display());
        }
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
