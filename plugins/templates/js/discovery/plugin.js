// {{name}}: an mcp-bridge discovery source (world discovery-plugin of wit/plugin.wit, API 0.2.0).
// Reads the project's mcp-servers.json: {"mcpServers": {"NAME": {"command": …, "args": […], "env": {…}} or
// {"url": …}}}. The host reads the file for the plugin (a plugin has no file system) and hands it to `parse`.
import { file, parseConfig, parseObject, server } from "./lib/mcp-bridge-plugin.js";

/** @type {typeof import("mcp-bridge:plugin/plugin@0.2.0")} */
export const plugin = {
  metadata() {
    return { name: "{{name}}", version: "0.1.0", description: "{{description}}" };
  },
  configure(config) {
    parseConfig(config, []);
  },
};

/** @param {unknown} value @returns {string[]} */
const strings = (value) => (Array.isArray(value) ? value.map(String) : []);

/** @type {typeof import("mcp-bridge:plugin/discovery@0.2.0")} */
export const discovery = {
  wantedFiles() {
    return [file.cwd("mcp-servers.json")];
  },
  parse(source) {
    // A throw (a string) is the WIT `err`: the host skips the file with a warning naming it.
    const servers = parseObject(source.contents, source.path).mcpServers ?? {};
    if (servers === null || typeof servers !== "object" || Array.isArray(servers)) {
      throw `${source.path}: "mcpServers" must be an object`;
    }
    return Object.entries(servers).map(([name, entry]) => {
      if (entry === null || typeof entry !== "object") throw `${source.path}: server "${name}" must be an object`;
      const env = entry.env !== null && typeof entry.env === "object" ? entry.env : {};
      return server(name, {
        command: typeof entry.command === "string" ? entry.command : undefined,
        args: strings(entry.args),
        env: Object.entries(env).map(([key, value]) => [key, String(value)]),
        url: typeof entry.url === "string" ? entry.url : undefined,
        transport: typeof entry.type === "string" ? entry.type : undefined,
        disabled: entry.disabled === true,
      });
    });
  },
};
