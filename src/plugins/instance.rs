//! A loaded plugin and its live instance: typed calls under the per-call limits, and re-instantiation after a
//! failure (a store that trapped is not used again).

use std::sync::Mutex;

use wasmtime::Result;
use wasmtime::Store;
use wasmtime::component::Component;

use super::Kind;
use super::bindings::{discovery, encoder, policy};
use super::runtime::{PluginRuntime, PluginState, describe_failure};

/// The world-specific bindings of an instance.
pub enum Bindings {
    /// A policy instance.
    Policy(policy::PolicyPlugin),
    /// An encoder instance.
    Encoder(encoder::EncoderPlugin),
    /// A discovery instance.
    Discovery(discovery::DiscoveryPlugin),
}

/// What `metadata` returned.
#[derive(Debug, Clone)]
pub struct Info {
    /// Unique name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// One line.
    pub description: String,
}

/// An instance and its store.
pub type Live = (Store<PluginState>, Bindings);

/// A compiled, configured plugin, ready for calls.
pub struct LoadedPlugin {
    /// Its metadata name.
    pub name: String,
    /// Its world.
    pub kind: Kind,
    component: Component,
    config_json: String,
    live: Mutex<Option<Live>>,
}

impl LoadedPlugin {
    /// Instantiates `component` as `kind` and returns its metadata with the (unconfigured) instance.
    pub fn probe(
        runtime: &PluginRuntime,
        component: &Component,
        kind: Kind,
        label: &str,
    ) -> Result<(Info, Live)> {
        let mut store = runtime.store(label, kind);
        runtime.arm(&mut store, kind);
        let linker = runtime.linker();
        let (bindings, info) = match kind {
            Kind::Policy => {
                let b = policy::PolicyPlugin::instantiate(&mut store, component, linker)?;
                let i = b.mcp_bridge_plugin_plugin().call_metadata(&mut store)?;
                (Bindings::Policy(b), (i.name, i.version, i.description))
            }
            Kind::Encoder => {
                let b = encoder::EncoderPlugin::instantiate(&mut store, component, linker)?;
                let i = b.mcp_bridge_plugin_plugin().call_metadata(&mut store)?;
                (Bindings::Encoder(b), (i.name, i.version, i.description))
            }
            Kind::Discovery => {
                let b = discovery::DiscoveryPlugin::instantiate(&mut store, component, linker)?;
                let i = b.mcp_bridge_plugin_plugin().call_metadata(&mut store)?;
                (Bindings::Discovery(b), (i.name, i.version, i.description))
            }
        };
        let info = Info {
            name: info.0,
            version: info.1,
            description: info.2,
        };
        Ok((info, (store, bindings)))
    }

    /// Calls `configure` on a live instance: `Err` carries the plugin's own message or the failure.
    pub fn configure(
        runtime: &PluginRuntime,
        live: &mut Live,
        config_json: &str,
    ) -> Result<(), String> {
        let (store, bindings) = live;
        let kind = match bindings {
            Bindings::Policy(_) => Kind::Policy,
            Bindings::Encoder(_) => Kind::Encoder,
            Bindings::Discovery(_) => Kind::Discovery,
        };
        runtime.arm(store, kind);
        let result = match bindings {
            Bindings::Policy(b) => b
                .mcp_bridge_plugin_plugin()
                .call_configure(&mut *store, config_json),
            Bindings::Encoder(b) => b
                .mcp_bridge_plugin_plugin()
                .call_configure(&mut *store, config_json),
            Bindings::Discovery(b) => b
                .mcp_bridge_plugin_plugin()
                .call_configure(&mut *store, config_json),
        };
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(message),
            Err(error) => Err(describe_failure(&error, runtime.limits())),
        }
    }

    /// A plugin ready for calls, from a configured instance.
    pub fn new(
        name: String,
        kind: Kind,
        component: Component,
        config_json: String,
        live: Live,
    ) -> Self {
        LoadedPlugin {
            name,
            kind,
            component,
            config_json,
            live: Mutex::new(Some(live)),
        }
    }

    /// Runs `call` on the live instance (making a fresh, configured one if the last call failed), under the
    /// per-call deadline and memory cap. `Err` says, in words, why the plugin failed.
    pub fn call<R>(
        &self,
        runtime: &PluginRuntime,
        call: impl FnOnce(&mut Store<PluginState>, &Bindings) -> Result<R>,
    ) -> Result<R, String> {
        // A poisoned lock only means an earlier call panicked; the slot is reset below on failure anyway.
        let mut slot = self
            .live
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if slot.is_none() {
            let (_, mut live) = Self::probe(runtime, &self.component, self.kind, &self.name)
                .map_err(|e| {
                    format!(
                        "it could not be instantiated again: {}",
                        describe_failure(&e, runtime.limits())
                    )
                })?;
            Self::configure(runtime, &mut live, &self.config_json)
                .map_err(|e| format!("it could not be configured again: {e}"))?;
            *slot = Some(live);
        }
        let Some((store, bindings)) = slot.as_mut() else {
            return Err("no instance".into());
        };
        runtime.arm(store, self.kind);
        match call(store, bindings) {
            Ok(value) => Ok(value),
            Err(error) => {
                // The store may be mid-trap: never reuse it.
                *slot = None;
                Err(describe_failure(&error, runtime.limits()))
            }
        }
    }
}
