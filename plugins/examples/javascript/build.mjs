// Builds policy.js into a WebAssembly component with componentize-qjs and prints the component's path.
// Usage: npm ci && node build.mjs   (or: npm run build)
import { componentize } from "componentize-qjs";
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// The WIT folder of the mcp-bridge repository; set MCP_BRIDGE_WIT when this example lives elsewhere.
const witPath = resolve(process.env.MCP_BRIDGE_WIT ?? join(here, "../../../wit/since_v0.1.0"));
const jsPath = join(here, "policy.js");
const output = join(here, "dist", "example_deny_destructive_javascript.wasm");

const { component } = await componentize({
  witPath,
  world: "policy-plugin",
  jsSource: await readFile(jsPath, "utf8"),
  jsPath,
  // The bridge's host runs plain synchronous components: no component-model async ABI.
  sync: true,
  // Smaller QuickJS build (the plugin does little computing).
  optSize: true,
});
await mkdir(dirname(output), { recursive: true });
await writeFile(output, component);
console.log(output);
