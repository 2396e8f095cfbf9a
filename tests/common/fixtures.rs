//! The test-only plugin components (`tests/fixtures`: a policy that misbehaves on demand, a WASI command, a
//! policy built against a future API version), built for wasm32-wasip2 once per test process; and the
//! built-ins' 0.1.0 builds kept in `tests/fixtures/v0_1` as the compatibility fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The built fixture component `name` (e.g. `fixture_misbehaving.wasm`).
pub fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = root.join("target/test-fixtures");
        let status = Command::new(env!("CARGO"))
            .current_dir(root.join("tests/fixtures"))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("running cargo for the fixtures");
        assert!(
            status.success(),
            "building tests/fixtures for wasm32-wasip2 failed"
        );
        target.join("wasm32-wasip2/release")
    });
    dir.join(name)
}

/// A built-in plugin as it was built against API 0.1.0 (`tests/fixtures/v0_1/<name>.wasm`).
pub fn v0_1_builtin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v0_1")
        .join(format!("{name}.wasm"))
}
