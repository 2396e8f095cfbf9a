// Example policy plugin `example-deny-destructive-javascript`: denies any tool call whose tool declares
// `destructiveHint: true` or whose name starts with `delete_`, and any run whose code contains `os.system(`.
//
// Built into a WebAssembly component by build.mjs (componentize-qjs: QuickJS inside the component).
// How WIT maps to JavaScript here:
// - each exported interface is an exported object named after it, functions in camelCase
//   (`policy.checkCall`);
// - records are objects with camelCase fields (`call.annotations.readOnly`), `option<T>` is the value or
//   null;
// - a variant is `{ tag: "deny", val: "why" }` (`{ tag: "allow" }` has no payload);
// - a function returning `result<_, string>` returns normally for `ok` and throws the string for `err`.

export const plugin = {
  metadata() {
    return {
      name: "example-deny-destructive-javascript",
      version: "0.1.0",
      description: "Example policy: denies destructive tool calls, delete_* tools, and runs that call os.system(",
    };
  },

  configure(config) {
    // This plugin takes no settings: accept `{}` only, so that settings given by mistake are reported.
    let value;
    try {
      value = JSON.parse(config);
    } catch (e) {
      throw `the configuration is not JSON: ${e}`;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value) || Object.keys(value).length > 0) {
      throw `this plugin takes no configuration, got ${config}`;
    }
  },
};

export const policy = {
  checkRun(run) {
    if (run.code.includes("os.system(")) {
      return { tag: "deny", val: "runs may not call os.system()" };
    }
    return { tag: "allow" };
  },

  checkCall(call) {
    if (call.annotations.destructive === true) {
      return { tag: "deny", val: `${call.tool} on ${call.server} is marked destructive` };
    }
    if (call.tool.startsWith("delete_")) {
      return { tag: "deny", val: `${call.tool} on ${call.server} looks like a deletion` };
    }
    return { tag: "allow" };
  },
};
