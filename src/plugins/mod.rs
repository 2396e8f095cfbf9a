//! The plugin host: policies, response encoders and discovery sources as WebAssembly components behind the WIT
//! package in `wit/`.
//!
//! [`PluginHost::load`] (`load.rs`) reads the config files ([`settings`]: the user's, and the project's, which can
//! only add policies), loads the built-ins ([`builtin`]) and every `*.wasm` of the plugin directories (the
//! user's, `MCP_BRIDGE_PLUGIN_PATH`, and a trusted project's) through the precompile cache (`cache.rs`), works
//! out each one's kind from its exports, and configures the enabled ones. A policy that is configured but not in
//! force stops runs ([`PluginHost::blocking`]); other failures are reported. Calls go through `instance.rs` under
//! the limits of `runtime.rs`, the one module that owns wasmtime.

pub mod bindings;
mod builtin;
mod cache;
mod discovery;
mod instance;
mod load;
pub mod policy;
mod runtime;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use crate::servers::ServerEntry;
pub use cache::CacheOutcome;
pub use discovery::{DiscoveryContext, FileResult};
pub use instance::Info;
pub use load::{ProjectPlugins, check_file, wasm_files};
pub use policy::Verdict;
pub use runtime::CallLimits;

use crate::config::settings::{self, Settings};
use bindings::policy as wit_policy;
use instance::{Bindings, LoadedPlugin};
use runtime::PluginRuntime;

/// A plugin's kind: which world it implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `policy-plugin`.
    Policy,
    /// `encoder-plugin`.
    Encoder,
    /// `discovery-plugin`.
    Discovery,
}

impl Kind {
    /// The world's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Policy => "policy",
            Kind::Encoder => "encoder",
            Kind::Discovery => "discovery",
        }
    }
}

/// Where a plugin's component came from, which decides how far it is trusted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Embedded in the bridge.
    #[default]
    Builtin,
    /// The user's plugin directory (`~/.config/mcp-bridge/plugins`).
    User,
    /// A directory of `MCP_BRIDGE_PLUGIN_PATH`.
    Path,
    /// The working directory's `.mcp-bridge/plugins` (loaded only once the user trusts the project).
    Project,
}

impl Origin {
    /// The word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Builtin => "builtin",
            Origin::User => "user",
            Origin::Path => "path",
            Origin::Project => "project",
        }
    }
}

/// What `bridge plugin list` shows for one plugin instance (loaded or not).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PluginReport {
    /// Metadata name (the file name when it never got that far); `<name> (project)` for the extra instance a
    /// project's config file adds to a policy.
    pub name: String,
    /// Its world, when known.
    pub kind: Option<Kind>,
    /// Its version, when known.
    pub version: String,
    /// Its description, when known.
    pub description: String,
    /// Where the component came from.
    pub origin: Origin,
    /// `builtin`, or the file it came from.
    pub source: String,
    /// The config file whose entry it follows, if any.
    pub configured_by: Option<String>,
    /// Enabled by default or by a config file.
    pub enabled: bool,
    /// `loaded`, `disabled`, `untrusted: …` or `failed: <reason>`.
    pub status: String,
    /// This failure keeps runs from starting (a policy that is configured but not in force).
    pub blocks_runs: bool,
    /// Compile or cache load, instantiation and configure, in milliseconds.
    pub load_ms: f64,
    /// How the compiled component was obtained.
    pub cache: Option<CacheOutcome>,
}

/// A run about to start, as policies see it.
#[derive(Debug, Clone)]
pub struct RunCheck {
    /// The run's id.
    pub run_id: String,
    /// Its code.
    pub code: String,
    /// Requested servers.
    pub servers: Vec<String>,
    /// Timeout in seconds.
    pub timeout_seconds: u32,
}

/// A tool call about to be made, as policies see it.
#[derive(Debug, Clone)]
pub struct CallCheck {
    /// The run it comes from.
    pub run_id: String,
    /// Server name.
    pub server: String,
    /// Tool name.
    pub tool: String,
    /// Arguments, a JSON object text.
    pub arguments: String,
    /// The tool's MCP annotations.
    pub annotations: ToolAnnotations,
}

/// The MCP hints a tool declares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolAnnotations {
    /// `readOnlyHint`.
    pub read_only: Option<bool>,
    /// `destructiveHint`.
    pub destructive: Option<bool>,
    /// `idempotentHint`.
    pub idempotent: Option<bool>,
    /// `openWorldHint`.
    pub open_world: Option<bool>,
}

/// Every plugin of this bridge, loaded once at start-up.
pub struct PluginHost {
    runtime: PluginRuntime,
    plugins: Vec<LoadedPlugin>,
    reports: Vec<PluginReport>,
    settings: Settings,
    blocking: Vec<String>,
}

impl PluginHost {
    /// What was loaded, disabled or failed, in order.
    pub fn reports(&self) -> &[PluginReport] {
        &self.reports
    }

    /// The `[audit]` settings of the config file.
    pub fn audit_settings(&self) -> settings::AuditSettings {
        self.settings.audit
    }

    /// The config files in force: the user's and the project's (each when there is one).
    pub fn settings_sources(&self) -> (Option<&Path>, Option<&Path>) {
        (
            self.settings.source.as_deref(),
            self.settings.project_source.as_deref(),
        )
    }

    /// What the project's config file asked for and did not get, in words.
    pub fn ignored_settings(&self) -> &[String] {
        &self.settings.ignored
    }

    /// Why runs are refused: each a policy (or what may be one) that is configured but not in force. Empty when
    /// runs may go ahead.
    pub fn blocking(&self) -> &[String] {
        &self.blocking
    }

    /// The project files (below `cwd`) that the discovery plugins read: part of what a user trusts.
    pub fn project_files(&self, cwd: &Path) -> Vec<PathBuf> {
        self.of_kind(Kind::Discovery)
            .flat_map(|plugin| discovery::project_files(&self.runtime, plugin, cwd))
            .collect()
    }

    /// Names of the loaded encoders.
    pub fn encoder_names(&self) -> Vec<String> {
        self.of_kind(Kind::Encoder)
            .map(|p| p.name.clone())
            .collect()
    }

    fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &LoadedPlugin> {
        self.plugins.iter().filter(move |p| p.kind == kind)
    }

    /// Renders a payload (JSON text) with encoder `name`: (text, mime type), or why it failed.
    pub fn encode(&self, name: &str, payload: &str) -> Result<(String, String), String> {
        let plugin = self
            .of_kind(Kind::Encoder)
            .find(|p| p.name == name)
            .ok_or_else(|| format!("no encoder named '{name}'"))?;
        let result = plugin.call(&self.runtime, |store, bindings| match bindings {
            Bindings::Encoder(b) => b.mcp_bridge_plugin_encoder().call_encode(store, payload),
            _ => Err(wasmtime::Error::msg("not an encoder")),
        })?;
        result
            .map(|encoded| (encoded.text, encoded.mime_type))
            .map_err(|message| format!("encoder '{name}' refused the payload: {message}"))
    }

    /// Asks every enabled policy whether a run may start.
    pub fn check_run(&self, run: &RunCheck) -> Verdict {
        let request = wit_policy::exports::mcp_bridge::plugin::policy::RunRequest {
            run_id: run.run_id.clone(),
            code: run.code.clone(),
            servers: run.servers.clone(),
            timeout_seconds: run.timeout_seconds,
        };
        self.decide(|store, policy| {
            policy
                .mcp_bridge_plugin_policy()
                .call_check_run(store, &request)
        })
    }

    /// Asks every enabled policy whether a tool call may go through.
    pub fn check_call(&self, call: &CallCheck) -> Verdict {
        let request = wit_policy::exports::mcp_bridge::plugin::policy::CallRequest {
            run_id: call.run_id.clone(),
            server: call.server.clone(),
            tool: call.tool.clone(),
            arguments: call.arguments.clone(),
            annotations: wit_policy::mcp_bridge::plugin::types::ToolAnnotations {
                read_only: call.annotations.read_only,
                destructive: call.annotations.destructive,
                idempotent: call.annotations.idempotent,
                open_world: call.annotations.open_world,
            },
        };
        self.decide(|store, policy| {
            policy
                .mcp_bridge_plugin_policy()
                .call_check_call(store, &request)
        })
    }

    fn decide(
        &self,
        ask: impl Fn(
            &mut wasmtime::Store<runtime::PluginState>,
            &wit_policy::PolicyPlugin,
        )
            -> wasmtime::Result<wit_policy::exports::mcp_bridge::plugin::policy::Decision>,
    ) -> Verdict {
        use wit_policy::exports::mcp_bridge::plugin::policy::Decision;
        self.of_kind(Kind::Policy)
            .fold(Verdict::Allow, |verdict, plugin| {
                let answer = plugin.call(&self.runtime, |store, bindings| match bindings {
                    Bindings::Policy(b) => ask(store, b),
                    _ => Err(wasmtime::Error::msg("not a policy")),
                });
                let this = match answer {
                    Ok(Decision::Allow) => Verdict::Allow,
                    Ok(Decision::Deny(reason)) => Verdict::Deny {
                        plugin: plugin.name.clone(),
                        reason,
                    },
                    Ok(Decision::Ask(prompt)) => Verdict::Ask {
                        plugin: plugin.name.clone(),
                        prompt,
                    },
                    Err(failure) => Verdict::Deny {
                        plugin: plugin.name.clone(),
                        reason: format!("the policy failed, so the request is denied: {failure}"),
                    },
                };
                verdict.and(this)
            })
    }

    /// Runs every enabled discovery plugin over the files it declares.
    pub fn discover(&self, context: &DiscoveryContext) -> Vec<FileResult> {
        self.of_kind(Kind::Discovery)
            .flat_map(|plugin| discovery::run(&self.runtime, plugin, context))
            .collect()
    }
}
