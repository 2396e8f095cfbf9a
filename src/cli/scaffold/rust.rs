//! The Rust template: a crate on the Rust plugin SDK (`plugins/sdk`), which every project vendors since it is not
//! on crates.io.

use super::{PluginKind, Template};

pub(super) const COMMON: &[Template] = &[
    template!("Cargo.toml", "rust/common/Cargo.toml"),
    template!("README.md", "rust/common/README.md"),
    template!(".gitignore", "rust/common/gitignore"),
    // Where the vendored SDK's `generate!` looks for the WIT: `../../wit/since_v0.2.0` from its crate.
    verbatim!(
        "vendor/mcp-bridge/wit/since_v0.2.0/plugin.wit",
        "wit/since_v0.2.0/plugin.wit"
    ),
];

/// The Rust plugin SDK (`plugins/sdk`), vendored into every Rust project as `vendor/mcp-bridge/plugins/sdk/`
/// since it is not on crates.io. Every file of the crate: when the SDK gains or loses one, change this list
/// (the test `the_vendored_sdk_is_the_whole_crate` says so).
pub(super) const SDK: &[Template] = &[
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/Cargo.toml",
        "plugins/sdk/Cargo.toml"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/bindings/discovery/Cargo.toml",
        "plugins/sdk/bindings/discovery/Cargo.toml"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/bindings/discovery/src/lib.rs",
        "plugins/sdk/bindings/discovery/src/lib.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/bindings/encoder/Cargo.toml",
        "plugins/sdk/bindings/encoder/Cargo.toml"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/bindings/encoder/src/lib.rs",
        "plugins/sdk/bindings/encoder/src/lib.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/bindings/policy/Cargo.toml",
        "plugins/sdk/bindings/policy/Cargo.toml"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/bindings/policy/src/lib.rs",
        "plugins/sdk/bindings/policy/src/lib.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/src/component.rs",
        "plugins/sdk/src/component.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/src/config.rs",
        "plugins/sdk/src/config.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/src/discovery.rs",
        "plugins/sdk/src/discovery.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/src/encoder.rs",
        "plugins/sdk/src/encoder.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/src/instance.rs",
        "plugins/sdk/src/instance.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/src/lib.rs",
        "plugins/sdk/src/lib.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/src/log.rs",
        "plugins/sdk/src/log.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/src/macros.rs",
        "plugins/sdk/src/macros.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/src/policy.rs",
        "plugins/sdk/src/policy.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/src/render.rs",
        "plugins/sdk/src/render.rs"
    ),
    verbatim!(
        "vendor/mcp-bridge/plugins/sdk/src/tests.rs",
        "plugins/sdk/src/tests.rs"
    ),
];

pub(super) fn lib(kind: PluginKind) -> Template {
    match kind {
        PluginKind::Policy => template!("src/lib.rs", "rust/policy/lib.rs"),
        PluginKind::Encoder => template!("src/lib.rs", "rust/encoder/lib.rs"),
        PluginKind::Discovery => template!("src/lib.rs", "rust/discovery/lib.rs"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::SDK;
    use crate::cli::scaffold::tests::walk;

    #[test]
    fn the_vendored_sdk_is_the_whole_crate() {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/sdk");
        let mut on_disk: Vec<String> = walk(&sdk)
            .iter()
            .filter_map(|path| path.strip_prefix(&sdk).ok())
            .map(|path| path.display().to_string())
            .collect();
        let mut embedded: Vec<String> = SDK
            .iter()
            .filter_map(|t| t.path.strip_prefix("vendor/mcp-bridge/plugins/sdk/"))
            .map(str::to_string)
            .collect();
        on_disk.sort();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "plugins/sdk changed: update SDK in src/cli/scaffold.rs"
        );
    }
}
