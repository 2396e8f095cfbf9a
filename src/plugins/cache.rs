//! The precompile cache: compiling a component takes 50 ms to seconds, loading a precompiled one about a
//! millisecond. Entries are keyed by the component's hash, the wasmtime version and the engine's settings, and
//! carry a checksum: a corrupt or tampered entry is recompiled, never trusted (deserialising is `unsafe`
//! precisely because wasmtime trusts the bytes).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

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

impl ComponentCache {
    /// A cache in `dir` (created on first store); `None` disables caching.
    pub fn new(dir: Option<PathBuf>) -> Self {
        ComponentCache { dir }
    }

    /// The component for `bytes`, from the cache when a valid entry exists.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> Result<(Component, CacheOutcome)> {
        let Some(dir) = &self.dir else {
            return Ok((compile(engine, bytes)?, CacheOutcome::Miss));
        };
        let path = dir.join(format!("{}.cwasm", key(engine, bytes)));
        let outcome = match read_verified(&path) {
            Entry::Valid(serialized) => {
                // SAFETY: the bytes were written by `store` below and match their recorded SHA-256, so they are
                // what this engine (same wasmtime version and settings, part of the key) serialised.
                match unsafe { Component::deserialize(engine, &serialized) } {
                    Ok(component) => return Ok((component, CacheOutcome::Hit)),
                    Err(error) => {
                        tracing::warn!(entry = %path.display(), "cached component did not load: {error:#}");
                        CacheOutcome::Corrupt
                    }
                }
            }
            Entry::Missing => CacheOutcome::Miss,
            Entry::Corrupt => {
                tracing::warn!(entry = %path.display(), "cache entry failed its checksum; recompiling");
                CacheOutcome::Corrupt
            }
        };
        let serialized = engine
            .precompile_component(bytes)
            .map_err(anyhow::Error::from)
            .context("compiling the component")?;
        if let Err(error) = store(&path, &serialized) {
            tracing::warn!(entry = %path.display(), "could not write the component cache: {error:#}");
        }
        // SAFETY: produced just now by this engine.
        let component =
            unsafe { Component::deserialize(engine, &serialized) }.map_err(anyhow::Error::from)?;
        Ok((component, outcome))
    }
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component> {
    Component::new(engine, bytes)
        .map_err(anyhow::Error::from)
        .context("compiling the component")
}

/// `<sha256 of the component>-<hash of wasmtime version + engine settings>`.
fn key(engine: &Engine, bytes: &[u8]) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    env!("CARGO_PKG_VERSION").hash(&mut engine_hash);
    format!(
        "{}-{:016x}",
        hex(&Sha256::digest(bytes)),
        engine_hash.finish()
    )
}

enum Entry {
    Valid(Vec<u8>),
    Missing,
    Corrupt,
}

/// An entry is `<checksum hex>\n<serialised component>`.
fn read_verified(path: &Path) -> Entry {
    let Ok(data) = std::fs::read(path) else {
        return Entry::Missing;
    };
    let Some(newline) = data.iter().position(|b| *b == b'\n') else {
        return Entry::Corrupt;
    };
    let (recorded, serialized) = (&data[..newline], &data[newline + 1..]);
    if recorded != hex(&Sha256::digest(serialized)).as_bytes() {
        return Entry::Corrupt;
    }
    Entry::Valid(serialized.to_vec())
}

fn store(path: &Path, serialized: &[u8]) -> Result<()> {
    let dir = path.parent().context("cache path has a parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut data = hex(&Sha256::digest(serialized)).into_bytes();
    data.push(b'\n');
    data.extend_from_slice(serialized);
    // Write then rename, so a concurrent reader never sees half an entry; the name is unique per writer.
    static WRITERS: AtomicU64 = AtomicU64::new(0);
    let writer = WRITERS.fetch_add(1, Ordering::Relaxed);
    let temporary = path.with_extension(format!("tmp{}-{writer}", std::process::id()));
    std::fs::write(&temporary, &data)
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
