//! Builds the built-in plugins (`plugins/*`, guest crates) for `wasm32-wasip2` so the binary can embed them:
//! plain `cargo build` yields a complete bridge. They get their own target directory, so this nested cargo
//! never waits on the outer build's lock.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The built-in plugins: crate directory under `plugins/` = file name of the embedded component.
const BUILTINS: &[&str] = &[
    "compact",
    "toon",
    "json",
    "auto",
    "config-files",
    "rules",
    "secrets",
];

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=wit");
    println!("cargo:rerun-if-changed=plugins/Cargo.toml");
    println!("cargo:rerun-if-changed=plugins/Cargo.lock");
    println!("cargo:rerun-if-changed=plugins/sdk");
    println!("cargo:rerun-if-changed=plugins/toon-render");
    for name in BUILTINS {
        println!("cargo:rerun-if-changed=plugins/{name}");
    }

    // Relative relocations packed (DT_RELR, glibc >= 2.36, binutils >= 2.38; an older ld ignores the option
    // with a warning): the loader reads a few KB instead of the 1.6 MB `.rela.dyn` at every start, all of which
    // stayed resident (BENCHMARKS.md, idle RSS). The binary stays position-independent (ASLR).
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bin=bridge=-Wl,-z,pack-relative-relocs");
    }

    let target_dir = guest_target_dir(&root);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .current_dir(root.join("plugins"))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    for name in BUILTINS {
        command.args(["-p", &format!("mcp-bridge-plugin-{name}")]);
    }
    // The outer build's flags and wrappers are for the host; the guests build with their own profile.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .expect("running cargo for the built-in plugins");
    if !status.success() {
        let installed = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.trim() == "wasm32-wasip2")
            })
            .unwrap_or(false);
        if !installed {
            panic!(
                "building the built-in plugins needs the wasm32-wasip2 target: run `rustup target add wasm32-wasip2`"
            );
        }
        panic!(
            "building the built-in plugins (plugins/*) for wasm32-wasip2 failed; see the errors above"
        );
    }

    let built = target_dir.join("wasm32-wasip2").join("release");
    let embedded = out.join("plugins");
    std::fs::create_dir_all(&embedded).expect("creating OUT_DIR/plugins");
    for name in BUILTINS {
        let file = format!("mcp_bridge_plugin_{}.wasm", name.replace('-', "_"));
        copy(&built.join(&file), &embedded.join(format!("{name}.wasm")));
    }
}

/// `<target dir>/wasm-plugins/<checkout>`: next to the host build, kept across builds so guests rebuild
/// incrementally. One per checkout (a hash of its path): checkouts sharing a `CARGO_TARGET_DIR` (git worktrees)
/// would otherwise overwrite each other's `release/*.wasm`, and a build whose guests were fresh would embed the
/// other checkout's.
fn guest_target_dir(root: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let base = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    root.hash(&mut hasher);
    base.join("wasm-plugins")
        .join(format!("{:016x}", hasher.finish()))
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
}
