//! The settings read from the environment: defaults, precedence and refusals.
use super::*;

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_map(
        &pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn defaults_match_the_seed() {
    let c = config(&[]).unwrap();
    assert_eq!(c.image, "python:3.12-slim");
    assert_eq!(c.default_timeout, Duration::from_secs(30));
    assert_eq!(c.max_timeout, Duration::from_secs(120));
    assert_eq!(c.memory_bytes, 512 << 20);
    assert_eq!(c.pids, 128);
    assert_eq!(c.container_user, "65534:65534");
    assert_eq!(c.output_mode, "compact");
    assert_eq!(c.max_tool_result_bytes, 16 << 20);
    assert_eq!(c.store_quota_bytes, 64 << 20);
    let c = config(&[("MCP_BRIDGE_CONTAINER_USER", "01000:0100")]).unwrap();
    assert_eq!(c.container_user, "1000:100");
}

#[test]
fn the_image_is_the_users_choice_then_the_recorded_one_then_the_launchers_default() {
    let dir = tempfile::TempDir::new().unwrap();
    let file = dir.path().join("config.toml");
    let path = file.display().to_string();
    let launcher = ("MCP_BRIDGE_DEFAULT_IMAGE", "offline:1");
    assert_eq!(config(&[launcher]).unwrap().image, "offline:1");
    std::fs::write(&file, "[sandbox]\nimage = \"sha256:built\"\n").unwrap();
    let recorded = ("MCP_BRIDGE_CONFIG", path.as_str());
    assert_eq!(config(&[launcher, recorded]).unwrap().image, "sha256:built");
    let chosen = ("MCP_BRIDGE_IMAGE", "mine:2");
    assert_eq!(
        config(&[launcher, recorded, chosen]).unwrap().image,
        "mine:2"
    );
}

#[test]
fn durations_accept_plain_and_suffixed_seconds() {
    for (text, secs) in [
        ("30", 30),
        ("30s", 30),
        ("2m", 120),
        (" 45 ", 45),
        ("1h", 3600),
    ] {
        assert_eq!(
            parse_duration(text),
            Some(Duration::from_secs(secs)),
            "{text}"
        );
    }
    assert_eq!(parse_duration("abc"), None);
    assert_eq!(parse_duration("-3"), None);
    let c = config(&[
        ("MCP_BRIDGE_TIMEOUT", "30s"),
        ("MCP_BRIDGE_MAX_TIMEOUT", "5m"),
    ])
    .unwrap();
    assert_eq!(c.default_timeout.as_secs(), 30);
    assert_eq!(c.max_timeout.as_secs(), 300);
}

#[test]
fn bad_values_name_the_variable() {
    for (var, value) in [
        ("MCP_BRIDGE_TIMEOUT", "soon"),
        ("MCP_BRIDGE_TIMEOUT", "0"),
        ("MCP_BRIDGE_MAX_TIMEOUT", "1x"),
        ("MCP_BRIDGE_MEMORY", "lots"),
        ("MCP_BRIDGE_PIDS", "-1"),
        ("MCP_BRIDGE_CPUS", "many"),
        ("MCP_BRIDGE_RUNTIME", "lxc"),
        ("MCP_BRIDGE_CONTAINER_USER", "root"),
        ("MCP_BRIDGE_CONTAINER_USER", "0:0"),
        ("MCP_BRIDGE_CONTAINER_USER", "00:0"),
        ("MCP_BRIDGE_CONTAINER_USER", "0000"),
        ("MCP_BRIDGE_CONTAINER_USER", "1:2:3"),
        ("MCP_BRIDGE_CONTAINER_USER", "1:"),
        ("MCP_BRIDGE_CONTAINER_USER", "99999999999"),
        ("MCP_BRIDGE_MAX_TOOL_RESULT", "big"),
        ("MCP_BRIDGE_STORE_QUOTA", "0"),
        ("MCP_BRIDGE_MAX_CONCURRENCY", "0"),
        ("MCP_BRIDGE_ALLOW_SELF_SERVER", "maybe"),
        ("MCP_BRIDGE_SESSION_IDLE", "0"),
        ("MCP_BRIDGE_MAX_SESSIONS", "-1"),
        ("MCP_BRIDGE_ALLOW_WEAKER", "memory,network"),
    ] {
        let error = config(&[(var, value)]).unwrap_err();
        assert_eq!(error.var, var);
        assert!(error.to_string().starts_with(var), "{error}");
    }
    let error = config(&[("MCP_BRIDGE_TIMEOUT", "200")]).unwrap_err();
    assert!(
        error.to_string().contains("MCP_BRIDGE_MAX_TIMEOUT"),
        "{error}"
    );
}

#[test]
fn the_runtime_setting_names_an_engine_or_gvisor() {
    let gvisor = config(&[("MCP_BRIDGE_RUNTIME", "runsc")]).unwrap();
    assert_eq!(gvisor.runtime, RuntimeKind::Auto);
    assert_eq!(gvisor.oci_runtime.as_deref(), Some("runsc"));
    let podman = config(&[("MCP_BRIDGE_RUNTIME", "podman")]).unwrap();
    assert_eq!(
        (podman.runtime, podman.oci_runtime),
        (RuntimeKind::Podman, None)
    );
    let both = config(&[
        ("MCP_BRIDGE_RUNTIME", "gvisor"),
        ("MCP_BRIDGE_OCI_RUNTIME", "runsc"),
    ])
    .unwrap();
    assert_eq!(both.oci_runtime.as_deref(), Some("runsc"));
    let error = config(&[
        ("MCP_BRIDGE_RUNTIME", "runsc"),
        ("MCP_BRIDGE_OCI_RUNTIME", "runc"),
    ])
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("disagrees with MCP_BRIDGE_RUNTIME=runsc"),
        "{error}"
    );
}

#[test]
fn sizes_use_binary_units() {
    assert_eq!(parse_byte_size("512m"), Some(512 << 20));
    assert_eq!(parse_byte_size("1g"), Some(1 << 30));
    assert_eq!(parse_byte_size("256KiB"), Some(256 << 10));
    assert_eq!(parse_byte_size("100"), Some(100));
    assert_eq!(parse_byte_size("0"), None);
    assert_eq!(parse_byte_size("1t"), None);
}

#[test]
fn the_queue_wait_and_the_tool_timeout_have_defaults_and_refuse_what_cannot_work() {
    let c = config(&[]).unwrap();
    assert_eq!(c.queue_wait, Duration::from_secs(60));
    assert_eq!(c.tool_timeout, Duration::from_secs(60));
    let c = config(&[
        ("MCP_BRIDGE_QUEUE_WAIT", "0"),
        ("MCP_BRIDGE_TOOL_TIMEOUT", "5m"),
    ])
    .unwrap();
    assert_eq!(c.queue_wait, Duration::ZERO);
    assert_eq!(c.tool_timeout, Duration::from_secs(300));
    let refused = config(&[("MCP_BRIDGE_TOOL_TIMEOUT", "0")]).unwrap_err();
    assert!(
        refused.to_string().contains("MCP_BRIDGE_TOOL_TIMEOUT"),
        "{refused}"
    );
    let refused = config(&[("MCP_BRIDGE_QUEUE_WAIT", "soon")]).unwrap_err();
    assert!(
        refused.to_string().contains("MCP_BRIDGE_QUEUE_WAIT"),
        "{refused}"
    );
}
