"""Helpers for mcp-bridge plugins written in Python against the WIT API mcp-bridge:plugin@0.2.0 and built with
componentize-py 0.25.1.

componentize-py generates the package `wit_world` from the WIT at build time (``componentize-py -d wit -w
WORLD bindings OUT`` writes it out for an editor). Its classes are what the bridge exchanges with a plugin;
this module builds them for you and parses the JSON texts the host passes in:

======================================  ======================================================================
helper                                  generated class it returns (module)
======================================  ======================================================================
``allow()``, ``deny(r)``, ``ask(q)``    ``Decision_Allow()``, ``Decision_Deny(r)``, ``Decision_Ask(q)``
                                        (``wit_world.exports.policy``)
``allow_result()``, ``deny_result(r)``  ``ResultDecision_Allow()``, ``ResultDecision_Deny(r)``,
``replace(result)``                     ``ResultDecision_Replace(json_text)`` (``wit_world.exports.policy``)
``encoded(text, mime_type)``            ``Encoded(text, mime_type)`` (``wit_world.exports.encoder``)
``home(p)``, ``cwd(p)``, ``env_var(n)`` ``FilePattern(Base.HOME | Base.CWD | Base.ENV_VAR, p)``
                                        (``wit_world.exports.discovery``)
``server(name, ...)``                   ``ServerEntry(...)``, every field given
                                        (``wit_world.exports.discovery``)
``info(name, version, description)``    ``Info(...)`` (``wit_world.imports.types``)
``log.info(...)`` and the other levels  ``write(Level.INFO, message)`` (``wit_world.imports.log``)
======================================  ======================================================================

``config(text, allowed=...)``, ``arguments(call)`` and ``result(outcome)`` parse JSON texts into dicts;
``config`` raises ``componentize_py_types.Err`` (the WIT ``err`` of ``configure``) with a message saying what
is wrong. Each world's classes exist only in that world's build, so the helpers import them when called.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from componentize_py_types import Err

if TYPE_CHECKING:  # a build has only its own world's module, so these are for type checkers only
    from wit_world.exports.discovery import FilePattern, ServerEntry
    from wit_world.exports.encoder import Encoded
    from wit_world.exports.policy import CallRequest, CallResult, Decision, ResultDecision
    from wit_world.imports.types import Info

JsonObject = dict[str, Any]

__all__ = [
    "Err",
    "allow",
    "allow_result",
    "arguments",
    "ask",
    "config",
    "cwd",
    "deny",
    "deny_result",
    "encoded",
    "env_var",
    "home",
    "info",
    "log",
    "parse_object",
    "replace",
    "result",
    "result_text",
    "server",
]


def info(name: str, version: str, description: str) -> Info:
    """The plugin's metadata."""
    from wit_world.imports.types import Info

    return Info(name=name, version=version, description=description)


# Policy: check-run and check-call.


def allow() -> Decision:
    """No objection."""
    from wit_world.exports.policy import Decision_Allow

    return Decision_Allow()


def deny(reason: str) -> Decision:
    """Refuse; the model reads ``reason``."""
    from wit_world.exports.policy import Decision_Deny

    return Decision_Deny(str(reason))


def ask(question: str) -> Decision:
    """Ask the user ``question``; the request proceeds only if they accept."""
    from wit_world.exports.policy import Decision_Ask

    return Decision_Ask(str(question))


# Policy: check-result.


def allow_result() -> ResultDecision:
    """Hand the tool's result back unchanged."""
    from wit_world.exports.policy import ResultDecision_Allow

    return ResultDecision_Allow()


def deny_result(reason: str) -> ResultDecision:
    """Withhold the result; the code in the sandbox sees a failed call with ``reason``."""
    from wit_world.exports.policy import ResultDecision_Deny

    return ResultDecision_Deny(str(reason))


def replace(new_result: Mapping[str, Any] | str) -> ResultDecision:
    """Hand this ``CallToolResult`` back instead: a dict (JSON-encoded here) or a JSON text."""
    from wit_world.exports.policy import ResultDecision_Replace

    text = new_result if isinstance(new_result, str) else json.dumps(new_result)
    return ResultDecision_Replace(text)


# JSON texts.


def parse_object(text: str, what: str) -> JsonObject:
    """Parses a JSON text that must hold an object; raises ``Err`` saying what is wrong otherwise."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise Err(f"{what} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise Err(f"{what} must be a JSON object, got {text}")
    return value


def config(text: str, allowed: Iterable[str] | None = None) -> JsonObject:
    """The plugin's configuration (``configure``'s argument) as a dict. With ``allowed``, a key outside it is
    refused with a message naming it: ``config(text, allowed=[])`` accepts only ``{}``."""
    value = parse_object(text, "the configuration")
    if allowed is not None:
        allowed = list(allowed)
        unknown = [key for key in value if key not in allowed]
        if unknown:
            expected = f"expected one of: {', '.join(allowed)}" if allowed else "it takes none"
            names = ", ".join(json.dumps(key) for key in unknown)
            raise Err(f"unknown configuration key {names} ({expected})")
    return value


def arguments(call: CallRequest) -> JsonObject:
    """A tool call's arguments as a dict (``{}`` if the host ever sent anything else)."""
    try:
        return parse_object(call.arguments, "the arguments")
    except Err:
        return {}


def result(outcome: CallResult) -> JsonObject:
    """A tool's result (MCP ``CallToolResult``: ``content``, optional ``structuredContent`` and ``isError``)
    as a dict."""
    try:
        return parse_object(outcome.result, "the result")
    except Err:
        return {}


def result_text(call_result: Mapping[str, Any]) -> str:
    """The text items of a ``CallToolResult``'s ``content``, joined with newlines."""
    content = call_result.get("content")
    items = content if isinstance(content, list) else []
    return "\n".join(
        item["text"]
        for item in items
        if isinstance(item, dict) and item.get("type") == "text" and isinstance(item.get("text"), str)
    )


# Encoder.


def encoded(text: str, mime_type: str = "text/plain") -> Encoded:
    """An encoder's answer."""
    from wit_world.exports.encoder import Encoded

    return Encoded(text=str(text), mime_type=mime_type)


# Discovery.


def home(pattern: str) -> FilePattern:
    """A wanted file relative to the user's home directory (``*`` and ``?`` allowed)."""
    from wit_world.exports.discovery import Base, FilePattern

    return FilePattern(base=Base.HOME, pattern=pattern)


def cwd(pattern: str) -> FilePattern:
    """A wanted file relative to the project (the bridge's working directory)."""
    from wit_world.exports.discovery import Base, FilePattern

    return FilePattern(base=Base.CWD, pattern=pattern)


def env_var(name: str) -> FilePattern:
    """The wanted file an environment variable names."""
    from wit_world.exports.discovery import Base, FilePattern

    return FilePattern(base=Base.ENV_VAR, pattern=name)


def server(
    name: str,
    *,
    command: str | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    cwd: str | None = None,
    description: str | None = None,
    url: str | None = None,
    transport: str | None = None,
    disabled: bool = False,
) -> ServerEntry:
    """A server entry with every field the WIT record needs; ``env`` may be a dict."""
    from wit_world.exports.discovery import ServerEntry

    pairs: list[tuple[str, str]] = []
    if isinstance(env, Mapping):
        pairs = [(str(key), str(value)) for key, value in env.items()]
    elif env is not None:
        pairs = [(str(key), str(value)) for key, value in env]
    return ServerEntry(
        name=name,
        command=command,
        args=[str(arg) for arg in args],
        env=pairs,
        cwd=cwd,
        description=description,
        url=url,
        transport=transport,
        disabled=disabled,
    )


# The bridge's log.


class _Log:
    """The bridge's log (stderr of ``bridge serve``, tagged with the plugin's name):
    ``log.info("text", value)``. Parts that are not strings are JSON-encoded."""

    @staticmethod
    def _write(level_name: str, parts: tuple[Any, ...]) -> None:
        from wit_world.imports import log as wit_log

        text = " ".join(part if isinstance(part, str) else json.dumps(part, default=str) for part in parts)
        wit_log.write(getattr(wit_log.Level, level_name), text)

    def trace(self, *parts: Any) -> None:
        self._write("TRACE", parts)

    def debug(self, *parts: Any) -> None:
        self._write("DEBUG", parts)

    def info(self, *parts: Any) -> None:
        self._write("INFO", parts)

    def warn(self, *parts: Any) -> None:
        self._write("WARN", parts)

    def error(self, *parts: Any) -> None:
        self._write("ERROR", parts)


log = _Log()
