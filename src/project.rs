//! The working directory as a project, and the user's trust in it.
//!
//! MCP clients start the bridge in the project the user has open, which may be a repository cloned a minute
//! ago. What such a folder can bring is therefore held back, as editors hold back a workspace's tasks until the
//! user trusts it: its plugins (`.mcp-bridge/plugins/*.wasm`) are not loaded and the MCP servers defined only in
//! its files (`.mcp.json`, `.vscode/mcp.json`, `.cursor/mcp.json`, …: whatever the discovery plugins read below
//! the working directory) are not started until the user runs `bridge trust`. That records the directory and a
//! SHA-256 fingerprint of those files in the user's state (`<state dir>/trusted-projects.json`, 0600); a change
//! to any of them, a new one or a removed one needs trust again. The project's config file
//! (`.mcp-bridge/config.toml`) needs no trust: it can only add restrictions (see [`crate::config::settings`]).
//!
//! [`Workspace::open`] puts it together: config layers, plugins, this project's trust, and the servers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::config::settings::Settings;
use crate::plugins::{PluginHost, ProjectPlugins, wasm_files};
use crate::upstream::Upstreams;

/// Where a project keeps its plugins, relative to its directory.
pub const PLUGIN_DIR: &str = ".mcp-bridge/plugins";

/// Whether the user trusts the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Recorded by `bridge trust`, and the files are what they were then.
    Trusted,
    /// Not trusted: never recorded, or `changed` since it was.
    Untrusted {
        /// It was trusted, but its files have changed since.
        changed: bool,
    },
    /// It brings nothing that needs trust.
    NothingToTrust,
    /// The working directory is the user's home: its files are the user's own.
    Home,
}

/// What the working directory brings.
#[derive(Debug, Clone)]
pub struct Project {
    /// The directory (canonical when it exists).
    pub dir: PathBuf,
    /// Its plugin files.
    pub plugin_files: Vec<PathBuf>,
    /// Its MCP server config files (those the discovery plugins read).
    pub server_files: Vec<PathBuf>,
    /// `sha256:<hex>` over the relative paths and contents of all of them.
    pub fingerprint: String,
    /// The user's trust in it.
    pub trust: Trust,
}

impl Project {
    /// Looks at `dir`: its plugin files, the `server_files` the discovery plugins read there, their fingerprint,
    /// and what `store` says of it. A file that cannot be read is part of the fingerprint as unreadable, so the
    /// project is simply not trusted until it can be.
    pub fn inspect(
        dir: &Path,
        home: &Path,
        server_files: Vec<PathBuf>,
        store: &TrustStore,
    ) -> Self {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let plugin_files = wasm_files(&dir.join(PLUGIN_DIR));
        let fingerprint = fingerprint(&dir, plugin_files.iter().chain(&server_files));
        let is_home = home.canonicalize().is_ok_and(|home| home == dir);
        let trust = if is_home {
            Trust::Home
        } else if plugin_files.is_empty() && server_files.is_empty() {
            Trust::NothingToTrust
        } else {
            match store.get(&dir) {
                Some(record) if record.fingerprint == fingerprint => Trust::Trusted,
                Some(_) => Trust::Untrusted { changed: true },
                None => Trust::Untrusted { changed: false },
            }
        };
        Project {
            dir,
            plugin_files,
            server_files,
            fingerprint,
            trust,
        }
    }

    /// Its plugins may load and its servers start.
    pub fn trusted(&self) -> bool {
        !matches!(self.trust, Trust::Untrusted { .. })
    }

    /// What the user can do about an untrusted project, as one clause.
    pub fn trust_hint(&self) -> String {
        let command = format!(
            "bridge trust {}",
            shell_word(&self.dir.display().to_string())
        );
        match self.trust {
            Trust::Untrusted { changed: true } => {
                format!("its files changed since you trusted it; review them and run `{command}`")
            }
            _ => format!("review its files and run `{command}` to trust it"),
        }
    }

    /// Every file the fingerprint covers, relative to the project.
    pub fn files(&self) -> Vec<String> {
        self.plugin_files
            .iter()
            .chain(&self.server_files)
            .map(|path| relative(&self.dir, path))
            .collect()
    }
}

/// `sha256:<hex>` over each file's relative path and contents, in path order.
fn fingerprint<'a>(dir: &Path, files: impl Iterator<Item = &'a PathBuf>) -> String {
    let mut files: Vec<&PathBuf> = files.collect();
    files.sort();
    files.dedup();
    let mut hasher = Sha256::new();
    for path in files {
        let name = relative(dir, path);
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        match std::fs::read(path) {
            Ok(contents) => {
                hasher.update((contents.len() as u64).to_le_bytes());
                hasher.update(&contents);
            }
            Err(_) => hasher.update(u64::MAX.to_le_bytes()),
        }
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

/// Quotes a path for a shell command line when it needs it.
fn shell_word(text: &str) -> String {
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// One trusted project, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRecord {
    /// The fingerprint of its files when it was trusted.
    pub fingerprint: String,
    /// When (RFC 3339).
    pub trusted_at: String,
    /// The files it covered, relative to the project.
    pub files: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    projects: BTreeMap<String, TrustRecord>,
}

/// The user's trusted projects (`<state dir>/trusted-projects.json`).
pub struct TrustStore {
    path: PathBuf,
}

impl TrustStore {
    /// The store of the bridge whose state directory is `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        TrustStore {
            path: state_dir.join("trusted-projects.json"),
        }
    }

    /// Where it is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every trusted project, by directory. An unreadable store trusts nothing.
    pub fn list(&self) -> BTreeMap<String, TrustRecord> {
        match self.read() {
            Ok(file) => file.projects,
            Err(error) => {
                tracing::warn!("{error:#}; no project is trusted");
                BTreeMap::new()
            }
        }
    }

    /// The record for `dir`, if it is trusted.
    pub fn get(&self, dir: &Path) -> Option<TrustRecord> {
        self.list().remove(&dir.display().to_string())
    }

    /// Records `project` as trusted, as its files are now.
    pub fn trust(&self, project: &Project) -> Result<()> {
        let mut file = self.read()?;
        file.projects.insert(
            project.dir.display().to_string(),
            TrustRecord {
                fingerprint: project.fingerprint.clone(),
                trusted_at: crate::state::now_rfc3339(),
                files: project.files(),
            },
        );
        self.write(&file)
    }

    /// Forgets `dir`; whether it was trusted.
    pub fn revoke(&self, dir: &Path) -> Result<bool> {
        let mut file = self.read()?;
        let key = dir
            .canonicalize()
            .unwrap_or_else(|_| dir.to_path_buf())
            .display()
            .to_string();
        let removed = file.projects.remove(&key).is_some();
        if removed {
            self.write(&file)?;
        }
        Ok(removed)
    }

    fn read(&self) -> Result<TrustFile> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("the trust store {} is damaged", self.path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(TrustFile::default()),
            Err(error) => Err(error).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    /// Writes through a temporary file and a rename, owner-only.
    fn write(&self, file: &TrustFile) -> Result<()> {
        crate::state::replace_file(&self.path, &serde_json::to_vec_pretty(file)?)
            .map_err(anyhow::Error::msg)
    }
}

/// Everything the bridge loads from its configuration for one working directory.
pub struct Workspace {
    /// The plugins, with both config layers applied.
    pub plugins: PluginHost,
    /// The working directory as a project.
    pub project: Project,
    /// The configured MCP servers.
    pub upstreams: Upstreams,
    /// The config files as read (the plugins' share of them is applied in `plugins`).
    pub settings: Settings,
}

impl Workspace {
    /// Loads the config layers and plugins, judges the project in `cwd` against the user's trust store, and
    /// discovers the servers, leaving out of use whatever the project brings that the user has not trusted.
    pub fn open(config: &Config, cwd: &Path) -> Result<Self> {
        let store = TrustStore::new(&config.state_dir);
        let mut inspected = None;
        let settings = Settings::load(config, cwd)?;
        let plugins = PluginHost::load(config, settings.clone(), |host| {
            let project = Project::inspect(cwd, &config.home, host.project_files(cwd), &store);
            let decision = if project.trusted() {
                ProjectPlugins::Load(project.plugin_files.clone())
            } else {
                ProjectPlugins::Untrusted {
                    files: project.plugin_files.clone(),
                    hint: project.trust_hint(),
                }
            };
            inspected = Some(project);
            decision
        })?;
        let project = inspected.context("the plugin host did not consult the project")?;
        if !project.trusted() {
            tracing::warn!(
                project = %project.dir.display(),
                "project plugins and servers are not used: {}",
                project.trust_hint()
            );
        }
        let upstreams = Upstreams::discover(
            config,
            &plugins,
            cwd,
            project.trusted(),
            &project.trust_hint(),
        );
        Ok(Workspace {
            plugins,
            project,
            upstreams,
            settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, relative: &str, text: &str) -> PathBuf {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn trust_holds_until_a_file_changes_appears_or_goes() {
        let root = tempfile::TempDir::new().unwrap();
        let (home, dir) = (root.path().join("home"), root.path().join("repo"));
        std::fs::create_dir_all(&home).unwrap();
        let store = TrustStore::new(&root.path().join("state"));
        let servers = write(&dir, ".mcp.json", r#"{"mcpServers": {}}"#);
        write(&dir, ".mcp-bridge/plugins/p.wasm", "component");
        let inspect = |files: Vec<PathBuf>| Project::inspect(&dir, &home, files, &store);

        let project = inspect(vec![servers.clone()]);
        assert_eq!(project.trust, Trust::Untrusted { changed: false });
        assert_eq!(project.files(), [".mcp-bridge/plugins/p.wasm", ".mcp.json"]);
        assert!(project.trust_hint().contains("bridge trust"));
        store.trust(&project).unwrap();
        assert_eq!(inspect(vec![servers.clone()]).trust, Trust::Trusted);

        write(
            &dir,
            ".mcp.json",
            r#"{"mcpServers": {"x": {"command": "evil"}}}"#,
        );
        assert_eq!(
            inspect(vec![servers.clone()]).trust,
            Trust::Untrusted { changed: true }
        );
        store.trust(&inspect(vec![servers.clone()])).unwrap();
        write(&dir, ".mcp-bridge/plugins/q.wasm", "another");
        assert_eq!(
            inspect(vec![servers.clone()]).trust,
            Trust::Untrusted { changed: true }
        );
        store.trust(&inspect(vec![servers.clone()])).unwrap();
        assert_eq!(inspect(vec![]).trust, Trust::Untrusted { changed: true });

        assert!(store.revoke(&dir).unwrap());
        assert_eq!(
            inspect(vec![servers]).trust,
            Trust::Untrusted { changed: false }
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_folder_with_nothing_to_load_or_the_home_needs_no_trust() {
        let root = tempfile::TempDir::new().unwrap();
        let store = TrustStore::new(&root.path().join("state"));
        let project = Project::inspect(root.path(), Path::new("/nonexistent"), vec![], &store);
        assert_eq!(project.trust, Trust::NothingToTrust);
        let file = write(root.path(), ".mcp.json", "{}");
        let home = Project::inspect(root.path(), root.path(), vec![file], &store);
        assert_eq!(home.trust, Trust::Home);
        assert!(home.trusted());
    }

    #[test]
    fn a_damaged_store_trusts_nothing() {
        let root = tempfile::TempDir::new().unwrap();
        let store = TrustStore::new(root.path());
        std::fs::write(store.path(), "{ not json").unwrap();
        assert!(store.list().is_empty());
        let project = Project {
            dir: root.path().to_path_buf(),
            plugin_files: vec![],
            server_files: vec![],
            fingerprint: "sha256:x".into(),
            trust: Trust::NothingToTrust,
        };
        assert!(
            store.trust(&project).is_err(),
            "a damaged store is not overwritten"
        );
    }
}
