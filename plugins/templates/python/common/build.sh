#!/usr/bin/env bash
# Builds app.py into dist/{{file}}.wasm, a WebAssembly component implementing the mcp-bridge world {{world}}
# (WIT in wit/plugin.wit), with componentize-py; prints the component's path.
#
# componentize-py comes from $COMPONENTIZE_PY when set, else from .venv (made here, with the pinned version, when
# missing or different: needs python3 >= 3.10 with venv, and PyPI).
#
#   ./build.sh              build
#   ./build.sh bindings     write the generated `wit_world` package to bindings/, for an editor or a type checker
set -euo pipefail
cd "$(dirname "$0")"
version=0.25.1
tool="${COMPONENTIZE_PY:-}"
if [ -z "$tool" ]; then
    venv="$PWD/.venv"
    if [ ! -x "$venv/bin/componentize-py" ] || ! "$venv/bin/componentize-py" --version | grep -qx "componentize-py $version"; then
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$version" >&2
    fi
    tool="$venv/bin/componentize-py"
fi
if [ "${1:-}" = bindings ]; then
    rm -rf bindings
    "$tool" -q -d wit -w {{world}} bindings bindings >&2
    echo "$PWD/bindings"
    exit 0
fi
mkdir -p dist
out="$PWD/dist/{{file}}.wasm"
"$tool" -q -d wit -w {{world}} componentize app -p . -o "$out" >&2
echo "$out"
