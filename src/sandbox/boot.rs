//! The in-sandbox Python runtime, embedded at build time, and the boot frame that carries it and the code into
//! the container over stdin (no files are mounted; see `PROTOCOL.md`).

use super::RunSpec;
use super::protocol::{BootFrame, BootModule, BootRun, VERSION};

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
    ("mcp", true, include_str!("python/mcp/__init__.py")),
    ("mcp.runtime", false, include_str!("python/mcp/runtime.py")),
    ("mcp._rpc", false, include_str!("python/mcp/_rpc.py")),
    ("mcp._tools", false, include_str!("python/mcp/_tools.py")),
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

/// The bytes written to the container's stdin before anything else: the boot frame with its header.
pub fn boot_frame(spec: &RunSpec, max_frame: usize) -> Result<Vec<u8>, serde_json::Error> {
    BootFrame {
        v: VERSION,
        modules: MODULES
            .iter()
            .map(|&(name, package, source)| (name, BootModule { source, package }))
            .collect(),
        entry: "mcp_bridge_runtime",
        run: BootRun {
            id: &spec.run_id,
            code: &spec.code,
            servers: &spec.servers,
            timeout: spec.timeout.as_secs(),
            max_frame,
            manual: MANUAL,
            server_info: &spec.server_info,
        },
    }
    .encode()
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
    fn header_gives_the_exact_body_length() {
        let spec = RunSpec {
            run_id: "r-1".into(),
            code: "print('é')".into(),
            servers: vec![],
            timeout: Duration::from_secs(5),
            server_info: serde_json::Value::Null,
            rpc: std::sync::Arc::new(Refuse),
        };
        let frame = boot_frame(&spec, 1024).unwrap();
        let length: usize = std::str::from_utf8(&frame[..BOOT_HEADER_DIGITS])
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, frame.len() - BOOT_HEADER_DIGITS);
        let body: serde_json::Value = serde_json::from_slice(&frame[BOOT_HEADER_DIGITS..]).unwrap();
        assert_eq!(body["v"], VERSION);
        assert_eq!(body["entry"], "mcp_bridge_runtime");
        assert_eq!(body["run"]["code"], "print('é')");
        assert_eq!(body["run"]["max_frame"], 1024);
        assert_eq!(body["modules"]["mcp"]["package"], true);
        assert_eq!(body["modules"]["mcp.runtime"]["package"], false);
        assert_eq!(body["modules"].as_object().unwrap().len(), MODULES.len());
    }
}
