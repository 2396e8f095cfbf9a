//! The `run_python` arguments: the seed's input schema, and turning raw JSON arguments into a checked
//! [`RunRequest`] with a clear, specific message for anything wrong. The MCP tool and `bridge run` both come
//! through here, so they refuse exactly the same things.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::config::Config;

/// What the seed's schema said about `code`, with the bridge's size limit added.
const CODE_DESCRIPTION: &str = "Python source code to execute. Top-level await works. Call \
    runtime.capability_summary() inside the sandbox for the manual. Python Sandbox. 1. DISCOVER: \
    `runtime.discovered_servers()`, `runtime.search_tool_docs('query')`. 2. CALL: `await mcp_server.tool()`. \
    Run `print(runtime.capability_summary())` for the full manual.";

/// Checked arguments of one `run_python` call.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    /// The source, never blank, within the size limit.
    pub code: String,
    /// Requested servers, de-duplicated in order.
    pub servers: Vec<String>,
    /// The deadline, within 1..=`MCP_BRIDGE_MAX_TIMEOUT`.
    pub timeout: Duration,
}

/// The tool's `inputSchema` (the seed's, with `maximum`/`default` from the configuration).
pub fn input_schema(config: &Config) -> Map<String, Value> {
    let schema = json!({
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {
                "type": "string",
                "description": format!("{CODE_DESCRIPTION} At most {} bytes.", config.max_code_bytes),
            },
            "servers": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Optional list of MCP servers to make available as mcp_<name> proxies",
            },
            "timeout": {
                "type": "integer",
                "minimum": 1,
                "maximum": config.max_timeout.as_secs(),
                "default": config.default_timeout.as_secs(),
                "description": "Execution timeout in seconds",
            },
        },
    });
    match schema {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Checks `run_python` arguments: the schema, compiled once, and the limits a schema cannot express.
pub struct ArgumentChecker {
    schema: jsonschema::Validator,
    max_code_bytes: usize,
    default_timeout: Duration,
}

impl ArgumentChecker {
    /// Compiles the input schema for these settings.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let schema = jsonschema::validator_for(&Value::Object(input_schema(config)))
            .map_err(|e| anyhow::anyhow!("compiling the run_python input schema: {e}"))?;
        Ok(ArgumentChecker {
            schema,
            max_code_bytes: config.max_code_bytes,
            default_timeout: config.default_timeout,
        })
    }

    /// Checks raw arguments against the schema and the bridge's limits.
    ///
    /// Errors read like the seed's (`Input validation error: 500 is greater than the maximum of 120`) and name
    /// the argument, so the model can fix its call.
    pub fn parse(&self, arguments: &Map<String, Value>) -> Result<RunRequest, String> {
        let instance = Value::Object(arguments.clone());
        let problems: Vec<String> = self
            .schema
            .iter_errors(&instance)
            .map(|error| {
                let path = error.instance_path().to_string();
                match path.trim_start_matches('/') {
                    "" => error.to_string(),
                    field => format!("'{field}': {error}"),
                }
            })
            .collect();
        if !problems.is_empty() {
            return Err(format!("Input validation error: {}", problems.join("; ")));
        }

        let code = arguments
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if code.trim().is_empty() {
            return Err("Missing 'code' argument: it is empty or only whitespace".into());
        }
        if code.len() > self.max_code_bytes {
            return Err(format!(
                "'code' is {} bytes; the limit is {} bytes (MCP_BRIDGE_MAX_CODE_BYTES)",
                code.len(),
                self.max_code_bytes
            ));
        }
        let mut servers: Vec<String> = Vec::new();
        for name in arguments
            .get("servers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !servers.iter().any(|s| s == name) {
                servers.push(name.to_string());
            }
        }
        let timeout = arguments
            .get("timeout")
            .and_then(Value::as_u64)
            .map(Duration::from_secs)
            .unwrap_or(self.default_timeout);
        Ok(RunRequest {
            code: code.to_string(),
            servers,
            timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_map(&Default::default()).unwrap()
    }

    fn check(arguments: Value) -> Result<RunRequest, String> {
        match arguments {
            Value::Object(map) => ArgumentChecker::new(&config()).unwrap().parse(&map),
            _ => unreachable!(),
        }
    }

    #[test]
    fn accepts_the_seed_shape() {
        let request = check(
            json!({"code": "print(1)", "servers": ["a", "b", "a"], "timeout": 5, "extra": 1}),
        )
        .unwrap();
        assert_eq!(request.servers, vec!["a", "b"]);
        assert_eq!(request.timeout, Duration::from_secs(5));
        assert_eq!(
            check(json!({"code": "x=1"})).unwrap().timeout,
            Duration::from_secs(30)
        );
    }

    #[test]
    fn refuses_bad_arguments_with_specific_messages() {
        for (arguments, expected) in [
            (json!({}), "\"code\" is a required property"),
            (json!({"code": 5}), "'code': 5 is not of type \"string\""),
            (
                json!({"code": "x", "timeout": "5"}),
                "'timeout': \"5\" is not of type \"integer\"",
            ),
            (
                json!({"code": "x", "timeout": 500}),
                "'timeout': 500 is greater than the maximum of 120",
            ),
            (
                json!({"code": "x", "timeout": 0}),
                "'timeout': 0 is less than the minimum of 1",
            ),
            (
                json!({"code": "x", "timeout": 1.5}),
                "'timeout': 1.5 is not of type \"integer\"",
            ),
            (
                json!({"code": "x", "servers": "github"}),
                "'servers': \"github\" is not of type \"array\"",
            ),
            (
                json!({"code": "x", "servers": [1]}),
                "'servers/0': 1 is not of type \"string\"",
            ),
            (json!({"code": "   \n"}), "Missing 'code' argument"),
        ] {
            let error = check(arguments.clone()).unwrap_err();
            assert!(error.contains(expected), "{arguments}: {error}");
        }
        let big = "#".repeat(config().max_code_bytes + 1);
        let error = check(json!({"code": big})).unwrap_err();
        assert!(error.contains("MCP_BRIDGE_MAX_CODE_BYTES"), "{error}");
    }
}
