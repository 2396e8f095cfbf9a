#!/usr/bin/env bash
# Installs and starts what the bridge and its tests need on Debian (run as root), and prints the sandbox image
# to use on stdout — nothing else goes to stdout. Idempotent: when everything is in place it only checks.
# When it manages the local engine (no DOCKER_HOST), it also installs gVisor's `runsc` and registers it with
# dockerd, so MCP_BRIDGE_RUNTIME=runsc works.
#
#   image=$(scripts/setup.sh)          # engine running, image present
#   scripts/setup.sh --dev             # also the Python linter (for the tests)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { printf '[setup] %s\n' "$*" >&2; }
dev=0
[ "${1:-}" = "--dev" ] && dev=1

apt_install() {
    [ "$(id -u)" = 0 ] || { log "need root to install: $*"; exit 1; }
    log "installing $* (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "$@" >&2
}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
[ -n "${DOCKER_HOST:-}" ] || command -v runsc >/dev/null 2>&1 || missing+=(runsc)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

# gVisor as an OCI runtime of the local dockerd (MCP_BRIDGE_RUNTIME=runsc). Not `--oci-seccomp`: Debian's runsc
# (20221219) ignores a profile's errnoRet, so the clone3 → ENOSYS rule glibc relies on would break threads; gVisor's
# own kernel takes the seccomp profile's place (SECURITY.md).
register_runsc() {
    local config=/etc/docker/daemon.json
    python3 - "$config" <<'PY' >&2
import json, os, sys
path = sys.argv[1]
config = {}
if os.path.exists(path):
    with open(path) as f:
        text = f.read().strip()
    config = json.loads(text) if text else {}
wanted = {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"]}
if config.get("runtimes", {}).get("runsc") == wanted:
    sys.exit(0)
config.setdefault("runtimes", {})["runsc"] = wanted
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path + ".tmp", "w") as f:
    json.dump(config, f, indent=2)
os.replace(path + ".tmp", path)
print(f"[setup] registered runsc in {path}")
PY
}
if [ -z "${DOCKER_HOST:-}" ]; then
    command -v python3 >/dev/null 2>&1 || apt_install python3
    register_runsc
fi

# The engine: DOCKER_HOST is used as given; otherwise start the local dockerd when it is not answering.
if ! docker info >/dev/null 2>&1; then
    [ -z "${DOCKER_HOST:-}" ] || { log "DOCKER_HOST=$DOCKER_HOST does not answer"; exit 1; }
    log "starting dockerd (log: /var/log/mcp-bridge-dockerd.log)"
    setsid dockerd >/var/log/mcp-bridge-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/mcp-bridge-dockerd.log"; exit 1; }
fi
# A dockerd that was already running reloads daemon.json's runtimes on SIGHUP.
if [ -z "${DOCKER_HOST:-}" ] && ! docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then
    log "reloading dockerd to pick up the runsc runtime"
    pkill -HUP -x dockerd || true
    for _ in $(seq 1 20); do
        docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && break
        sleep 0.5
    done
    docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' \
        || { log "dockerd did not register runsc; see /etc/docker/daemon.json"; exit 1; }
fi

# The image: MCP_BRIDGE_IMAGE if set; else the default when it is present or can be pulled; else the offline
# build (a Debian rootfs with the full python3 stdlib) for hosts without a registry.
image="${MCP_BRIDGE_IMAGE:-}"
if [ -z "$image" ]; then
    if docker image inspect python:3.12-slim >/dev/null 2>&1 || docker pull -q python:3.12-slim >/dev/null 2>&1; then
        image=python:3.12-slim
    else
        image=mcp-bridge/sandbox:bookworm
        docker image inspect "$image" >/dev/null 2>&1 \
            || log "no registry for python:3.12-slim; building $image offline"
        # Also when present: it adds the runtime's bytecode again if the runtime changed (seconds).
        "$here/build-offline-image.sh" "$image"
    fi
fi

# The built-in plugins are compiled to WebAssembly as part of the bridge's own build.
rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2 >&2

if [ "$dev" = 1 ]; then
    # The tests also need python3 (the stub MCP server, ruff) and Node (the TOON reference decoder, the
    # JavaScript plugin example, the npm MCP servers driven end to end).
    dev_missing=()
    command -v python3 >/dev/null 2>&1 || dev_missing+=(python3)
    python3 -m pip --version >/dev/null 2>&1 || dev_missing+=(python3-pip)
    command -v npm >/dev/null 2>&1 || dev_missing+=(nodejs npm)
    # A local registry for the `bridge image pull` test (no public registry is needed or reached).
    [ -x /usr/bin/docker-registry ] || dev_missing+=(docker-registry)
    [ ${#dev_missing[@]} -eq 0 ] || apt_install "${dev_missing[@]}"
    if ! command -v ruff >/dev/null 2>&1; then
        # Debian's pip refuses to install into the system interpreter without the flag (PEP 668).
        python3 -m pip install -q --break-system-packages ruff >&2 2>/dev/null || python3 -m pip install -q ruff >&2
    fi
fi
printf '%s\n' "$image"
