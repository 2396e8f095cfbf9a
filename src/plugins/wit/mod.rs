//! The plugin API's released versions, each frozen under `wit/since_v<version>/` with its own host module here
//! (`since_v0_1_0.rs`, `since_v0_2_0.rs`): its `bindgen!`, and conversions into the host's latest types
//! ([`super::api`]). A component says which version it was built against through its export names
//! (`mcp-bridge:plugin/policy@0.2.0`); [`identify`] reads them, and [`Bindings`] dispatches each call to the
//! right version's module. Adding a version: freeze its WIT in a new directory, add a module, a variant of
//! [`ApiVersion`] and of [`Bindings`]. Never edit a released directory: plugins users built depend on it.

use std::fmt;

use serde::Serialize;
use wasmtime::Store;
use wasmtime::component::{Component, Linker};

use super::Kind;
use super::api::{
    CallCheck, Decision, Encoded, FilePattern, Info, ResultCheck, ResultDecision, RunCheck,
    SourceFile,
};
use crate::plugins::ServerEntry;
use crate::response::Payload;

/// Each world's bindings have their own `Info` type; this makes the host's from any of them.
macro_rules! info {
    ($info:expr) => {{
        let info = $info;
        $crate::plugins::api::Info {
            name: info.name,
            version: info.version,
            description: info.description,
        }
    }};
}

pub mod since_v0_1_0;
pub mod since_v0_2_0;

/// The WIT package every plugin world belongs to.
const PACKAGE: &str = "mcp-bridge:plugin";

/// A released version of the plugin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ApiVersion {
    /// `mcp-bridge:plugin@0.1.0`.
    #[serde(rename = "0.1.0")]
    V0_1_0,
    /// `mcp-bridge:plugin@0.2.0`: `check-result`, run purposes, the typed encoder payload, `log`.
    #[serde(rename = "0.2.0")]
    V0_2_0,
}

impl ApiVersion {
    /// Every version this host loads, oldest first.
    pub const SUPPORTED: [ApiVersion; 2] = [ApiVersion::V0_1_0, ApiVersion::V0_2_0];

    /// The version as written in WIT (`0.2.0`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V0_1_0 => "0.1.0",
            ApiVersion::V0_2_0 => "0.2.0",
        }
    }

    fn parse(text: &str) -> Option<ApiVersion> {
        Self::SUPPORTED.into_iter().find(|v| v.as_str() == text)
    }

    /// "0.1.0 to 0.2.0", for messages.
    pub fn supported_range() -> String {
        let first = Self::SUPPORTED[0].as_str();
        let last = Self::SUPPORTED[Self::SUPPORTED.len() - 1].as_str();
        format!("{first} to {last}")
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Links every version's imports (beyond WASI) into the one linker all plugins are instantiated with.
pub fn add_to_linker<T: since_v0_2_0::LogHost + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    since_v0_2_0::add_to_linker(linker)
}

/// A call made on an instance of another world (a host bug, never the plugin's doing).
#[derive(Debug)]
pub struct WorldMismatch(Kind);

impl fmt::Display for WorldMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a {} plugin", self.0.as_str())
    }
}

impl std::error::Error for WorldMismatch {}

fn mismatch(kind: Kind) -> WorldMismatch {
    WorldMismatch(kind)
}

/// The world and API version a component implements, from its exports. The error names what it exports
/// instead, or the version it was built against and the versions this bridge supports.
pub fn identify(
    component: &Component,
    engine: &wasmtime::Engine,
) -> Result<(Kind, ApiVersion), String> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    // (interface, version) of every export of our package.
    let ours: Vec<(&str, &str)> = exports
        .iter()
        .filter_map(|name| {
            let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
            rest.split_once('@')
        })
        .collect();
    let kinds = [
        ("policy", Kind::Policy),
        ("encoder", Kind::Encoder),
        ("discovery", Kind::Discovery),
    ];
    let Some((kind, version)) = ours.iter().find_map(|(interface, version)| {
        let kind = kinds.iter().find(|(name, _)| name == interface)?.1;
        Some((kind, *version))
    }) else {
        let found = if exports.is_empty() {
            "nothing".to_string()
        } else {
            exports.join(", ")
        };
        return Err(format!(
            "implements none of the {PACKAGE} worlds (policy-plugin, encoder-plugin, discovery-plugin) of \
             API versions {}; it exports {found}",
            ApiVersion::supported_range()
        ));
    };
    let Some(api) = ApiVersion::parse(version) else {
        return Err(format!(
            "it was built against {PACKAGE}@{version}, which this bridge does not support (it loads API \
             versions {}); rebuild it against one of those, or upgrade the bridge",
            ApiVersion::supported_range()
        ));
    };
    let plugin_export = format!("{PACKAGE}/plugin@{version}");
    if !exports.contains(&plugin_export) {
        return Err(format!(
            "exports {}@{version} but not {plugin_export}",
            kind.as_str()
        ));
    }
    Ok((kind, api))
}

/// A live instance, of whichever API version the component was built against.
pub enum Bindings {
    /// Built against 0.1.0.
    V0_1_0(since_v0_1_0::Bindings),
    /// Built against 0.2.0.
    V0_2_0(since_v0_2_0::Bindings),
}

/// Calls the same method on whichever version's bindings `$self` holds.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Bindings::V0_1_0(b) => b.$method($($arg),*),
            Bindings::V0_2_0(b) => b.$method($($arg),*),
        }
    };
}

impl Bindings {
    /// Instantiates `component` as a `kind` plugin of API version `api`.
    pub fn instantiate<T: 'static>(
        store: &mut Store<T>,
        component: &Component,
        linker: &Linker<T>,
        kind: Kind,
        api: ApiVersion,
    ) -> wasmtime::Result<Self> {
        Ok(match api {
            ApiVersion::V0_1_0 => Bindings::V0_1_0(since_v0_1_0::Bindings::instantiate(
                store, component, linker, kind,
            )?),
            ApiVersion::V0_2_0 => Bindings::V0_2_0(since_v0_2_0::Bindings::instantiate(
                store, component, linker, kind,
            )?),
        })
    }

    /// `plugin.metadata`.
    pub fn metadata<T>(&self, store: &mut Store<T>) -> wasmtime::Result<Info> {
        dispatch!(self.metadata(store))
    }

    /// `plugin.configure`: `Ok(Err(message))` is the plugin refusing its configuration.
    pub fn configure<T>(
        &self,
        store: &mut Store<T>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        dispatch!(self.configure(store, config))
    }

    /// `policy.check-run`.
    pub fn check_run<T>(&self, store: &mut Store<T>, run: &RunCheck) -> wasmtime::Result<Decision> {
        dispatch!(self.check_run(store, run))
    }

    /// `policy.check-call`.
    pub fn check_call<T>(
        &self,
        store: &mut Store<T>,
        call: &CallCheck,
    ) -> wasmtime::Result<Decision> {
        dispatch!(self.check_call(store, call))
    }

    /// `policy.check-result` (allow for versions without it).
    pub fn check_result<T>(
        &self,
        store: &mut Store<T>,
        result: &ResultCheck,
    ) -> wasmtime::Result<ResultDecision> {
        dispatch!(self.check_result(store, result))
    }

    /// `encoder.encode`: `Ok(Err(message))` is the encoder refusing the payload.
    pub fn encode<T>(
        &self,
        store: &mut Store<T>,
        payload: &Payload,
    ) -> wasmtime::Result<Result<Encoded, String>> {
        dispatch!(self.encode(store, payload))
    }

    /// `discovery.wanted-files`.
    pub fn wanted_files<T>(&self, store: &mut Store<T>) -> wasmtime::Result<Vec<FilePattern>> {
        dispatch!(self.wanted_files(store))
    }

    /// `discovery.parse`: `Ok(Err(message))` is the plugin refusing the file.
    pub fn parse<T>(
        &self,
        store: &mut Store<T>,
        file: &SourceFile,
    ) -> wasmtime::Result<Result<Vec<ServerEntry>, String>> {
        dispatch!(self.parse(store, file))
    }
}
