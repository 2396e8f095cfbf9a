//! `bridge doctor`: everything a run depends on, checked in the order a run meets it, each failure with the
//! exact fix.
//!
//! The engine (reachable, its API, rootless or not, the configured OCI runtime, the image) comes first, then the
//! directories the bridge writes, the config and its plugins, one real `print(1)` run through the same path as
//! `run_python` (which also shows the sandbox's seccomp filter and privileges from inside), and last every
//! discovered MCP server, started and asked for its tools. A check that fails blocks runs; one that warns leaves
//! runs working without something (a server's tools, the audit log); one that is skipped needed an earlier
//! check to pass.

mod engine;
mod setup;

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::bridge::Bridge;
use crate::config::Config;
use crate::project::Workspace;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// As it should be.
    Ok,
    /// Runs work, but without something.
    Warn,
    /// Runs cannot work until this is fixed.
    Fail,
    /// Not checked: it needs an earlier check to pass.
    Skip,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked (`engine`, `image`, `plugin deny-github-writes`, `server github`, …).
    pub name: String,
    /// How it came out.
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
    /// The exact fix, when it did not come out ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// How long it took, when that is worth knowing (the run, a server's start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
}

impl Check {
    fn new(name: impl Into<String>, outcome: Outcome, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            outcome,
            detail: detail.into(),
            fix: None,
            ms: None,
        }
    }

    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Outcome::Ok, detail)
    }

    fn warn(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(name, Outcome::Warn, detail).with_fix(fix)
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(name, Outcome::Fail, detail).with_fix(fix)
    }

    fn skip(name: impl Into<String>, needs: &str) -> Self {
        Self::new(name, Outcome::Skip, format!("not checked: needs {needs}"))
    }

    fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    fn timed(mut self, since: Instant) -> Self {
        self.ms = Some(since.elapsed().as_secs_f64() * 1000.0);
        self
    }
}

/// Every finding, in order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Whether runs can work (no check failed).
    pub runs_work: bool,
    /// The findings.
    pub checks: Vec<Check>,
}

/// Examines the setup `config` describes, for a bridge started in `cwd`. Never fails: what goes wrong is a
/// finding.
pub async fn examine(mut config: Config, cwd: &Path) -> Report {
    // One cold run is what the check needs; a pool would start containers nobody uses.
    config.pool_size = 0;
    let mut checks = Vec::new();
    let engine = engine::check_engine(&config, &mut checks).await;
    checks.extend(setup::check_dirs(&config));

    match Workspace::open(&config, cwd) {
        Ok(workspace) => {
            checks.extend(setup::check_plugins(&workspace.plugins, &config));
            checks.push(setup::check_inputs(&workspace.settings.inputs, &config));
            let servers = setup::check_servers(&workspace.upstreams);
            // The run goes through a bridge of its own, as `bridge run` would; the servers start meanwhile.
            let (run, servers) = tokio::join!(check_run(config, cwd, engine), servers);
            checks.extend(run);
            checks.extend(servers);
            workspace.upstreams.shutdown().await;
        }
        Err(error) => {
            let file = config
                .config_file
                .as_ref()
                .map_or("the config file".to_string(), |p| p.display().to_string());
            checks.push(Check::fail(
                "config",
                format!("{error:#}"),
                format!("correct {file} (README, \"Plugins\" and \"Settings\")"),
            ));
            for name in ["plugins", "run", "servers"] {
                checks.push(Check::skip(name, "a readable config"));
            }
        }
    }
    Report {
        runs_work: checks.iter().all(|c| c.outcome != Outcome::Fail),
        checks,
    }
}

async fn check_run(config: Config, cwd: &Path, engine_ready: bool) -> Vec<Check> {
    if !engine_ready {
        return ["run", "seccomp", "privileges"]
            .map(|name| Check::skip(name, "the engine and the image"))
            .into();
    }
    match Bridge::new_in(config, cwd) {
        Ok(bridge) => {
            let checks = engine::check_run(&bridge).await;
            bridge.shutdown().await;
            checks
        }
        Err(error) => vec![Check::fail(
            "run",
            format!("{error:#}"),
            "`bridge run -c 'print(1)'` shows the same error",
        )],
    }
}
