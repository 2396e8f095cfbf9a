//! One `run_python` call from arguments to response, shared by the MCP tool and `bridge run`:
//! validate ([`crate::request`]), run ([`Sandbox`]), build the payload and render it ([`crate::response`]).

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::plugins::{PluginEncoder, PluginHost, RunCheck, RunPurpose};
use crate::project::Workspace;
use crate::proxy::ask::{self, Asker, Subject};
use crate::proxy::audit::AuditLog;
use crate::proxy::{ProxyContext, RunProxy};
use crate::request::{ArgumentChecker, RunRequest};
use crate::response::encode::{self, ResponseEncoder};
use crate::response::files::{AttachedFiles, Attachment};
use crate::response::{self, Payload};
use crate::sandbox::inputs::Inputs;
use crate::sandbox::{ContainerUse, RunProgress, RunSpec, Sandbox, SandboxError};
use crate::store::SandboxStore;
use crate::upstream::catalog::{self, ToolCatalog};
use crate::upstream::{UpstreamClient, Upstreams};

/// Who a call comes from, beyond its arguments. The default is nobody: `bridge run`, tests.
#[derive(Default, Clone)]
pub struct Caller<'a> {
    /// Puts a policy's questions to the user; without one an `ask` is a denial that says why.
    pub asker: Option<Arc<dyn Asker>>,
    /// The MCP connection, which owns the sessions its calls open (a call without one cannot name a session).
    pub connection: Option<&'a str>,
    /// Counts the run's output as it arrives, for the caller's progress reports.
    pub progress: Option<Arc<RunProgress>>,
    /// A larger limit on the call's `timeout` than `MCP_BRIDGE_MAX_TIMEOUT`: a run as a task
    /// (`MCP_BRIDGE_MAX_TASK_TIMEOUT`).
    pub max_timeout: Option<std::time::Duration>,
}

/// A finished call: the structured payload and the text rendered from it.
#[derive(Debug, Clone)]
pub struct Response {
    /// `structuredContent`.
    pub payload: Payload,
    /// The text content, from the configured encoder.
    pub text: String,
    /// The run's id, once it had one (a container started cold for it is named `mcp-bridge-<id>`).
    pub run_id: Option<String>,
    /// The container it ran in, when it reached one.
    pub container: Option<ContainerUse>,
    /// The files the run handed back, in the order they came (the ones a limit left out without bytes).
    pub files: Vec<Attachment>,
}

/// The call was cancelled by its caller; its container is already gone.
#[derive(Debug, thiserror::Error)]
#[error("the run was cancelled")]
pub struct Cancelled {
    /// The cancelled run's id, when it had got as far as having one.
    pub run_id: Option<String>,
}

/// The bridge's core: settings, the plugins, the sandbox and the response encoder.
pub struct Bridge {
    config: Arc<Config>,
    arguments: ArgumentChecker,
    plugins: Arc<PluginHost>,
    sandbox: Sandbox,
    encoder: Arc<dyn ResponseEncoder>,
    proxy: ProxyContext,
    /// The user's `[inputs]` directories, copied into every run.
    inputs: Arc<Inputs>,
}

impl Bridge {
    /// Builds the core from checked settings: loads the plugins (the config file is looked for relative to the
    /// working directory). The container engine is not contacted yet.
    pub fn new(config: Config) -> Result<Self> {
        let cwd = std::env::current_dir().context("finding the working directory")?;
        Self::new_in(config, &cwd)
    }

    /// [`Bridge::new`] with `cwd` as the project directory (project config file, plugins and servers).
    pub fn new_in(config: Config, cwd: &std::path::Path) -> Result<Self> {
        let workspace = Workspace::open(&config, cwd)?;
        let plugins = Arc::new(workspace.plugins);
        let encoders = plugins.encoder_names();
        if !encoders.contains(&config.output_mode) {
            bail!(
                "MCP_BRIDGE_OUTPUT_MODE={:?}: no such encoder; available: {}",
                config.output_mode,
                encoders.join(", ")
            );
        }
        let encoder = Arc::new(PluginEncoder::new(
            plugins.clone(),
            config.output_mode.clone(),
        ));
        let arguments = ArgumentChecker::new(&config);
        let upstreams = Arc::new(workspace.upstreams);
        let audit = workspace.settings.audit;
        let inputs = Arc::new(Inputs::new(
            workspace.settings.inputs.clone(),
            config.max_input_bytes,
        ));
        let config = Arc::new(config);
        let proxy = ProxyContext {
            config: config.clone(),
            upstreams,
            catalog: Arc::new(ToolCatalog::new(config.cache_dir.clone())),
            plugins: plugins.clone(),
            audit: Arc::new(AuditLog::new(&config.state_dir, audit)),
            store: Arc::new(SandboxStore::new(
                &config.state_dir,
                config.store_quota_bytes,
            )),
        };
        let sandbox = Sandbox::new(config.clone()).context("preparing the sandbox")?;
        Ok(Bridge {
            config,
            arguments,
            plugins,
            sandbox,
            encoder,
            proxy,
            inputs,
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The sandbox, for start-up sweeps and shutdown.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The loaded plugins.
    pub fn plugins(&self) -> &PluginHost {
        &self.plugins
    }

    /// The configured MCP servers.
    pub fn upstreams(&self) -> &Upstreams {
        &self.proxy.upstreams
    }

    /// Stops every run (removing its container) and ends every upstream server.
    pub async fn shutdown(&self) {
        tokio::join!(self.sandbox.shutdown(), self.proxy.upstreams.shutdown());
    }

    /// Runs one call. Every failure becomes a payload; only cancellation is an error. A policy's `ask` (on the
    /// run or a tool call) is refused, since nobody can be asked: see [`Bridge::run_python_for`].
    pub async fn run_python(
        &self,
        arguments: &Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<Response, Cancelled> {
        self.run_python_for(arguments, cancel, Caller::default())
            .await
    }

    /// [`Bridge::run_python`] for `caller`: an MCP connection, which may be asked a policy's questions and
    /// may want to hear how the run goes.
    pub async fn run_python_for(
        &self,
        arguments: &Map<String, Value>,
        cancel: &CancellationToken,
        caller: Caller<'_>,
    ) -> Result<Response, Cancelled> {
        let files = Arc::new(AttachedFiles::new(&self.config));
        let (mut payload, run_id, container) = match self
            .arguments
            .parse_within(arguments, caller.max_timeout)
        {
            Err(message) => (response::validation_error(message), None, None),
            Ok(request) if request.session.is_some() && caller.connection.is_none() => (
                response::validation_error(
                    "'session' needs a connection that stays open (`bridge serve`); here every call runs \
                     in a fresh container, so call without it",
                ),
                None,
                None,
            ),
            Ok(request) => self.run_request(request, cancel, caller, &files).await?,
        };
        let (files, unlisted) = files.take();
        response::with_files(&mut payload, &files);
        // An encoder is a plugin call: it runs on the blocking pool, never on an async worker.
        let (encoder, rendered) = (self.encoder.clone(), payload.clone());
        let text = tokio::task::spawn_blocking(move || encode::render(encoder.as_ref(), &rendered))
            .await
            .unwrap_or_else(|error| {
                let fallback = encode::Json.encode(&payload).unwrap_or_default();
                format!("{fallback}\n(note: the encoder did not complete: {error})")
            });
        let text = response::with_files_note(text, &files, unlisted);
        Ok(Response {
            payload,
            text,
            run_id,
            container,
            files,
        })
    }

    /// Policies, then the servers, then the sandbox, for checked arguments.
    async fn run_request(
        &self,
        request: RunRequest,
        cancel: &CancellationToken,
        caller: Caller<'_>,
        files: &Arc<AttachedFiles>,
    ) -> Result<(Payload, Option<String>, Option<ContainerUse>), Cancelled> {
        let Caller {
            asker,
            connection,
            progress,
            ..
        } = caller;
        let blocking = self.plugins.blocking();
        if !blocking.is_empty() {
            let message = format!(
                "runs are refused until the bridge's configuration is fixed (see `bridge plugin list`): {}",
                blocking.join("; ")
            );
            return Ok((
                response::policy_denied(message, request.servers),
                None,
                None,
            ));
        }
        let loaded = match self.resolve_servers(&request.servers) {
            Ok(loaded) => loaded,
            Err(message) => {
                return Ok((
                    response::sandbox_error(message, request.servers),
                    None,
                    None,
                ));
            }
        };
        let run_id = new_run_id();
        let run_check = RunCheck {
            run_id: run_id.clone(),
            code: request.code.clone(),
            servers: request.servers.clone(),
            timeout_seconds: u32::try_from(request.timeout.as_secs()).unwrap_or(u32::MAX),
            purpose: RunPurpose::Run,
        };
        let verdict = self.plugins.check_run_async(run_check.clone()).await;
        let question = |prompt: &str| {
            let lines = request.code.lines().count();
            format!(
                "A run_python call ({lines} line{} of code, servers: {}, timeout {} s) is waiting: {prompt}",
                if lines == 1 { "" } else { "s" },
                if request.servers.is_empty() {
                    "none".to_string()
                } else {
                    request.servers.join(", ")
                },
                request.timeout.as_secs()
            )
        };
        let settled = tokio::select! {
            settled = ask::settle(verdict, Subject::Run, question, asker.as_deref()) => settled,
            _ = cancel.cancelled() => return Err(Cancelled { run_id: None }),
        };
        if let Err(message) = settled.outcome {
            tracing::info!(run = run_id, "run refused: {message}");
            return Ok((
                response::policy_denied(message, request.servers),
                None,
                None,
            ));
        }
        let server_info = tokio::select! {
            info = self.server_info(&loaded) => info,
            _ = cancel.cancelled() => return Err(Cancelled { run_id: None }),
        };
        let server_info = match server_info {
            Ok(info) => info,
            Err(message) => {
                return Ok((
                    response::sandbox_error(message, request.servers),
                    None,
                    None,
                ));
            }
        };
        let inputs = self.inputs.clone();
        let inputs = tokio::task::spawn_blocking(move || inputs.archive())
            .await
            .unwrap_or_else(|error| {
                Err(format!("copying the [inputs] directories failed: {error}"))
            });
        let inputs = match inputs {
            Ok(inputs) => inputs,
            Err(message) => {
                return Ok((
                    response::sandbox_error(message, request.servers),
                    None,
                    None,
                ));
            }
        };
        let rpc = Arc::new(RunProxy::new(
            self.proxy.clone(),
            run_check,
            loaded,
            asker,
            files.clone(),
        ));
        let spec = RunSpec {
            run_id,
            code: request.code,
            servers: request.servers.clone(),
            timeout: request.timeout,
            server_info,
            rpc,
            progress,
            attach: files.limits(),
            inputs,
        };
        tracing::info!(
            run = spec.run_id,
            timeout = spec.timeout.as_secs(),
            session = request.session.as_deref(),
            "run_python"
        );
        let outcome = match (&request.session, connection) {
            (Some(name), Some(owner)) => {
                self.sandbox
                    .run_in_session(&spec, owner, name, cancel)
                    .await
            }
            _ => self.sandbox.run(&spec, cancel).await,
        };
        let (payload, container) = match outcome {
            Ok(outcome) => (
                response::from_outcome(&outcome, request.servers),
                Some(outcome.container),
            ),
            Err(SandboxError::Cancelled) => {
                return Err(Cancelled {
                    run_id: Some(spec.run_id),
                });
            }
            Err(error) => {
                tracing::warn!(run = spec.run_id, "sandbox failure: {error}");
                (
                    response::sandbox_error(error.to_string(), request.servers),
                    None,
                )
            }
        };
        Ok((payload, Some(spec.run_id), container))
    }
}

impl Bridge {
    /// The clients of the requested servers; an unknown or disabled name is an error listing the usable ones.
    fn resolve_servers(&self, names: &[String]) -> Result<Vec<Arc<UpstreamClient>>, String> {
        let upstreams = &self.proxy.upstreams;
        names
            .iter()
            .map(|name| {
                if let Some(reason) = upstreams.unusable_reason(name) {
                    return Err(reason);
                }
                let client = upstreams.client(name).ok_or_else(|| {
                    let available = upstreams.available_names();
                    format!(
                        "Unknown MCP server: {name}; configured servers: {}",
                        if available.is_empty() {
                            "none (see `bridge servers`)".to_string()
                        } else {
                            available.join(", ")
                        }
                    )
                })?;
                Ok(client.clone())
            })
            .collect()
    }

    /// Starts the run's servers (concurrently) and describes them, and every discovered server, for the
    /// in-sandbox runtime.
    async fn server_info(&self, loaded: &[Arc<UpstreamClient>]) -> Result<Value, String> {
        let lists = futures::future::join_all(
            loaded
                .iter()
                .map(|client| self.proxy.catalog.live_tools(client)),
        )
        .await;
        let mut described = Vec::new();
        for (client, tools) in loaded.iter().zip(lists) {
            let tools = tools.map_err(|e| e.to_string())?;
            let server = client.server();
            let aliases = catalog::aliases(&tools);
            let tools: Vec<Value> = tools
                .iter()
                .zip(aliases)
                .map(|(tool, alias)| {
                    serde_json::json!({
                        "name": tool.name,
                        "alias": alias,
                        "description": tool.description.as_deref().map(str::trim).unwrap_or_default(),
                        "input_schema": Value::Object((*tool.input_schema).clone()),
                        "annotations": tool.annotations,
                    })
                })
                .collect();
            described.push(serde_json::json!({
                "name": server.name,
                "alias": server.alias,
                "description": server.entry.description,
                "cwd": server.entry.cwd,
                "tools": tools,
            }));
        }
        let discovered: Vec<Value> = self
            .proxy
            .upstreams
            .usable()
            .map(|s| serde_json::json!({"name": s.name, "description": s.entry.description}))
            .collect();
        Ok(serde_json::json!({
            "loaded": described,
            "discovered": discovered,
        }))
    }
}

/// A short unique id: container names and labels carry it.
fn new_run_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("r{}", &id[..16])
}
