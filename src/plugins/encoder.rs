//! The plugin host's side of the response seam: an encoder plugin, by name, as a
//! [`ResponseEncoder`](crate::response::encode::ResponseEncoder).

use std::sync::Arc;

use anyhow::Result;

use super::PluginHost;
use crate::response::Payload;
use crate::response::encode::ResponseEncoder;

/// An encoder plugin of the host, by name.
pub struct PluginEncoder {
    plugins: Arc<PluginHost>,
    name: String,
}

impl PluginEncoder {
    /// The encoder plugin `name` of `plugins` (whether it is loaded is checked when it is used: a missing one
    /// fails like a broken one, into the JSON fallback).
    pub fn new(plugins: Arc<PluginHost>, name: String) -> Self {
        PluginEncoder { plugins, name }
    }
}

impl ResponseEncoder for PluginEncoder {
    fn name(&self) -> &str {
        &self.name
    }

    fn encode(&self, payload: &Payload) -> Result<String> {
        self.plugins
            .encode(&self.name, payload)
            .map(|(text, _mime)| text)
            .map_err(anyhow::Error::msg)
    }
}
