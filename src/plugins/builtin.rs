//! The built-in plugins, built from `plugins/*` by `build.rs` and embedded in the binary.

/// (file name, component bytes), in load order.
pub const BUILTINS: &[(&str, &[u8])] = &[
    (
        "compact",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/compact.wasm")),
    ),
    (
        "toon",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/toon.wasm")),
    ),
    (
        "json",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/json.wasm")),
    ),
    (
        "auto",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/auto.wasm")),
    ),
    (
        "config-files",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/config-files.wasm")),
    ),
    (
        "rules",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/rules.wasm")),
    ),
    (
        "secrets",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/secrets.wasm")),
    ),
];

/// Built-ins that stay off unless the config file enables them: a policy with no rules would only add cost, and
/// `secrets` changes what calls and results get through, which a user should choose.
pub const OFF_BY_DEFAULT: &[&str] = &["rules", "secrets"];
