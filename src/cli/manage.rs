//! The commands that look at and manage the bridge's configuration: `bridge plugin list|check`, `bridge
//! servers`, `bridge trust`, `bridge tools list|rm`. Each loads what `bridge serve` would load from the same
//! working directory, so what they show is what a run gets.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::config::Config;
use crate::plugins::{self, CacheOutcome};
use crate::project::{Project, Trust, TrustStore, Workspace};
use crate::store::SandboxStore;

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Every plugin found (built-in, user, MCP_BRIDGE_PLUGIN_PATH, project): name, kind, version, origin,
    /// status and load time, and whether anything keeps runs from starting.
    #[command(
        after_help = "Example:\n  bridge plugin list\n  bridge plugin list --json\n\n\
Exit status: 1 when a plugin failed or runs are refused."
    )]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Load one component file: which world it implements, its metadata, and a dry `configure`.
    #[command(
        after_help = "Examples:\n  bridge plugin check policy.wasm --config '{\"default\": \"deny\"}'\n  \
bridge plugin check policy.wasm --call '{\"server\": \"github\", \"tool\": \"delete_repository\"}'\n  \
bridge plugin check policy.wasm --run-code 'import os; os.system(\"x\")'\n\n\
Exit status: 1 when the component does not load or configure."
    )]
    Check {
        /// The component (.wasm).
        file: PathBuf,
        /// Configuration passed to `configure` (a JSON object).
        #[arg(long, default_value = "{}")]
        config: String,
        /// A policy: also print what it decides on this tool call, a JSON object such as
        /// {"server": "github", "tool": "create_issue", "arguments": {}, "annotations": {"read_only": false}}.
        #[arg(long, conflicts_with = "run_code")]
        call: Option<String>,
        /// A policy: also print what it decides on a run of this code.
        #[arg(long)]
        run_code: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a policy's decisions against a file of cases (calls and runs, each with the decision expected),
    /// like a test runner: for one component, a bridge config file's policies, or the configured set.
    Test(super::policy_test::TestArgs),
    /// Write a new plugin project (Rust, JavaScript or Python) that builds into a component with one command.
    New(super::scaffold::NewArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  bridge trust                # the current directory\n  \
bridge trust ~/src/app\n  bridge trust --list\n  bridge trust --revoke ~/src/app\n\n\
Trust covers the project's plugins (.mcp-bridge/plugins/*.wasm) and the MCP server files the discovery plugins \
read there (.mcp.json, .vscode/mcp.json, .cursor/mcp.json, mcp-servers/*.json). Any change to them needs trust \
again. The project's .mcp-bridge/config.toml needs none: it can only add restrictions."
)]
pub struct TrustArgs {
    /// The project folder (default: the current directory).
    dir: Option<PathBuf>,
    /// Forget the folder instead.
    #[arg(long, conflicts_with = "list")]
    revoke: bool,
    /// List the trusted folders.
    #[arg(long)]
    list: bool,
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// The saved functions: name, size and when they were saved.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete saved functions by name.
    Rm {
        /// Their names.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

fn cwd() -> Result<PathBuf> {
    std::env::current_dir().context("finding the working directory")
}

/// `bridge plugin list|check|new`.
pub fn plugin(config: &Config, command: PluginCommand) -> Result<ExitCode> {
    match command {
        PluginCommand::List { json } => plugin_list(config, json),
        PluginCommand::Check {
            file,
            config: config_json,
            call,
            run_code,
            json,
        } => plugin_check(
            config,
            &file,
            &config_json,
            Probe::new(call, run_code)?,
            json,
        ),
        PluginCommand::Test(args) => super::policy_test::run(config, args),
        PluginCommand::New(args) => super::scaffold::new(args),
    }
}

fn plugin_list(config: &Config, json: bool) -> Result<ExitCode> {
    let workspace = Workspace::open(config, &cwd()?)?;
    let host = &workspace.plugins;
    let reports = host.reports();
    let (user_file, project_file) = host.settings_sources();
    if json {
        let value = json!({
            "user_config": user_file,
            "project_config": project_file,
            "project": project_json(&workspace.project),
            "ignored_project_settings": host.ignored_settings(),
            "runs_refused": host.blocking(),
            "plugins": reports,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "user config:    {}",
            user_file.map_or("none".into(), |p| p.display().to_string())
        );
        if let Some(path) = project_file {
            println!(
                "project config: {} (it can only add restrictions)",
                path.display()
            );
        }
        println!("project:        {}", describe_project(&workspace.project));
        for note in host.ignored_settings() {
            println!("ignored from the project config: {note}");
        }
        let rows: Vec<Vec<String>> = reports
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.kind.map(|k| k.as_str()).unwrap_or("?").to_string(),
                    r.version.clone(),
                    r.api_version.map_or("?", |v| v.as_str()).to_string(),
                    r.origin.as_str().to_string(),
                    r.source.clone(),
                    if r.blocks_runs {
                        format!("{} (runs refused)", r.status)
                    } else {
                        r.status.clone()
                    },
                    format!("{:.1} ms", r.load_ms),
                ]
            })
            .collect();
        print_table(
            &[
                "NAME", "KIND", "VERSION", "API", "ORIGIN", "SOURCE", "STATUS", "LOAD",
            ],
            &rows,
        );
        if !host.blocking().is_empty() {
            println!("\nruns are refused until this is fixed:");
            for reason in host.blocking() {
                println!("  - {reason}");
            }
        }
    }
    let failed = reports.iter().any(|r| r.status.starts_with("failed"));
    Ok(if failed || !host.blocking().is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A request `plugin check` puts to the policy it loaded.
enum Probe {
    None,
    Call(super::policy_test::CallCase),
    Code(String),
}

impl Probe {
    fn new(call: Option<String>, run_code: Option<String>) -> Result<Probe> {
        Ok(match (call, run_code) {
            (Some(call), _) => Probe::Call(super::policy_test::parse_call(&call)?),
            (None, Some(code)) => Probe::Code(code),
            (None, None) => Probe::None,
        })
    }
}

fn plugin_check(
    config: &Config,
    file: &Path,
    config_json: &str,
    probe: Probe,
    json: bool,
) -> Result<ExitCode> {
    let host = plugins::PluginHost::single_cached(
        file,
        config_json,
        plugins::CallLimits::default(),
        config.cache_dir.clone(),
    )?;
    let report = plugins::check_report(&host);
    let loaded = report.status == "ok";
    if !matches!(probe, Probe::None) && loaded && report.kind != Some(plugins::Kind::Policy) {
        bail!(
            "--call and --run-code ask a policy, and {} is a {} plugin",
            file.display(),
            report.kind.map_or("?", |k| k.as_str())
        );
    }
    let decided = match (&probe, loaded) {
        (Probe::Call(call), true) => Some(super::policy_test::decide_call(&host, call)),
        (Probe::Code(code), true) => Some(super::policy_test::decide_code(&host, code)),
        _ => None,
    };
    if json {
        let mut value = serde_json::to_value(&report)?;
        if let (Some(decided), Value::Object(map)) = (&decided, &mut value) {
            map.insert("decided".into(), serde_json::to_value(decided)?);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
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
        println!(
            "plugin API:  {}",
            report
                .api_version
                .map_or_else(|| "?".to_string(), |v| v.to_string())
        );
        println!("description: {}", report.description);
        println!("configure:   {}", report.status);
        println!("load time:   {:.1} ms", report.load_ms);
        println!(
            "compiled:    {}",
            match (report.cache, &config.cache_dir) {
                (Some(CacheOutcome::Hit), _) => "no: loaded from the precompile cache".to_string(),
                (Some(_), Some(dir)) => format!(
                    "yes, and stored in the precompile cache ({}): the next load of this file skips it",
                    dir.display()
                ),
                (Some(_), None) => "yes (MCP_BRIDGE_CACHE_DIR=off: nothing is kept)".to_string(),
                (None, _) => "no: it did not get that far".to_string(),
            }
        );
        if let Some(decided) = &decided {
            println!("decision:    {}", decided.describe());
        }
    }
    Ok(if loaded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn describe_project(project: &Project) -> String {
    let dir = project.dir.display();
    match project.trust {
        Trust::Trusted => format!("{dir} (trusted)"),
        Trust::NothingToTrust => format!("{dir} (brings no plugins or servers)"),
        Trust::Home => format!("{dir} (your home directory)"),
        Trust::Untrusted { .. } => format!("{dir} (NOT trusted: {})", project.trust_hint()),
    }
}

fn project_json(project: &Project) -> Value {
    json!({
        "dir": project.dir,
        "trusted": project.trusted(),
        "trust": match project.trust {
            Trust::Trusted => "trusted",
            Trust::Untrusted { changed: true } => "changed since trusted",
            Trust::Untrusted { changed: false } => "untrusted",
            Trust::NothingToTrust => "nothing to trust",
            Trust::Home => "home",
        },
        "files": project.files(),
        "fingerprint": project.fingerprint,
    })
}

/// `bridge servers`.
pub fn servers(config: &Config, json: bool) -> Result<ExitCode> {
    let workspace = Workspace::open(config, &cwd()?)?;
    let upstreams = &workspace.upstreams;
    for skipped in upstreams.skipped() {
        eprintln!("warning: skipped {}: {}", skipped.path, skipped.reason);
    }
    for shadowed in upstreams.shadowed() {
        eprintln!(
            "warning: {} defines '{}' too; your definition in {} is used",
            shadowed.project_source, shadowed.name, shadowed.user_source
        );
    }
    let state = |s: &crate::servers::DiscoveredServer| {
        if s.entry.disabled {
            "disabled"
        } else if upstreams.is_untrusted(s) {
            "untrusted"
        } else {
            ""
        }
    };
    let servers = upstreams.servers();
    if json {
        let rows: Vec<Value> = servers
            .iter()
            .map(|s| {
                json!({
                    "name": s.name, "alias": s.alias, "source": s.source, "plugin": s.plugin,
                    "project": s.project, "trusted": !upstreams.is_untrusted(s),
                    "command": s.entry.command, "args": s.entry.args, "url": s.entry.url,
                    "transport": s.entry.transport, "cwd": s.entry.cwd,
                    "description": s.entry.description, "disabled": s.entry.disabled,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let rows: Vec<Vec<String>> = servers
            .iter()
            .map(|s| {
                let target = s.target();
                vec![
                    s.name.clone(),
                    format!("mcp_{}", s.alias),
                    s.entry.transport.clone().unwrap_or_else(|| "stdio".into()),
                    state(s).to_string(),
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
        if servers.iter().any(|s| upstreams.is_untrusted(s)) {
            println!(
                "\nuntrusted servers are not started: {}",
                workspace.project.trust_hint()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `bridge trust [DIR] [--revoke | --list]`.
pub fn trust(config: &Config, args: TrustArgs) -> Result<ExitCode> {
    let store = TrustStore::new(&config.state_dir);
    if args.list {
        let projects = store.list();
        if projects.is_empty() {
            println!("no trusted projects ({})", store.path().display());
        }
        for (dir, record) in projects {
            println!(
                "{dir}  trusted {}  {} file(s)",
                record.trusted_at,
                record.files.len()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let dir = match args.dir {
        Some(dir) => dir,
        None => cwd()?,
    };
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    if args.revoke {
        let removed = store.revoke(&dir)?;
        println!(
            "{} {}",
            dir.display(),
            if removed {
                "is no longer trusted"
            } else {
                "was not trusted"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let workspace = Workspace::open(config, &dir)?;
    let project = &workspace.project;
    match project.trust {
        Trust::NothingToTrust => {
            println!(
                "{} brings no plugins or MCP servers; nothing to trust",
                project.dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Trust::Home => {
            println!(
                "{} is your home directory: its files are already yours",
                project.dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Trust::Trusted | Trust::Untrusted { .. } => {}
    }
    println!("trusting {}:", project.dir.display());
    for file in project.files() {
        println!("  {file}");
    }
    let servers: Vec<String> = workspace
        .upstreams
        .servers()
        .iter()
        .filter(|s| s.project)
        .map(|s| {
            let target = s.entry.command.clone().or(s.entry.url.clone());
            format!("{} ({})", s.name, target.unwrap_or_default())
        })
        .collect();
    if !servers.is_empty() {
        println!("MCP servers it defines: {}", servers.join(", "));
    }
    for shadowed in workspace.upstreams.shadowed() {
        println!(
            "not used: its '{}' ({}), since you define that server in {}",
            shadowed.name, shadowed.project_source, shadowed.user_source
        );
    }
    store.trust(project)?;
    println!("trusted; any change to these files needs `bridge trust` again");
    Ok(ExitCode::SUCCESS)
}

/// `bridge tools list|rm`.
pub fn tools(config: &Config, command: ToolsCommand) -> Result<ExitCode> {
    let store = SandboxStore::new(&config.state_dir, config.store_quota_bytes);
    match command {
        ToolsCommand::List { json } => {
            let tools = store.list_tools();
            if json {
                println!("{}", serde_json::to_string_pretty(&tools)?);
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = tools
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        format!("{} bytes", t.bytes),
                        t.saved_at.clone(),
                    ]
                })
                .collect();
            print_table(&["NAME", "SIZE", "SAVED"], &rows);
            Ok(ExitCode::SUCCESS)
        }
        ToolsCommand::Rm { names } => {
            let mut status = ExitCode::SUCCESS;
            for name in names {
                match store.delete_tool(&name) {
                    Ok(deleted) => {
                        println!("{}", deleted.message);
                        if !deleted.found {
                            status = ExitCode::FAILURE;
                        }
                    }
                    Err(message) => {
                        eprintln!("bridge: {message}");
                        status = ExitCode::FAILURE;
                    }
                }
            }
            Ok(status)
        }
    }
}

/// Left-aligned columns, two spaces apart.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
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
