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
    /// The Unix socket's path, when it is one (for the one question bollard cannot ask: [`podman_rootless`]).
    pub unix_path: Option<String>,
}

/// Where the engine's API was found: a `DOCKER_HOST` value for bollard to read, or a Unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socket {
    /// `DOCKER_HOST` is set: bollard reads it (unix://, tcp://, with its TLS settings).
    DockerHost(String),
    /// A Unix socket.
    Unix(String),
}

/// The engine's API socket, and what it is, for messages and the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Where.
    pub socket: Socket,
    /// E.g. "rootless Podman's socket /run/user/1000/podman/podman.sock".
    pub description: String,
}

/// Whether a socket path is there for this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketState {
    /// Nothing there.
    Absent,
    /// There, but this process may not read and write it.
    NoAccess,
    /// There, and this process may connect to it.
    Usable,
}

/// The [`SocketState`] of `path` for this process (`access(2)` with its real ids).
fn socket_state(path: &Path) -> SocketState {
    use std::os::unix::ffi::OsStrExt;
    if !path.exists() {
        return SocketState::Absent;
    }
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return SocketState::NoAccess;
    };
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    let allowed = unsafe { libc::access(c_path.as_ptr(), libc::R_OK | libc::W_OK) } == 0;
    if allowed {
        SocketState::Usable
    } else {
        SocketState::NoAccess
    }
}

/// Picks the engine's API socket, the first of: `DOCKER_HOST`; `CONTAINER_HOST` (Podman's variable, a
/// `unix://` socket); then, as `kind` allows, the sockets that exist of rootful Docker
/// (`/var/run/docker.sock`), rootless Docker (`$XDG_RUNTIME_DIR/docker.sock`), rootless Podman
/// (`$XDG_RUNTIME_DIR/podman/podman.sock`) and rootful Podman (`/run/podman/podman.sock`). With none there, the
/// first the kind allows, so the error names where a user would expect it. A socket this process may not open
/// (rootful Docker's, for a user outside the `docker` group) gives way to a later one it may; if none is
/// usable, the first that exists is named, so the error is about its permissions. `env` and `state` are the
/// process environment and the filesystem, passed in so the choice can be tested.
pub fn choose_socket(
    kind: RuntimeKind,
    env: impl Fn(&str) -> Option<String>,
    state: impl Fn(&Path) -> SocketState,
) -> Result<Choice, SandboxError> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(host) = set("DOCKER_HOST") {
        return Ok(Choice {
            description: format!("DOCKER_HOST={host}"),
            socket: Socket::DockerHost(host),
        });
    }
    if let Some(host) = set("CONTAINER_HOST") {
        let Some(path) = host.strip_prefix("unix://") else {
            return Err(SandboxError::EngineUnavailable {
                endpoint: format!("CONTAINER_HOST={host}"),
                detail: "only a unix:// socket is supported (for a remote engine, forward its socket to a local \
                         path, e.g. with `ssh -L`)"
                    .into(),
            });
        };
        return Ok(Choice {
            socket: Socket::Unix(path.to_string()),
            description: format!("CONTAINER_HOST={host}"),
        });
    }
    let runtime_dir = set("XDG_RUNTIME_DIR");
    let rootless = |relative: &str| {
        runtime_dir
            .as_ref()
            .map(|dir| format!("{}/{relative}", dir.trim_end_matches('/')))
    };
    let docker = [
        Some((
            "rootful Docker's socket",
            "/var/run/docker.sock".to_string(),
        )),
        rootless("docker.sock").map(|p| ("rootless Docker's socket", p)),
    ];
    let podman = [
        rootless("podman/podman.sock").map(|p| ("rootless Podman's socket", p)),
        Some((
            "rootful Podman's socket",
            "/run/podman/podman.sock".to_string(),
        )),
    ];
    let candidates: Vec<(&str, String)> = match kind {
        RuntimeKind::Docker => docker.into_iter().flatten().collect(),
        RuntimeKind::Podman => podman.into_iter().flatten().collect(),
        RuntimeKind::Auto => docker.into_iter().chain(podman).flatten().collect(),
    };
    let first_in = |wanted: &[SocketState]| {
        candidates
            .iter()
            .find(|(_, path)| wanted.contains(&state(Path::new(path))))
    };
    let (what, path) = first_in(&[SocketState::Usable])
        .or_else(|| first_in(&[SocketState::NoAccess]))
        .or_else(|| candidates.first())
        .cloned()
        .unwrap_or(("rootful Docker's socket", "/var/run/docker.sock".into()));
    Ok(Choice {
        description: format!("{what} unix://{path}"),
        socket: Socket::Unix(path),
    })
}

/// Connects to the engine [`choose_socket`] picks in this process's environment.
///
/// bollard connects lazily, so this succeeds even with the engine down; the first request says so.
pub fn connect(kind: RuntimeKind, request_timeout: Duration) -> Result<Endpoint, SandboxError> {
    let choice = choose_socket(kind, |name| std::env::var(name).ok(), socket_state)?;
    let result = match &choice.socket {
        Socket::DockerHost(_) => Docker::connect_with_defaults(),
        Socket::Unix(path) => Docker::connect_with_unix(
            path,
            request_timeout.as_secs(),
            bollard::API_DEFAULT_VERSION,
        ),
    };
    let docker = result.map_err(|error| SandboxError::EngineUnavailable {
        endpoint: choice.description.clone(),
        detail: error.to_string(),
    })?;
    let unix_path = match choice.socket {
        Socket::Unix(path) => Some(path),
        Socket::DockerHost(host) => host.strip_prefix("unix://").map(String::from),
    };
    Ok(Endpoint {
        docker: docker.with_timeout(request_timeout),
        description: choice.description,
        unix_path,
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
pub fn ensure_runtime(info: &bollard::models::SystemInfo, name: &str) -> Result<(), SandboxError> {
    // An engine that does not list its runtimes (some Podman versions) is left to refuse at create.
    let Some(runtimes) = &info.runtimes else {
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

/// Makes `request` (a list or an inspect of containers) again while the answer names Podman's transient
/// `stopped` state: Podman 4.3's compatible API reports a container whose process just ended as `stopped` until
/// its cleanup marks it `exited` (milliseconds later), a state the Docker API does not have, and bollard then
/// fails to decode the whole answer. Asked again after 10 ms, doubling up to 250 ms, for about 5 s in all (the
/// exit status of every run on Podman inspects a container that has just exited); any other outcome is
/// returned at once.
pub async fn past_transient_states<T, F, Fut>(mut request: F) -> Result<T, bollard::errors::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, bollard::errors::Error>>,
{
    let mut waited = Duration::ZERO;
    let mut delay = Duration::from_millis(10);
    loop {
        match request().await {
            Err(bollard::errors::Error::JsonDataError { message, .. })
                if message.contains("unknown variant") && waited < Duration::from_secs(5) =>
            {
                tracing::debug!(
                    "the engine named a state bollard does not know ({message}); asking again"
                );
                tokio::time::sleep(delay).await;
                waited += delay;
                delay = (delay * 2).min(Duration::from_millis(250));
            }
            result => return result,
        }
    }
}

/// Whether `error` says the container does not exist: a 404, or Podman's 500 "… does not exist in database:
/// no such container" for one whose removal is finishing.
pub fn is_gone(error: &bollard::errors::Error) -> bool {
    match error {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        } => true,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message,
        } => message.contains("no such container"),
        _ => false,
    }
}

/// `docker.list_containers`, [past Podman's transient states](past_transient_states).
pub async fn list_containers(
    docker: &Docker,
    options: bollard::query_parameters::ListContainersOptions,
) -> Result<Vec<bollard::models::ContainerSummary>, bollard::errors::Error> {
    past_transient_states(|| docker.list_containers(Some(options.clone()))).await
}

/// `docker.inspect_container`, [past Podman's transient states](past_transient_states).
pub async fn inspect_container(
    docker: &Docker,
    id: &str,
) -> Result<bollard::models::ContainerInspectResponse, bollard::errors::Error> {
    past_transient_states(|| docker.inspect_container(id, None)).await
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

/// Whether the Podman service at the Unix socket `path` runs rootless. Its compatible `/info` says so in a field
/// of its own (`Rootless`), which bollard's model does not carry (Docker says it in `SecurityOptions`, which
/// Podman 4.3 leaves at `name=seccomp`). None when it cannot be asked. HTTP/1.0: one plain body, then the end.
pub async fn podman_rootless(path: &str) -> Option<bool> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limit = Duration::from_secs(5);
    let mut stream = tokio::time::timeout(limit, tokio::net::UnixStream::connect(path))
        .await
        .ok()?
        .ok()?;
    stream
        .write_all(b"GET /v1.41/info HTTP/1.0\r\nHost: engine\r\n\r\n")
        .await
        .ok()?;
    let mut reply = Vec::new();
    tokio::time::timeout(limit, stream.take(4 << 20).read_to_end(&mut reply))
        .await
        .ok()?
        .ok()?;
    let body_at = reply.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let info: serde_json::Value = serde_json::from_slice(reply.get(body_at..)?).ok()?;
    info.get("Rootless")?.as_bool()
}

/// Asks a negotiated engine what it is; `unix_path` is its socket's, if it is a Unix one.
pub async fn describe(
    docker: &Docker,
    unix_path: Option<&str>,
) -> Result<EngineFacts, SandboxError> {
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
        rootless: match unix_path {
            Some(path) if podman => podman_rootless(path).await.unwrap_or(false),
            _ => security
                .iter()
                .any(|option| option.contains("name=rootless")),
        },
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

    /// The choice in an environment of `vars` where only `present` sockets exist, all usable.
    fn chosen(kind: RuntimeKind, vars: &[(&str, &str)], present: &[&str]) -> String {
        chosen_among(kind, vars, present, &[])
    }

    /// The same, where the `locked` ones among `present` may not be opened.
    fn chosen_among(
        kind: RuntimeKind,
        vars: &[(&str, &str)],
        present: &[&str],
        locked: &[&str],
    ) -> String {
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let state = |path: &Path| match present.iter().find(|p| Path::new(p) == path) {
            None => SocketState::Absent,
            Some(p) if locked.contains(p) => SocketState::NoAccess,
            Some(_) => SocketState::Usable,
        };
        choose_socket(kind, env, state).unwrap().description
    }

    #[test]
    fn a_container_is_gone_on_a_404_or_podmans_no_such_container() {
        let answer =
            |status_code, message: &str| bollard::errors::Error::DockerResponseServerError {
                status_code,
                message: message.to_string(),
            };
        assert!(is_gone(&answer(404, "No such container: x")));
        assert!(is_gone(&answer(
            500,
            "container 4af5 does not exist in database: no such container"
        )));
        assert!(!is_gone(&answer(500, "internal error")));
        assert!(!is_gone(&answer(409, "removal in progress")));
    }

    #[test]
    fn a_socket_this_user_may_not_open_gives_way_to_one_it_may() {
        let xdg = [("XDG_RUNTIME_DIR", "/run/user/1001")];
        let podman_rootless = "/run/user/1001/podman/podman.sock";
        let docker = "/var/run/docker.sock";
        assert_eq!(
            chosen_among(
                RuntimeKind::Auto,
                &xdg,
                &[docker, podman_rootless],
                &[docker]
            ),
            "rootless Podman's socket unix:///run/user/1001/podman/podman.sock"
        );
        // Nothing usable: the one that exists is named, so the error is about its permissions.
        assert_eq!(
            chosen_among(RuntimeKind::Auto, &xdg, &[docker], &[docker]),
            "rootful Docker's socket unix:///var/run/docker.sock"
        );
        assert_eq!(
            chosen_among(
                RuntimeKind::Auto,
                &xdg,
                &["/run/podman/podman.sock"],
                &["/run/podman/podman.sock"]
            ),
            "rootful Podman's socket unix:///run/podman/podman.sock"
        );
        assert_eq!(
            socket_state(Path::new("/nonexistent/x.sock")),
            SocketState::Absent
        );
    }

    #[test]
    fn the_engine_socket_is_the_one_users_have() {
        let xdg = [("XDG_RUNTIME_DIR", "/run/user/1000")];
        let docker_rootless = "/run/user/1000/docker.sock";
        let podman_rootless = "/run/user/1000/podman/podman.sock";
        // An explicit choice wins, whatever exists.
        assert_eq!(
            chosen(RuntimeKind::Auto, &[("DOCKER_HOST", "tcp://h:2375")], &[]),
            "DOCKER_HOST=tcp://h:2375"
        );
        assert_eq!(
            chosen(
                RuntimeKind::Auto,
                &[("CONTAINER_HOST", "unix:///tmp/p.sock")],
                &["/var/run/docker.sock"]
            ),
            "CONTAINER_HOST=unix:///tmp/p.sock"
        );
        // Rootful Docker first, then rootless Docker, rootless Podman, rootful Podman.
        let all = [
            "/var/run/docker.sock",
            docker_rootless,
            podman_rootless,
            "/run/podman/podman.sock",
        ];
        assert_eq!(
            chosen(RuntimeKind::Auto, &xdg, &all),
            "rootful Docker's socket unix:///var/run/docker.sock"
        );
        assert_eq!(
            chosen(RuntimeKind::Auto, &xdg, &all[1..]),
            "rootless Docker's socket unix:///run/user/1000/docker.sock"
        );
        assert_eq!(
            chosen(RuntimeKind::Auto, &xdg, &all[2..]),
            "rootless Podman's socket unix:///run/user/1000/podman/podman.sock"
        );
        assert_eq!(
            chosen(RuntimeKind::Auto, &xdg, &all[3..]),
            "rootful Podman's socket unix:///run/podman/podman.sock"
        );
        // A kind keeps to its engine's sockets; with none there, the usual place is named.
        assert_eq!(
            chosen(RuntimeKind::Podman, &xdg, &all[..2]),
            "rootless Podman's socket unix:///run/user/1000/podman/podman.sock"
        );
        assert_eq!(
            chosen(RuntimeKind::Docker, &xdg, &all[2..]),
            "rootful Docker's socket unix:///var/run/docker.sock"
        );
        assert_eq!(
            chosen(RuntimeKind::Podman, &[], &[]),
            "rootful Podman's socket unix:///run/podman/podman.sock"
        );
    }

    #[test]
    fn a_container_host_that_is_not_a_unix_socket_is_refused_saying_why() {
        let error = choose_socket(
            RuntimeKind::Auto,
            |name| {
                (name == "CONTAINER_HOST")
                    .then(|| "ssh://me@host/run/podman/podman.sock".to_string())
            },
            |_| SocketState::Usable,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("only a unix:// socket is supported"),
            "{error}"
        );
    }

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
