//! The precompile cache: compiling a component takes 50 ms to seconds, loading a precompiled one about a
//! millisecond. Entries are keyed by the component's hash, the wasmtime version and the engine's settings, and
//! carry a checksum: a corrupt or tampered entry is recompiled, never trusted (deserialising is `unsafe`
//! precisely because wasmtime trusts the bytes).
//!
//! An entry is two files: `<key>.cwasm`, the serialised component exactly as wasmtime wrote it, so that
//! [`Component::deserialize_file`] maps it instead of copying it, and `<key>.sum`, its XXH3-128 checksum plus the
//! file's identity (device, inode, size, mtime, ctime) when it was last verified. Hashing a 35 MB entry (a
//! componentize-py plugin) costs 5 ms, more than the rest of the load, so like git's index the cache re-hashes
//! only a file whose identity changed: any write to it moves its ctime, which user space cannot set back. The
//! same memo (`sources/`) spares re-reading and re-hashing an unchanged plugin file to find its key.
//!
//! XXH3 rather than a cryptographic hash: it guards against truncation, partial writes and edits; whoever can
//! write the cache directory could write any code into it anyway, so a cryptographic hash would buy nothing.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use wasmtime::Engine;
use wasmtime::component::Component;
use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheOutcome {
    /// Loaded from a valid cache entry.
    Hit,
    /// Compiled (no entry, or no cache directory) and stored.
    Miss,
    /// An entry existed but failed its checksum or did not load; compiled again and replaced.
    Corrupt,
}

/// A directory of precompiled components, or none (always compile).
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

/// Where a component's bytes come from.
pub enum ComponentSource {
    /// Embedded in the binary (the built-ins).
    Embedded(&'static [u8]),
    /// A plugin file, read only when its key is not memoised or it must be compiled.
    File(PathBuf),
}

impl ComponentCache {
    /// A cache in `dir` (created on first store); `None` disables caching.
    pub fn new(dir: Option<PathBuf>) -> Self {
        ComponentCache { dir }
    }

    /// The component from `source`, from the cache when a valid entry exists.
    pub fn load(
        &self,
        engine: &Engine,
        source: &ComponentSource,
    ) -> Result<(Component, CacheOutcome)> {
        let mut bytes = SourceBytes::new(source);
        let Some(dir) = &self.dir else {
            return Ok((compile(engine, bytes.get()?)?, CacheOutcome::Miss));
        };
        let content_hash = match source {
            ComponentSource::Embedded(embedded) => xxh3_128(embedded),
            ComponentSource::File(path) => memoised_hash(dir, path, &mut bytes)?,
        };
        let entry = EntryPaths::new(dir, &key(engine, content_hash));
        let outcome = match entry.verify() {
            Verified::Valid => {
                // SAFETY: the file was written by `store` below and matches its recorded checksum (or has not
                // been written since it did), so it is what this engine (same wasmtime version and settings,
                // part of the key) serialised. Entries are replaced by rename, never rewritten in place.
                match unsafe { Component::deserialize_file(engine, &entry.code) } {
                    Ok(component) => return Ok((component, CacheOutcome::Hit)),
                    Err(error) => {
                        tracing::warn!(entry = %entry.code.display(), "cached component did not load: {error:#}");
                        CacheOutcome::Corrupt
                    }
                }
            }
            Verified::Missing => CacheOutcome::Miss,
            Verified::Corrupt => {
                tracing::warn!(entry = %entry.code.display(), "cache entry failed its checksum; recompiling");
                CacheOutcome::Corrupt
            }
        };
        let serialized = engine
            .precompile_component(bytes.get()?)
            .map_err(anyhow::Error::from)
            .context("compiling the component")?;
        if let Err(error) = entry.store(&serialized) {
            tracing::warn!(entry = %entry.code.display(), "could not write the component cache: {error:#}");
        }
        // SAFETY: produced just now by this engine.
        let component =
            unsafe { Component::deserialize(engine, &serialized) }.map_err(anyhow::Error::from)?;
        Ok((component, outcome))
    }
}

/// A source's bytes, read from disk at most once and only when needed.
struct SourceBytes<'a> {
    source: &'a ComponentSource,
    read: Option<Vec<u8>>,
}

impl<'a> SourceBytes<'a> {
    fn new(source: &'a ComponentSource) -> Self {
        SourceBytes { source, read: None }
    }

    fn get(&mut self) -> Result<&[u8]> {
        match self.source {
            ComponentSource::Embedded(bytes) => Ok(bytes),
            ComponentSource::File(path) => {
                if self.read.is_none() {
                    let bytes = std::fs::read(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    self.read = Some(bytes);
                }
                Ok(self.read.as_deref().unwrap_or_default())
            }
        }
    }
}

/// The content hash of the plugin file at `path`, from the memo when the file is unchanged since it was hashed.
fn memoised_hash(dir: &Path, path: &Path, bytes: &mut SourceBytes) -> Result<u128> {
    let memo = dir.join("sources").join(format!(
        "{:016x}",
        xxh3_64(path.as_os_str().as_encoded_bytes())
    ));
    let identity = identity(path).with_context(|| format!("reading {}", path.display()))?;
    if let Some(hash) = read_record(&memo)
        .and_then(|(hash, recorded)| (recorded == identity).then_some(hash))
        .and_then(|hash| u128::from_str_radix(&hash, 16).ok())
    {
        return Ok(hash);
    }
    let hash = xxh3_128(bytes.get()?);
    if let Err(error) = std::fs::create_dir_all(dir.join("sources"))
        .map_err(anyhow::Error::from)
        .and_then(|()| write_record(&memo, &format!("{hash:032x}"), &identity))
    {
        tracing::warn!(memo = %memo.display(), "could not write the component cache: {error:#}");
    }
    Ok(hash)
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component> {
    Component::new(engine, bytes)
        .map_err(anyhow::Error::from)
        .context("compiling the component")
}

/// `<xxh3-128 of the component>-<hash of wasmtime version + engine settings + bridge version>`.
fn key(engine: &Engine, content_hash: u128) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    env!("CARGO_PKG_VERSION").hash(&mut engine_hash);
    format!("{content_hash:032x}-{:016x}", engine_hash.finish())
}

enum Verified {
    Valid,
    Missing,
    Corrupt,
}

/// The two files of one entry.
struct EntryPaths {
    code: PathBuf,
    checksum: PathBuf,
}

impl EntryPaths {
    fn new(dir: &Path, key: &str) -> Self {
        EntryPaths {
            code: dir.join(format!("{key}.cwasm")),
            checksum: dir.join(format!("{key}.sum")),
        }
    }

    /// Checks the entry: unchanged since it was last verified, or matching its checksum (read through a
    /// mapping, no copy; the new identity is then recorded).
    fn verify(&self) -> Verified {
        let Some((recorded, verified_identity)) = read_record(&self.checksum) else {
            return if self.checksum.exists() {
                Verified::Corrupt
            } else {
                Verified::Missing
            };
        };
        let Ok(identity) = identity(&self.code) else {
            return Verified::Missing;
        };
        if identity == verified_identity {
            return Verified::Valid;
        }
        let Ok(file) = std::fs::File::open(&self.code) else {
            return Verified::Missing;
        };
        // SAFETY: a read-only mapping of a file only ever replaced by rename (see `store`).
        let Ok(mapped) = (unsafe { memmap2::Mmap::map(&file) }) else {
            return Verified::Corrupt;
        };
        if recorded != checksum(&mapped) {
            return Verified::Corrupt;
        }
        // Verified by content: remember this identity so the next load skips the hash.
        let _ = write_record(&self.checksum, &recorded, &identity);
        Verified::Valid
    }

    /// Writes the code, then its record; each through a temporary file and a rename, so a concurrent reader
    /// never sees half a file (the temporary name is unique per writer).
    fn store(&self, serialized: &[u8]) -> Result<()> {
        let dir = self.code.parent().context("cache path has a parent")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        write_by_rename(&self.code, serialized)?;
        let identity = identity(&self.code).context("reading the written entry")?;
        write_record(&self.checksum, &checksum(serialized), &identity)
    }
}

/// What identifies one version of a file without reading it: a rewrite, truncation or replacement changes it.
fn identity(path: &Path) -> std::io::Result<String> {
    let m = std::fs::metadata(path)?;
    Ok(format!(
        "{}:{}:{}:{}.{}:{}.{}",
        m.dev(),
        m.ino(),
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    ))
}

/// A record is one line, `<hash> <identity> <xxh3-64 of both>`, so a damaged record reads as absent.
fn read_record(path: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut fields = text.trim_end().split(' ');
    let (hash, identity, seal) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || seal != record_seal(hash, identity) {
        return None;
    }
    Some((hash.to_string(), identity.to_string()))
}

fn write_record(path: &Path, hash: &str, identity: &str) -> Result<()> {
    let seal = record_seal(hash, identity);
    write_by_rename(path, format!("{hash} {identity} {seal}\n").as_bytes())
}

fn record_seal(hash: &str, identity: &str) -> String {
    format!("{:016x}", xxh3_64(format!("{hash} {identity}").as_bytes()))
}

fn checksum(bytes: &[u8]) -> String {
    format!("{:032x}", xxh3_128(bytes))
}

fn write_by_rename(path: &Path, data: &[u8]) -> Result<()> {
    static WRITERS: AtomicU64 = AtomicU64::new(0);
    let writer = WRITERS.fetch_add(1, Ordering::Relaxed);
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp{}-{writer}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, data).with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("renaming to {}", path.display()))
}
