//! Host bindings of the three plugin worlds, generated from `wit/` in one place.

/// `policy-plugin`: metadata, configure, check-run, check-call.
pub mod policy {
    wasmtime::component::bindgen!({ world: "policy-plugin", path: "wit/since_v0.1.0" });
}

/// `encoder-plugin`: metadata, configure, encode.
pub mod encoder {
    wasmtime::component::bindgen!({ world: "encoder-plugin", path: "wit/since_v0.1.0" });
}

/// `discovery-plugin`: metadata, configure, wanted-files, parse.
pub mod discovery {
    wasmtime::component::bindgen!({ world: "discovery-plugin", path: "wit/since_v0.1.0" });
}

/// The exported interface names that identify each world (the plugin's kind).
pub const POLICY_EXPORT: &str = "mcp-bridge:plugin/policy@0.1.0";
/// See [`POLICY_EXPORT`].
pub const ENCODER_EXPORT: &str = "mcp-bridge:plugin/encoder@0.1.0";
/// See [`POLICY_EXPORT`].
pub const DISCOVERY_EXPORT: &str = "mcp-bridge:plugin/discovery@0.1.0";
/// Every plugin exports this one too.
pub const PLUGIN_EXPORT: &str = "mcp-bridge:plugin/plugin@0.1.0";
