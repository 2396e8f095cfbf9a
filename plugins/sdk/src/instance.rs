//! [`Instance`]: the configured plugin value the register macros keep, and the one place that decides what a
//! call gets before a configuration was accepted (fail closed).

use crate::{
    CallRequest, CallResult, Config, Decision, Discovery, Encoded, Encoder, FilePattern, Kind,
    Payload, Plugin, Policy, ResultDecision, RunRequest, ServerEntry, SourceFile,
};
use std::sync::RwLock;

/// A plugin as the bridge drives it: empty until [`Instance::configure`] accepts a configuration, then the
/// configured value. The register macros keep one in a `static`; tests can use one to drive a plugin exactly as
/// the bridge does.
///
/// ```
/// use mcp_bridge_plugin_sdk::{CallRequest, Decision, Instance, Kind, Plugin, Policy};
///
/// #[derive(Default)]
/// struct AllowAll;
/// impl Plugin for AllowAll {}
/// impl Policy for AllowAll {}
///
/// let policy: Instance<AllowAll> = Instance::new(Kind::Policy, "allow-all");
/// assert!(matches!(policy.check_call(&CallRequest::default()), Decision::Deny(_))); // not configured yet
/// assert!(policy.configure(r#"{"x": 1}"#).unwrap_err().contains("`x`"));
/// policy.configure("{}").unwrap();
/// assert_eq!(policy.check_call(&CallRequest::default()), Decision::Allow);
/// ```
pub struct Instance<T> {
    kind: Kind,
    name: &'static str,
    slot: RwLock<Option<T>>,
}

impl<T: Plugin> Instance<T> {
    /// An instance of the plugin `name`, not configured yet.
    pub const fn new(kind: Kind, name: &'static str) -> Self {
        Instance {
            kind,
            name,
            slot: RwLock::new(None),
        }
    }

    /// Configures a fresh `T::default()` with `json`; only when that succeeds does it replace the current value
    /// (a refused configuration leaves the previous one in place).
    pub fn configure(&self, json: &str) -> Result<(), String> {
        let mut plugin = T::default();
        plugin.configure(&Config::new(self.kind, self.name, json))?;
        // A poisoned lock only means an earlier call panicked; the value is still whole.
        *self.slot.write().unwrap_or_else(|e| e.into_inner()) = Some(plugin);
        Ok(())
    }

    /// `f` on the configured value, or `Err` saying the plugin is not configured.
    fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Result<R, String> {
        match self.slot.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(plugin) => Ok(f(plugin)),
            None => Err(format!("{} `{}` is not configured", self.kind, self.name)),
        }
    }
}

impl<P: Policy> Instance<P> {
    /// [`Policy::check_run`]; a deny before a configuration was accepted.
    pub fn check_run(&self, run: &RunRequest) -> Decision {
        self.with(|p| p.check_run(run))
            .unwrap_or_else(Decision::Deny)
    }

    /// [`Policy::check_call`]; a deny before a configuration was accepted.
    pub fn check_call(&self, call: &CallRequest) -> Decision {
        self.with(|p| p.check_call(call))
            .unwrap_or_else(Decision::Deny)
    }

    /// [`Policy::check_result`]; a deny before a configuration was accepted.
    pub fn check_result(&self, result: &CallResult) -> ResultDecision {
        self.with(|p| p.check_result(result))
            .unwrap_or_else(ResultDecision::Deny)
    }
}

impl<E: Encoder> Instance<E> {
    /// [`Encoder::encode`]; an error before a configuration was accepted.
    pub fn encode(&self, payload: &Payload) -> Result<Encoded, String> {
        self.with(|e| e.encode(payload))?
    }
}

impl<D: Discovery> Instance<D> {
    /// [`Discovery::wanted_files`]; no files before a configuration was accepted.
    pub fn wanted_files(&self) -> Vec<FilePattern> {
        self.with(|d| d.wanted_files()).unwrap_or_default()
    }

    /// [`Discovery::parse`]; an error before a configuration was accepted.
    pub fn parse(&self, file: &SourceFile) -> Result<Vec<ServerEntry>, String> {
        self.with(|d| d.parse(file))?
    }
}
