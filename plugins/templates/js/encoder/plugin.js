// {{name}}: an mcp-bridge response encoder (world encoder-plugin of wit/plugin.wit, API 0.2.0).
// Renders a run's result as plain text: the summary, then stdout, stderr and the error, each under a heading.
import { encoded, parseConfig } from "./lib/mcp-bridge-plugin.js";

/** @type {typeof import("mcp-bridge:plugin/plugin@0.2.0")} */
export const plugin = {
  metadata() {
    return { name: "{{name}}", version: "0.1.0", description: "{{description}}" };
  },
  configure(config) {
    parseConfig(config, []);
  },
};

/** @type {typeof import("mcp-bridge:plugin/encoder@0.2.0")} */
export const encoder = {
  encode(payload) {
    const lines = [`${payload.status}: ${payload.summary}`];
    // exitCode is a number here, or null when the code never got to exit.
    if (payload.exitCode != null) lines.push(`exit code: ${payload.exitCode}`);
    if (payload.stdout.length > 0) lines.push("", "stdout:", ...payload.stdout);
    if (payload.stderr.length > 0) lines.push("", "stderr:", ...payload.stderr);
    if (payload.error != null) lines.push("", `error: ${payload.error}`);
    return encoded(lines.join("\n"));
  },
};
