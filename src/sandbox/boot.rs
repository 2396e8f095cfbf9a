//! The in-sandbox Python runtime, embedded at build time, and the two frames that carry it and the code into the
//! container over stdin (no files are mounted; see `PROTOCOL.md`).

use std::sync::OnceLock;

use super::RunSpec;
use super::protocol::{BootFrame, BootModule, MAX_FRAME, RunFrame, VERSION};

/// The program the container starts with: `python3 -I -B -c BOOTSTRAP`. It reads the boot frame.
pub const BOOTSTRAP: &str = include_str!("python/bootstrap.py");

/// The sandbox manual: `runtime.capability_summary()` inside, the capabilities resource outside.
pub const MANUAL: &str = include_str!("python/MANUAL.md");

/// Modules installed by the bootstrap's in-memory importer: (name, is package, source).
const MODULES: &[(&str, bool, &str)] = &[
    (
        "mcp_bridge_runtime",
        false,
        include_str!("python/mcp_bridge_runtime.py"),
    ),
    (
        "mcp_bridge_relay",
        false,
        include_str!("python/mcp_bridge_relay.py"),
    ),
    ("mcp", true, include_str!("python/mcp/__init__.py")),
    ("mcp.runtime", false, include_str!("python/mcp/runtime.py")),
    ("mcp._rpc", false, include_str!("python/mcp/_rpc.py")),
    ("mcp._tools", false, include_str!("python/mcp/_tools.py")),
    ("mcp._files", false, include_str!("python/mcp/_files.py")),
    (
        "mcp._saved_tools",
        false,
        include_str!("python/mcp/_saved_tools.py"),
    ),
    (
        "mcp.user_tools",
        false,
        include_str!("python/mcp/user_tools.py"),
    ),
    (
        "mcp.servers",
        true,
        include_str!("python/mcp/servers/__init__.py"),
    ),
];

/// The runtime's modules as the files they come from (`mcp/servers/__init__.py`, `mcp/_rpc.py`, …) with their
/// sources: what `scripts/runtime_bytecode.py` compiles into an image's bytecode cache.
pub fn runtime_files() -> impl Iterator<Item = (String, &'static str)> {
    MODULES.iter().map(|&(name, package, source)| {
        let path = name.replace('.', "/");
        let file = if package {
            format!("{path}/__init__.py")
        } else {
            format!("{path}.py")
        };
        (file, source)
    })
}

/// The bytes written to every container's stdin before anything else: the boot frame with its header. The
/// same for every container, so it is encoded once.
pub fn boot_frame() -> &'static [u8] {
    static FRAME: OnceLock<Vec<u8>> = OnceLock::new();
    FRAME.get_or_init(|| {
        let keys: Vec<String> = MODULES
            .iter()
            .map(|&(name, _, source)| cache_key(name, source))
            .collect();
        BootFrame {
            v: VERSION,
            modules: MODULES
                .iter()
                .zip(&keys)
                .map(|(&(name, package, source), cache)| {
                    (
                        name,
                        BootModule {
                            source,
                            package,
                            cache,
                        },
                    )
                })
                .collect(),
            entry: "mcp_bridge_runtime",
            max_frame: MAX_FRAME,
            manual: MANUAL,
        }
        .encode()
        // Static sources and integers: encoding cannot fail, and its size is far below the header's limit.
        .unwrap_or_default()
    })
}

/// A module's name in the image's bytecode cache: the hex sha256 of its name, a NUL byte and its source, as
/// `scripts/runtime_bytecode.py` names what it compiles.
fn cache_key(name: &str, source: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(name)
        .chain_update([0])
        .chain_update(source)
        .finalize();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The run frame for `spec`, with its header, then the inputs' tar if there is one: what a container is given to
/// run (the first call of `session`).
pub fn run_frame(spec: &RunSpec, session: Option<&str>) -> Result<Vec<u8>, serde_json::Error> {
    let mut frame = frame(spec, session);
    let archive = spec
        .inputs
        .as_deref()
        .map(Vec::as_slice)
        .unwrap_or_default();
    frame.inputs = archive.len() as u64;
    let mut bytes = frame.encode()?;
    bytes.extend_from_slice(archive);
    Ok(bytes)
}

/// A session's later call: the run frame as a `run` line (PROTOCOL.md §2.1).
pub fn run_line(spec: &RunSpec, session: &str) -> Result<Vec<u8>, serde_json::Error> {
    frame(spec, Some(session)).encode_line()
}

fn frame<'a>(spec: &'a RunSpec, session: Option<&'a str>) -> RunFrame<'a> {
    RunFrame {
        id: &spec.run_id,
        code: &spec.code,
        servers: &spec.servers,
        timeout: spec.timeout.as_secs(),
        server_info: &spec.server_info,
        session,
        attach: spec.attach,
        // A session's later calls get no copy: the first call's is still in /workspace/in.
        inputs: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::protocol::BOOT_HEADER_DIGITS;
    use std::time::Duration;

    struct Refuse;

    impl crate::sandbox::RpcHandler for Refuse {
        fn handle(
            &self,
            _request: Result<crate::sandbox::Request, crate::sandbox::RequestError>,
        ) -> futures::future::BoxFuture<
            'static,
            Result<crate::sandbox::Response, crate::sandbox::RpcError>,
        > {
            Box::pin(std::future::ready(Err(crate::sandbox::RpcError::new("no"))))
        }
    }

    #[test]
    fn headers_give_the_exact_body_length() {
        let spec = RunSpec {
            run_id: "r-1".into(),
            code: "print('é')".into(),
            servers: vec![],
            timeout: Duration::from_secs(5),
            server_info: serde_json::Value::Null,
            rpc: std::sync::Arc::new(Refuse),
            progress: None,
            attach: crate::sandbox::protocol::AttachLimits {
                max_file: 1,
                max_total: 2,
                max_files: 3,
            },
            inputs: None,
        };
        let body = |frame: &[u8]| -> serde_json::Value {
            let length: usize = std::str::from_utf8(&frame[..BOOT_HEADER_DIGITS])
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(length, frame.len() - BOOT_HEADER_DIGITS);
            serde_json::from_slice(&frame[BOOT_HEADER_DIGITS..]).unwrap()
        };
        let boot = body(boot_frame());
        assert_eq!(boot["v"], VERSION);
        assert_eq!(boot["entry"], "mcp_bridge_runtime");
        assert_eq!(boot["max_frame"], MAX_FRAME);
        assert_eq!(boot["modules"]["mcp"]["package"], true);
        assert_eq!(boot["modules"]["mcp.runtime"]["package"], false);
        assert_eq!(boot["modules"].as_object().unwrap().len(), MODULES.len());
        let run = body(&run_frame(&spec, None).unwrap());
        assert_eq!(run["code"], "print('é')");
        assert_eq!(run["id"], "r-1");
        assert_eq!(run["timeout"], 5);
        assert!(run.get("session").is_none());
        let line = run_line(&spec, "s1").unwrap();
        assert!(line.ends_with(b"\n") && !line[..line.len() - 1].contains(&b'\n'));
        let line: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(line["t"], "run");
        assert_eq!(line["session"], "s1");
        assert_eq!(line["code"], "print('é')");
    }
}
