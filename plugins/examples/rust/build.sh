#!/usr/bin/env bash
# Builds the Rust example policy and prints the path of the component.
# Needs: rustup target add wasm32-wasip2
set -euo pipefail
cd "$(dirname "$0")"
cargo build --quiet --target wasm32-wasip2 --release
echo "$PWD/target/wasm32-wasip2/release/example_deny_destructive_rust.wasm"
