//! Why a run could not produce an outcome: the one error type of the sandbox, matched by callers (the MCP
//! layer tells a busy bridge from a broken engine).

use super::protections;

/// Why a run could not produce an outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SandboxError {
    /// The engine's API did not answer.
    #[error(
        "cannot reach the container engine at {endpoint}: {detail}. Start the engine (for Docker: `dockerd` or \
         `systemctl start docker`), or point DOCKER_HOST / MCP_BRIDGE_RUNTIME at a running one"
    )]
    EngineUnavailable {
        /// Where we looked.
        endpoint: String,
        /// The engine client's error.
        detail: String,
    },
    /// The sandbox image is not there and could not be pulled.
    #[error(
        "sandbox image {image} is not available ({detail}). Either pull it where a registry is reachable \
         (`docker pull {image}`), or build the offline image with `scripts/build-offline-image.sh` and set \
         MCP_BRIDGE_IMAGE=mcp-bridge/sandbox:bookworm"
    )]
    ImageMissing {
        /// The image reference.
        image: String,
        /// Why the pull failed.
        detail: String,
    },
    /// The image cannot be used as a sandbox.
    #[error("sandbox image {image} cannot be used: {reason}")]
    ImageRefused {
        /// The image reference.
        image: String,
        /// Why.
        reason: String,
    },
    /// The configured OCI runtime is not registered with the engine.
    #[error(
        "the container engine has no OCI runtime named {runtime} (it has: {available}), which \
         MCP_BRIDGE_RUNTIME / MCP_BRIDGE_OCI_RUNTIME asks for. For gVisor: `apt-get install runsc`, add \
         {{\"runtimes\": {{\"runsc\": {{\"path\": \"/usr/bin/runsc\", \"runtimeArgs\": [\"--network=none\"]}}}}}} to \
         /etc/docker/daemon.json and reload the engine (`kill -HUP $(pidof dockerd)`) — scripts/setup.sh does all \
         this — or unset MCP_BRIDGE_RUNTIME to use the engine's default runtime"
    )]
    RuntimeMissing {
        /// The runtime asked for.
        runtime: String,
        /// What the engine has.
        available: String,
    },
    /// The engine cannot apply a protection every sandbox gets, and `MCP_BRIDGE_ALLOW_WEAKER` does not accept
    /// its absence.
    #[error("the container engine at {endpoint} is refused: {refusal}")]
    WeakerContainment {
        /// Which engine (its socket).
        endpoint: String,
        /// What it lacks and how to proceed.
        refusal: protections::Refusal,
    },
    /// The engine is Podman and an OCI runtime was asked for: its Docker-compatible API ignores a container's
    /// runtime and runs it under Podman's default, so asking for gVisor there would quietly not get it.
    #[error(
        "MCP_BRIDGE_RUNTIME / MCP_BRIDGE_OCI_RUNTIME asks for the OCI runtime {runtime}, but the engine at \
         {endpoint} is Podman, whose Docker-compatible API ignores a container's runtime (Podman 4.3 runs it under \
         its default one): sandboxes would not run under {runtime}. Use Docker for gVisor (scripts/setup.sh \
         registers runsc), or unset the setting to run under Podman's default runtime"
    )]
    RuntimeIgnored {
        /// The runtime asked for.
        runtime: String,
        /// Which engine.
        endpoint: String,
    },
    /// An engine request failed.
    #[error("{0}")]
    Engine(String),
    /// A session could not be opened (the limit is reached, or sessions are off).
    #[error("{0}")]
    Session(String),
    /// Every container slot stayed taken for the whole `MCP_BRIDGE_QUEUE_WAIT`; nothing was started.
    #[error(
        "busy: all {limit} sandbox containers (MCP_BRIDGE_MAX_CONCURRENCY) stayed in use for the {waited} s this \
         call may wait (MCP_BRIDGE_QUEUE_WAIT); nothing ran. Try again when fewer runs are going, or raise either \
         setting"
    )]
    Busy {
        /// `MCP_BRIDGE_MAX_CONCURRENCY`.
        limit: usize,
        /// `MCP_BRIDGE_QUEUE_WAIT` in seconds.
        waited: u64,
    },
    /// The caller cancelled the run (or the bridge is shutting down); its container was removed.
    #[error("the run was cancelled")]
    Cancelled,
}
