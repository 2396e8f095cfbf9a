//! The `run_python` arguments: the seed's input schema (derived from [`RunPythonArguments`]), and turning raw
//! JSON arguments into a checked [`RunRequest`] with a clear, specific message for anything wrong. The MCP tool
//! and `bridge run` both come through here, so they refuse exactly the same things.

use std::sync::OnceLock;
use std::time::Duration;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

use crate::config::Config;

/// What the seed's schema said about `code`, with the bridge's size limit added.
const CODE_DESCRIPTION: &str = "Python source code to execute. Top-level await works. Call \
    runtime.capability_summary() inside the sandbox for the manual. Python Sandbox. 1. DISCOVER: \
    `runtime.discovered_servers()`, `runtime.search_tool_docs('query')`. 2. CALL: `await mcp_server.tool()`. \
    Run `print(runtime.capability_summary())` for the full manual.";

/// What `session` says (the idle time is the configuration's: [`input_schema`]).
const SESSION_DESCRIPTION: &str = "Optional session name. Calls naming the same session run one after another \
    in one Python process that keeps variables, imports and files (/workspace, /tmp) between calls: use one to \
    build on earlier results (loaded data, a parsed file) without recomputing them. Omit it for a fresh, \
    isolated container per call. An exception keeps the session; a timeout, a memory kill or \
    runtime.end_session() ends it, and the result says so.";

/// Checked arguments of one `run_python` call.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    /// The source, never blank, within the size limit.
    pub code: String,
    /// Requested servers, de-duplicated in order.
    pub servers: Vec<String>,
    /// The deadline, within 1..=`MCP_BRIDGE_MAX_TIMEOUT`.
    pub timeout: Duration,
    /// The session to run in, when the call names one.
    pub session: Option<String>,
}

/// The `run_python` arguments as the tool declares them: the tool's `inputSchema` is derived from this type
/// ([`input_schema`]). Nothing is deserialised into it: [`ArgumentChecker::parse`] checks the raw JSON against
/// that schema, so refusals read like the seed's validation errors, and then reads the checked JSON.
#[derive(Debug, Clone, JsonSchema)]
pub struct RunPythonArguments {
    /// The Python source (its declared description gets the configured size limit added).
    #[schemars(description = CODE_DESCRIPTION)]
    pub code: String,
    /// Servers to load for the run. (`default` + `skip_serializing_if` are for schemars: optional, with no
    /// `default` value declared.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        description = "Optional list of MCP servers to make available as mcp_<name> proxies"
    )]
    pub servers: Vec<String>,
    /// Seconds before the run is killed (`maximum` and `default` are the configuration's: [`input_schema`]).
    #[schemars(
        range(min = 1),
        transform = optional_integer,
        description = "Execution timeout in seconds"
    )]
    pub timeout: Option<u64>,
    /// A session name: letters, digits, `_`, `-`, `.`, at most 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        transform = optional_string,
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
        description = SESSION_DESCRIPTION
    )]
    pub session: Option<String>,
}

/// `Option<String>` is declared `{"type": ["string", "null"]}`; leaving the argument out is how it is omitted.
fn optional_string(schema: &mut Schema) {
    schema.insert("type".into(), "string".into());
}

/// schemars declares an `Option<u64>` as `{"type": ["integer", "null"], "format": "uint64"}`; the seed's schema
/// says `integer` (leaving the argument out is how it is omitted, `null` is refused) and has no `format`.
fn optional_integer(schema: &mut Schema) {
    schema.insert("type".into(), "integer".into());
    schema.remove("format");
}

/// The tool's `inputSchema`: the seed's, derived from [`RunPythonArguments`], with the limits of `config`
/// (the size limit in `code`'s description, `timeout`'s `maximum` and `default`) filled in.
pub fn input_schema(config: &Config) -> Map<String, Value> {
    let schema = SchemaSettings::draft2020_12()
        .with(|settings| settings.meta_schema = None) // the seed declared no `$schema`
        .into_generator()
        .into_root_schema_for::<RunPythonArguments>();
    let Value::Object(mut schema) = schema.to_value() else {
        return Map::new(); // a derived struct's schema is always an object
    };
    // The Rust type's name and doc comment, not part of the seed's schema (rmcp strips them from derived
    // schemas too).
    schema.remove("title");
    schema.remove("description");
    if let Some(code) = property(&mut schema, "code") {
        let description = format!(
            "{CODE_DESCRIPTION} At most {} bytes.",
            config.max_code_bytes
        );
        code.insert("description".into(), description.into());
    }
    if let Some(timeout) = property(&mut schema, "timeout") {
        timeout.insert("maximum".into(), config.max_timeout.as_secs().into());
        timeout.insert("default".into(), config.default_timeout.as_secs().into());
    }
    if let Some(session) = property(&mut schema, "session") {
        let description = format!(
            "{SESSION_DESCRIPTION} A session unused for {} s ends; at most {} are open at once.",
            config.session_idle.as_secs(),
            config.max_sessions
        );
        session.insert("description".into(), description.into());
    }
    schema
}

/// Property `name` of an object schema.
fn property<'a>(
    schema: &'a mut Map<String, Value>,
    name: &str,
) -> Option<&'a mut Map<String, Value>> {
    schema.get_mut("properties")?.get_mut(name)?.as_object_mut()
}

/// Checks `run_python` arguments: the schema, compiled once, and the limits a schema cannot express.
pub struct ArgumentChecker {
    schema: Map<String, Value>,
    /// Compiled at the first call, not at start: until then jsonschema's code (and its regex engines) stays
    /// out of an idle bridge's memory.
    validator: OnceLock<Result<jsonschema::Validator, String>>,
    max_code_bytes: usize,
    default_timeout: Duration,
}

impl ArgumentChecker {
    /// The checker for these settings.
    pub fn new(config: &Config) -> Self {
        ArgumentChecker {
            schema: input_schema(config),
            validator: OnceLock::new(),
            max_code_bytes: config.max_code_bytes,
            default_timeout: config.default_timeout,
        }
    }

    fn validator(&self) -> Result<&jsonschema::Validator, String> {
        self.validator
            .get_or_init(|| {
                jsonschema::validator_for(&Value::Object(self.schema.clone()))
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| format!("the bridge's run_python input schema does not compile: {e}"))
    }

    /// [`ArgumentChecker::parse`], with `timeout` allowed up to `max_timeout` when given (a run as a task):
    /// a larger whole number of seconds is checked here, the rest by the schema.
    pub fn parse_within(
        &self,
        arguments: &Map<String, Value>,
        max_timeout: Option<Duration>,
    ) -> Result<RunRequest, String> {
        let asked = arguments.get("timeout").and_then(Value::as_u64);
        let (Some(max), Some(seconds @ 1..)) = (max_timeout, asked) else {
            return self.parse(arguments);
        };
        if seconds > max.as_secs() {
            return Err(format!(
                "Input validation error: 'timeout': {seconds} is greater than the maximum of {} for a run as a \
                 task (MCP_BRIDGE_MAX_TASK_TIMEOUT)",
                max.as_secs()
            ));
        }
        let mut rest = arguments.clone();
        rest.remove("timeout");
        let mut request = self.parse(&rest)?;
        request.timeout = Duration::from_secs(seconds);
        Ok(request)
    }

    /// Checks raw arguments against the schema and the bridge's limits.
    ///
    /// Errors read like the seed's (`Input validation error: 500 is greater than the maximum of 120`) and name
    /// the argument, so the model can fix its call.
    pub fn parse(&self, arguments: &Map<String, Value>) -> Result<RunRequest, String> {
        let instance = Value::Object(arguments.clone());
        let problems: Vec<String> = self
            .validator()?
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
        let session = arguments
            .get("session")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(RunRequest {
            code: code.to_string(),
            servers,
            timeout,
            session,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_derived_input_schema_is_the_seeds_with_the_configured_limits() {
        let config = Config::from_map(&std::collections::HashMap::from([
            ("MCP_BRIDGE_MAX_TIMEOUT".to_string(), "300".to_string()),
            ("MCP_BRIDGE_TIMEOUT".to_string(), "45s".to_string()),
        ]))
        .unwrap();
        let seed = json!({
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
                    "maximum": 300,
                    "default": 45,
                    "description": "Execution timeout in seconds",
                },
                "session": {
                    "type": "string",
                    "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                    "description": format!(
                        "{SESSION_DESCRIPTION} A session unused for 900 s ends; at most 8 are open at once."
                    ),
                },
            },
        });
        assert_eq!(Value::Object(input_schema(&config)), seed);
    }

    fn config() -> Config {
        Config::from_map(&Default::default()).unwrap()
    }

    fn check(arguments: Value) -> Result<RunRequest, String> {
        match arguments {
            Value::Object(map) => ArgumentChecker::new(&config()).parse(&map),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_task_may_ask_for_more_time_up_to_its_own_limit() {
        let checker = ArgumentChecker::new(&config());
        let args = |value: Value| match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let hour = Some(Duration::from_secs(3600));
        let long = args(json!({"code": "x=1", "timeout": 1800}));
        assert!(checker.parse_within(&long, None).is_err());
        assert_eq!(
            checker.parse_within(&long, hour).unwrap().timeout,
            Duration::from_secs(1800)
        );
        let too_long = checker
            .parse_within(&args(json!({"code": "x=1", "timeout": 7200})), hour)
            .unwrap_err();
        assert!(
            too_long.contains("MCP_BRIDGE_MAX_TASK_TIMEOUT"),
            "{too_long}"
        );
        // Everything else is still the schema's to refuse.
        let zero = checker
            .parse_within(&args(json!({"code": "x=1", "timeout": 0})), hour)
            .unwrap_err();
        assert!(zero.contains("less than the minimum of 1"), "{zero}");
        assert!(
            checker
                .parse_within(
                    &args(json!({"code": "x=1", "timeout": 1800, "servers": "github"})),
                    hour
                )
                .is_err()
        );
    }

    #[test]
    fn the_schema_compiles_for_the_settings_a_user_can_give() {
        // Compiled at the first call: a schema that did not compile would only show then.
        for (timeout, max_timeout) in [("1", "1"), ("30", "120"), ("3600", "86400")] {
            let config = Config::from_map(&std::collections::HashMap::from([
                ("MCP_BRIDGE_TIMEOUT".to_string(), timeout.to_string()),
                (
                    "MCP_BRIDGE_MAX_TIMEOUT".to_string(),
                    max_timeout.to_string(),
                ),
            ]))
            .unwrap();
            assert!(ArgumentChecker::new(&config).validator().is_ok());
        }
    }

    #[test]
    fn accepts_the_seed_shape() {
        let request = check(
            json!({"code": "print(1)", "servers": ["a", "b", "a"], "timeout": 5, "extra": 1}),
        )
        .unwrap();
        assert_eq!(request.servers, vec!["a", "b"]);
        assert_eq!(request.session, None);
        let named = check(json!({"code": "x", "session": "data-1.v2"})).unwrap();
        assert_eq!(named.session.as_deref(), Some("data-1.v2"));
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
            (
                json!({"code": "x", "session": "a b"}),
                "'session': \"a b\" does not match",
            ),
            (
                json!({"code": "x", "session": null}),
                "'session': null is not of type \"string\"",
            ),
        ] {
            let error = check(arguments.clone()).unwrap_err();
            assert!(error.contains(expected), "{arguments}: {error}");
        }
        let big = "#".repeat(config().max_code_bytes + 1);
        let error = check(json!({"code": big})).unwrap_err();
        assert!(error.contains("MCP_BRIDGE_MAX_CODE_BYTES"), "{error}");
    }
}
