//! Building a [`PluginHost`]: find the components (built-ins, the user's plugin directory,
//! `MCP_BRIDGE_PLUGIN_PATH`, and a trusted project's `.mcp-bridge/plugins/`), compile them through the cache,
//! tell their kind from their exports, and make the instances the two config layers ask for.
//!
//! Which instances a component gets:
//! - its **main** instance, from the user's entry (or the defaults: on, except the built-in `rules`); a plugin that
//!   came from a trusted project and that the user's file does not mention takes the project's entry, since the
//!   project brought it;
//! - for a **policy**, one more instance, `<name> (project)`, when the project's config file enables it with
//!   settings the main instance does not already have. A policy only ever denies or asks more, so a project
//!   can add one this way but never turn one off or change the user's.
//!
//! Failing closed: a policy (or a file whose kind is unknown, which may be one) that fails to load or to
//! configure, a config entry that enables a plugin that is not there, and a project config file that cannot
//! be parsed each add a reason to [`PluginHost::blocking`], and runs are refused while there is one. An entry
//! with `optional = true` opts that plugin out.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use wasmtime::component::Component;

use super::api::Info;
use super::cache::{ComponentCache, ComponentSource};
use super::instance::{Live, LoadedPlugin};
use super::runtime::{CallLimits, PluginRuntime};
use super::wit::{self, ApiVersion};
use super::{Kind, Origin, PluginHost, PluginReport, builtin};
use crate::config::Config;
use crate::config::settings::{PluginSettings, Settings};

/// What to do with the plugin files of the working directory's project (`.mcp-bridge/plugins/*.wasm`).
pub enum ProjectPlugins {
    /// The user trusts the project: load them.
    Load(Vec<PathBuf>),
    /// Not trusted: list them as such, with the command that trusts them.
    Untrusted {
        /// The files.
        files: Vec<PathBuf>,
        /// What the user can do, e.g. "run `bridge trust /path`".
        hint: String,
    },
}

/// Where a component file was found.
struct Candidate {
    label: String,
    source: String,
    component: ComponentSource,
    origin: Origin,
}

/// A component that compiled and said what it is, with the instance its metadata call made.
struct Found {
    component: Component,
    kind: Kind,
    api: ApiVersion,
    info: Info,
    live: Live,
}

/// Which config file an instance's settings come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layer {
    User,
    Project,
}

impl PluginHost {
    /// Reads both config files and loads every plugin: first those of the built-ins, the user's directory and
    /// `MCP_BRIDGE_PLUGIN_PATH`, then what `project` decides for the project's own files (it sees the host as
    /// loaded so far, e.g. to ask the discovery plugins which project files they read). Only a broken user
    /// config file is an error; everything else is reported in [`PluginHost::reports`] and, where it leaves a
    /// policy out, in [`PluginHost::blocking`].
    pub fn load(
        config: &Config,
        settings: Settings,
        project: impl FnOnce(&PluginHost) -> ProjectPlugins,
    ) -> Result<Self> {
        let runtime = PluginRuntime::new(settings.limits)?;
        let cache = ComponentCache::new(config.cache_dir.clone());
        let mut host = PluginHost {
            runtime,
            plugins: Vec::new(),
            reports: Vec::new(),
            blocking: Vec::new(),
            settings,
        };
        if let (Some(path), Some(error)) =
            (&host.settings.project_source, &host.settings.project_error)
        {
            host.blocking.push(format!(
                "the project's config file {} cannot be used ({error}); fix or remove it",
                path.display()
            ));
        }
        for candidate in candidates(config) {
            host.load_one(&cache, candidate);
        }
        match project(&host) {
            ProjectPlugins::Load(files) => {
                for path in files {
                    let candidate = file_candidate(path, Origin::Project);
                    host.load_one(&cache, candidate);
                }
            }
            ProjectPlugins::Untrusted { files, hint } => {
                for path in files {
                    host.reports.push(PluginReport {
                        name: file_label(&path),
                        origin: Origin::Project,
                        source: path.display().to_string(),
                        status: format!("untrusted: not loaded; {hint}"),
                        ..PluginReport::default()
                    });
                }
            }
        }
        host.check_configured_names();
        host.apply_order();
        for note in &host.settings.ignored {
            tracing::warn!("project config: ignored {note}");
        }
        for reason in &host.blocking {
            tracing::error!("runs are refused: {reason}");
        }
        Ok(host)
    }

    fn load_one(&mut self, cache: &ComponentCache, candidate: Candidate) {
        let started = Instant::now();
        let mut report = PluginReport {
            name: candidate.label.clone(),
            origin: candidate.origin,
            source: candidate.source.clone(),
            ..PluginReport::default()
        };
        let found = self.identify(cache, &candidate, &mut report);
        report.load_ms = started.elapsed().as_secs_f64() * 1000.0;
        match found {
            Ok(found) => self.instantiate(found, &candidate, report, started),
            Err(reason) => {
                tracing::warn!(
                    plugin = report.name,
                    source = report.source,
                    "plugin failed: {reason}"
                );
                report.status = format!("failed: {reason}");
                // A file that failed before saying what it is may be a policy.
                if report.kind.is_none_or(|kind| kind == Kind::Policy) {
                    let layer = self.main_layer(&report.name, candidate.origin);
                    if !self.entry(layer, &report.name).is_some_and(|e| e.optional) {
                        report.blocks_runs = true;
                        self.blocking.push(format!(
                            "plugin {} ({}) failed to load: {reason}",
                            report.name, report.source
                        ));
                    }
                }
                self.reports.push(report);
            }
        }
    }

    /// Compiles (or takes from the cache) and identifies one component.
    fn identify(
        &self,
        cache: &ComponentCache,
        candidate: &Candidate,
        report: &mut PluginReport,
    ) -> Result<Found, String> {
        let (component, outcome) = cache
            .load(self.runtime.engine(), &candidate.component)
            .map_err(|e| not_loadable(&e))?;
        report.cache = Some(outcome);
        let (kind, api) = wit::identify(&component, self.runtime.engine())?;
        report.kind = Some(kind);
        report.api_version = Some(api);
        let (info, live) =
            LoadedPlugin::probe(&self.runtime, &component, (kind, api), &candidate.label)
                .map_err(|e| format!("instantiating or calling metadata failed: {e:#}"))?;
        report.name = info.name.clone();
        report.version = info.version.clone();
        report.description = info.description.clone();
        if let Some(other) = self
            .reports
            .iter()
            .find(|r| r.name == info.name && (r.status == "loaded" || r.status == "disabled"))
        {
            return Err(format!(
                "another plugin named '{}' is already loaded (from {})",
                other.name, other.source
            ));
        }
        Ok(Found {
            component,
            kind,
            api,
            info,
            live,
        })
    }

    /// Makes the instances the config layers ask for (see the module doc).
    fn instantiate(
        &mut self,
        found: Found,
        candidate: &Candidate,
        report: PluginReport,
        started: Instant,
    ) {
        let Found {
            component,
            kind,
            api,
            info,
            live,
        } = found;
        let name = info.name;
        let default_on = !(candidate.origin == Origin::Builtin
            && builtin::OFF_BY_DEFAULT.contains(&name.as_str()));
        let main_layer = self.main_layer(&name, candidate.origin);
        let main = self.entry(main_layer, &name).cloned().unwrap_or_default();
        let main_on = main.enabled.unwrap_or(default_on);
        let extra = match self.settings.project_plugins.get(&name).cloned() {
            Some(wanted) if main_layer == Layer::User => {
                self.project_instance(&name, kind, wanted, default_on, &main, main_on)
            }
            _ => None,
        };

        let mut main_report = report;
        main_report.enabled = main_on;
        main_report.configured_by = self.layer_source(main_layer, &name);
        let mut live = Some(live);
        if main_on {
            if let Some(instance) = live.take() {
                let instance = (name.clone(), instance);
                self.configure_instance(&component, (kind, api), instance, &main, &mut main_report);
            }
        } else {
            main_report.status = "disabled".into();
        }
        main_report.load_ms = started.elapsed().as_secs_f64() * 1000.0;
        let Some(wanted) = extra else {
            self.reports.push(main_report);
            return;
        };
        let started = Instant::now();
        let instance_name = format!("{name} (project)");
        let mut report = PluginReport {
            name: instance_name.clone(),
            enabled: true,
            configured_by: self.layer_source(Layer::Project, &name),
            ..main_report.clone()
        };
        self.reports.push(main_report);
        let instance = match live.take() {
            Some(instance) => Ok(instance),
            None => LoadedPlugin::probe(&self.runtime, &component, (kind, api), &instance_name)
                .map(|(_, instance)| instance)
                .map_err(|e| format!("instantiating failed: {e:#}")),
        };
        match instance {
            Ok(instance) => {
                let instance = (instance_name, instance);
                self.configure_instance(&component, (kind, api), instance, &wanted, &mut report)
            }
            Err(reason) => self.fail_instance(kind, &wanted, &mut report, reason),
        }
        report.load_ms = started.elapsed().as_secs_f64() * 1000.0;
        self.reports.push(report);
    }

    /// The project's entry for `name`, when it adds an instance; otherwise notes why it is ignored.
    fn project_instance(
        &mut self,
        name: &str,
        kind: Kind,
        wanted: PluginSettings,
        default_on: bool,
        main: &PluginSettings,
        main_on: bool,
    ) -> Option<PluginSettings> {
        let wanted_on = wanted.enabled.unwrap_or(default_on);
        if kind != Kind::Policy {
            self.settings.ignored.push(format!(
                "[plugins.{name}] (a project may only add policies; {name} is a {} plugin)",
                kind.as_str()
            ));
            None
        } else if !wanted_on && main_on {
            self.settings.ignored.push(format!(
                "[plugins.{name}] enabled = false (a project cannot turn a policy off)"
            ));
            None
        } else if wanted_on && !(main_on && wanted.config == main.config) {
            Some(wanted)
        } else {
            None
        }
    }

    /// Configures one instance and keeps it, or records why it failed.
    fn configure_instance(
        &mut self,
        component: &Component,
        (kind, api): (Kind, ApiVersion),
        (instance_name, mut live): (String, Live),
        entry: &PluginSettings,
        report: &mut PluginReport,
    ) {
        let config_json = entry.config_json();
        match LoadedPlugin::configure(&self.runtime, kind, &mut live, &config_json) {
            Ok(()) => {
                report.status = "loaded".into();
                self.plugins.push(LoadedPlugin::new(
                    instance_name,
                    (kind, api),
                    component.clone(),
                    config_json,
                    live,
                ));
            }
            Err(message) => {
                self.fail_instance(kind, entry, report, format!("configure failed: {message}"))
            }
        }
    }

    fn fail_instance(
        &mut self,
        kind: Kind,
        entry: &PluginSettings,
        report: &mut PluginReport,
        reason: String,
    ) {
        tracing::warn!(
            plugin = report.name,
            source = report.source,
            "plugin failed: {reason}"
        );
        if kind == Kind::Policy && !entry.optional {
            report.blocks_runs = true;
            self.blocking.push(format!(
                "policy '{}' ({}) is not in force: {reason}",
                report.name, report.source
            ));
        }
        report.status = format!("failed: {reason}");
    }

    /// An entry that enables a plugin nobody provides is a policy left out, as far as anyone can tell.
    fn check_configured_names(&mut self) {
        let found = |name: &str| {
            self.reports
                .iter()
                .any(|r| r.name == name && r.kind.is_some())
        };
        let untrusted = self
            .reports
            .iter()
            .any(|r| r.status.starts_with("untrusted"));
        let mut missing = Vec::new();
        for (layer, entries) in [
            (Layer::User, &self.settings.plugins),
            (Layer::Project, &self.settings.project_plugins),
        ] {
            for (name, entry) in entries {
                if entry.enabled == Some(true) && !entry.optional && !found(name) {
                    missing.push((layer, name.clone()));
                }
            }
        }
        for (layer, name) in missing {
            let file = self
                .layer_source(layer, &name)
                .unwrap_or_else(|| "the config file".into());
            self.blocking.push(format!(
                "plugin '{name}' is enabled in {file} but no plugin by that name was found{}; install it, \
                 or set optional = true under [plugins.{name}]",
                if untrusted {
                    " (the project's plugins are not loaded until you trust the project)"
                } else {
                    ""
                }
            ));
        }
    }

    /// Whose entry a component's main instance follows: the user's when they wrote one (the root of trust),
    /// else, for a plugin a trusted project brought, the project's.
    fn main_layer(&self, name: &str, origin: Origin) -> Layer {
        if origin == Origin::Project && !self.settings.plugins.contains_key(name) {
            Layer::Project
        } else {
            Layer::User
        }
    }

    fn entry(&self, layer: Layer, name: &str) -> Option<&PluginSettings> {
        match layer {
            Layer::User => self.settings.plugins.get(name),
            Layer::Project => self.settings.project_plugins.get(name),
        }
    }

    /// The file that holds `name`'s entry in `layer`, if it has one.
    fn layer_source(&self, layer: Layer, name: &str) -> Option<String> {
        self.entry(layer, name)?;
        let path = match layer {
            Layer::User => &self.settings.source,
            Layer::Project => &self.settings.project_source,
        };
        path.as_ref().map(|p| p.display().to_string())
    }

    /// Puts the plugins the config files' `order` names first, in that order.
    fn apply_order(&mut self) {
        let order = &self.settings.order;
        let rank = |name: &str| {
            let base = name.strip_suffix(" (project)").unwrap_or(name);
            order.iter().position(|n| n == base).unwrap_or(usize::MAX)
        };
        self.plugins.sort_by_key(|p| rank(&p.name));
        self.reports.sort_by_key(|r| rank(&r.name));
    }
}

/// Built-ins, then `*.wasm` of the user dir and `MCP_BRIDGE_PLUGIN_PATH`, each sorted by name. The project's
/// directory is not among them: its plugins load only once the user trusts the project.
fn candidates(config: &Config) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = builtin::BUILTINS
        .iter()
        .map(|(name, bytes)| Candidate {
            label: name.to_string(),
            source: "builtin".into(),
            component: ComponentSource::Embedded(bytes),
            origin: Origin::Builtin,
        })
        .collect();
    let user_dir = config.config_home.join("mcp-bridge/plugins");
    found.extend(
        wasm_files(&user_dir)
            .into_iter()
            .map(|p| file_candidate(p, Origin::User)),
    );
    for dir in &config.plugin_path {
        found.extend(
            wasm_files(dir)
                .into_iter()
                .map(|p| file_candidate(p, Origin::Path)),
        );
    }
    found
}

fn file_candidate(path: PathBuf, origin: Origin) -> Candidate {
    Candidate {
        label: file_label(&path),
        source: path.display().to_string(),
        component: ComponentSource::File(path),
        origin,
    }
}

fn file_label(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `*.wasm` files of `dir`, sorted (none when it does not exist).
pub fn wasm_files(dir: &Path) -> Vec<PathBuf> {
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

impl PluginHost {
    /// A host with only the plugin in `path`, configured with `config_json` (no built-ins, no config files):
    /// what `bridge plugin check` loads, and what a plugin's own tests drive. A failure is in its report (and,
    /// for what may be a policy, in [`PluginHost::blocking`]); only an unreadable file is an error.
    pub fn single(path: &Path, config_json: &str, limits: CallLimits) -> Result<PluginHost> {
        Self::single_cached(path, config_json, limits, None)
    }

    /// [`PluginHost::single`] through the precompile cache in `cache_dir` (as a normal load would), so a file
    /// that has not changed is not compiled again; the report's `cache` says which it was.
    pub fn single_cached(
        path: &Path,
        config_json: &str,
        limits: CallLimits,
        cache_dir: Option<PathBuf>,
    ) -> Result<PluginHost> {
        std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        let cache = ComponentCache::new(cache_dir);
        let runtime = PluginRuntime::new(limits)?;
        let started = Instant::now();
        let mut report = PluginReport {
            name: path.display().to_string(),
            source: path.display().to_string(),
            origin: Origin::Path,
            enabled: true,
            ..PluginReport::default()
        };
        let loaded = (|| -> Result<LoadedPlugin, String> {
            let (component, outcome) = cache
                .load(runtime.engine(), &ComponentSource::File(path.to_path_buf()))
                .map_err(|e| not_loadable(&e))?;
            report.cache = Some(outcome);
            let (kind, api) = wit::identify(&component, runtime.engine())?;
            report.kind = Some(kind);
            report.api_version = Some(api);
            let (info, mut live) =
                LoadedPlugin::probe(&runtime, &component, (kind, api), &file_label(path))
                    .map_err(|e| format!("instantiating or calling metadata failed: {e:#}"))?;
            report.name = info.name.clone();
            report.version = info.version;
            report.description = info.description;
            LoadedPlugin::configure(&runtime, kind, &mut live, config_json)
                .map_err(|m| format!("configure failed: {m}"))?;
            Ok(LoadedPlugin::new(
                info.name,
                (kind, api),
                component,
                config_json.to_string(),
                live,
            ))
        })();
        report.load_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut blocking = Vec::new();
        let plugins = match loaded {
            Ok(plugin) => {
                report.status = "loaded".into();
                vec![plugin]
            }
            Err(reason) => {
                if report.kind.is_none_or(|kind| kind == Kind::Policy) {
                    report.blocks_runs = true;
                    blocking.push(format!("plugin {} failed to load: {reason}", report.name));
                }
                report.status = format!("failed: {reason}");
                Vec::new()
            }
        };
        Ok(PluginHost {
            runtime,
            plugins,
            reports: vec![report],
            settings: Settings::default(),
            blocking,
        })
    }
}

/// `bridge plugin check FILE`'s report of a host made by [`PluginHost::single_cached`]: which world the file
/// implements, its API version, its metadata, and a dry `configure`; the status is `ok` or `failed: <reason>`.
pub fn check_report(host: &PluginHost) -> PluginReport {
    let mut report = host.reports.first().cloned().unwrap_or_default();
    if report.status == "loaded" {
        report.status = "ok".into();
    }
    report
}

/// Why a component does not compile, with what to change when the cause is the builder's choice of the
/// component-model async ABI (which the bridge's engine does not enable: its worlds have no async functions).
fn not_loadable(error: &anyhow::Error) -> String {
    let detail = format!("{error:#}");
    if detail.contains("component model async") {
        format!(
            "not a loadable WebAssembly component: it was built for the component-model async ABI, which the \
             bridge does not enable ({detail}). Build it synchronous: with componentize-qjs pass `sync: true` to \
             `componentize()`; with wit-bindgen (Rust) or componentize-py, export no `async` functions"
        )
    } else {
        format!("not a loadable WebAssembly component ({detail})")
    }
}
