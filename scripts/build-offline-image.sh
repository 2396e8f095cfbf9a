#!/usr/bin/env bash
# Builds the sandbox image without a container registry: a Debian bookworm rootfs with the full
# `python3` standard library (debootstrap, from Debian's package mirror), imported into the engine.
# For hosts that cannot pull `python:3.12-slim` (air-gapped machines, this project's CI).
#
#   scripts/build-offline-image.sh [TAG]        default TAG: mcp-bridge/sandbox:bookworm
#
# Env: MIRROR (default http://deb.debian.org/debian), SUITE (default bookworm).
set -euo pipefail

tag="${1:-mcp-bridge/sandbox:bookworm}"
mirror="${MIRROR:-http://deb.debian.org/debian}"
suite="${SUITE:-bookworm}"

log() { printf '[build-offline-image] %s\n' "$*" >&2; }

command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install -y debootstrap"; exit 1; }
command -v docker >/dev/null || { log "docker CLI is missing: apt-get install -y docker.io"; exit 1; }

if docker image inspect "$tag" >/dev/null 2>&1 && [ "${REBUILD:-0}" != 1 ]; then
    log "$tag already present (REBUILD=1 to rebuild)"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

log "debootstrap $suite (minbase + python3) from $mirror"
# minbase keeps the image small; python3 pulls libpython3.x-stdlib, i.e. the complete stdlib.
debootstrap --variant=minbase --include=python3 "$suite" "$rootfs" "$mirror" >&2

# Nothing the sandbox needs: package caches, docs, apt lists.
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*

log "importing into the engine as $tag"
tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$tag" >&2
docker run --rm --network none "$tag" python3 -c 'import sys, asyncio, json, ssl, sqlite3; print(sys.version)' >&2
log "done: $tag"
