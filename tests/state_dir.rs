//! The state directory full or read-only, for real: a small tmpfs mounted as the bridge's state directory, filled
//! to the last byte or remounted read-only between runs. Runs and tool calls go on; a store write fails in the
//! sandbox saying why; the audit log never holds half a line and, once it can be written again, counts the
//! lines it lost. Mounting needs root (as the Docker engine does); elsewhere these tests skip loudly.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::project::{Project, ok};

/// A tmpfs mounted at a directory for the length of a test.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `path`; `None` (with a loud message) where mounting is not allowed, which
    /// under `CI=true` fails the test instead.
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let options = format!("size={size},mode=0700");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(path)
            .status();
        if status.as_ref().is_ok_and(|s| s.success()) {
            return Some(Tmpfs(path.to_path_buf()));
        }
        if std::env::var_os("CI").is_some() {
            panic!("mounting a tmpfs failed ({status:?}): these tests need root, as CI has");
        }
        eprintln!(
            "\n*** SKIPPED: mounting a tmpfs needs root (state directory full / read-only tests) ***\n"
        );
        None
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount {mode} failed");
    }

    /// Writes a file until the filesystem has no byte left; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 4096];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => {
                    assert_eq!(error.raw_os_error(), Some(28), "{error}");
                    break;
                }
            }
        }
        // One byte at a time: whatever is left in the last page, too.
        while file.write(&[0]).is_ok_and(|n| n == 1) {}
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The project's stub, with arguments in the audit log: a `call` line is then longer than the slack a full
/// filesystem may still have in the log's last page, so an append is cut short for real.
fn project() -> Project {
    Project::stub().with_config("[audit]\nlog-arguments = true\n")
}

/// Calls the stub and saves a memory entry, printing what each did.
const CALL_AND_SAVE: &str = r#"
print((await mcp_stub.echo(text="called" + " " * 6000)).text.strip())
try:
    save_memory("note", "x" * 2000)
    print("saved")
except Exception as exc:
    print("not saved:", type(exc).__name__, str(exc).rsplit(": ", 1)[-1])
"#;

/// Every line of the audit log parses (no half-written line), and the `lines-lost` lines.
fn lost_lines(project: &Project) -> Vec<serde_json::Value> {
    // `audit_lines` fails the test on a line that is not whole JSON.
    project.audit_events("lines-lost")
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_full_state_directory_fails_only_store_writes_and_the_audit_log_counts_what_it_lost() {
    common::engine().await;
    let project = project();
    let Some(state) = Tmpfs::mount(&project.path("state"), "1m") else {
        return;
    };
    let bridge = project.bridge();
    assert_eq!(
        ok(&bridge, &["stub"], CALL_AND_SAVE).await,
        ["called", "saved"]
    );

    let filler = state.fill();
    assert_eq!(
        ok(&bridge, &["stub"], CALL_AND_SAVE).await,
        [
            "called",
            "not saved: MCPError No space left on device (os error 28)"
        ]
    );

    std::fs::remove_file(filler).unwrap();
    assert_eq!(
        ok(&bridge, &["stub"], CALL_AND_SAVE).await,
        ["called", "saved"]
    );
    // The full disk's run lost at least its long `call` line (a shorter line may still have fitted in the
    // last page, writing the gap's line before it), and said so.
    let lost = lost_lines(&project);
    assert!(!lost.is_empty(), "no lines-lost line");
    assert!(
        lost.iter().all(|gap| gap["lines"].as_u64().unwrap() >= 1
            && gap["error"]
                .as_str()
                .unwrap()
                .contains("No space left on device")),
        "{lost:?}"
    );
    // The last run's lines are all there, after every gap.
    let events: Vec<String> = project
        .audit_lines()
        .iter()
        .map(|line| line["event"].as_str().unwrap().to_string())
        .collect();
    let last_gap = events.iter().rposition(|e| e == "lines-lost").unwrap();
    assert_eq!(
        events[events.len() - 3..],
        ["call", "call-end", "memory-save"],
        "{events:?}"
    );
    assert!(last_gap < events.len() - 3, "{events:?}");
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_read_only_state_directory_keeps_reads_and_runs_working_and_says_why_writes_fail() {
    common::engine().await;
    let project = project();
    let Some(state) = Tmpfs::mount(&project.path("state"), "4m") else {
        return;
    };
    // A first bridge saves an entry, then ends: nothing holds a file open for writing, so the mount can turn
    // read-only (as a disk the kernel remounted read-only after an error, or a read-only home).
    let first = project.bridge();
    assert_eq!(
        ok(&first, &["stub"], CALL_AND_SAVE).await,
        ["called", "saved"]
    );
    common::finish(&first).await;
    drop(first);
    state.remount("ro");

    let bridge = project.bridge();
    let out = ok(
        &bridge,
        &["stub"],
        &format!("{CALL_AND_SAVE}\nprint(len(load_memory('note')))"),
    )
    .await;
    assert_eq!(
        out,
        [
            "called",
            "not saved: MCPError Read-only file system (os error 30)",
            "2000"
        ]
    );

    state.remount("rw");
    assert_eq!(
        ok(&bridge, &["stub"], CALL_AND_SAVE).await,
        ["called", "saved"]
    );
    let lost = lost_lines(&project);
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert!(
        lost[0]["error"]
            .as_str()
            .unwrap()
            .contains("Read-only file system"),
        "{lost:?}"
    );
    assert!(lost[0]["lines"].as_u64().unwrap() >= 3, "{lost:?}");
    common::finish(&bridge).await;
}
