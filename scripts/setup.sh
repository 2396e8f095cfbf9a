#!/usr/bin/env bash
# Installs and starts what the bridge and its tests need on Debian (run as root), and prints the sandbox image
# to use on stdout — nothing else goes to stdout. Idempotent: when everything is in place it only checks.
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
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

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

# The image: MCP_BRIDGE_IMAGE if set; else the default when it is present or can be pulled; else the offline
# build (a Debian rootfs with the full python3 stdlib) for hosts without a registry.
image="${MCP_BRIDGE_IMAGE:-}"
if [ -z "$image" ]; then
    if docker image inspect python:3.12-slim >/dev/null 2>&1 || docker pull -q python:3.12-slim >/dev/null 2>&1; then
        image=python:3.12-slim
    else
        image=mcp-bridge/sandbox:bookworm
        docker image inspect "$image" >/dev/null 2>&1 || {
            log "no registry for python:3.12-slim; building $image offline"
            "$here/build-offline-image.sh" "$image"
        }
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
    [ ${#dev_missing[@]} -eq 0 ] || apt_install "${dev_missing[@]}"
    if ! command -v ruff >/dev/null 2>&1; then
        # Debian's pip refuses to install into the system interpreter without the flag (PEP 668).
        python3 -m pip install -q --break-system-packages ruff >&2 2>/dev/null || python3 -m pip install -q ruff >&2
    fi
fi
printf '%s\n' "$image"
