//! Reaching the container engine through its HTTP API (bollard; never a CLI): picking the socket, negotiating
//! the API version, and making sure the sandbox image is there.

use std::path::Path;
use std::time::Duration;

use bollard::Docker;

use super::SandboxError;
use crate::config::RuntimeKind;

/// A connected (not yet negotiated) engine client and a description of where it points.
pub struct Endpoint {
    /// The client.
    pub docker: Docker,
    /// Where it points, for messages.
    pub description: String,
}

/// Picks the engine socket: `DOCKER_HOST` if set, else Docker's or Podman's default socket.
///
/// bollard connects lazily, so this succeeds even with the engine down; the first request says so.
pub fn connect(kind: RuntimeKind, request_timeout: Duration) -> Result<Endpoint, SandboxError> {
    let docker_host = std::env::var("DOCKER_HOST").ok().filter(|v| !v.is_empty());
    let docker_socket = Path::new("/var/run/docker.sock").exists();
    let (result, description) = match (kind, docker_host) {
        (_, Some(host)) => (
            Docker::connect_with_defaults(),
            format!("DOCKER_HOST={host}"),
        ),
        (RuntimeKind::Podman, None) => (
            Docker::connect_with_podman_defaults(),
            "Podman's API socket".to_string(),
        ),
        (RuntimeKind::Auto, None) if !docker_socket => (
            Docker::connect_with_podman_defaults(),
            "Podman's API socket (no /var/run/docker.sock)".to_string(),
        ),
        (RuntimeKind::Docker | RuntimeKind::Auto, None) => (
            Docker::connect_with_unix_defaults(),
            "unix:///var/run/docker.sock".to_string(),
        ),
    };
    let docker = result.map_err(|error| SandboxError::EngineUnavailable {
        endpoint: description.clone(),
        detail: error.to_string(),
    })?;
    Ok(Endpoint {
        docker: docker.with_timeout(request_timeout),
        description,
    })
}

/// Agrees an API version with the engine (Debian's docker.io speaks 1.41; bollard defaults newer).
pub async fn negotiate(endpoint: &Endpoint) -> Result<Docker, SandboxError> {
    let unavailable = |error: bollard::errors::Error| SandboxError::EngineUnavailable {
        endpoint: endpoint.description.clone(),
        detail: error.to_string(),
    };
    let docker = endpoint
        .docker
        .clone()
        .negotiate_version()
        .await
        .map_err(unavailable)?;
    docker.ping().await.map_err(unavailable)?;
    Ok(docker)
}

/// Makes sure the engine has the OCI runtime `name` registered (`MCP_BRIDGE_RUNTIME=runsc`): without this
/// check, every run would fail at create with the engine's terse "unknown or invalid runtime name".
pub async fn ensure_runtime(docker: &Docker, name: &str) -> Result<(), SandboxError> {
    let info = docker
        .info()
        .await
        .map_err(|e| SandboxError::Engine(format!("asking the engine for its runtimes: {e}")))?;
    // An engine that does not list its runtimes (some Podman versions) is left to refuse at create.
    let Some(runtimes) = info.runtimes else {
        return Ok(());
    };
    if runtimes.contains_key(name) {
        return Ok(());
    }
    let mut available: Vec<&str> = runtimes.keys().map(String::as_str).collect();
    available.sort_unstable();
    Err(SandboxError::RuntimeMissing {
        runtime: name.to_string(),
        available: available.join(", "),
    })
}

/// Whether the engine is Podman (its version reports a "Podman Engine" component).
pub async fn is_podman(docker: &Docker) -> bool {
    docker.version().await.is_ok_and(|version| {
        version
            .components
            .unwrap_or_default()
            .iter()
            .any(|component| component.name.to_ascii_lowercase().contains("podman"))
    })
}

/// What an engine is, for `bridge doctor` and the start-up log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineFacts {
    /// `Docker` or `Podman`.
    pub kind: &'static str,
    /// The engine's own version.
    pub version: String,
    /// The API version agreed with it.
    pub api_version: String,
    /// Whether the engine runs without root (its containers' root maps to an unprivileged user).
    pub rootless: bool,
    /// Whether the engine applies seccomp profiles (it lists `name=seccomp` among its security options).
    pub seccomp: bool,
    /// The OCI runtimes it has registered, sorted.
    pub runtimes: Vec<String>,
    /// The runtime containers get unless told otherwise.
    pub default_runtime: Option<String>,
}

/// Asks a negotiated engine what it is.
pub async fn describe(docker: &Docker) -> Result<EngineFacts, SandboxError> {
    let failed = |what: &str, error: bollard::errors::Error| {
        SandboxError::Engine(format!("asking the engine for its {what}: {error}"))
    };
    let version = docker.version().await.map_err(|e| failed("version", e))?;
    let info = docker.info().await.map_err(|e| failed("settings", e))?;
    let podman = version
        .components
        .unwrap_or_default()
        .iter()
        .any(|component| component.name.to_ascii_lowercase().contains("podman"));
    let security = info.security_options.unwrap_or_default();
    let mut runtimes: Vec<String> = info.runtimes.unwrap_or_default().into_keys().collect();
    runtimes.sort();
    Ok(EngineFacts {
        kind: if podman { "Podman" } else { "Docker" },
        version: version.version.unwrap_or_else(|| "unknown".into()),
        api_version: docker.client_version().to_string(),
        rootless: security
            .iter()
            .any(|option| option.contains("name=rootless")),
        seccomp: security
            .iter()
            .any(|option| option.contains("name=seccomp")),
        runtimes,
        default_runtime: info.default_runtime,
    })
}

/// Makes sure `image` is present, pulling it (progress on stderr) when it is not, and usable as a sandbox.
pub async fn ensure_image(docker: &Docker, image: &str) -> Result<(), SandboxError> {
    let inspected = match docker.inspect_image(image).await {
        Ok(inspected) => inspected,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            tracing::info!(image, "sandbox image not present; pulling it");
            super::images::pull(docker, image).await.map_err(|detail| {
                SandboxError::ImageMissing {
                    image: image.to_string(),
                    detail,
                }
            })?
        }
        Err(error) => {
            return Err(SandboxError::Engine(format!(
                "inspecting image {image}: {error}"
            )));
        }
    };
    let volumes = inspected
        .config
        .and_then(|config| config.volumes)
        .unwrap_or_default();
    refuse_volumes(image, &volumes)
}

/// An image that declares `VOLUME`s gets an engine-made volume for each at every start: a writable disk that
/// outlives the container (Docker keeps anonymous volumes unless removed with it) and escapes the tmpfs size
/// limits. The sandbox never gets one, so such an image is refused rather than quietly weakened.
fn refuse_volumes(image: &str, volumes: &[String]) -> Result<(), SandboxError> {
    if volumes.is_empty() {
        return Ok(());
    }
    Err(SandboxError::ImageRefused {
        image: image.to_string(),
        reason: format!(
            "it declares VOLUME {}, which would give every sandbox a writable disk outside its limits; build \
             the image without VOLUME (or use the default python:3.12-slim)",
            volumes.join(", ")
        ),
    })
}

/// `<boot id>/<pid>/<start time>`: identifies this bridge process across PID reuse and reboots.
pub fn owner_id() -> String {
    owner_of(std::process::id()).unwrap_or_else(|| format!("unknown/{}/0", std::process::id()))
}

/// This machine's boot id (empty when it cannot be read): owners from another boot are gone.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_string())
        .unwrap_or_default()
}

/// The owner id a live process `pid` would have, if it exists.
pub fn owner_of(pid: u32) -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (start time) follows the parenthesised command name, which may itself contain spaces.
    let after_name = stat.rsplit_once(')')?.1;
    let start = after_name.split_whitespace().nth(19)?;
    Some(format!("{}/{pid}/{start}", boot.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_with_volumes_are_refused_by_name() {
        assert!(refuse_volumes("img", &[]).is_ok());
        let error = refuse_volumes("img", &["/data".into()]).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("img") && message.contains("VOLUME /data"),
            "{message}"
        );
    }

    #[test]
    fn owner_id_names_this_process() {
        let me = owner_id();
        assert_eq!(owner_of(std::process::id()).as_deref(), Some(me.as_str()));
        assert!(me.contains(&format!("/{}/", std::process::id())));
    }
}
