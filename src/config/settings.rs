//! The bridge's config files (TOML): which plugins are enabled, in what order, with what configuration, the
//! per-call limits and the audit log. Two layers:
//!
//! - **the user's** — `MCP_BRIDGE_CONFIG`, else `~/.config/mcp-bridge/config.toml` — the root of trust;
//! - **the project's** — `./.mcp-bridge/config.toml` in the working directory — read without any trust, because
//!   it can only add restrictions: it may enable and configure *policies* (a policy only ever denies or asks
//!   more), tighten the limits and extend the order; it can never disable or reconfigure what the user set, turn
//!   a policy off, loosen a limit or touch the audit log. What it asks for beyond that is ignored and listed in
//!   [`Settings::ignored`]. A project file that cannot be parsed stops runs ([`Settings::project_error`]): its
//!   restrictions cannot be applied, so nothing runs without them.
//!
//! ```toml
//! order = ["rules", "my-policy"]      # these first, in this order; the rest keep their load order
//!
//! [limits]
//! call-timeout-ms = 100                # per plugin call
//! memory-mib = 64                      # per plugin instance
//!
//! [audit]                              # the proxied-call log, <state dir>/audit.jsonl (user file only)
//! max-bytes = 10485760                 # rotate past this size
//! keep = 3                             # rotated files kept (audit.jsonl.1 … .3)
//! log-arguments = false                # also log each call's arguments
//! log-results = false                  # also log each call's result
//!
//! [sandbox]                            # user file only; MCP_BRIDGE_IMAGE wins over it
//! image = "sha256:…"                   # the sandbox image (`bridge image build` records what it built)
//!
//! [inputs]                             # user file only: host directories every run may read, copied
//! sales = "~/data/sales"               #   (never mounted) to /workspace/in/<name> at its start
//!
//! [plugins.rules]                      # keyed by the plugin's metadata name
//! enabled = true
//! optional = false                     # true: a failure to load or configure does not stop runs
//! [plugins.rules.config]               # handed to the plugin's configure() as JSON
//! default = "allow"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::Config;

/// Both config files, layered.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The user's file, when there was one.
    pub source: Option<PathBuf>,
    /// The project's file, when there was one (whether or not it parsed).
    pub project_source: Option<PathBuf>,
    /// Why the project's file could not be used: runs are refused while this is set.
    pub project_error: Option<String>,
    /// Plugins to put first, in this order (the user's, then the project's additions).
    pub order: Vec<String>,
    /// The user's per-plugin settings by name.
    pub plugins: BTreeMap<String, PluginSettings>,
    /// The project's per-plugin settings by name; the plugin host applies them to policies only.
    pub project_plugins: BTreeMap<String, PluginSettings>,
    /// Limits on every plugin call (the tighter of the two files).
    pub limits: CallLimits,
    /// The audit log's settings (the user's file only).
    pub audit: AuditSettings,
    /// Host directories copied into every run, by the name they have under `/workspace/in/` (the user's file
    /// only).
    pub inputs: BTreeMap<String, PathBuf>,
    /// What the project file asked for and did not get, in words.
    pub ignored: Vec<String>,
}

/// Limits applied to every plugin call (the `[limits]` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Wall time one call may take.
    pub timeout: Duration,
    /// Linear memory a plugin instance may grow to.
    pub memory_bytes: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            timeout: Duration::from_millis(100),
            memory_bytes: 64 << 20,
        }
    }
}

/// `[audit]`: how the log of proxied tool calls is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AuditSettings {
    /// The log is rotated when it would grow past this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept.
    pub keep: u32,
    /// Log each call's arguments too (they may hold secrets; off by default).
    pub log_arguments: bool,
    /// Log each call's result too (off by default).
    pub log_results: bool,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            max_bytes: 10 << 20,
            keep: 3,
            log_arguments: false,
            log_results: false,
        }
    }
}

/// One plugin's entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSettings {
    /// Overrides the default (user plugins and most built-ins on; `rules` off).
    pub enabled: Option<bool>,
    /// A failure to load or configure this plugin does not stop runs (it is reported and left out).
    #[serde(default)]
    pub optional: bool,
    /// Passed to `configure` as a JSON object.
    #[serde(default)]
    pub config: Option<toml::Table>,
}

impl PluginSettings {
    /// The configuration as the JSON text `configure` receives (`{}` when none).
    pub fn config_json(&self) -> String {
        match &self.config {
            Some(table) => serde_json::to_string(table).unwrap_or_else(|_| "{}".into()),
            None => "{}".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    order: Vec<String>,
    #[serde(default)]
    limits: Option<Limits>,
    #[serde(default)]
    plugins: BTreeMap<String, PluginSettings>,
    #[serde(default)]
    audit: Option<AuditSettings>,
    #[serde(default)]
    sandbox: Option<SandboxSettings>,
    #[serde(default)]
    inputs: Option<BTreeMap<String, String>>,
}

/// The `[sandbox]` table (user file only): `image`, what `bridge image build` records.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxSettings {
    image: Option<String>,
}

/// The sandbox image the user's config file names (`[sandbox] image`), for when MCP_BRIDGE_IMAGE is not set.
/// A file that cannot be read or parsed names none here; loading the settings reports it.
pub fn user_image(config_file: Option<&Path>, config_home: &Path) -> Option<String> {
    let path = config_file.map_or_else(|| user_file(config_home), Path::to_path_buf);
    let text = std::fs::read_to_string(path).ok()?;
    let file: File = toml::from_str(&text).ok()?;
    file.sandbox?.image.filter(|image| !image.trim().is_empty())
}

/// The user's config file when MCP_BRIDGE_CONFIG does not name one.
pub fn user_file(config_home: &Path) -> PathBuf {
    config_home.join("mcp-bridge/config.toml")
}

/// An `[inputs]` entry checked: a name usable as a directory name (letters, digits, `.`, `_`, `-`; not starting
/// with `.`; at most 64 characters) and an absolute path (or one under `~/`).
fn input_path(name: &str, path: &str, home: Option<&Path>) -> Result<PathBuf> {
    let name_ok = name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !name_ok {
        bail!(
            "inputs.{name:?}: a name is letters, digits, '.', '_' and '-' (not first), at most 64 \
             characters: it becomes /workspace/in/<name>"
        );
    }
    let expanded = match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    };
    if !expanded.is_absolute() {
        bail!("inputs.{name} = {path:?}: give an absolute path (or one starting with ~/)");
    }
    Ok(expanded)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Limits {
    call_timeout_ms: Option<u64>,
    memory_mib: Option<u64>,
}

impl File {
    /// Parses and checks one file's text.
    fn parse(text: &str) -> Result<Self> {
        let file: File = toml::from_str(text)?;
        if let Some(limits) = &file.limits {
            if limits.call_timeout_ms == Some(0) {
                bail!("limits.call-timeout-ms must be at least 1");
            }
            match limits.memory_mib {
                Some(0) => bail!("limits.memory-mib must be at least 1"),
                Some(mib) if mib > 1 << 20 => bail!("limits.memory-mib is too large"),
                _ => {}
            }
        }
        if file.audit.is_some_and(|audit| audit.max_bytes < 4096) {
            bail!("audit.max-bytes must be at least 4096");
        }
        Ok(file)
    }
}

/// The project's config file, relative to its directory.
pub const PROJECT_FILE: &str = ".mcp-bridge/config.toml";

impl Settings {
    /// Reads the user's file (a broken one is an error: nothing should run on a guess about the user's policy)
    /// and layers the project's file in `cwd` over it.
    pub fn load(config: &Config, cwd: &Path) -> Result<Self> {
        let mut settings = Self::load_user(config)?;
        let project_path = cwd.join(PROJECT_FILE);
        let same_file = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
        if project_path.is_file()
            && !settings
                .source
                .as_deref()
                .is_some_and(|u| same_file(u, &project_path))
        {
            let parsed = std::fs::read_to_string(&project_path)
                .map_err(anyhow::Error::from)
                .and_then(|text| File::parse(&text));
            match parsed {
                Ok(project) => settings.layer_project(project),
                Err(error) => settings.project_error = Some(format!("{error:#}")),
            }
            settings.project_source = Some(project_path);
        }
        Ok(settings)
    }

    /// Reads the user's file alone (defaults when there is none; a broken one is an error).
    pub fn load_user(config: &Config) -> Result<Self> {
        let user_path = match &config.config_file {
            Some(path) if !path.is_file() => {
                bail!("MCP_BRIDGE_CONFIG={}: no such file", path.display())
            }
            Some(path) => Some(path.clone()),
            None => Some(user_file(&config.config_home)).filter(|p| p.is_file()),
        };
        let mut settings = match &user_path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Self::parse_in(&text, Some(&config.home))
                    .with_context(|| format!("bridge config file {}", path.display()))?
            }
            None => Settings::default(),
        };
        settings.source = user_path;
        Ok(settings)
    }

    /// Adds what a project file may add: policy settings (judged by the plugin host, which knows the kinds),
    /// order entries after the user's, and tighter limits.
    fn layer_project(&mut self, project: File) {
        for name in project.order {
            if !self.order.contains(&name) {
                self.order.push(name);
            }
        }
        let limits = project.limits.unwrap_or_default();
        if let Some(ms) = limits.call_timeout_ms {
            let wanted = Duration::from_millis(ms);
            if wanted > self.limits.timeout {
                self.ignored.push(format!(
                    "limits.call-timeout-ms = {ms} (looser than the user's {})",
                    self.limits.timeout.as_millis()
                ));
            }
            self.limits.timeout = self.limits.timeout.min(wanted);
        }
        if let Some(mib) = limits.memory_mib {
            let user_mib = (self.limits.memory_bytes >> 20) as u64;
            if mib > user_mib {
                self.ignored.push(format!(
                    "limits.memory-mib = {mib} (looser than the user's {user_mib})"
                ));
            }
            self.limits.memory_bytes = self.limits.memory_bytes.min((mib as usize) << 20);
        }
        if project.audit.is_some() {
            self.ignored
                .push("[audit] (the audit log is set in the user's config file only)".into());
        }
        if project.inputs.is_some() {
            // A folder must not choose what of the user's files the code can read.
            self.ignored
                .push("[inputs] (input directories are set in the user's config file only)".into());
        }
        if project.sandbox.is_some() {
            // A folder must not choose what image the code runs in.
            self.ignored
                .push("[sandbox] (the sandbox image is set in the user's config file only)".into());
        }
        self.project_plugins = project.plugins;
    }

    /// Parses config file text.
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_in(text, None)
    }

    /// Parses config file text; `home` expands a leading `~/` in `[inputs]` paths.
    pub fn parse_in(text: &str, home: Option<&Path>) -> Result<Self> {
        let file = File::parse(text)?;
        let mut inputs = BTreeMap::new();
        for (name, path) in file.inputs.clone().unwrap_or_default() {
            inputs.insert(name.clone(), input_path(&name, &path, home)?);
        }
        let mut limits = CallLimits::default();
        let given = file.limits.unwrap_or_default();
        if let Some(ms) = given.call_timeout_ms {
            limits.timeout = Duration::from_millis(ms);
        }
        if let Some(mib) = given.memory_mib {
            limits.memory_bytes = (mib as usize) << 20;
        }
        Ok(Settings {
            order: file.order,
            plugins: file.plugins,
            limits,
            audit: file.audit.unwrap_or_default(),
            inputs,
            ..Settings::default()
        })
    }

    /// The user's entry for plugin `name` (empty when the file says nothing about it).
    pub fn plugin(&self, name: &str) -> PluginSettings {
        self.plugins.get(name).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_named_directories_of_the_users_file_only() {
        let home = Path::new("/home/me");
        let settings = Settings::parse_in(
            "[inputs]\nsales = \"~/data/sales\"\n\"q3.v2\" = \"/srv/q3\"\n",
            Some(home),
        )
        .unwrap();
        assert_eq!(
            settings.inputs.into_iter().collect::<Vec<_>>(),
            [
                ("q3.v2".to_string(), PathBuf::from("/srv/q3")),
                ("sales".to_string(), PathBuf::from("/home/me/data/sales")),
            ]
        );
        for (bad, why) in [
            ("[inputs]\n\"../x\" = \"/srv\"\n", "a name is"),
            ("[inputs]\n\".hidden\" = \"/srv\"\n", "a name is"),
            ("[inputs]\nx = \"data\"\n", "absolute path"),
        ] {
            let error = format!("{:#}", Settings::parse_in(bad, Some(home)).unwrap_err());
            assert!(error.contains(why), "{bad}: {error}");
        }

        let dir = tempfile::TempDir::new().unwrap();
        let project = dir.path().join("project");
        write(&project, PROJECT_FILE, "[inputs]\nkeys = \"/root/.ssh\"\n");
        let config = config_for(&dir.path().join("home"));
        let settings = Settings::load(&config, &project).unwrap();
        assert!(settings.inputs.is_empty());
        assert!(
            settings.ignored.iter().any(|i| i.starts_with("[inputs]")),
            "{:?}",
            settings.ignored
        );
    }

    #[test]
    fn parses_plugins_order_and_limits() {
        let settings = Settings::parse(
            r#"
            order = ["rules"]
            [limits]
            call-timeout-ms = 20
            memory-mib = 8
            [plugins.rules]
            enabled = true
            [plugins.rules.config]
            default = "deny"
            rules = [{ server = "github", action = "allow" }]
            "#,
        )
        .unwrap();
        assert_eq!(settings.order, ["rules"]);
        assert_eq!(settings.limits.timeout, Duration::from_millis(20));
        assert_eq!(settings.limits.memory_bytes, 8 << 20);
        let rules = settings.plugin("rules");
        assert_eq!(rules.enabled, Some(true));
        let config: serde_json::Value = serde_json::from_str(&rules.config_json()).unwrap();
        assert_eq!(config["rules"][0]["server"], "github");
        assert_eq!(settings.plugin("other").config_json(), "{}");
        assert_eq!(settings.audit, AuditSettings::default());
        let audit = Settings::parse("[audit]\nmax-bytes = 5000\nlog-arguments = true").unwrap();
        assert_eq!((audit.audit.max_bytes, audit.audit.keep), (5000, 3));
        assert!(audit.audit.log_arguments && !audit.audit.log_results);
        assert!(Settings::parse("[audit]\nmax-bytes = 10").is_err());
        assert!(Settings::parse("[audit]\nlog-args = true").is_err());
    }

    fn write(dir: &Path, relative: &str, text: &str) -> PathBuf {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn config_for(home: &Path) -> Config {
        let vars =
            std::collections::HashMap::from([("HOME".to_string(), home.display().to_string())]);
        Config::from_map(&vars).unwrap()
    }

    #[test]
    fn an_empty_project_file_leaves_the_users_policy_in_force() {
        let dir = tempfile::TempDir::new().unwrap();
        let (home, project) = (dir.path().join("home"), dir.path().join("project"));
        write(
            &home,
            ".config/mcp-bridge/config.toml",
            "[plugins.rules]\nenabled = true\n[plugins.rules.config]\ndefault = \"deny\"\n",
        );
        write(&project, PROJECT_FILE, "");
        let settings = Settings::load(&config_for(&home), &project).unwrap();
        assert_eq!(settings.plugin("rules").enabled, Some(true));
        assert!(settings.plugin("rules").config_json().contains("deny"));
        assert!(settings.project_source.is_some() && settings.project_error.is_none());
    }

    #[test]
    fn a_project_file_cannot_choose_the_sandbox_image() {
        let dir = tempfile::TempDir::new().unwrap();
        let (home, project) = (dir.path().join("home"), dir.path().join("project"));
        write(&project, PROJECT_FILE, "[sandbox]\nimage = \"theirs:1\"\n");
        let config = config_for(&home);
        let settings = Settings::load(&config, &project).unwrap();
        assert!(
            settings.ignored.iter().any(|i| i.starts_with("[sandbox]")),
            "{:?}",
            settings.ignored
        );
        assert_eq!(user_image(None, &config.config_home), None);
        write(
            &home,
            ".config/mcp-bridge/config.toml",
            "[sandbox]\nimage = \"mine:1\"\n",
        );
        assert_eq!(
            user_image(None, &config.config_home).as_deref(),
            Some("mine:1")
        );
    }

    #[test]
    fn a_project_file_only_tightens_and_never_touches_the_audit_log() {
        let dir = tempfile::TempDir::new().unwrap();
        let (home, project) = (dir.path().join("home"), dir.path().join("project"));
        write(
            &home,
            ".config/mcp-bridge/config.toml",
            "order = [\"a\"]\n[limits]\ncall-timeout-ms = 50\nmemory-mib = 32\n",
        );
        write(
            &project,
            PROJECT_FILE,
            "order = [\"b\", \"a\"]\n[limits]\ncall-timeout-ms = 500\nmemory-mib = 8\n\
             [audit]\nkeep = 0\n[plugins.rules]\nenabled = false\n",
        );
        let settings = Settings::load(&config_for(&home), &project).unwrap();
        assert_eq!(settings.order, ["a", "b"]);
        assert_eq!(settings.limits.timeout, Duration::from_millis(50));
        assert_eq!(settings.limits.memory_bytes, 8 << 20);
        assert_eq!(settings.audit, AuditSettings::default());
        assert_eq!(settings.ignored.len(), 2, "{:?}", settings.ignored);
        // Kept apart: the plugin host decides what of it applies (a policy is never turned off by it).
        assert_eq!(settings.project_plugins["rules"].enabled, Some(false));
        assert_eq!(settings.plugin("rules"), PluginSettings::default());
    }

    #[test]
    fn a_broken_project_file_is_reported_and_a_broken_user_file_stops_start_up() {
        let dir = tempfile::TempDir::new().unwrap();
        let (home, project) = (dir.path().join("home"), dir.path().join("project"));
        write(&project, PROJECT_FILE, "[plugins.rules\n");
        let settings = Settings::load(&config_for(&home), &project).unwrap();
        assert!(settings.project_error.is_some());
        write(&home, ".config/mcp-bridge/config.toml", "colour = 1\n");
        let error = Settings::load(&config_for(&home), &project).unwrap_err();
        assert!(format!("{error:#}").contains("config.toml"), "{error:#}");
    }

    #[test]
    fn refuses_unknown_keys_and_zero_limits() {
        assert!(Settings::parse("colour = 1").is_err());
        assert!(Settings::parse("[plugins.x]\nenable = true").is_err());
        assert!(Settings::parse("[limits]\ncall-timeout-ms = 0").is_err());
    }
}
