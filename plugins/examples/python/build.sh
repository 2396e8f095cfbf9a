#!/usr/bin/env bash
# Builds app.py into a WebAssembly component with componentize-py and prints the component's path.
# Uses componentize-py from $COMPONENTIZE_PY, else from ../.venv (created, and the pinned version installed,
# when missing).
# Set MCP_BRIDGE_WIT to the mcp-bridge WIT folder when this example lives elsewhere.
set -euo pipefail
cd "$(dirname "$0")"
version=0.25.1
wit="${MCP_BRIDGE_WIT:-../../../wit/since_v0.1.0}"
tool="${COMPONENTIZE_PY:-}"
if [ -z "$tool" ]; then
    venv="$(cd .. && pwd)/.venv"
    if [ ! -x "$venv/bin/componentize-py" ] || ! "$venv/bin/componentize-py" --version | grep -qx "componentize-py $version"; then
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$version" >&2
    fi
    tool="$venv/bin/componentize-py"
fi
mkdir -p dist
out="$PWD/dist/example_deny_destructive_python.wasm"
"$tool" -q -d "$wit" -w policy-plugin componentize app -p . -o "$out" >&2
echo "$out"
