//! Running discovery plugins: the host resolves the files a plugin declares (relative to home or the working
//! directory, or named by an environment variable), reads them read-only and size-capped, and hands their text
//! to the plugin's `parse`. The plugin itself never touches the filesystem.

use std::path::{Component, Path, PathBuf};

use super::ServerEntry;
use super::api::{Base, FilePattern, SourceFile};
use super::instance::LoadedPlugin;
use super::runtime::PluginRuntime;

/// Largest config file handed to a plugin (`~/.claude.json` keeps per-project history and grows to megabytes).
const MAX_FILE_BYTES: u64 = 16 << 20;

/// Looks up an environment variable (the process environment, or a test's map).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where relative patterns are resolved, and how environment variables are looked up.
pub struct DiscoveryContext {
    /// The user's home.
    pub home: PathBuf,
    /// The bridge's working directory.
    pub cwd: PathBuf,
    /// Environment lookup (the process environment, or a test's map).
    pub env: EnvLookup,
}

/// The outcome for one file: its entries, or why it was skipped.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// The discovery plugin that read it.
    pub plugin: String,
    /// The file.
    pub path: PathBuf,
    /// It belongs to the project (the working directory), not to the user: its servers are used only once the
    /// user trusts the project, and never in place of a server the user defined.
    pub project: bool,
    /// Entries in file order, or the reason the file was skipped.
    pub entries: Result<Vec<ServerEntry>, String>,
}

/// The files a discovery plugin declares, or none (with a warning) when it fails.
fn wanted_files(runtime: &PluginRuntime, plugin: &LoadedPlugin) -> Vec<FilePattern> {
    let wanted = plugin.call(runtime, |store, bindings| bindings.wanted_files(store));
    wanted.unwrap_or_else(|failure| {
        tracing::warn!(plugin = plugin.name, "discovery plugin failed: {failure}");
        Vec::new()
    })
}

/// The existing files below `cwd` that one discovery plugin would read (its `cwd`-based patterns).
pub fn project_files(runtime: &PluginRuntime, plugin: &LoadedPlugin, cwd: &Path) -> Vec<PathBuf> {
    let context = DiscoveryContext {
        home: PathBuf::new(),
        cwd: cwd.to_path_buf(),
        env: Box::new(|_| None),
    };
    wanted_files(runtime, plugin)
        .iter()
        .filter(|pattern| pattern.base == Base::Cwd)
        .flat_map(|pattern| resolve(pattern, &context))
        .map(|(path, _)| path)
        .collect()
}

/// Runs one discovery plugin: its declared files, in its order.
pub fn run(
    runtime: &PluginRuntime,
    plugin: &LoadedPlugin,
    context: &DiscoveryContext,
) -> Vec<FileResult> {
    let patterns = wanted_files(runtime, plugin);
    let mut results = Vec::new();
    for pattern in patterns {
        for (path, relative) in resolve(&pattern, context) {
            let entries = read_capped(&path).and_then(|contents| {
                let file = SourceFile {
                    base: pattern.base,
                    path: relative,
                    contents,
                };
                plugin
                    .call(runtime, |store, bindings| bindings.parse(store, &file))
                    .map_err(|failure| format!("the plugin failed: {failure}"))?
            });
            if let Err(reason) = &entries {
                tracing::warn!(plugin = plugin.name, file = %path.display(), "skipping config file: {reason}");
            }
            results.push(FileResult {
                plugin: plugin.name.clone(),
                path,
                project: pattern.base == Base::Cwd,
                entries,
            });
        }
    }
    results
}

/// Existing files matching `pattern`: (absolute path, path as the plugin should see it). Patterns that are
/// absolute or climb out of their base (`..`) are refused: a plugin reads only below home or the project.
fn resolve(pattern: &FilePattern, context: &DiscoveryContext) -> Vec<(PathBuf, String)> {
    let base = match pattern.base {
        Base::EnvVar => {
            return match (context.env)(&pattern.pattern).filter(|v| !v.is_empty()) {
                Some(value) => {
                    let path = PathBuf::from(&value);
                    let path = if path.is_absolute() {
                        path
                    } else {
                        context.cwd.join(path)
                    };
                    if path.is_file() {
                        vec![(path, value)]
                    } else {
                        Vec::new()
                    }
                }
                None => Vec::new(),
            };
        }
        Base::Home => &context.home,
        Base::Cwd => &context.cwd,
    };
    let relative = Path::new(&pattern.pattern);
    let safe = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !safe || pattern.pattern.is_empty() {
        tracing::warn!(
            pattern = pattern.pattern,
            "ignoring a discovery pattern that leaves its base directory"
        );
        return Vec::new();
    }
    let escaped_base = glob::Pattern::escape(&base.to_string_lossy());
    let query = format!("{escaped_base}/{}", pattern.pattern);
    let Ok(paths) = glob::glob(&query) else {
        tracing::warn!(
            pattern = pattern.pattern,
            "ignoring a malformed discovery pattern"
        );
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|path| {
            let shown = path
                .strip_prefix(base)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            (path, shown)
        })
        .collect()
}

fn read_capped(path: &Path) -> Result<String, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "it is {size} bytes; config files over {MAX_FILE_BYTES} bytes are not read"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())
}
