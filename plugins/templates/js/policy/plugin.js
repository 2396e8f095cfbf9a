// {{name}}: an mcp-bridge policy (world policy-plugin of wit/plugin.wit, API 0.2.0).
// Denies tool calls whose tool name contains "delete", asks the user before those whose name contains "write",
// allows every run, and hands every tool result back unchanged.
import { decision, log, parseConfig, resultDecision } from "./lib/mcp-bridge-plugin.js";

/** @type {typeof import("mcp-bridge:plugin/plugin@0.2.0")} */
export const plugin = {
  metadata() {
    return { name: "{{name}}", version: "0.1.0", description: "{{description}}" };
  },
  configure(config) {
    // This plugin takes no settings: anything but {} is refused with a message naming the keys.
    parseConfig(config, []);
  },
};

/** @type {typeof import("mcp-bridge:plugin/policy@0.2.0")} */
export const policy = {
  checkRun(run) {
    // run.purpose.tag says why: "run", "save-tool", "load-tool" or "search".
    return decision.allow();
  },
  checkCall(call) {
    if (call.tool.includes("delete")) {
      log.info(`denied ${call.server}.${call.tool}`);
      return decision.deny(`${call.tool} on ${call.server} may delete data, and this policy does not allow that`);
    }
    if (call.tool.includes("write")) {
      return decision.ask(`Let ${call.tool} on ${call.server} write?`);
    }
    return decision.allow();
  },
  checkResult(outcome) {
    // Redacts nothing. To mask a secret instead:
    //   const result = parseResult(outcome);   // { content: [...], structuredContent?, isError? }
    //   ... change it ...
    //   return resultDecision.replace(result);
    return resultDecision.allow();
  },
};
