//! Files in the bridge's state directory (`MCP_BRIDGE_STATE_DIR`: the audit log, memory entries, saved tools,
//! trusted projects): directories created 0700 and files 0600 from the start (never chmod-ed afterwards), and
//! whole files replaced through a rename, so a reader never sees half of one. Also the timestamps they carry.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of every directory created in the state directory: only the bridge's user may list or enter it.
const DIR_MODE: u32 = 0o700;

/// Mode of every file written there: only the bridge's user may read it.
const FILE_MODE: u32 = 0o600;

/// Makes temporary names unique within this process (the pid makes them unique across processes).
static TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// Creates `dir` and any missing parents with mode 0700 (the umask may only narrow it).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

/// Replaces `path` with `data`: written to a new 0600 file next to it, then renamed over it, so a reader never
/// sees half a file and a crash never leaves a truncated one.
pub fn replace_file(path: &Path, data: &[u8]) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("could not write {}: {e}", path.display());
    let dir = path
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", path.display()))?;
    create_private_dir(dir).map_err(fail)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A leading dot and a `.tmp` extension: never mistaken for an entry (`*.json`) or a tool (`*.py`).
    let temporary = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMPORARY.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&temporary)?;
        file.write_all(data)?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map_err(fail)
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
