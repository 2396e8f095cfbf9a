//! Files in: the host directories the user's config file lists under `[inputs]`, copied into every run at its
//! start as `/workspace/in/<name>/` (PROTOCOL.md §2.2). Copied, never mounted: nothing the code does reaches the
//! host's files, and the engine is never asked to share a host path.
//!
//! Only the user's own config file can list a directory (a project's `[inputs]` is ignored). Inside a listed
//! directory, symbolic links and special files are left out rather than followed, so a link cannot bring in
//! what the user did not list. The copy goes to the container as an uncompressed tar after the run frame; it is
//! built again only when a file changed (sizes, times and inodes are compared on every run).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use indicatif::HumanBytes;

/// Mode of the copied files and directories: readable, not writable (the code runs as their owner, so this
/// says "do not change these" rather than enforcing it; the host's files are out of reach either way).
const FILE_MODE: u32 = 0o444;
const DIR_MODE: u32 = 0o555;
/// Bytes a tar header and its padding take per entry.
const TAR_BLOCK: u64 = 512;

/// The `[inputs]` directories and the last archive built from them.
pub struct Inputs {
    dirs: BTreeMap<String, PathBuf>,
    max_bytes: u64,
    cache: Mutex<Option<Built>>,
}

/// An archive and the files it was built from.
struct Built {
    entries: Vec<Entry>,
    archive: Arc<Vec<u8>>,
}

/// One file or directory of the copy, as last seen on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// Its path in the archive: `<name>/<path below the listed directory>`.
    archived: PathBuf,
    /// Where it is on the host.
    source: PathBuf,
    directory: bool,
    size: u64,
    modified: (i64, i64),
    inode: u64,
}

impl Inputs {
    /// The directories of `[inputs]` by name, copied up to `max_bytes` (`MCP_BRIDGE_MAX_INPUT`) in all.
    pub fn new(dirs: BTreeMap<String, PathBuf>, max_bytes: u64) -> Self {
        Inputs {
            dirs,
            max_bytes,
            cache: Mutex::new(None),
        }
    }

    /// The archive a run gets, `None` when no directory is listed. Walks the directories (and reads them when
    /// something changed), so it blocks. An error says which directory is unusable or what is over the limit,
    /// and the fix: a run without the inputs the user listed would be a different run, so it does not start.
    pub fn archive(&self) -> Result<Option<Arc<Vec<u8>>>, String> {
        if self.dirs.is_empty() {
            return Ok(None);
        }
        let entries = self.walk()?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(built) = cache.as_ref()
            && built.entries == entries
        {
            return Ok(Some(built.archive.clone()));
        }
        let archive = Arc::new(self.build(&entries)?);
        *cache = Some(Built {
            entries,
            archive: archive.clone(),
        });
        Ok(Some(archive))
    }

    /// Every directory and regular file below the listed directories, in order, with the archive's size
    /// checked against the limit.
    fn walk(&self) -> Result<Vec<Entry>, String> {
        let mut entries = Vec::new();
        let mut archive_bytes = 0u64;
        for (name, root) in &self.dirs {
            // The listed path itself may be a link: the user chose it. Links below it are not followed.
            let meta = std::fs::metadata(root).map_err(|e| {
                format!(
                    "input '{name}' ({}) cannot be read: {e}; fix or remove it under [inputs] in the bridge's \
                     config file",
                    root.display()
                )
            })?;
            if !meta.is_dir() {
                return Err(format!(
                    "input '{name}' ({}) is not a directory; fix it under [inputs] in the bridge's config file",
                    root.display()
                ));
            }
            let mut pending = vec![(root.clone(), PathBuf::from(name), meta)];
            while let Some((source, archived, meta)) = pending.pop() {
                let directory = meta.is_dir();
                archive_bytes +=
                    TAR_BLOCK + meta.len().div_ceil(TAR_BLOCK) * TAR_BLOCK * u64::from(!directory);
                if archive_bytes > self.max_bytes {
                    return Err(format!(
                        "the [inputs] directories hold more than {} (MCP_BRIDGE_MAX_INPUT), counted up to {}; \
                         list smaller directories or raise MCP_BRIDGE_MAX_INPUT",
                        HumanBytes(self.max_bytes),
                        source.display()
                    ));
                }
                entries.push(Entry {
                    archived: archived.clone(),
                    source: source.clone(),
                    directory,
                    size: if directory { 0 } else { meta.len() },
                    modified: (meta.mtime(), meta.mtime_nsec()),
                    inode: meta.ino(),
                });
                if !directory {
                    continue;
                }
                let mut children = Vec::new();
                let listing = std::fs::read_dir(&source)
                    .map_err(|e| format!("input '{name}': reading {}: {e}", source.display()))?;
                for child in listing {
                    let child = child.map_err(|e| {
                        format!("input '{name}': reading {}: {e}", source.display())
                    })?;
                    let meta = child
                        .metadata()
                        .map_err(|e| format!("input '{name}': {}: {e}", child.path().display()))?;
                    // DirEntry::metadata does not follow links: links and special files are left out.
                    if meta.is_dir() || meta.is_file() {
                        children.push((child.path(), archived.join(child.file_name()), meta));
                    }
                }
                // Popped from the end: reversed, so the archive lists them by name.
                children.sort_by(|a, b| b.1.cmp(&a.1));
                pending.extend(children);
            }
        }
        Ok(entries)
    }

    /// The tar of `entries`: directories 0555, files 0444, their times kept.
    fn build(&self, entries: &[Entry]) -> Result<Vec<u8>, String> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(u64::try_from(entry.modified.0).unwrap_or(0));
            let appended = if entry.directory {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(DIR_MODE);
                header.set_size(0);
                builder.append_data(&mut header, &entry.archived, std::io::empty())
            } else {
                let data = read(&entry.source)?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(FILE_MODE);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, &entry.archived, data.as_slice())
            };
            appended.map_err(|e| format!("copying {}: {e}", entry.source.display()))?;
        }
        let archive = builder
            .into_inner()
            .map_err(|e| format!("finishing the inputs' archive: {e}"))?;
        // The walk counted a header per entry; long names take more, and files may have grown since.
        if archive.len() as u64 > self.max_bytes + 2 * TAR_BLOCK {
            return Err(format!(
                "the copy of the [inputs] directories came to {}, more than {} (MCP_BRIDGE_MAX_INPUT); list \
                 smaller directories or raise MCP_BRIDGE_MAX_INPUT",
                HumanBytes(archive.len() as u64),
                HumanBytes(self.max_bytes)
            ));
        }
        Ok(archive)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("copying {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(archive: &[u8]) -> Vec<(String, u32, String)> {
        let mut archive = tar::Archive::new(archive);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let path = entry.path().unwrap().display().to_string();
                let mode = entry.header().mode().unwrap();
                let mut text = String::new();
                std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
                (path, mode, text)
            })
            .collect()
    }

    #[test]
    fn copies_files_and_directories_but_no_links() {
        let dir = tempfile::TempDir::new().unwrap();
        let data = dir.path().join("data");
        let secret = dir.path().join("secret");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::create_dir_all(&secret).unwrap();
        std::fs::write(data.join("a.csv"), "a,b\n").unwrap();
        std::fs::write(data.join("sub/b.txt"), "b").unwrap();
        std::fs::write(secret.join("key"), "hidden").unwrap();
        std::os::unix::fs::symlink(&secret, data.join("link-to-dir")).unwrap();
        std::os::unix::fs::symlink(secret.join("key"), data.join("link-to-file")).unwrap();
        let inputs = Inputs::new(BTreeMap::from([("sales".into(), data.clone())]), 1 << 20);
        let archive = inputs.archive().unwrap().unwrap();
        assert_eq!(
            listed(&archive),
            [
                ("sales".to_string(), DIR_MODE, String::new()),
                ("sales/a.csv".to_string(), FILE_MODE, "a,b\n".to_string()),
                ("sales/sub".to_string(), DIR_MODE, String::new()),
                ("sales/sub/b.txt".to_string(), FILE_MODE, "b".to_string()),
            ]
        );
        // Unchanged: the same archive; a changed file: a new one.
        assert!(Arc::ptr_eq(&archive, &inputs.archive().unwrap().unwrap()));
        std::fs::write(data.join("a.csv"), "a,b\n1,2\n").unwrap();
        let rebuilt = inputs.archive().unwrap().unwrap();
        assert!(!Arc::ptr_eq(&archive, &rebuilt));
        assert_eq!(listed(&rebuilt)[1].2, "a,b\n1,2\n");
    }

    #[test]
    fn unusable_or_too_large_inputs_are_errors_that_say_the_fix() {
        let dir = tempfile::TempDir::new().unwrap();
        let missing = Inputs::new(
            BTreeMap::from([("x".into(), dir.path().join("gone"))]),
            1 << 20,
        );
        let error = missing.archive().unwrap_err();
        assert!(
            error.contains("input 'x'") && error.contains("[inputs]"),
            "{error}"
        );
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let file = Inputs::new(
            BTreeMap::from([("f".into(), dir.path().join("file"))]),
            1 << 20,
        );
        assert!(file.archive().unwrap_err().contains("not a directory"));
        std::fs::create_dir(dir.path().join("big")).unwrap();
        std::fs::write(dir.path().join("big/blob"), vec![0u8; 4096]).unwrap();
        let big = Inputs::new(
            BTreeMap::from([("big".into(), dir.path().join("big"))]),
            2048,
        );
        let error = big.archive().unwrap_err();
        assert!(error.contains("MCP_BRIDGE_MAX_INPUT"), "{error}");
        assert!(Inputs::new(BTreeMap::new(), 0).archive().unwrap().is_none());
    }
}
