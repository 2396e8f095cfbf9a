//! The plugin host: policies, response encoders and discovery sources as WebAssembly components behind the WIT
//! package in `wit/`.
//!
//! [`PluginHost::load`] reads the bridge config file ([`settings`]), loads the built-ins ([`builtin`]) and every
//! `*.wasm` in the plugin directories (user, project, `MCP_BRIDGE_PLUGIN_PATH`) through the precompile cache
//! (`cache.rs`), works out each one's kind from its exports, and configures the enabled ones. A file that fails
//! is reported with its reason; the bridge keeps serving. Calls go through `instance.rs` under the limits of
//! `runtime.rs`, the one module that owns wasmtime.

pub mod bindings;
mod builtin;
mod cache;
mod discovery;
mod instance;
pub mod policy;
mod runtime;
pub mod settings;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

pub use crate::upstream::discovery::ServerEntry;
pub use cache::CacheOutcome;
pub use discovery::{DiscoveryContext, FileResult};
pub use instance::Info;
pub use policy::Verdict;
pub use runtime::CallLimits;

use bindings::policy as wit_policy;
use cache::{ComponentCache, ComponentSource};
use instance::{Bindings, LoadedPlugin};
use runtime::PluginRuntime;
use settings::Settings;

use crate::config::Config;

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

/// What `bridge plugin list` shows for one plugin (loaded or not).
#[derive(Debug, Clone, Serialize)]
pub struct PluginReport {
    /// Metadata name (the file name when it never got that far).
    pub name: String,
    /// Its world, when known.
    pub kind: Option<Kind>,
    /// Its version, when known.
    pub version: String,
    /// Its description, when known.
    pub description: String,
    /// `builtin`, or the file it came from.
    pub source: String,
    /// Enabled by default or by the config file.
    pub enabled: bool,
    /// `loaded`, `disabled`, or `failed: <reason>`.
    pub status: String,
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
}

/// Where a plugin file was found.
struct Candidate {
    label: String,
    source: String,
    component: ComponentSource,
    builtin: bool,
}

impl PluginHost {
    /// Loads the config file, the built-ins and the plugin directories. Only a broken config file is an
    /// error; a broken plugin is reported in [`PluginHost::reports`].
    pub fn load(config: &Config, cwd: &Path) -> Result<Self> {
        let settings = Settings::load(config, cwd)?;
        let runtime = PluginRuntime::new(settings.limits)?;
        let cache = ComponentCache::new(config.cache_dir.clone());
        let mut host = PluginHost {
            runtime,
            plugins: Vec::new(),
            reports: Vec::new(),
            settings,
        };
        for candidate in candidates(config, cwd) {
            host.load_one(&cache, candidate);
        }
        host.apply_order();
        Ok(host)
    }

    fn load_one(&mut self, cache: &ComponentCache, candidate: Candidate) {
        let started = Instant::now();
        let mut report = PluginReport {
            name: candidate.label.clone(),
            kind: None,
            version: String::new(),
            description: String::new(),
            source: candidate.source.clone(),
            enabled: false,
            status: String::new(),
            load_ms: 0.0,
            cache: None,
        };
        let outcome = self.prepare(cache, &candidate, &mut report);
        report.load_ms = started.elapsed().as_secs_f64() * 1000.0;
        match outcome {
            Ok(Some(plugin)) => {
                report.status = "loaded".into();
                self.plugins.push(plugin);
            }
            Ok(None) => report.status = "disabled".into(),
            Err(reason) => {
                tracing::warn!(
                    plugin = report.name,
                    source = report.source,
                    "plugin failed: {reason}"
                );
                report.status = format!("failed: {reason}");
            }
        }
        self.reports.push(report);
    }

    /// Compiles, identifies and (when enabled) configures one plugin. `Ok(None)`: disabled.
    fn prepare(
        &self,
        cache: &ComponentCache,
        candidate: &Candidate,
        report: &mut PluginReport,
    ) -> Result<Option<LoadedPlugin>, String> {
        let (component, outcome) = cache
            .load(self.runtime.engine(), &candidate.component)
            .map_err(|e| format!("not a loadable WebAssembly component ({e:#})"))?;
        report.cache = Some(outcome);
        let kind = kind_of(&component, self.runtime.engine())?;
        report.kind = Some(kind);
        let (info, mut live) =
            LoadedPlugin::probe(&self.runtime, &component, kind, &candidate.label)
                .map_err(|e| format!("instantiating or calling metadata failed: {e:#}"))?;
        report.name = info.name.clone();
        report.version = info.version.clone();
        report.description = info.description.clone();
        if let Some(other) = self.plugins.iter().find(|p| p.name == info.name) {
            return Err(format!(
                "another plugin named '{}' is already loaded ({:?})",
                other.name, other.kind
            ));
        }
        let entry = self.settings.plugin(&info.name);
        let default_on =
            !(candidate.builtin && builtin::OFF_BY_DEFAULT.contains(&info.name.as_str()));
        report.enabled = entry.enabled.unwrap_or(default_on);
        if !report.enabled {
            return Ok(None);
        }
        let config_json = entry.config_json();
        LoadedPlugin::configure(&self.runtime, &mut live, &config_json)
            .map_err(|message| format!("configure failed: {message}"))?;
        Ok(Some(LoadedPlugin::new(
            info.name,
            kind,
            component,
            config_json,
            live,
        )))
    }

    /// Puts the plugins the config file's `order` names first, in that order.
    fn apply_order(&mut self) {
        let rank = |name: &str| {
            self.settings
                .order
                .iter()
                .position(|n| n == name)
                .unwrap_or(usize::MAX)
        };
        let mut ranked: Vec<(usize, LoadedPlugin)> =
            self.plugins.drain(..).map(|p| (rank(&p.name), p)).collect();
        ranked.sort_by_key(|(r, _)| *r);
        self.plugins = ranked.into_iter().map(|(_, p)| p).collect();
        let order = self.settings.order.clone();
        self.reports.sort_by_key(|r| {
            order
                .iter()
                .position(|n| *n == r.name)
                .unwrap_or(usize::MAX)
        });
    }

    /// What was loaded, disabled or failed, in order.
    pub fn reports(&self) -> &[PluginReport] {
        &self.reports
    }

    /// The `[audit]` settings of the config file.
    pub fn audit_settings(&self) -> settings::AuditSettings {
        self.settings.audit
    }

    /// The config file that applied, if any.
    pub fn settings_source(&self) -> Option<&Path> {
        self.settings.source.as_deref()
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

/// The kind from the component's exports; an error names what it exports instead.
fn kind_of(
    component: &wasmtime::component::Component,
    engine: &wasmtime::Engine,
) -> Result<Kind, String> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let has = |name: &str| exports.iter().any(|e| e == name);
    let kind = if has(bindings::POLICY_EXPORT) {
        Kind::Policy
    } else if has(bindings::ENCODER_EXPORT) {
        Kind::Encoder
    } else if has(bindings::DISCOVERY_EXPORT) {
        Kind::Discovery
    } else {
        let found = if exports.is_empty() {
            "nothing".to_string()
        } else {
            exports.join(", ")
        };
        return Err(format!(
            "implements none of the mcp-bridge:plugin@0.1.0 worlds (policy-plugin, encoder-plugin, \
             discovery-plugin); it exports {found}"
        ));
    };
    if !has(bindings::PLUGIN_EXPORT) {
        return Err(format!(
            "exports {} but not {}",
            kind.as_str(),
            bindings::PLUGIN_EXPORT
        ));
    }
    Ok(kind)
}

/// Built-ins, then `*.wasm` of the user dir, the project dir and `MCP_BRIDGE_PLUGIN_PATH`, each sorted by name.
fn candidates(config: &Config, cwd: &Path) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = builtin::BUILTINS
        .iter()
        .map(|(name, bytes)| Candidate {
            label: name.to_string(),
            source: "builtin".into(),
            component: ComponentSource::Embedded(bytes),
            builtin: true,
        })
        .collect();
    let mut dirs = vec![
        config.config_home.join("mcp-bridge/plugins"),
        cwd.join(".mcp-bridge/plugins"),
    ];
    dirs.extend(config.plugin_path.iter().cloned());
    for dir in dirs {
        found.extend(wasm_files(&dir).into_iter().map(|path| {
            Candidate {
                label: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                source: path.display().to_string(),
                component: ComponentSource::File(path),
                builtin: false,
            }
        }));
    }
    found
}

fn wasm_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
        .collect();
    files.sort();
    files
}

/// `bridge plugin check FILE`: which world a file implements, its metadata, and a dry `configure`.
pub fn check_file(path: &Path, config_json: &str) -> Result<PluginReport> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let runtime = PluginRuntime::new(CallLimits::default())?;
    let started = Instant::now();
    let mut report = PluginReport {
        name: path.display().to_string(),
        kind: None,
        version: String::new(),
        description: String::new(),
        source: path.display().to_string(),
        enabled: true,
        status: String::new(),
        load_ms: 0.0,
        cache: None,
    };
    let result = (|| -> Result<(), String> {
        let component = runtime
            .compile(&bytes)
            .map_err(|e| format!("not a loadable WebAssembly component ({e:#})"))?;
        let kind = kind_of(&component, runtime.engine())?;
        report.kind = Some(kind);
        let (info, mut live) = LoadedPlugin::probe(&runtime, &component, kind, "check")
            .map_err(|e| format!("instantiating or calling metadata failed: {e:#}"))?;
        report.name = info.name;
        report.version = info.version;
        report.description = info.description;
        LoadedPlugin::configure(&runtime, &mut live, config_json)
            .map_err(|m| format!("configure failed: {m}"))
    })();
    report.load_ms = started.elapsed().as_secs_f64() * 1000.0;
    report.status = match result {
        Ok(()) => "ok".into(),
        Err(reason) => format!("failed: {reason}"),
    };
    Ok(report)
}
