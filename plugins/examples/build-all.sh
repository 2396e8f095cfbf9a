#!/usr/bin/env bash
# Builds the three example policy plugins (Rust, JavaScript, Python) and prints the paths of the three
# components, one a line, on stdout; progress and tool output go to stderr.
#
# Needs: cargo with the wasm32-wasip2 target, node >= 18 with npm, python3 >= 3.10 with venv. Fetches only
# from the package registries (crates.io, npm, PyPI): componentize-qjs into javascript/node_modules (npm ci,
# versions from package-lock.json) and componentize-py into .venv (pinned in python/build.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

started=$SECONDS
step() { printf '== %s\n' "$*" >&2; started=$SECONDS; }
done_step() { printf '   built %s in %d s\n' "$1" $((SECONDS - started)) >&2; }

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "build-all.sh: the wasm32-wasip2 Rust target is missing (rustup target add wasm32-wasip2)" >&2
    exit 1
fi

step "rust: cargo build --target wasm32-wasip2 --release"
rust_wasm="$("$here/rust/build.sh")"
done_step "$rust_wasm"

step "javascript: npm ci && node build.mjs"
(cd "$here/javascript" && npm ci --no-audit --no-fund --loglevel=error >&2)
js_wasm="$(cd "$here/javascript" && node build.mjs)"
done_step "$js_wasm"

step "python: componentize-py"
py_wasm="$("$here/python/build.sh")"
done_step "$py_wasm"

for f in "$rust_wasm" "$js_wasm" "$py_wasm"; do
    [ -s "$f" ] || { echo "build-all.sh: $f was not produced" >&2; exit 1; }
    echo "$f"
done
