//! The audit log: one JSON line per event in `<state dir>/audit.jsonl` (file 0600, directory 0700), rotated by
//! size (`audit.jsonl.1` is the newest old file). Sizes are always logged; a call's arguments and result only
//! when the config file's `[audit]` says `log-arguments` / `log-results`, since they may carry secrets; memory
//! values and saved tools' sources never.
//!
//! # Schema
//!
//! Every line has `time` (RFC 3339 UTC, milliseconds), `run_id` and `event`, then the event's fields (a field
//! shown with `?` is left out when it has no value):
//!
//! | `event` | fields |
//! |---|---|
//! | `call` | `call` (the run's call number, from 1), `server`, `tool`, `decision`, `decided_by`?, `argument_bytes`, `arguments`?, `error`? |
//! | `call-end` | `call`, `server`, `tool`, `outcome`, `duration_ms`, `result_bytes`?, `error`?, `result`? |
//! | `memory-save`, `memory-load`, `memory-delete`, `memory-info` | `key`, `outcome`, `bytes`?, `found`?, `error`? |
//! | `memory-list` | `cursor`?, `outcome`, `count`?, `error`? |
//! | `tool-save`, `tool-load` | `name`, `bytes`?, `decision`?, `decided_by`?, `outcome`, `error`? |
//! | `tool-delete` | `name`, `outcome`, `bytes`?, `found`?, `error`? |
//! | `tool-list` | `outcome`, `count`? |
//! | `index-start` | `server`, `decision`, `decided_by`?, `outcome`, `tools`?, `error`? |
//! | `lines-lost` | `lines`, `since`, `error` (`run_id` is empty) |
//!
//! - A tool call writes its `call` line once the policies (and the user, when asked) have decided, and, when
//!   allowed, just before the request goes to the server. `decision` is `allow`, `deny`, `ask-accepted`,
//!   `ask-declined`, or `undecided` when the run ended while the call was still being decided. A call that
//!   went out then gets one `call-end` line with the same `call` number: `outcome` `ok`, `tool-error` (the
//!   tool's `isError`), `failed` (with `error`: the server broke, refused, or sent a result over
//!   `MCP_BRIDGE_MAX_TOOL_RESULT`) or `run-ended-first` (the run ended before the answer came; the server may
//!   still have acted). `duration_ms` counts from the request to its end, the decision included.
//! - Store events (`memory-*`, `tool-*`): `outcome` is `ok`, `denied` (a policy, for `tool-save` /
//!   `tool-load`), `failed` (with `error`: a bad name, a limit, a disk error), or `run-ended-first` (with
//!   `decision` `undecided`: the run ended while the policies or the user were deciding on a `tool-save` /
//!   `tool-load`; nothing was saved or loaded). `bytes` is the entry's or tool's size on disk (written, read
//!   or removed), or a tool source's size; `key` is the sanitised key. A request is logged once its work is
//!   done, even when the run ended meanwhile.
//! - `index-start`: a search wanted to start a server the run did not name, to list its tools. `decision` is
//!   the policies' verdict on a run using that server (`allow`, `deny`, or `ask`, which search takes as a
//!   no); `outcome` is `refused`, `backoff` (its last listing failed; see `error` for when it is tried
//!   again), `listed` (with `tools`) or `failed` (with `error`). A start is logged once, by the run whose
//!   search made it (searches that joined it add nothing); `refused` and `backoff` are logged once per run
//!   and server, since a run's later searches repeat the same decision.
//! - `lines-lost`: the log could not be written (a full or read-only disk) from `since` on, and `lines` lines
//!   were lost; written first once it can be written again. Runs went on meanwhile: the bridge's stderr said
//!   why at the first failure. A line is never left half written: a failed append is cut off again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

use crate::config::settings::AuditSettings;
use crate::state::{create_private_dir, now_rfc3339};

/// One event, as logged (the `event` field names the variant).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum AuditEvent {
    /// A tool call was decided (and, when allowed, is about to be sent).
    Call(CallDecided),
    /// A tool call that was sent has ended.
    CallEnd(CallEnded),
    /// `memory_save`.
    MemorySave(MemoryAccess),
    /// `memory_load`.
    MemoryLoad(MemoryAccess),
    /// `memory_delete`.
    MemoryDelete(MemoryAccess),
    /// `memory_info`.
    MemoryInfo(MemoryAccess),
    /// `memory_list`.
    MemoryList(MemoryAccess),
    /// `tool_save`.
    ToolSave(ToolAccess),
    /// `tool_load`.
    ToolLoad(ToolAccess),
    /// `tool_delete`.
    ToolDelete(ToolAccess),
    /// `tool_list`.
    ToolList(ToolAccess),
    /// A search's start of a server the run did not name.
    IndexStart(IndexStart),
    /// Lines that could not be written (the log's own event).
    LinesLost(LinesLost),
}

/// The `lines-lost` event.
#[derive(Debug, Clone, Serialize)]
pub struct LinesLost {
    /// How many lines were not written.
    pub lines: u64,
    /// When the first of them failed (RFC 3339).
    pub since: String,
    /// Why (the first failure).
    pub error: String,
}

/// The `call` event.
#[derive(Debug, Clone, Serialize)]
pub struct CallDecided {
    /// The run's call number (from 1), shared with the `call-end` line.
    pub call: u64,
    /// Server name.
    pub server: String,
    /// Tool name.
    pub tool: String,
    /// `allow`, `deny`, `ask-accepted`, `ask-declined` or `undecided`.
    pub decision: String,
    /// The policy that denied or asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// Size of the arguments (compact JSON bytes).
    pub argument_bytes: usize,
    /// The arguments, when `log-arguments` is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// Why the call was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `call-end` event.
#[derive(Debug, Clone, Serialize)]
pub struct CallEnded {
    /// The call number of its `call` line.
    pub call: u64,
    /// Server name.
    pub server: String,
    /// Tool name.
    pub tool: String,
    /// `ok`, `tool-error`, `failed`, `withheld` (a policy's `check-result` denied it) or `run-ended-first`.
    pub outcome: &'static str,
    /// Milliseconds from the request to its end.
    pub duration_ms: f64,
    /// Size of the result (compact JSON bytes), when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_bytes: Option<u64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The result, when `log-results` is on: as handed back to the sandbox, after any replacement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The policies whose `check-result` replaced the result (e.g. masked secrets in it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_changed_by: Option<String>,
}

/// The `memory-*` events. Values are never logged.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryAccess {
    /// The sanitised key (absent for `memory-list`, or when the key was not a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The page asked for (`memory-list`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// `ok` or `failed`.
    pub outcome: &'static str,
    /// The entry's size on disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Whether the entry existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<bool>,
    /// Entries listed (`memory-list`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `tool-*` events. Sources are never logged.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ToolAccess {
    /// The tool's name (absent for `tool-list`, or when the name was not a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Size of the source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The policies' decision on the source (`tool-save`, `tool-load`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// The policy that denied or asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// `ok`, `denied`, `failed` or `run-ended-first`.
    pub outcome: &'static str,
    /// Whether the tool existed (`tool-delete`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<bool>,
    /// Tools listed (`tool-list`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// Why it was refused or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `index-start` event.
#[derive(Debug, Clone, Serialize)]
pub struct IndexStart {
    /// The server search wanted to start.
    pub server: String,
    /// The policies' verdict on a run using it: `allow`, `deny` or `ask`.
    pub decision: &'static str,
    /// The policy that denied or asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// `refused`, `backoff`, `listed` or `failed`.
    pub outcome: &'static str,
    /// Tools listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<usize>,
    /// Why it was refused, skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A line: the common fields, then the event's.
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    run_id: &'a str,
    #[serde(flatten)]
    event: &'a AuditEvent,
}

/// The log file, shared by all runs (a mutex keeps lines whole and rotation single).
pub struct AuditLog {
    path: PathBuf,
    settings: AuditSettings,
    writer: Mutex<Writer>,
}

/// The open file, and the lines lost while it could not be written.
#[derive(Default)]
struct Writer {
    file: Option<std::fs::File>,
    lost: Option<LinesLost>,
}

impl AuditLog {
    /// A log at `<state_dir>/audit.jsonl`; the file is created on the first event.
    pub fn new(state_dir: &Path, settings: AuditSettings) -> Self {
        AuditLog {
            path: state_dir.join("audit.jsonl"),
            settings,
            writer: Mutex::default(),
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

    /// Appends `event` of run `run_id`, stamped now. A log that cannot be written (a full or read-only disk) is
    /// an error on stderr at the first failure, never a failed request; the lines lost meanwhile are counted and
    /// written as one `lines-lost` line once it can be written again.
    pub fn write(&self, run_id: &str, event: &AuditEvent) {
        let Some(line) = Self::line(run_id, event) else {
            return;
        };
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(lost) = writer.lost.clone() {
            let gap = Self::line("", &AuditEvent::LinesLost(lost.clone()));
            match gap.map(|gap| self.append(&mut writer.file, &gap)) {
                Some(Ok(())) => {
                    tracing::warn!(
                        log = %self.path.display(),
                        "audit log writable again; {} lines since {} were lost",
                        lost.lines,
                        lost.since
                    );
                    writer.lost = None;
                }
                _ => {
                    writer.file = None;
                    if let Some(lost) = writer.lost.as_mut() {
                        lost.lines += 1;
                    }
                    return;
                }
            }
        }
        if let Err(error) = self.append(&mut writer.file, &line) {
            tracing::error!(
                log = %self.path.display(),
                "audit log cannot be written: {error}; runs go on, and the lines lost are counted in the log \
                 once it can be written again"
            );
            writer.file = None;
            writer.lost = Some(LinesLost {
                lines: 1,
                since: now_rfc3339(),
                error: error.to_string(),
            });
        }
    }

    /// `event` as one JSON line.
    fn line(run_id: &str, event: &AuditEvent) -> Option<Vec<u8>> {
        let line = Line {
            time: now_rfc3339(),
            run_id,
            event,
        };
        match serde_json::to_vec(&line) {
            Ok(mut line) => {
                line.push(b'\n');
                Some(line)
            }
            Err(error) => {
                tracing::warn!("audit line not serialised: {error}");
                None
            }
        }
    }

    fn append(&self, file: &mut Option<std::fs::File>, line: &[u8]) -> std::io::Result<()> {
        if file.is_none() {
            if let Some(dir) = self.path.parent() {
                create_private_dir(dir)?;
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
        let Some(f) = file else { return Ok(()) };
        let before = f.metadata()?.len();
        let written = f.write_all(line);
        if written.is_err() {
            // Part of the line may be in the file: cut it off, so the next line does not continue it.
            let _ = f.set_len(before);
        }
        written
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(n: u64) -> AuditEvent {
        AuditEvent::CallEnd(CallEnded {
            call: n,
            server: "s".into(),
            tool: "t".into(),
            outcome: "ok",
            duration_ms: 1.0,
            result_changed_by: None,
            result_bytes: Some(3),
            error: None,
            result: None,
        })
    }

    fn lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
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
            log.write(&format!("r{n}"), &ended(n));
        }
        let current = std::fs::read_to_string(log.path()).unwrap();
        assert!(current.len() <= 4096);
        let last = lines(log.path()).pop().unwrap();
        assert_eq!(last["run_id"], "r199");
        assert!(dir.path().join("audit.jsonl.1").exists());
        assert!(dir.path().join("audit.jsonl.2").exists());
        assert!(!dir.path().join("audit.jsonl.3").exists());
    }

    #[test]
    fn every_line_names_its_event_and_leaves_out_what_it_lacks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::TempDir::new().unwrap();
        let state = dir.path().join("state");
        let log = AuditLog::new(&state, AuditSettings::default());
        log.write(
            "r1",
            &AuditEvent::Call(CallDecided {
                call: 1,
                server: "github".into(),
                tool: "create_issue".into(),
                decision: "deny".into(),
                decided_by: Some("rules".into()),
                argument_bytes: 12,
                arguments: None,
                error: Some("no".into()),
            }),
        );
        log.write("r1", &ended(2));
        log.write(
            "r1",
            &AuditEvent::MemorySave(MemoryAccess {
                key: Some("k".into()),
                outcome: "ok",
                bytes: Some(80),
                ..MemoryAccess::default()
            }),
        );
        log.write(
            "r1",
            &AuditEvent::IndexStart(IndexStart {
                server: "secret".into(),
                decision: "deny",
                decided_by: Some("rules".into()),
                outcome: "refused",
                tools: None,
                error: Some("forbidden".into()),
            }),
        );
        let got = lines(log.path());
        assert_eq!(got[0]["event"], "call");
        assert_eq!(got[0]["decided_by"], "rules");
        assert!(got[0].get("arguments").is_none());
        assert!(got[0]["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(got[1]["event"], "call-end");
        assert_eq!(got[1]["outcome"], "ok");
        assert!(got[1].get("error").is_none());
        assert_eq!(
            got[2],
            serde_json::json!({"time": got[2]["time"], "run_id": "r1", "event": "memory-save", "key": "k",
                               "outcome": "ok", "bytes": 80})
        );
        assert_eq!(got[3]["event"], "index-start");
        assert_eq!(got[3]["outcome"], "refused");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(log.path()), 0o600);
    }
}
