//! `bridge plugin test TARGET CASES`: a policy's decisions checked against a file of cases, as a test runner
//! reports tests — for a policy author's own CI, without an MCP server or a sandbox. And the one-off form,
//! `bridge plugin check FILE --call JSON | --run-code CODE`, which prints one decision.
//!
//! A case is a tool call (server, tool, arguments, annotations) or a run (code, servers, purpose), the decision
//! expected (`allow`, `deny`, `ask`) and optionally a substring of the reason or question. The policies decide
//! exactly as in `bridge serve`: every enabled policy in order, the strictest answer wins. A policy set that is
//! not in force (a policy failed to load) runs no case: that is a failure in itself, as it is for `serve`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Config;
use crate::config::settings::Settings;
use crate::plugins::{
    CallCheck, CallLimits, Kind, PluginHost, ProjectPlugins, RunCheck, RunPurpose, ToolAnnotations,
    Verdict,
};
use crate::project::Workspace;

/// The arguments of `bridge plugin test`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
bridge plugin test dist/deny_deletes.wasm cases.toml\n  \
bridge plugin test plugins/rules/examples/deny-github-writes.toml plugins/rules/examples/deny-github-writes.cases.toml\n  \
bridge plugin test configured my-cases.json --json\n\n\
A cases file (TOML; or JSON, the same shape):\n\n  \
[[case]]\n  \
name = \"writes to github are denied\"\n  \
call = { server = \"github\", tool = \"create_issue\", arguments = { title = \"x\" } }\n  \
expect = \"deny\"\n  \
reason = \"only lets github tools read\"   # optional: part of the reason (or question)\n\n  \
[[case]]\n  \
run = { code = \"import os; os.system('ls')\", servers = [\"github\"] }\n  \
expect = \"allow\"\n\n\
A call may carry annotations = { read_only = true, destructive = false, idempotent = true, open_world = false };\n\
a run may carry timeout (seconds) and purpose = \"run\" | \"save-tool\" | \"load-tool\" | \"search\" (with tool_name\n\
for the tool ones).\n\n\
Exit status: 0 when every case passes, 1 when one fails or the policies are not in force, 2 for a bad cases file.")]
pub struct TestArgs {
    /// What decides: a component (.wasm) alone; a bridge config file (.toml): the built-in policies with what
    /// it configures, as `MCP_BRIDGE_CONFIG=FILE bridge serve` would load them; or `configured`: the policies
    /// `bridge serve` would load in this directory.
    target: String,
    /// The cases (TOML, or JSON by the `.json` extension).
    cases: PathBuf,
    /// For a .wasm target: the configuration passed to its `configure` (a JSON object).
    #[arg(long, default_value = "{}")]
    config: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// A cases file: `[[case]]` tables (or a JSON `{"case": [...]}`, or a JSON array of cases).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesFile {
    #[serde(rename = "case", default)]
    cases: Vec<Case>,
}

/// One case: a call or a run, and what the policies must decide.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: Option<String>,
    call: Option<CallCase>,
    run: Option<RunCase>,
    expect: Expected,
    /// A substring of the reason (deny) or question (ask) that must appear.
    reason: Option<String>,
}

/// A case as read and checked: exactly one request.
struct Checked {
    name: String,
    request: Request,
    expect: Expected,
    reason: Option<String>,
}

enum Request {
    Call(CallCase),
    Run(RunCase),
}

/// A tool call as a policy sees it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallCase {
    server: String,
    tool: String,
    #[serde(default)]
    arguments: serde_json::Map<String, Value>,
    #[serde(default)]
    annotations: AnnotationsCase,
}

/// The MCP hints a tool declares (left out: not declared).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnotationsCase {
    read_only: Option<bool>,
    destructive: Option<bool>,
    idempotent: Option<bool>,
    open_world: Option<bool>,
}

/// A run (or code to store or load) as a policy sees it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunCase {
    code: String,
    #[serde(default)]
    servers: Vec<String>,
    timeout: Option<u32>,
    #[serde(default)]
    purpose: PurposeCase,
    tool_name: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum PurposeCase {
    #[default]
    Run,
    SaveTool,
    LoadTool,
    Search,
}

/// A decision, as expected or as made.
#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Expected {
    Allow,
    Deny,
    Ask,
}

impl Expected {
    fn as_str(self) -> &'static str {
        match self {
            Expected::Allow => "allow",
            Expected::Deny => "deny",
            Expected::Ask => "ask",
        }
    }
}

/// What the policies decided on one request.
#[derive(Debug, Serialize)]
pub struct Decided {
    decision: Expected,
    /// The policy that denied or asked.
    decided_by: Option<String>,
    /// Its reason or question.
    reason: Option<String>,
}

impl Decided {
    fn from_verdict(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Allow => Decided {
                decision: Expected::Allow,
                decided_by: None,
                reason: None,
            },
            Verdict::Deny { plugin, reason } => Decided {
                decision: Expected::Deny,
                decided_by: Some(plugin),
                reason: Some(reason),
            },
            Verdict::Ask { plugin, prompt } => Decided {
                decision: Expected::Ask,
                decided_by: Some(plugin),
                reason: Some(prompt),
            },
        }
    }

    /// "deny by rules: why", for one line of output.
    pub fn describe(&self) -> String {
        match (&self.decided_by, &self.reason) {
            (Some(by), Some(reason)) => format!("{} by {by}: {reason}", self.decision.as_str()),
            _ => self.decision.as_str().to_string(),
        }
    }
}

/// `bridge plugin test`.
pub fn run(config: &Config, args: TestArgs) -> Result<ExitCode> {
    let cases = match read_cases(&args.cases) {
        Ok(cases) => cases,
        Err(error) => {
            eprintln!("bridge: {error:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let host = load_target(config, &args.target, &args.config)?;
    let policies: Vec<String> = host
        .reports()
        .iter()
        .filter(|r| r.kind == Some(Kind::Policy) && r.status == "loaded")
        .map(|r| r.name.clone())
        .collect();
    if !host.blocking().is_empty() {
        let reasons = host.blocking().join("; ");
        if args.json {
            let value = json!({"target": args.target, "policies": policies, "not_in_force": host.blocking()});
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            println!(
                "{}: the policies are not in force, so no case ran: {reasons}",
                args.target
            );
        }
        return Ok(ExitCode::FAILURE);
    }
    if policies.is_empty() {
        bail!(
            "{} has no policy to test (what it loads: {})",
            args.target,
            describe_loaded(&host)
        );
    }
    let results: Vec<(&str, Decided, Option<String>)> = cases
        .iter()
        .map(|case| {
            let decided = match &case.request {
                Request::Call(call) => decide_call(&host, call),
                Request::Run(run) => decide_run(&host, run),
            };
            let failure = judge(case, &decided);
            (case.name.as_str(), decided, failure)
        })
        .collect();
    let failed = results.iter().filter(|(_, _, f)| f.is_some()).count();
    if args.json {
        let value = json!({
            "target": args.target,
            "policies": policies,
            "cases": results.iter().map(|(name, decided, failure)| json!({
                "name": name,
                "passed": failure.is_none(),
                "decision": decided.decision,
                "decided_by": decided.decided_by,
                "reason": decided.reason,
                "failure": failure,
            })).collect::<Vec<_>>(),
            "passed": results.len() - failed,
            "failed": failed,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "testing {} (policies: {}) with {} cases from {}",
            args.target,
            policies.join(", "),
            results.len(),
            args.cases.display()
        );
        for (name, decided, failure) in &results {
            match failure {
                None => println!("  ok    {name}: {}", decided.describe()),
                Some(why) => println!("  FAIL  {name}: {why}"),
            }
        }
        println!(
            "{}: {} passed, {failed} failed",
            if failed == 0 { "ok" } else { "FAILED" },
            results.len() - failed
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Why a case failed, or `None` when it passed.
fn judge(case: &Checked, decided: &Decided) -> Option<String> {
    if decided.decision != case.expect {
        return Some(format!(
            "expected {}, got {}",
            case.expect.as_str(),
            decided.describe()
        ));
    }
    let wanted = case.reason.as_deref()?;
    match &decided.reason {
        Some(reason) if reason.contains(wanted) => None,
        Some(_) => Some(format!(
            "{} as expected, but the reason does not contain {wanted:?}: {}",
            case.expect.as_str(),
            decided.describe()
        )),
        None => Some(format!(
            "allowed as expected, but a reason containing {wanted:?} was expected and an allow has none"
        )),
    }
}

/// The cases in `path`, each checked to be a call or a run (not both, not neither).
fn read_cases(path: &Path) -> Result<Vec<Checked>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    let cases = if is_json {
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let value = if value.is_array() {
            json!({ "case": value })
        } else {
            value
        };
        serde_json::from_value::<CasesFile>(value)
            .with_context(|| format!("{} is not a cases file", path.display()))?
            .cases
    } else {
        toml::from_str::<CasesFile>(&text)
            .with_context(|| format!("{} is not a cases file", path.display()))?
            .cases
    };
    if cases.is_empty() {
        bail!(
            "{} has no cases (each is a [[case]] table with a call or a run, and expect)",
            path.display()
        );
    }
    cases
        .into_iter()
        .enumerate()
        .map(|(index, case)| {
            let name = case
                .name
                .unwrap_or_else(|| format!("case {}", index + 1));
            let request = match (case.call, case.run) {
                (Some(_), Some(_)) => bail!("{name}: has both a call and a run; give one"),
                (None, None) => bail!("{name}: has neither a call nor a run"),
                (Some(call), None) => Request::Call(call),
                (None, Some(run)) => {
                    let tool_purpose =
                        matches!(run.purpose, PurposeCase::SaveTool | PurposeCase::LoadTool);
                    if tool_purpose != run.tool_name.is_some() {
                        bail!(
                            "{name}: tool_name goes with purpose = \"save-tool\" or \"load-tool\", and only \
                             with them"
                        );
                    }
                    Request::Run(run)
                }
            };
            Ok(Checked {
                name,
                request,
                expect: case.expect,
                reason: case.reason,
            })
        })
        .collect()
}

/// The policies `target` names, loaded as `bridge serve` would load them.
fn load_target(config: &Config, target: &str, plugin_config: &str) -> Result<PluginHost> {
    if target == "configured" {
        let cwd = std::env::current_dir().context("finding the working directory")?;
        return Ok(Workspace::open(config, &cwd)?.plugins);
    }
    let path = PathBuf::from(target);
    if !path.is_file() {
        bail!(
            "{target}: no such file; give a component (.wasm), a bridge config file (.toml), or `configured`"
        );
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("wasm") => PluginHost::single_cached(
            &path,
            plugin_config,
            CallLimits::default(),
            config.cache_dir.clone(),
        ),
        Some("toml") => {
            let config = Config {
                config_file: Some(path),
                ..config.clone()
            };
            let settings = Settings::load_user(&config)?;
            PluginHost::load(&config, settings, |_| ProjectPlugins::Load(Vec::new()))
        }
        _ => bail!(
            "{target}: give a component (.wasm), a bridge config file (.toml), or `configured`"
        ),
    }
}

fn describe_loaded(host: &PluginHost) -> String {
    let loaded: Vec<String> = host
        .reports()
        .iter()
        .map(|r| {
            format!(
                "{} ({}, {})",
                r.name,
                r.kind.map_or("?", |k| k.as_str()),
                r.status
            )
        })
        .collect();
    if loaded.is_empty() {
        "nothing".into()
    } else {
        loaded.join(", ")
    }
}

/// What the policies decide on `call`.
pub fn decide_call(host: &PluginHost, call: &CallCase) -> Decided {
    let annotations = ToolAnnotations {
        read_only: call.annotations.read_only,
        destructive: call.annotations.destructive,
        idempotent: call.annotations.idempotent,
        open_world: call.annotations.open_world,
    };
    let check = CallCheck {
        run_id: "plugin-test".into(),
        server: call.server.clone(),
        tool: call.tool.clone(),
        arguments: Value::Object(call.arguments.clone()).to_string(),
        annotations,
    };
    Decided::from_verdict(host.check_call(&check))
}

fn decide_run(host: &PluginHost, run: &RunCase) -> Decided {
    let name = run.tool_name.clone().unwrap_or_default();
    let check = RunCheck {
        run_id: "plugin-test".into(),
        code: run.code.clone(),
        servers: run.servers.clone(),
        timeout_seconds: run.timeout.unwrap_or(30),
        purpose: match run.purpose {
            PurposeCase::Run => RunPurpose::Run,
            PurposeCase::SaveTool => RunPurpose::SaveTool(name),
            PurposeCase::LoadTool => RunPurpose::LoadTool(name),
            PurposeCase::Search => RunPurpose::Search,
        },
    };
    Decided::from_verdict(host.check_run(&check))
}

/// `plugin check --call JSON`: the call, parsed as a case's `call`.
pub fn parse_call(text: &str) -> Result<CallCase> {
    serde_json::from_str(text).context(
        "--call takes a JSON object such as {\"server\": \"github\", \"tool\": \"create_issue\", \"arguments\": {}, \
         \"annotations\": {\"read_only\": false}}",
    )
}

/// `plugin check --run-code CODE`: what the policies decide on a run of `code` (no servers).
pub fn decide_code(host: &PluginHost, code: &str) -> Decided {
    decide_run(
        host,
        &RunCase {
            code: code.to_string(),
            servers: Vec::new(),
            timeout: None,
            purpose: PurposeCase::Run,
            tool_name: None,
        },
    )
}
