//! Plugins built against `mcp-bridge:plugin@0.1.0` (`wit/since_v0.1.0`, frozen): bindings and the conversions
//! from and to the host's latest types. What 0.1.0 cannot express is bridged here:
//! - a run request's purpose is not passed (the code is what the policy judges, as it always was);
//! - there is no `check-result`: results pass unchanged;
//! - the encoder payload goes as the JSON text 0.1.0 documented.

use wasmtime::Store;
use wasmtime::component::{Component, Linker};

use super::super::Kind;
use super::super::api::{
    Base, CallCheck, Decision, Encoded, FilePattern, Info, ResultCheck, ResultDecision, RunCheck,
    SourceFile,
};
use super::{WorldMismatch, mismatch};
use crate::plugins::ServerEntry;
use crate::response::Payload;

mod policy {
    wasmtime::component::bindgen!({ world: "policy-plugin", path: "wit/since_v0.1.0" });
}

mod encoder {
    wasmtime::component::bindgen!({ world: "encoder-plugin", path: "wit/since_v0.1.0" });
}

mod discovery {
    wasmtime::component::bindgen!({ world: "discovery-plugin", path: "wit/since_v0.1.0" });
}

use discovery::exports::mcp_bridge::plugin::discovery as wit_discovery;
use policy::exports::mcp_bridge::plugin::policy as wit_policy;

/// A live 0.1.0 instance of one world.
pub enum Bindings {
    /// `policy-plugin`.
    Policy(policy::PolicyPlugin),
    /// `encoder-plugin`.
    Encoder(encoder::EncoderPlugin),
    /// `discovery-plugin`.
    Discovery(discovery::DiscoveryPlugin),
}

impl Bindings {
    /// Instantiates `component` as a `kind` plugin.
    pub fn instantiate<T: 'static>(
        store: &mut Store<T>,
        component: &Component,
        linker: &Linker<T>,
        kind: Kind,
    ) -> wasmtime::Result<Self> {
        Ok(match kind {
            Kind::Policy => {
                Bindings::Policy(policy::PolicyPlugin::instantiate(store, component, linker)?)
            }
            Kind::Encoder => Bindings::Encoder(encoder::EncoderPlugin::instantiate(
                store, component, linker,
            )?),
            Kind::Discovery => Bindings::Discovery(discovery::DiscoveryPlugin::instantiate(
                store, component, linker,
            )?),
        })
    }

    /// `plugin.metadata`.
    pub fn metadata<T>(&self, store: &mut Store<T>) -> wasmtime::Result<Info> {
        Ok(match self {
            Bindings::Policy(b) => info!(b.mcp_bridge_plugin_plugin().call_metadata(store)?),
            Bindings::Encoder(b) => info!(b.mcp_bridge_plugin_plugin().call_metadata(store)?),
            Bindings::Discovery(b) => info!(b.mcp_bridge_plugin_plugin().call_metadata(store)?),
        })
    }

    /// `plugin.configure`.
    pub fn configure<T>(
        &self,
        store: &mut Store<T>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Bindings::Policy(b) => b.mcp_bridge_plugin_plugin().call_configure(store, config),
            Bindings::Encoder(b) => b.mcp_bridge_plugin_plugin().call_configure(store, config),
            Bindings::Discovery(b) => b.mcp_bridge_plugin_plugin().call_configure(store, config),
        }
    }

    fn policy(&self) -> Result<&policy::PolicyPlugin, WorldMismatch> {
        match self {
            Bindings::Policy(b) => Ok(b),
            _ => Err(mismatch(Kind::Policy)),
        }
    }

    /// `policy.check-run`.
    pub fn check_run<T>(&self, store: &mut Store<T>, run: &RunCheck) -> wasmtime::Result<Decision> {
        let request = wit_policy::RunRequest {
            run_id: run.run_id.clone(),
            code: run.code.clone(),
            servers: run.servers.clone(),
            timeout_seconds: run.timeout_seconds,
        };
        let decision = self
            .policy()?
            .mcp_bridge_plugin_policy()
            .call_check_run(store, &request)?;
        Ok(decision_from(decision))
    }

    /// `policy.check-call`.
    pub fn check_call<T>(
        &self,
        store: &mut Store<T>,
        call: &CallCheck,
    ) -> wasmtime::Result<Decision> {
        let a = call.annotations;
        let request = wit_policy::CallRequest {
            run_id: call.run_id.clone(),
            server: call.server.clone(),
            tool: call.tool.clone(),
            arguments: call.arguments.clone(),
            annotations: policy::mcp_bridge::plugin::types::ToolAnnotations {
                read_only: a.read_only,
                destructive: a.destructive,
                idempotent: a.idempotent,
                open_world: a.open_world,
            },
        };
        let decision = self
            .policy()?
            .mcp_bridge_plugin_policy()
            .call_check_call(store, &request)?;
        Ok(decision_from(decision))
    }

    /// 0.1.0 has no `check-result`: every result passes.
    pub fn check_result<T>(
        &self,
        _store: &mut Store<T>,
        _result: &ResultCheck,
    ) -> wasmtime::Result<ResultDecision> {
        self.policy()?;
        Ok(ResultDecision::Allow)
    }

    /// `encoder.encode`, with the payload as the JSON text 0.1.0 specified.
    pub fn encode<T>(
        &self,
        store: &mut Store<T>,
        payload: &Payload,
    ) -> wasmtime::Result<Result<Encoded, String>> {
        let Bindings::Encoder(b) = self else {
            return Err(mismatch(Kind::Encoder).into());
        };
        let text = payload.to_json();
        let encoded = b.mcp_bridge_plugin_encoder().call_encode(store, &text)?;
        Ok(encoded.map(|e| Encoded {
            text: e.text,
            mime_type: e.mime_type,
        }))
    }

    fn discovery(&self) -> Result<&discovery::DiscoveryPlugin, WorldMismatch> {
        match self {
            Bindings::Discovery(b) => Ok(b),
            _ => Err(mismatch(Kind::Discovery)),
        }
    }

    /// `discovery.wanted-files`.
    pub fn wanted_files<T>(&self, store: &mut Store<T>) -> wasmtime::Result<Vec<FilePattern>> {
        let wanted = self
            .discovery()?
            .mcp_bridge_plugin_discovery()
            .call_wanted_files(store)?;
        Ok(wanted
            .into_iter()
            .map(|p| FilePattern {
                base: base_from(p.base),
                pattern: p.pattern,
            })
            .collect())
    }

    /// `discovery.parse`.
    pub fn parse<T>(
        &self,
        store: &mut Store<T>,
        file: &SourceFile,
    ) -> wasmtime::Result<Result<Vec<ServerEntry>, String>> {
        let file = wit_discovery::SourceFile {
            base: base_to(file.base),
            path: file.path.clone(),
            contents: file.contents.clone(),
        };
        let parsed = self
            .discovery()?
            .mcp_bridge_plugin_discovery()
            .call_parse(store, &file)?;
        Ok(parsed.map(|entries| entries.into_iter().map(entry_from).collect()))
    }
}

fn decision_from(decision: wit_policy::Decision) -> Decision {
    match decision {
        wit_policy::Decision::Allow => Decision::Allow,
        wit_policy::Decision::Deny(reason) => Decision::Deny(reason),
        wit_policy::Decision::Ask(prompt) => Decision::Ask(prompt),
    }
}

fn base_from(base: wit_discovery::Base) -> Base {
    match base {
        wit_discovery::Base::Home => Base::Home,
        wit_discovery::Base::Cwd => Base::Cwd,
        wit_discovery::Base::EnvVar => Base::EnvVar,
    }
}

fn base_to(base: Base) -> wit_discovery::Base {
    match base {
        Base::Home => wit_discovery::Base::Home,
        Base::Cwd => wit_discovery::Base::Cwd,
        Base::EnvVar => wit_discovery::Base::EnvVar,
    }
}

fn entry_from(entry: wit_discovery::ServerEntry) -> ServerEntry {
    ServerEntry {
        name: entry.name,
        command: entry.command,
        args: entry.args,
        env: entry.env,
        cwd: entry.cwd,
        description: entry.description,
        url: entry.url,
        transport: entry.transport,
        disabled: entry.disabled,
    }
}
