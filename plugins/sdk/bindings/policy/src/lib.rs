//! The bindings of the `policy-plugin` world of WIT 0.2.0, for `mcp-bridge-plugin-sdk`: use the SDK, not this.
//!
//! Each world has a crate of its own because the worlds share the `plugin` interface, whose export glue
//! wit-bindgen can define only once per crate. `pub_export_macro` keeps this crate's own type information to the
//! world's imports, so linking all three into a component adds no exports: the plugin's register macro emits the
//! one world it implements.

wit_bindgen::generate!({
    world: "policy-plugin",
    path: "../../../../wit/since_v0.2.0",
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "mcp_bridge_plugin_sdk::__private::policy",
});
