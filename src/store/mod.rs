//! The persistent store of memories and saved tools: what outlives a run, kept by the host in the state dir (the sandbox has no host mounts and no writable
//! persistent disk): the memory helpers' entries (`runtime.save_memory` …, `<state>/user_tools/memory/<key>.json`)
//! and the functions saved with `runtime.save_tool` (`<state>/user_tools/<name>.py`), which a later run loads
//! when it imports them (`tool_load`).
//!
//! The sandbox only ever names an entry; this module turns names into file names (the seed's sanitisation,
//! `[^A-Za-z0-9_-]` → `_`, at most 100 characters; tool names must be identifiers), so a request can never
//! reach outside these directories. Everything written is bounded:
//! - an entry's whole JSON (key, value, metadata, times; compact, never pretty-printed, so a deeply nested
//!   value cannot grow on disk) is at most [`MAX_ENTRY_BYTES`]; a tool's source at most [`MAX_TOOL_SOURCE_BYTES`];
//! - at most [`MAX_MEMORY_ENTRIES`] entries and [`MAX_SAVED_TOOLS`] tools;
//! - entries and tools together at most the quota (`MCP_BRIDGE_STORE_QUOTA`). Writes of one bridge are
//!   serialised, so concurrent runs cannot overshoot it together.
//!
//! Directories are created 0700 and files 0600. Every refusal names the limit it hit.

mod files;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sandbox::protocol::{
    ListedMemory, MemoryInfo, MemoryPage, MemoryValue, SavedToolInfo, ToolName,
};
use crate::state::{now_rfc3339, replace_file};
pub(crate) use files::json_size;
use files::{ReadError, files_with_extension, read_bounded, size_of};

/// The largest memory entry, as the compact JSON written to disk (key, value, metadata and times).
pub const MAX_ENTRY_BYTES: usize = 1 << 20;

/// The largest saved tool source.
pub const MAX_TOOL_SOURCE_BYTES: usize = 256 << 10;

/// Memory entries kept at most.
pub const MAX_MEMORY_ENTRIES: usize = 1000;

/// Saved tools kept at most.
pub const MAX_SAVED_TOOLS: usize = 200;

/// Entries in one page of `list_memories`.
pub const LIST_PAGE_ENTRIES: usize = 100;

/// A page of `list_memories` stops before its JSON passes this (it always holds at least one entry).
pub const LIST_PAGE_BYTES: usize = 1 << 20;

/// Entries on disk larger than this are not read (a file written by an older bridge, pretty-printed, may be
/// somewhat larger than [`MAX_ENTRY_BYTES`]; anything beyond this is reported instead of loaded).
const MAX_READ_BYTES: u64 = 4 << 20;

/// The state kept for the sandbox between runs.
pub struct SandboxStore {
    root: PathBuf,
    /// Bytes all entries and saved tools may take together (`MCP_BRIDGE_STORE_QUOTA`).
    quota_bytes: u64,
    /// Held by every write and delete: the quota check and the write it allows are one step.
    writes: Mutex<()>,
}

/// A completed write or delete, for the reply and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The text the sandbox gets back.
    pub message: String,
    /// The entry's or tool's size on disk (written, read or removed); 0 when there was none.
    pub bytes: u64,
    /// Whether the entry or tool existed (a delete of a missing one is not an error).
    pub found: bool,
}

/// An entry as written to disk (borrowed, so saving copies nothing).
#[derive(Serialize)]
struct EntryOut<'a> {
    key: &'a str,
    value: &'a Value,
    metadata: &'a Value,
    created_at: &'a str,
    updated_at: &'a str,
}

/// Only the value, for `load_memory`.
#[derive(Deserialize)]
struct EntryValue {
    #[serde(default)]
    value: Value,
}

impl SandboxStore {
    /// A store in `<state_dir>/user_tools` holding at most `quota_bytes`; directories are created on the first
    /// write. Usable without a run (`bridge tools list|rm`).
    pub fn new(state_dir: &Path, quota_bytes: u64) -> Self {
        SandboxStore {
            root: state_dir.join("user_tools"),
            quota_bytes,
            writes: Mutex::new(()),
        }
    }

    fn memory_dir(&self) -> PathBuf {
        self.root.join("memory")
    }

    fn memory_path(&self, key: &str) -> Result<(String, PathBuf), String> {
        let key = memory_key(key).ok_or("Memory key cannot be empty")?;
        let path = self.memory_dir().join(format!("{key}.json"));
        Ok((key, path))
    }

    fn tool_path(&self, name: &str) -> Result<PathBuf, String> {
        if !is_identifier(name) {
            return Err(format!(
                "{:?} is not a function name (a Python identifier of at most 100 characters)",
                shorten(name)
            ));
        }
        Ok(self.root.join(format!("{name}.py")))
    }

    /// Bytes used now by entries and tools together.
    fn usage(&self) -> u64 {
        let memory: u64 = files_with_extension(&self.memory_dir(), "json")
            .iter()
            .map(|(_, _, size)| size)
            .sum();
        let tools: u64 = files_with_extension(&self.root, "py")
            .iter()
            .map(|(_, _, size)| size)
            .sum();
        memory + tools
    }

    /// Refuses a write of `new_bytes` replacing `old_bytes` that would take the store past its quota.
    fn check_quota(&self, what: &str, old_bytes: u64, new_bytes: u64) -> Result<(), String> {
        let after = self.usage().saturating_sub(old_bytes) + new_bytes;
        if after > self.quota_bytes {
            return Err(format!(
                "Store quota exceeded: saving {what} ({new_bytes} bytes) would bring memory entries and saved tools \
                 to {after} bytes, over MCP_BRIDGE_STORE_QUOTA ({} bytes); delete some with delete_memory(key) \
                 or `bridge tools rm`",
                self.quota_bytes
            ));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while holding it left no partial state (writes are renames): keep going.
        self.writes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `save_memory(key, value, metadata)`: creates or replaces the entry, keeping its creation time.
    pub fn save_memory(
        &self,
        key: &str,
        value: &Value,
        metadata: &Value,
    ) -> Result<Stored, String> {
        let (key, path) = self.memory_path(key)?;
        let _writing = self.lock();
        let now = now_rfc3339();
        let created = read_info(&path)
            .ok()
            .and_then(|old| old.created_at.as_str().map(str::to_string))
            .unwrap_or_else(|| now.clone());
        let entry = EntryOut {
            key: &key,
            value,
            metadata,
            created_at: &created,
            updated_at: &now,
        };
        // Measured before anything is allocated for it: a refused flood costs one pass and no copy.
        let size = json_size(&entry, MAX_ENTRY_BYTES as u64).map_err(|counted| {
            format!(
                "Memory value too large: the entry '{key}' (key, value, metadata and times as compact JSON) is \
                 {} bytes, the limit is {MAX_ENTRY_BYTES} bytes per entry",
                describe_count(counted, MAX_ENTRY_BYTES as u64)
            )
        })?;
        let old_bytes = size_of(&path);
        if !path.exists()
            && files_with_extension(&self.memory_dir(), "json").len() >= MAX_MEMORY_ENTRIES
        {
            return Err(format!(
                "Memory is full ({MAX_MEMORY_ENTRIES} entries, the most kept); delete some with delete_memory(key)"
            ));
        }
        self.check_quota(&format!("memory '{key}'"), old_bytes, size)?;
        let data = serde_json::to_vec(&entry).map_err(|e| format!("Memory '{key}': {e}"))?;
        replace_file(&path, &data)?;
        Ok(Stored {
            message: format!("Memory '{key}' saved."),
            bytes: data.len() as u64,
            found: old_bytes > 0,
        })
    }

    /// `load_memory(key)`: the value if there is one, and the entry's size on disk.
    pub fn load_memory(&self, key: &str) -> Result<(MemoryValue, u64), String> {
        let (key, path) = self.memory_path(key)?;
        match read_bounded(&path, MAX_READ_BYTES) {
            Ok(data) => {
                let entry: EntryValue = serde_json::from_slice(&data)
                    .map_err(|e| format!("Memory '{key}' is unreadable: {e}"))?;
                let found = MemoryValue {
                    found: true,
                    value: Some(entry.value),
                };
                Ok((found, data.len() as u64))
            }
            Err(ReadError::NotFound) => Ok((
                MemoryValue {
                    found: false,
                    value: None,
                },
                0,
            )),
            Err(error) => Err(read_failure(&key, error)),
        }
    }

    /// `delete_memory(key)`.
    pub fn delete_memory(&self, key: &str) -> Result<Stored, String> {
        let (key, path) = self.memory_path(key)?;
        let _writing = self.lock();
        remove(&path, &format!("Memory '{key}'"))
    }

    /// `get_memory_info(key)`: everything but the value, if there is an entry; and its size on disk.
    pub fn memory_info(&self, key: &str) -> Result<(Option<MemoryInfo>, u64), String> {
        let (key, path) = self.memory_path(key)?;
        match read_info(&path) {
            Ok(info) => Ok((Some(info), size_of(&path))),
            Err(ReadError::NotFound) => Ok((None, 0)),
            Err(error) => Err(read_failure(&key, error)),
        }
    }

    /// `list_memories()`, one page: `{"entries": [info, …], "next": <cursor> | null}`. `cursor` indexes the
    /// sorted keys; a page holds at most [`LIST_PAGE_ENTRIES`] entries and stops before its JSON passes
    /// [`LIST_PAGE_BYTES`] (but always holds one entry, when there is one).
    pub fn list_memories(&self, cursor: usize) -> MemoryPage {
        let keys = files_with_extension(&self.memory_dir(), "json");
        let mut entries = Vec::new();
        let mut bytes = 0;
        let mut next = None;
        for (index, (stem, path, _)) in keys.iter().enumerate().skip(cursor) {
            if entries.len() == LIST_PAGE_ENTRIES {
                next = Some(index as u64);
                break;
            }
            let info = match read_info(path) {
                Ok(info) => ListedMemory::Entry(Box::new(info)),
                Err(error) => ListedMemory::Unreadable {
                    key: stem.clone(),
                    error: read_failure(stem, error),
                },
            };
            let size = json_size(&info, u64::MAX).unwrap_or(0) as usize + 1;
            if !entries.is_empty() && bytes + size > LIST_PAGE_BYTES {
                next = Some(index as u64);
                break;
            }
            bytes += size;
            entries.push(info);
        }
        MemoryPage { entries, next }
    }

    /// `save_tool(func)`: stores the function's source as `<name>.py` (replacing an older one of that name).
    pub fn save_tool(&self, name: &str, source: &str) -> Result<Stored, String> {
        let path = self.tool_path(name)?;
        check_source_size(name, source.len())?;
        let _writing = self.lock();
        let old_bytes = size_of(&path);
        if !path.exists() && files_with_extension(&self.root, "py").len() >= MAX_SAVED_TOOLS {
            return Err(format!(
                "{MAX_SAVED_TOOLS} tools are saved already, the most kept; delete some with `bridge tools rm`"
            ));
        }
        self.check_quota(&format!("tool '{name}'"), old_bytes, source.len() as u64)?;
        replace_file(&path, source.as_bytes())?;
        Ok(Stored {
            message: format!("Tool '{name}' saved. It will be available in future sessions."),
            bytes: source.len() as u64,
            found: old_bytes > 0,
        })
    }

    /// The source of the saved tool `name`; an unknown name is an error listing the saved ones.
    pub fn load_tool(&self, name: &str) -> Result<String, String> {
        let path = self.tool_path(name)?;
        match read_bounded(&path, MAX_TOOL_SOURCE_BYTES as u64) {
            Ok(data) => String::from_utf8(data)
                .map_err(|_| format!("Saved tool '{name}' is not valid UTF-8")),
            Err(ReadError::NotFound) => {
                let saved: Vec<String> = self.list_tools().into_iter().map(|t| t.name).collect();
                Err(format!(
                    "No saved tool named '{name}'; saved tools: {}",
                    if saved.is_empty() {
                        "none".to_string()
                    } else {
                        saved.join(", ")
                    }
                ))
            }
            Err(ReadError::TooLarge(size)) => Err(format!(
                "Saved tool '{name}' is {size} bytes, over the limit of {MAX_TOOL_SOURCE_BYTES} bytes per tool"
            )),
            Err(ReadError::Io(error)) => Err(format!("Saved tool '{name}' is unreadable: {error}")),
        }
    }

    /// The saved tools by name: `[{"name", "bytes", "saved_at"}]`.
    pub fn list_tools(&self) -> Vec<SavedToolInfo> {
        files_with_extension(&self.root, "py")
            .into_iter()
            .filter(|(name, _, _)| is_identifier(name))
            .map(|(name, path, bytes)| {
                let saved_at = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .map(|t| humantime::format_rfc3339_seconds(t).to_string())
                    .unwrap_or_default();
                SavedToolInfo {
                    name,
                    bytes,
                    saved_at,
                }
            })
            .collect()
    }

    /// Removes the saved tool `name` (`"Tool 'f' deleted."` or `"Tool 'f' not found."`).
    pub fn delete_tool(&self, name: &str) -> Result<Stored, String> {
        let path = self.tool_path(name)?;
        let _writing = self.lock();
        remove(&path, &format!("Tool '{name}'"))
    }
}

/// Refuses a tool source over [`MAX_TOOL_SOURCE_BYTES`], naming the limit.
pub fn check_source_size(name: &str, bytes: usize) -> Result<(), String> {
    if bytes > MAX_TOOL_SOURCE_BYTES {
        return Err(format!(
            "Tool source too large: '{name}' is {bytes} bytes, the limit is {MAX_TOOL_SOURCE_BYTES} bytes per tool"
        ));
    }
    Ok(())
}

/// The seed's key rule: strip, every character outside `[A-Za-z0-9_-]` becomes `_`, at most 100 characters.
/// `None` for a key that is empty after stripping.
pub fn memory_key(key: &str) -> Option<String> {
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

/// Whether `name` can be a saved tool's name (the protocol's rule, which makes it a safe file name too).
pub fn is_identifier(name: &str) -> bool {
    ToolName::is_valid(name)
}

/// At most 100 characters of a name from the sandbox, for messages.
fn shorten(name: &str) -> String {
    match name.char_indices().nth(100) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_string(),
    }
}

/// "N" when counted whole, "more than N" when counting stopped at the limit.
fn describe_count(counted: u64, limit: u64) -> String {
    if counted > limit {
        format!("more than {limit}")
    } else {
        counted.to_string()
    }
}

fn read_info(path: &Path) -> Result<MemoryInfo, ReadError> {
    let data = read_bounded(path, MAX_READ_BYTES)?;
    serde_json::from_slice(&data).map_err(|e| ReadError::Io(std::io::Error::other(e)))
}

fn read_failure(key: &str, error: ReadError) -> String {
    match error {
        ReadError::NotFound => format!("Memory '{key}' not found"),
        ReadError::TooLarge(size) => format!(
            "Memory '{key}' is {size} bytes on disk, more than the {MAX_READ_BYTES} bytes the bridge reads; \
             delete it with delete_memory(key)"
        ),
        ReadError::Io(error) => format!("Memory '{key}' is unreadable: {error}"),
    }
}

fn remove(path: &Path, what: &str) -> Result<Stored, String> {
    let bytes = size_of(path);
    match std::fs::remove_file(path) {
        Ok(()) => Ok(Stored {
            message: format!("{what} deleted."),
            bytes,
            found: true,
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Stored {
            message: format!("{what} not found."),
            bytes: 0,
            found: false,
        }),
        Err(error) => Err(format!("{what} could not be deleted: {error}")),
    }
}
