//! File plumbing for the store: reads bounded in size, and the directory scans the caps and the quota need.
//! Private directories and whole-file replacement are [`crate::state`]'s.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Why a bounded read gave nothing.
#[derive(Debug)]
pub enum ReadError {
    /// There is no such file.
    NotFound,
    /// The file is larger than the bound (its size).
    TooLarge(u64),
    /// Any other failure.
    Io(std::io::Error),
}

/// The whole of `path`, if it is at most `max` bytes.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(e),
    })?;
    let size = file.metadata().map_err(ReadError::Io)?.len();
    if size > max {
        return Err(ReadError::TooLarge(size));
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // The file may grow between the size check and the read: `take` keeps the bound anyway.
    file.take(max + 1)
        .read_to_end(&mut data)
        .map_err(ReadError::Io)?;
    if data.len() as u64 > max {
        return Err(ReadError::TooLarge(data.len() as u64));
    }
    Ok(data)
}

/// The files directly in `dir` whose extension is `ext`: (stem, path, size), sorted by stem. A missing
/// directory has none.
pub fn files_with_extension(dir: &Path, ext: &str) -> Vec<(String, PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let path = entry.path();
            if path.extension().is_none_or(|x| x != ext) {
                return None;
            }
            let stem = path.file_stem()?.to_str()?.to_string();
            let metadata = entry.metadata().ok()?;
            metadata
                .is_file()
                .then(|| (stem, path.clone(), metadata.len()))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The size of `path`, or 0 when it does not exist.
pub fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Counts the bytes written through it and fails once they pass `limit`, so measuring a value's JSON size
/// costs no allocation and stops early.
pub struct SizeCounter {
    /// Bytes seen so far.
    pub bytes: u64,
    limit: u64,
}

impl SizeCounter {
    /// A counter that gives up past `limit` bytes.
    pub fn new(limit: u64) -> Self {
        SizeCounter { bytes: 0, limit }
    }
}

impl Write for SizeCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len() as u64;
        if self.bytes > self.limit {
            return Err(std::io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The compact JSON size of `value`, or `Err(bytes counted so far)` once it passes `limit`.
pub fn json_size(value: &impl serde::Serialize, limit: u64) -> Result<u64, u64> {
    let mut counter = SizeCounter::new(limit);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => Ok(counter.bytes),
        Err(_) => Err(counter.bytes),
    }
}
