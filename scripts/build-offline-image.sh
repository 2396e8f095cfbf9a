#!/usr/bin/env bash
# Builds the sandbox image without a container registry: a Debian bookworm rootfs with the full
# `python3` standard library (debootstrap, from Debian's package mirror), imported into the engine as
# TAG-base, and on top of it one small layer with the sandbox runtime's bytecode (scripts/runtime_bytecode.py),
# so containers load the runtime instead of compiling it (~10 ms of CPU each). For hosts that cannot pull
# `python:3.12-slim` (air-gapped machines, this project's CI).
#
#   scripts/build-offline-image.sh [TAG]        default TAG: mcp-bridge/sandbox:bookworm
#
# Re-running it is cheap: the rootfs is built once (REBUILD=1 to redo it), the bytecode layer again only when
# the runtime's sources changed (the image's org.mcp-bridge.runtime label).
# Env: MIRROR (default http://deb.debian.org/debian), SUITE (default bookworm).
set -euo pipefail

tag="${1:-mcp-bridge/sandbox:bookworm}"
base="$tag-base"
mirror="${MIRROR:-http://deb.debian.org/debian}"
suite="${SUITE:-bookworm}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runtime="$here/../src/sandbox/python"

log() { printf '[build-offline-image] %s\n' "$*" >&2; }

command -v docker >/dev/null || { log "docker CLI is missing: apt-get install -y docker.io"; exit 1; }

# The runtime layer: the compiled runtime, rebuilt when its sources change.
add_runtime_layer() {
    local hash context
    hash="$( (cd "$runtime" && find . -name '*.py' -not -path './tests/*' -print0 | sort -z | xargs -0 sha256sum
        sha256sum "$here/runtime_bytecode.py" | cut -d' ' -f1) | sha256sum | cut -c1-16)"
    if [ "${1:-}" != --force ] \
        && [ "$(docker image inspect -f '{{index .Config.Labels "org.mcp-bridge.runtime"}}' "$tag" 2>/dev/null)" = "$hash" ]; then
        log "$tag is up to date (runtime $hash)"
        return
    fi
    context="$(mktemp -d)"
    cp -r "$runtime" "$context/runtime"
    rm -rf "$context/runtime/tests" "$context/runtime/.ruff_cache"
    find "$context/runtime" -name __pycache__ -prune -exec rm -rf {} +
    cp "$here/runtime_bytecode.py" "$context/"
    cat > "$context/Dockerfile" <<DOCKERFILE
FROM $base
COPY runtime /tmp/mcp-bridge-runtime
COPY runtime_bytecode.py /tmp/
RUN python3 -I -B /tmp/runtime_bytecode.py /tmp/mcp-bridge-runtime /usr/lib/mcp-bridge/bytecode \\
    && rm -rf /tmp/mcp-bridge-runtime /tmp/runtime_bytecode.py
LABEL org.mcp-bridge.runtime=$hash
DOCKERFILE
    log "adding the runtime's bytecode (runtime $hash) to $tag"
    docker build -q --network none -t "$tag" "$context" >&2 || { rm -rf "$context"; exit 1; }
    rm -rf "$context"
}

# An image this script made before it added the runtime layer is a base as it is: no new debootstrap.
if ! docker image inspect "$base" >/dev/null 2>&1 && [ "${REBUILD:-0}" != 1 ] \
    && docker image inspect "$tag" >/dev/null 2>&1 \
    && [ -z "$(docker image inspect -f '{{index .Config.Labels "org.mcp-bridge.runtime"}}' "$tag")" ]; then
    log "using the existing $tag as $base"
    docker tag "$tag" "$base"
fi

if docker image inspect "$base" >/dev/null 2>&1 && [ "${REBUILD:-0}" != 1 ]; then
    add_runtime_layer
    exit 0
fi

command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install -y debootstrap"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

log "debootstrap $suite (minbase + python3) from $mirror"
# minbase keeps the image small; python3 pulls libpython3.x-stdlib, i.e. the complete stdlib.
debootstrap --variant=minbase --include=python3 "$suite" "$rootfs" "$mirror" >&2

# Nothing the sandbox needs: package caches, docs, apt lists.
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*

log "importing into the engine as $base"
tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$base" >&2
docker run --rm --network none "$base" python3 -c 'import sys, asyncio, json, ssl, sqlite3; print(sys.version)' >&2
# A new base needs a new runtime layer even if the sources did not change.
add_runtime_layer --force
log "done: $tag"
