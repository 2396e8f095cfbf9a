#!/usr/bin/env bash
# Replays a corpus of the `encoders` target (default: fuzz/corpus/encoders; e.g. a long run's
# /tmp/corpus-encoders too) and checks every TOON block it makes with the JavaScript reference decoder
# (tests/toon-reference: `npm ci --prefix tests/toon-reference` once, or TOON_REFERENCE=<a directory with that
# package.json installed>). The fuzz target checks with toon-format, the Rust reference implementation, on every
# input; a fuzz target cannot start node per input, so this checks the corpus afterwards.
#
#   fuzz/toon-reference.sh [CORPUS_DIR ...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package="$(realpath "${TOON_REFERENCE:-$here/../tests/toon-reference}")"
corpora=()
for dir in "$@"; do corpora+=("$(realpath "$dir")"); done
cd "$here"
if [ ! -d "$package/node_modules/@toon-format/toon" ]; then
    echo "the reference decoder is not installed. Fix: npm ci --prefix $package" >&2
    exit 1
fi
[ "${#corpora[@]}" -gt 0 ] || corpora=("$here/corpus/encoders")
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# Each input once (-runs=0 fuzzes nothing); the target writes its TOON blocks into $out.
ENCODERS_REFERENCE_DIR="$out" cargo +nightly fuzz run -O encoders "${corpora[@]}" -- -runs=0 >"$out.log" 2>&1 ||
    { tail -n 40 "$out.log" >&2; rm -f "$out.log"; exit 1; }
rm -f "$out.log"
node toon-reference.mjs "$out" "$package"
