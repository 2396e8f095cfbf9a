//! One `run_python` call from arguments to response, shared by the MCP tool and `bridge run`:
//! validate ([`crate::request`]), run ([`Sandbox`]), build the payload and render it ([`crate::response`]).

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::plugins::{PluginHost, RunCheck, Verdict};
use crate::request::{ArgumentChecker, RunRequest};
use crate::response::Payload;
use crate::response::encode::{self, ResponseEncoder};
use crate::sandbox::{RunSpec, Sandbox, SandboxError};

/// A finished call: the structured payload and the text rendered from it.
#[derive(Debug, Clone)]
pub struct Response {
    /// `structuredContent`.
    pub payload: Payload,
    /// The text content, from the configured encoder.
    pub text: String,
    /// The run's id (container name `mcp-bridge-<id>`, label `mcp-bridge.run`), when a container was made.
    pub run_id: Option<String>,
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
    encoder: Box<dyn ResponseEncoder>,
}

impl Bridge {
    /// Builds the core from checked settings: loads the plugins (the config file is looked for relative to the
    /// working directory). The container engine is not contacted yet.
    pub fn new(config: Config) -> Result<Self> {
        let cwd = std::env::current_dir().context("finding the working directory")?;
        Self::new_in(config, &cwd)
    }

    /// [`Bridge::new`] with `cwd` as the project directory (project config file and plugins).
    pub fn new_in(config: Config, cwd: &std::path::Path) -> Result<Self> {
        let plugins = Arc::new(PluginHost::load(&config, cwd)?);
        let encoders = plugins.encoder_names();
        if !encoders.contains(&config.output_mode) {
            bail!(
                "MCP_BRIDGE_OUTPUT_MODE={:?}: no such encoder; available: {}",
                config.output_mode,
                encoders.join(", ")
            );
        }
        let encoder = Box::new(PluginEncoder {
            plugins: plugins.clone(),
            name: config.output_mode.clone(),
        });
        let arguments = ArgumentChecker::new(&config)?;
        let config = Arc::new(config);
        let sandbox = Sandbox::new(config.clone()).context("preparing the sandbox")?;
        Ok(Bridge {
            config,
            arguments,
            plugins,
            sandbox,
            encoder,
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

    /// Runs one call. Every failure becomes a payload; only cancellation is an error.
    pub async fn run_python(
        &self,
        arguments: &Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<Response, Cancelled> {
        let (payload, run_id) = match self.arguments.parse(arguments) {
            Err(message) => (Payload::validation_error(message), None),
            Ok(request) => self.run_request(request, cancel).await?,
        };
        let text = encode::render(self.encoder.as_ref(), &payload);
        Ok(Response {
            payload,
            text,
            run_id,
        })
    }

    /// Policies, then the sandbox, for checked arguments.
    async fn run_request(
        &self,
        request: RunRequest,
        cancel: &CancellationToken,
    ) -> Result<(Payload, Option<String>), Cancelled> {
        if let Some(unknown) = request.servers.first() {
            // Discovery of configured MCP servers is not wired to runs yet, so every name is unknown.
            let message = format!("Unknown MCP server: {unknown}");
            return Ok((Payload::sandbox_error(message, request.servers), None));
        }
        let spec = RunSpec {
            run_id: new_run_id(),
            code: request.code,
            servers: request.servers.clone(),
            timeout: request.timeout,
        };
        let verdict = self.plugins.check_run(&RunCheck {
            run_id: spec.run_id.clone(),
            code: spec.code.clone(),
            servers: spec.servers.clone(),
            timeout_seconds: u32::try_from(spec.timeout.as_secs()).unwrap_or(u32::MAX),
        });
        if verdict != Verdict::Allow {
            tracing::info!(run = spec.run_id, "run refused: {}", verdict.describe());
            // Asking needs a client that supports elicitation; until then an ask is a refusal that says so.
            let message = match &verdict {
                Verdict::Ask { .. } => format!(
                    "{}; asking the user is not supported yet, so the run is refused",
                    verdict.describe()
                ),
                _ => verdict.describe(),
            };
            return Ok((Payload::policy_denied(message, request.servers), None));
        }
        tracing::info!(
            run = spec.run_id,
            timeout = spec.timeout.as_secs(),
            "run_python"
        );
        let payload = match self.sandbox.run(&spec, cancel).await {
            Ok(outcome) => Payload::from_outcome(&outcome, request.servers),
            Err(SandboxError::Cancelled) => {
                return Err(Cancelled {
                    run_id: Some(spec.run_id),
                });
            }
            Err(error) => {
                tracing::warn!(run = spec.run_id, "sandbox failure: {error}");
                Payload::sandbox_error(error.to_string(), request.servers)
            }
        };
        Ok((payload, Some(spec.run_id)))
    }
}

/// The configured encoder plugin behind the response seam.
struct PluginEncoder {
    plugins: Arc<PluginHost>,
    name: String,
}

impl ResponseEncoder for PluginEncoder {
    fn name(&self) -> &str {
        &self.name
    }

    fn encode(&self, payload: &Payload) -> Result<String> {
        self.plugins
            .encode(&self.name, &payload.to_value().to_string())
            .map(|(text, _mime)| text)
            .map_err(anyhow::Error::msg)
    }
}

/// A short unique id: container names and labels carry it.
fn new_run_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("r{}", &id[..16])
}
