//! One `run_python` call from arguments to response, shared by the MCP tool and `bridge run`:
//! validate ([`crate::request`]), run ([`Sandbox`]), build the payload and render it ([`crate::response`]).

use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::request::ArgumentChecker;
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

/// The bridge's core: settings, the sandbox and the response encoder.
pub struct Bridge {
    config: Arc<Config>,
    arguments: ArgumentChecker,
    sandbox: Sandbox,
    encoder: Box<dyn ResponseEncoder>,
}

impl Bridge {
    /// Builds the core from checked settings. Nothing is contacted yet.
    pub fn new(config: Config) -> Result<Self> {
        let encoder = encode::by_name(&config.output_mode)
            .with_context(|| format!("unknown output mode {}", config.output_mode))?;
        let arguments = ArgumentChecker::new(&config)?;
        let config = Arc::new(config);
        let sandbox = Sandbox::new(config.clone()).context("preparing the sandbox")?;
        Ok(Bridge {
            config,
            arguments,
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

    /// Runs one call. Every failure becomes a payload; only cancellation is an error.
    pub async fn run_python(
        &self,
        arguments: &Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<Response, Cancelled> {
        let mut run_id = None;
        let payload = match self.arguments.parse(arguments) {
            Err(message) => Payload::validation_error(message),
            Ok(request) => {
                if let Some(unknown) = request.servers.first() {
                    // Discovery of configured MCP servers is not wired in yet, so every name is unknown.
                    Payload::sandbox_error(
                        format!("Unknown MCP server: {unknown}"),
                        request.servers.clone(),
                    )
                } else {
                    let spec = RunSpec {
                        run_id: new_run_id(),
                        code: request.code,
                        servers: request.servers.clone(),
                        timeout: request.timeout,
                    };
                    tracing::info!(
                        run = spec.run_id,
                        timeout = spec.timeout.as_secs(),
                        "run_python"
                    );
                    run_id = Some(spec.run_id.clone());
                    match self.sandbox.run(&spec, cancel).await {
                        Ok(outcome) => Payload::from_outcome(&outcome, request.servers),
                        Err(SandboxError::Cancelled) => {
                            return Err(Cancelled { run_id });
                        }
                        Err(error) => {
                            tracing::warn!(run = spec.run_id, "sandbox failure: {error}");
                            Payload::sandbox_error(error.to_string(), request.servers)
                        }
                    }
                }
            }
        };
        let text = encode::render(self.encoder.as_ref(), &payload);
        Ok(Response {
            payload,
            text,
            run_id,
        })
    }
}

/// A short unique id: container names and labels carry it.
fn new_run_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("r{}", &id[..16])
}
