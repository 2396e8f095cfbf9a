//! The in-sandbox Python runtime, embedded at build time, and the boot frame that carries it and the code into
//! the container over stdin (no files are mounted; see `PROTOCOL.md`).

use serde_json::json;

use super::RunSpec;

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

/// Length of the decimal header before the boot frame's JSON.
const HEADER_DIGITS: usize = 12;

/// The bytes written to the container's stdin before anything else.
pub fn boot_frame(spec: &RunSpec, max_frame: usize) -> Vec<u8> {
    let modules: serde_json::Map<String, serde_json::Value> = MODULES
        .iter()
        .map(|(name, package, source)| {
            (
                name.to_string(),
                json!({"source": source, "package": package}),
            )
        })
        .collect();
    let body = json!({
        "v": 1,
        "modules": modules,
        "entry": "mcp_bridge_runtime",
        "run": {
            "id": spec.run_id,
            "code": spec.code,
            "servers": spec.servers,
            "timeout": spec.timeout.as_secs(),
            "max_frame": max_frame,
            "manual": MANUAL,
            "server_info": spec.server_info,
        },
    })
    .to_string();
    let mut frame = format!("{:0width$}", body.len(), width = HEADER_DIGITS).into_bytes();
    frame.extend_from_slice(body.as_bytes());
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Refuse;

    impl crate::sandbox::RpcHandler for Refuse {
        fn handle(
            &self,
            _method: String,
            _params: serde_json::Value,
        ) -> futures::future::BoxFuture<'static, Result<serde_json::Value, crate::sandbox::RpcError>>
        {
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
        let frame = boot_frame(&spec, 1024);
        let length: usize = std::str::from_utf8(&frame[..HEADER_DIGITS])
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, frame.len() - HEADER_DIGITS);
        let body: serde_json::Value = serde_json::from_slice(&frame[HEADER_DIGITS..]).unwrap();
        assert_eq!(body["run"]["code"], "print('é')");
        assert_eq!(body["modules"]["mcp"]["package"], true);
    }
}
