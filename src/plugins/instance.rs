//! A loaded plugin and its live instances: typed calls under the per-call limits, a small pool so concurrent
//! calls to one plugin do not queue behind each other, and a fresh instance after a failure (a store that
//! trapped is never used again).

use std::sync::Mutex;

use wasmtime::Result;
use wasmtime::Store;
use wasmtime::component::Component;

use super::Kind;
use super::api::Info;
use super::runtime::{PluginRuntime, PluginState, describe_failure};
use super::wit::{ApiVersion, Bindings};

/// An instance and its store.
pub type Live = (Store<PluginState>, Bindings);

/// Idle instances kept per plugin; more are made while calls overlap, and dropped when they end.
const MAX_IDLE: usize = 4;

/// A compiled, configured plugin, ready for calls.
pub struct LoadedPlugin {
    /// Its metadata name.
    pub name: String,
    /// Its world.
    pub kind: Kind,
    /// The API version it was built against.
    pub api: ApiVersion,
    component: Component,
    config_json: String,
    idle: Mutex<Vec<Live>>,
}

impl LoadedPlugin {
    /// Instantiates `component` as `kind` of API `api` and returns its metadata with the (unconfigured)
    /// instance.
    pub fn probe(
        runtime: &PluginRuntime,
        component: &Component,
        (kind, api): (Kind, ApiVersion),
        label: &str,
    ) -> Result<(Info, Live)> {
        let mut store = runtime.store(label, kind);
        runtime.arm(&mut store, kind);
        let bindings = Bindings::instantiate(&mut store, component, runtime.linker(), kind, api)?;
        let info = bindings.metadata(&mut store)?;
        Ok((info, (store, bindings)))
    }

    /// Calls `configure` on a live instance: `Err` carries the plugin's own message or the failure.
    pub fn configure(
        runtime: &PluginRuntime,
        kind: Kind,
        live: &mut Live,
        config_json: &str,
    ) -> Result<(), String> {
        let (store, bindings) = live;
        runtime.arm(store, kind);
        match bindings.configure(store, config_json) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(message),
            Err(error) => Err(describe_failure(&error, runtime.limits())),
        }
    }

    /// A plugin ready for calls, from a configured instance.
    pub fn new(
        name: String,
        (kind, api): (Kind, ApiVersion),
        component: Component,
        config_json: String,
        live: Live,
    ) -> Self {
        LoadedPlugin {
            name,
            kind,
            api,
            component,
            config_json,
            idle: Mutex::new(vec![live]),
        }
    }

    /// Runs `call` on an idle instance (or a fresh, configured one when none is idle), under the per-call
    /// deadline and memory cap. `Err` says, in words, why the plugin failed.
    pub fn call<R>(
        &self,
        runtime: &PluginRuntime,
        call: impl FnOnce(&mut Store<PluginState>, &Bindings) -> Result<R>,
    ) -> Result<R, String> {
        // A poisoned lock only means an earlier call panicked while holding it; the pool is still sound.
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .pop();
        let (mut store, bindings) = match taken {
            Some(live) => live,
            None => self.fresh(runtime)?,
        };
        runtime.arm(&mut store, self.kind);
        match call(&mut store, &bindings) {
            Ok(value) => {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < MAX_IDLE {
                    idle.push((store, bindings));
                }
                Ok(value)
            }
            // The store may be mid-trap: it is dropped, never reused.
            Err(error) => Err(describe_failure(&error, runtime.limits())),
        }
    }

    fn fresh(&self, runtime: &PluginRuntime) -> Result<Live, String> {
        let (_, mut live) =
            Self::probe(runtime, &self.component, (self.kind, self.api), &self.name).map_err(
                |e| {
                    format!(
                        "it could not be instantiated again: {}",
                        describe_failure(&e, runtime.limits())
                    )
                },
            )?;
        Self::configure(runtime, self.kind, &mut live, &self.config_json)
            .map_err(|e| format!("it could not be configured again: {e}"))?;
        Ok(live)
    }
}
