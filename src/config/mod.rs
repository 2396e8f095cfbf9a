//! Every setting of the bridge, in two layers with one home:
//!
//! - the `MCP_BRIDGE_*` environment ([`Config`], this file): the sandbox, limits, directories, output mode;
//! - the bridge's config files ([`settings`]): the user's `config.toml` and the project's
//!   `.mcp-bridge/config.toml`: plugin entries and order, plugin call `[limits]`, the `[audit]` log.
//!
//! Environment values are parsed and checked once at start-up. The seed read some of these with a bare `int()`,
//! so `MCP_BRIDGE_TIMEOUT=30s` (the value its own README showed) stopped the server at import. Here every value
//! is parsed up front, durations accept `30` and `30s`, and a bad value stops start-up with a message naming the
//! variable.

pub mod settings;

/// The sandbox image when neither MCP_BRIDGE_IMAGE, the user's config file nor MCP_BRIDGE_DEFAULT_IMAGE names one.
pub const DEFAULT_IMAGE: &str = "python:3.12-slim";

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use crate::sandbox::protections::Protection;

/// A `MCP_BRIDGE_*` variable that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable's name.
    pub var: &'static str,
    /// The value it had.
    pub value: String,
    /// Why it was refused, and what is accepted.
    pub reason: String,
}

/// Which engine API socket to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// `DOCKER_HOST`, else Docker's socket, else Podman's.
    Auto,
    /// Docker's socket (`DOCKER_HOST` honoured).
    Docker,
    /// Podman's Docker-compatible service socket (`DOCKER_HOST` honoured).
    Podman,
}

/// The largest `MCP_BRIDGE_MAX_ATTACHMENT`: a file of this size still fits one frame
/// ([`crate::sandbox::protocol::MAX_FRAME`], 4 MiB) as base64, with room for its name: 3 MiB less 4 KiB.
pub const MAX_ATTACHMENT_LIMIT: u64 = (3 << 20) - (4 << 10);

/// The largest `MCP_BRIDGE_MAX_INPUT`: the copy lives in the sandbox's 128 MiB `/workspace`, which the code
/// needs room in too.
pub const MAX_INPUT_LIMIT: u64 = 96 << 20;

/// Everything the bridge reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `MCP_BRIDGE_RUNTIME`: docker | podman (default: auto); `runsc` (gVisor) or `runc` set the OCI runtime.
    pub runtime: RuntimeKind,
    /// `MCP_BRIDGE_OCI_RUNTIME` (or `MCP_BRIDGE_RUNTIME=runsc`): the engine-side OCI runtime every sandbox runs
    /// with, such as `runsc` (gVisor); default the engine's.
    pub oci_runtime: Option<String>,
    /// `MCP_BRIDGE_IMAGE`, else `[sandbox] image` in the user's config file, else `MCP_BRIDGE_DEFAULT_IMAGE`,
    /// else [`DEFAULT_IMAGE`]: the sandbox image.
    pub image: String,
    /// `MCP_BRIDGE_TIMEOUT`: the default per-run timeout.
    pub default_timeout: Duration,
    /// `MCP_BRIDGE_MAX_TIMEOUT`: the largest timeout a call may ask for (the schema's `maximum`).
    pub max_timeout: Duration,
    /// `MCP_BRIDGE_MAX_TASK_TIMEOUT`: the largest timeout of a call run as a task (default 1 h; at least
    /// `max_timeout`).
    pub max_task_timeout: Duration,
    /// `MCP_BRIDGE_TASK_AFTER`: a call from a client with the tasks extension that has not finished this soon
    /// becomes a task (default 1 s; 0: at once).
    pub task_after: Duration,
    /// `MCP_BRIDGE_MEMORY`: memory limit in bytes (swap is set equal, so no swap).
    pub memory_bytes: i64,
    /// `MCP_BRIDGE_PIDS`: process/thread limit.
    pub pids: i64,
    /// `MCP_BRIDGE_CPUS`: CPU quota in CPUs (default 1; `0` means no limit).
    pub cpus: f64,
    /// `MCP_BRIDGE_CONTAINER_USER`: `uid:gid` the code runs as.
    pub container_user: String,
    /// `MCP_BRIDGE_MAX_CONCURRENCY`: containers running at once; further calls queue.
    pub max_concurrency: usize,
    /// `MCP_BRIDGE_POOL_SIZE`: warm containers kept ready by `bridge serve` (default 2; 0 turns the pool off).
    /// They count in `max_concurrency`.
    pub pool_size: usize,
    /// `MCP_BRIDGE_SESSION_IDLE`: a session unused this long ends (default 15 min).
    pub session_idle: Duration,
    /// `MCP_BRIDGE_MAX_SESSIONS`: sessions open at once (default 8; 0 turns sessions off).
    pub max_sessions: usize,
    /// `MCP_BRIDGE_APPROVAL_TIMEOUT`: how long a policy's question waits for the user's answer before it counts
    /// as a denial (default 2 min).
    pub approval_wait: Duration,
    /// `MCP_BRIDGE_QUEUE_WAIT`: how long a run waits for a container slot (all `MCP_BRIDGE_MAX_CONCURRENCY` in use)
    /// before it is refused as busy (default 1 min; 0: refused at once).
    pub queue_wait: Duration,
    /// `MCP_BRIDGE_ALLOW_WEAKER`: the protections (`memory`, `swap`, `pids`, `cpu`, `seccomp`) the user accepts
    /// losing on an engine that cannot apply them; any other shortfall refuses the engine (default: none).
    pub allow_weaker: BTreeSet<Protection>,
    /// `MCP_BRIDGE_TOOL_TIMEOUT`: how long one upstream tool call may take before it is cancelled and fails with
    /// an error naming the setting; the run goes on (default 1 min).
    pub tool_timeout: Duration,
    /// `MCP_BRIDGE_HTTP_MAX_REQUESTS`: requests one HTTP client may have in flight (`serve --http`; default 64).
    pub http_max_requests: usize,
    /// `MCP_BRIDGE_POOL_MAX_IDLE`: how long a warm container waits for a run before it is replaced.
    pub pool_max_idle: Duration,
    /// `MCP_BRIDGE_MAX_OUTPUT`: bytes of stdout + stderr kept for the response; the rest is cut with a marker.
    pub max_output_bytes: usize,
    /// `MCP_BRIDGE_OUTPUT_LIMIT`: bytes of output after which a run is stopped as a flood.
    pub output_limit_bytes: u64,
    /// `MCP_BRIDGE_MAX_CODE_BYTES`: the largest `code` accepted.
    pub max_code_bytes: usize,
    /// `MCP_BRIDGE_MAX_TOOL_RESULT`: the largest message an upstream server may send (a tool result); a larger
    /// one is an error for that call.
    pub max_tool_result_bytes: usize,
    /// `MCP_BRIDGE_MAX_ATTACHMENT`: the largest file a run may hand back with its result (default 2 MiB; at most
    /// [`MAX_ATTACHMENT_LIMIT`], since a file travels in one frame as base64).
    pub max_attachment_bytes: u64,
    /// `MCP_BRIDGE_MAX_ATTACHMENTS`: bytes of files one result may carry in all (default 8 MiB).
    pub max_attachments_bytes: u64,
    /// `MCP_BRIDGE_MAX_INPUT`: bytes of the user's input directories (`[inputs]`) copied into one run in all
    /// (default 32 MiB, at most [`MAX_INPUT_LIMIT`]).
    pub max_input_bytes: u64,
    /// `MCP_BRIDGE_STORE_QUOTA`: bytes the sandbox's store (memory entries and saved tools) may use in all.
    pub store_quota_bytes: u64,
    /// `MCP_BRIDGE_OUTPUT_MODE`: the response encoder's name.
    pub output_mode: String,
    /// `MCP_BRIDGE_STATE_DIR`: where the bridge keeps state.
    pub state_dir: PathBuf,
    /// `MCP_BRIDGE_ALLOW_SELF_SERVER`: keep config entries that point at this bridge.
    pub allow_self_server: bool,
    /// `MCP_BRIDGE_RUNTIME_IDLE_TIMEOUT`: accepted for seed compatibility; the bridge never starts or stops
    /// Podman machines, so it has no effect.
    pub runtime_idle_timeout: Duration,
    /// `MCP_BRIDGE_LOG_LEVEL`: a `tracing` filter (default `info`).
    pub log_level: String,
    /// `MCP_BRIDGE_CONFIG`: the bridge config file (plugins); else the project's, else the user's, if present.
    pub config_file: Option<PathBuf>,
    /// `MCP_BRIDGE_PLUGIN_PATH`: more plugin directories (`:`-separated), after the user and project ones.
    pub plugin_path: Vec<PathBuf>,
    /// `MCP_BRIDGE_CACHE_DIR`: where precompiled plugins are kept (`off` disables the cache).
    pub cache_dir: Option<PathBuf>,
    /// The user's home (`HOME`).
    pub home: PathBuf,
    /// The user's config directory (`XDG_CONFIG_HOME`, else `~/.config`).
    pub config_home: PathBuf,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    /// Reads settings from `vars` (the environment, or a test's map). Empty values count as unset.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        // MCP_BRIDGE_RUNTIME names the engine (the seed's meaning) or, for gVisor, the OCI runtime the engine
        // runs every sandbox with.
        let (runtime, runtime_oci) = match get("MCP_BRIDGE_RUNTIME").map(str::to_ascii_lowercase) {
            None => (RuntimeKind::Auto, None),
            Some(v) if v == "docker" => (RuntimeKind::Docker, None),
            Some(v) if v == "podman" => (RuntimeKind::Podman, None),
            Some(v) if v == "runsc" || v == "gvisor" => (RuntimeKind::Auto, Some("runsc")),
            Some(v) if v == "runc" => (RuntimeKind::Auto, Some("runc")),
            Some(v) => {
                return Err(err(
                    "MCP_BRIDGE_RUNTIME",
                    &v,
                    "expected an engine (docker, podman) or an OCI runtime (runsc for gVisor, runc)",
                ));
            }
        };
        let oci_runtime = match (runtime_oci, get("MCP_BRIDGE_OCI_RUNTIME")) {
            (Some(named), Some(given)) if named != given => {
                return Err(err(
                    "MCP_BRIDGE_OCI_RUNTIME",
                    given,
                    &format!("disagrees with MCP_BRIDGE_RUNTIME={named}; set only one of them"),
                ));
            }
            (named, given) => given.or(named).map(str::to_string),
        };
        let default_timeout = duration(get("MCP_BRIDGE_TIMEOUT"), "MCP_BRIDGE_TIMEOUT", 30)?;
        let max_timeout = duration(get("MCP_BRIDGE_MAX_TIMEOUT"), "MCP_BRIDGE_MAX_TIMEOUT", 120)?;
        for (var, value) in [
            ("MCP_BRIDGE_TIMEOUT", default_timeout),
            ("MCP_BRIDGE_MAX_TIMEOUT", max_timeout),
        ] {
            if value.is_zero() {
                return Err(err(var, "0", "must be at least 1 second"));
            }
        }
        if default_timeout > max_timeout {
            return Err(err(
                "MCP_BRIDGE_TIMEOUT",
                &format!("{}s", default_timeout.as_secs()),
                &format!(
                    "is above MCP_BRIDGE_MAX_TIMEOUT ({}s)",
                    max_timeout.as_secs()
                ),
            ));
        }

        let max_task_timeout = duration(
            get("MCP_BRIDGE_MAX_TASK_TIMEOUT"),
            "MCP_BRIDGE_MAX_TASK_TIMEOUT",
            3600.max(max_timeout.as_secs()),
        )?;
        if max_task_timeout < max_timeout {
            return Err(err(
                "MCP_BRIDGE_MAX_TASK_TIMEOUT",
                &format!("{}s", max_task_timeout.as_secs()),
                &format!(
                    "is below MCP_BRIDGE_MAX_TIMEOUT ({}s)",
                    max_timeout.as_secs()
                ),
            ));
        }
        let task_after = duration(get("MCP_BRIDGE_TASK_AFTER"), "MCP_BRIDGE_TASK_AFTER", 1)?;

        let memory_bytes = byte_size(get("MCP_BRIDGE_MEMORY"), "MCP_BRIDGE_MEMORY", "512m")?;
        // Below ~6 MiB the engine refuses to create the container; say so here instead.
        if memory_bytes < 16 << 20 {
            return Err(err(
                "MCP_BRIDGE_MEMORY",
                get("MCP_BRIDGE_MEMORY").unwrap_or_default(),
                "must be at least 16m",
            ));
        }
        let pids = integer(get("MCP_BRIDGE_PIDS"), "MCP_BRIDGE_PIDS", 128, 8)?;
        let cpus = match get("MCP_BRIDGE_CPUS") {
            None => 1.0,
            Some(v) => match v.parse::<f64>() {
                Ok(c) if c.is_finite() && c >= 0.0 => c,
                _ => {
                    return Err(err(
                        "MCP_BRIDGE_CPUS",
                        v,
                        "expected a number of CPUs such as 1 or 0.5 (0 = no limit)",
                    ));
                }
            },
        };
        let container_user = match get("MCP_BRIDGE_CONTAINER_USER") {
            None => "65534:65534".to_string(),
            Some(v) => container_user(v)?,
        };
        let max_concurrency = integer(
            get("MCP_BRIDGE_MAX_CONCURRENCY"),
            "MCP_BRIDGE_MAX_CONCURRENCY",
            4,
            1,
        )? as usize;
        let pool_size =
            integer(get("MCP_BRIDGE_POOL_SIZE"), "MCP_BRIDGE_POOL_SIZE", 2, 0)? as usize;
        let pool_max_idle = duration(
            get("MCP_BRIDGE_POOL_MAX_IDLE"),
            "MCP_BRIDGE_POOL_MAX_IDLE",
            300,
        )?;
        if pool_max_idle.is_zero() {
            return Err(err(
                "MCP_BRIDGE_POOL_MAX_IDLE",
                "0",
                "must be at least 1 second (MCP_BRIDGE_POOL_SIZE=0 turns the pool off)",
            ));
        }
        let session_idle = duration(
            get("MCP_BRIDGE_SESSION_IDLE"),
            "MCP_BRIDGE_SESSION_IDLE",
            900,
        )?;
        if session_idle.is_zero() {
            return Err(err(
                "MCP_BRIDGE_SESSION_IDLE",
                "0",
                "must be at least 1 second (MCP_BRIDGE_MAX_SESSIONS=0 turns sessions off)",
            ));
        }
        let approval_wait = duration(
            get("MCP_BRIDGE_APPROVAL_TIMEOUT"),
            "MCP_BRIDGE_APPROVAL_TIMEOUT",
            120,
        )?;
        if approval_wait.is_zero() {
            return Err(err(
                "MCP_BRIDGE_APPROVAL_TIMEOUT",
                "0",
                "must be at least 1 second (a policy that should not ask can deny instead)",
            ));
        }
        let queue_wait = duration(get("MCP_BRIDGE_QUEUE_WAIT"), "MCP_BRIDGE_QUEUE_WAIT", 60)?;
        let allow_weaker = match get("MCP_BRIDGE_ALLOW_WEAKER") {
            Some(value) => Protection::parse_list(value)
                .map_err(|reason| err("MCP_BRIDGE_ALLOW_WEAKER", value, &reason))?,
            None => BTreeSet::new(),
        };
        let tool_timeout = duration(
            get("MCP_BRIDGE_TOOL_TIMEOUT"),
            "MCP_BRIDGE_TOOL_TIMEOUT",
            60,
        )?;
        if tool_timeout.is_zero() {
            return Err(err(
                "MCP_BRIDGE_TOOL_TIMEOUT",
                "0",
                "must be at least 1 second",
            ));
        }
        let http_max_requests = integer(
            get("MCP_BRIDGE_HTTP_MAX_REQUESTS"),
            "MCP_BRIDGE_HTTP_MAX_REQUESTS",
            64,
            1,
        )? as usize;
        let max_sessions = integer(
            get("MCP_BRIDGE_MAX_SESSIONS"),
            "MCP_BRIDGE_MAX_SESSIONS",
            8,
            0,
        )? as usize;
        let max_output_bytes = byte_size(
            get("MCP_BRIDGE_MAX_OUTPUT"),
            "MCP_BRIDGE_MAX_OUTPUT",
            "256k",
        )? as usize;
        let output_limit_bytes = byte_size(
            get("MCP_BRIDGE_OUTPUT_LIMIT"),
            "MCP_BRIDGE_OUTPUT_LIMIT",
            "64m",
        )? as u64;
        let max_code_bytes = byte_size(
            get("MCP_BRIDGE_MAX_CODE_BYTES"),
            "MCP_BRIDGE_MAX_CODE_BYTES",
            "1m",
        )? as usize;
        let max_tool_result_bytes = byte_size(
            get("MCP_BRIDGE_MAX_TOOL_RESULT"),
            "MCP_BRIDGE_MAX_TOOL_RESULT",
            "16m",
        )? as usize;
        let max_attachment_bytes = byte_size(
            get("MCP_BRIDGE_MAX_ATTACHMENT"),
            "MCP_BRIDGE_MAX_ATTACHMENT",
            "2m",
        )? as u64;
        if max_attachment_bytes > MAX_ATTACHMENT_LIMIT {
            return Err(err(
                "MCP_BRIDGE_MAX_ATTACHMENT",
                get("MCP_BRIDGE_MAX_ATTACHMENT").unwrap_or_default(),
                "at most 3068k (3 MiB less 4 KiB): a file travels from the sandbox in one frame, as base64",
            ));
        }
        let max_attachments_bytes = byte_size(
            get("MCP_BRIDGE_MAX_ATTACHMENTS"),
            "MCP_BRIDGE_MAX_ATTACHMENTS",
            "8m",
        )? as u64;
        let max_input_bytes =
            byte_size(get("MCP_BRIDGE_MAX_INPUT"), "MCP_BRIDGE_MAX_INPUT", "32m")? as u64;
        if max_input_bytes > MAX_INPUT_LIMIT {
            return Err(err(
                "MCP_BRIDGE_MAX_INPUT",
                get("MCP_BRIDGE_MAX_INPUT").unwrap_or_default(),
                "at most 96m: the copy lives in the sandbox's 128 MiB /workspace",
            ));
        }
        let store_quota_bytes = byte_size(
            get("MCP_BRIDGE_STORE_QUOTA"),
            "MCP_BRIDGE_STORE_QUOTA",
            "64m",
        )? as u64;
        let output_mode = get("MCP_BRIDGE_OUTPUT_MODE")
            .unwrap_or("compact")
            .to_ascii_lowercase();
        // Encoders are plugins, so the name is checked against what loaded (Bridge::new), not here.
        let state_dir = match get("MCP_BRIDGE_STATE_DIR") {
            Some(v) => expand_home(v, vars),
            None => default_state_dir(vars),
        };
        let allow_self_server =
            match get("MCP_BRIDGE_ALLOW_SELF_SERVER").map(str::to_ascii_lowercase) {
                None => false,
                Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => true,
                Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => false,
                Some(v) => {
                    return Err(err(
                        "MCP_BRIDGE_ALLOW_SELF_SERVER",
                        &v,
                        "expected 1/true/yes or 0/false/no",
                    ));
                }
            };
        let runtime_idle_timeout = duration(
            get("MCP_BRIDGE_RUNTIME_IDLE_TIMEOUT"),
            "MCP_BRIDGE_RUNTIME_IDLE_TIMEOUT",
            300,
        )?;
        let log_level = get("MCP_BRIDGE_LOG_LEVEL").unwrap_or("info").to_string();
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(err(
                "MCP_BRIDGE_LOG_LEVEL",
                &log_level,
                "expected a level (error, warn, info, debug, trace) or a tracing filter",
            ));
        }

        let home = home(vars);
        let config_home = match vars.get("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => home.join(".config"),
        };
        let cache_dir = match get("MCP_BRIDGE_CACHE_DIR") {
            Some(v) if v.eq_ignore_ascii_case("off") => None,
            Some(v) => Some(expand_home(v, vars)),
            None => Some(match vars.get("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
                Some(dir) => PathBuf::from(dir).join("mcp-bridge/components"),
                None => home.join(".cache/mcp-bridge/components"),
            }),
        };
        let plugin_path = get("MCP_BRIDGE_PLUGIN_PATH")
            .map(|v| {
                v.split(':')
                    .filter(|p| !p.is_empty())
                    .map(|p| expand_home(p, vars))
                    .collect()
            })
            .unwrap_or_default();

        let config_file = get("MCP_BRIDGE_CONFIG").map(|v| expand_home(v, vars));
        // The user's explicit choice, then what `bridge image build` recorded, then the default a launcher such
        // as scripts/bridge prepared (the offline image), then the stock one.
        let image = match get("MCP_BRIDGE_IMAGE") {
            Some(image) => image.to_string(),
            None => settings::user_image(config_file.as_deref(), &config_home)
                .or_else(|| get("MCP_BRIDGE_DEFAULT_IMAGE").map(String::from))
                .unwrap_or_else(|| DEFAULT_IMAGE.to_string()),
        };

        Ok(Config {
            runtime,
            oci_runtime,
            image,
            default_timeout,
            max_timeout,
            max_task_timeout,
            task_after,
            memory_bytes,
            pids,
            cpus,
            container_user,
            max_concurrency,
            pool_size,
            pool_max_idle,
            session_idle,
            max_sessions,
            approval_wait,
            queue_wait,
            allow_weaker,
            tool_timeout,
            http_max_requests,
            max_output_bytes,
            output_limit_bytes,
            max_code_bytes,
            max_tool_result_bytes,
            max_attachment_bytes,
            max_attachments_bytes,
            max_input_bytes,
            store_quota_bytes,
            output_mode,
            state_dir,
            allow_self_server,
            runtime_idle_timeout,
            log_level,
            config_file,
            plugin_path,
            cache_dir,
            home,
            config_home,
        })
    }
}

/// A numeric `uid[:gid]`, never root: compared as numbers, so `00:0` or `0000` is root too.
fn container_user(value: &str) -> Result<String, ConfigError> {
    const VAR: &str = "MCP_BRIDGE_CONTAINER_USER";
    // Digits only (no sign, no spaces), and small enough to be an id.
    let numeric = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    let ids: Option<Vec<u32>> = value.split(':').map(numeric).collect();
    let Some(ids) = ids.filter(|ids| ids.len() <= 2) else {
        return Err(err(
            VAR,
            value,
            "expected numeric uid:gid such as 65534:65534",
        ));
    };
    if ids[0] == 0 {
        return Err(err(VAR, value, "the sandbox never runs as root (uid 0)"));
    }
    // Normalised, so the engine and the tmpfs options see plain numbers.
    Ok(ids.iter().map(u32::to_string).collect::<Vec<_>>().join(":"))
}

fn err(var: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError {
        var,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// `30`, `30s`, `2m`, `1h` → a whole number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim().to_ascii_lowercase();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text.as_str(), ""),
    };
    let n: u64 = digits.parse().ok()?;
    let factor = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" => 3600,
        _ => return None,
    };
    n.checked_mul(factor).map(Duration::from_secs)
}

fn duration(
    value: Option<&str>,
    var: &'static str,
    default_secs: u64,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(Duration::from_secs(default_secs)),
        Some(v) => parse_duration(v)
            .ok_or_else(|| err(var, v, "expected whole seconds such as 30, 30s, 2m or 1h")),
    }
}

/// `512m`, `1g`, `256k`, `1048576` → bytes (binary units, as the engine reads them).
pub fn parse_byte_size(text: &str) -> Option<i64> {
    let text = text.trim().to_ascii_lowercase();
    let text = text
        .strip_suffix("ib")
        .or_else(|| text.strip_suffix('b'))
        .unwrap_or(&text);
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let n: i64 = digits.parse().ok()?;
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        _ => return None,
    };
    n.checked_mul(1i64 << shift).filter(|v| *v > 0)
}

fn byte_size(value: Option<&str>, var: &'static str, default: &str) -> Result<i64, ConfigError> {
    let text = value.unwrap_or(default);
    parse_byte_size(text).ok_or_else(|| {
        err(
            var,
            text,
            "expected a positive size such as 512m, 1g, 256k or a byte count",
        )
    })
}

fn integer(
    value: Option<&str>,
    var: &'static str,
    default: i64,
    min: i64,
) -> Result<i64, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(err(
                var,
                v,
                &format!("expected a whole number of at least {min}"),
            )),
        },
    }
}

fn home(vars: &HashMap<String, String>) -> PathBuf {
    vars.get("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn expand_home(path: &str, vars: &HashMap<String, String>) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home(vars).join(rest),
        None if path == "~" => home(vars),
        None => PathBuf::from(path),
    }
}

fn default_state_dir(vars: &HashMap<String, String>) -> PathBuf {
    match vars.get("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("mcp-bridge"),
        None => home(vars).join(".local/state/mcp-bridge"),
    }
}

#[cfg(test)]
mod tests;
