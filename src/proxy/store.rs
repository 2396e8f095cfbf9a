//! What outlives a run, kept by the host in the state dir (the sandbox has no host mounts and no writable
//! persistent disk): the memory helpers' entries (`runtime.save_memory` …, `<state>/user_tools/memory/<key>.json`)
//! and the functions saved with `runtime.save_tool` (`<state>/user_tools/<name>.py`), which every later run
//! imports as the module `user_tools`.
//!
//! The sandbox only ever names an entry; this module turns names into file names (the seed's sanitisation,
//! `[^A-Za-z0-9_-]` → `_`, at most 100 characters), so a request can never reach outside these directories.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::audit::now_rfc3339;

/// The largest value (as JSON) one memory entry may hold.
pub const MAX_MEMORY_VALUE_BYTES: usize = 1 << 20;

/// The largest saved tool source.
pub const MAX_TOOL_SOURCE_BYTES: usize = 256 << 10;

/// Memory entries kept at most (with [`MAX_MEMORY_VALUE_BYTES`], this bounds the disk a sandbox can fill).
pub const MAX_MEMORY_ENTRIES: usize = 1000;

/// Saved tools kept at most.
pub const MAX_SAVED_TOOLS: usize = 200;

/// The state kept for the sandbox between runs.
pub struct SandboxStore {
    root: PathBuf,
    /// Bytes all entries and saved tools may take together (`MCP_BRIDGE_STORE_QUOTA`).
    quota_bytes: u64,
}

impl SandboxStore {
    /// A store in `<state_dir>/user_tools` holding at most `quota_bytes`; directories are created on the first
    /// write.
    pub fn new(state_dir: &Path, quota_bytes: u64) -> Self {
        SandboxStore {
            root: state_dir.join("user_tools"),
            quota_bytes,
        }
    }

    fn memory_path(&self, key: &str) -> Result<(String, PathBuf), String> {
        let key = sanitize(key).ok_or("Memory key cannot be empty")?;
        let path = self.root.join("memory").join(format!("{key}.json"));
        Ok((key, path))
    }

    /// `save_memory(key, value, metadata)`: creates or replaces the entry, keeping its creation time.
    pub fn save_memory(&self, key: &str, value: Value, metadata: Value) -> Result<String, String> {
        let (key, path) = self.memory_path(key)?;
        let size = value.to_string().len();
        if size > MAX_MEMORY_VALUE_BYTES {
            return Err(format!(
                "Memory value too large: {size} bytes as JSON, the limit is {MAX_MEMORY_VALUE_BYTES}"
            ));
        }
        if !path.exists() && count_files(&path, "json") >= MAX_MEMORY_ENTRIES {
            return Err(format!(
                "Memory is full ({MAX_MEMORY_ENTRIES} entries); delete some with delete_memory(key)"
            ));
        }
        let now = now_rfc3339();
        let created = read_json(&path)
            .and_then(|old| old.get("created_at").cloned())
            .unwrap_or_else(|| json!(now));
        let entry = json!({
            "key": key, "value": value, "metadata": metadata, "created_at": created, "updated_at": now,
        });
        write_file(
            &path,
            &serde_json::to_vec_pretty(&entry).unwrap_or_default(),
        )?;
        Ok(format!("Memory '{key}' saved."))
    }

    /// `load_memory(key)`: `{"found": bool, "value": …}`.
    pub fn load_memory(&self, key: &str) -> Result<Value, String> {
        let (_, path) = self.memory_path(key)?;
        Ok(match read_json(&path) {
            Some(entry) => {
                json!({"found": true, "value": entry.get("value").cloned().unwrap_or(Value::Null)})
            }
            None => json!({"found": false}),
        })
    }

    /// `delete_memory(key)`.
    pub fn delete_memory(&self, key: &str) -> Result<String, String> {
        let (key, path) = self.memory_path(key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(format!("Memory '{key}' deleted.")),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Ok(format!("Memory '{key}' not found."))
            }
            Err(error) => Err(format!("Memory '{key}' could not be deleted: {error}")),
        }
    }

    /// `get_memory_info(key)`: everything but the value, or null.
    pub fn memory_info(&self, key: &str) -> Result<Value, String> {
        let (_, path) = self.memory_path(key)?;
        Ok(read_json(&path).map(summary).unwrap_or(Value::Null))
    }

    /// `list_memories()`: the entries' info, by file name.
    pub fn list_memories(&self) -> Value {
        let Ok(entries) = std::fs::read_dir(self.root.join("memory")) else {
            return json!([]);
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        let listed: Vec<Value> = paths
            .iter()
            .map(|path| match read_json(path) {
                Some(entry) => summary(entry),
                None => {
                    let key = path.file_stem().map(|s| s.to_string_lossy().into_owned());
                    json!({"key": key, "error": "Failed to read"})
                }
            })
            .collect();
        Value::Array(listed)
    }

    /// `save_tool(func)`: stores the function's source as `<name>.py` (replacing an older one of that name).
    pub fn save_tool(&self, name: &str, source: &str) -> Result<String, String> {
        if !is_identifier(name) {
            return Err(format!("{name:?} is not a function name"));
        }
        if source.len() > MAX_TOOL_SOURCE_BYTES {
            return Err(format!(
                "Tool source too large: {} bytes, the limit is {MAX_TOOL_SOURCE_BYTES}",
                source.len()
            ));
        }
        let path = self.root.join(format!("{name}.py"));
        if !path.exists() && count_files(&path, "py") >= MAX_SAVED_TOOLS {
            return Err(format!(
                "{MAX_SAVED_TOOLS} tools are saved already, the most kept"
            ));
        }
        write_file(&path, source.as_bytes())?;
        Ok(format!(
            "Tool '{name}' saved. It will be available in future sessions."
        ))
    }

    /// The saved tools, `[{"name", "source"}]` by name, for the boot frame.
    pub fn saved_tools(&self) -> Vec<Value> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut tools: Vec<(String, String)> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "py"))
            .filter_map(|p| {
                let name = p.file_stem()?.to_str()?.to_string();
                let source = std::fs::read_to_string(&p).ok()?;
                is_identifier(&name).then_some((name, source))
            })
            .collect();
        tools.sort();
        tools
            .into_iter()
            .map(|(name, source)| json!({"name": name, "source": source}))
            .collect()
    }
}

/// The seed's key rule: strip, every character outside `[A-Za-z0-9_-]` becomes `_`, at most 100 characters.
fn sanitize(key: &str) -> Option<String> {
    let cleaned: String = key
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 100
}

/// Files with extension `ext` next to `path`.
fn count_files(path: &Path, ext: &str) -> usize {
    let Some(Ok(entries)) = path.parent().map(std::fs::read_dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == ext))
        .count()
}

fn summary(mut entry: Value) -> Value {
    if let Some(map) = entry.as_object_mut() {
        map.remove("value");
    }
    entry
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str::<Value>(&text)
        .ok()
        .filter(Value::is_object)
}

/// Writes through a temporary file and a rename, so a reader never sees half an entry.
fn write_file(path: &Path, data: &[u8]) -> Result<(), String> {
    let dir = path.parent().ok_or("no parent directory")?;
    let fail = |e: std::io::Error| format!("could not write {}: {e}", path.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, data).map_err(fail)?;
    std::fs::rename(&temporary, path).map_err(fail)
}

/// Reads the `key` string parameter of a store request.
pub fn key_param(params: &Map<String, Value>) -> Result<&str, String> {
    match params.get("key") {
        Some(Value::String(key)) => Ok(key),
        _ => Err("'key' must be a string".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sanitised_and_cannot_escape() {
        assert_eq!(sanitize(" a b/../c ").as_deref(), Some("a_b____c"));
        assert_eq!(sanitize("ok-key_1").as_deref(), Some("ok-key_1"));
        assert_eq!(sanitize("   "), None);
        assert_eq!(sanitize(&"x".repeat(300)).map(|k| k.len()), Some(100));
    }

    #[test]
    fn memory_round_trip_keeps_the_creation_time() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = SandboxStore::new(dir.path(), 64 << 20);
        assert_eq!(
            store
                .save_memory("k", json!({"a": 1}), Value::Null)
                .unwrap(),
            "Memory 'k' saved."
        );
        let created = store.memory_info("k").unwrap()["created_at"].clone();
        store
            .save_memory("k", json!(2), json!({"tag": "x"}))
            .unwrap();
        let info = store.memory_info("k").unwrap();
        assert_eq!(info["created_at"], created);
        assert_eq!(info["metadata"]["tag"], "x");
        assert!(info.get("value").is_none());
        assert_eq!(
            store.load_memory("k").unwrap(),
            json!({"found": true, "value": 2})
        );
        assert_eq!(store.load_memory("nope").unwrap(), json!({"found": false}));
        assert_eq!(store.list_memories().as_array().unwrap().len(), 1);
        assert_eq!(store.delete_memory("k").unwrap(), "Memory 'k' deleted.");
        assert_eq!(store.delete_memory("k").unwrap(), "Memory 'k' not found.");
        assert!(store.save_memory(" ", json!(1), Value::Null).is_err());
    }

    #[test]
    fn the_number_of_entries_is_capped() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = SandboxStore::new(dir.path(), 64 << 20);
        store.save_memory("k0", json!(0), Value::Null).unwrap();
        let memory = dir.path().join("user_tools/memory");
        for n in 1..MAX_MEMORY_ENTRIES {
            std::fs::write(memory.join(format!("k{n}.json")), "{}").unwrap();
        }
        let full = store.save_memory("new", json!(1), Value::Null).unwrap_err();
        assert!(full.starts_with("Memory is full (1000 entries)"), "{full}");
        // Replacing an entry that exists still works.
        store.save_memory("k0", json!(2), Value::Null).unwrap();
    }

    #[test]
    fn tools_are_stored_one_file_per_name() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = SandboxStore::new(dir.path(), 64 << 20);
        store
            .save_tool("double", "def double(x):\n    return 2 * x\n")
            .unwrap();
        store
            .save_tool("double", "def double(x):\n    return x + x\n")
            .unwrap();
        assert!(store.save_tool("../evil", "x").is_err());
        let tools = store.saved_tools();
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0]["source"], "def double(x):\n    return x + x\n");
    }
}
