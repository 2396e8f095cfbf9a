//! The component glue the built-in encoders share: metadata from the crate's Cargo.toml, and the WIT exports
//! `configure` and `encode` calling the crate's own `configure(&str)` and `render(&str)`. Included by path into
//! `compact`, `toon` and `auto`:
//!
//! ```ignore
//! #[path = "../../shared/encoder_component.rs"]
//! #[macro_use]
//! mod encoder_component;
//! encoder_component!(Toon, "text/markdown");
//! ```

/// Defines the wasm32-only `component` module exporting the `encoder-plugin` world as `$plugin`, whose texts
/// have MIME type `$mime`. Expects `NAME`, `configure` and `render` at the crate root.
macro_rules! encoder_component {
    ($plugin:ident, $mime:literal) => {
        #[cfg(target_arch = "wasm32")]
        mod component {
            wit_bindgen::generate!({ world: "encoder-plugin", path: "../../wit/since_v0.1.0" });

            use exports::mcp_bridge::plugin::encoder::{Encoded, Guest as Encoder};
            use exports::mcp_bridge::plugin::plugin::Guest as Plugin;
            use mcp_bridge::plugin::types::Info;

            struct $plugin;

            impl Plugin for $plugin {
                fn metadata() -> Info {
                    Info {
                        name: super::NAME.into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        description: env!("CARGO_PKG_DESCRIPTION").into(),
                    }
                }

                fn configure(config: String) -> Result<(), String> {
                    super::configure(&config)
                }
            }

            impl Encoder for $plugin {
                fn encode(payload: String) -> Result<Encoded, String> {
                    Ok(Encoded {
                        text: super::render(&payload)?,
                        mime_type: $mime.into(),
                    })
                }
            }

            export!($plugin);
        }
    };
}
