//! The component side (wasm32 only): the glue the register macros call, which converts between the bindings'
//! types (one crate per world, `mcp-bridge-plugin-bindings-*`) and this crate's.

pub use mcp_bridge_plugin_bindings_policy::mcp_bridge::plugin::log;

/// The bindings of one world (the crate `$bindings`), and what every world's glue shares: `metadata` and
/// `configure` in the bindings' shape (each world has its own copy of the `types` interface).
macro_rules! world {
    ($bindings:ident) => {
        pub use $bindings::*;

        pub use exports::mcp_bridge::plugin::plugin::Guest as PluginGuest;
        pub use mcp_bridge::plugin::types::Info;

        /// The plugin's metadata, from the values the register macro read out of its crate's `Cargo.toml`.
        pub fn metadata(name: &str, version: &str, description: &str) -> Info {
            Info {
                name: name.into(),
                version: version.into(),
                description: description.into(),
            }
        }

        /// `configure`: see [`crate::Instance::configure`].
        pub fn configure<T: crate::Plugin>(
            instance: &crate::Instance<T>,
            config: String,
        ) -> Result<(), String> {
            instance.configure(&config)
        }
    };
}

/// The `policy-plugin` world.
pub mod policy {
    world!(mcp_bridge_plugin_bindings_policy);

    pub use exports::mcp_bridge::plugin::policy::Guest as PolicyGuest;
    use exports::mcp_bridge::plugin::policy::{
        CallRequest, CallResult, Decision, ResultDecision, RunPurpose, RunRequest,
    };
    use mcp_bridge::plugin::types::ToolAnnotations;

    /// `check-run`.
    pub fn check_run<P: crate::Policy>(instance: &crate::Instance<P>, run: RunRequest) -> Decision {
        let run = crate::RunRequest {
            run_id: run.run_id,
            code: run.code,
            servers: run.servers,
            timeout_seconds: run.timeout_seconds,
            purpose: match run.purpose {
                RunPurpose::Run => crate::RunPurpose::Run,
                RunPurpose::SaveTool(name) => crate::RunPurpose::SaveTool(name),
                RunPurpose::LoadTool(name) => crate::RunPurpose::LoadTool(name),
                RunPurpose::Search => crate::RunPurpose::Search,
            },
        };
        decision(instance.check_run(&run))
    }

    /// `check-call`.
    pub fn check_call<P: crate::Policy>(
        instance: &crate::Instance<P>,
        call: CallRequest,
    ) -> Decision {
        decision(instance.check_call(&call_request(call)))
    }

    /// `check-result`.
    pub fn check_result<P: crate::Policy>(
        instance: &crate::Instance<P>,
        result: CallResult,
    ) -> ResultDecision {
        let result = crate::CallResult {
            call: call_request(result.call),
            result: result.result,
        };
        match instance.check_result(&result) {
            crate::ResultDecision::Allow => ResultDecision::Allow,
            crate::ResultDecision::Deny(why) => ResultDecision::Deny(why),
            crate::ResultDecision::Replace(json) => ResultDecision::Replace(json),
        }
    }

    fn call_request(call: CallRequest) -> crate::CallRequest {
        let ToolAnnotations {
            read_only,
            destructive,
            idempotent,
            open_world,
        } = call.annotations;
        crate::CallRequest {
            run_id: call.run_id,
            server: call.server,
            tool: call.tool,
            arguments: call.arguments,
            annotations: crate::Annotations {
                read_only,
                destructive,
                idempotent,
                open_world,
            },
        }
    }

    fn decision(decision: crate::Decision) -> Decision {
        match decision {
            crate::Decision::Allow => Decision::Allow,
            crate::Decision::Deny(why) => Decision::Deny(why),
            crate::Decision::Ask(question) => Decision::Ask(question),
        }
    }
}

/// The `encoder-plugin` world.
pub mod encoder {
    world!(mcp_bridge_plugin_bindings_encoder);

    pub use exports::mcp_bridge::plugin::encoder::Guest as EncoderGuest;
    use exports::mcp_bridge::plugin::encoder::{Encoded, Payload, Status};

    /// `encode`.
    pub fn encode<E: crate::Encoder>(
        instance: &crate::Instance<E>,
        payload: Payload,
    ) -> Result<Encoded, String> {
        let payload = crate::Payload {
            status: match payload.status {
                Status::Success => crate::Status::Success,
                Status::Error => crate::Status::Error,
                Status::Timeout => crate::Status::Timeout,
                Status::ValidationError => crate::Status::ValidationError,
            },
            summary: payload.summary,
            exit_code: payload.exit_code,
            servers: payload.servers,
            stdout: payload.stdout,
            stderr: payload.stderr,
            error: payload.error,
            timeout_seconds: payload.timeout_seconds,
            session: None,
            files: Vec::new(),
        };
        let encoded = instance.encode(&payload)?;
        Ok(Encoded {
            text: encoded.text,
            mime_type: encoded.mime_type,
        })
    }
}

/// The `discovery-plugin` world.
pub mod discovery {
    world!(mcp_bridge_plugin_bindings_discovery);

    pub use exports::mcp_bridge::plugin::discovery::Guest as DiscoveryGuest;
    use exports::mcp_bridge::plugin::discovery::{Base, FilePattern, ServerEntry, SourceFile};

    /// `wanted-files`.
    pub fn wanted_files<D: crate::Discovery>(instance: &crate::Instance<D>) -> Vec<FilePattern> {
        instance
            .wanted_files()
            .into_iter()
            .map(|p| FilePattern {
                base: match p.base {
                    crate::Base::Home => Base::Home,
                    crate::Base::Cwd => Base::Cwd,
                    crate::Base::EnvVar => Base::EnvVar,
                },
                pattern: p.pattern,
            })
            .collect()
    }

    /// `parse`.
    pub fn parse<D: crate::Discovery>(
        instance: &crate::Instance<D>,
        file: SourceFile,
    ) -> Result<Vec<ServerEntry>, String> {
        let file = crate::SourceFile {
            base: match file.base {
                Base::Home => crate::Base::Home,
                Base::Cwd => crate::Base::Cwd,
                Base::EnvVar => crate::Base::EnvVar,
            },
            path: file.path,
            contents: file.contents,
        };
        Ok(instance
            .parse(&file)?
            .into_iter()
            .map(|e| ServerEntry {
                name: e.name,
                command: e.command,
                args: e.args,
                env: e.env,
                cwd: e.cwd,
                description: e.description,
                url: e.url,
                transport: e.transport,
                disabled: e.disabled,
            })
            .collect())
    }
}
