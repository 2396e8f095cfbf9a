// Helpers for mcp-bridge plugins written in JavaScript against the WIT API mcp-bridge:plugin@0.2.0 and built with
// componentize-qjs (with `sync: true`). They build the values the WIT expects (variants, records with every
// field) and parse the JSON texts the host passes in, so a plugin reads as its decisions.
//
// Types: the declarations in ./types (generated from the WIT by plugins/sdk-js/generate-types.mjs) declare one
// module per WIT interface, e.g. "mcp-bridge:plugin/policy@0.2.0"; this file's JSDoc refers to them, so an editor
// with `checkJs` (see the scaffold's jsconfig.json) checks a plugin against the API.
//
// Two places where the generated declarations and componentize-qjs differ at run time:
// - `u64`/`s64` fields (the encoder payload's `exitCode`, `timeoutSeconds`) are plain numbers, not bigints;
// - an `option` that is absent arrives as `null` (the declarations say `undefined`, so test with `== null`); when
//   returning one, leave the field out (`undefined`), which also type-checks.

import * as witLog from "mcp-bridge:plugin/log@0.2.0";

/** @typedef {import("mcp-bridge:plugin/types@0.2.0").Info} Info */
/** @typedef {import("mcp-bridge:plugin/log@0.2.0").Level} Level */
/** @typedef {import("mcp-bridge:plugin/policy@0.2.0").Decision} Decision */
/** @typedef {import("mcp-bridge:plugin/policy@0.2.0").ResultDecision} ResultDecision */
/** @typedef {import("mcp-bridge:plugin/policy@0.2.0").CallRequest} CallRequest */
/** @typedef {import("mcp-bridge:plugin/policy@0.2.0").CallResult} CallResult */
/** @typedef {import("mcp-bridge:plugin/encoder@0.2.0").Encoded} Encoded */
/** @typedef {import("mcp-bridge:plugin/discovery@0.2.0").FilePattern} FilePattern */
/** @typedef {import("mcp-bridge:plugin/discovery@0.2.0").ServerEntry} ServerEntry */
/** @typedef {{ [key: string]: unknown }} JsonObject */

/** A policy's answers to `checkRun` and `checkCall`. */
export const decision = {
  /** No objection. @returns {Decision} */
  allow: () => ({ tag: "allow" }),
  /** Refuse; the model reads `reason`. @param {string} reason @returns {Decision} */
  deny: (reason) => ({ tag: "deny", val: String(reason) }),
  /** Ask the user `question`; proceeds only if they accept. @param {string} question @returns {Decision} */
  ask: (question) => ({ tag: "ask", val: String(question) }),
};

/** A policy's answers to `checkResult`. */
export const resultDecision = {
  /** Hand the result back unchanged. @returns {ResultDecision} */
  allow: () => ({ tag: "allow" }),
  /** Withhold the result; the code sees a failed call with `reason`. @param {string} reason @returns {ResultDecision} */
  deny: (reason) => ({ tag: "deny", val: String(reason) }),
  /**
   * Hand this `CallToolResult` back instead (an object, JSON-encoded here, or a JSON text).
   * @param {JsonObject | string} result
   * @returns {ResultDecision}
   */
  replace: (result) => ({ tag: "replace", val: typeof result === "string" ? result : JSON.stringify(result) }),
};

/**
 * Parses a JSON text that must hold an object; throws a string (the WIT `err` of `configure`) otherwise.
 * @param {string} text
 * @param {string} what what the text is, for the message
 * @returns {JsonObject}
 */
export function parseObject(text, what) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw `${what} is not JSON: ${error}`;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw `${what} must be a JSON object, got ${text}`;
  }
  return value;
}

/**
 * The plugin's configuration (the `config` argument of `configure`) as an object. With `allowedKeys`, a key
 * outside them is refused with a message naming it; `parseConfig(config, [])` accepts only `{}`.
 * @param {string} config
 * @param {string[]} [allowedKeys]
 * @returns {JsonObject}
 */
export function parseConfig(config, allowedKeys) {
  const value = parseObject(config, "the configuration");
  if (allowedKeys !== undefined) {
    const unknown = Object.keys(value).filter((key) => !allowedKeys.includes(key));
    if (unknown.length > 0) {
      const expected = allowedKeys.length > 0 ? `expected one of: ${allowedKeys.join(", ")}` : "it takes none";
      throw `unknown configuration key ${unknown.map((k) => JSON.stringify(k)).join(", ")} (${expected})`;
    }
  }
  return value;
}

/**
 * A tool call's arguments as an object (`{}` if the host ever sent something else).
 * @param {CallRequest} call
 * @returns {JsonObject}
 */
export function parseArguments(call) {
  try {
    return parseObject(call.arguments, "the arguments");
  } catch {
    return {};
  }
}

/**
 * A tool's result (MCP `CallToolResult`: `content`, optional `structuredContent` and `isError`) as an object.
 * @param {CallResult} outcome
 * @returns {JsonObject}
 */
export function parseResult(outcome) {
  try {
    return parseObject(outcome.result, "the result");
  } catch {
    return {};
  }
}

/**
 * The text items of a `CallToolResult`'s `content`, joined with newlines.
 * @param {JsonObject} result
 * @returns {string}
 */
export function resultText(result) {
  const content = Array.isArray(result.content) ? result.content : [];
  return content
    .filter((item) => item !== null && typeof item === "object" && item.type === "text" && typeof item.text === "string")
    .map((item) => item.text)
    .join("\n");
}

/**
 * An encoder's answer.
 * @param {string} text
 * @param {string} [mimeType] default `text/plain`
 * @returns {Encoded}
 */
export function encoded(text, mimeType = "text/plain") {
  return { text: String(text), mimeType };
}

/** A discovery plugin's wanted files. */
export const file = {
  /** A path relative to the user's home directory (`*` and `?` allowed). @param {string} pattern @returns {FilePattern} */
  home: (pattern) => ({ base: "home", pattern }),
  /** A path relative to the project (the bridge's working directory). @param {string} pattern @returns {FilePattern} */
  cwd: (pattern) => ({ base: "cwd", pattern }),
  /** The file an environment variable names. @param {string} name @returns {FilePattern} */
  envVar: (name) => ({ base: "env-var", pattern: name }),
};

/**
 * A server entry with every field the WIT record needs: `args` and `env` empty, `disabled` false, and the
 * optional fields absent unless given.
 * @param {string} name
 * @param {Partial<Omit<ServerEntry, "name">>} [fields]
 * @returns {ServerEntry}
 */
export function server(name, fields = {}) {
  return {
    name,
    command: fields.command,
    args: fields.args ?? [],
    env: fields.env ?? [],
    cwd: fields.cwd,
    description: fields.description,
    url: fields.url,
    transport: fields.transport,
    disabled: fields.disabled ?? false,
  };
}

/**
 * @param {Level} level
 * @returns {(...parts: unknown[]) => void}
 */
function writer(level) {
  return (...parts) =>
    witLog.write(level, parts.map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join(" "));
}

/** The bridge's log (stderr of `bridge serve`, tagged with the plugin's name). Non-strings are JSON-encoded. */
export const log = {
  trace: writer("trace"),
  debug: writer("debug"),
  info: writer("info"),
  warn: writer("warn"),
  error: writer("error"),
};
