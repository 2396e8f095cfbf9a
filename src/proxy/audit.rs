//! The audit log: one JSON line per proxied tool call in `<state dir>/audit.jsonl`, rotated by size
//! (`audit.jsonl.1` is the newest old file). Sizes are always logged; arguments and results only when the
//! config file's `[audit]` asks, since they may carry secrets.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::plugins::settings::AuditSettings;

/// One proxied call, as logged.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// RFC 3339 UTC time the call was decided.
    pub time: String,
    /// The run it came from.
    pub run_id: String,
    /// Server name.
    pub server: String,
    /// Tool name.
    pub tool: String,
    /// `allow`, `deny` or `ask-accepted` / `ask-declined`.
    pub decision: String,
    /// The policy that decided a deny or ask (none when every policy allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// Milliseconds from the request to the answer (upstream call included).
    pub duration_ms: f64,
    /// Size of the arguments (JSON bytes).
    pub argument_bytes: usize,
    /// Size of the result (JSON bytes), when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_bytes: Option<usize>,
    /// Whether the tool reported `isError`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_error: Option<bool>,
    /// Why the call failed or was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The arguments, when `log-arguments` is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<serde_json::Value>,
    /// The result, when `log-results` is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

/// The log file, shared by all runs (a mutex keeps lines whole and rotation single).
pub struct AuditLog {
    path: PathBuf,
    settings: AuditSettings,
    file: Mutex<Option<std::fs::File>>,
}

impl AuditLog {
    /// A log at `<state_dir>/audit.jsonl`; the file is created on the first call.
    pub fn new(state_dir: &Path, settings: AuditSettings) -> Self {
        AuditLog {
            path: state_dir.join("audit.jsonl"),
            settings,
            file: Mutex::new(None),
        }
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings in force (what to include).
    pub fn settings(&self) -> AuditSettings {
        self.settings
    }

    /// Appends `record`. A log that cannot be written is a warning, never a failed call.
    pub fn write(&self, record: &AuditRecord) {
        let Ok(mut line) = serde_json::to_vec(record) else {
            return;
        };
        line.push(b'\n');
        let Ok(mut file) = self.file.lock() else {
            return;
        };
        if let Err(error) = self.append(&mut file, &line) {
            tracing::warn!(log = %self.path.display(), "audit log not written: {error}");
            *file = None;
        }
    }

    fn append(&self, file: &mut Option<std::fs::File>, line: &[u8]) -> std::io::Result<()> {
        if file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            *file = Some(self.open()?);
        }
        let size = file
            .as_ref()
            .map_or(Ok(0), |f| f.metadata().map(|m| m.len()))?;
        if size > 0 && size + line.len() as u64 > self.settings.max_bytes {
            *file = None;
            self.rotate()?;
            *file = Some(self.open()?);
        }
        match file {
            Some(f) => f.write_all(line),
            None => Ok(()),
        }
    }

    fn open(&self) -> std::io::Result<std::fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
    }

    /// `audit.jsonl` → `.1` → `.2` … the oldest beyond `keep` is dropped.
    fn rotate(&self) -> std::io::Result<()> {
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.settings.keep == 0 {
            return std::fs::remove_file(&self.path);
        }
        let _ = std::fs::remove_file(numbered(self.settings.keep));
        for n in (1..self.settings.keep).rev() {
            let from = numbered(n);
            if from.exists() {
                std::fs::rename(&from, numbered(n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(1))
    }
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> AuditRecord {
        AuditRecord {
            time: now_rfc3339(),
            run_id: format!("r{n}"),
            server: "s".into(),
            tool: "t".into(),
            decision: "allow".into(),
            decided_by: None,
            duration_ms: 1.0,
            argument_bytes: 2,
            result_bytes: Some(3),
            tool_error: Some(false),
            error: None,
            arguments: None,
            result: None,
        }
    }

    #[test]
    fn rotates_by_size_and_keeps_the_configured_number_of_files() {
        let dir = tempfile::TempDir::new().unwrap();
        let settings = AuditSettings {
            max_bytes: 4096,
            keep: 2,
            ..AuditSettings::default()
        };
        let log = AuditLog::new(dir.path(), settings);
        for n in 0..200 {
            log.write(&record(n));
        }
        let current = std::fs::read_to_string(log.path()).unwrap();
        assert!(current.len() <= 4096);
        let last: serde_json::Value =
            serde_json::from_str(current.lines().last().unwrap()).unwrap();
        assert_eq!(last["run_id"], "r199");
        assert!(dir.path().join("audit.jsonl.1").exists());
        assert!(dir.path().join("audit.jsonl.2").exists());
        assert!(!dir.path().join("audit.jsonl.3").exists());
        for line in current.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(value.get("arguments").is_none());
        }
    }
}
