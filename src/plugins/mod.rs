//! The plugin host: policies, response encoders and discovery sources as WebAssembly components behind the WIT
//! package in `wit/`.
//!
//! [`PluginHost::load`] (`load.rs`) reads the config files ([`crate::config::settings`]: the user's, and the
//! project's, which can only add policies), loads the built-ins ([`builtin`]) and every `*.wasm` of the plugin
//! directories (the user's, `MCP_BRIDGE_PLUGIN_PATH`, and a trusted project's) through the precompile cache
//! (`cache.rs`), works out each one's kind from its exports, and configures the enabled ones. A policy that is
//! configured but not in force stops runs ([`PluginHost::blocking`]); other failures are reported. Calls go
//! through `instance.rs` under the limits of `runtime.rs`, the one module that owns wasmtime.

pub mod api;
mod builtin;
mod cache;
mod discovery;
mod encoder;
mod instance;
mod load;
mod log;
pub mod policy;
mod runtime;
pub mod wit;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::response::Payload;

pub use crate::servers::ServerEntry;
pub use api::{
    CallCheck, Decision, Info, ResultCheck, ResultDecision, RunCheck, RunPurpose, ToolAnnotations,
};
pub use cache::CacheOutcome;
pub use discovery::{DiscoveryContext, FileResult};
pub use encoder::PluginEncoder;
pub use load::{ProjectPlugins, check_report, wasm_files};
pub use policy::{ResultVerdict, Verdict};
pub use runtime::CallLimits;
pub use wit::ApiVersion;

use crate::config::settings::Settings;
use instance::LoadedPlugin;
use runtime::PluginRuntime;
use wit::Bindings;

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
    /// The plugin API version it was built against, when known.
    pub api_version: Option<ApiVersion>,
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

    /// Whether any enabled policy has a `check-result` (API 0.2.0 and later): when none has, results skip the
    /// round through the policies.
    pub fn inspects_results(&self) -> bool {
        self.of_kind(Kind::Policy)
            .any(|p| p.api >= ApiVersion::V0_2_0)
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

    /// Renders `payload` with encoder `name`: (text, mime type), or why it failed.
    pub fn encode(&self, name: &str, payload: &Payload) -> Result<(String, String), String> {
        let plugin = self
            .of_kind(Kind::Encoder)
            .find(|p| p.name == name)
            .ok_or_else(|| format!("no encoder named '{name}'"))?;
        plugin
            .call(&self.runtime, |store, bindings| {
                bindings.encode(store, payload)
            })?
            .map(|encoded| (encoded.text, encoded.mime_type))
            .map_err(|message| format!("encoder '{name}' refused the payload: {message}"))
    }

    /// Asks every enabled policy whether a run may start. Blocks while the policies decide: from async code,
    /// use [`PluginHost::check_run_async`].
    pub fn check_run(&self, run: &RunCheck) -> Verdict {
        self.decide(|store, policy| policy.check_run(store, run))
    }

    /// Asks every enabled policy whether a tool call may go through (blocking; see [`PluginHost::check_run`]).
    pub fn check_call(&self, call: &CallCheck) -> Verdict {
        self.decide(|store, policy| policy.check_call(store, call))
    }

    /// Passes a tool's result through every enabled policy's `check-result`, in order: each sees the result
    /// as the one before it left it; the first deny ends it. A failing policy, or a replacement that is not
    /// a `CallToolResult`, denies (blocking; see [`PluginHost::check_run`]).
    pub fn check_result(&self, check: &ResultCheck) -> ResultVerdict {
        let mut current = check.clone();
        let mut replaced_by = Vec::new();
        for plugin in self.of_kind(Kind::Policy) {
            let answer = plugin.call(&self.runtime, |store, policy| {
                policy.check_result(store, &current)
            });
            match answer {
                Ok(ResultDecision::Allow) => {}
                Ok(ResultDecision::Replace(result)) => match policy::valid_result(&result) {
                    Ok(()) => {
                        current.result = result;
                        replaced_by.push(plugin.name.clone());
                    }
                    Err(problem) => {
                        return ResultVerdict::Deny {
                            plugin: plugin.name.clone(),
                            reason: format!(
                                "the policy's replacement is not a valid tool result ({problem}), so \
                                 the result is withheld"
                            ),
                        };
                    }
                },
                Ok(ResultDecision::Deny(reason)) => {
                    return ResultVerdict::Deny {
                        plugin: plugin.name.clone(),
                        reason,
                    };
                }
                Err(failure) => {
                    return ResultVerdict::Deny {
                        plugin: plugin.name.clone(),
                        reason: format!("the policy failed, so the result is withheld: {failure}"),
                    };
                }
            }
        }
        if replaced_by.is_empty() {
            ResultVerdict::Allow
        } else {
            ResultVerdict::Replaced {
                plugins: replaced_by,
                result: current.result,
            }
        }
    }

    /// [`PluginHost::check_run`] on a blocking thread, so a slow policy holds up only this request and
    /// never an async worker. The per-call deadline still bounds it.
    pub async fn check_run_async(self: &Arc<Self>, run: RunCheck) -> Verdict {
        let host = self.clone();
        off_worker(
            move || host.check_run(&run),
            |reason| Verdict::Deny {
                plugin: "bridge".into(),
                reason,
            },
        )
        .await
    }

    /// [`PluginHost::check_call`] on a blocking thread (see [`PluginHost::check_run_async`]).
    pub async fn check_call_async(self: &Arc<Self>, call: CallCheck) -> Verdict {
        let host = self.clone();
        off_worker(
            move || host.check_call(&call),
            |reason| Verdict::Deny {
                plugin: "bridge".into(),
                reason,
            },
        )
        .await
    }

    /// [`PluginHost::check_result`] on a blocking thread (see [`PluginHost::check_run_async`]).
    pub async fn check_result_async(self: &Arc<Self>, check: ResultCheck) -> ResultVerdict {
        let host = self.clone();
        off_worker(
            move || host.check_result(&check),
            |reason| ResultVerdict::Deny {
                plugin: "bridge".into(),
                reason,
            },
        )
        .await
    }

    fn decide(
        &self,
        ask: impl Fn(
            &mut wasmtime::Store<runtime::PluginState>,
            &Bindings,
        ) -> wasmtime::Result<Decision>,
    ) -> Verdict {
        self.of_kind(Kind::Policy)
            .fold(Verdict::Allow, |verdict, plugin| {
                let answer = plugin.call(&self.runtime, &ask);
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

/// Runs `work` on tokio's blocking pool (plain threads when there is no runtime); a panic or a lost task
/// becomes `failed(reason)`, so a policy question never goes unanswered.
async fn off_worker<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
    failed: impl FnOnce(String) -> R,
) -> R {
    match tokio::task::spawn_blocking(work).await {
        Ok(answer) => answer,
        Err(error) => failed(format!(
            "the policy check did not complete ({error}), so the request is denied"
        )),
    }
}
