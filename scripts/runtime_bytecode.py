"""Compiles the sandbox runtime (src/sandbox/python) into the sandbox image's bytecode cache.

Run by scripts/build-offline-image.sh with the image's own python3, at build time:

    python3 runtime_bytecode.py SOURCE_DIR OUT_DIR

Each runtime module becomes ``OUT_DIR/<key>.pyc``, where key is the sha256 of the module's name, a NUL byte
and its source: what the bridge sends for it in the boot frame (src/sandbox/boot.rs). A bridge whose runtime
differs from the one the image was built with finds no entry and compiles from source, as without a cache.
The file is a pyc header (this interpreter's magic number, then zeros) and the marshalled code, compiled as
the bootstrap compiles a module (same file name, flags and optimisation): a module loads the same either way.

The cache is part of the image, built by the user like the interpreter it runs on; nothing a sandbox produced
ever goes into it.
"""

import hashlib
import importlib.util
import marshal
import pathlib
import sys

# Not modules of the runtime: the bootstrap runs as `python3 -c`, the tests never run in a sandbox.
SKIPPED = {"bootstrap.py"}
SKIPPED_DIRS = {"tests"}


def module_name(relative):
    """``mcp/servers/__init__.py`` → ``mcp.servers``; ``mcp_bridge_relay.py`` → ``mcp_bridge_relay``."""
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def cache_key(name, source):
    return hashlib.sha256(name.encode("utf-8") + b"\0" + source.encode("utf-8")).hexdigest()


def main(source_dir, out_dir):
    root = pathlib.Path(source_dir)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.name in SKIPPED or relative.parts[0] in SKIPPED_DIRS:
            continue
        name = module_name(relative)
        # Bytes decoded, not read_text: newlines stay exactly as the bridge embeds them.
        source = path.read_bytes().decode("utf-8")
        code = compile(source, "<mcp-bridge>/" + name, "exec")
        key = cache_key(name, source)
        (out / f"{key}.pyc").write_bytes(importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(code))
        print(f"{name} {key}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: runtime_bytecode.py SOURCE_DIR OUT_DIR")
    main(sys.argv[1], sys.argv[2])
