//! The bridge config file (TOML): which plugins are enabled, in what order, with what configuration, and the
//! per-call limits. Found at `MCP_BRIDGE_CONFIG`, else `./.mcp-bridge/config.toml`, else
//! `~/.config/mcp-bridge/config.toml`; none at all means the defaults.
//!
//! ```toml
//! order = ["rules", "my-policy"]      # these first, in this order; the rest keep their load order
//!
//! [limits]
//! call-timeout-ms = 100                # per plugin call
//! memory-mib = 64                      # per plugin instance
//!
//! [audit]                              # the proxied-call log, <state dir>/audit.jsonl
//! max-bytes = 10485760                 # rotate past this size
//! keep = 3                             # rotated files kept (audit.jsonl.1 … .3)
//! log-arguments = false                # also log each call's arguments
//! log-results = false                  # also log each call's result
//!
//! [plugins.rules]                      # keyed by the plugin's metadata name
//! enabled = true
//! [plugins.rules.config]               # handed to the plugin's configure() as JSON
//! default = "allow"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::runtime::CallLimits;
use crate::config::Config;

/// The parsed config file.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The file it came from, when there was one.
    pub source: Option<PathBuf>,
    /// Plugins to put first, in this order.
    pub order: Vec<String>,
    /// Per-plugin settings by name.
    pub plugins: BTreeMap<String, PluginSettings>,
    /// Limits on every plugin call.
    pub limits: CallLimits,
    /// The audit log's settings.
    pub audit: AuditSettings,
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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSettings {
    /// Overrides the default (user plugins and most built-ins on; `rules` off).
    pub enabled: Option<bool>,
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Limits {
    call_timeout_ms: Option<u64>,
    memory_mib: Option<u64>,
}

impl Settings {
    /// Finds and reads the config file for `config`, relative to `cwd` for the project location.
    pub fn load(config: &Config, cwd: &Path) -> Result<Self> {
        let candidates = [
            cwd.join(".mcp-bridge/config.toml"),
            config.config_home.join("mcp-bridge/config.toml"),
        ];
        let path = match &config.config_file {
            Some(path) => {
                if !path.is_file() {
                    bail!("MCP_BRIDGE_CONFIG={}: no such file", path.display());
                }
                path.clone()
            }
            None => match candidates.into_iter().find(|p| p.is_file()) {
                Some(path) => path,
                None => return Ok(Settings::default()),
            },
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text)
            .map(|settings| Settings {
                source: Some(path.clone()),
                ..settings
            })
            .with_context(|| format!("bridge config file {}", path.display()))
    }

    /// Parses config file text.
    pub fn parse(text: &str) -> Result<Self> {
        let file: File = toml::from_str(text)?;
        let mut limits = CallLimits::default();
        if let Some(given) = file.limits {
            if let Some(ms) = given.call_timeout_ms {
                if ms == 0 {
                    bail!("limits.call-timeout-ms must be at least 1");
                }
                limits.timeout = Duration::from_millis(ms);
            }
            if let Some(mib) = given.memory_mib {
                if mib == 0 {
                    bail!("limits.memory-mib must be at least 1");
                }
                limits.memory_bytes =
                    usize::try_from(mib << 20).context("limits.memory-mib is too large")?;
            }
        }
        let audit = file.audit.unwrap_or_default();
        if audit.max_bytes < 4096 {
            bail!("audit.max-bytes must be at least 4096");
        }
        Ok(Settings {
            source: None,
            order: file.order,
            plugins: file.plugins,
            limits,
            audit,
        })
    }

    /// The entry for plugin `name` (empty when the file says nothing about it).
    pub fn plugin(&self, name: &str) -> PluginSettings {
        self.plugins.get(name).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn refuses_unknown_keys_and_zero_limits() {
        assert!(Settings::parse("colour = 1").is_err());
        assert!(Settings::parse("[plugins.x]\nenable = true").is_err());
        assert!(Settings::parse("[limits]\ncall-timeout-ms = 0").is_err());
    }
}
